//! The timeline of a case: what applicant (public events) and clerks see happening.

use crate::batch::Write;
use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub message: String,
    pub public: i64,
}

pub async fn add(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    kind: &str,
    message: &str,
    public: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    add_write(tenant_id, case_id, kind, message, public, now).execute(conn).await?;
    Ok(())
}

/// The insert of a timeline entry, to be sent in a [`crate::batch::Batch`].
pub fn add_write(tenant_id: &str, case_id: &str, kind: &str, message: &str, public: bool, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO case_events (tenant_id, case_id, at, kind, message, public) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(ts(now))
    .bind(kind)
    .bind(message)
    .bind(if public { 1i64 } else { 0 })
}

pub async fn for_case(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    only_public: bool,
) -> Result<Vec<Event>> {
    Ok(sqlx::query_as(
        "SELECT seq, at, kind, message, public FROM case_events WHERE tenant_id = $1 AND case_id = $2 AND public >= $3 ORDER BY seq",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(if only_public { 1i64 } else { 0 })
    .fetch_all(&mut *conn)
    .await?)
}
