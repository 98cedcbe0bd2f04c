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

impl Runtime {
    /// Withdraws the case. `Conflict` if it is finished already.
    pub async fn withdraw_case(&self, tenant: &Tenant, case_id: &str, how: &Withdrawal) -> Result<()> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let case = cases::by_id(&mut conn, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        let calendar = tenant_calendar(&tenant.settings);
        let (actor, text, details) = match how {
            Withdrawal::Applicant => (
                Actor::Applicant,
                "Antrag von der Antragstellerin oder dem Antragsteller zurückgenommen".to_string(),
                json!({"by": "applicant"}),
            ),
            Withdrawal::Recorded { actor, note } => {
                (actor.clone(), format!("Rücknahme des Antrags erfasst: {note}"), json!({"by": "staff", "note": note}))
            }
        };
        for _ in 0..8 {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let current = cases::by_id(&mut tx, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
            if CaseStatus::parse(&current.status).is_some_and(CaseStatus::is_final) {
                return Err(RuntimeError::Conflict(
                    "Der Antrag ist bereits abgeschlossen und kann nicht mehr zurückgenommen werden.".into(),
                ));
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
                actor: actor.clone(),
                action: "case.withdrawn".into(),
                object_type: "case".into(),
                object_id: case_id.to_string(),
                details: details.clone(),
            }]);
            match resume_loaded(&mut tx, &ctx, row, Resume::Terminate { reason: "zurückgenommen".into() }, step).await?
            {
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
            events::add(&mut tx, t, case_id, "status", &text, true, now).await?;
            // The participants' links close with the case.
            rathaus_store::consultations::withdraw_all(&mut tx, t, case_id, now).await?;
            if matches!(how, Withdrawal::Recorded { .. }) {
                crate::notify::queue_for(
                    &mut tx,
                    &format!("{case_id}-withdrawn"),
                    &instance_id,
                    &current,
                    "status",
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            self.notify_work();
            return Ok(());
        }
        Err(RuntimeError::Conflict("Der Vorgang wird gerade anderweitig bearbeitet; bitte erneut versuchen.".into()))
    }
}
