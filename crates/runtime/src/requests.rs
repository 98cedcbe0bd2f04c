//! Requests to the applicant for missing documents or information (Nachforderung): a clerk
//! asks, with a deadline, through the case's mailbox; the case waits. The applicant is
//! notified at once and reminded a few days before the deadline; when it passes without an
//! answer, the case's open tasks are due for resubmission (Wiedervorlage) at once, so the
//! clerk's worklist shows it. The applicant's next message answers the waiting requests.
//!
//! The reminder and the deadline are jobs (`rathaus:request`) of the case, run by the
//! worker like any side effect; each looks at the request when it runs, so a request
//! answered or withdrawn meanwhile makes them do nothing.

use crate::{Result, Runtime, RuntimeError};
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::request::{deadline_passed_at, reminder_at};
use rathaus_domain::time::{german_day, german_day_of};
use rathaus_domain::Lang;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::Case;
use rathaus_store::requests::{self, NewRequest, Request};
use rathaus_store::tenants::Tenant;
use rathaus_store::{events, instances, jobs, mailbox, new_id, tasks};
use serde_json::json;
use sqlx::AnyConnection;

pub(crate) const REQUEST_JOB: &str = "rathaus:request";

pub use rathaus_domain::request::{check_due, DueProblem, MAX_TEXT};
pub use rathaus_store::requests::{Request as DocumentRequest, State as RequestState};

/// Which moment of a request a job stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Reminder,
    Deadline,
}

impl Phase {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Phase::Reminder => "reminder",
            Phase::Deadline => "deadline",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Phase> {
        match code {
            "reminder" => Some(Phase::Reminder),
            "deadline" => Some(Phase::Deadline),
            _ => None,
        }
    }
}

/// The message that asks, in the case's language.
fn message_text(lang: Lang, what: &str, due: NaiveDate) -> String {
    match lang {
        Lang::De => format!(
            "Bitte reichen Sie bis zum {} Folgendes nach:\n\n{what}\n\nAntworten Sie hier im Postfach; Dateien können Sie anhängen. Bis dahin ruht die Bearbeitung Ihres Antrags.",
            german_day_of(due)
        ),
        Lang::En => format!(
            "Please send us the following by {}:\n\n{what}\n\nAnswer here in the mailbox; you can attach files. Until then, your application is on hold.",
            due.format("%d %B %Y")
        ),
    }
}

/// The moments of something asked with a deadline (a request, a consultation), each a job
/// of the case that looks at it when it comes due.
pub(crate) struct Moments<'a> {
    pub tenant_id: &'a str,
    pub instance_id: &'a str,
    pub case_id: &'a str,
    /// The pseudo element the jobs stand for in the case's operations view.
    pub element: &'a str,
    pub job_type: &'a str,
    /// The header naming what was asked (its id), next to `phase`.
    pub header: &'a str,
    pub id: &'a str,
}

