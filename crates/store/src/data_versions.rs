//! Earlier versions of a case's submitted data, kept when a clerk corrects it.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataVersion {
    pub case_id: String,
    /// The version this correction made (2 for the first correction).
    pub version: i64,
    /// The data it replaced (JSON).
    pub previous: String,
    /// What changed (JSON list of `{key, label, old, new}`).
    pub changes: String,
    pub reason: String,
    pub changed_by: String,
    pub created_at: String,
}

pub struct NewVersion<'a> {
    pub tenant_id: &'a str,
    pub case_id: &'a str,
    pub version: i64,
    pub previous: &'a serde_json::Value,
    pub changes: &'a serde_json::Value,
    pub reason: &'a str,
    pub changed_by: &'a str,
    pub now: DateTime<Utc>,
}

/// Records a correction; fails on the primary key if another correction took the same
/// version meanwhile (the caller's transaction then rolls back).
pub async fn insert(conn: &mut AnyConnection, v: &NewVersion<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_data_versions (tenant_id, case_id, version, previous, changes, reason, changed_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(v.tenant_id)
    .bind(v.case_id)
    .bind(v.version)
    .bind(v.previous.to_string())
    .bind(v.changes.to_string())
    .bind(v.reason)
    .bind(v.changed_by)
    .bind(ts(v.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A case's corrections, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<DataVersion>> {
    Ok(sqlx::query_as(
        "SELECT case_id, version, previous, changes, reason, changed_by, created_at FROM case_data_versions
         WHERE tenant_id = $1 AND case_id = $2 ORDER BY version",
    )
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The number of the case's current data version (1: as submitted).
pub async fn current(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM case_data_versions WHERE tenant_id = $1 AND case_id = $2")
        .bind(tenant_id)
        .bind(case_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n + 1)
}
