//! External workers: service tasks whose type is not a built-in `rathaus:` connector are done
//! by outside systems (a municipality's specialist software), as with Camunda's external
//! tasks or Zeebe's job workers. A worker fetches and locks jobs of its types, then completes
//! them with variables, reports a failure (retried or dead-lettered) or a BPMN error (caught
//! by an error boundary event). Every call is scoped to the tenant of the API key.

use crate::{resume, tenant_calendar, EffectContext, Result, Resume, Resumed, Runtime, RuntimeError, Step};
use rathaus_store::audit::{self, Actor};
use rathaus_store::jobs::{self, Claim, Job, BUILT_IN_PREFIX};
use rathaus_store::{cases, events, tenants};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::time::Duration;

/// A locked job as an external worker sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalJob {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    /// The BPMN element (service task) the job belongs to.
    pub element: String,
    /// The Aktenzeichen of the case.
    pub reference: String,
    pub variables: Json,
    pub headers: Json,
    pub retries: i64,
    pub locked_until: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("Auftragstyp „{0}“ ist den eingebauten Konnektoren vorbehalten")]
    BuiltInType(String),
}

impl Runtime {
    /// Locks up to `max` due jobs of the given types for `worker` for `lock`.
    pub async fn fetch_and_lock(
        &self,
        tenant_id: &str,
        worker: &str,
        types: &[String],
        max: usize,
        lock: chrono::Duration,
    ) -> Result<Vec<ExternalJob>> {
        if let Some(t) = types.iter().find(|t| t.starts_with(BUILT_IN_PREFIX)) {
            return Err(RuntimeError::Conflict(ExternalError::BuiltInType(t.clone()).to_string()));
        }
        let mut out = Vec::new();
        let mut conn = self.store.conn().await?;
        'types: for job_type in types {
            while out.len() < max {
                let now = self.clock.now();
                let claimed = jobs::claim(
                    &mut conn,
                    self.store.backend(),
                    worker,
                    now,
                    lock,
                    Claim::External { tenant_id, job_type },
                )
                .await?;
                let Some(job) = claimed else { continue 'types };
                let reference =
                    cases::by_id(&mut conn, tenant_id, &job.case_id).await?.map(|c| c.reference).unwrap_or_default();
                out.push(ExternalJob {
                    id: job.job_id.clone(),
                    job_type: job.job_type.clone(),
                    element: job.element_id.clone(),
                    reference,
                    variables: serde_json::from_str(&job.input).unwrap_or(Json::Null),
                    headers: serde_json::from_str(&job.headers).unwrap_or(Json::Null),
                    retries: job.max_attempts - job.attempts,
                    locked_until: rathaus_store::ts(now + lock),
                });
            }
            break;
        }
        Ok(out)
    }

    async fn held_job(&self, tenant_id: &str, job_id: &str, worker: &str) -> Result<Job> {
        let mut conn = self.store.conn().await?;
        let job = jobs::by_id(&mut conn, tenant_id, job_id).await?.ok_or(RuntimeError::NotFound)?;
        if job.job_type.starts_with(BUILT_IN_PREFIX) {
            return Err(RuntimeError::NotFound);
        }
        if job.status != "running" || job.locked_by.as_deref() != Some(worker) {
            return Err(RuntimeError::Conflict(format!(
                "Auftrag {job_id} ist nicht (mehr) für „{worker}“ gesperrt (Status: {})",
                job.status
            )));
        }
        Ok(job)
    }

    /// Completes a locked job with `variables` and continues the case.
    pub async fn complete_external(
        &self,
        tenant_id: &str,
        job_id: &str,
        worker: &str,
        variables: Map<String, Json>,
    ) -> Result<()> {
        crate::check_outside_variables(&variables)?;
        let job = self.held_job(tenant_id, job_id, worker).await?;
        let how = Resume::Complete { token: job.token as u64, result: variables };
        self.finish_external(&job, worker, how, "job.completed", json!({})).await
    }

    /// Ends a locked job with a BPMN error `code`: an error boundary event takes over.
    pub async fn bpmn_error_external(
        &self,
        tenant_id: &str,
        job_id: &str,
        worker: &str,
        code: &str,
        message: &str,
    ) -> Result<()> {
        let job = self.held_job(tenant_id, job_id, worker).await?;
        let how = Resume::JobError { token: job.token as u64, code: code.to_string() };
        self.finish_external(&job, worker, how, "job.bpmn_error", json!({"code": code, "message": message})).await
    }

