//! The job queue (outbox) for service tasks. Jobs are written in the same transaction that
//! moves the process; workers claim them with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several nodes share the queue), and a job whose lease expired (its worker
//! died) is claimed again.

use crate::{ts, Backend, Result};
use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub tenant_id: String,
    pub job_id: String,
    pub instance_id: String,
    pub case_id: String,
    pub token: i64,
    pub element_id: String,
    pub job_type: String,
    pub headers: String,
    pub input: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "tenant_id, job_id, instance_id, case_id, token, element_id, job_type, headers, input, status, attempts, max_attempts, run_at, locked_by, last_error";

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    job_id: &str,
    instance_id: &str,
    case_id: &str,
    token: i64,
    element_id: &str,
    job_type: &str,
    headers: &serde_json::Value,
    input: &serde_json::Value,
    max_attempts: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = ts(now);
    sqlx::query(
        "INSERT INTO jobs (tenant_id, job_id, instance_id, case_id, token, element_id, job_type, headers, input, status, attempts, max_attempts, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $11, $11)",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(instance_id)
    .bind(case_id)
    .bind(token)
    .bind(element_id)
    .bind(job_type)
    .bind(headers.to_string())
    .bind(input.to_string())
    .bind(max_attempts.max(1))
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims one due job (optionally only of one instance) for `worker` for `lease`.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    instance: Option<(&str, &str)>,
) -> Result<Option<Job>> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let only_instance =
        if instance.is_some() { "AND tenant_id = $4 AND instance_id = $5" } else { "AND $4 = $4 AND $5 = $5" };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1
         WHERE (tenant_id, job_id) IN (
             SELECT tenant_id, job_id FROM jobs
             WHERE ((status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)) {only_instance}
             ORDER BY run_at LIMIT 1 {lock})
         RETURNING {COLUMNS}"
    );
    let (t, i) = instance.unwrap_or(("", ""));
    Ok(sqlx::query_as(&sql)
        .bind(worker)
        .bind(ts(now + lease))
        .bind(ts(now))
        .bind(t)
        .bind(i)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Marks a claimed job done. False if this worker no longer holds it (lease expired and
/// another worker took over): the caller must roll back its transaction.
pub async fn complete(
    conn: &mut AnyConnection,
    tenant_id: &str,
    job_id: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'done', finished_at = $4, locked_until = NULL, last_error = NULL
         WHERE tenant_id = $1 AND job_id = $2 AND status = 'running' AND locked_by = $3",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(worker)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: retried later with exponential backoff, or dead-lettered
/// (`failed`) after the last attempt. Returns true if it was dead-lettered.
pub async fn fail(conn: &mut AnyConnection, job: &Job, worker: &str, error: &str, now: DateTime<Utc>) -> Result<bool> {
    let dead = job.attempts >= job.max_attempts;
    let backoff = Duration::seconds(5 * 2i64.pow(job.attempts.clamp(0, 10) as u32));
    sqlx::query(
        "UPDATE jobs SET status = $4, run_at = $5, locked_by = NULL, locked_until = NULL, last_error = $6, finished_at = $7
         WHERE tenant_id = $1 AND job_id = $2 AND locked_by = $3",
    )
    .bind(&job.tenant_id)
    .bind(&job.job_id)
    .bind(worker)
    .bind(if dead { "failed" } else { "pending" })
    .bind(ts(now + backoff))
    .bind(error)
    .bind(if dead { Some(ts(now)) } else { None })
    .execute(&mut *conn)
    .await?;
    Ok(dead)
}

pub async fn for_instance(conn: &mut AnyConnection, tenant_id: &str, instance_id: &str) -> Result<Vec<Job>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND instance_id = $2 ORDER BY created_at"
    ))
    .bind(tenant_id)
    .bind(instance_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Jobs of one instance that are running or due now. A due job another worker is just
/// claiming is invisible to `claim` (SKIP LOCKED) but counted here, so a caller waiting for
/// the instance does not stop too early.
pub async fn busy_for_instance(
    conn: &mut AnyConnection,
    tenant_id: &str,
    instance_id: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND instance_id = $2 AND (status = 'running' OR (status = 'pending' AND run_at <= $3))",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Jobs waiting to run or running, across all tenants (for monitoring and tests).
pub async fn pending_count(conn: &mut AnyConnection) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}
