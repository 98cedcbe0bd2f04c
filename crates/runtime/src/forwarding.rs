//! Forwarding a case to the competent authority (Abgabe wegen Unzuständigkeit): a clerk
//! finds the town is not competent (the business premises lie elsewhere, the matter belongs
//! to another office) and hands the application on instead of refusing it. The case ends
//! here (its process stops, it is closed), the applicant is told to whom and why through
//! the mailbox, and the authority gets a link to the application and, if the clerk chose,
//! its attachments, for [`LINK_DAYS`] days. The mail with the link names the town and the
//! Aktenzeichen only; its first opening is recorded in the file.

use crate::withdrawal::{Ended, Ending};
use crate::{Result, Runtime, RuntimeError};
use chrono::{DateTime, Utc};
use rathaus_domain::Lang;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::{self, Case};
use rathaus_store::forwardings::{self, Forwarding, NewForwarding};
use rathaus_store::tenants::Tenant;
use rathaus_store::{events, jobs, mailbox, new_id};
use serde_json::json;
use sqlx::AnyConnection;

pub(crate) const FORWARDING_JOB: &str = "rathaus:forwarding";

/// How long the authority's link works.
pub const LINK_DAYS: i64 = 30;

/// Where a case goes and why.
#[derive(Debug, Clone)]
pub struct ForwardTo<'a> {
    pub authority: &'a str,
    pub email: &'a str,
    /// Why this town is not competent; the applicant reads it.
    pub reason: &'a str,
    pub share_documents: bool,
}

/// A forwarding as its link opens it.
#[derive(Debug, Clone)]
pub struct OpenedForwarding {
    pub forwarding: Forwarding,
    pub case: Case,
    /// The link's time is over.
    pub expired: bool,
}

/// The message to the applicant, in the case's language.
fn applicant_text(lang: Lang, authority: &str, reason: &str) -> String {
    match lang {
        Lang::De => format!(
            "Für Ihren Antrag ist nicht unsere Behörde zuständig, sondern: {authority}.\n\nBegründung: {reason}\n\nWir haben Ihren Antrag mit Ihren Angaben dorthin abgegeben; Sie müssen ihn nicht noch einmal stellen. Die zuständige Stelle meldet sich bei Ihnen. Dieser Vorgang ist bei uns damit abgeschlossen."
        ),
        Lang::En => format!(
            "Our authority is not responsible for your application; the competent authority is: {authority}.\n\nReason: {reason}\n\nWe have passed your application with your details on to them; you do not need to apply again. They will contact you. This case is closed here."
        ),
    }
}

fn mail_text(tenant_name: &str, reference: &str, reason: &str, link: &str) -> (String, String) {
    (
        format!("Abgabe eines Antrags an Sie: Vorgang {reference} ({tenant_name})"),
        format!(
            "Guten Tag,\n\n{tenant_name} ist für den Antrag {reference} nicht zuständig und gibt ihn an Sie ab.\n\nBegründung: {reason}\n\nDen Antrag mit allen Angaben finden Sie {LINK_DAYS} Tage lang unter:\n{link}\n\nDiese E-Mail wurde automatisch erstellt."
        ),
    )
}

impl Runtime {
    fn forwarding_token(&self, forwarding_id: &str) -> String {
        self.link_token("forwarding", forwarding_id)
    }

    fn forwarding_token_hash(&self, token: &str) -> String {
        self.link_token_hash("forwarding", token)
    }

    /// The authority's link to a forwarded application.
    pub fn forwarding_link(&self, tenant: &Tenant, forwarding_id: &str) -> String {
        format!(
            "{}/{}/abgabe/{}",
            self.config.public_url.trim_end_matches('/'),
            tenant.slug,
            self.forwarding_token(forwarding_id)
        )
    }

    /// Forwards the case to the competent authority. Returns the forwarding's id.
    /// `Conflict` if the case is finished already.
    pub async fn forward_case(
        &self,
        tenant: &Tenant,
        case_id: &str,
        to: &ForwardTo<'_>,
        actor: &Actor,
        author_name: &str,
    ) -> Result<String> {
        let t = &tenant.tenant_id;
        let ending = Ending {
            actor: actor.clone(),
            action: "case.forwarded",
            details: json!({"authority": to.authority, "email": to.email, "reason": to.reason, "documents": to.share_documents}),
            timeline: format!("An die zuständige Stelle abgegeben: {}", to.authority),
            already_final: "Der Vorgang ist abgeschlossen und kann nicht mehr abgegeben werden.",
            terminated: "abgegeben",
        };
        let Ended { mut tx, case, instance_id, now } = self.end_case(tenant, case_id, &ending).await?;
        let forwarding_id = new_id();
        forwardings::insert(
            &mut tx,
            &NewForwarding {
                tenant_id: t,
                forwarding_id: &forwarding_id,
                case_id,
                authority: to.authority,
                email: to.email,
                reason: to.reason,
                share_documents: to.share_documents,
                token_hash: &self.forwarding_token_hash(&self.forwarding_token(&forwarding_id)),
                forwarded_by: author_name,
                now,
                expires_at: now + chrono::Duration::days(LINK_DAYS),
            },
        )
        .await?;
        let message_id = new_id();
        let lang = Lang::parse(&case.lang).unwrap_or_default();
        mailbox::insert(
            &mut tx,
            &mailbox::NewMessage {
                tenant_id: t,
                message_id: &message_id,
                case_id,
                direction: mailbox::OUT,
                author: author_name,
                body: &applicant_text(lang, to.authority, to.reason),
                now,
            },
        )
        .await?;
        crate::notify::queue_for(&mut tx, &message_id, &instance_id, &case, "status", now).await?;
        jobs::insert_write(
            t,
            &format!("{forwarding_id}-mail"),
            &instance_id,
            case_id,
            0,
            "_abgabe",
            FORWARDING_JOB,
            &json!({"forwarding": forwarding_id}),
            &json!({}),
            5,
            now,
            now,
        )
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        self.notify_work();
        Ok(forwarding_id)
    }

