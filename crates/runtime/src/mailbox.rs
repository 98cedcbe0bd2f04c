//! The mailbox of a case: the applicant and the authority write to each other, with a file
//! if need be. A message from the applicant is also offered to the case's process as the
//! message `nachricht` (a step waiting for the applicant's answer continues); a message from
//! the authority notifies the applicant's account.

use crate::uploads::{Checked, Limits, Refused};
use crate::{Result, Runtime};
use rathaus_domain::attachment::FileType;
use rathaus_domain::Lang;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::Case;
use rathaus_store::mailbox::{self, CaseMessage};
use rathaus_store::tenants::Tenant;
use rathaus_store::{events, instances, new_id};
use serde_json::json;

/// The largest file a message may carry.
pub const MESSAGE_FILE_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The longest message text.
pub const MESSAGE_MAX_CHARS: usize = 5000;
/// The process message a message from the applicant is offered to the case as.
pub const MESSAGE_NAME: &str = "nachricht";

/// A file sent with a message.
pub struct MessageFile<'a> {
    pub name: &'a str,
    pub content: &'a [u8],
    /// The name of the form's file input (where an error is shown) and its label.
    pub field: &'a str,
    pub label: &'a str,
}

impl Runtime {
    /// The case's messages, oldest first.
    pub async fn messages(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<CaseMessage>> {
        let mut conn = self.store.conn().await?;
        Ok(mailbox::for_case(&mut conn, &tenant.tenant_id, case_id).await?)
    }

    /// Marks the messages of the other side as read (`direction` is theirs: `in` when the
    /// clerk reads, `out` when the applicant reads).
    pub async fn mark_messages_read(&self, tenant: &Tenant, case_id: &str, direction: &str) -> Result<()> {
        let mut conn = self.store.conn().await?;
        mailbox::mark_read(&mut conn, &tenant.tenant_id, case_id, direction, self.clock.now()).await?;
        Ok(())
    }

    /// The applicant writes to the authority. The file, if any, is checked like an upload
    /// (PDF, JPEG or PNG, at most 10 MB, scanned); a refused file stores nothing.
    pub async fn message_from_applicant(
        &self,
        tenant: &Tenant,
        case: &Case,
        body: &str,
        file: Option<MessageFile<'_>>,
        lang: Lang,
    ) -> Result<std::result::Result<String, Refused>> {
        let message_id = new_id();
        let checked = match &file {
            None => None,
            Some(f) => {
                let limits = Limits {
                    field: f.field,
                    label: f.label,
                    accept: &FileType::ALL,
                    max_bytes: MESSAGE_FILE_MAX_BYTES,
                };
                match self.check_file(tenant, &limits, f.name, f.content, ("case", &case.case_id), lang).await? {
                    Ok(c) => Some((c, f.content)),
                    Err(refused) => return Ok(Err(refused)),
                }
            }
        };
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        mailbox::insert(
            &mut tx,
            &mailbox::NewMessage {
                tenant_id: t,
                message_id: &message_id,
                case_id: &case.case_id,
                direction: mailbox::IN,
                author: "",
                body,
                now,
            },
        )
        .await?;
        let mut file_info = serde_json::Value::Null;
        if let Some((Checked { name, kind, scan }, content)) = &checked {
            let sha256 = mailbox::attach(
                &mut tx,
                &mailbox::Attachment {
                    tenant_id: t,
                    document_id: &new_id(),
                    case_id: &case.case_id,
                    message_id: &message_id,
                    file_name: name,
                    media_type: kind.media_type(),
                    content,
                    scan,
                    now,
                },
            )
            .await?;
            file_info = json!({"type": kind.code(), "size": content.len(), "sha256": sha256, "scan": scan});
        }
        events::add(&mut tx, t, &case.case_id, "message", "Nachricht an die Behörde gesendet", true, now).await?;
        crate::requests::answer(&mut tx, t, &case.case_id, &message_id, now).await?;
        audit::append(
            &mut tx,
            t,
            &Actor::Applicant,
            "message.received",
            "case",
            &case.case_id,
            &json!({"message": message_id, "file": file_info}),
            now,
        )
        .await?;
        tx.commit().await?;
        // A step that waits for the applicant's answer continues; if none waits, the message
        // is only in the mailbox (it is not kept for a later step).
        let payload = serde_json::Map::from_iter([("nachricht".to_string(), json!({"id": message_id}))]);
        if let Err(e) = self
            .correlate_message(t, &case.reference, MESSAGE_NAME, payload, chrono::Duration::zero(), &Actor::Applicant)
            .await
        {
            tracing::warn!(error = %e, case = case.reference, "message not offered to the process");
        }
        Ok(Ok(message_id))
    }

    /// The authority writes to the applicant; the applicant's account is notified.
    pub async fn message_to_applicant(
        &self,
        tenant: &Tenant,
        case: &Case,
        author: &Actor,
        author_name: &str,
        body: &str,
    ) -> Result<String> {
        let message_id = new_id();
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        mailbox::insert(
            &mut tx,
            &mailbox::NewMessage {
                tenant_id: t,
                message_id: &message_id,
                case_id: &case.case_id,
                direction: mailbox::OUT,
                author: author_name,
                body,
                now,
            },
        )
        .await?;
        events::add(&mut tx, t, &case.case_id, "message", "Nachricht der Behörde", true, now).await?;
        audit::append(&mut tx, t, author, "message.sent", "case", &case.case_id, &json!({"message": message_id}), now)
            .await?;
        if let Some(instance) = instances::by_case(&mut tx, t, &case.case_id).await? {
            crate::notify::queue_for(&mut tx, &message_id, &instance.instance_id, case, "message", now).await?;
        }
        tx.commit().await?;
        self.notify_work();
        Ok(message_id)
    }
}
