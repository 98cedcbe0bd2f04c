//! Consultation (Anhörung, Beteiligung): a clerk asks another body about a case, with a
//! deadline, sharing only the chosen pages of the application and, if chosen, its
//! attachments. The participant gets a link by e-mail (the clerk sees the same link in the
//! case file, to pass on by other means), is reminded a few days before the deadline, and
//! answers on the linked page: agreement, agreement with conditions, or objection. The
//! answer lands in the case file and brings the case back to the clerk's worklist; so does
//! a deadline that passes without an answer.
//!
//! The link's token is derived from the consultation id with the server's secret, so the
//! invitation and reminder jobs can build the link again without the token being stored
//! anywhere; the table holds only its keyed hash. Invitation, reminder and deadline are
//! jobs (`rathaus:consultation`) of the case, run by the worker like any side effect; each
//! looks at the consultation when it runs, so one answered or withdrawn meanwhile makes
//! them do nothing.

use crate::{Result, Runtime, RuntimeError};
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::consultation::{check_answer, check_due, Answer, AnswerProblem, Verdict};
use rathaus_domain::request::{deadline_passed_at, reminder_at};
use rathaus_domain::time::{german_day, german_day_of};
use rathaus_domain::CaseStatus;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::Case;
use rathaus_store::consultations::{self, Mark, NewConsultation};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, instances, new_id, tasks};
use serde_json::json;
use sqlx::AnyConnection;

pub(crate) const CONSULTATION_JOB: &str = "rathaus:consultation";

pub use rathaus_store::consultations::{Consultation, State as ConsultationState};

/// Which moment of a consultation a job stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Invitation,
    Reminder,
    Deadline,
}

impl Phase {
    fn code(self) -> &'static str {
        match self {
            Phase::Invitation => "invitation",
            Phase::Reminder => "reminder",
            Phase::Deadline => "deadline",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Phase> {
        [Phase::Invitation, Phase::Reminder, Phase::Deadline].into_iter().find(|p| p.code() == code)
    }
}

/// What a clerk asks, of whom, and what the participant sees.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub participant: &'a str,
    pub email: &'a str,
    pub question: &'a str,
    /// The form's page ids the participant sees; no page is allowed (a question about the
    /// attachments only).
    pub shared_pages: &'a [String],
    pub share_documents: bool,
    pub due: NaiveDate,
}

/// A participant's link opened: the consultation, and the case it is about.
#[derive(Debug, Clone)]
pub struct Opened {
    pub consultation: Consultation,
    pub case: Case,
    /// The case is finished; the consultation can no longer be answered.
    pub case_closed: bool,
}

/// What became of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Recorded(Verdict),
    /// Not accepted: the problems, one per field.
    Invalid(Vec<AnswerProblem>),
    /// Answered before, withdrawn, or the case is finished.
    Closed,
}

/// Subject and text of the invitation or reminder mail. It names the authority, the
/// reference and the deadline, nothing of the applicant (mail travels through servers
/// nobody here controls); the linked page shows the rest.
fn mail_text(phase: Phase, tenant_name: &str, reference: &str, due: &str, link: &str) -> (String, String) {
    match phase {
        Phase::Reminder => (
            format!("Erinnerung: Beteiligung zum Vorgang {reference} ({tenant_name})"),
            format!(
                "Guten Tag,\n\n{tenant_name} erinnert an die Bitte um Stellungnahme zum Vorgang {reference}. Die Frist endet am {due}.\n\nZur Stellungnahme:\n{link}\n\nDiese E-Mail wurde automatisch erstellt."
            ),
        ),
        _ => (
            format!("Bitte um Stellungnahme zum Vorgang {reference} ({tenant_name})"),
            format!(
                "Guten Tag,\n\n{tenant_name} bittet Sie um eine Stellungnahme zum Vorgang {reference} bis zum {due}.\n\nFrage, Unterlagen und Antwortformular:\n{link}\n\nDer Link ist persönlich für Ihre Stelle; bitte geben Sie ihn nur innerhalb Ihrer Stelle weiter.\n\nDiese E-Mail wurde automatisch erstellt."
            ),
        ),
    }
}

