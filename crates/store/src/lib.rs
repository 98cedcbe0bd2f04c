//! Persistence on SQLite (embedded default) and PostgreSQL (production, scale-out) through
//! sqlx's `Any` driver: one set of SQL statements with `$n` placeholders, one migration set
//! per backend. Every table carries `tenant_id` and every query filters on it.
//!
//! Functions take `&mut AnyConnection`, so the caller decides what forms one transaction.

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod bank;
pub mod batch;
pub mod businesses;
pub mod cases;
mod checkpoint;
pub mod consultations;
pub mod copies;
pub mod data_versions;
pub mod deadlines;
pub mod delegations;
pub mod deployments;
pub mod documents;
pub mod drafts;
pub mod events;
pub mod fees;
pub mod finance;
pub mod forwardings;
pub mod instances;
pub mod jobs;
pub mod mailbox;
pub mod messages;
pub mod outbox;
pub mod payments;
pub mod requests;
pub mod retention;
pub mod sessions;
pub mod staff;
pub mod tasks;
pub mod tenants;
pub mod testing;
pub mod uploads;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub use sqlx::Any;
pub type Tx = Transaction<'static, Any>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Datenbank: {0}")]
    Db(#[from] sqlx::Error),
    #[error("Migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("gespeicherte Daten unlesbar ({what}): {message}")]
    Corrupt { what: &'static str, message: String },
    #[error("Konflikt: {0}")]
    Conflict(String),
    #[error("Datenbankadresse „{0}“ wird nicht unterstützt: erwartet sqlite:… oder postgres://…")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    /// The database a connection talks to.
    pub fn of(conn: &AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Hides a password in a database URL before it is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// SQLite: the one connection that writes (see [`Store::begin`]). PostgreSQL: the pool.
    writer: AnyPool,
    backend: Backend,
    /// Held by every handle of this store; the background checkpointer (SQLite) ends when
    /// the last handle is dropped.
    _alive: std::sync::Arc<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend.name())
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects; for SQLite the file is created if missing and WAL mode is switched on.
    /// `after_connect` SQL runs on every new connection (tests use it for search_path).
    pub async fn connect(url: &str, max_connections: u32, after_connect: Option<String>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // One direct connection first: a pool would only report "timed out", this reports why
        // (refused, unknown database, authentication) within seconds.
        {
            use sqlx::ConnectOptions;
            let probe = tokio::time::timeout(Duration::from_secs(10), options.connect())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            sqlx::Connection::close(probe).await?;
        }
        let after = after_connect.clone();
        let pool = Self::pool_options(backend, max_connections, after).connect_with(options.clone()).await?;
        // SQLite has one writer at a time anyway. Giving writes their own connection keeps its
        // page cache valid from one transaction to the next (a write by another connection
        // would discard it) and lets writers queue in the pool instead of polling for the
        // file lock.
        let writer = match backend {
            Backend::Sqlite => Self::pool_options(backend, 1, after_connect).connect_with(options).await?,
            Backend::Postgres => pool.clone(),
        };
        let alive = std::sync::Arc::new(());
        if backend == Backend::Sqlite {
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&writer).await?;
            if mode.eq_ignore_ascii_case("wal") {
                checkpoint::spawn(pool.clone(), std::sync::Arc::downgrade(&alive));
            }
        }
        Ok(Store { pool, writer, backend, _alive: alive })
    }

    fn pool_options(backend: Backend, max_connections: u32, after_connect: Option<String>) -> AnyPoolOptions {
        AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            // An embedded database's connection cannot drop like a network connection: a
            // ping before each use would only cost a round trip to its thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                let after = after_connect.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer commits; NORMAL sync is
                        // durable across application crashes (fsync at checkpoints).
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        // Checkpoints run in the background (see `checkpoint`); a connection
                        // checkpoints by itself only if that falls far behind.
                        sqlx::query(&format!(
                            "PRAGMA wal_autocheckpoint = {}",
                            checkpoint::WRITER_AUTOCHECKPOINT_PAGES
                        ))
                        .execute(&mut *conn)
                        .await?;
                    }
                    if let Some(sql) = after {
                        sqlx::query(&sql).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite: copies the write-ahead log back into the database file, syncs it and lets
    /// the next commit write the log from its start again (what the background checkpointer
    /// does bit by bit). With `synchronous = NORMAL` this is when commits become safe
    /// against power loss, so a measurement that wants to include the full cost of its
    /// writes ends with it. PostgreSQL: nothing (its commits are synced when they return).
    pub async fn sync_log(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads first could otherwise fail when it upgrades.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// A connection for reads.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Timestamps are stored as RFC 3339 UTC text with milliseconds: sortable as text.
/// A list of procedures as one bind parameter: `,a,b,`, or empty for all. The SQL matches it
/// with `$n LIKE '%,' || REPLACE(c.procedure_id, '_', '!_') || ',%' ESCAPE '!'`: ids have no
/// commas, and their `_` is escaped.
pub(crate) fn within_param(within: &[String]) -> String {
    if within.is_empty() {
        String::new()
    } else {
        format!(",{},", within.join(","))
    }
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt { what: "Zeitstempel", message: format!("{s}: {e}") })
}

pub fn json_of(text: &str, what: &'static str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { what, message: e.to_string() })
}

pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// Increments and returns a per-tenant counter (Aktenzeichen numbers, Kassenzeichen, audit
/// sequence). Inside a transaction the row stays locked until commit, so numbers are gapless
/// per committed transaction and never handed out twice.
pub async fn next_counter(conn: &mut AnyConnection, tenant_id: &str, name: &str) -> Result<i64> {
    reserve_counter(conn, tenant_id, name, 1).await
}

/// Advances a counter by `n` and returns its new value: the numbers `value - n + 1 ..= value`
/// are reserved for the caller.
pub async fn reserve_counter(conn: &mut AnyConnection, tenant_id: &str, name: &str, n: i64) -> Result<i64> {
    let row: Option<(i64,)> =
        sqlx::query_as("UPDATE counters SET value = value + $3 WHERE tenant_id = $1 AND name = $2 RETURNING value")
            .bind(tenant_id)
            .bind(name)
            .bind(n)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((v,)) = row {
        return Ok(v);
    }
    sqlx::query("INSERT INTO counters (tenant_id, name, value) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + $3")
        .bind(tenant_id)
        .bind(name)
        .bind(n)
        .execute(&mut *conn)
        .await?;
    let (v,): (i64,) = sqlx::query_as("SELECT value FROM counters WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("sqlite:data/r.db"), "sqlite:data/r.db");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite:x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://h/db").is_err());
    }
}
