//! The mailbox of a case: messages between the applicant and the authority, each way, with
//! files attached as documents of the case.

use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseMessage {
    pub message_id: String,
    pub case_id: String,
    /// `in` (from the applicant) or `out` (from the authority).
    pub direction: String,
    pub author: String,
    pub body: String,
    pub created_at: String,
    pub read_at: Option<String>,
}

pub const IN: &str = "in";
pub const OUT: &str = "out";

pub struct NewMessage<'a> {
    pub tenant_id: &'a str,
    pub message_id: &'a str,
    pub case_id: &'a str,
    pub direction: &'a str,
    pub author: &'a str,
    pub body: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, m: &NewMessage<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_messages (tenant_id, message_id, case_id, direction, author, body, created_at, read_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(m.tenant_id)
    .bind(m.message_id)
    .bind(m.case_id)
    .bind(m.direction)
    .bind(m.author)
    .bind(m.body)
    .bind(ts(m.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The case's messages, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<CaseMessage>> {
    Ok(sqlx::query_as(
        "SELECT message_id, case_id, direction, author, body, created_at, read_at FROM case_messages
         WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, message_id",
    )
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Marks the messages of one direction as read by the other side; returns how many were new.
pub async fn mark_read(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    direction: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE case_messages SET read_at = $4 WHERE tenant_id = $1 AND case_id = $2 AND direction = $3 AND read_at IS NULL",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(direction)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// A file sent with a message, stored as a document of the case.
pub struct Attachment<'a> {
    pub tenant_id: &'a str,
    pub document_id: &'a str,
    pub case_id: &'a str,
    pub message_id: &'a str,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub content: &'a [u8],
    pub scan: &'a str,
    pub now: DateTime<Utc>,
}

/// Stores a message's file; returns its SHA-256.
pub async fn attach(conn: &mut AnyConnection, a: &Attachment<'_>) -> Result<String> {
    let sha256 = sha256_hex(a.content);
    sqlx::query(
        "INSERT INTO documents (tenant_id, document_id, case_id, kind, template, title, file_name, media_type, content, sha256, size, visible_to_applicant, created_at, scan, message_id)
         VALUES ($1, $2, $3, 'anlage', 'nachricht', 'Anlage zur Nachricht', $4, $5, $6, $7, $8, 1, $9, $10, $11)",
    )
    .bind(a.tenant_id)
    .bind(a.document_id)
    .bind(a.case_id)
    .bind(a.file_name)
    .bind(a.media_type)
    .bind(a.content.to_vec())
    .bind(&sha256)
    .bind(a.content.len() as i64)
    .bind(ts(a.now))
    .bind(a.scan)
    .bind(a.message_id)
    .execute(&mut *conn)
    .await?;
    Ok(sha256)
}
