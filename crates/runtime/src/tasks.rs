//! Completing user tasks: a clerk's decision continues the process.

use crate::{
    resume, resume_loaded, tenant_calendar, EffectContext, Result, Resume, Resumed, Runtime, RuntimeError, Step,
};
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, tasks, tenants};
use serde_json::{json, Map, Value as Json};
use std::time::Duration;

/// The clerk's decision (built-in form `rathaus:entscheidung`).
#[derive(Debug, Clone)]
pub struct Decision {
    /// "bestaetigen" or "ablehnen".
    pub outcome: String,
    pub reason: String,
    /// Name shown on the notice ("Im Auftrag …").
    pub clerk_name: String,
    /// Conditions (Auflagen, Nebenbestimmungen) of an approval; empty: none. Only where the
    /// procedure offers approval with conditions.
    pub conditions: String,
}

impl Decision {
    /// The decision as the process and the notice templates see it (`entscheidung`).
    pub fn variable(&self) -> Json {
        let conditions = Some(self.conditions.trim()).filter(|c| !c.is_empty());
        json!({"ergebnis": self.outcome, "begruendung": self.reason, "auflagen": conditions,
            "bearbeitet_von": self.clerk_name})
    }

    /// Checks the decision against what the procedure offers.
    fn check(&self, procedure: &rathaus_engine::Procedure) -> Result<()> {
        if !rathaus_engine::library::OUTCOMES.contains(&self.outcome.as_str()) {
            return Err(RuntimeError::Conflict(format!("unbekannte Entscheidung „{}“", self.outcome)));
        }
        if !self.conditions.trim().is_empty()
            && (self.outcome != "bestaetigen" || !procedure.manifest.decision.conditions)
        {
            return Err(RuntimeError::Conflict("Auflagen gibt es nur bei einer Bestätigung dieses Verfahrens".into()));
        }
        Ok(())
    }
}

