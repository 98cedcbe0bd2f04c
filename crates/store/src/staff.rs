//! Staff accounts of a tenant.

use crate::{new_id, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Staff {
    pub tenant_id: String,
    pub staff_id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub active: i64,
    /// Organisational units, comma-separated (candidate groups of user tasks).
    pub org_units: String,
    /// Away until this day (`YYYY-MM-DD`, inclusive), with `deputy` (a username) standing in.
    pub absent_until: Option<String>,
    pub deputy: Option<String>,
    /// Where reminders and escalations of deadlines go; none: only the dashboard shows them.
    pub email: Option<String>,
}

impl Staff {
    pub fn org_unit_list(&self) -> Vec<String> {
        self.org_units.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    }
}

pub async fn create(
    conn: &mut AnyConnection,
    tenant_id: &str,
    username: &str,
    display_name: &str,
    password_hash: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Staff> {
    let staff_id = new_id();
    sqlx::query(
        "INSERT INTO staff (tenant_id, staff_id, username, display_name, password_hash, role, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(tenant_id)
    .bind(&staff_id)
    .bind(username)
    .bind(display_name)
    .bind(password_hash)
    .bind(role)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(Staff {
        tenant_id: tenant_id.into(),
        staff_id,
        username: username.into(),
        display_name: display_name.into(),
        password_hash: password_hash.into(),
        role: role.into(),
        active: 1,
        org_units: String::new(),
        absent_until: None,
        deputy: None,
        email: None,
    })
}

const COLUMNS: &str =
    "tenant_id, staff_id, username, display_name, password_hash, role, active, org_units, absent_until, deputy, email";

/// Records an absence until `until` (inclusive) with `deputy` standing in, or its end (both
/// `None`).
pub async fn set_absence(
    conn: &mut AnyConnection,
    tenant_id: &str,
    staff_id: &str,
    until: Option<&str>,
    deputy: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE staff SET absent_until = $3, deputy = $4 WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id)
        .bind(staff_id)
        .bind(until)
        .bind(deputy)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The active colleagues `deputy` stands in for on `today` (`YYYY-MM-DD`): away until today
/// or later, with `deputy` named.
pub async fn deputised_by(conn: &mut AnyConnection, tenant_id: &str, deputy: &str, today: &str) -> Result<Vec<Staff>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND deputy = $2 AND absent_until >= $3 AND active = 1 ORDER BY username"
    ))
    .bind(tenant_id)
    .bind(deputy)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?)
}

/// Sets name, role and whether the account may sign in.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &str,
    staff_id: &str,
    display_name: &str,
    role: &str,
    active: bool,
) -> Result<()> {
    sqlx::query("UPDATE staff SET display_name = $3, role = $4, active = $5 WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id)
        .bind(staff_id)
        .bind(display_name)
        .bind(role)
        .bind(if active { 1i64 } else { 0 })
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_password(conn: &mut AnyConnection, tenant_id: &str, staff_id: &str, hash: &str) -> Result<()> {
    sqlx::query("UPDATE staff SET password_hash = $3 WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id)
        .bind(staff_id)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// All staff of the tenant, active or not, by name.
pub async fn all(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Staff>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 ORDER BY display_name, username"))
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// Sets (or, with `None`, removes) the e-mail address of a staff member.
pub async fn set_email(conn: &mut AnyConnection, tenant_id: &str, staff_id: &str, email: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE staff SET email = $3 WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id)
        .bind(staff_id)
        .bind(email)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the organisational units of a staff member.
pub async fn set_org_units(conn: &mut AnyConnection, tenant_id: &str, staff_id: &str, units: &[String]) -> Result<()> {
    sqlx::query("UPDATE staff SET org_units = $3 WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id)
        .bind(staff_id)
        .bind(units.join(","))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn by_username(conn: &mut AnyConnection, tenant_id: &str, username: &str) -> Result<Option<Staff>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND username = $2"))
        .bind(tenant_id)
        .bind(username)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str, staff_id: &str) -> Result<Option<Staff>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND staff_id = $2"))
        .bind(tenant_id)
        .bind(staff_id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The tenant's active staff, by name.
pub async fn active(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Staff>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND active = 1 ORDER BY display_name, username"
    ))
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The staff member linked to the provider's subject, if any.
pub async fn by_oidc(conn: &mut AnyConnection, tenant_id: &str, issuer: &str, subject: &str) -> Result<Option<Staff>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND oidc_issuer = $2 AND oidc_subject = $3"
    ))
    .bind(tenant_id)
    .bind(issuer)
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Links a staff account not yet linked to the provider's subject; `false` if it was linked
/// (to this or another subject) already.
pub async fn link_oidc(
    conn: &mut AnyConnection,
    tenant_id: &str,
    staff_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE staff SET oidc_issuer = $3, oidc_subject = $4
         WHERE tenant_id = $1 AND staff_id = $2 AND oidc_subject IS NULL",
    )
    .bind(tenant_id)
    .bind(staff_id)
    .bind(issuer)
    .bind(subject)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
