//! User tasks: work for people, created by the process, completed through the back office.

use crate::batch::Write;
use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Task {
    pub tenant_id: String,
    pub task_id: String,
    pub case_id: String,
    pub instance_id: String,
    pub token: i64,
    pub element_id: String,
    pub name: String,
    pub candidate_groups: String,
    pub form_key: String,
    pub status: String,
    pub assignee: Option<String>,
    pub result: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub completed_by: Option<String>,
    pub candidate_users: String,
    pub due_at: Option<String>,
    pub follow_up_at: Option<String>,
    /// A decision waiting for a second person's approval (JSON), and who proposed it.
    pub proposal: Option<String>,
    pub proposed_by: Option<String>,
}

impl Task {
    pub fn groups(&self) -> Vec<&str> {
        self.candidate_groups.split(',').filter(|s| !s.is_empty()).collect()
    }
}

const COLUMNS: &str = "tenant_id, task_id, case_id, instance_id, token, element_id, name, candidate_groups, form_key, status, assignee, result, created_at, completed_at, completed_by, candidate_users, due_at, follow_up_at, proposal, proposed_by";
/// What a new task is written with (it has no proposal yet).
const NEW_COLUMNS: &str = "tenant_id, task_id, case_id, instance_id, token, element_id, name, candidate_groups, form_key, status, assignee, result, created_at, completed_at, completed_by, candidate_users, due_at, follow_up_at";

/// The insert of a new task, to be sent in a [`crate::batch::Batch`].
pub fn insert_write(t: &Task) -> Write {
    Write::new(format!(
        "INSERT INTO tasks ({NEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(&t.tenant_id)
    .bind(&t.task_id)
    .bind(&t.case_id)
    .bind(&t.instance_id)
    .bind(t.token)
    .bind(&t.element_id)
    .bind(&t.name)
    .bind(&t.candidate_groups)
    .bind(&t.form_key)
    .bind(&t.status)
    .bind(&t.assignee)
    .bind(&t.result)
    .bind(&t.created_at)
    .bind(&t.completed_at)
    .bind(&t.completed_by)
    .bind(&t.candidate_users)
    .bind(&t.due_at)
    .bind(&t.follow_up_at)
}

/// Open tasks of a tenant, oldest first (the worklist).
pub async fn open(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<Task>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND status = 'open' ORDER BY created_at LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, task_id: &str) -> Result<Option<Task>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND task_id = $2"))
        .bind(tenant_id)
        .bind(task_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Task>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Marks an open task completed, as a write of a batch: the process instance's revision,
/// saved in the same batch, guards that the task's token is completed only once.
pub fn complete_write(
    tenant_id: &str,
    task_id: &str,
    result: &serde_json::Value,
    completed_by: &str,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "UPDATE tasks SET status = 'completed', result = $3, completed_by = $4, completed_at = $5 WHERE tenant_id = $1 AND task_id = $2 AND status = 'open'",
    )
    .bind(tenant_id)
    .bind(task_id)
    .bind(result.to_string())
    .bind(completed_by)
    .bind(ts(now))
}

/// Withdraws the open tasks of the given tokens (an interrupting event ended their activity).
/// Returns how many were withdrawn.
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
            "UPDATE tasks SET status = 'cancelled', completed_at = $4 WHERE tenant_id = $1 AND instance_id = $2 AND token = $3 AND status = 'open'",
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

/// Open tasks of one process instance.
pub async fn open_for_instance(conn: &mut AnyConnection, tenant_id: &str, instance_id: &str) -> Result<Vec<Task>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND instance_id = $2 AND status = 'open' ORDER BY created_at"
    ))
    .bind(tenant_id)
    .bind(instance_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A task and the process instance it belongs to, as they are now: what completing the
/// task needs, read in one round trip before the completing transaction (the instance's
/// revision guards the save, so a row read too early only costs a retry).
#[derive(Debug, Clone)]
pub struct WithInstance {
    pub task: Task,
    pub instance: crate::instances::InstanceRow,
}

async fn with_instance_where(
    conn: &mut AnyConnection,
    tenant_id: &str,
    condition: &str,
    key: &str,
) -> Result<Option<WithInstance>> {
    use sqlx::{FromRow, Row};
    let task_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    let sql = format!(
        "SELECT {}, i.deployment_id, i.status AS instance_status, i.state, i.revision
         FROM tasks t JOIN process_instances i ON i.tenant_id = t.tenant_id AND i.instance_id = t.instance_id
         WHERE t.tenant_id = $1 AND {condition} ORDER BY t.created_at LIMIT 1",
        task_columns.join(", ")
    );
    let row = sqlx::query(&sql).bind(tenant_id).bind(key).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let task = Task::from_row(&row)?;
    let instance = crate::instances::InstanceRow {
        tenant_id: task.tenant_id.clone(),
        instance_id: task.instance_id.clone(),
        case_id: task.case_id.clone(),
        deployment_id: row.try_get("deployment_id")?,
        status: row.try_get("instance_status")?,
        state: row.try_get("state")?,
        revision: row.try_get("revision")?,
    };
    Ok(Some(WithInstance { task, instance }))
}

/// A task with its instance, by the task's id.
pub async fn with_instance(conn: &mut AnyConnection, tenant_id: &str, task_id: &str) -> Result<Option<WithInstance>> {
    with_instance_where(conn, tenant_id, "t.task_id = $2", task_id).await
}

/// The oldest open task of an instance, with the instance.
pub async fn open_with_instance(
    conn: &mut AnyConnection,
    tenant_id: &str,
    instance_id: &str,
) -> Result<Option<WithInstance>> {
    with_instance_where(conn, tenant_id, "t.instance_id = $2 AND t.status = 'open'", instance_id).await
}

/// Keeps a decision of the open task as a proposal for a second person, unless one is
/// waiting already; false otherwise.
pub async fn propose(
    conn: &mut AnyConnection,
    tenant_id: &str,
    task_id: &str,
    proposal: &str,
    by: &str,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE tasks SET proposal = $3, proposed_by = $4
         WHERE tenant_id = $1 AND task_id = $2 AND status = 'open' AND proposal IS NULL",
    )
    .bind(tenant_id)
    .bind(task_id)
    .bind(proposal)
    .bind(by)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Takes the task's waiting proposal back (approved or rejected); false if there was none.
pub async fn clear_proposal(conn: &mut AnyConnection, tenant_id: &str, task_id: &str, proposal: &str) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE tasks SET proposal = NULL, proposed_by = NULL
         WHERE tenant_id = $1 AND task_id = $2 AND status = 'open' AND proposal = $3",
    )
    .bind(tenant_id)
    .bind(task_id)
    .bind(proposal)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Makes the case's open tasks due for resubmission (Wiedervorlage) at `at`, so that the
