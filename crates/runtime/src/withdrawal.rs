//! Withdrawing an application (Rücknahme): the applicant withdraws it from the status page,
//! or a clerk records a withdrawal that came by letter, e-mail or phone. The case is closed,
//! its process stops (open tasks, jobs and timers are cancelled), and nothing of it runs any
//! more. A case that is finished already cannot be withdrawn.

use crate::{resume_loaded, tenant_calendar, EffectContext, Result, Resume, Resumed, Runtime, RuntimeError, Step};
use rathaus_domain::CaseStatus;
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, instances};
use serde_json::json;

/// Who withdrew.
#[derive(Debug, Clone)]
pub enum Withdrawal {
    /// The applicant, online.
    Applicant,
    /// A clerk records the applicant's withdrawal, with how it came (the reason shown in
    /// the file).
    Recorded { actor: Actor, note: String },
}

/// How a case ends before its process does (withdrawn, forwarded): who, the audit action
/// with its details, the public timeline entry, and what to say if it is finished already.
pub(crate) struct Ending<'a> {
    pub actor: Actor,
    pub action: &'a str,
    pub details: serde_json::Value,
    pub timeline: String,
    pub already_final: &'a str,
    /// Why the process ended, as its state records it.
    pub terminated: &'a str,
}

/// A case ended within an open transaction: the caller adds its own writes and commits.
pub(crate) struct Ended {
    pub tx: rathaus_store::Tx,
    /// The case as it was before it ended.
    pub case: cases::Case,
    pub instance_id: String,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Runtime {
    /// Ends the case in a transaction left open for the caller: the process is terminated
    /// (its tasks, jobs and timers cancelled), the case closed (its deadlines met), the
    /// participants' links closed, the timeline and audit trail written. `Conflict` if the
    /// case is finished already or keeps changing.
    pub(crate) async fn end_case(&self, tenant: &Tenant, case_id: &str, ending: &Ending<'_>) -> Result<Ended> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let case = cases::by_id(&mut conn, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        let calendar = tenant_calendar(&tenant.settings);
        for _ in 0..8 {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let current = cases::by_id(&mut tx, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
            if CaseStatus::parse(&current.status).is_some_and(CaseStatus::is_final) {
                return Err(RuntimeError::Conflict(ending.already_final.into()));
            }
            let row = instances::by_case(&mut tx, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
            let instance_id = row.instance_id.clone();
            let ctx = EffectContext {
                tenant_id: t,
                case_id,
                instance_id: &instance_id,
                procedure: &procedure,
                calendar: &calendar,
                now,
            };
            let step = Step::recording(vec![audit::Pending {
                actor: ending.actor.clone(),
                action: ending.action.into(),
                object_type: "case".into(),
                object_id: case_id.to_string(),
                details: ending.details.clone(),
            }]);
            let how = Resume::Terminate { reason: ending.terminated.into() };
            match resume_loaded(&mut tx, &ctx, row, how, step).await? {
                Resumed::Done { .. } => {}
                Resumed::Conflict => {
                    tx.rollback().await?;
                    continue;
                }
                // Terminating always applies; these answers belong to other kinds of resuming.
                Resumed::Stale(_) | Resumed::NoSubscriber | Resumed::NotDue(_) => {
                    tx.rollback().await?;
                    return Err(RuntimeError::Conflict("Der Vorgang kann gerade nicht beendet werden.".into()));
                }
            }
            cases::set_status(&mut tx, t, case_id, CaseStatus::Closed.code(), true, now).await?;
            cases::close(&mut tx, t, case_id, now).await?;
            events::add(&mut tx, t, case_id, "status", &ending.timeline, true, now).await?;
            // The participants' links close with the case.
            rathaus_store::consultations::withdraw_all(&mut tx, t, case_id, now).await?;
            return Ok(Ended { tx, case: current, instance_id, now });
        }
        Err(RuntimeError::Conflict("Der Vorgang wird gerade anderweitig bearbeitet; bitte erneut versuchen.".into()))
    }

    /// Withdraws the case. `Conflict` if it is finished already.
    pub async fn withdraw_case(&self, tenant: &Tenant, case_id: &str, how: &Withdrawal) -> Result<()> {
        let (actor, timeline, details) = match how {
            Withdrawal::Applicant => (
                Actor::Applicant,
                "Antrag von der Antragstellerin oder dem Antragsteller zurückgenommen".to_string(),
                json!({"by": "applicant"}),
            ),
            Withdrawal::Recorded { actor, note } => {
                (actor.clone(), format!("Rücknahme des Antrags erfasst: {note}"), json!({"by": "staff", "note": note}))
            }
        };
        let ending = Ending {
            actor,
            action: "case.withdrawn",
            details,
            timeline,
            already_final: "Der Antrag ist bereits abgeschlossen und kann nicht mehr zurückgenommen werden.",
            terminated: "zurückgenommen",
        };
        let Ended { mut tx, case, instance_id, now } = self.end_case(tenant, case_id, &ending).await?;
        if matches!(how, Withdrawal::Recorded { .. }) {
            crate::notify::queue_for(&mut tx, &format!("{case_id}-withdrawn"), &instance_id, &case, "status", now)
                .await?;
        }
        tx.commit().await?;
        self.notify_work();
        Ok(())
    }
}
