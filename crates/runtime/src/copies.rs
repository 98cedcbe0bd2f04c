//! Abschriften: the connector `rathaus:copy` makes the case's latest document of a template
//! (the traffic order) available to the participants its input names (the police), by a
//! link mailed to each. Like every mail here, the mail names the authority, the reference
//! and the document's title, nothing of the applicant; the link opens the PDF for 90 days.
//!
//! The copy id is derived from the job and the participant, so a retried job records each
//! copy once and mails the same link again at worst. A mail that fails for some recipients
//! is recorded as failed, for the clerk to pass the link on (the case file shows it); only
//! when every mail fails is the job retried. Without a mail server the copies are recorded
//! as not sent, for the same reason.

use crate::{Result, Runtime};
use chrono::{DateTime, Duration, Utc};
use rathaus_engine::participants::ResolvedParticipant;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::Case;
use rathaus_store::copies::{self, Copy, NewCopy, FAILED, SENT, UNSENT};
use rathaus_store::jobs::Job;
use rathaus_store::tenants::Tenant;
use rathaus_store::{documents, events};
use serde_json::json;
use sqlx::AnyConnection;

/// How long a copy's link opens the document.
pub const VALID_DAYS: i64 = 90;

/// A copy prepared outside the job's transaction: mailed (or not), to be recorded.
pub(crate) struct Prepared {
    pub copy_id: String,
    pub token_hash: String,
    pub participant: ResolvedParticipant,
    pub status: &'static str,
    pub error: Option<String>,
}

/// What the job prepared: the document and its copies.
pub(crate) struct Copies {
    pub document_id: String,
    pub title: String,
    pub copies: Vec<Prepared>,
}

/// The copy's id for a job and a participant: the same on every try of the job.
fn derived_id(job_id: &str, participant: &str) -> String {
    let digest = rathaus_store::sha256_hex(format!("copy:{job_id}:{participant}").as_bytes());
    rathaus_domain::ids::uuid_of_hex(&digest[..32]).expect("a SHA-256 in hex has 32 digits and more")
}

fn mail_text(tenant_name: &str, reference: &str, title: &str, link: &str) -> (String, String) {
    (
        format!("Abschrift: {title} zum Vorgang {reference} ({tenant_name})"),
        format!(
            "Guten Tag,\n\n{tenant_name} übersendet Ihnen zur Kenntnis eine Abschrift: {title} zum Vorgang {reference}.\n\nDas Dokument (PDF) können Sie {VALID_DAYS} Tage lang hier abrufen:\n{link}\n\nDer Link ist persönlich für Ihre Stelle; bitte geben Sie ihn nur innerhalb Ihrer Stelle weiter.\n\nDiese E-Mail wurde automatisch erstellt."
        ),
    )
}

impl Runtime {
    fn copy_token(&self, copy_id: &str) -> String {
        self.link_token("copy", copy_id)
    }

    /// The recipient's link of a copy.
    pub fn copy_link(&self, tenant: &Tenant, copy_id: &str) -> String {
        format!(
            "{}/{}/abschrift/{}",
            self.config.public_url.trim_end_matches('/'),
            tenant.slug,
            self.copy_token(copy_id)
        )
    }

