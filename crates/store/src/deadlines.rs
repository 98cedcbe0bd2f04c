//! Deadlines of cases (Fristen): one row per deadline its procedure names, written with the
//! case; see `rathaus_domain::deadline` for how they are counted.

use crate::batch::Write;
use crate::{ts, Result};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deadline {
    pub tenant_id: String,
    pub deadline_id: String,
    pub case_id: String,
    pub deadline_key: String,
    /// `gesetzlich` or `ziel`.
    pub kind: String,
    /// The procedure's label as JSON text (`{"de": …, "en": …}`), kept with the case so a
    /// later version of the procedure does not rename it.
    pub label: String,
    pub legal_basis: Option<String>,
    pub warn_on: String,
    pub due_on: String,
    pub created_at: String,
    pub reminders: i64,
    pub escalated_at: Option<String>,
    pub expired_at: Option<String>,
    pub met_at: Option<String>,
}

impl Deadline {
    pub fn due_day(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.due_on, "%Y-%m-%d").ok()
    }

    pub fn warn_day(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.warn_on, "%Y-%m-%d").ok()
    }
}

const COLUMNS: &str = "tenant_id, deadline_id, case_id, deadline_key, kind, label, legal_basis, warn_on, due_on, created_at, reminders, escalated_at, expired_at, met_at";

pub struct NewDeadline<'a> {
    pub tenant_id: &'a str,
    pub deadline_id: &'a str,
    pub case_id: &'a str,
    pub key: &'a str,
    pub kind: &'a str,
    pub label: &'a str,
    pub legal_basis: Option<&'a str>,
    pub warn_on: NaiveDate,
    pub due_on: NaiveDate,
    pub now: DateTime<Utc>,
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The insert of a case's deadline, to be sent in a [`crate::batch::Batch`].
pub fn insert_write(d: &NewDeadline<'_>) -> Write {
    Write::new(
        "INSERT INTO case_deadlines (tenant_id, deadline_id, case_id, deadline_key, kind, label, legal_basis, warn_on, due_on, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(d.tenant_id)
    .bind(d.deadline_id)
    .bind(d.case_id)
    .bind(d.key)
    .bind(d.kind)
    .bind(d.label)
    .bind(d.legal_basis.map(String::from))
    .bind(day(d.warn_on))
    .bind(day(d.due_on))
    .bind(ts(d.now))
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, deadline_id: &str) -> Result<Option<Deadline>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM case_deadlines WHERE tenant_id = $1 AND deadline_id = $2"))
        .bind(tenant_id)
        .bind(deadline_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// A case's deadlines, the nearest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Deadline>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM case_deadlines WHERE tenant_id = $1 AND case_id = $2 ORDER BY due_on, deadline_key"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The open deadlines of the listed cases (a worklist page), the nearest first.
pub async fn open_for_cases(conn: &mut AnyConnection, tenant_id: &str, case_ids: &[&str]) -> Result<Vec<Deadline>> {
    if case_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    // Bounded parameter lists: SQLite allows 32766, PostgreSQL 65535; a page is far below.
    for chunk in case_ids.chunks(500) {
        let params: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM case_deadlines WHERE tenant_id = $1 AND met_at IS NULL AND case_id IN ({}) ORDER BY due_on",
            params.join(", ")
        );
        let mut q = sqlx::query_as::<_, Deadline>(&sql).bind(tenant_id);
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    out.sort_by(|a, b| a.due_on.cmp(&b.due_on));
    Ok(out)
}

/// An open deadline with what the dashboard shows of its case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DashboardRow {
    #[sqlx(flatten)]
    pub deadline: Deadline,
    pub reference: String,
    pub applicant: String,
    pub procedure_id: String,
    pub status: String,
}

/// Which open deadlines the dashboard lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// `gesetzlich` or `ziel`.
    pub kind: Option<&'a str>,
    /// `rot` (last day before `today`), `gelb` (warning from `today` on) or `gruen`.
    pub light: Option<&'a str>,
    pub procedure: Option<&'a str>,
    /// Only cases with an open task assigned to this username.
    pub assignee: Option<&'a str>,
    /// Only cases of these procedures (a service centre's delegation); empty: all.
    pub within: &'a [String],
}

use crate::within_param;

