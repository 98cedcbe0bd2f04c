//! Uploads: files attached to an application that is not submitted yet. Each belongs to an
//! upload key (a random value kept in the applicant's session and saved draft), so one
//! applicant can neither see nor submit another's files. Submitting moves them into the
//! case's documents; uploads never submitted expire and are deleted.

use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadMeta {
    pub upload_id: String,
    pub field: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub scan: String,
}

const META: &str = "upload_id, field, file_name, media_type, sha256, size, scan";

pub struct NewUpload<'a> {
    pub tenant_id: &'a str,
    pub upload_id: &'a str,
    pub upload_key: &'a str,
    pub procedure_id: &'a str,
    pub field: &'a str,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub content: &'a [u8],
    /// `clean` or `unscanned`.
    pub scan: &'a str,
    pub now: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// Stores an upload; returns its SHA-256 (hex).
pub async fn insert(conn: &mut AnyConnection, u: NewUpload<'_>) -> Result<String> {
    let sha256 = sha256_hex(u.content);
    sqlx::query(
        "INSERT INTO uploads (tenant_id, upload_id, upload_key, procedure_id, field, file_name, media_type, content, sha256, size, scan, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(u.tenant_id)
    .bind(u.upload_id)
    .bind(u.upload_key)
    .bind(u.procedure_id)
    .bind(u.field)
    .bind(u.file_name)
    .bind(u.media_type)
    .bind(u.content.to_vec())
    .bind(&sha256)
    .bind(u.content.len() as i64)
    .bind(u.scan)
    .bind(ts(u.now))
    .bind(ts(u.expires))
    .execute(&mut *conn)
    .await?;
    Ok(sha256)
}

/// The uploads of one key, oldest first.
pub async fn for_key(conn: &mut AnyConnection, tenant_id: &str, upload_key: &str) -> Result<Vec<UploadMeta>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {META} FROM uploads WHERE tenant_id = $1 AND upload_key = $2 ORDER BY created_at, upload_id"
    ))
    .bind(tenant_id)
    .bind(upload_key)
    .fetch_all(&mut *conn)
    .await?)
}

/// Total bytes stored under one key (the limit per application).
pub async fn bytes_for_key(conn: &mut AnyConnection, tenant_id: &str, upload_key: &str) -> Result<i64> {
    let (n,): (Option<i64>,) =
        sqlx::query_as("SELECT CAST(SUM(size) AS BIGINT) FROM uploads WHERE tenant_id = $1 AND upload_key = $2")
            .bind(tenant_id)
            .bind(upload_key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n.unwrap_or(0))
}

/// Deletes one upload of the key (the applicant removed it); false if there was none.
pub async fn delete(conn: &mut AnyConnection, tenant_id: &str, upload_key: &str, upload_id: &str) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM uploads WHERE tenant_id = $1 AND upload_key = $2 AND upload_id = $3")
        .bind(tenant_id)
        .bind(upload_key)
        .bind(upload_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Keeps the key's uploads at least until `until` (a saved draft keeps its files as long as
/// itself).
pub async fn keep_until(
    conn: &mut AnyConnection,
    tenant_id: &str,
    upload_key: &str,
    until: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE uploads SET expires_at = $3 WHERE tenant_id = $1 AND upload_key = $2 AND expires_at < $3")
        .bind(tenant_id)
        .bind(upload_key)
        .bind(ts(until))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What a submission attaches: one upload, as the application's data refers to it.
pub struct Attach<'a> {
    pub tenant_id: &'a str,
    pub upload_key: &'a str,
    pub upload_id: &'a str,
    /// The content's hash as the data states it: an upload whose content differs is not
    /// the one the applicant saw and is not attached.
    pub sha256: &'a str,
    pub case_id: &'a str,
    /// The document's title (the field's label) and the form field it came from.
    pub title: &'a str,
    pub now: DateTime<Utc>,
}

/// Moves an upload into the case's documents (kind `anlage`, document id = upload id,
/// visible to the applicant); false if the key has no such upload (expired, removed, or
/// someone else's). Call it inside the submission's transaction.
pub async fn attach(conn: &mut AnyConnection, a: &Attach<'_>) -> Result<bool> {
    let moved = sqlx::query(
        "INSERT INTO documents (tenant_id, document_id, case_id, kind, template, title, file_name, media_type, content, sha256, size, visible_to_applicant, created_at, scan)
         SELECT tenant_id, upload_id, $4, 'anlage', field, $5, file_name, media_type, content, sha256, size, 1, $6, scan
         FROM uploads WHERE tenant_id = $1 AND upload_key = $2 AND upload_id = $3 AND sha256 = $7",
    )
    .bind(a.tenant_id)
    .bind(a.upload_key)
    .bind(a.upload_id)
    .bind(a.case_id)
    .bind(a.title)
    .bind(ts(a.now))
    .bind(a.sha256)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 1 {
        delete(conn, a.tenant_id, a.upload_key, a.upload_id).await?;
    }
    Ok(moved == 1)
}

/// Tenants that have expired uploads.
pub async fn tenants_with_expired(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT tenant_id FROM uploads WHERE expires_at <= $1 ORDER BY tenant_id")
            .bind(ts(now))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes the tenant's expired uploads; returns how many. Call it in the transaction that
/// records the deletion in the audit trail.
pub async fn delete_expired(conn: &mut AnyConnection, tenant_id: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM uploads WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
