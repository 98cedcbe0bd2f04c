//! Deployments: the exact files of a procedure version a tenant runs. A case records its
//! deployment, so a new version of the library never changes a running case.

use crate::{json_of, new_id, ts, Result, StoreError};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deployment {
    pub deployment_id: String,
    pub procedure_id: String,
    pub version: String,
    pub content_hash: String,
    pub deployed_at: String,
}

/// Returns the deployment with this content hash, creating it if the content is new.
/// The second value tells whether it was created.
pub async fn ensure(
    conn: &mut AnyConnection,
    tenant_id: &str,
    procedure_id: &str,
    version: &str,
    content_hash: &str,
    files: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(String, bool)> {
    let existing: Option<(String,)> = sqlx::query_as(
        "SELECT deployment_id FROM deployments WHERE tenant_id = $1 AND procedure_id = $2 AND content_hash = $3",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .bind(content_hash)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id,)) = existing {
        return Ok((id, false));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO deployments (tenant_id, deployment_id, procedure_id, version, content_hash, files, deployed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(procedure_id)
    .bind(version)
    .bind(content_hash)
    .bind(serde_json::to_string(files).expect("files serialise"))
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok((id, true))
}

/// The newest deployment of a procedure for a tenant.
pub async fn latest(conn: &mut AnyConnection, tenant_id: &str, procedure_id: &str) -> Result<Option<Deployment>> {
    Ok(sqlx::query_as(
        "SELECT deployment_id, procedure_id, version, content_hash, deployed_at FROM deployments
         WHERE tenant_id = $1 AND procedure_id = $2 ORDER BY deployed_at DESC, deployment_id DESC LIMIT 1",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn list(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Deployment>> {
    Ok(sqlx::query_as(
        "SELECT deployment_id, procedure_id, version, content_hash, deployed_at FROM deployments WHERE tenant_id = $1 ORDER BY deployed_at DESC",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn files(conn: &mut AnyConnection, tenant_id: &str, deployment_id: &str) -> Result<BTreeMap<String, String>> {
    let (text,): (String,) =
        sqlx::query_as("SELECT files FROM deployments WHERE tenant_id = $1 AND deployment_id = $2")
            .bind(tenant_id)
            .bind(deployment_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::Corrupt { what: "Deployment", message: format!("{deployment_id} fehlt") })?;
    let value = json_of(&text, "Deployment-Dateien")?;
    serde_json::from_value(value)
        .map_err(|e| StoreError::Corrupt { what: "Deployment-Dateien", message: e.to_string() })
}

/// Running process instances per deployment of a tenant (deployment id → count).
pub async fn running_instances(conn: &mut AnyConnection, tenant_id: &str) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT deployment_id, COUNT(*) FROM process_instances WHERE tenant_id = $1 AND status = 'running' GROUP BY deployment_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}
