//! Process instances: the executor's state of a case, saved with optimistic locking.

use crate::batch::Write;
use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstanceRow {
    pub tenant_id: String,
    pub instance_id: String,
    pub case_id: String,
    pub deployment_id: String,
    pub status: String,
    pub state: String,
    pub revision: i64,
}

/// The insert of a new instance, to be sent in a [`crate::batch::Batch`].
pub fn insert_write(row: &InstanceRow, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO process_instances (tenant_id, instance_id, case_id, deployment_id, status, state, revision, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.tenant_id)
    .bind(&row.instance_id)
    .bind(&row.case_id)
    .bind(&row.deployment_id)
    .bind(&row.status)
    .bind(&row.state)
    .bind(row.revision)
    .bind(ts(now))
}

const COLUMNS: &str = "tenant_id, instance_id, case_id, deployment_id, status, state, revision";

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, instance_id: &str) -> Result<Option<InstanceRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM process_instances WHERE tenant_id = $1 AND instance_id = $2"))
        .bind(tenant_id)
        .bind(instance_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Option<InstanceRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM process_instances WHERE tenant_id = $1 AND case_id = $2"))
        .bind(tenant_id)
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Saves a new state, as a write of a batch: it changes one row, or none if someone else
/// saved since `expected_revision` was read (the caller must then roll back and retry).
pub fn save_write(
    tenant_id: &str,
    instance_id: &str,
    status: &str,
    state: &str,
    expected_revision: i64,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "UPDATE process_instances SET status = $3, state = $4, revision = revision + 1, updated_at = $5
         WHERE tenant_id = $1 AND instance_id = $2 AND revision = $6",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .bind(status)
    .bind(state)
    .bind(ts(now))
    .bind(expected_revision)
}
