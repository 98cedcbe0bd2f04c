//! Configuration: command line > environment > configuration file > defaults, validated at
//! start with messages that say what to fix.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Values as given on the command line or in the environment (clap fills both).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Address and port to listen on.
    #[arg(long, env = "RATHAUS_BIND", value_name = "ADDR:PORT")]
    pub bind: Option<String>,
    /// Directory for the embedded database, the secret key and demo credentials.
    #[arg(long, env = "RATHAUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML). Values given here are overridden by flags and environment.
    #[arg(long, env = "RATHAUS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database: `sqlite:PATH` or `postgres://…`. Default: SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// The process library folder.
    #[arg(long, env = "RATHAUS_LIBRARY", value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Public base URL used in links (documents, API responses).
    #[arg(long, env = "RATHAUS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Demo mode: seed two demo municipalities with staff and API keys. Default: on for the
    /// embedded SQLite database, off for PostgreSQL.
    #[arg(long, env = "RATHAUS_DEMO", value_name = "true|false")]
    pub demo: Option<bool>,
    /// Secret for hashing access codes and API keys; the same on every node. Default: a
    /// random key generated once into <data-dir>/secret.key.
    #[arg(long, env = "RATHAUS_SECRET", value_name = "TEXT", hide_env_values = true)]
    pub secret: Option<String>,
    /// Log filter, e.g. `info` or `rathaus=debug,tower_http=info`.
    #[arg(long, env = "RATHAUS_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// SMTP server for e-mails to applicants: `smtps://user:password@host:465` (TLS),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), or `smtp://host:25` without
    /// encryption (only to a relay in the same host or network). Without it, the demo writes
    /// mails as files into <data-dir>/mail and other installations send none.
    #[arg(long, env = "RATHAUS_SMTP_URL", value_name = "URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of the e-mails, e.g. `Rathaus <noreply@musterstadt.de>`.
    #[arg(long, env = "RATHAUS_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// ClamAV daemon that scans every upload: `tcp://127.0.0.1:3310` or
    /// `unix:/run/clamav/clamd.ctl`. Without it, uploads are stored marked "not scanned".
    #[arg(long, env = "RATHAUS_CLAMAV", value_name = "ADDRESS")]
    pub clamav: Option<String>,
    /// Drop directory for messages to other authorities with an `ablage:` address
    /// (XGewerbeanzeige for an OSCI/XTA gateway): written as `<dir>/<tenant>/<folder>/<id>.xml`.
    /// Default: <data-dir>/ausgang.
    #[arg(long, env = "RATHAUS_OUTBOX_DIR", value_name = "DIR")]
    pub outbox_dir: Option<PathBuf>,
    /// Where the packages of cases past their retention are written for the archive
    /// (`<dir>/<tenant>/<Aktenzeichen>.zip`) before their personal data are erased.
    /// Default: <data-dir>/archiv.
    #[arg(long, env = "RATHAUS_ARCHIVE_DIR", value_name = "DIR")]
    pub archive_dir: Option<PathBuf>,
}

/// How e-mails leave the installation.
#[derive(Debug, Clone, PartialEq)]
pub enum MailSetting {
    Smtp {
        url: String,
        from: String,
    },
    /// Written as `.eml` files into a folder (the demo without a mail server).
    Directory {
        dir: PathBuf,
        from: String,
    },
    Off,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    library: Option<PathBuf>,
    public_url: Option<String>,
    demo: Option<bool>,
    secret: Option<String>,
    log: Option<String>,
    max_connections: Option<u32>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    clamav: Option<String>,
    outbox_dir: Option<PathBuf>,
    archive_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub library: PathBuf,
    pub public_url: String,
    pub demo: bool,
    pub secret: Option<String>,
    pub log: String,
    pub max_connections: u32,
    pub mail: MailSetting,
    /// The virus scanner for uploads, if any.
    pub clamav: Option<rathaus_runtime::uploads::ClamAddress>,
    /// Where messages with an `ablage:` address are written.
    pub outbox_dir: PathBuf,
    /// Where archive packages are written.
    pub archive_dir: PathBuf,
}

