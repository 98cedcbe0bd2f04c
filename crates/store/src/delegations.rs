//! Delegations of a municipality's cases to a service centre (see `rathaus_domain::delegation`).
//! Rows belong to the municipality (`tenant_id`); [`to_centre`] is the centre's view of them.

use crate::{ts, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::delegation::{Delegation as Rules, Scope};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delegation {
    /// The municipality that delegates.
    pub tenant_id: String,
    pub delegation_id: String,
    pub centre_tenant_id: String,
    /// Comma-separated; empty: all procedures.
    pub procedures: String,
    pub scope: String,
    pub agreement: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub granted_by: String,
    pub granted_at: String,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<String>,
}

impl Delegation {
    pub fn procedure_list(&self) -> Vec<String> {
        self.procedures.split(',').filter(|p| !p.is_empty()).map(String::from).collect()
    }

    /// The delegation as the domain's rules see it. A row that does not parse (a scope no
    /// version wrote) reads as revoked: it gives nothing.
    pub fn rules(&self) -> Rules {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let scope = Scope::parse(&self.scope);
        let from = day(&self.valid_from);
        Rules {
            procedures: self.procedure_list(),
            scope: scope.unwrap_or(Scope::Read),
            valid_from: from.unwrap_or(NaiveDate::MAX),
            valid_until: self.valid_until.as_deref().and_then(day),
            revoked: self.revoked_at.is_some() || scope.is_none() || from.is_none(),
        }
    }
}

const COLUMNS: &str = "tenant_id, delegation_id, centre_tenant_id, procedures, scope, agreement, valid_from, valid_until, granted_by, granted_at, revoked_by, revoked_at";

pub struct NewDelegation<'a> {
    pub tenant_id: &'a str,
    pub delegation_id: &'a str,
    pub centre_tenant_id: &'a str,
    pub procedures: &'a [String],
    pub scope: Scope,
    pub agreement: &'a str,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub granted_by: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &mut AnyConnection, d: &NewDelegation<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO delegations (tenant_id, delegation_id, centre_tenant_id, procedures, scope, agreement, valid_from,
            valid_until, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(d.tenant_id)
    .bind(d.delegation_id)
    .bind(d.centre_tenant_id)
    .bind(d.procedures.join(","))
    .bind(d.scope.code())
    .bind(d.agreement)
    .bind(d.valid_from.format("%Y-%m-%d").to_string())
    .bind(d.valid_until.map(|u| u.format("%Y-%m-%d").to_string()))
    .bind(d.granted_by)
    .bind(ts(d.now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends a delegation; `false` if it was ended already (or is not the tenant's).
pub async fn revoke(
    conn: &mut AnyConnection,
    tenant_id: &str,
    delegation_id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE delegations SET revoked_by = $3, revoked_at = $4
         WHERE tenant_id = $1 AND delegation_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(delegation_id)
    .bind(by)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, delegation_id: &str) -> Result<Option<Delegation>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM delegations WHERE tenant_id = $1 AND delegation_id = $2"))
        .bind(tenant_id)
        .bind(delegation_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The municipality's delegations, newest first, ended ones included.
pub async fn of_tenant(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Delegation>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM delegations WHERE tenant_id = $1 ORDER BY granted_at DESC"))
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// The delegations to a centre not revoked (whether in force today is the rules' to say).
pub async fn to_centre(conn: &mut AnyConnection, centre_tenant_id: &str) -> Result<Vec<Delegation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delegations WHERE centre_tenant_id = $1 AND revoked_at IS NULL ORDER BY granted_at"
    ))
    .bind(centre_tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The delegations of `tenant_id` to `centre_tenant_id` not revoked.
pub async fn between(conn: &mut AnyConnection, tenant_id: &str, centre_tenant_id: &str) -> Result<Vec<Delegation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delegations WHERE tenant_id = $1 AND centre_tenant_id = $2 AND revoked_at IS NULL
         ORDER BY granted_at"
    ))
    .bind(tenant_id)
    .bind(centre_tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}
