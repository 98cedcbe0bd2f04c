//! Cases (Vorgänge): one application and everything that follows from it.

use crate::batch::Write;
use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Case {
    pub tenant_id: String,
    pub case_id: String,
    pub reference: String,
    pub procedure_id: String,
    pub deployment_id: String,
    pub status: String,
    pub channel: String,
    pub lang: String,
    pub applicant: String,
    pub data: String,
    pub findings: String,
    pub access_code_hash: String,
    pub submitted_at: String,
    pub updated_at: String,
    pub decided_at: Option<String>,
    /// When the case ended (Vorgang abgeschlossen): its process finished or was ended.
    pub closed_at: Option<String>,
}

impl Case {
    pub fn data_json(&self) -> Result<serde_json::Value> {
        crate::json_of(&self.data, "Antragsdaten")
    }

    pub fn findings_json(&self) -> Result<serde_json::Value> {
        crate::json_of(&self.findings, "Prüfergebnisse")
    }
}

const COLUMNS: &str = "tenant_id, case_id, reference, procedure_id, deployment_id, status, channel, lang, applicant, data, findings, access_code_hash, submitted_at, updated_at, decided_at, closed_at";

pub struct NewCase<'a> {
    pub tenant_id: &'a str,
    pub case_id: &'a str,
    pub reference: &'a str,
    pub procedure_id: &'a str,
    pub deployment_id: &'a str,
    pub status: &'a str,
    pub channel: &'a str,
    pub lang: &'a str,
    pub applicant: &'a str,
    pub data: &'a serde_json::Value,
    pub access_code_hash: &'a str,
    /// When the application was received (`submitted_at`): `now` online, the day a clerk
    /// gives for a letter entered later.
    pub received_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, c: NewCase<'_>) -> Result<()> {
    let now = ts(c.now);
    sqlx::query(&format!(
        "INSERT INTO cases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '[]', $11, $12, $13, NULL, NULL)"
    ))
    .bind(c.tenant_id)
    .bind(c.case_id)
    .bind(c.reference)
    .bind(c.procedure_id)
    .bind(c.deployment_id)
    .bind(c.status)
    .bind(c.channel)
    .bind(c.lang)
    .bind(c.applicant)
    .bind(c.data.to_string())
    .bind(c.access_code_hash)
    .bind(ts(c.received_at))
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Option<Case>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM cases WHERE tenant_id = $1 AND case_id = $2"))
        .bind(tenant_id)
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_reference(conn: &mut AnyConnection, tenant_id: &str, reference: &str) -> Result<Option<Case>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM cases WHERE tenant_id = $1 AND reference = $2"))
        .bind(tenant_id)
        .bind(reference)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Sets the status; a final status also sets the decision time and meets the case's open
