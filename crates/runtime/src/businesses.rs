//! Business accounts (Unternehmenskonto): a signed-in citizen creates one for a company and
//! becomes its admin; admins invite colleagues by e-mail and remove them; every member
//! acts for the business (`acting_for` in the portal) and then shares its cases and drafts
//! with the other members. Each change is audited on the business.

use crate::{Result, Runtime, RuntimeError};
use chrono::Duration;
use rathaus_store::audit::{self, Actor};
use rathaus_store::businesses::{self, NewInvitation};
use rathaus_store::tenants::Tenant;
use rathaus_store::{accounts, new_id};
use serde_json::json;

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;
/// The longest business name accepted.
pub const MAX_NAME: usize = 200;

pub use rathaus_store::businesses::{Invitation, Member, Membership, Removed, Role};

/// What inviting an address led to.
#[derive(Debug)]
pub enum Invited {
    /// The secret of the invitation link (sent by mail, stored hashed).
    Sent { token: String },
    /// The address belongs to a member already.
    AlreadyMember,
}

/// An invitation as its link shows it.
#[derive(Debug)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub business_name: String,
    pub expired: bool,
}

/// What accepting an invitation led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    Joined {
        business_id: String,
    },
    /// The link is unknown, used or withdrawn.
    Gone,
    Expired,
    /// The invitation is for another address (the one given).
    OtherAddress(String),
}

impl Runtime {
    fn invitation_hash(&self, token: &str) -> String {
        self.secret_hash("business-invitation", token.trim())
    }

    async fn admin_of(&self, tenant: &Tenant, business_id: &str, account_id: &str) -> Result<Membership> {
        match self.business_membership(tenant, business_id, account_id).await? {
            Some(m) if m.is_admin() => Ok(m),
            Some(_) => Err(RuntimeError::Forbidden),
            None => Err(RuntimeError::NotFound),
        }
    }

