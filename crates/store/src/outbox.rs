//! The outbox: messages to other authorities, each recorded once per job and recipient and
//! delivered by its own job.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxMessage {
    pub message_id: String,
    pub case_id: String,
    pub job_id: String,
    pub recipient: String,
    pub recipient_name: String,
    pub kind: String,
    pub address: String,
    pub content: String,
    pub sha256: String,
    pub status: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub receipt: Option<String>,
}

const COLUMNS: &str = "message_id, case_id, job_id, recipient, recipient_name, kind, address, content, sha256, status,
    created_at, delivered_at, receipt";

pub struct NewMessage<'a> {
    pub tenant_id: &'a str,
    pub message_id: &'a str,
    pub case_id: &'a str,
    pub job_id: &'a str,
    pub recipient: &'a str,
    pub recipient_name: &'a str,
    pub kind: &'a str,
    pub address: &'a str,
    pub content: &'a str,
    pub now: DateTime<Utc>,
}

/// Records a message; false if the job recorded this recipient's already (a retried job),
/// and nothing is changed then.
pub async fn insert(conn: &mut AnyConnection, m: &NewMessage<'_>) -> Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO outbox (tenant_id, message_id, case_id, job_id, recipient, recipient_name, kind, address, content, sha256, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11)
         ON CONFLICT (tenant_id, job_id, recipient) DO NOTHING",
    )
    .bind(m.tenant_id)
    .bind(m.message_id)
    .bind(m.case_id)
    .bind(m.job_id)
    .bind(m.recipient)
    .bind(m.recipient_name)
    .bind(m.kind)
    .bind(m.address)
    .bind(m.content)
    .bind(crate::sha256_hex(m.content.as_bytes()))
    .bind(ts(m.now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, message_id: &str) -> Result<Option<OutboxMessage>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM outbox WHERE tenant_id = $1 AND message_id = $2"))
        .bind(tenant_id)
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<OutboxMessage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, recipient"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Marks a message delivered; false if it was already.
pub async fn delivered(
    conn: &mut AnyConnection,
    tenant_id: &str,
    message_id: &str,
    receipt: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE outbox SET status = 'delivered', delivered_at = $3, receipt = $4
         WHERE tenant_id = $1 AND message_id = $2 AND status <> 'delivered'",
    )
    .bind(tenant_id)
    .bind(message_id)
    .bind(ts(now))
    .bind(receipt)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
