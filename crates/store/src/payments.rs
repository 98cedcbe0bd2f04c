//! Online payments of fees: each attempt through a payment provider, and its outcome.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payment {
    pub tenant_id: String,
    pub payment_id: String,
    pub fee_id: String,
    pub case_id: String,
    pub provider: String,
    pub amount_cents: i64,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    /// The provider's reference, once the provider registered the payment.
    pub provider_reference: Option<String>,
}

pub const STARTED: &str = "started";
pub const PAID: &str = "paid";
pub const CANCELLED: &str = "cancelled";

pub async fn insert(conn: &mut AnyConnection, p: &Payment) -> Result<()> {
    sqlx::query(
        "INSERT INTO payments (tenant_id, payment_id, fee_id, case_id, provider, amount_cents, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&p.tenant_id)
    .bind(&p.payment_id)
    .bind(&p.fee_id)
    .bind(&p.case_id)
    .bind(&p.provider)
    .bind(p.amount_cents)
    .bind(&p.status)
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, payment_id: &str) -> Result<Option<Payment>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, payment_id, fee_id, case_id, provider, amount_cents, status, created_at, updated_at, provider_reference
         FROM payments WHERE tenant_id = $1 AND payment_id = $2",
    )
    .bind(tenant_id)
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Sets the outcome of a started payment; returns false if it already had one (a repeated
/// answer of the provider changes nothing).
pub async fn finish(
    conn: &mut AnyConnection,
    tenant_id: &str,
    payment_id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE payments SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND payment_id = $2 AND status = 'started'",
    )
    .bind(tenant_id)
    .bind(payment_id)
    .bind(status)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// The case's payment attempts, oldest first.
pub async fn for_case(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Vec<Payment>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, payment_id, fee_id, case_id, provider, amount_cents, status, created_at, updated_at, provider_reference
         FROM payments WHERE tenant_id = $1 AND case_id = $2 ORDER BY created_at, payment_id",
    )
    .bind(tenant_id)
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Keeps the provider's reference of a payment.
pub async fn set_reference(
    conn: &mut AnyConnection,
    tenant_id: &str,
    payment_id: &str,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET provider_reference = $3, updated_at = $4 WHERE tenant_id = $1 AND payment_id = $2",
    )
    .bind(tenant_id)
    .bind(payment_id)
    .bind(reference)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