/// deadlines.
pub async fn set_status(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    status: &str,
    is_final: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let at = ts(now);
    sqlx::query(
        "UPDATE cases SET status = $3, updated_at = $4, decided_at = CASE WHEN $5 = 1 THEN $4 ELSE decided_at END
         WHERE tenant_id = $1 AND case_id = $2",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(status)
    .bind(&at)
    .bind(if is_final { 1i64 } else { 0i64 })
    .execute(&mut *conn)
    .await?;
    if is_final {
        crate::deadlines::meet_all(conn, tenant_id, case_id, now).await?;
    }
    Ok(())
}

/// Marks the case as ended (Vorgang abgeschlossen), once: its process finished or was ended.
pub async fn close(conn: &mut AnyConnection, tenant_id: &str, case_id: &str, now: DateTime<Utc>) -> Result<()> {
    close_write(tenant_id, case_id, now).execute(conn).await?;
    Ok(())
}

/// [`close`] as a write of a process step's batch.
pub fn close_write(tenant_id: &str, case_id: &str, now: DateTime<Utc>) -> Write {
    Write::new(
        "UPDATE cases SET closed_at = $3, updated_at = $3 WHERE tenant_id = $1 AND case_id = $2 AND closed_at IS NULL",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(ts(now))
}

/// Replaces the submitted data (a clerk's correction) and the applicant's name derived from it.
pub async fn set_data(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    data: &serde_json::Value,
    applicant: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE cases SET data = $3, applicant = $4, updated_at = $5 WHERE tenant_id = $1 AND case_id = $2")
        .bind(tenant_id)
        .bind(case_id)
        .bind(data.to_string())
        .bind(applicant)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_findings(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    findings: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE cases SET findings = $3, updated_at = $4 WHERE tenant_id = $1 AND case_id = $2")
        .bind(tenant_id)
        .bind(case_id)
        .bind(findings.to_string())
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The newest cases of a tenant, optionally of one status.
pub async fn list(conn: &mut AnyConnection, tenant_id: &str, status: Option<&str>, limit: i64) -> Result<Vec<Case>> {
    let sql = match status {
        Some(_) => format!(
            "SELECT {COLUMNS} FROM cases WHERE tenant_id = $1 AND status = $2 ORDER BY submitted_at DESC LIMIT $3"
        ),
        None => {
            format!("SELECT {COLUMNS} FROM cases WHERE tenant_id = $1 AND $2 = $2 ORDER BY submitted_at DESC LIMIT $3")
        }
    };
    Ok(sqlx::query_as(&sql).bind(tenant_id).bind(status.unwrap_or("")).bind(limit).fetch_all(&mut *conn).await?)
}

/// The words of a search as typed: runs of letters and digits, lowercase, at most eight
/// (everything else, quotes and operators included, separates words and is dropped).
pub fn search_words(typed: &str) -> Vec<String> {
    typed.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).take(8).collect()
}

/// The tenant's cases whose Aktenzeichen, applicant or submitted data contain words
/// beginning with each of `words` (from [`search_words`]), newest first. Full-text indexed:
/// FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL (migration 0018).
pub async fn search(conn: &mut AnyConnection, tenant_id: &str, words: &[String], limit: i64) -> Result<Vec<Case>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
    let columns = columns.join(", ");
    let (sql, query) = match crate::Backend::of(conn) {
        crate::Backend::Sqlite => (
            format!(
                "SELECT {columns} FROM case_search s JOIN cases c ON c.tenant_id = s.tenant_id AND c.case_id = s.case_id
                 WHERE case_search MATCH $2 AND s.tenant_id = $1 ORDER BY c.submitted_at DESC LIMIT $3"
            ),
            words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" "),
        ),
        // Ordered by an expression, not the column: with the index on (tenant_id,
        // submitted_at) the planner would walk all the tenant's cases newest first looking
        // for the few that match (over a second for one Aktenzeichen among a million, see
        // `rathaus bench worklist`); this way the GIN index finds the matches, which are
        // then sorted, so a search costs what it finds.
        crate::Backend::Postgres => (
            format!(
                "SELECT {columns} FROM cases c WHERE c.tenant_id = $1 AND c.search @@ to_tsquery('simple', $2)
                 ORDER BY c.submitted_at || '' DESC LIMIT $3"
            ),
            words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "),
        ),
    };
    Ok(sqlx::query_as(&sql).bind(tenant_id).bind(query).bind(limit).fetch_all(&mut *conn).await?)
}

/// Submission and decision times of the tenant's latest decided cases of a procedure that a
/// clerk worked on (decided more than a minute after submission), newest first.
pub async fn decision_times(
    conn: &mut AnyConnection,
    tenant_id: &str,
    procedure_id: &str,
    limit: i64,
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT submitted_at, decided_at FROM cases
         WHERE tenant_id = $1 AND procedure_id = $2 AND decided_at IS NOT NULL
         ORDER BY decided_at DESC LIMIT $3",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().filter_map(|(s, d)| d.map(|d| (s, d))).collect())
}

/// What the statistics read of a case (see `rathaus_domain::statistics`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatisticsRow {
    pub procedure_id: String,
    pub status: String,
    pub submitted_at: String,
    pub decided_at: Option<String>,
    /// How many clerk tasks the case had.
    pub tasks: i64,
}

/// The tenant's cases submitted since `since`, for the statistics.
pub async fn statistics_rows(
    conn: &mut AnyConnection,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<StatisticsRow>> {
    Ok(sqlx::query_as(
        "SELECT c.procedure_id, c.status, c.submitted_at, c.decided_at,
                (SELECT COUNT(*) FROM tasks t WHERE t.tenant_id = c.tenant_id AND t.case_id = c.case_id) AS tasks
         FROM cases c WHERE c.tenant_id = $1 AND c.submitted_at >= $2",
    )
    .bind(tenant_id)
    .bind(ts(since))
    .fetch_all(&mut *conn)
    .await?)
}

/// The tenant's open tasks past their due date at `now`, per procedure.
pub async fn overdue_tasks_by_procedure(
    conn: &mut AnyConnection,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT c.procedure_id, COUNT(*) FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id
         WHERE t.tenant_id = $1 AND t.status = 'open' AND t.due_at IS NOT NULL AND t.due_at < $2
         GROUP BY c.procedure_id",
    )
    .bind(tenant_id)
    .bind(ts(now))
    .fetch_all(&mut *conn)
    .await?)
}
