//! Fees (Gebühren) with their Kassenzeichen: the receivable a case creates.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Fee {
    pub fee_id: String,
    pub case_id: String,
    pub kassenzeichen: String,
    pub amount_cents: i64,
    pub legal_basis: String,
    pub due_date: String,
    pub status: String,
    pub created_at: String,
}

const COLUMNS: &str = "fee_id, case_id, kassenzeichen, amount_cents, legal_basis, due_date, status, created_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    fee_id: &str,
    case_id: &str,
    kassenzeichen: &str,
    amount_cents: i64,
    legal_basis: &str,
    due_date: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO fees (tenant_id, fee_id, case_id, kassenzeichen, amount_cents, legal_basis, due_date, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) ON CONFLICT (tenant_id, fee_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(fee_id)
    .bind(case_id)
    .bind(kassenzeichen)
    .bind(amount_cents)
    .bind(legal_basis)
    .bind(due_date)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Fee>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM fees WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at"))
        .bind(tenant_id)
        .bind(case_id)
        .fetch_all(&mut *conn)
        .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, fee_id: &str) -> Result<Option<Fee>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM fees WHERE tenant_id = $1 AND fee_id = $2"))
        .bind(tenant_id)
        .bind(fee_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Marks a fee paid; returns false if it already was.
pub async fn mark_paid(conn: &mut AnyConnection, tenant_id: &str, fee_id: &str) -> Result<bool> {
    let changed =
        sqlx::query("UPDATE fees SET status = 'paid' WHERE tenant_id = $1 AND fee_id = $2 AND status <> 'paid'")
            .bind(tenant_id)
            .bind(fee_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    Ok(changed == 1)
}

/// The tenant's fees with these Kassenzeichen (those it issued; unknown numbers are left out).
pub async fn by_kassenzeichen(conn: &mut AnyConnection, tenant_id: &str, numbers: &[String]) -> Result<Vec<Fee>> {
    let mut out = Vec::new();
    for k in numbers {
        let fee: Option<Fee> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM fees WHERE tenant_id = $1 AND kassenzeichen = $2"))
                .bind(tenant_id)
                .bind(k)
                .fetch_optional(&mut *conn)
                .await?;
        out.extend(fee);
    }
    Ok(out)
}
