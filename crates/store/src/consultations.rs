//! Consultations (Anhörung, Beteiligung) of other bodies about a case: who is asked what,
//! which parts of the case they see, by when, and their answer.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Consultation {
    pub consultation_id: String,
    pub case_id: String,
    /// The body asked (e.g. "Polizeiinspektion Nord").
    pub participant: String,
    pub email: String,
    pub question: String,
    /// JSON list of the form's page ids the participant sees.
    pub shared_pages: String,
    /// 1 if the participant sees the applicant's attachments.
    pub share_documents: i64,
    /// `YYYY-MM-DD`, the last day (German calendar).
    pub due_date: String,
    /// The staff member's display name.
    pub requested_by: String,
    pub created_at: String,
    pub invited_at: Option<String>,
    pub reminded_at: Option<String>,
    pub overdue_at: Option<String>,
    pub answered_at: Option<String>,
    pub verdict: Option<String>,
    pub statement: Option<String>,
    pub conditions: Option<String>,
    pub answered_by: Option<String>,
    pub withdrawn_at: Option<String>,
}

pub use crate::requests::State;

impl Consultation {
    pub fn state(&self) -> State {
        State::of(&self.withdrawn_at, &self.answered_at, &self.overdue_at)
    }

    /// Waiting for the participant (open or overdue).
    pub fn waiting(&self) -> bool {
        self.state().waiting()
    }

    /// The page ids shared with the participant.
    pub fn pages(&self) -> Vec<String> {
        serde_json::from_str(&self.shared_pages).unwrap_or_default()
    }
}

const COLUMNS: &str = "consultation_id, case_id, participant, email, question, shared_pages, share_documents, due_date, requested_by, created_at, invited_at, reminded_at, overdue_at, answered_at, verdict, statement, conditions, answered_by, withdrawn_at";
/// Neither answered nor withdrawn.
const WAITING: &str = "answered_at IS NULL AND withdrawn_at IS NULL";

pub struct NewConsultation<'a> {
    pub tenant_id: &'a str,
    pub consultation_id: &'a str,
    pub case_id: &'a str,
    pub participant: &'a str,
    pub email: &'a str,
    pub question: &'a str,
    pub shared_pages: &'a [String],
    pub share_documents: bool,
    pub due_date: &'a str,
    pub token_hash: &'a str,
    pub requested_by: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, c: &NewConsultation<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO consultations (tenant_id, consultation_id, case_id, participant, email, question, shared_pages,
            share_documents, due_date, token_hash, requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(c.tenant_id)
    .bind(c.consultation_id)
    .bind(c.case_id)
    .bind(c.participant)
    .bind(c.email)
    .bind(c.question)
    .bind(serde_json::to_string(c.shared_pages).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(c.share_documents))
    .bind(c.due_date)
    .bind(c.token_hash)
    .bind(c.requested_by)
    .bind(ts(c.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The case's consultations, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Consultation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consultations WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, consultation_id"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, consultation_id: &str) -> Result<Option<Consultation>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM consultations WHERE tenant_id = $1 AND consultation_id = $2"))
        .bind(tenant_id)
        .bind(consultation_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The consultation a participant's link opens.
pub async fn by_token_hash(
    conn: &mut AnyConnection,
    tenant_id: &str,
    token_hash: &str,
) -> Result<Option<Consultation>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM consultations WHERE tenant_id = $1 AND token_hash = $2"))
        .bind(tenant_id)
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The tenant's consultations whose deadline passed without an answer, oldest deadline
/// first, with the case's reference.
pub async fn overdue(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<(Consultation, String)>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("k.{c}")).collect();
    let rows: Vec<OverdueRow> = sqlx::query_as(&format!(
        "SELECT {}, c.reference FROM consultations k JOIN cases c ON c.tenant_id = k.tenant_id AND c.case_id = k.case_id
         WHERE k.tenant_id = $1 AND k.overdue_at IS NOT NULL AND k.answered_at IS NULL AND k.withdrawn_at IS NULL
         ORDER BY k.due_date, k.consultation_id LIMIT $2",
        columns.join(", ")
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.consultation, r.reference)).collect())
}

/// The tenant's consultations waiting for an answer, the nearest deadline first, with the
/// case's reference (the deadlines dashboard).
pub async fn waiting(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<(Consultation, String)>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("k.{c}")).collect();
    let rows: Vec<OverdueRow> = sqlx::query_as(&format!(
        "SELECT {}, c.reference FROM consultations k JOIN cases c ON c.tenant_id = k.tenant_id AND c.case_id = k.case_id
         WHERE k.tenant_id = $1 AND k.answered_at IS NULL AND k.withdrawn_at IS NULL
         ORDER BY k.due_date, k.consultation_id LIMIT $2",
        columns.join(", ")
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.consultation, r.reference)).collect())
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    #[sqlx(flatten)]
    consultation: Consultation,
    reference: String,
}

/// A participant's answer as stored.
pub struct Statement<'a> {
    /// The verdict's code.
    pub verdict: &'a str,
    pub statement: &'a str,
    pub conditions: &'a str,
    pub answered_by: &'a str,
}

/// Records the participant's answer, if the consultation is still waiting; false otherwise
/// (answered meanwhile, or withdrawn).
pub async fn answer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    consultation_id: &str,
    answer: &Statement<'_>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE consultations SET answered_at = $3, verdict = $4, statement = $5, conditions = $6, answered_by = $7
         WHERE tenant_id = $1 AND consultation_id = $2 AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(consultation_id)
    .bind(ts(now))
    .bind(answer.verdict)
    .bind(answer.statement)
    .bind(answer.conditions)
    .bind(answer.answered_by)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Which moment of a consultation is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Invited,
    Reminded,
    Overdue,
}

impl Mark {
    fn column(self) -> &'static str {
        match self {
            Mark::Invited => "invited_at",
            Mark::Reminded => "reminded_at",
            Mark::Overdue => "overdue_at",
        }
    }
}

/// Records `mark`, once, while the consultation is waiting; false if it was recorded
/// before or the consultation no longer waits.
pub async fn mark(
    conn: &mut AnyConnection,
    tenant_id: &str,
    consultation_id: &str,
    mark: Mark,
    now: DateTime<Utc>,
) -> Result<bool> {
    let column = mark.column();
    Ok(sqlx::query(&format!(
        "UPDATE consultations SET {column} = $3
         WHERE tenant_id = $1 AND consultation_id = $2 AND {column} IS NULL AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(consultation_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Withdraws a waiting consultation of the case; false if there is none such.
pub async fn withdraw(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    consultation_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE consultations SET withdrawn_at = $4
         WHERE tenant_id = $1 AND case_id = $2 AND consultation_id = $3 AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(consultation_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Withdraws every waiting consultation of the case (the case ended); returns how many.
pub async fn withdraw_all(conn: &mut AnyConnection, tenant_id: &str, case_id: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query(&format!(
        "UPDATE consultations SET withdrawn_at = $3 WHERE tenant_id = $1 AND case_id = $2 AND {WAITING}"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
