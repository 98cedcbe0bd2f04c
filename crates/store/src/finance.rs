//! Sollstellung runs: the receivables (fees) handed to the municipal finance system, each in
//! exactly one numbered run.

use crate::{next_counter, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub run_id: String,
    pub number: i64,
    pub created_at: String,
    pub created_by: String,
    pub fee_count: i64,
    pub total_cents: i64,
}

/// A receivable of a run with what the finance system needs of its case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub fee_id: String,
    pub kassenzeichen: String,
    pub amount_cents: i64,
    pub legal_basis: String,
    pub due_date: String,
    pub created_at: String,
    pub case_id: String,
    pub reference: String,
    pub procedure_id: String,
    pub deployment_id: String,
    pub applicant: String,
    pub data: String,
}

const RUN_COLUMNS: &str = "run_id, number, created_at, created_by, fee_count, total_cents";

/// Puts every fee of the tenant not yet handed over (and not free of charge) into a new run
/// `run_id`; `None` if there is none. Concurrent runs cannot take the same fee: each fee is
/// claimed by one `UPDATE … WHERE run_id IS NULL`.
pub async fn create_run(
    conn: &mut AnyConnection,
    tenant_id: &str,
    run_id: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<Option<Run>> {
    let claimed =
        sqlx::query("UPDATE fees SET run_id = $2 WHERE tenant_id = $1 AND run_id IS NULL AND amount_cents > 0")
            .bind(tenant_id)
            .bind(run_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    // PostgreSQL sums BIGINT as NUMERIC: cast back.
    let (count, total): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM fees WHERE tenant_id = $1 AND run_id = $2",
    )
    .bind(tenant_id)
    .bind(run_id)
    .fetch_one(&mut *conn)
    .await?;
    let number = next_counter(conn, tenant_id, "finance-run").await?;
    sqlx::query(
        "INSERT INTO finance_runs (tenant_id, run_id, number, created_at, created_by, fee_count, total_cents)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(run_id)
    .bind(number)
    .bind(ts(now))
    .bind(created_by)
    .bind(count)
    .bind(total)
    .execute(&mut *conn)
    .await?;
    run(conn, tenant_id, run_id).await
}

pub async fn run(conn: &mut AnyConnection, tenant_id: &str, run_id: &str) -> Result<Option<Run>> {
    Ok(sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM finance_runs WHERE tenant_id = $1 AND run_id = $2"))
        .bind(tenant_id)
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The tenant's runs, newest first (the run log).
pub async fn runs(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<Run>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM finance_runs WHERE tenant_id = $1 ORDER BY number DESC LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The receivables of a run, by Kassenzeichen.
pub async fn items(conn: &mut AnyConnection, tenant_id: &str, run_id: &str) -> Result<Vec<Item>> {
    Ok(sqlx::query_as(
        "SELECT f.fee_id, f.kassenzeichen, f.amount_cents, f.legal_basis, f.due_date, f.created_at, f.case_id,
                c.reference, c.procedure_id, c.deployment_id, c.applicant, c.data
         FROM fees f JOIN cases c ON c.tenant_id = f.tenant_id AND c.case_id = f.case_id
         WHERE f.tenant_id = $1 AND f.run_id = $2 ORDER BY f.kassenzeichen",
    )
    .bind(tenant_id)
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?)
}