impl Runtime {
    /// Completes an open task of the tenant with a decision and continues the process.
    /// `Conflict` if the task is no longer open (decided by someone else meanwhile).
    pub async fn complete_task(
        &self,
        tenant_id: &str,
        task_id: &str,
        decision: &Decision,
        actor: &Actor,
    ) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let tasks::WithInstance { task, instance } =
            tasks::with_instance(&mut conn, tenant_id, task_id).await?.ok_or(RuntimeError::NotFound)?;
        if task.status != "open" {
            return Err(task_closed(&task.status));
        }
        let case = cases::by_id(&mut conn, tenant_id, &task.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let tenant = tenants::by_id(&mut conn, tenant_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let calendar = tenant_calendar(&tenant.settings);
        let procedure = self.procedure_of_deployment(tenant_id, &case.deployment_id).await?;
        decision.check(&procedure)?;
        let mut result = Map::new();
        result.insert("entscheidung".into(), decision.variable());
        let text = match decision.outcome.as_str() {
            "bestaetigen" if !decision.conditions.trim().is_empty() => {
                "Sachbearbeitung hat entschieden: bestätigt mit Auflagen"
            }
            "bestaetigen" => "Sachbearbeitung hat entschieden: bestätigt",
            _ => "Sachbearbeitung hat entschieden: zurückgewiesen",
        };
        // The first attempt uses the instance read with the task; a retry reads it again
        // inside its transaction.
        let mut read = Some(instance);
        for _ in 0..8 {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let ctx = EffectContext {
                tenant_id,
                case_id: &case.case_id,
                instance_id: &task.instance_id,
                procedure: &procedure,
                calendar: &calendar,
                now,
            };
            let mut step = Step::recording(vec![audit::Pending {
                actor: actor.clone(),
                action: "task.completed".into(),
                object_type: "case".into(),
                object_id: case.case_id.clone(),
                details: json!({"task": task_id, "outcome": decision.outcome, "reason": decision.reason,
                    "conditions": !decision.conditions.trim().is_empty()}),
            }]);
            // The instance is the guard: only one completion of the task's token can move it
            // (a second one finds the token gone, or conflicts on the instance's revision).
            step.writes.push(tasks::complete_write(
                tenant_id,
                task_id,
                &Json::Object(result.clone()),
                &actor.label(),
                now,
            ));
            step.writes.push(events::add_write(
                tenant_id,
                &case.case_id,
                "decision",
                &format!("{text} ({})", decision.clerk_name),
                false,
                now,
            ));
            let how = Resume::Complete { token: task.token as u64, result: result.clone() };
            let resumed = match read.take() {
                Some(instance) => resume_loaded(&mut tx, &ctx, instance, how, step).await?,
                None => resume(&mut tx, &ctx, how, step).await?,
            };
            match resumed {
                Resumed::Done { .. } => {}
                Resumed::Conflict => {
                    tx.rollback().await?;
                    continue;
                }
                Resumed::Stale(_) | Resumed::NotDue(_) | Resumed::NoSubscriber => {
                    tx.rollback().await?;
                    let mut conn = self.store.conn().await?;
                    let status = tasks::by_id(&mut conn, tenant_id, task_id).await?.map(|t| t.status);
                    return Err(task_closed(status.as_deref().unwrap_or("cancelled")));
                }
            }
            tx.commit().await?;
            self.notify_work();
            self.drive(tenant_id, &task.instance_id, Duration::from_secs(10)).await;
            return Ok(());
        }
        Err(RuntimeError::Conflict("Der Vorgang wird gerade anderweitig bearbeitet; bitte erneut versuchen.".into()))
    }
}

/// Why a task can no longer be completed, for the clerk.
fn task_closed(status: &str) -> RuntimeError {
    match status {
        "completed" => RuntimeError::Conflict("Diese Aufgabe ist bereits erledigt.".into()),
        _ => RuntimeError::Conflict("Diese Aufgabe wurde zurückgezogen.".into()),
    }
}

/// A change of who works on a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reassign<'a> {
    /// A clerk takes an unassigned task.
    Claim { by: &'a str },
    /// The assignee (or a team lead) gives it back to the team.
    Release { from: &'a str },
    /// A team lead gives it to someone (from whoever had it, or nobody).
    Assign { from: Option<&'a str>, to: &'a str },
    /// A deputy takes over a task of the absent colleague they stand in for.
    TakeOver { from: &'a str, by: &'a str },
}

impl Reassign<'_> {
    fn action(&self) -> &'static str {
        match self {
            Reassign::Claim { .. } => "task.claimed",
            Reassign::Release { .. } => "task.released",
            Reassign::Assign { .. } => "task.assigned",
            Reassign::TakeOver { .. } => "task.taken_over",
        }
    }
}

