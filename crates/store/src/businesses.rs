//! Business accounts (Unternehmenskonto): an organisation of a tenant whose members, each
//! signed in with their own citizen account, share the cases and drafts made on the
//! organisation's behalf. Admins invite members by e-mail (a one-time link, stored only as
//! a keyed hash) and remove them; a business never loses its last admin.

use crate::{parse_ts, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// What a member may do: an admin also manages members and invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        match code {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// A business as one of its members sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    pub business_id: String,
    pub name: String,
    pub role: String,
}

impl Membership {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin.code()
    }
}

/// A member, for the business's page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub joined_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invitation {
    pub invitation_id: String,
    pub business_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
}

impl Invitation {
    pub fn expired(&self, now: DateTime<Utc>) -> Result<bool> {
        Ok(parse_ts(&self.expires_at)? <= now)
    }
}

/// Creates a business with `account_id` as its first admin.
pub async fn create(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    name: &str,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO businesses (tenant_id, business_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant_id)
        .bind(business_id)
        .bind(name)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    add_member(conn, tenant_id, business_id, account_id, Role::Admin, now).await?;
    Ok(())
}

/// Adds a member, or changes the role of one who is already a member.
pub async fn add_member(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    account_id: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO business_members (tenant_id, business_id, account_id, role, joined_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, business_id, account_id) DO UPDATE SET role = excluded.role",
    )
    .bind(tenant_id)
    .bind(business_id)
    .bind(account_id)
    .bind(role.code())
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The businesses the account is a member of, by name.
pub async fn of_account(conn: &mut AnyConnection, tenant_id: &str, account_id: &str) -> Result<Vec<Membership>> {
    Ok(sqlx::query_as(
        "SELECT b.business_id, b.name, m.role FROM business_members m
         JOIN businesses b ON b.tenant_id = m.tenant_id AND b.business_id = m.business_id
         WHERE m.tenant_id = $1 AND m.account_id = $2 ORDER BY b.name, b.business_id",
    )
    .bind(tenant_id)
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The account's membership in this business, if it is a member.
pub async fn membership(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    account_id: &str,
) -> Result<Option<Membership>> {
    Ok(sqlx::query_as(
        "SELECT b.business_id, b.name, m.role FROM business_members m
         JOIN businesses b ON b.tenant_id = m.tenant_id AND b.business_id = m.business_id
         WHERE m.tenant_id = $1 AND m.business_id = $2 AND m.account_id = $3",
    )
    .bind(tenant_id)
    .bind(business_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn members(conn: &mut AnyConnection, tenant_id: &str, business_id: &str) -> Result<Vec<Member>> {
    Ok(sqlx::query_as(
        "SELECT m.account_id, a.email, a.display_name, m.role, m.joined_at FROM business_members m
         JOIN citizen_accounts a ON a.tenant_id = m.tenant_id AND a.account_id = m.account_id
         WHERE m.tenant_id = $1 AND m.business_id = $2 ORDER BY a.display_name, a.email",
    )
    .bind(tenant_id)
    .bind(business_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Removes a member unless that would leave the business without an admin. Returns
/// whether the member was removed; call it in a transaction (the admin count is read and
/// the row deleted together).
pub async fn remove_member(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    account_id: &str,
) -> Result<Removed> {
    let role: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM business_members WHERE tenant_id = $1 AND business_id = $2 AND account_id = $3",
    )
    .bind(tenant_id)
    .bind(business_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((role,)) = role else { return Ok(Removed::NotAMember) };
    if role == Role::Admin.code() {
        let (admins,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM business_members WHERE tenant_id = $1 AND business_id = $2 AND role = 'admin'",
        )
        .bind(tenant_id)
        .bind(business_id)
        .fetch_one(&mut *conn)
        .await?;
        if admins <= 1 {
            return Ok(Removed::LastAdmin);
        }
    }
    sqlx::query("DELETE FROM business_members WHERE tenant_id = $1 AND business_id = $2 AND account_id = $3")
        .bind(tenant_id)
        .bind(business_id)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(Removed::Removed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    NotAMember,
    /// Refused: the business would have no admin left.
    LastAdmin,
}

pub struct NewInvitation<'a> {
    pub tenant_id: &'a str,
    pub invitation_id: &'a str,
    pub token_hash: &'a str,
    pub business_id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
    pub now: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// Stores an invitation; an earlier open invitation of the same address to the same
/// business is replaced (its link stops working).
pub async fn invite(conn: &mut AnyConnection, i: &NewInvitation<'_>) -> Result<()> {
    sqlx::query("DELETE FROM business_invitations WHERE tenant_id = $1 AND business_id = $2 AND email = $3")
        .bind(i.tenant_id)
        .bind(i.business_id)
        .bind(i.email)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO business_invitations (tenant_id, invitation_id, token_hash, business_id, email, role, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(i.tenant_id)
    .bind(i.invitation_id)
    .bind(i.token_hash)
    .bind(i.business_id)
    .bind(i.email)
    .bind(i.role.code())
    .bind(i.invited_by)
    .bind(ts(i.now))
    .bind(ts(i.expires))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const INVITATION_COLUMNS: &str = "invitation_id, business_id, email, role, invited_by, created_at, expires_at";

/// The business's invitations that have not expired at `now`, newest first.
pub async fn invitations(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM business_invitations
         WHERE tenant_id = $1 AND business_id = $2 AND expires_at > $3 ORDER BY created_at DESC, email"
    ))
    .bind(tenant_id)
    .bind(business_id)
    .bind(ts(now))
    .fetch_all(&mut *conn)
    .await?)
}

/// The invitation with this link (token hash), expired or not.
pub async fn invitation_by_token(
    conn: &mut AnyConnection,
    tenant_id: &str,
    token_hash: &str,
) -> Result<Option<Invitation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM business_invitations WHERE tenant_id = $1 AND token_hash = $2"
    ))
    .bind(tenant_id)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Deletes an invitation of the business (withdrawn, or used); returns whether it existed.
pub async fn delete_invitation(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_id: &str,
    invitation_id: &str,
) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM business_invitations WHERE tenant_id = $1 AND business_id = $2 AND invitation_id = $3")
        .bind(tenant_id)
        .bind(business_id)
        .bind(invitation_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Deletes invitations that expired before `now` (all tenants); returns how many.
pub async fn purge_invitations(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM business_invitations WHERE expires_at <= $1")
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
