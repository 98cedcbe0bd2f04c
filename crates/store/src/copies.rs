//! Abschriften (copies): a document of a case made available to another body (the police
//! receives every traffic order) by a link mailed to it. The token behind the link is
//! derived from the copy id with the server's secret; only its keyed hash is stored here.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// Mailed to the recipient.
pub const SENT: &str = "sent";
/// The mail could not be sent (`error` says why); the clerk passes the link on otherwise.
pub const FAILED: &str = "failed";
/// No mail server is set up; the clerk passes the link on otherwise.
pub const UNSENT: &str = "unsent";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Copy {
    pub copy_id: String,
    pub case_id: String,
    pub document_id: String,
    /// The body's name (e.g. "Polizei").
    pub recipient: String,
    pub email: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    /// When the link was first opened.
    pub opened_at: Option<String>,
}

const COLUMNS: &str =
    "copy_id, case_id, document_id, recipient, email, status, error, created_at, expires_at, opened_at";

pub struct NewCopy<'a> {
    pub tenant_id: &'a str,
    pub copy_id: &'a str,
    pub case_id: &'a str,
    pub document_id: &'a str,
    pub recipient: &'a str,
    pub email: &'a str,
    pub token_hash: &'a str,
    pub status: &'a str,
    pub error: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Records a copy; false if it was recorded already (a retried job).
pub async fn insert(conn: &mut AnyConnection, c: &NewCopy<'_>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO copies (tenant_id, copy_id, case_id, document_id, recipient, email, token_hash, status, error, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, copy_id) DO NOTHING",
    )
    .bind(c.tenant_id)
    .bind(c.copy_id)
    .bind(c.case_id)
    .bind(c.document_id)
    .bind(c.recipient)
    .bind(c.email)
    .bind(c.token_hash)
    .bind(c.status)
    .bind(c.error)
    .bind(ts(c.now))
    .bind(ts(c.expires_at))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// The copy behind a link's token hash.
pub async fn by_token(conn: &mut AnyConnection, tenant_id: &str, token_hash: &str) -> Result<Option<Copy>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM copies WHERE tenant_id = $1 AND token_hash = $2"))
        .bind(tenant_id)
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The case's copies, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Copy>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM copies WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, recipient"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Notes the first opening of the link; true if this was it.
pub async fn opened(conn: &mut AnyConnection, tenant_id: &str, copy_id: &str, now: DateTime<Utc>) -> Result<bool> {
    let done =
        sqlx::query("UPDATE copies SET opened_at = $3 WHERE tenant_id = $1 AND copy_id = $2 AND opened_at IS NULL")
            .bind(tenant_id)
            .bind(copy_id)
            .bind(ts(now))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    Ok(done == 1)
}