    /// Finds the document and mails each participant its link (outside any transaction).
    pub(crate) async fn prepare_copies(
        &self,
        job: &Job,
        tenant: &Tenant,
        case: &Case,
        template: &str,
        participants: Vec<ResolvedParticipant>,
    ) -> std::result::Result<Copies, String> {
        let mut conn = self.store.conn().await.map_err(|e| e.to_string())?;
        let document = documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .rfind(|d| d.template == template)
            .ok_or_else(|| format!("Der Vorgang hat kein Dokument der Vorlage „{template}“ für die Abschrift"))?;
        drop(conn);
        let mut prepared = Vec::new();
        for participant in participants {
            let copy_id = derived_id(&job.job_id, &participant.id);
            let token = self.copy_token(&copy_id);
            let token_hash = self.link_token_hash("copy", &token);
            let (status, error) = match self.mail.as_ref() {
                None => (UNSENT, None),
                Some(mail) => {
                    let (subject, text) =
                        mail_text(&tenant.name, &case.reference, &document.title, &self.copy_link(tenant, &copy_id));
                    match mail.send(&participant.email, &subject, &text).await {
                        Ok(()) => (SENT, None),
                        Err(e) => (FAILED, Some(e.to_string())),
                    }
                }
            };
            prepared.push(Prepared { copy_id, token_hash, participant, status, error });
        }
        if !prepared.is_empty() && prepared.iter().all(|c| c.status == FAILED) {
            return Err(format!("Abschrift an niemanden gesendet: {}", prepared[0].error.clone().unwrap_or_default()));
        }
        Ok(Copies { document_id: document.document_id, title: document.title, copies: prepared })
    }

    /// The case's copies, oldest first.
    pub async fn copies(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<Copy>> {
        let mut conn = self.store.conn().await?;
        Ok(copies::for_case(&mut conn, &tenant.tenant_id, case_id).await?)
    }

    /// The document behind a copy's link, while it is valid; the first opening is audited.
    /// `None` for an unknown token, an expired link or a document erased since.
    pub async fn open_copy(&self, tenant: &Tenant, token: &str) -> Result<Option<(documents::DocumentMeta, Vec<u8>)>> {
        if !crate::is_link_token(token) {
            return Ok(None);
        }
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        let Some(copy) = copies::by_token(&mut tx, t, &self.link_token_hash("copy", token)).await? else {
            return Ok(None);
        };
        if rathaus_store::parse_ts(&copy.expires_at).map(|at| at <= now).unwrap_or(true) {
            return Ok(None);
        }
        let Some(content) = documents::content(&mut tx, t, &copy.case_id, &copy.document_id).await? else {
            return Ok(None);
        };
        if copies::opened(&mut tx, t, &copy.copy_id, now).await? {
            audit::append(
                &mut tx,
                t,
                &Actor::Participant { name: copy.recipient.clone() },
                "copy.opened",
                "case",
                &copy.case_id,
                &json!({"copy": copy.copy_id, "document": copy.document_id}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(content))
    }
}

/// Records the prepared copies in the job's transaction: rows, timeline and audit trail.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    job: &Job,
    t: &str,
    case: &Case,
    c: &Copies,
    now: DateTime<Utc>,
) -> Result<()> {
    for copy in &c.copies {
        let new = NewCopy {
            tenant_id: t,
            copy_id: &copy.copy_id,
            case_id: &case.case_id,
            document_id: &c.document_id,
            recipient: &copy.participant.name,
            email: &copy.participant.email,
            token_hash: &copy.token_hash,
            status: copy.status,
            error: copy.error.as_deref(),
            now,
            expires_at: now + Duration::days(VALID_DAYS),
        };
        if !copies::insert(conn, &new).await? {
            continue;
        }
        let text = match copy.status {
            SENT => format!("Abschrift „{}“ an {} gesendet", c.title, copy.participant.name),
            FAILED => format!(
                "Abschrift „{}“ an {} nicht gesendet ({}): bitte den Link aus der Akte auf anderem Weg übermitteln",
                c.title,
                copy.participant.name,
                copy.error.as_deref().unwrap_or("Fehler")
            ),
            _ => format!(
                "Abschrift „{}“ an {} bereitgestellt, nicht gesendet (kein Mailserver): bitte den Link aus der Akte übermitteln",
                c.title, copy.participant.name
            ),
        };
        events::add(conn, t, &case.case_id, "copy", &text, false, now).await?;
    }
    audit::append(
        conn,
        t,
        &Actor::System,
        "copy.sent",
        "case",
        &case.case_id,
        &json!({"document": c.document_id, "job": job.job_id,
            "recipients": c.copies.iter().map(|x| json!({"copy": x.copy_id, "name": x.participant.name, "status": x.status})).collect::<Vec<_>>()}),
        now,
    )
    .await?;
    Ok(())
}