/// A configuration error: what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn resolve(args: &ConfigArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!(
                        "Konfigurationsdatei {} nicht lesbar: {e}. Prüfen Sie --config / RATHAUS_CONFIG.",
                        path.display()
                    ))
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    ConfigError(format!("Konfigurationsdatei {}: {}", path.display(), e.to_string().trim()))
                })?
            }
            None => FileConfig::default(),
        };
        let bind_text = args.bind.clone().or(file.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind: SocketAddr = bind_text.parse().map_err(|_| {
            ConfigError(format!("Die Adresse „{bind_text}“ (--bind / RATHAUS_BIND / bind) hat nicht die Form ADRESSE:PORT, z. B. 127.0.0.1:8080 oder 0.0.0.0:80."))
        })?;
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite:{}", data_dir.join("rathaus.db").display()));
        rathaus_store::Backend::from_url(&database_url)
            .map_err(|e| ConfigError(format!("{e}. Prüfen Sie --database-url / DATABASE_URL.")))?;
        let library = args.library.clone().or(file.library).unwrap_or_else(|| PathBuf::from("library"));
        let public_url = args.public_url.clone().or(file.public_url).unwrap_or_else(|| {
            let host = if bind.ip().is_unspecified() { "127.0.0.1".to_string() } else { bind.ip().to_string() };
            let host = if bind.is_ipv6() && !bind.ip().is_unspecified() { format!("[{host}]") } else { host };
            format!("http://{host}:{}", bind.port())
        });
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "RATHAUS_PUBLIC_URL „{public_url}“ muss mit http:// oder https:// beginnen."
            )));
        }
        let is_sqlite = database_url.starts_with("sqlite:");
        let demo = args.demo.or(file.demo).unwrap_or(is_sqlite);
        let max_connections = file.max_connections.unwrap_or(if is_sqlite { 4 } else { 10 });
        if max_connections == 0 {
            return Err(ConfigError("max_connections muss mindestens 1 sein.".into()));
        }
        let from = args.mail_from.clone().or(file.mail_from).unwrap_or_else(|| "Rathaus <noreply@localhost>".into());
        let mail = match args.smtp_url.clone().or(file.smtp_url) {
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => MailSetting::Smtp { url, from },
            Some(url) => {
                return Err(ConfigError(format!(
                    "RATHAUS_SMTP_URL „{}“ muss mit smtp:// oder smtps:// beginnen.",
                    rathaus_store::redact(&url)
                )))
            }
            None if demo => MailSetting::Directory { dir: data_dir.join("mail"), from },
            None => MailSetting::Off,
        };
        let clamav = match args.clamav.clone().or(file.clamav) {
            Some(a) => Some(
                rathaus_runtime::uploads::ClamAddress::parse(&a)
                    .map_err(|e| ConfigError(format!("{e}. Prüfen Sie --clamav / RATHAUS_CLAMAV.")))?,
            ),
            None => None,
        };
        let outbox_dir = args.outbox_dir.clone().or(file.outbox_dir).unwrap_or_else(|| data_dir.join("ausgang"));
        let archive_dir = args.archive_dir.clone().or(file.archive_dir).unwrap_or_else(|| data_dir.join("archiv"));
        Ok(Config {
            archive_dir,
            mail,
            clamav,
            outbox_dir,
            bind,
            data_dir,
            database_url,
            library,
            public_url: public_url.trim_end_matches('/').to_string(),
            demo,
            secret: args.secret.clone().or(file.secret),
            log: args.log.clone().or(file.log).unwrap_or_else(|| "info,tower_http=warn,sqlx=warn".into()),
            max_connections,
        })
    }

    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            ConfigError(format!("Datenverzeichnis {} kann nicht angelegt werden: {e}. Wählen Sie ein beschreibbares Verzeichnis mit --data-dir / RATHAUS_DATA_DIR.", self.data_dir.display()))
        })
    }

    /// The secret: configured, or read from / generated into `<data-dir>/secret.key`.
    pub fn load_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(s) = &self.secret {
            if s.len() < 16 {
                return Err(ConfigError("RATHAUS_SECRET ist zu kurz: mindestens 16 Zeichen.".into()));
            }
            return Ok(s.as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret.key");
        read_or_create_secret(&path)
    }
}

fn read_or_create_secret(path: &Path) -> Result<Vec<u8>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map_err(|_| ConfigError(format!("{} ist beschädigt (kein Hex-Text). Stellen Sie die Datei aus der Sicherung wieder her; ohne sie sind API-Schlüssel und Zugangscodes ungültig.", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            std::fs::write(path, hex::encode(key)).map_err(|e| ConfigError(format!("{} kann nicht geschrieben werden: {e}", path.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
            Ok(key.to_vec())
        }
        Err(e) => Err(ConfigError(format!("{} nicht lesbar: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_precedence() {
        let c = Config::resolve(&ConfigArgs::default()).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.starts_with("sqlite:"));
        assert!(c.demo, "demo is on for the embedded database");
        let args = ConfigArgs {
            database_url: Some("postgres://h/db".into()),
            bind: Some("0.0.0.0:9000".into()),
            ..Default::default()
        };
        let c = Config::resolve(&args).unwrap();
        assert!(!c.demo, "demo is off for PostgreSQL unless asked for");
        assert_eq!(c.public_url, "http://127.0.0.1:9000");
    }

    #[test]
    fn errors_say_what_to_fix() {
        let e = Config::resolve(&ConfigArgs { bind: Some("localhost".into()), ..Default::default() }).unwrap_err();
        assert!(e.0.contains("RATHAUS_BIND"), "{e}");
        let e =
            Config::resolve(&ConfigArgs { database_url: Some("mysql://x".into()), ..Default::default() }).unwrap_err();
        assert!(e.0.contains("DATABASE_URL"), "{e}");
        let dir = std::env::temp_dir().join(format!("rathaus-cfg-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("r.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:1\"\nunbekannt = 1\n").unwrap();
        let e = Config::resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).unwrap_err();
        assert!(e.0.contains("unbekannt"), "{e}");
        std::fs::write(&file, "bind = \"127.0.0.1:7000\"\n").unwrap();
        let c = Config::resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).unwrap();
        assert_eq!(c.bind.port(), 7000);
        let c = Config::resolve(&ConfigArgs {
            config: Some(file),
            bind: Some("127.0.0.1:7001".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.bind.port(), 7001, "flags and environment win over the file");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