    /// The case's forwardings.
    pub async fn forwardings(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<Forwarding>> {
        let mut conn = self.store.conn().await?;
        Ok(forwardings::for_case(&mut conn, &tenant.tenant_id, case_id).await?)
    }

    /// The forwarding a link's token stands for, if any.
    pub async fn open_forwarding(&self, tenant: &Tenant, token: &str) -> Result<Option<OpenedForwarding>> {
        if !crate::is_link_token(token) {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let hash = self.forwarding_token_hash(token);
        let Some(forwarding) = forwardings::by_token_hash(&mut conn, &tenant.tenant_id, &hash).await? else {
            return Ok(None);
        };
        let case =
            cases::by_id(&mut conn, &tenant.tenant_id, &forwarding.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let expired = rathaus_store::parse_ts(&forwarding.expires_at).map(|e| e <= self.clock.now()).unwrap_or(true);
        Ok(Some(OpenedForwarding { forwarding, case, expired }))
    }

    /// Records the authority's first opening of its link (file and audit trail).
    pub async fn record_forwarding_retrieval(&self, tenant: &Tenant, opened: &OpenedForwarding) -> Result<()> {
        let f = &opened.forwarding;
        if f.retrieved_at.is_some() {
            return Ok(());
        }
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        if forwardings::mark_retrieved(&mut tx, t, &f.forwarding_id, now).await? {
            let text = format!("Abgegebener Antrag von {} abgerufen", f.authority);
            events::add(&mut tx, t, &f.case_id, "forwarding", &text, false, now).await?;
            audit::append(
                &mut tx,
                t,
                &Actor::Participant { name: f.authority.clone() },
                "case.forwarding_retrieved",
                "case",
                &f.case_id,
                &json!({"forwarding": f.forwarding_id}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The slow half of the forwarding's job: mails the authority its link. `Some(true)` if
/// mailed, `Some(false)` if there is no mailer, `None` if there is nothing to do.
pub(crate) async fn prepare(
    rt: &Runtime,
    tenant: &Tenant,
    case: &Case,
    forwarding_id: &str,
) -> std::result::Result<Option<bool>, String> {
    let mut conn = rt.store.conn().await.map_err(|e| e.to_string())?;
    let f = forwardings::by_id(&mut conn, &tenant.tenant_id, forwarding_id).await.map_err(|e| e.to_string())?;
    drop(conn);
    let Some(f) = f else { return Ok(None) };
    if f.mailed_at.is_some() {
        return Ok(None);
    }
    let Some(mail) = rt.mail.as_ref() else { return Ok(Some(false)) };
    let link = rt.forwarding_link(tenant, forwarding_id);
    let (subject, text) = mail_text(&tenant.name, &case.reference, &f.reason, &link);
    mail.send(&f.email, &subject, &text).await.map_err(|e| format!("Abgabe nicht versandt: {e}"))?;
    Ok(Some(true))
}

/// The forwarding's job in its transaction: records the mail (once), or that none could be
/// sent (the clerk passes the link on; it is in the case file).
pub(crate) async fn mailed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    forwarding_id: &str,
    sent: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(f) = forwardings::by_id(conn, tenant_id, forwarding_id).await? else { return Ok(()) };
    if !sent {
        let text = format!("Keine E-Mail an {} versandt (kein Mailversand eingerichtet); Link im Vorgang", f.authority);
        events::add(conn, tenant_id, case_id, "forwarding", &text, false, now).await?;
        return Ok(());
    }
    if forwardings::mark_mailed(conn, tenant_id, forwarding_id, now).await? {
        let text = format!("Abgabe mit Link an {} ({}) versandt", f.authority, f.email);
        events::add(conn, tenant_id, case_id, "forwarding", &text, false, now).await?;
        audit::append(
            conn,
            tenant_id,
            &Actor::System,
            "case.forwarding_mailed",
            "case",
            case_id,
            &json!({"forwarding": forwarding_id}),
            now,
        )
        .await?;
    }
    Ok(())
}
