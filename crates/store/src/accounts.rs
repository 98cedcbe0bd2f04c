//! Citizen accounts (Bürgerkonto) of a tenant: e-mail address and password (Argon2id hash),
//! verified by a link sent to the address; a profile that fills in the applicant's part of
//! forms; one-time tokens for verification and password reset, stored only as keyed hashes.

use crate::{parse_ts, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub tenant_id: String,
    pub account_id: String,
    /// Lower case; the login name.
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    /// JSON object: what the account holder keeps for prefilling forms.
    pub profile: String,
    pub verified_at: Option<String>,
    pub created_at: String,
}

impl Account {
    pub fn verified(&self) -> bool {
        self.verified_at.is_some()
    }

    pub fn profile(&self) -> Result<serde_json::Value> {
        crate::json_of(&self.profile, "Kontoprofil")
    }
}

const COLUMNS: &str = "tenant_id, account_id, email, password_hash, display_name, profile, verified_at, created_at";

pub struct NewAccount<'a> {
    pub tenant_id: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub now: DateTime<Utc>,
}

/// Creates an unverified account; false if the tenant already has one with this address.
pub async fn create(conn: &mut AnyConnection, a: &NewAccount<'_>) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO citizen_accounts (tenant_id, account_id, email, password_hash, display_name, profile, verified_at, created_at)
         VALUES ($1, $2, $3, $4, $5, '{}', NULL, $6) ON CONFLICT (tenant_id, email) DO NOTHING",
    )
    .bind(a.tenant_id)
    .bind(a.account_id)
    .bind(a.email)
    .bind(a.password_hash)
    .bind(a.display_name)
    .bind(ts(a.now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn by_email(conn: &mut AnyConnection, tenant_id: &str, email: &str) -> Result<Option<Account>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM citizen_accounts WHERE tenant_id = $1 AND email = $2"))
        .bind(tenant_id)
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, account_id: &str) -> Result<Option<Account>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM citizen_accounts WHERE tenant_id = $1 AND account_id = $2"))
        .bind(tenant_id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn mark_verified(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE citizen_accounts SET verified_at = $3 WHERE tenant_id = $1 AND account_id = $2 AND verified_at IS NULL",
    )
    .bind(tenant_id)
    .bind(account_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_password(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    password_hash: &str,
) -> Result<()> {
    sqlx::query("UPDATE citizen_accounts SET password_hash = $3 WHERE tenant_id = $1 AND account_id = $2")
        .bind(tenant_id)
        .bind(account_id)
        .bind(password_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_profile(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    display_name: &str,
    profile: &serde_json::Value,
) -> Result<()> {
    sqlx::query("UPDATE citizen_accounts SET display_name = $3, profile = $4 WHERE tenant_id = $1 AND account_id = $2")
        .bind(tenant_id)
        .bind(account_id)
        .bind(display_name)
        .bind(profile.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    fn code(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }
}

pub async fn add_token(
    conn: &mut AnyConnection,
    tenant_id: &str,
    token_hash: &str,
    account_id: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_tokens (tenant_id, token_hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(token_hash)
    .bind(account_id)
    .bind(purpose.code())
    .bind(ts(now))
    .bind(ts(expires))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses a token: returns its account if the token exists for this purpose and has not
/// expired, and deletes it (and the account's other tokens of the purpose) so that it works
/// once. Call it in a transaction with what the token allows.
pub async fn take_token(
    conn: &mut AnyConnection,
    tenant_id: &str,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT account_id, expires_at FROM account_tokens WHERE tenant_id = $1 AND token_hash = $2 AND purpose = $3",
    )
    .bind(tenant_id)
    .bind(token_hash)
    .bind(purpose.code())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((account_id, expires)) = row else { return Ok(None) };
    sqlx::query("DELETE FROM account_tokens WHERE tenant_id = $1 AND account_id = $2 AND purpose = $3")
        .bind(tenant_id)
        .bind(&account_id)
        .bind(purpose.code())
        .execute(&mut *conn)
        .await?;
    Ok((parse_ts(&expires)? > now).then_some(account_id))
}

/// Deletes accounts whose address was never confirmed and that were created before
/// `created_before` (data minimisation: nobody can use them); returns how many.
pub async fn purge_unverified(conn: &mut AnyConnection, created_before: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM citizen_accounts WHERE verified_at IS NULL AND created_at < $1")
        .bind(ts(created_before))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Deletes expired tokens of all tenants; returns how many.
pub async fn purge_tokens(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM account_tokens WHERE expires_at <= $1")
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Lists the case under the account, and under the business the account acted for (in the
/// submission's transaction).
pub async fn link_case(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    business_id: Option<&str>,
    case_id: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO account_cases (tenant_id, account_id, case_id, business_id) VALUES ($1, $2, $3, $4)")
        .bind(tenant_id)
        .bind(account_id)
        .bind(case_id)
        .bind(business_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One of the account's cases, for its overview.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountCase {
    pub reference: String,
    pub procedure_id: String,
    pub status: String,
    pub submitted_at: String,
    /// The business it was submitted for, if any.
    pub business: Option<String>,
}

/// Rows of `account_cases` or `drafts` (alias `x`) that the account `$2` may see: its own,
/// and those of the businesses it is a member of.
pub(crate) const VISIBLE_TO_ACCOUNT: &str = "(x.account_id = $2 OR x.business_id IN
    (SELECT m.business_id FROM business_members m WHERE m.tenant_id = $1 AND m.account_id = $2))";

/// The account's cases and those of its businesses, newest first.
pub async fn cases(conn: &mut AnyConnection, tenant_id: &str, account_id: &str) -> Result<Vec<AccountCase>> {
    Ok(sqlx::query_as(&format!(
        "SELECT c.reference, c.procedure_id, c.status, c.submitted_at, b.name AS business FROM account_cases x
         JOIN cases c ON c.tenant_id = x.tenant_id AND c.case_id = x.case_id
         LEFT JOIN businesses b ON b.tenant_id = x.tenant_id AND b.business_id = x.business_id
         WHERE x.tenant_id = $1 AND {VISIBLE_TO_ACCOUNT} ORDER BY c.submitted_at DESC, c.reference DESC"
    ))
    .bind(tenant_id)
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether the account may see the case: it submitted it, or it is a member of the business
/// the case was submitted for.
pub async fn owns_case(conn: &mut AnyConnection, tenant_id: &str, account_id: &str, case_id: &str) -> Result<bool> {
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM account_cases x WHERE x.tenant_id = $1 AND x.case_id = $3 AND {VISIBLE_TO_ACCOUNT}"
    ))
    .bind(tenant_id)
    .bind(account_id)
    .bind(case_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// One of the account's saved drafts, for its overview.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountDraft {
    pub draft_id: String,
    pub procedure_id: String,
    pub updated_at: String,
    pub expires_at: String,
    /// The business it was saved for, if any.
    pub business: Option<String>,
}

/// The account's saved drafts and those of its businesses that have not expired at `now`,
/// newest first.
pub async fn drafts(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AccountDraft>> {
    Ok(sqlx::query_as(&format!(
        "SELECT x.draft_id, x.procedure_id, x.updated_at, x.expires_at, b.name AS business FROM drafts x
         LEFT JOIN businesses b ON b.tenant_id = x.tenant_id AND b.business_id = x.business_id
         WHERE x.tenant_id = $1 AND {VISIBLE_TO_ACCOUNT} AND x.expires_at > $3 ORDER BY x.updated_at DESC"
    ))
    .bind(tenant_id)
    .bind(account_id)
    .bind(ts(now))
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether a token exists for this purpose and has not expired (without using it).
pub async fn token_valid(
    conn: &mut AnyConnection,
    tenant_id: &str,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM account_tokens WHERE tenant_id = $1 AND token_hash = $2 AND purpose = $3 AND expires_at > $4",
    )
    .bind(tenant_id)
    .bind(token_hash)
    .bind(purpose.code())
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// The confirmed address of the account that submitted the case, if any (where
/// notifications about the case go).
pub async fn notify_address(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT a.email FROM account_cases ac
         JOIN citizen_accounts a ON a.tenant_id = ac.tenant_id AND a.account_id = ac.account_id
         WHERE ac.tenant_id = $1 AND ac.case_id = $2 AND a.verified_at IS NOT NULL",
    )
    .bind(tenant_id)
    .bind(case_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// The account that signs in with this provider and subject.
pub async fn by_oidc(
    conn: &mut AnyConnection,
    tenant_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<Option<Account>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM citizen_accounts WHERE tenant_id = $1 AND oidc_issuer = $2 AND oidc_subject = $3"
    ))
    .bind(tenant_id)
    .bind(issuer)
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Links an account to a provider's subject (and marks its address confirmed: the provider
/// confirmed it).
pub async fn link_oidc(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    issuer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE citizen_accounts SET oidc_issuer = $3, oidc_subject = $4, verified_at = COALESCE(verified_at, $5)
         WHERE tenant_id = $1 AND account_id = $2",
    )
    .bind(tenant_id)
    .bind(account_id)
    .bind(issuer)
    .bind(subject)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