    async fn finish_external(&self, job: &Job, worker: &str, how: Resume, action: &str, details: Json) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let tenant = tenants::by_id(&mut conn, &job.tenant_id).await?.ok_or(RuntimeError::NotFound)?;
        let case = cases::by_id(&mut conn, &job.tenant_id, &job.case_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let procedure = self.procedure_of_deployment(&job.tenant_id, &case.deployment_id).await?;
        let calendar = tenant_calendar(&tenant.settings);
        for _ in 0..8 {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            if !jobs::complete(&mut tx, &job.tenant_id, &job.job_id, worker, now).await? {
                tx.rollback().await?;
                return Err(RuntimeError::Conflict(format!(
                    "Auftrag {} ist nicht mehr für „{worker}“ gesperrt",
                    job.job_id
                )));
            }
            let ctx = EffectContext {
                tenant_id: &job.tenant_id,
                case_id: &job.case_id,
                instance_id: &job.instance_id,
                procedure: &procedure,
                calendar: &calendar,
                now,
            };
            let entry = audit::Pending {
                actor: Actor::System,
                action: action.into(),
                object_type: "case".into(),
                object_id: job.case_id.clone(),
                details: json!({"job": job.job_id, "type": job.job_type, "worker": worker, "details": details}),
            };
            match resume(&mut tx, &ctx, how.clone(), Step::recording(vec![entry.clone()])).await? {
                Resumed::Done { .. } => {}
                Resumed::Conflict => {
                    tx.rollback().await?;
                    continue;
                }
                Resumed::Stale(why) => {
                    events::add(
                        &mut tx,
                        &job.tenant_id,
                        &job.case_id,
                        "job",
                        &format!("Ergebnis von „{worker}“ für „{}“ kam zu spät ({why})", job.element_id),
                        false,
                        now,
                    )
                    .await?;
                    audit::append_all(&mut tx, &job.tenant_id, &[entry], now).await?;
                }
                Resumed::NotDue(_) | Resumed::NoSubscriber => {
                    audit::append_all(&mut tx, &job.tenant_id, &[entry], now).await?;
                }
            }
            tx.commit().await?;
            self.notify_work();
            self.drive(&job.tenant_id, &job.instance_id, Duration::from_secs(10)).await;
            return Ok(());
        }
        Err(RuntimeError::Conflict("Der Vorgang wird gerade anderweitig bearbeitet; bitte erneut versuchen.".into()))
    }

    /// A worker could not do the job: retried after `retry_in` while `retries` remain,
    /// otherwise dead-lettered (visible to administrators) with an incident in the case.
    pub async fn fail_external(
        &self,
        tenant_id: &str,
        job_id: &str,
        worker: &str,
        error: &str,
        retries: i64,
        retry_in: chrono::Duration,
    ) -> Result<bool> {
        let job = self.held_job(tenant_id, job_id, worker).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let dead =
            jobs::fail_external(&mut tx, &job, worker, error, retries, retry_in, now).await?.ok_or_else(|| {
                RuntimeError::Conflict(format!("Auftrag {job_id} ist nicht mehr für „{worker}“ gesperrt"))
            })?;
        audit::append(
            &mut tx,
            tenant_id,
            &Actor::System,
            if dead { "job.failed" } else { "job.retry" },
            "case",
            &job.case_id,
            &json!({"job": job.job_id, "type": job.job_type, "worker": worker, "error": error, "retries": retries}),
            now,
        )
        .await?;
        if dead {
            crate::record_dead_letter(&mut tx, &job, error, now).await?;
        }
        tx.commit().await?;
        Ok(dead)
    }

    /// Extends the lock of a job the worker holds.
    pub async fn extend_external_lock(
        &self,
        tenant_id: &str,
        job_id: &str,
        worker: &str,
        lock: chrono::Duration,
    ) -> Result<()> {
        let job = self.held_job(tenant_id, job_id, worker).await?;
        let mut conn = self.store.conn().await?;
        if jobs::extend_lock(&mut conn, tenant_id, &job.job_id, worker, self.clock.now() + lock).await? {
            Ok(())
        } else {
            Err(RuntimeError::Conflict(format!("Auftrag {job_id} ist nicht mehr für „{worker}“ gesperrt")))
        }
    }
}

impl Runtime {
    /// An administrator starts a dead-lettered job again (built-in or external).
    pub async fn retry_failed_job(&self, tenant_id: &str, job_id: &str, actor: &Actor) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let job = jobs::by_id(&mut tx, tenant_id, job_id).await?.ok_or(RuntimeError::NotFound)?;
        if !jobs::retry_failed(&mut tx, tenant_id, job_id, now).await? {
            tx.rollback().await?;
            return Err(RuntimeError::Conflict("Dieser Auftrag ist nicht (mehr) fehlgeschlagen.".into()));
        }
        audit::append(
            &mut tx,
            tenant_id,
            actor,
            "job.retried",
            "case",
            &job.case_id,
            &json!({"job": job.job_id, "type": job.job_type, "element": job.element_id}),
            now,
        )
        .await?;
        events::add(
            &mut tx,
            tenant_id,
            &job.case_id,
            "job",
            &format!("Schritt „{}“ wird erneut versucht", job.element_id),
            false,
            now,
        )
        .await?;
        tx.commit().await?;
        self.notify_work();
        Ok(())
    }
}