/// worklist shows them (e.g. when a request to the applicant went unanswered); returns
/// how many.
pub async fn follow_up_now(conn: &mut AnyConnection, tenant_id: &str, case_id: &str, at: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("UPDATE tasks SET follow_up_at = $3 WHERE tenant_id = $1 AND case_id = $2 AND status = 'open'")
        .bind(tenant_id)
        .bind(case_id)
        .bind(ts(at))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// An open task with what the worklist shows of its case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorklistRow {
    #[sqlx(flatten)]
    pub task: Task,
    pub reference: String,
    pub applicant: String,
    pub channel: String,
    pub procedure_id: String,
    pub deployment_id: String,
    pub findings: String,
}

/// The tenant's open tasks with their cases, in one query, oldest first.
pub async fn open_with_cases(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<WorklistRow>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    Ok(sqlx::query_as(&format!(
        "SELECT {}, c.reference, c.applicant, c.channel, c.procedure_id, c.deployment_id, c.findings
         FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id
         WHERE t.tenant_id = $1 AND t.status = 'open' ORDER BY t.created_at, t.task_id LIMIT $2",
        columns.join(", ")
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Sets the assignee of an open task if it is still `expected` (compare and set: two
/// people taking the same task at once cannot both get it). Returns whether it changed.
pub async fn set_assignee(
    conn: &mut AnyConnection,
    tenant_id: &str,
    task_id: &str,
    expected: Option<&str>,
    assignee: Option<&str>,
) -> Result<bool> {
    let sql = match expected {
        Some(_) => "UPDATE tasks SET assignee = $4 WHERE tenant_id = $1 AND task_id = $2 AND status = 'open' AND assignee = $3",
        None => "UPDATE tasks SET assignee = $4 WHERE tenant_id = $1 AND task_id = $2 AND status = 'open' AND assignee IS NULL AND $3 IS NULL",
    };
    Ok(sqlx::query(sql)
        .bind(tenant_id)
        .bind(task_id)
        .bind(expected)
        .bind(assignee)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Sets or clears the resubmission date (Wiedervorlage) of an open task; returns whether
/// the task was open.
pub async fn set_follow_up(
    conn: &mut AnyConnection,
    tenant_id: &str,
    task_id: &str,
    at: Option<DateTime<Utc>>,
) -> Result<bool> {
    Ok(sqlx::query("UPDATE tasks SET follow_up_at = $3 WHERE tenant_id = $1 AND task_id = $2 AND status = 'open'")
        .bind(tenant_id)
        .bind(task_id)
        .bind(at.map(ts))
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// How many open tasks the tenant has of cases of the procedures `within` (all if empty),
/// and how many of them nobody has taken: (open, unassigned).
pub async fn open_counts(conn: &mut AnyConnection, tenant_id: &str, within: &[String]) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN t.assignee IS NULL THEN 1 ELSE 0 END), 0)
         FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id
         WHERE t.tenant_id = $1 AND t.status = 'open'
           AND ($2 = '' OR $2 LIKE '%,' || REPLACE(c.procedure_id, '_', '!_') || ',%' ESCAPE '!')",
    )
    .bind(tenant_id)
    .bind(crate::within_param(within))
    .fetch_one(&mut *conn)
    .await?)
}