impl Moments<'_> {
    /// Queues one job per phase (code, when), keyed `{id}-{code}`; a phase without a
    /// moment (a reminder that would come too late) is left out.
    pub(crate) async fn schedule<const N: usize>(
        &self,
        conn: &mut AnyConnection,
        phases: [(&str, Option<DateTime<Utc>>); N],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for (phase, at) in phases {
            let Some(at) = at else { continue };
            jobs::insert_write(
                self.tenant_id,
                &format!("{}-{phase}", self.id),
                self.instance_id,
                self.case_id,
                0,
                self.element,
                self.job_type,
                &json!({self.header: self.id, "phase": phase}),
                &json!({}),
                5,
                at,
                now,
            )
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

impl Runtime {
    /// A clerk asks the applicant for `what` by `due` (checked with [`check_due`] by the
    /// caller). Returns the request's id.
    pub async fn request_documents(
        &self,
        tenant: &Tenant,
        case: &Case,
        author: &Actor,
        author_name: &str,
        what: &str,
        due: NaiveDate,
    ) -> Result<String> {
        let now = self.clock.now();
        if check_due(now, due).is_err() {
            return Err(RuntimeError::Conflict("Frist außerhalb des Erlaubten".into()));
        }
        let t = &tenant.tenant_id;
        let lang = Lang::parse(&case.lang).unwrap_or_default();
        let request_id = new_id();
        let message_id = new_id();
        let mut tx = self.store.begin().await?;
        let instance = instances::by_case(&mut tx, t, &case.case_id).await?.ok_or(RuntimeError::NotFound)?;
        mailbox::insert(
            &mut tx,
            &mailbox::NewMessage {
                tenant_id: t,
                message_id: &message_id,
                case_id: &case.case_id,
                direction: mailbox::OUT,
                author: author_name,
                body: &message_text(lang, what, due),
                now,
            },
        )
        .await?;
        let due_text = due.format("%Y-%m-%d").to_string();
        requests::insert(
            &mut tx,
            &NewRequest {
                tenant_id: t,
                request_id: &request_id,
                case_id: &case.case_id,
                message_id: &message_id,
                body: what,
                due_date: &due_text,
                requested_by: author_name,
                now,
            },
        )
        .await?;
        let moments = Moments {
            tenant_id: t,
            instance_id: &instance.instance_id,
            case_id: &case.case_id,
            element: "_nachforderung",
            job_type: REQUEST_JOB,
            header: "request",
            id: &request_id,
        };
        let phases = [(Phase::Reminder, reminder_at(now, due)), (Phase::Deadline, Some(deadline_passed_at(due)))];
        moments.schedule(&mut tx, phases.map(|(p, at)| (p.code(), at)), now).await?;
        events::add(
            &mut tx,
            t,
            &case.case_id,
            "request",
            &format!("Unterlagen oder Angaben nachgefordert, Frist bis {}", german_day_of(due)),
            true,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            t,
            author,
            "request.created",
            "case",
            &case.case_id,
            &json!({"request": request_id, "message": message_id, "due": due_text}),
            now,
        )
        .await?;
        crate::notify::queue_for(&mut tx, &message_id, &instance.instance_id, case, "request", now).await?;
        tx.commit().await?;
        self.notify_work();
        Ok(request_id)
    }

    /// The case's requests, oldest first.
    pub async fn document_requests(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<Request>> {
        let mut conn = self.store.conn().await?;
        Ok(requests::for_case(&mut conn, &tenant.tenant_id, case_id).await?)
    }

    /// A clerk withdraws a waiting request; false if it is not waiting (any more).
    pub async fn withdraw_request(
        &self,
        tenant: &Tenant,
        case: &Case,
        author: &Actor,
        request_id: &str,
    ) -> Result<bool> {
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        if !requests::withdraw(&mut tx, t, &case.case_id, request_id, now).await? {
            return Ok(false);
        }
        events::add(&mut tx, t, &case.case_id, "request", "Nachforderung zurückgenommen", true, now).await?;
        audit::append(
            &mut tx,
            t,
            author,
            "request.withdrawn",
            "case",
            &case.case_id,
            &json!({"request": request_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// In the transaction of the applicant's message: it answers the case's waiting requests.
pub(crate) async fn answer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let answered = requests::answer_waiting(conn, tenant_id, case_id, message_id, now).await?;
    if answered > 0 {
        events::add(conn, tenant_id, case_id, "request", "Antwort auf die Nachforderung eingegangen", true, now)
            .await?;
        audit::append(
            conn,
            tenant_id,
            &Actor::Applicant,
            "request.answered",
            "case",
            case_id,
            &json!({"message": message_id, "requests": answered}),
            now,
        )
        .await?;
    }
    Ok(())
}

/// A request's job has come due (in the job's transaction): remind the applicant, or
/// record that the deadline passed and bring the case back to the clerk. Nothing if the
/// request is no longer waiting. Returns whether the applicant is to be notified.
pub(crate) async fn due(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    request_id: &str,
    phase: Phase,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(request) = requests::by_id(conn, tenant_id, request_id).await? else { return Ok(false) };
    let due_text = german_day(&request.due_date);
    match phase {
        Phase::Reminder => {
            if !requests::mark_reminded(conn, tenant_id, request_id, now).await? {
                return Ok(false);
            }
            events::add(
                conn,
                tenant_id,
                case_id,
                "request",
                &format!("Erinnerung: Die Frist für die nachgeforderten Unterlagen endet am {due_text}."),
                true,
                now,
            )
            .await?;
            audit::append(
                conn,
                tenant_id,
                &Actor::System,
                "request.reminded",
                "case",
                case_id,
                &json!({"request": request_id}),
                now,
            )
            .await?;
            Ok(true)
        }
        Phase::Deadline => {
            if !requests::mark_overdue(conn, tenant_id, request_id, now).await? {
                return Ok(false);
            }
            let tasks = tasks::follow_up_now(conn, tenant_id, case_id, now).await?;
            events::add(
                conn,
                tenant_id,
                case_id,
                "request",
                &format!("Frist der Nachforderung ({due_text}) ohne Antwort abgelaufen – zur Wiedervorlage"),
                false,
                now,
            )
            .await?;
            audit::append(
                conn,
                tenant_id,
                &Actor::System,
                "request.overdue",
                "case",
                case_id,
                &json!({"request": request_id, "tasks": tasks}),
                now,
            )
            .await?;
            Ok(false)
        }
    }
}
