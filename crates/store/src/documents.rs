//! Documents of a case (receipts, notices), stored in the database by default.

use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentMeta {
    pub document_id: String,
    pub case_id: String,
    pub kind: String,
    pub template: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub visible_to_applicant: i64,
    pub created_at: String,
    /// Uploads: `clean` (a virus scanner found nothing) or `unscanned`; generated: empty.
    pub scan: String,
    /// When the applicant first retrieved it (RFC 3339), if ever.
    pub retrieved_at: Option<String>,
    /// The mailbox message it came with, if any.
    pub message_id: Option<String>,
}

pub struct NewDocument<'a> {
    pub tenant_id: &'a str,
    pub document_id: &'a str,
    pub case_id: &'a str,
    pub kind: &'a str,
    pub template: &'a str,
    pub title: &'a str,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub content: &'a [u8],
    pub visible_to_applicant: bool,
    pub now: DateTime<Utc>,
}

/// Inserts a document; a second insert with the same id (a retried job) is ignored, which
/// makes the document connector idempotent.
pub async fn insert(conn: &mut AnyConnection, d: NewDocument<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO documents (tenant_id, document_id, case_id, kind, template, title, file_name, media_type, content, sha256, size, visible_to_applicant, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (tenant_id, document_id) DO NOTHING",
    )
    .bind(d.tenant_id)
    .bind(d.document_id)
    .bind(d.case_id)
    .bind(d.kind)
    .bind(d.template)
    .bind(d.title)
    .bind(d.file_name)
    .bind(d.media_type)
    .bind(d.content.to_vec())
    .bind(sha256_hex(d.content))
    .bind(d.content.len() as i64)
    .bind(if d.visible_to_applicant { 1i64 } else { 0 })
    .bind(ts(d.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const META: &str = "document_id, case_id, kind, template, title, file_name, media_type, sha256, size, visible_to_applicant, created_at, scan, retrieved_at, message_id";

pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<DocumentMeta>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {META} FROM documents WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, document_id"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A document with its bytes, only if it belongs to the given case of the given tenant.
pub async fn content(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    document_id: &str,
) -> Result<Option<(DocumentMeta, Vec<u8>)>> {
    let meta: Option<DocumentMeta> = sqlx::query_as(&format!(
        "SELECT {META} FROM documents WHERE tenant_id = $1 AND case_id = $2 AND document_id = $3"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(document_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(meta) = meta else { return Ok(None) };
    let bytes = bytes(conn, tenant_id, case_id, document_id).await?.unwrap_or_default();
    Ok(Some((meta, bytes)))
}

/// The bytes of a document of the given case (its metadata already read, e.g. by
/// [`for_case`]).
pub async fn bytes(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    document_id: &str,
) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT content FROM documents WHERE tenant_id = $1 AND case_id = $2 AND document_id = $3")
            .bind(tenant_id)
            .bind(case_id)
            .bind(document_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|r| r.0))
}

/// Records the applicant's first retrieval of a document; true if this was the first.
pub async fn mark_retrieved(
    conn: &mut AnyConnection,
    tenant_id: &str,
    document_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE documents SET retrieved_at = $3 WHERE tenant_id = $1 AND document_id = $2 AND retrieved_at IS NULL",
    )
    .bind(tenant_id)
    .bind(document_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
