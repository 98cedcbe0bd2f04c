//! The job queue (outbox) for service tasks. Jobs are written in the same transaction that
//! moves the process; workers claim them with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several nodes share the queue), and a job whose lease expired (its worker
//! died) is claimed again.

use crate::batch::Write;
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

/// The insert of a new job, to be sent in a [`crate::batch::Batch`] or alone
/// ([`Write::execute`]).
#[allow(clippy::too_many_arguments)]
pub fn insert_write(
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
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "INSERT INTO jobs (tenant_id, job_id, instance_id, case_id, token, element_id, job_type, headers, input, status, attempts, max_attempts, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $11, $12)",
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
    .bind(ts(run_at))
    .bind(ts(now))
}

/// Prefix of the job types the built-in worker performs (connectors, timers, receipts);
/// every other type is left to external workers.
pub const BUILT_IN_PREFIX: &str = "rathaus:";

/// Which jobs a claim may take.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// Built-in jobs of any tenant (the node's own worker).
    BuiltIn,
    /// Built-in jobs of one instance (driving a case right after a request).
    Instance { tenant_id: &'a str, instance_id: &'a str },
    /// Jobs of one type of one tenant (an external worker's fetch-and-lock).
    External { tenant_id: &'a str, job_type: &'a str },
}

/// Claims one due job for `worker` for `lease`. A running job whose lease ran out (its
/// worker died) counts as due.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    what: Claim<'_>,
) -> Result<Option<Job>> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let (filter, a, b) = match what {
        Claim::BuiltIn => ("AND job_type LIKE $4 AND $5 = $5", format!("{BUILT_IN_PREFIX}%"), String::new()),
        Claim::Instance { tenant_id, instance_id } => (
            // Deliveries to other authorities wait for the background worker, never for an
            // applicant's request.
            "AND tenant_id = $4 AND instance_id = $5 AND job_type LIKE 'rathaus:%' AND job_type <> 'rathaus:deliver-message'",
            tenant_id.to_string(),
            instance_id.to_string(),
        ),
        Claim::External { tenant_id, job_type } => {
            ("AND tenant_id = $4 AND job_type = $5", tenant_id.to_string(), job_type.to_string())
        }
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1
         WHERE (tenant_id, job_id) IN (
             SELECT tenant_id, job_id FROM jobs
             WHERE ((status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)) {filter}
             ORDER BY run_at LIMIT 1 {lock})
         RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(worker)
        .bind(ts(now + lease))
        .bind(ts(now))
        .bind(a)
        .bind(b)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, job_id: &str) -> Result<Option<Job>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND job_id = $2"))
        .bind(tenant_id)
        .bind(job_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Voids the pending jobs and timers of the given tokens and subscriptions (an activity was
/// interrupted). A job already running finds its token gone when it completes.
pub async fn cancel_for_tokens(
    conn: &mut AnyConnection,
    tenant_id: &str,
    instance_id: &str,
    tokens: &[i64],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut n = 0;
    for token in tokens {
        n += sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = $4, locked_by = NULL, locked_until = NULL
             WHERE tenant_id = $1 AND instance_id = $2 AND token = $3 AND status = 'pending'",
        )
        .bind(tenant_id)
        .bind(instance_id)
        .bind(token)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// Puts a claimed job back to wait until `run_at` without counting the attempt (a timer
/// claimed before its time after the clock was set back).
pub async fn reschedule(conn: &mut AnyConnection, job: &Job, worker: &str, run_at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'pending', run_at = $4, attempts = attempts - 1, locked_by = NULL, locked_until = NULL
         WHERE tenant_id = $1 AND job_id = $2 AND locked_by = $3",
    )
    .bind(&job.tenant_id)
    .bind(&job.job_id)
    .bind(worker)
    .bind(ts(run_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Extends the lease of a job the worker holds. False if it does not hold it.
pub async fn extend_lock(
    conn: &mut AnyConnection,
    tenant_id: &str,
    job_id: &str,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET locked_until = $4 WHERE tenant_id = $1 AND job_id = $2 AND locked_by = $3 AND status = 'running'",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(worker)
    .bind(ts(until))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// An external worker reports a failure: retried after `retry_in` while `retries` remain,
/// dead-lettered otherwise. Returns true if dead-lettered, None if the worker does not hold
/// the job.
pub async fn fail_external(
    conn: &mut AnyConnection,
    job: &Job,
    worker: &str,
    error: &str,
    retries: i64,
    retry_in: Duration,
    now: DateTime<Utc>,
) -> Result<Option<bool>> {
    let dead = retries <= 0;
    let done = sqlx::query(
        "UPDATE jobs SET status = $4, run_at = $5, locked_by = NULL, locked_until = NULL, last_error = $6, finished_at = $7, max_attempts = attempts + $8
         WHERE tenant_id = $1 AND job_id = $2 AND locked_by = $3 AND status = 'running'",
    )
    .bind(&job.tenant_id)
    .bind(&job.job_id)
    .bind(worker)
    .bind(if dead { "failed" } else { "pending" })
    .bind(ts(now + retry_in))
    .bind(error)
    .bind(if dead { Some(ts(now)) } else { None })
    .bind(retries.max(0))
    .execute(&mut *conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(dead))
}

/// Dead-lettered jobs of a tenant, newest first (for administrators).
pub async fn failed(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<Job>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND status = 'failed' ORDER BY finished_at DESC LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
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
        "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND instance_id = $2 AND job_type LIKE 'rathaus:%' AND job_type <> 'rathaus:deliver-message'
         AND (status = 'running' OR (status = 'pending' AND run_at <= $3))",
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

/// How many jobs are due by `now` and not finished (running, or pending with `run_at` not
/// after `now`); jobs waiting for a later moment, such as a deadline's reminder, are not.
pub async fn due_count(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'running' OR (status = 'pending' AND run_at <= $1)")
            .bind(crate::ts(now))
            .fetch_one(&mut *conn)
            .await?;
    Ok(n)
}

/// Starts a dead-lettered job again (an administrator fixed the cause): one more attempt,
/// due now. False if the job is not failed (someone else retried it already).
pub async fn retry_failed(conn: &mut AnyConnection, tenant_id: &str, job_id: &str, now: DateTime<Utc>) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET status = 'pending', run_at = $3, max_attempts = attempts + 1, finished_at = NULL
         WHERE tenant_id = $1 AND job_id = $2 AND status = 'failed'",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Whether the case has a job of this type waiting to run (so that a burst of changes
/// queues one notification, not one per change).
pub async fn has_pending(conn: &mut AnyConnection, tenant_id: &str, case_id: &str, job_type: &str) -> Result<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND case_id = $2 AND job_type = $3 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(job_type)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}
