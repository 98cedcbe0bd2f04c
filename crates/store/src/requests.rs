//! Requests to the applicant for missing documents or information (Nachforderung): the
//! message that asks, the deadline, and what became of it (reminded, overdue, answered,
//! withdrawn).

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub request_id: String,
    pub case_id: String,
    pub message_id: String,
    /// What the applicant is asked for.
    pub body: String,
    /// `YYYY-MM-DD`, the last day (German calendar).
    pub due_date: String,
    /// The staff member's display name.
    pub requested_by: String,
    pub created_at: String,
    pub reminded_at: Option<String>,
    pub overdue_at: Option<String>,
    pub answered_at: Option<String>,
    pub answer_message_id: Option<String>,
    pub withdrawn_at: Option<String>,
}

/// Where something asked with a deadline stands (a request to the applicant, a
/// consultation of another body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    /// Open, and its deadline has passed.
    Overdue,
    Answered,
    Withdrawn,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Overdue => "overdue",
            State::Answered => "answered",
            State::Withdrawn => "withdrawn",
        }
    }
}

impl State {
    /// From the moments recorded: a withdrawal ends it, else an answer, else the deadline.
    pub fn of(withdrawn_at: &Option<String>, answered_at: &Option<String>, overdue_at: &Option<String>) -> State {
        if withdrawn_at.is_some() {
            State::Withdrawn
        } else if answered_at.is_some() {
            State::Answered
        } else if overdue_at.is_some() {
            State::Overdue
        } else {
            State::Open
        }
    }

    /// Still waiting for an answer (open or overdue).
    pub fn waiting(self) -> bool {
        matches!(self, State::Open | State::Overdue)
    }
}

impl Request {
    pub fn state(&self) -> State {
        State::of(&self.withdrawn_at, &self.answered_at, &self.overdue_at)
    }

    /// Waiting for the applicant (open or overdue).
    pub fn waiting(&self) -> bool {
        self.state().waiting()
    }
}

const COLUMNS: &str = "request_id, case_id, message_id, body, due_date, requested_by, created_at, reminded_at, overdue_at, answered_at, answer_message_id, withdrawn_at";
/// Neither answered nor withdrawn.
const WAITING: &str = "answered_at IS NULL AND withdrawn_at IS NULL";

pub struct NewRequest<'a> {
    pub tenant_id: &'a str,
    pub request_id: &'a str,
    pub case_id: &'a str,
    pub message_id: &'a str,
    pub body: &'a str,
    pub due_date: &'a str,
    pub requested_by: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, r: &NewRequest<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO document_requests (tenant_id, request_id, case_id, message_id, body, due_date, requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.tenant_id)
    .bind(r.request_id)
    .bind(r.case_id)
    .bind(r.message_id)
    .bind(r.body)
    .bind(r.due_date)
    .bind(r.requested_by)
    .bind(ts(r.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The case's requests, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Request>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM document_requests WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, request_id"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The tenant's requests waiting for the applicant, the nearest deadline first, with the
/// case's reference (the deadlines dashboard).
pub async fn waiting(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<(Request, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        request: Request,
        reference: String,
    }
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("r.{c}")).collect();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {}, c.reference FROM document_requests r JOIN cases c ON c.tenant_id = r.tenant_id AND c.case_id = r.case_id
         WHERE r.tenant_id = $1 AND r.answered_at IS NULL AND r.withdrawn_at IS NULL
         ORDER BY r.due_date, r.request_id LIMIT $2",
        columns.join(", ")
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.request, r.reference)).collect())
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, request_id: &str) -> Result<Option<Request>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM document_requests WHERE tenant_id = $1 AND request_id = $2"))
        .bind(tenant_id)
        .bind(request_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The applicant's message `message_id` answers the case's waiting requests; returns how
/// many.
pub async fn answer_waiting(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(&format!(
        "UPDATE document_requests SET answered_at = $3, answer_message_id = $4
         WHERE tenant_id = $1 AND case_id = $2 AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(ts(now))
    .bind(message_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Records the reminder, if the request is still waiting and was not reminded yet.
pub async fn mark_reminded(
    conn: &mut AnyConnection,
    tenant_id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE document_requests SET reminded_at = $3
         WHERE tenant_id = $1 AND request_id = $2 AND reminded_at IS NULL AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(request_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records that the deadline passed without an answer, once.
pub async fn mark_overdue(
    conn: &mut AnyConnection,
    tenant_id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE document_requests SET overdue_at = $3
         WHERE tenant_id = $1 AND request_id = $2 AND overdue_at IS NULL AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(request_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Withdraws a waiting request of the case; false if there is none such.
pub async fn withdraw(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE document_requests SET withdrawn_at = $4
         WHERE tenant_id = $1 AND case_id = $2 AND request_id = $3 AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(request_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
