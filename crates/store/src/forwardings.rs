//! Cases forwarded to the competent authority (Abgabe), with the authority's link.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Forwarding {
    pub forwarding_id: String,
    pub case_id: String,
    pub authority: String,
    pub email: String,
    pub reason: String,
    pub share_documents: i64,
    pub forwarded_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub mailed_at: Option<String>,
    pub retrieved_at: Option<String>,
}

const COLUMNS: &str = "forwarding_id, case_id, authority, email, reason, share_documents, forwarded_by, created_at, expires_at, mailed_at, retrieved_at";

pub struct NewForwarding<'a> {
    pub tenant_id: &'a str,
    pub forwarding_id: &'a str,
    pub case_id: &'a str,
    pub authority: &'a str,
    pub email: &'a str,
    pub reason: &'a str,
    pub share_documents: bool,
    pub token_hash: &'a str,
    pub forwarded_by: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, f: &NewForwarding<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_forwardings (tenant_id, forwarding_id, case_id, authority, email, reason, share_documents,
            token_hash, forwarded_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(f.tenant_id)
    .bind(f.forwarding_id)
    .bind(f.case_id)
    .bind(f.authority)
    .bind(f.email)
    .bind(f.reason)
    .bind(if f.share_documents { 1i64 } else { 0 })
    .bind(f.token_hash)
    .bind(f.forwarded_by)
    .bind(ts(f.now))
    .bind(ts(f.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, forwarding_id: &str) -> Result<Option<Forwarding>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM case_forwardings WHERE tenant_id = $1 AND forwarding_id = $2"))
        .bind(tenant_id)
        .bind(forwarding_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_token_hash(conn: &mut AnyConnection, tenant_id: &str, token_hash: &str) -> Result<Option<Forwarding>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM case_forwardings WHERE tenant_id = $1 AND token_hash = $2"))
        .bind(tenant_id)
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Forwarding>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM case_forwardings WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Records that the link was mailed; false if it was recorded before (a retried job).
pub async fn mark_mailed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    forwarding_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE case_forwardings SET mailed_at = $3 WHERE tenant_id = $1 AND forwarding_id = $2 AND mailed_at IS NULL",
    )
    .bind(tenant_id)
    .bind(forwarding_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records the authority's first opening; false if it opened the link before.
pub async fn mark_retrieved(
    conn: &mut AnyConnection,
    tenant_id: &str,
    forwarding_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE case_forwardings SET retrieved_at = $3 WHERE tenant_id = $1 AND forwarding_id = $2 AND retrieved_at IS NULL",
    )
    .bind(tenant_id)
    .bind(forwarding_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