    /// Creates a business with the account as its admin; returns its id.
    pub async fn create_business(&self, tenant: &Tenant, account_id: &str, name: &str) -> Result<String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(RuntimeError::Conflict(format!("Name des Unternehmens: 1 bis {MAX_NAME} Zeichen")));
        }
        let now = self.clock.now();
        let business_id = new_id();
        let mut tx = self.store.begin().await?;
        businesses::create(&mut tx, &tenant.tenant_id, &business_id, name, account_id, now).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "business.created",
            "business",
            &business_id,
            &json!({"account": account_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(business_id)
    }

    /// The businesses the account belongs to.
    pub async fn businesses_of(&self, tenant: &Tenant, account_id: &str) -> Result<Vec<Membership>> {
        let mut conn = self.store.conn().await?;
        Ok(businesses::of_account(&mut conn, &tenant.tenant_id, account_id).await?)
    }

    pub async fn business_membership(
        &self,
        tenant: &Tenant,
        business_id: &str,
        account_id: &str,
    ) -> Result<Option<Membership>> {
        let mut conn = self.store.conn().await?;
        Ok(businesses::membership(&mut conn, &tenant.tenant_id, business_id, account_id).await?)
    }

    /// The members and open invitations of a business, for one of its members.
    pub async fn business_people(
        &self,
        tenant: &Tenant,
        business_id: &str,
        account_id: &str,
    ) -> Result<(Membership, Vec<Member>, Vec<Invitation>)> {
        let me = self.business_membership(tenant, business_id, account_id).await?.ok_or(RuntimeError::NotFound)?;
        let mut conn = self.store.conn().await?;
        let members = businesses::members(&mut conn, &tenant.tenant_id, business_id).await?;
        let invitations = if me.is_admin() {
            businesses::invitations(&mut conn, &tenant.tenant_id, business_id, self.clock.now()).await?
        } else {
            Vec::new()
        };
        Ok((me, members, invitations))
    }

    /// An admin invites an address (normalised by the caller) as member or admin.
    pub async fn invite_to_business(
        &self,
        tenant: &Tenant,
        business_id: &str,
        by_account: &str,
        email: &str,
        role: Role,
    ) -> Result<Invited> {
        self.admin_of(tenant, business_id, by_account).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let members = businesses::members(&mut tx, &tenant.tenant_id, business_id).await?;
        if members.iter().any(|m| m.email == email) {
            return Ok(Invited::AlreadyMember);
        }
        let token = crate::accounts::new_token();
        let invitation_id = new_id();
        businesses::invite(
            &mut tx,
            &NewInvitation {
                tenant_id: &tenant.tenant_id,
                invitation_id: &invitation_id,
                token_hash: &self.invitation_hash(&token),
                business_id,
                email,
                role,
                invited_by: by_account,
                now,
                expires: now + Duration::days(INVITATION_DAYS),
            },
        )
        .await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "business.invited",
            "business",
            business_id,
            &json!({"by": by_account, "invitation": invitation_id, "role": role.code()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Invited::Sent { token })
    }

    /// The invitation behind a link, if it exists (expired or not).
    pub async fn business_invitation(&self, tenant: &Tenant, token: &str) -> Result<Option<InvitationView>> {
        let mut conn = self.store.conn().await?;
        let Some(invitation) =
            businesses::invitation_by_token(&mut conn, &tenant.tenant_id, &self.invitation_hash(token)).await?
        else {
            return Ok(None);
        };
        let name: Option<(String,)> =
            sqlx::query_as("SELECT name FROM businesses WHERE tenant_id = $1 AND business_id = $2")
                .bind(&tenant.tenant_id)
                .bind(&invitation.business_id)
                .fetch_optional(&mut *conn)
                .await?;
        let Some((business_name,)) = name else { return Ok(None) };
        let expired = invitation.expired(self.clock.now())?;
        Ok(Some(InvitationView { invitation, business_name, expired }))
    }

    /// The signed-in account accepts an invitation sent to its address; the link works once.
    pub async fn accept_business_invitation(&self, tenant: &Tenant, token: &str, account_id: &str) -> Result<Accepted> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(invitation) =
            businesses::invitation_by_token(&mut tx, &tenant.tenant_id, &self.invitation_hash(token)).await?
        else {
            return Ok(Accepted::Gone);
        };
        if invitation.expired(now)? {
            return Ok(Accepted::Expired);
        }
        let account = accounts::by_id(&mut tx, &tenant.tenant_id, account_id).await?.ok_or(RuntimeError::NotFound)?;
        if account.email != invitation.email {
            return Ok(Accepted::OtherAddress(invitation.email));
        }
        let role = Role::parse(&invitation.role).unwrap_or(Role::Member);
        businesses::add_member(&mut tx, &tenant.tenant_id, &invitation.business_id, account_id, role, now).await?;
        businesses::delete_invitation(&mut tx, &tenant.tenant_id, &invitation.business_id, &invitation.invitation_id)
            .await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "business.member_joined",
            "business",
            &invitation.business_id,
            &json!({"account": account_id, "invitation": invitation.invitation_id, "role": role.code()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Accepted::Joined { business_id: invitation.business_id })
    }

    /// An admin withdraws an open invitation; its link stops working.
    pub async fn withdraw_business_invitation(
        &self,
        tenant: &Tenant,
        business_id: &str,
        by_account: &str,
        invitation_id: &str,
    ) -> Result<bool> {
        self.admin_of(tenant, business_id, by_account).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !businesses::delete_invitation(&mut tx, &tenant.tenant_id, business_id, invitation_id).await? {
            return Ok(false);
        }
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "business.invitation_withdrawn",
            "business",
            business_id,
            &json!({"by": by_account, "invitation": invitation_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a member: an admin removes anyone, a member only themselves (leaving). The
    /// last admin stays.
    pub async fn remove_business_member(
        &self,
        tenant: &Tenant,
        business_id: &str,
        by_account: &str,
        account_id: &str,
    ) -> Result<Removed> {
        if by_account != account_id {
            self.admin_of(tenant, business_id, by_account).await?;
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let removed = businesses::remove_member(&mut tx, &tenant.tenant_id, business_id, account_id).await?;
        if removed == Removed::Removed {
            audit::append(
                &mut tx,
                &tenant.tenant_id,
                &Actor::Applicant,
                if by_account == account_id { "business.member_left" } else { "business.member_removed" },
                "business",
                business_id,
                &json!({"by": by_account, "account": account_id}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}