impl Runtime {
    /// Changes the assignee of an open task, if nobody changed it meanwhile (the caller has
    /// checked that the actor may). Returns false if the task is no longer as the caller
    /// saw it (taken by someone else, or closed).
    pub async fn reassign_task(
        &self,
        tenant_id: &str,
        task_id: &str,
        change: Reassign<'_>,
        actor: &Actor,
    ) -> Result<bool> {
        let (expected, new) = match change {
            Reassign::Claim { by } => (None, Some(by)),
            Reassign::Release { from } => (Some(from), None),
            Reassign::Assign { from, to } => (from, Some(to)),
            Reassign::TakeOver { from, by } => (Some(from), Some(by)),
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let task = tasks::by_id(&mut tx, tenant_id, task_id).await?.ok_or(RuntimeError::NotFound)?;
        if !tasks::set_assignee(&mut tx, tenant_id, task_id, expected, new).await? {
            return Ok(false);
        }
        let text = match new {
            Some(who) => format!("Aufgabe „{}“ bearbeitet jetzt {who}", task.name),
            None => format!("Aufgabe „{}“ an das Team zurückgegeben", task.name),
        };
        events::add(&mut tx, tenant_id, &task.case_id, "task", &text, false, now).await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            change.action(),
            "case",
            &task.case_id,
            &json!({"task": task_id, "from": expected, "to": new}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Runtime {
    /// Records a staff member's absence until `until` (inclusive) with `deputy` (a username)
    /// standing in, or its end (`None`); audited as `staff.absence`.
    pub async fn set_absence(
        &self,
        tenant_id: &str,
        staff_id: &str,
        absence: Option<(chrono::NaiveDate, &str)>,
        actor: &Actor,
    ) -> Result<()> {
        let now = self.clock.now();
        let until = absence.map(|(d, _)| d.format("%Y-%m-%d").to_string());
        let deputy = absence.map(|(_, who)| who);
        let mut tx = self.store.begin().await?;
        rathaus_store::staff::set_absence(&mut tx, tenant_id, staff_id, until.as_deref(), deputy).await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "staff.absence",
            "staff",
            staff_id,
            &json!({"until": until, "deputy": deputy}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Runtime {
    /// Keeps `decision` as a proposal on the open task for a second person (four-eyes
    /// principle); `Conflict` if one is waiting already or the task is closed.
    pub async fn propose_decision(
        &self,
        tenant_id: &str,
        task_id: &str,
        decision: &Decision,
        actor: &Actor,
    ) -> Result<()> {
        let now = self.clock.now();
        let by = match actor {
            Actor::Staff { username, .. } => username.clone(),
            other => other.label(),
        };
        let proposal = decision.variable();
        let mut tx = self.store.begin().await?;
        let task = tasks::by_id(&mut tx, tenant_id, task_id).await?.ok_or(RuntimeError::NotFound)?;
        let case = cases::by_id(&mut tx, tenant_id, &task.case_id).await?.ok_or(RuntimeError::NotFound)?;
        decision.check(&*self.procedure_of_deployment(tenant_id, &case.deployment_id).await?)?;
        if !tasks::propose(&mut tx, tenant_id, task_id, &proposal.to_string(), &by).await? {
            return Err(RuntimeError::Conflict("Zu dieser Aufgabe liegt schon ein Vorschlag vor.".into()));
        }
        let text = format!(
            "Entscheidung „{}“ von {} zur Freigabe vorgeschlagen",
            outcome_de(&decision.outcome),
            decision.clerk_name
        );
        events::add(&mut tx, tenant_id, &task.case_id, "task", &text, false, now).await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "task.proposed",
            "case",
            &task.case_id,
            &json!({"task": task_id, "outcome": decision.outcome}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A second person approves the task's proposal: the proposed decision completes the
    /// task (the notice names whoever proposed it). `Conflict` if the proposal changed or is
    /// gone meanwhile.
    pub async fn approve_proposal(&self, tenant_id: &str, task_id: &str, actor: &Actor) -> Result<()> {
        let (task, decision, proposed_by) = self.proposal_of(tenant_id, task_id).await?;
        self.complete_task(tenant_id, task_id, &decision, actor).await?;
        let mut tx = self.store.begin().await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "task.approved",
            "case",
            &task.case_id,
            &json!({"task": task_id, "proposed_by": proposed_by, "outcome": decision.outcome}),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A second person sends the proposal back with `reason`; the task waits for a new
    /// decision.
    pub async fn reject_proposal(&self, tenant_id: &str, task_id: &str, reason: &str, actor: &Actor) -> Result<()> {
        let (task, _, proposed_by) = self.proposal_of(tenant_id, task_id).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let proposal = task.proposal.clone().unwrap_or_default();
        if !tasks::clear_proposal(&mut tx, tenant_id, task_id, &proposal).await? {
            return Err(RuntimeError::Conflict("Der Vorschlag wurde inzwischen geändert.".into()));
        }
        events::add(
            &mut tx,
            tenant_id,
            &task.case_id,
            "task",
            &format!("Vorgeschlagene Entscheidung nicht freigegeben: {reason}"),
            false,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "task.proposal_rejected",
            "case",
            &task.case_id,
            &json!({"task": task_id, "proposed_by": proposed_by, "reason": reason}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The notice a decision of the task would produce, as PDF, without deciding anything:
    /// the template the procedure names for the outcome (`[decision.templates]`), filled
    /// with the case as it stands and the decision as drafted. `NotFound` if the procedure
    /// names no template for the outcome.
    pub async fn preview_decision(&self, tenant: &Tenant, task_id: &str, decision: &Decision) -> Result<Vec<u8>> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let tasks::WithInstance { task, instance } =
            tasks::with_instance(&mut conn, t, task_id).await?.ok_or(RuntimeError::NotFound)?;
        let case = cases::by_id(&mut conn, t, &task.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let fee = rathaus_store::fees::for_case(&mut conn, t, &case.case_id).await?.into_iter().last();
        drop(conn);
        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        decision.check(&procedure)?;
        let name = procedure.manifest.decision.templates.get(&decision.outcome).ok_or(RuntimeError::NotFound)?;
        let source = procedure.templates.get(name).cloned().ok_or(RuntimeError::NotFound)?;
        let title =
            procedure.template_title(name).map(|x| x.get(rathaus_domain::Lang::De).to_string()).unwrap_or_default();
        let mut variables = serde_json::from_str::<rathaus_engine::executor::Instance>(&instance.state)
            .map(|i| i.variables_json())
            .unwrap_or_else(|_| json!({}));
        variables["entscheidung"] = decision.variable();
        let data = crate::docdata::document_data(&crate::docdata::DocumentContext {
            tenant,
            case: &case,
            procedure: &procedure,
            variables: &variables,
            fee: fee.as_ref(),
            title: &title,
            now: self.clock.now(),
            public_url: &self.config.public_url,
        })
        .map_err(RuntimeError::Procedure)?;
        tokio::task::spawn_blocking(move || rathaus_documents::render_pdf(&source, &data))
            .await
            .map_err(|e| RuntimeError::Procedure(format!("Vorschau abgebrochen: {e}")))?
            .map_err(|e| RuntimeError::Procedure(format!("Vorschau „{name}“: {e}")))
    }

    /// The open task with its waiting proposal, read as a decision, and who proposed it.
    async fn proposal_of(&self, tenant_id: &str, task_id: &str) -> Result<(tasks::Task, Decision, String)> {
        let mut conn = self.store.conn().await?;
        let task = tasks::by_id(&mut conn, tenant_id, task_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let (Some(proposal), Some(by)) = (task.proposal.clone(), task.proposed_by.clone()) else {
            return Err(RuntimeError::Conflict("Zu dieser Aufgabe liegt kein Vorschlag vor.".into()));
        };
        let p: serde_json::Value =
            serde_json::from_str(&proposal).map_err(|e| RuntimeError::Procedure(format!("Vorschlag unlesbar: {e}")))?;
        let text = |k: &str| p.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        let decision = Decision {
            outcome: text("ergebnis"),
            reason: text("begruendung"),
            clerk_name: text("bearbeitet_von"),
            conditions: text("auflagen"),
        };
        Ok((task, decision, by))
    }
}

/// How the timeline names an outcome.
fn outcome_de(outcome: &str) -> &str {
    match outcome {
        "bestaetigen" => "bestätigen",
        "ablehnen" => "ablehnen",
        other => other,
    }
}

/// How far ahead a clerk may put a task for resubmission.
pub const FOLLOW_UP_MAX_DAYS: i64 = 366;

impl Runtime {
    /// Puts an open task for resubmission (Wiedervorlage) on `date`, 08:00 German time, or
    /// clears it (`None`). The caller has checked the date and that the actor may.
    pub async fn set_follow_up(
        &self,
        tenant_id: &str,
        task_id: &str,
        date: Option<chrono::NaiveDate>,
        actor: &Actor,
    ) -> Result<bool> {
        let now = self.clock.now();
        let at = date.map(|d| rathaus_domain::request::german_instant(d, 8));
        let mut tx = self.store.begin().await?;
        let task = tasks::by_id(&mut tx, tenant_id, task_id).await?.ok_or(RuntimeError::NotFound)?;
        if !tasks::set_follow_up(&mut tx, tenant_id, task_id, at).await? {
            return Ok(false);
        }
        let text = match date {
            Some(d) => format!("Wiedervorlage der Aufgabe „{}“ am {}", task.name, d.format("%d.%m.%Y")),
            None => format!("Wiedervorlage der Aufgabe „{}“ aufgehoben", task.name),
        };
        events::add(&mut tx, tenant_id, &task.case_id, "task", &text, false, now).await?;
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "task.follow_up",
            "case",
            &task.case_id,
            &json!({"task": task_id, "date": date.map(|d| d.to_string())}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
