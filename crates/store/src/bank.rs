//! Transactions of imported bank statements (Zahlungsabgleich), each recorded once per
//! account and bank reference.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// Booked by the machine: paid a fee.
pub const MATCHED: &str = "matched";
/// Waiting for a clerk.
pub const UNMATCHED: &str = "unmatched";
/// A clerk assigned it to a fee.
pub const ASSIGNED: &str = "assigned";
/// A clerk closed it without a fee (refunded, not the town's, …), with a note.
pub const CLOSED: &str = "closed";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BankTransaction {
    pub transaction_id: String,
    pub account: String,
    pub bank_reference: String,
    pub statement_id: String,
    pub booked_on: String,
    pub amount_cents: i64,
    pub reversal: i64,
    pub payer: String,
    pub payer_iban: String,
    pub remittance: String,
    pub kassenzeichen: Option<String>,
    pub fee_id: Option<String>,
    pub status: String,
    pub problem: Option<String>,
    pub imported_at: String,
    pub imported_by: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub note: Option<String>,
}

const COLUMNS: &str = "transaction_id, account, bank_reference, statement_id, booked_on, amount_cents, reversal, payer,
    payer_iban, remittance, kassenzeichen, fee_id, status, problem, imported_at, imported_by, resolved_at, resolved_by, note";

/// A transaction to record.
pub struct NewTransaction<'a> {
    pub tenant_id: &'a str,
    pub transaction_id: &'a str,
    pub account: &'a str,
    pub bank_reference: &'a str,
    pub statement_id: &'a str,
    pub booked_on: &'a str,
    pub amount_cents: i64,
    pub reversal: bool,
    pub payer: &'a str,
    pub payer_iban: &'a str,
    pub remittance: &'a str,
    pub kassenzeichen: Option<&'a str>,
    pub fee_id: Option<&'a str>,
    pub status: &'a str,
    pub problem: Option<&'a str>,
    pub imported_by: &'a str,
    pub now: DateTime<Utc>,
}

/// Records a transaction; false if this account's transaction with this bank reference is
/// recorded already (the statement came before), and nothing is changed then.
pub async fn insert(conn: &mut AnyConnection, t: &NewTransaction<'_>) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO bank_transactions (tenant_id, transaction_id, account, bank_reference, statement_id, booked_on,
             amount_cents, reversal, payer, payer_iban, remittance, kassenzeichen, fee_id, status, problem, imported_at, imported_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (tenant_id, account, bank_reference) DO NOTHING",
    )
    .bind(t.tenant_id)
    .bind(t.transaction_id)
    .bind(t.account)
    .bind(t.bank_reference)
    .bind(t.statement_id)
    .bind(t.booked_on)
    .bind(t.amount_cents)
    .bind(i64::from(t.reversal))
    .bind(t.payer)
    .bind(t.payer_iban)
    .bind(t.remittance)
    .bind(t.kassenzeichen)
    .bind(t.fee_id)
    .bind(t.status)
    .bind(t.problem)
    .bind(ts(t.now))
    .bind(t.imported_by)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, transaction_id: &str) -> Result<Option<BankTransaction>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM bank_transactions WHERE tenant_id = $1 AND transaction_id = $2"))
        .bind(tenant_id)
        .bind(transaction_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The transactions with `status`, the oldest booking first (what waits longest on top);
/// at most `limit`.
pub async fn with_status(
    conn: &mut AnyConnection,
    tenant_id: &str,
    status: &str,
    limit: i64,
) -> Result<Vec<BankTransaction>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM bank_transactions WHERE tenant_id = $1 AND status = $2
         ORDER BY booked_on, imported_at, transaction_id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(status)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The transactions a clerk resolved, the latest first; at most `limit`.
pub async fn resolved(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<BankTransaction>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM bank_transactions WHERE tenant_id = $1 AND resolved_at IS NOT NULL
         ORDER BY resolved_at DESC, transaction_id LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Resolves a transaction that waits for a clerk: `ASSIGNED` to a fee or `CLOSED`. False if
/// it does not wait any more (someone else was quicker), and nothing is changed then.
#[allow(clippy::too_many_arguments)]
pub async fn resolve(
    conn: &mut AnyConnection,
    tenant_id: &str,
    transaction_id: &str,
    status: &str,
    fee: Option<(&str, &str)>,
    note: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (fee_id, kassenzeichen) = fee.unzip();
    let changed = sqlx::query(
        "UPDATE bank_transactions SET status = $3, fee_id = COALESCE($4, fee_id), kassenzeichen = COALESCE($5, kassenzeichen),
             note = $6, resolved_by = $7, resolved_at = $8
         WHERE tenant_id = $1 AND transaction_id = $2 AND status = 'unmatched'",
    )
    .bind(tenant_id)
    .bind(transaction_id)
    .bind(status)
    .bind(fee_id)
    .bind(kassenzeichen)
    .bind(note)
    .bind(by)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// How many transactions wait for a clerk.
pub async fn unmatched_count(conn: &mut AnyConnection, tenant_id: &str) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM bank_transactions WHERE tenant_id = $1 AND status = 'unmatched'")
            .bind(tenant_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n)
}
