//! Messages for a case that arrived while nothing waited for them (a payment reported
//! before the process reached its wait). A subscription opened later takes the oldest one
//! that has not expired.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub tenant_id: String,
    pub message_id: String,
    pub case_id: String,
    pub name: String,
    pub payload: String,
    pub received_at: String,
    pub expires_at: String,
}

#[allow(clippy::too_many_arguments)]
pub async fn buffer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    message_id: &str,
    case_id: &str,
    name: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO messages (tenant_id, message_id, case_id, name, payload, received_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(message_id)
    .bind(case_id)
    .bind(name)
    .bind(payload.to_string())
    .bind(ts(now))
    .bind(ts(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the oldest buffered, unexpired message `name` of a case (marks it correlated).
pub async fn take(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<Message>> {
    let found: Option<Message> = sqlx::query_as(
        "SELECT tenant_id, message_id, case_id, name, payload, received_at, expires_at FROM messages
         WHERE tenant_id = $1 AND case_id = $2 AND name = $3 AND correlated_at IS NULL AND expires_at > $4
         ORDER BY received_at, message_id LIMIT 1",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(name)
    .bind(ts(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(m) = &found {
        sqlx::query("UPDATE messages SET correlated_at = $3 WHERE tenant_id = $1 AND message_id = $2")
            .bind(tenant_id)
            .bind(&m.message_id)
            .bind(ts(now))
            .execute(&mut *conn)
            .await?;
    }
    Ok(found)
}

/// Deletes expired and correlated messages older than `before` (housekeeping).
pub async fn purge(conn: &mut AnyConnection, before: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM messages WHERE expires_at < $1 OR (correlated_at IS NOT NULL AND correlated_at < $1)")
        .bind(ts(before))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
