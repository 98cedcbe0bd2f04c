//! Server-side sessions, bound to one tenant. Only the hash of the session id is stored, so
//! a database dump does not contain usable session cookies.

use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

pub fn hash_id(session_id: &str) -> String {
    sha256_hex(session_id.as_bytes())
}

pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<serde_json::Value>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT data FROM sessions WHERE tenant_id = $1 AND session_hash = $2 AND expires_at > $3")
            .bind(tenant_id)
            .bind(hash_id(session_id))
            .bind(ts(now))
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(d,)| crate::json_of(&d, "Sitzung")).transpose()
}

pub async fn save(
    conn: &mut AnyConnection,
    tenant_id: &str,
    session_id: &str,
    data: &serde_json::Value,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (tenant_id, session_hash, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, session_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
    )
    .bind(tenant_id)
    .bind(hash_id(session_id))
    .bind(data.to_string())
    .bind(ts(now))
    .bind(ts(expires))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, tenant_id: &str, session_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND session_hash = $2")
        .bind(tenant_id)
        .bind(hash_id(session_id))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes expired sessions (all tenants); run periodically.
pub async fn purge_expired(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