/// A consultation about to begin: by a clerk, or by the process (`rathaus:consult`).
pub(crate) struct Start<'a> {
    pub consultation_id: &'a str,
    pub token_hash: &'a str,
    pub instance_id: &'a str,
    pub author: &'a Actor,
    pub author_name: &'a str,
    pub request: &'a Request<'a>,
}

/// Records a consultation in the caller's transaction: the row, its invitation, reminder
/// and deadline jobs, the timeline and the audit trail.
pub(crate) async fn begin(
    conn: &mut AnyConnection,
    t: &str,
    case_id: &str,
    s: &Start<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let request = s.request;
    let due_text = request.due.format("%Y-%m-%d").to_string();
    consultations::insert(
        conn,
        &NewConsultation {
            tenant_id: t,
            consultation_id: s.consultation_id,
            case_id,
            participant: request.participant,
            email: request.email,
            question: request.question,
            shared_pages: request.shared_pages,
            share_documents: request.share_documents,
            due_date: &due_text,
            token_hash: s.token_hash,
            requested_by: s.author_name,
            now,
        },
    )
    .await?;
    let moments = crate::requests::Moments {
        tenant_id: t,
        instance_id: s.instance_id,
        case_id,
        element: "_beteiligung",
        job_type: CONSULTATION_JOB,
        header: "consultation",
        id: s.consultation_id,
    };
    let phases = [
        (Phase::Invitation, Some(now)),
        (Phase::Reminder, reminder_at(now, request.due)),
        (Phase::Deadline, Some(deadline_passed_at(request.due))),
    ];
    moments.schedule(conn, phases.map(|(p, at)| (p.code(), at)), now).await?;
    events::add(
        conn,
        t,
        case_id,
        "consultation",
        &format!("Beteiligung von {} gestartet, Frist bis {}", request.participant, german_day_of(request.due)),
        false,
        now,
    )
    .await?;
    audit::append(
        conn,
        t,
        s.author,
        "consultation.started",
        "case",
        case_id,
        &json!({"consultation": s.consultation_id, "participant": request.participant, "due": due_text,
            "pages": request.shared_pages, "documents": request.share_documents}),
        now,
    )
    .await?;
    Ok(())
}

impl Runtime {
    /// The token of a consultation's link: derived from its id with the server's secret
    /// (160 bits, hex).
    fn consultation_token(&self, consultation_id: &str) -> String {
        self.link_token("consultation", consultation_id)
    }

    fn consultation_token_hash(&self, token: &str) -> String {
        self.link_token_hash("consultation", token)
    }

    /// The participant's link of a consultation.
    pub fn consultation_link(&self, tenant: &Tenant, consultation_id: &str) -> String {
        format!(
            "{}/{}/beteiligung/{}",
            self.config.public_url.trim_end_matches('/'),
            tenant.slug,
            self.consultation_token(consultation_id)
        )
    }

    /// A clerk starts a consultation (the request checked by the caller: deadline with
    /// [`check_due`], texts and address). Returns its id.
    pub async fn start_consultation(
        &self,
        tenant: &Tenant,
        case: &Case,
        author: &Actor,
        author_name: &str,
        request: &Request<'_>,
    ) -> Result<String> {
        let now = self.clock.now();
        if check_due(now, request.due).is_err() {
            return Err(RuntimeError::Conflict("Frist außerhalb des Erlaubten".into()));
        }
        if CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final) {
            return Err(RuntimeError::Conflict("Der Vorgang ist abgeschlossen.".into()));
        }
        let t = &tenant.tenant_id;
        let consultation_id = new_id();
        let token_hash = self.consultation_token_hash(&self.consultation_token(&consultation_id));
        let mut tx = self.store.begin().await?;
        let instance = instances::by_case(&mut tx, t, &case.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let started = Start {
            consultation_id: &consultation_id,
            token_hash: &token_hash,
            instance_id: &instance.instance_id,
            author,
            author_name,
            request,
        };
        begin(&mut tx, t, &case.case_id, &started, now).await?;
        tx.commit().await?;
        self.notify_work();
        Ok(consultation_id)
    }