/// The tenant's open deadlines as of `today` (German calendar), the nearest first.
pub async fn open(
    conn: &mut AnyConnection,
    tenant_id: &str,
    today: NaiveDate,
    filter: Filter<'_>,
    limit: i64,
) -> Result<Vec<DashboardRow>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("d.{c}")).collect();
    let light = match filter.light {
        Some("rot") => " AND d.due_on < $2",
        Some("gelb") => " AND d.due_on >= $2 AND d.warn_on <= $2",
        Some("gruen") => " AND d.warn_on > $2",
        _ => " AND $2 = $2",
    };
    Ok(sqlx::query_as(&format!(
        "SELECT {}, c.reference, c.applicant, c.procedure_id, c.status
         FROM case_deadlines d JOIN cases c ON c.tenant_id = d.tenant_id AND c.case_id = d.case_id
         WHERE d.tenant_id = $1 AND d.met_at IS NULL{light}
           AND ($3 = '' OR d.kind = $3) AND ($4 = '' OR c.procedure_id = $4)
           AND ($6 = '' OR EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = d.tenant_id AND t.case_id = d.case_id
                                   AND t.status = 'open' AND t.assignee = $6))
           AND ($7 = '' OR $7 LIKE '%,' || REPLACE(c.procedure_id, '_', '!_') || ',%' ESCAPE '!')
         ORDER BY d.due_on, c.reference LIMIT $5",
        columns.join(", ")
    ))
    .bind(tenant_id)
    .bind(day(today))
    .bind(filter.kind.unwrap_or(""))
    .bind(filter.procedure.unwrap_or(""))
    .bind(limit)
    .bind(filter.assignee.unwrap_or(""))
    .bind(within_param(filter.within))
    .fetch_all(&mut *conn)
    .await?)
}

/// How many open deadlines stand at red, amber and green as of `today`, of cases of the
/// procedures `within` (all if empty).
pub async fn counts(
    conn: &mut AnyConnection,
    tenant_id: &str,
    today: NaiveDate,
    within: &[String],
) -> Result<(i64, i64, i64)> {
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN d.due_on < $2 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN d.due_on >= $2 AND d.warn_on <= $2 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN d.warn_on > $2 THEN 1 ELSE 0 END), 0)
         FROM case_deadlines d WHERE d.tenant_id = $1 AND d.met_at IS NULL
           AND ($3 = '' OR EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = d.tenant_id AND c.case_id = d.case_id
                                   AND $3 LIKE '%,' || REPLACE(c.procedure_id, '_', '!_') || ',%' ESCAPE '!'))",
    )
    .bind(tenant_id)
    .bind(day(today))
    .bind(within_param(within))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row)
}

/// Records the `n`-th reminder (1-based count) of an open deadline; false if the deadline
/// is met or the reminder was recorded already (a retried job).
pub async fn mark_reminded(conn: &mut AnyConnection, tenant_id: &str, deadline_id: &str, count: i64) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE case_deadlines SET reminders = $3 WHERE tenant_id = $1 AND deadline_id = $2 AND met_at IS NULL AND reminders < $3",
    )
    .bind(tenant_id)
    .bind(deadline_id)
    .bind(count)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records that the team lead was told; false if met or told already.
pub async fn mark_escalated(
    conn: &mut AnyConnection,
    tenant_id: &str,
    deadline_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE case_deadlines SET escalated_at = $3
         WHERE tenant_id = $1 AND deadline_id = $2 AND met_at IS NULL AND escalated_at IS NULL",
    )
    .bind(tenant_id)
    .bind(deadline_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records that the deadline passed unmet; false if met or recorded already.
pub async fn mark_expired(
    conn: &mut AnyConnection,
    tenant_id: &str,
    deadline_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE case_deadlines SET expired_at = $3
         WHERE tenant_id = $1 AND deadline_id = $2 AND met_at IS NULL AND expired_at IS NULL",
    )
    .bind(tenant_id)
    .bind(deadline_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// The case is finished: its open deadlines are met (in time or not, `expired_at` tells).
pub async fn meet_all(conn: &mut AnyConnection, tenant_id: &str, case_id: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("UPDATE case_deadlines SET met_at = $3 WHERE tenant_id = $1 AND case_id = $2 AND met_at IS NULL")
        .bind(tenant_id)
        .bind(case_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
