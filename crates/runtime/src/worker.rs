//! The job worker: claims jobs (service tasks and the receipt), performs their connector and
//! continues the process, each job in one transaction.

use crate::connectors::{self, Prepared};
use crate::{resume, tenant_calendar, EffectContext, Result, Resume, Resumed, Runtime, RuntimeError, Step, TIMER_JOB};
use rathaus_engine::executor::Instance;
use rathaus_store::audit::{self, Actor};
use rathaus_store::jobs::{self, Claim, Job};
use rathaus_store::{cases, instances, tenants, StoreError};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE_SECONDS: i64 = 60;
const MAX_CONFLICT_RETRIES: usize = 8;
/// How often an idle worker looks for cases past their retention.
const ARCHIVE_SWEEP: Duration = Duration::from_secs(3600);

impl Runtime {
    async fn claim(&self, what: Claim<'_>) -> Result<Option<Job>> {
        let mut conn = self.store.conn().await?;
        let now = self.clock.now();
        Ok(jobs::claim(
            &mut conn,
            self.store.backend(),
            &self.config.node_id,
            now,
            chrono::Duration::seconds(LEASE_SECONDS),
            what,
        )
        .await?)
    }

    /// Runs the due jobs of one instance right away (used after a submission or a decision
    /// so that the applicant sees the result in the same request), within a time budget.
    /// Jobs another worker holds or is claiming are waited for, since their completion may
    /// start more jobs; only jobs waiting for a later retry end the wait.
    pub async fn drive(&self, tenant_id: &str, instance_id: &str, budget: Duration) {
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            match self.claim(Claim::Instance { tenant_id, instance_id }).await {
                Ok(Some(job)) => self.execute(job).await,
                Ok(None) => {
                    let busy = async {
                        let mut conn = self.store.conn().await?;
                        let running =
                            jobs::busy_for_instance(&mut conn, tenant_id, instance_id, self.clock.now()).await?;
                        Ok::<_, StoreError>(running > 0)
                    }
                    .await;
                    match busy {
                        Ok(true) => tokio::time::sleep(Duration::from_millis(10)).await,
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "checking the instance's jobs failed; the worker will continue it");
                            break;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed; the worker will pick it up");
                    break;
                }
            }
        }
    }

    /// Runs every due job until none is left; returns how many ran.
    pub async fn run_due_jobs(&self) -> Result<usize> {
        let mut n = 0;
        while let Some(job) = self.claim(Claim::BuiltIn).await? {
            self.execute(job).await;
            n += 1;
        }
        Ok(n)
    }

    /// The background worker: runs jobs as they come, until `shutdown` turns true.
    pub async fn run_worker(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut last_sweep: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.claim(Claim::BuiltIn).await {
                Ok(Some(job)) => self.execute(job).await,
                Ok(None) => {
                    // When idle, at most hourly: hand cases past their retention to the
                    // archive (every node may; each case is claimed by one).
                    if self.archive_dir.get().is_some() && last_sweep.is_none_or(|at| at.elapsed() >= ARCHIVE_SWEEP) {
                        last_sweep = Some(Instant::now());
                        match self.archive_due().await {
                            Ok(done) if !done.is_empty() => tracing::info!(cases = done.len(), "archived and erased"),
                            Ok(_) => {}
                            Err(e) => tracing::error!(error = %e, "archiving cases past their retention failed"),
                        }
                    }
                    tokio::select! {
                        _ = self.work.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "worker cannot claim jobs");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Performs a claimed job; a failure is recorded on the job (retry or dead letter).
    async fn execute(&self, job: Job) {
        if let Err(e) = self.try_execute(&job).await {
            let message = e.to_string();
            tracing::warn!(job = job.job_id, job_type = job.job_type, attempt = job.attempts, error = %message, "job failed");
            let now = self.clock.now();
            let result = async {
                let mut tx = self.store.begin().await?;
                let dead = jobs::fail(&mut tx, &job, &self.config.node_id, &message, now).await?;
                if dead {
                    audit::append(
                        &mut tx,
                        &job.tenant_id,
                        &Actor::System,
                        "job.failed",
                        "case",
                        &job.case_id,
                        &json!({"job": job.job_id, "type": job.job_type, "error": message}),
                        now,
                    )
                    .await?;
                    crate::record_dead_letter(&mut tx, &job, &message, now).await?;
                }
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            if let Err(e) = result {
                tracing::error!(error = %e, job = job.job_id, "recording a job failure failed; the lease will expire and the job run again");
            }
        }
    }

    async fn try_execute(&self, job: &Job) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let tenant = tenants::by_id(&mut conn, &job.tenant_id).await?.ok_or(RuntimeError::NotFound)?;
        let case = cases::by_id(&mut conn, &job.tenant_id, &job.case_id).await?.ok_or(RuntimeError::NotFound)?;
        let row = instances::by_id(&mut conn, &job.tenant_id, &job.instance_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let procedure = self.procedure_of_deployment(&job.tenant_id, &case.deployment_id).await?;
        let calendar = tenant_calendar(&tenant.settings);
        let timer = job.job_type == TIMER_JOB;
        // The expensive part (rendering) happens outside the transaction.
        let prepared = if timer {
            None
        } else {
            let instance: Instance = serde_json::from_str(&row.state)
                .map_err(|e| RuntimeError::Procedure(format!("Instanzzustand unlesbar: {e}")))?;
            let prepared: Prepared =
                connectors::prepare(self, job, &tenant, &case, &procedure, &instance.variables_json())
                    .await
                    .map_err(RuntimeError::Procedure)?;
            Some(prepared)
        };

        for _ in 0..MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let output = match &prepared {
                Some(p) => connectors::commit(&mut tx, job, &tenant, &case, p, now, self.mail.is_some()).await?,
                None => serde_json::Map::new(),
            };
            if !jobs::complete(&mut tx, &job.tenant_id, &job.job_id, &self.config.node_id, now).await? {
                // Our lease ran out and another worker took the job over: its run counts.
                tx.rollback().await?;
                tracing::warn!(job = job.job_id, "lease lost; leaving the job to the worker that holds it");
                return Ok(());
            }
            let mut new_jobs = 0;
            if job.token > 0 {
                let ctx = EffectContext {
                    tenant_id: &job.tenant_id,
                    case_id: &job.case_id,
                    instance_id: &job.instance_id,
                    procedure: &procedure,
                    calendar: &calendar,
                    now,
                };
                let how = if timer {
                    Resume::Timer { subscription: job.token as u64 }
                } else {
                    Resume::Complete { token: job.token as u64, result: output }
                };
                match resume(&mut tx, &ctx, how, Step::default()).await? {
                    Resumed::Done { new_jobs: n } => new_jobs = n,
                    Resumed::Stale(why) => {
                        tracing::info!(
                            job = job.job_id,
                            element = job.element_id,
                            why,
                            "job outlived its wait; nothing to continue"
                        );
                    }
                    Resumed::NotDue(due) => {
                        tx.rollback().await?;
                        let mut tx = self.store.begin().await?;
                        jobs::reschedule(&mut tx, job, &self.config.node_id, due).await?;
                        tx.commit().await?;
                        return Ok(());
                    }
                    Resumed::NoSubscriber | Resumed::Conflict => {
                        tx.rollback().await?;
                        continue;
                    }
                }
            }
            tx.commit().await?;
            if new_jobs > 0 {
                self.notify_work();
            }
            return Ok(());
        }
        Err(RuntimeError::Conflict("Prozessinstanz wird gerade anderweitig fortgesetzt".into()))
    }
}
