//! Saved drafts: an application not yet submitted, kept so that the applicant can resume it
//! later with a link. The link's token is stored only as a keyed hash (the caller hashes it
//! with the installation secret), so a database dump does not open anyone's draft.

use crate::{parse_ts, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DraftRow {
    pub tenant_id: String,
    pub draft_id: String,
    pub procedure_id: String,
    pub data: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    /// The key of the application's uploads (none if it has never had any).
    pub upload_key: Option<String>,
    /// The citizen account it was saved under, if any.
    pub account_id: Option<String>,
    /// The business it was saved for, if any: its members see it too.
    pub business_id: Option<String>,
}

impl DraftRow {
    pub fn data(&self) -> Result<serde_json::Value> {
        crate::json_of(&self.data, "Entwurf")
    }

    pub fn expires(&self) -> Result<DateTime<Utc>> {
        parse_ts(&self.expires_at)
    }
}

const COLUMNS: &str =
    "tenant_id, draft_id, procedure_id, data, created_at, updated_at, expires_at, upload_key, account_id, business_id";

/// A draft to save: `draft_id` is kept across saves of the same application; each save
/// sets a new token (the link sent before stops working) and a new expiry.
pub struct Save<'a> {
    pub tenant_id: &'a str,
    pub draft_id: &'a str,
    pub procedure_id: &'a str,
    pub data: &'a serde_json::Value,
    pub token_hash: &'a str,
    pub upload_key: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub business_id: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

pub async fn save(conn: &mut AnyConnection, d: &Save<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO drafts (tenant_id, draft_id, procedure_id, data, token_hash, created_at, updated_at, expires_at, upload_key, account_id, business_id)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, draft_id) DO UPDATE SET data = excluded.data, token_hash = excluded.token_hash,
             updated_at = excluded.updated_at, expires_at = excluded.expires_at, upload_key = excluded.upload_key,
             account_id = COALESCE(excluded.account_id, drafts.account_id),
             business_id = COALESCE(excluded.business_id, drafts.business_id)",
    )
    .bind(d.tenant_id)
    .bind(d.draft_id)
    .bind(d.procedure_id)
    .bind(d.data.to_string())
    .bind(d.token_hash)
    .bind(ts(d.now))
    .bind(ts(d.expires))
    .bind(d.upload_key)
    .bind(d.account_id)
    .bind(d.business_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The tenant's draft with this token hash, expired or not (the caller tells the two apart
/// for the applicant).
pub async fn by_token(conn: &mut AnyConnection, tenant_id: &str, token_hash: &str) -> Result<Option<DraftRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM drafts WHERE tenant_id = $1 AND token_hash = $2"))
        .bind(tenant_id)
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The draft with this id, if the account may see it (its own, or its business's).
pub async fn of_account(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    draft_id: &str,
) -> Result<Option<DraftRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM drafts x WHERE x.tenant_id = $1 AND x.draft_id = $3 AND {}",
        crate::accounts::VISIBLE_TO_ACCOUNT
    ))
    .bind(tenant_id)
    .bind(account_id)
    .bind(draft_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn delete(conn: &mut AnyConnection, tenant_id: &str, draft_id: &str) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM drafts WHERE tenant_id = $1 AND draft_id = $2")
        .bind(tenant_id)
        .bind(draft_id)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Tenants that have expired drafts.
pub async fn tenants_with_expired(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT tenant_id FROM drafts WHERE expires_at <= $1 ORDER BY tenant_id")
            .bind(ts(now))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes the tenant's expired drafts; returns how many. Call it in the transaction that
/// records the deletion in the audit trail.
pub async fn delete_expired(conn: &mut AnyConnection, tenant_id: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM drafts WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
