//! Drafts saved by the applicant: an application not yet submitted, resumed later with a
//! link. Saving, resuming and the deletion of expired drafts are audited (without the data).

use crate::{Result, Runtime};
use chrono::{DateTime, Duration, Utc};
use rathaus_store::audit::{self, Actor};
use rathaus_store::drafts::{self, DraftRow};
use rathaus_store::tenants::Tenant;
use rathaus_store::uploads;
use serde_json::{json, Value as Json};

/// A saved draft: the secret for its link (shown and sent once, stored only hashed) and
/// when it expires.
#[derive(Debug, Clone)]
pub struct SavedDraft {
    pub token: String,
    pub expires: DateTime<Utc>,
}

/// What a resume link leads to.
#[derive(Debug)]
pub enum DraftLookup {
    Found(Box<DraftRow>),
    /// The draft expired (it is deleted at the next clean-up).
    Expired,
    /// No draft of this tenant has this link: mistyped, replaced by a newer save, submitted
    /// or deleted.
    Unknown,
}

fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Who a draft saved while signed in belongs to: the account, and the business it acts for
/// (whose members then see the draft too).
#[derive(Debug, Clone, Copy)]
pub struct DraftOwner<'a> {
    pub account_id: &'a str,
    pub business_id: Option<&'a str>,
}

impl Runtime {
    /// Saves `data` as the draft `draft_id` of `procedure_id`; each save gives the draft a
    /// new link (the one before stops working) and a new expiry after the tenant's
    /// `drafts_kept_days`. The application's uploads (`upload_key`) are kept as long.
    pub async fn save_draft(
        &self,
        tenant: &Tenant,
        draft_id: &str,
        procedure_id: &str,
        data: &Json,
        upload_key: Option<&str>,
        owner: Option<DraftOwner<'_>>,
    ) -> Result<SavedDraft> {
        let now = self.clock.now();
        let expires = now + Duration::days(i64::from(tenant.settings.drafts_kept_days()));
        let token = new_token();
        let mut tx = self.store.begin().await?;
        let account_id = owner.as_ref().map(|o| o.account_id);
        let business = match &owner {
            Some(DraftOwner { account_id, business_id: Some(b) }) => {
                rathaus_store::businesses::membership(&mut tx, &tenant.tenant_id, b, account_id).await?
            }
            _ => None,
        };
        drafts::save(
            &mut tx,
            &drafts::Save {
                tenant_id: &tenant.tenant_id,
                draft_id,
                procedure_id,
                data,
                token_hash: &self.secret_hash("draft", &token),
                upload_key,
                account_id,
                business_id: business.as_ref().map(|m| m.business_id.as_str()),
                now,
                expires,
            },
        )
        .await?;
        if let Some(key) = upload_key {
            uploads::keep_until(&mut tx, &tenant.tenant_id, key, expires).await?;
        }
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "draft.saved",
            "draft",
            draft_id,
            &json!({"procedure": procedure_id, "expires": rathaus_store::ts(expires)}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SavedDraft { token, expires })
    }

    /// The tenant's draft behind a resume link.
    pub async fn find_draft(&self, tenant_id: &str, token: &str) -> Result<DraftLookup> {
        let mut conn = self.store.conn().await?;
        let Some(row) = drafts::by_token(&mut conn, tenant_id, &self.secret_hash("draft", token.trim())).await? else {
            return Ok(DraftLookup::Unknown);
        };
        if row.expires()? <= self.clock.now() {
            return Ok(DraftLookup::Expired);
        }
        Ok(DraftLookup::Found(Box::new(row)))
    }

    /// One of the account's saved drafts, if it has not expired.
    pub async fn account_draft(&self, tenant: &Tenant, account_id: &str, draft_id: &str) -> Result<Option<DraftRow>> {
        let mut conn = self.store.conn().await?;
        let row = drafts::of_account(&mut conn, &tenant.tenant_id, account_id, draft_id).await?;
        Ok(match row {
            Some(r) if r.expires()? > self.clock.now() => Some(r),
            _ => None,
        })
    }

    /// Deletes a draft once its application is submitted (or the applicant discards it).
    pub async fn delete_draft(&self, tenant_id: &str, draft_id: &str, why: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        if drafts::delete(&mut tx, tenant_id, draft_id).await? > 0 {
            let now = self.clock.now();
            audit::append(
                &mut tx,
                tenant_id,
                &Actor::Applicant,
                "draft.deleted",
                "draft",
                draft_id,
                &json!({"why": why}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the expired drafts of every tenant, each tenant's in one transaction with its
    /// audit entry; returns how many were deleted.
    pub async fn purge_expired_drafts(&self) -> Result<u64> {
        let now = self.clock.now();
        let tenants = {
            let mut conn = self.store.conn().await?;
            drafts::tenants_with_expired(&mut conn, now).await?
        };
        self.purge_per_tenant(tenants, "drafts.expired", async move |conn, tenant_id| {
            drafts::delete_expired(conn, tenant_id, now).await
        })
        .await
    }

    /// Deletes what expired of each of `tenants`, each tenant's in one transaction with an
    /// audit entry `action` that gives the count; returns the total.
    pub(crate) async fn purge_per_tenant(
        &self,
        tenants: Vec<String>,
        action: &str,
        delete: impl AsyncFn(&mut sqlx::AnyConnection, &str) -> rathaus_store::Result<u64>,
    ) -> Result<u64> {
        let now = self.clock.now();
        let mut total = 0;
        for tenant_id in tenants {
            let mut tx = self.store.begin().await?;
            let n = delete(&mut tx, &tenant_id).await?;
            if n > 0 {
                audit::append(
                    &mut tx,
                    &tenant_id,
                    &Actor::System,
                    action,
                    "tenant",
                    &tenant_id,
                    &json!({"deleted": n}),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            total += n;
        }
        Ok(total)
    }
}
