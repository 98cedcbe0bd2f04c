//! Citizen accounts (Bürgerkonto): registration with a verification link, password reset,
//! the profile that fills in forms, and the account's cases and saved drafts. Every change
//! is audited (without passwords or tokens). Passwords arrive hashed: hashing is the web
//! layer's job, in a blocking thread.

use crate::{Result, Runtime};
use chrono::Duration;
use rathaus_store::accounts::{self, Account, Purpose};
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

/// How long a verification link works.
pub const VERIFY_HOURS: i64 = 48;
/// How long a password-reset link works.
pub const RESET_HOURS: i64 = 1;

/// What registering an address led to.
#[derive(Debug)]
pub enum Registered {
    /// A new account; the secret of its verification link (sent by mail, stored hashed).
    Created { account_id: String, token: String },
    /// The tenant already has an account with this address. The page says the same as for a
    /// new one (nobody learns who has an account); the mail tells the holder instead.
    Exists(Account),
}

pub(crate) fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// An e-mail address as accounts are keyed: trimmed, lower case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub use accounts::{AccountCase, AccountDraft};

impl Runtime {
    fn account_token_hash(&self, token: &str) -> String {
        self.secret_hash("account-token", token.trim())
    }

    async fn audit_account(&self, tenant_id: &str, account_id: &str, action: &str, details: Json) -> Result<()> {
        let mut tx = self.store.begin().await?;
        audit::append(&mut tx, tenant_id, &Actor::Applicant, action, "account", account_id, &details, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers an address with a password hash and a name.
    pub async fn register_account(
        &self,
        tenant: &Tenant,
        email: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<Registered> {
        let email = normalize_email(email);
        let now = self.clock.now();
        let account_id = rathaus_store::new_id();
        let token = new_token();
        let mut tx = self.store.begin().await?;
        let created = accounts::create(
            &mut tx,
            &accounts::NewAccount {
                tenant_id: &tenant.tenant_id,
                account_id: &account_id,
                email: &email,
                password_hash,
                display_name,
                now,
            },
        )
        .await?;
        if !created {
            let existing = accounts::by_email(&mut tx, &tenant.tenant_id, &email).await?;
            tx.commit().await?;
            return Ok(Registered::Exists(existing.expect("the conflicting account exists")));
        }
        accounts::add_token(
            &mut tx,
            &tenant.tenant_id,
            &self.account_token_hash(&token),
            &account_id,
            Purpose::Verify,
            now,
            now + Duration::hours(VERIFY_HOURS),
        )
        .await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "account.registered",
            "account",
            &account_id,
            &json!({}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Registered::Created { account_id, token })
    }

    /// A new verification link for an unverified account (the first one expired or got lost).
    pub async fn new_verification_token(&self, tenant: &Tenant, account_id: &str) -> Result<String> {
        let now = self.clock.now();
        let token = new_token();
        let mut tx = self.store.begin().await?;
        accounts::add_token(
            &mut tx,
            &tenant.tenant_id,
            &self.account_token_hash(&token),
            account_id,
            Purpose::Verify,
            now,
            now + Duration::hours(VERIFY_HOURS),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Verifies the address behind a verification link; the account, or `None` if the link
    /// is unknown, used or expired.
    pub async fn verify_account(&self, tenant: &Tenant, token: &str) -> Result<Option<Account>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(account_id) =
            accounts::take_token(&mut tx, &tenant.tenant_id, &self.account_token_hash(token), Purpose::Verify, now)
                .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        accounts::mark_verified(&mut tx, &tenant.tenant_id, &account_id, now).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "account.verified",
            "account",
            &account_id,
            &json!({}),
            now,
        )
        .await?;
        let account = accounts::by_id(&mut tx, &tenant.tenant_id, &account_id).await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn account_by_email(&self, tenant: &Tenant, email: &str) -> Result<Option<Account>> {
        let mut conn = self.store.conn().await?;
        Ok(accounts::by_email(&mut conn, &tenant.tenant_id, &normalize_email(email)).await?)
    }

    pub async fn account(&self, tenant: &Tenant, account_id: &str) -> Result<Option<Account>> {
        let mut conn = self.store.conn().await?;
        Ok(accounts::by_id(&mut conn, &tenant.tenant_id, account_id).await?)
    }

    /// The account of a person signed in by an OpenID Connect provider: the one linked to
    /// the provider's subject; else the tenant's account with the address the provider
    /// confirmed (now linked); else a new account with that address, confirmed.
    pub async fn account_by_oidc(
        &self,
        tenant: &Tenant,
        issuer: &str,
        subject: &str,
        verified_email: Option<&str>,
        display_name: &str,
    ) -> Result<Account> {
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        if let Some(a) = accounts::by_oidc(&mut tx, t, issuer, subject).await? {
            tx.commit().await?;
            return Ok(a);
        }
        let Some(email) = verified_email.map(normalize_email).filter(|e| !e.is_empty()) else {
            return Err(crate::RuntimeError::Invalid(vec![rathaus_engine::FieldError {
                field: "email".into(),
                message: "Der Anmeldedienst hat keine bestätigte E-Mail-Adresse übermittelt.".into(),
            }]));
        };
        let account_id = match accounts::by_email(&mut tx, t, &email).await? {
            Some(existing) => existing.account_id,
            None => {
                let account_id = rathaus_store::new_id();
                let name = if display_name.trim().is_empty() { email.clone() } else { display_name.trim().to_string() };
                accounts::create(
                    &mut tx,
                    &accounts::NewAccount {
                        tenant_id: t,
                        account_id: &account_id,
                        email: &email,
                        // No password: this account signs in at its provider only (until a
                        // password is set with "password forgotten").
                        password_hash: "",
                        display_name: &name,
                        now,
                    },
                )
                .await?;
                audit::append(
                    &mut tx,
                    t,
                    &Actor::Applicant,
                    "account.registered",
                    "account",
                    &account_id,
                    &json!({"oidc": issuer}),
                    now,
                )
                .await?;
                account_id
            }
        };
        accounts::link_oidc(&mut tx, t, &account_id, issuer, subject, now).await?;
        audit::append(
            &mut tx,
            t,
            &Actor::Applicant,
            "account.oidc_linked",
            "account",
            &account_id,
            &json!({"issuer": issuer}),
            now,
        )
        .await?;
        let account = accounts::by_id(&mut tx, t, &account_id).await?.ok_or(crate::RuntimeError::NotFound)?;
        tx.commit().await?;
        Ok(account)
    }

    /// Records a login (the web layer checked the password).
    pub async fn account_logged_in(&self, tenant: &Tenant, account_id: &str) -> Result<()> {
        self.audit_account(&tenant.tenant_id, account_id, "account.login", json!({})).await
    }

    /// A password-reset link for a verified account (`None` for an unknown address: the
    /// page says the same either way).
    pub async fn request_password_reset(&self, tenant: &Tenant, email: &str) -> Result<Option<(Account, String)>> {
        let Some(account) = self.account_by_email(tenant, email).await? else { return Ok(None) };
        let now = self.clock.now();
        let token = new_token();
        let mut tx = self.store.begin().await?;
        accounts::add_token(
            &mut tx,
            &tenant.tenant_id,
            &self.account_token_hash(&token),
            &account.account_id,
            Purpose::Reset,
            now,
            now + Duration::hours(RESET_HOURS),
        )
        .await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "account.reset_requested",
            "account",
            &account.account_id,
            &json!({}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some((account, token)))
    }

    /// Whether a reset link still works (shown before the new password is asked for).
    pub async fn reset_link_valid(&self, tenant: &Tenant, token: &str) -> Result<bool> {
        let mut conn = self.store.conn().await?;
        let hash = self.account_token_hash(token);
        Ok(accounts::token_valid(&mut conn, &tenant.tenant_id, &hash, Purpose::Reset, self.clock.now()).await?)
    }

    /// Sets a new password with a reset link (which then stops working); the link also
    /// verifies the address, since it reached it.
    pub async fn reset_password(&self, tenant: &Tenant, token: &str, password_hash: &str) -> Result<Option<Account>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(account_id) =
            accounts::take_token(&mut tx, &tenant.tenant_id, &self.account_token_hash(token), Purpose::Reset, now)
                .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        accounts::set_password(&mut tx, &tenant.tenant_id, &account_id, password_hash).await?;
        accounts::mark_verified(&mut tx, &tenant.tenant_id, &account_id, now).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "account.password_reset",
            "account",
            &account_id,
            &json!({}),
            now,
        )
        .await?;
        let account = accounts::by_id(&mut tx, &tenant.tenant_id, &account_id).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Saves the account's name and profile (what fills in forms).
    pub async fn save_profile(
        &self,
        tenant: &Tenant,
        account_id: &str,
        display_name: &str,
        profile: &Json,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        accounts::set_profile(&mut tx, &tenant.tenant_id, account_id, display_name, profile).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "account.profile_saved",
            "account",
            account_id,
            &json!({}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's cases, newest first.
    pub async fn account_cases(&self, tenant: &Tenant, account_id: &str) -> Result<Vec<AccountCase>> {
        let mut conn = self.store.conn().await?;
        Ok(accounts::cases(&mut conn, &tenant.tenant_id, account_id).await?)
    }

    /// Whether the case belongs to the account.
    pub async fn account_owns_case(&self, tenant: &Tenant, account_id: &str, case_id: &str) -> Result<bool> {
        let mut conn = self.store.conn().await?;
        Ok(accounts::owns_case(&mut conn, &tenant.tenant_id, account_id, case_id).await?)
    }

    /// The account's saved drafts that have not expired, newest first.
    pub async fn account_drafts(&self, tenant: &Tenant, account_id: &str) -> Result<Vec<AccountDraft>> {
        let mut conn = self.store.conn().await?;
        Ok(accounts::drafts(&mut conn, &tenant.tenant_id, account_id, self.clock.now()).await?)
    }
}
