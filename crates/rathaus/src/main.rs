//! `rathaus`: serve, migrate, validate the library, admin tasks.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rathaus::config::{Config, ConfigArgs};
use rathaus::{admin, seed, server};
use rathaus_domain::{Role, TenantSettings};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "rathaus", version, about = "Rathaus – Verwaltungsverfahren von Kommunen, durchgängig digital.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (portal, back office, API, worker).
    Serve(ConfigArgs),
    /// Run the database migrations and exit.
    Migrate(ConfigArgs),
    /// Hand every case past its retention to the archive directory and erase its personal
    /// data now (the server's worker does it hourly); prints each case archived.
    ArchiveDue(ConfigArgs),
    /// The process library.
    Library {
        #[command(subcommand)]
        command: LibraryCommand,
    },
    /// Print the OpenAPI document of the integration API.
    Openapi,
    /// Run the DMN TCK test cases below a folder and print `N passed, M failed` per compliance level.
    DmnTck {
        /// e.g. testdata/dmn-tck/TestCases
        dir: PathBuf,
        /// List every failing result node.
        #[arg(long)]
        failures: bool,
    },
    /// Create a tenant (municipality) and activate procedures.
    TenantCreate {
        #[command(flatten)]
        config: ConfigArgs,
        /// Short name used in addresses, e.g. `musterstadt`.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// Postcodes of the area, comma-separated.
        #[arg(long, value_delimiter = ',')]
        postcodes: Vec<String>,
        /// Procedures to activate (repeatable).
        #[arg(long = "procedure")]
        procedures: Vec<String>,
        /// A service centre: processes the cases municipalities delegate to it in their
        /// administration; offers no services of its own.
        #[arg(long)]
        service_centre: bool,
    },
    /// Change a tenant's look: colours, typeface, name in the header, tagline. Colours whose
    /// contrast is too low for WCAG 2.1 AA are refused with the reason; nothing is changed then.
    TenantBranding {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        tenant: String,
        /// Main colour (header), #rrggbb.
        #[arg(long)]
        primary: Option<String>,
        /// Accent colour (links, buttons), #rrggbb; needs 4.5 : 1 on white.
        #[arg(long)]
        accent: Option<String>,
        /// sans | humanist | serif
        #[arg(long)]
        font: Option<String>,
        /// Name in the header, e.g. "Stadt Musterstadt".
        #[arg(long)]
        logo_text: Option<String>,
        #[arg(long)]
        tagline: Option<String>,
        /// Logo image (PNG, JPEG or SVG, at most 200 KB), shown before the name.
        #[arg(long)]
        logo: Option<std::path::PathBuf>,
    },
    /// Connect the tenant's portal to an OpenID Connect provider (BundID, a Servicekonto), so
    /// that citizens sign in there. The client secret is read from RATHAUS_OIDC_CLIENT_SECRET.
    TenantOidc {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        tenant: String,
        /// The provider's issuer URL (https://…; http only for 127.0.0.1 or localhost).
        #[arg(long, required_unless_present = "off")]
        issuer: Option<String>,
        /// The client id the provider gave the municipality.
        #[arg(long, required_unless_present = "off")]
        client_id: Option<String>,
        /// The name on the login button, e.g. "BundID".
        #[arg(long, default_value = "BundID")]
        label: String,
        /// Disconnect the provider.
        #[arg(long)]
        off: bool,
        /// The provider of the town's staff (its Keycloak or directory) instead of the
        /// citizens'. Staff sign in to the account whose username is their
        /// `preferred_username`; roles stay in Rathaus.
        #[arg(long)]
        staff: bool,
    },
    /// Create a staff account. The password is read from RATHAUS_NEW_PASSWORD or generated.
    StaffCreate {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// clerk | team_lead | tenant_admin | auditor
        #[arg(long)]
        role: String,
        /// Organisational unit (repeatable), usable as candidateGroups of user tasks.
        #[arg(long = "org-unit")]
        org_units: Vec<String>,
        /// E-mail address for reminders and escalations of deadlines.
        #[arg(long)]
        email: Option<String>,
    },
    /// Create an API key for a tenant (printed once).
    ApiKeyCreate {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "API")]
        label: String,
    },
    /// Benchmarks, printed as JSON.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Check the audit trail's hash chain of a tenant.
    AuditVerify {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Durable process instances per second on the configured database, with the database's
    /// own single-row commit ceiling measured in the same run (works in a scratch tenant that
    /// is deleted afterwards).
    Engine {
        #[command(flatten)]
        config: ConfigArgs,
        /// Instances per scenario (and commits for the ceiling).
        #[arg(long, default_value_t = 2000)]
        instances: usize,
        /// Parallel clients.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// The back office's reads (worklist, case search, deadlines, statistics) in a scratch
    /// tenant of many cases, at a tenth of them and at all, each against the primary-key
    /// lookup of one case measured in the same run (the tenant is deleted afterwards).
    Worklist {
        #[command(flatten)]
        config: ConfigArgs,
        /// Cases in the scratch tenant.
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
    },
}

#[derive(Subcommand)]
enum LibraryCommand {
    /// Validate a procedure folder or a whole library; prints every problem with file and line.
    Validate { dir: PathBuf },
    /// Write the description of every procedure of the library into the documentation
    /// (between its markers in `--file`), or with `--check` only say whether it is current.
    Docs {
        dir: PathBuf,
        #[arg(long, default_value = "docs/procedures.md")]
        file: PathBuf,
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Fehler: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: what a command prints (a benchmark's JSON, the OpenAPI document)
    // stays clean on stdout.
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::ArchiveDue(args) => {
            let (config, assembled) = open(&args).await?;
            let done = assembled.runtime.archive_due().await?;
            for a in &done {
                println!("{} {} → {}", a.tenant, a.reference, a.package.display());
            }
            println!("{} Vorgang/Vorgänge ausgesondert (Archiv: {}).", done.len(), config.archive_dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(args) => {
            let config = Config::resolve(&args)?;
            init_logging(&config.log);
            config.prepare_data_dir()?;
            server::open_store(&config).await?;
            println!("Migrationen angewendet: {}", rathaus_store::redact(&config.database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Library { command: LibraryCommand::Validate { dir } } => Ok(validate_library(&dir)),
        Command::Library { command: LibraryCommand::Docs { dir, file, check } } => library_docs(&dir, &file, check),
        Command::DmnTck { dir, failures } => {
            if !dir.is_dir() {
                bail!("{} ist kein Ordner mit TCK-Testfällen (z. B. testdata/dmn-tck/TestCases)", dir.display());
            }
            // dsntk panics on some TCK models; the runner counts those as failures, the
            // default hook would only add noise.
            std::panic::set_hook(Box::new(|_| {}));
            let report = rathaus_engine::tck::run(&dir);
            let _ = std::panic::take_hook();
            if failures {
                for r in report.results.iter().filter(|r| !r.passed) {
                    println!("FAILED {}: {}", r.id, r.detail);
                }
            }
            for (level, (passed, failed)) in &report.levels {
                let total = passed + failed;
                println!(
                    "{level}: {passed} passed, {failed} failed ({:.1} %)",
                    100.0 * *passed as f64 / total.max(1) as f64
                );
            }
            println!("{} passed, {} failed", report.passed(), report.failed());
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi => {
            println!("{}", rathaus_web::openapi_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::TenantCreate { config, slug, name, postcodes, procedures, service_centre } => {
            if service_centre && !procedures.is_empty() {
                anyhow::bail!("Ein Servicezentrum bietet keine eigenen Verfahren an: --procedure weglassen");
            }
            let (cfg, assembled) = open(&config).await?;
            let settings = TenantSettings {
                postcodes,
                branding: rathaus_domain::Branding {
                    logo_text: name.clone(),
                    primary_color: "#1d4e89".into(),
                    accent_color: "#1d4e89".into(),
                    ..Default::default()
                },
                service_centre,
                ..Default::default()
            };
            let procs: Vec<(&str, serde_json::Value)> =
                procedures.iter().map(|p| (p.as_str(), serde_json::json!({}))).collect();
            let t = admin::create_tenant(&assembled.runtime, &slug, &name, &settings, &procs).await?;
            println!("Mandant „{}“ angelegt: {}/{}/", t.name, cfg.public_url, t.slug);
            Ok(ExitCode::SUCCESS)
        }
        Command::TenantBranding { config, tenant, primary, accent, font, logo_text, tagline, logo } => {
            let (_, assembled) = open(&config).await?;
            let t = tenant_by_slug(&assembled, &tenant).await?;
            let mut settings = t.settings.clone();
            let b = &mut settings.branding;
            for (target, value) in [
                (&mut b.primary_color, primary),
                (&mut b.accent_color, accent),
                (&mut b.font, font),
                (&mut b.logo_text, logo_text),
                (&mut b.tagline, tagline),
            ] {
                if let Some(v) = value {
                    *target = v.trim().to_string();
                }
            }
            let logo = match &logo {
                Some(path) => Some(
                    std::fs::read(path)
                        .with_context(|| format!("Logo {} kann nicht gelesen werden", path.display()))?,
                ),
                None => None,
            };
            let mut problems: Vec<String> = settings.branding.problems().iter().map(ToString::to_string).collect();
            if let Some(Err(e)) = logo.as_deref().map(rathaus_domain::tenant::logo_type) {
                problems.push(e.to_string());
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("Nichts geändert.");
                return Ok(ExitCode::from(2));
            }
            admin::update_settings(&assembled.runtime, &t, &settings, logo.as_deref()).await?;
            println!("Erscheinungsbild von „{}“ geändert.", t.name);
            Ok(ExitCode::SUCCESS)
        }
        Command::TenantOidc { config, tenant, issuer, client_id, label, off, staff } => {
            let (_, assembled) = open(&config).await?;
            let t = tenant_by_slug(&assembled, &tenant).await?;
            let mut settings = t.settings.clone();
            let provider = if off {
                None
            } else {
                let issuer = issuer.unwrap_or_default().trim().trim_end_matches('/').to_string();
                let local = issuer.starts_with("http://127.0.0.1") || issuer.starts_with("http://localhost");
                if !issuer.starts_with("https://") && !local {
                    bail!(
                        "Der Aussteller „{issuer}“ muss mit https:// beginnen (http nur für 127.0.0.1 oder localhost)."
                    );
                }
                let client_secret = std::env::var("RATHAUS_OIDC_CLIENT_SECRET").context(
                    "RATHAUS_OIDC_CLIENT_SECRET ist nicht gesetzt: das Client-Geheimnis des Anbieters wird aus dieser Umgebungsvariablen gelesen.",
                )?;
                Some(rathaus_domain::tenant::OidcSettings {
                    issuer,
                    client_id: client_id.unwrap_or_default(),
                    client_secret,
                    label,
                })
            };
            let (who, path) = if staff { ("Beschäftigte", "intern") } else { ("Bürgerinnen und Bürger", "konto") };
            if staff {
                settings.staff_oidc = provider.clone();
            } else {
                settings.oidc = provider.clone();
            }
            admin::update_settings(&assembled.runtime, &t, &settings, None).await?;
            match &provider {
                Some(o) => println!(
                    "„{}“ meldet {who} jetzt über {} an. Beim Anbieter als Rücksprungadresse eintragen: {}/{}/{path}/oidc/zurueck",
                    t.name, o.issuer, config_public_url(&config), t.slug
                ),
                None => println!("„{}“: Anmeldung der {who} über OpenID Connect abgeschaltet.", t.name),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::StaffCreate { config, tenant, username, name, role, org_units, email } => {
            let (_, assembled) = open(&config).await?;
            let role = Role::parse(&role).with_context(|| {
                format!("Rolle „{role}“ gibt es nicht: clerk, team_lead, tenant_admin oder auditor")
            })?;
            let t = tenant_by_slug(&assembled, &tenant).await?;
            let (password, generated) = match std::env::var("RATHAUS_NEW_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (admin::random_text(16), true),
            };
            let new = admin::NewStaff {
                username: &username,
                display_name: &name,
                password: &password,
                role,
                org_units: &org_units,
                email: email.as_deref(),
            };
            admin::create_staff(&assembled.runtime, &t, &new).await?;
            println!("Benutzer „{username}“ ({}) bei „{}“ angelegt.", role.code(), t.slug);
            if generated {
                println!("Passwort (nur jetzt sichtbar): {password}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiKeyCreate { config, tenant, label } => {
            let (_, assembled) = open(&config).await?;
            let t = tenant_by_slug(&assembled, &tenant).await?;
            let key = admin::create_api_key(&assembled.runtime, &t, &label).await?;
            println!("API-Schlüssel für „{}“ (nur jetzt sichtbar): {key}", t.slug);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Engine { config, instances, concurrency } } => {
            if instances == 0 {
                bail!("--instances muss mindestens 1 sein");
            }
            let mut config = Config::resolve(&config)?;
            init_logging("warn");
            config.prepare_data_dir()?;
            config.max_connections = config.max_connections.max(concurrency as u32 + 1);
            let store = server::open_store(&config).await?;
            let report = rathaus_runtime::bench::run(store, instances, concurrency).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Worklist { config, cases } } => {
            if cases < 100 {
                bail!("--cases muss mindestens 100 sein");
            }
            let config = Config::resolve(&config)?;
            init_logging("warn");
            config.prepare_data_dir()?;
            let store = server::open_store(&config).await?;
            let report = rathaus_runtime::bench_worklist::run(store, cases).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::AuditVerify { config, tenant } => {
            let (_, assembled) = open(&config).await?;
            let t = tenant_by_slug(&assembled, &tenant).await?;
            let mut conn = assembled.runtime.store.conn().await?;
            let n = rathaus_store::audit::count(&mut conn, &t.tenant_id).await?;
            match rathaus_store::audit::verify(&mut conn, &t.tenant_id).await? {
                None => {
                    println!("Audit-Protokoll von „{}“ ist unversehrt ({n} Einträge).", t.slug);
                    Ok(ExitCode::SUCCESS)
                }
                Some(seq) => {
                    eprintln!("Audit-Protokoll von „{}“ ist ab Eintrag {seq} verändert oder unvollständig!", t.slug);
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

/// For admin commands: the configured database and library, without demo seeding.
async fn open(args: &ConfigArgs) -> Result<(Config, server::Assembled)> {
    let mut config = Config::resolve(args)?;
    init_logging("warn");
    config.prepare_data_dir()?;
    config.demo = false;
    let store = server::open_store(&config).await?;
    let assembled = server::assemble(&config, store).await?;
    Ok((config, assembled))
}

async fn tenant_by_slug(a: &server::Assembled, slug: &str) -> Result<rathaus_store::tenants::Tenant> {
    let mut conn = a.runtime.store.conn().await?;
    rathaus_store::tenants::by_slug(&mut conn, slug)
        .await?
        .with_context(|| format!("Einen Mandanten „{slug}“ gibt es nicht"))
}

/// `rathaus library docs`: the generated parts of the procedures' documentation.
fn library_docs(dir: &std::path::Path, file: &std::path::Path, check: bool) -> Result<ExitCode> {
    let library = rathaus_engine::Library::load(dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!("Die Bibliothek {} ist ungültig:\n{}", dir.display(), lines.join("\n"))
    })?;
    let current = std::fs::read_to_string(file).unwrap_or_default();
    let procedures: Vec<&rathaus_engine::Procedure> = library.procedures.values().map(|p| p.as_ref()).collect();
    let updated = rathaus_engine::describe::update(&current, &procedures);
    if check {
        if updated == current {
            println!("✓ {} ist aktuell", file.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "{} ist nicht aktuell. Erzeugen Sie sie neu: rathaus library docs {} --file {}",
            file.display(),
            dir.display(),
            file.display()
        );
        return Ok(ExitCode::from(1));
    }
    std::fs::write(file, updated).with_context(|| format!("{} nicht schreibbar", file.display()))?;
    println!("✓ {} geschrieben ({} Verfahren)", file.display(), procedures.len());
    Ok(ExitCode::SUCCESS)
}

fn validate_library(dir: &std::path::Path) -> ExitCode {
    let result = if dir.join(rathaus_engine::library::MANIFEST).exists() {
        rathaus_engine::Procedure::load_dir(dir).map(|p| vec![std::sync::Arc::new(p)]).map_err(|ps| {
            ps.into_iter()
                .map(|p| rathaus_engine::Problem {
                    file: if std::path::Path::new(&p.file).is_absolute() {
                        p.file
                    } else {
                        dir.join(&p.file).display().to_string()
                    },
                    ..p
                })
                .collect::<Vec<_>>()
        })
    } else {
        rathaus_engine::Library::load(dir).map(|l| l.procedures.into_values().collect())
    };
    let procedures = match result {
        Ok(p) => p,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} Problem(e) gefunden.", problems.len());
            return ExitCode::from(1);
        }
    };
    let mut failures = 0;
    for p in &procedures {
        let folder =
            if dir.join(rathaus_engine::library::MANIFEST).exists() { dir.to_path_buf() } else { dir.join(p.id()) };
        let problems = rathaus_runtime::preview::check_examples(p, &folder);
        for problem in &problems {
            eprintln!("{problem}");
        }
        failures += problems.len();
        if problems.is_empty() {
            println!("✓ {} ({}): gültig", p.id(), p.manifest.version);
        }
    }
    if failures > 0 {
        eprintln!("{failures} Problem(e) gefunden.");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn serve(args: ConfigArgs) -> Result<ExitCode> {
    let config = Config::resolve(&args)?;
    init_logging(&config.log);
    config.prepare_data_dir()?;
    let store = server::open_store(&config).await?;
    let backend = store.backend();
    let assembled = server::assemble(&config, store).await?;
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => bail!(
            "Kann nicht auf {} lauschen: {e}. Wählen Sie eine andere Adresse mit --bind / RATHAUS_BIND.",
            config.bind
        ),
    };
    let tenant_count = {
        let mut conn = assembled.runtime.store.conn().await?;
        rathaus_store::tenants::list(&mut conn).await?.len()
    };
    print_banner(&config, &assembled, backend, tenant_count);
    server::run(&assembled, listener, shutdown_signal()).await?;
    println!("Rathaus beendet.");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn print_banner(config: &Config, a: &server::Assembled, backend: rathaus_store::Backend, tenant_count: usize) {
    let url = &config.public_url;
    let procedures: Vec<&str> = a.runtime.library.procedures.keys().map(String::as_str).collect();
    println!();
    println!("Rathaus {} läuft: {url}/", env!("CARGO_PKG_VERSION"));
    println!("  Datenbank:   {} ({})", backend.name(), rathaus_store::redact(&config.database_url));
    println!("  Bibliothek:  {} ({})", config.library.display(), procedures.join(", "));
    println!("  API:         {url}/api/openapi.json   Gesundheit: {url}/healthz, {url}/readyz");
    if tenant_count == 0 {
        println!();
        println!("  Noch keine Gemeinde eingerichtet. Anlegen mit:");
        println!("    rathaus tenant-create --slug SLUG --name NAME --postcodes 01234 --procedure gewerbeanmeldung");
        println!("    rathaus staff-create --tenant SLUG --username NAME --name \"Vorname Nachname\" --role clerk");
        println!("    rathaus api-key-create --tenant SLUG");
        println!("  (mit denselben Datenbankeinstellungen), oder zum Ausprobieren RATHAUS_DEMO=true.");
    }
    if config.demo {
        println!();
        println!("  ################################################################");
        println!("  ##  DEMO-MODUS: Demo-Gemeinden mit Demo-Zugängen sind aktiv.  ##");
        println!("  ##  Nicht für echte Daten verwenden! (RATHAUS_DEMO=false)      ##");
        println!("  ################################################################");
        match &a.credentials {
            Some(creds) => {
                for (slug, t) in &creds.tenants {
                    println!();
                    if t.api_key.is_empty() {
                        // The service centre: no portal and no API of its own.
                        println!("  {slug} (Servicezentrum für Beispielgemeinde): Intern {url}/{slug}/intern/");
                    } else {
                        println!("  {slug}: Portal {url}/{slug}/   Intern {url}/{slug}/intern/");
                    }
                    for s in &t.staff {
                        println!("    {:<16} Passwort {:<18} Rolle {}", s.username, s.password, s.role);
                    }
                    if !t.api_key.is_empty() {
                        println!("    API-Schlüssel    {}", t.api_key);
                    }
                }
                println!();
                println!(
                    "  Zugangsdaten stehen auch in {}{}",
                    seed::credentials_path(&config.data_dir).display(),
                    if a.seeded { " (neu erzeugt)" } else { "" }
                );
            }
            None => println!(
                "  Die Demo-Zugangsdaten dieser Datenbank sind nicht mehr in {} gespeichert.",
                seed::credentials_path(&config.data_dir).display()
            ),
        }
    }
    println!();
}

/// The public base URL the configuration gives (for the redirect address the provider needs).
fn config_public_url(args: &ConfigArgs) -> String {
    Config::resolve(args).map(|c| c.public_url).unwrap_or_else(|_| "http://127.0.0.1:8080".into())
}