    /// A new consultation's id and the hash of its link's token (the process's
    /// `rathaus:consult` connector prepares them outside its transaction).
    pub(crate) fn new_consultation(&self) -> (String, String) {
        let id = new_id();
        let hash = self.consultation_token_hash(&self.consultation_token(&id));
        (id, hash)
    }

    /// The case's consultations, oldest first.
    pub async fn consultations(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<Consultation>> {
        let mut conn = self.store.conn().await?;
        Ok(consultations::for_case(&mut conn, &tenant.tenant_id, case_id).await?)
    }

    /// The tenant's consultations overdue without an answer, with the case's reference.
    pub async fn overdue_consultations(&self, tenant: &Tenant, limit: i64) -> Result<Vec<(Consultation, String)>> {
        let mut conn = self.store.conn().await?;
        Ok(consultations::overdue(&mut conn, &tenant.tenant_id, limit).await?)
    }

    /// A clerk withdraws a waiting consultation; false if it is not waiting (any more).
    pub async fn withdraw_consultation(
        &self,
        tenant: &Tenant,
        case: &Case,
        author: &Actor,
        consultation_id: &str,
    ) -> Result<bool> {
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        let Some(c) = consultations::by_id(&mut tx, t, consultation_id).await? else { return Ok(false) };
        if !consultations::withdraw(&mut tx, t, &case.case_id, consultation_id, now).await? {
            return Ok(false);
        }
        events::add(
            &mut tx,
            t,
            &case.case_id,
            "consultation",
            &format!("Beteiligung von {} zurückgenommen", c.participant),
            false,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            t,
            author,
            "consultation.withdrawn",
            "case",
            &case.case_id,
            &json!({"consultation": consultation_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The consultation a participant's link opens, with its case; `None` for an unknown
    /// token.
    pub async fn open_consultation(&self, tenant: &Tenant, token: &str) -> Result<Option<Opened>> {
        if !crate::is_link_token(token) {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let hash = self.consultation_token_hash(token);
        let Some(consultation) = consultations::by_token_hash(&mut conn, &tenant.tenant_id, &hash).await? else {
            return Ok(None);
        };
        let case =
            cases::by_id(&mut conn, &tenant.tenant_id, &consultation.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let case_closed = CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final);
        Ok(Some(Opened { consultation, case, case_closed }))
    }

    /// The participant answers. The answer lands in the file (timeline, audit) and the
    /// case's open tasks come up for resubmission, so the clerk sees it.
    pub async fn answer_consultation(&self, tenant: &Tenant, token: &str, answer: &Answer) -> Result<Answered> {
        let Some(opened) = self.open_consultation(tenant, token).await? else { return Err(RuntimeError::NotFound) };
        if opened.case_closed || !opened.consultation.waiting() {
            return Ok(Answered::Closed);
        }
        let verdict = match check_answer(answer) {
            Ok(v) => v,
            Err(problems) => return Ok(Answered::Invalid(problems)),
        };
        let now = self.clock.now();
        let t = &tenant.tenant_id;
        let c = &opened.consultation;
        let mut tx = self.store.begin().await?;
        let conditions = if verdict == Verdict::AgreeWithConditions { answer.conditions.trim() } else { "" };
        let statement = consultations::Statement {
            verdict: verdict.code(),
            statement: answer.statement.trim(),
            conditions,
            answered_by: answer.answered_by.trim(),
        };
        if !consultations::answer(&mut tx, t, &c.consultation_id, &statement, now).await? {
            return Ok(Answered::Closed);
        }
        let resubmitted = tasks::follow_up_now(&mut tx, t, &c.case_id, now).await?;
        events::add(
            &mut tx,
            t,
            &c.case_id,
            "consultation",
            &format!("Stellungnahme von {} eingegangen: {}", c.participant, verdict.label_de()),
            false,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            t,
            &Actor::Participant { name: c.participant.clone() },
            "consultation.answered",
            "case",
            &c.case_id,
            &json!({"consultation": c.consultation_id, "verdict": verdict.code(), "answered_by": answer.answered_by.trim(),
                "tasks": resubmitted}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Answered::Recorded(verdict))
    }
}

/// A consultation's job before its transaction: the mail of an invitation or reminder is
/// sent here (outside the transaction, like every side effect); the deadline needs nothing.
/// Returns whether a mail went out.
pub(crate) async fn prepare(
    rt: &Runtime,
    tenant: &Tenant,
    case: &Case,
    consultation_id: &str,
    phase: Phase,
) -> std::result::Result<bool, String> {
    let mut conn = rt.store.conn().await.map_err(|e| e.to_string())?;
    let c = consultations::by_id(&mut conn, &tenant.tenant_id, consultation_id).await.map_err(|e| e.to_string())?;
    drop(conn);
    let Some(c) = c else { return Ok(false) };
    let closed = CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final);
    let already = match phase {
        Phase::Invitation => c.invited_at.is_some(),
        Phase::Reminder => c.reminded_at.is_some(),
        Phase::Deadline => return Ok(false),
    };
    if closed || already || !c.waiting() {
        return Ok(false);
    }
    let Some(mail) = rt.mail.as_ref() else { return Ok(false) };
    let link = rt.consultation_link(tenant, consultation_id);
    let (subject, text) = mail_text(phase, &tenant.name, &case.reference, &german_day(&c.due_date), &link);
    mail.send(&c.email, &subject, &text).await.map_err(|e| format!("Beteiligung nicht versandt: {e}"))?;
    Ok(true)
}

/// A consultation's job in its transaction: records the invitation or reminder, or that the
/// deadline passed (the case's open tasks then come up for resubmission). Nothing if the
/// consultation no longer waits or this moment was recorded before.
pub(crate) async fn due(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    consultation_id: &str,
    phase: Phase,
    mailed: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(c) = consultations::by_id(conn, tenant_id, consultation_id).await? else { return Ok(()) };
    let due = german_day(&c.due_date);
    let (mark, action, text, details) = match phase {
        Phase::Invitation => (
            Mark::Invited,
            "consultation.invited",
            if mailed {
                format!("Bitte um Stellungnahme an {} ({}) versandt", c.participant, c.email)
            } else {
                format!("Keine E-Mail an {} versandt (kein Mailversand eingerichtet); Link im Vorgang", c.participant)
            },
            json!({"consultation": consultation_id, "mailed": mailed}),
        ),
        Phase::Reminder => (
            Mark::Reminded,
            "consultation.reminded",
            format!("{} an die Frist ({due}) erinnert", c.participant),
            json!({"consultation": consultation_id, "mailed": mailed}),
        ),
        Phase::Deadline => (
            Mark::Overdue,
            "consultation.overdue",
            format!(
                "Frist der Beteiligung von {} ({due}) ohne Stellungnahme abgelaufen – zur Wiedervorlage",
                c.participant
            ),
            json!({"consultation": consultation_id}),
        ),
    };
    // A reminder that could not be mailed is not recorded as sent.
    if phase == Phase::Reminder && !mailed {
        return Ok(());
    }
    if !consultations::mark(conn, tenant_id, consultation_id, mark, now).await? {
        return Ok(());
    }
    let mut details = details;
    if phase == Phase::Deadline {
        details["tasks"] = json!(tasks::follow_up_now(conn, tenant_id, case_id, now).await?);
    }
    events::add(conn, tenant_id, case_id, "consultation", &text, false, now).await?;
    audit::append(conn, tenant_id, &Actor::System, action, "case", case_id, &details, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_no_applicant_data() {
        let (subject, text) =
            mail_text(Phase::Invitation, "Stadt Musterstadt", "VA-2026-000042", "21.12.2026", "https://x/y");
        assert!(subject.contains("VA-2026-000042"));
        assert!(text.contains("21.12.2026") && text.contains("https://x/y"));
        let (subject, _) = mail_text(Phase::Reminder, "Stadt Musterstadt", "VA-2026-000042", "21.12.2026", "l");
        assert!(subject.starts_with("Erinnerung"));
    }

    #[test]
    fn phases_round_trip() {
        for p in [Phase::Invitation, Phase::Reminder, Phase::Deadline] {
            assert_eq!(Phase::parse(p.code()), Some(p));
        }
        assert_eq!(Phase::parse("x"), None);
    }
}
