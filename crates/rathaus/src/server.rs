//! Assembling and running the product: store, library, runtime, web, worker.

use crate::config::{Config, MailSetting};
use crate::seed::{self, DemoCredentials};
use anyhow::{bail, Context, Result};
use rathaus_runtime::mail::Mailer;
use rathaus_runtime::{Runtime, RuntimeConfig, SystemClock};
use rathaus_store::Store;
use rathaus_web::App;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Assembled {
    pub runtime: Arc<Runtime>,
    pub app: Arc<App>,
    /// Demo credentials, if demo mode is on (new or from the credentials file).
    pub credentials: Option<DemoCredentials>,
    /// True if the demo data was created just now.
    pub seeded: bool,
}

/// Connects to the database and runs the migrations, with errors that say what to fix.
pub async fn open_store(config: &Config) -> Result<Store> {
    let store = Store::connect(&config.database_url, config.max_connections, None).await.map_err(|e| {
        anyhow::anyhow!(
            "Datenbank {} nicht erreichbar: {e}\nPrüfen Sie DATABASE_URL / --database-url (und ob PostgreSQL läuft).",
            rathaus_store::redact(&config.database_url)
        )
    })?;
    store.migrate().await.context("Datenbankschema konnte nicht migriert werden")?;
    Ok(store)
}

pub fn load_library(config: &Config) -> Result<rathaus_engine::Library> {
    if !config.library.is_dir() {
        bail!(
            "Die Prozessbibliothek {} gibt es nicht. Starten Sie im Projektordner oder geben Sie den Ordner mit --library / RATHAUS_LIBRARY an.",
            config.library.display()
        );
    }
    rathaus_engine::Library::load(&config.library).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow::anyhow!(
            "Die Prozessbibliothek {} ist fehlerhaft:\n{}\nPrüfen Sie sie mit: rathaus library validate {}",
            config.library.display(),
            list.join("\n"),
            config.library.display()
        )
    })
}

pub async fn assemble(config: &Config, store: Store) -> Result<Assembled> {
    let library = load_library(config)?;
    let secret = config.load_secret()?;
    let node_id = format!("{}-{}", hostname(), std::process::id());
    let mail = match &config.mail {
        MailSetting::Smtp { url, from } => Some(Mailer::smtp(url, from)),
        MailSetting::Directory { dir, from } => Some(Mailer::directory(dir.clone(), from)),
        MailSetting::Off => None,
    }
    .transpose()
    .map_err(|e| anyhow::anyhow!("{e}. Prüfen Sie RATHAUS_SMTP_URL und RATHAUS_MAIL_FROM."))?;
    let runtime = Runtime::new(
        store,
        library,
        RuntimeConfig { public_url: config.public_url.clone(), secret, node_id },
        Arc::new(SystemClock),
        mail,
    );
    if config.demo {
        // The demo pays fees at the built-in test provider, which moves no money. A real
        // installation connects its payment provider (ePayBL) here; without one, fees are
        // paid by transfer (account and GiroCode on the case status).
        let provider = rathaus_runtime::payments::TestProvider::new(&runtime.config.secret);
        let _ = runtime.payments.set(Box::new(provider));
    }
    // Messages to other authorities: HTTP addresses directly, `ablage:` into the drop
    // directory, where a gateway (OSCI/XTA) picks them up.
    let _ = runtime.transport.set(Box::new(rathaus_runtime::outbox::Transports::new(Some(config.outbox_dir.clone()))));
    // Cases past their retention go to the archive directory, then their personal data are
    // erased (the worker sweeps hourly; `rathaus archive-due` at once).
    let _ = runtime.archive_dir.set(config.archive_dir.clone());
    match &config.clamav {
        Some(address) => {
            let _ = runtime.scanner.set(Box::new(rathaus_runtime::uploads::ClamAv::new(address.clone())));
        }
        None => tracing::warn!(
            "no virus scanner configured (RATHAUS_CLAMAV): uploads are stored marked as not scanned for malware"
        ),
    }
    let mut credentials = None;
    let mut seeded = false;
    if config.demo {
        match seed::seed_demo(&runtime).await? {
            Some(creds) => {
                seed::write_credentials(&config.data_dir, &creds)?;
                credentials = Some(creds);
                seeded = true;
            }
            None => credentials = seed::read_credentials(&config.data_dir),
        }
    }
    for (tenant, procedure, _, created) in runtime.sync_deployments().await? {
        if created {
            tracing::info!(tenant, procedure, "new procedure version deployed");
        }
    }
    let app = App::new(runtime.clone());
    Ok(Assembled { runtime, app, credentials, seeded })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rathaus".into())
}

/// Serves HTTP and runs the job worker until `shutdown` completes.
pub async fn run(
    assembled: &Assembled,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(assembled.runtime.clone().run_worker(stop_rx.clone()));
    let housekeeping = tokio::spawn(housekeeping(assembled.runtime.clone(), stop_rx));
    let router = rathaus_web::router(assembled.app.clone());
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.context("HTTP-Server")?;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = housekeeping.await;
    Ok(())
}

/// Periodic clean-up on every node: expired sessions (with the unfinished drafts in them)
/// expired saved drafts and uploads never submitted are deleted, so personal data entered but never submitted does
/// not stay in the database.
async fn housekeeping(runtime: Arc<Runtime>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        let purged = async {
            let mut conn = runtime.store.conn().await?;
            let now = runtime.clock.now();
            let sessions = rathaus_store::sessions::purge_expired(&mut conn, now).await?;
            // Buffered messages: kept a day past expiry or correlation for tracing, then gone.
            let messages = rathaus_store::messages::purge(&mut conn, now - chrono::Duration::days(1)).await?;
            // Account links that expired, and accounts never confirmed within a week.
            rathaus_store::accounts::purge_tokens(&mut conn, now).await?;
            rathaus_store::accounts::purge_unverified(&mut conn, now - chrono::Duration::days(7)).await?;
            // Invitations to business accounts that were not accepted in time.
            rathaus_store::businesses::purge_invitations(&mut conn, now).await?;
            drop(conn);
            let drafts = runtime.purge_expired_drafts().await?;
            let uploads = runtime.purge_expired_uploads().await?;
            Ok::<_, rathaus_runtime::RuntimeError>((sessions, messages, drafts, uploads))
        }
        .await;
        match purged {
            Ok((0, 0, 0, 0)) => {}
            Ok((sessions, messages, drafts, uploads)) => {
                tracing::info!(
                    sessions,
                    messages,
                    drafts,
                    uploads,
                    "expired sessions, messages, saved drafts and uploads deleted"
                )
            }
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; retried in 10 minutes"),
        }
    }
}
