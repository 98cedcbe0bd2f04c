//! E-mail notifications: when the status of a case changes or a document for the applicant
//! is ready, the account that submitted it gets a mail saying only *that* there is news, with
//! a link to the account. The mail holds no personal data and nothing of the case (mail
//! travels through servers nobody here controls); what happened is shown after signing in.
//!
//! A notification is a job of its own, queued in the transaction of the change and sent by
//! the worker like any side effect: with retries and a dead letter, at least once (a crash
//! between sending and recording may send it twice, never lose it).

use crate::Result;
use chrono::{DateTime, Utc};
use rathaus_domain::Lang;
use rathaus_store::cases::Case;
use rathaus_store::jobs::{self, Job};
use serde_json::json;
use sqlx::AnyConnection;

pub(crate) const NOTIFY_JOB: &str = "rathaus:notify";

/// Subject and text of the notification, in the case's language.
pub(crate) fn mail_text(lang: Lang, tenant_name: &str, link: &str) -> (String, String) {
    match lang {
        Lang::De => (
            format!("Neuigkeiten zu Ihrem Antrag bei {tenant_name}"),
            format!(
                "Guten Tag,\n\nes gibt Neuigkeiten zu einem Ihrer Anträge bei {tenant_name}. Melden Sie sich an, um sie zu sehen:\n\n{link}\n\nAus Datenschutzgründen steht in dieser E-Mail nicht, worum es geht.\n\nDiese E-Mail wurde automatisch erstellt."
            ),
        ),
        Lang::En => (
            format!("News about your application with {tenant_name}"),
            format!(
                "Hello,\n\nthere is news about one of your applications with {tenant_name}. Sign in to see it:\n\n{link}\n\nFor data protection, this email does not say what it is about.\n\nThis email was sent automatically."
            ),
        ),
    }
}

/// Queues a notification for the case's account, if it has one with a confirmed address
/// and no notification of the case is waiting already (one mail for a burst of changes). Its
/// id derives from the job that caused it, so the same change never queues two.
pub(crate) async fn queue(
    conn: &mut AnyConnection,
    cause: &Job,
    case: &Case,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    queue_for(conn, &cause.job_id, &cause.instance_id, case, reason, now).await
}

/// [`queue`] for a change that is not a job (a clerk's message): `cause_id` names the change.
pub(crate) async fn queue_for(
    conn: &mut AnyConnection,
    cause_id: &str,
    instance_id: &str,
    case: &Case,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if rathaus_store::accounts::notify_address(conn, &case.tenant_id, &case.case_id).await?.is_none()
        || jobs::has_pending(conn, &case.tenant_id, &case.case_id, NOTIFY_JOB).await?
    {
        return Ok(());
    }
    jobs::insert_write(
        &case.tenant_id,
        &format!("{cause_id}-notify"),
        instance_id,
        &case.case_id,
        0,
        "_benachrichtigung",
        NOTIFY_JOB,
        &json!({"reason": reason}),
        &json!({}),
        8,
        now,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}
