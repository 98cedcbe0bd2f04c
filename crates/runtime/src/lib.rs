//! The durable runtime: runs procedures on the store.
//!
//! - A submission validates the data against the procedure's form, stores the case, starts
//!   the process instance and writes the first jobs — all in one transaction.
//! - Service tasks become jobs (an outbox). A worker claims a job, performs its connector
//!   (render a document, set the status, fix a fee), and in one transaction writes the
//!   connector's result, marks the job done and moves the process on. A crash at any point
//!   leaves either nothing or everything of a step; a job is retried until done and its
//!   writes are keyed by the job id, so nothing happens twice.
//! - Completing a user task continues the process the same way.

pub mod clock;
mod connectors;
mod docdata;
pub mod preview;
mod procedures;
mod submit;
mod tasks;
mod worker;

pub use clock::{Clock, SystemClock};
pub use procedures::ActiveProcedure;
pub use submit::{SubmitRequest, Submitted};
pub use tasks::Decision;

use rathaus_engine::executor::{Effect, Instance, InstanceStatus};
use rathaus_engine::{FieldError, Procedure};
use rathaus_store::audit::{self, Actor};
use rathaus_store::{cases, events, jobs, new_id, tasks as task_store, Store, StoreError};
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("Die Angaben sind unvollständig oder fehlerhaft")]
    Invalid(Vec<FieldError>),
    #[error("Das Verfahren „{0}“ gibt es nicht")]
    UnknownProcedure(String),
    #[error("Das Verfahren „{0}“ ist bei diesem Mandanten nicht freigeschaltet")]
    NotActive(String),
    #[error("nicht gefunden")]
    NotFound,
    #[error("keine Berechtigung")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Verfahren fehlerhaft: {0}")]
    Procedure(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl From<sqlx::Error> for RuntimeError {
    fn from(e: sqlx::Error) -> Self {
        RuntimeError::Store(StoreError::Db(e))
    }
}

/// Settings of the runtime that come from the configuration.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The public base URL (for links in documents), e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Secret used to hash access codes and API keys (a database dump alone does not reveal
    /// or allow to test them). Must be the same on every node of an installation.
    pub secret: Vec<u8>,
    /// Name of this node (job leases).
    pub node_id: String,
}

pub struct Runtime {
    pub store: Store,
    pub config: RuntimeConfig,
    pub clock: Arc<dyn Clock>,
    /// The library as currently on disk (what new deployments are made from).
    pub library: rathaus_engine::Library,
    deployments: Mutex<HashMap<String, Arc<Procedure>>>,
    work: Notify,
}

impl Runtime {
    pub fn new(
        store: Store,
        library: rathaus_engine::Library,
        config: RuntimeConfig,
        clock: Arc<dyn Clock>,
    ) -> Arc<Runtime> {
        Arc::new(Runtime {
            store,
            config,
            clock,
            library,
            deployments: Mutex::new(HashMap::new()),
            work: Notify::new(),
        })
    }

    /// Keyed hash of a secret value (access code, API key) for storage and lookup.
    pub fn secret_hash(&self, kind: &str, value: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.config.secret);
        h.update([0]);
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        hex::encode(h.finalize())
    }

    /// Wakes the worker: there are new jobs.
    pub fn notify_work(&self) {
        self.work.notify_waiters();
    }
}

pub(crate) fn instance_status(i: &Instance) -> &'static str {
    match i.status {
        InstanceStatus::Running => "running",
        InstanceStatus::Completed => "completed",
        InstanceStatus::Incident { .. } => "incident",
    }
}

/// Everything needed to write the effects of an advance.
pub(crate) struct EffectContext<'a> {
    pub tenant_id: &'a str,
    pub case_id: &'a str,
    pub instance_id: &'a str,
    pub procedure: &'a Procedure,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Ends the wait of `token` (a finished job or user task) with `result`, advances the
/// instance and persists the effects, all inside the caller's transaction. Returns the
/// number of new jobs, or `None` if another transaction saved the instance meanwhile (the
/// caller rolls back and retries from a fresh read).
pub(crate) async fn continue_instance(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    token: u64,
    result: serde_json::Map<String, Json>,
) -> Result<Option<usize>> {
    let row =
        rathaus_store::instances::by_id(conn, ctx.tenant_id, ctx.instance_id).await?.ok_or(RuntimeError::NotFound)?;
    let mut instance: Instance = serde_json::from_str(&row.state)
        .map_err(|e| RuntimeError::Procedure(format!("Instanzzustand unlesbar: {e}")))?;
    instance.complete(&ctx.procedure.process, token, result).map_err(|e| RuntimeError::Conflict(e.to_string()))?;
    let today = rathaus_domain::time::german_today(ctx.now);
    let effects = instance.advance(
        &ctx.procedure.process,
        &rathaus_engine::environment::ProcedureDecisions { procedure: ctx.procedure, today },
    );
    let new_jobs = apply_effects(conn, ctx, &effects).await?;
    let state = serde_json::to_string(&instance).expect("instance serialises");
    match rathaus_store::instances::save(
        conn,
        ctx.tenant_id,
        ctx.instance_id,
        instance_status(&instance),
        &state,
        row.revision,
        ctx.now,
    )
    .await
    {
        Ok(_) => Ok(Some(new_jobs)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Persists the effects of moving a process, inside the caller's transaction.
pub(crate) async fn apply_effects(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    effects: &[Effect],
) -> Result<usize> {
    let mut new_jobs = 0;
    for effect in effects {
        match effect {
            Effect::Job { token, element, job_type, headers, input, retries } => {
                jobs::insert(
                    conn,
                    ctx.tenant_id,
                    &new_id(),
                    ctx.instance_id,
                    ctx.case_id,
                    *token as i64,
                    element,
                    job_type,
                    &json!(headers),
                    input,
                    *retries as i64 + 1,
                    ctx.now,
                )
                .await?;
                new_jobs += 1;
            }
            Effect::UserTask { token, element, name, candidate_groups, form_key, .. } => {
                let task = task_store::Task {
                    tenant_id: ctx.tenant_id.into(),
                    task_id: new_id(),
                    case_id: ctx.case_id.into(),
                    instance_id: ctx.instance_id.into(),
                    token: *token as i64,
                    element_id: element.clone(),
                    name: name.clone(),
                    candidate_groups: candidate_groups.join(","),
                    form_key: form_key.clone().unwrap_or_default(),
                    status: "open".into(),
                    assignee: None,
                    result: None,
                    created_at: rathaus_store::ts(ctx.now),
                    completed_at: None,
                    completed_by: None,
                };
                task_store::insert(conn, &task).await?;
                audit::append(
                    conn,
                    ctx.tenant_id,
                    &Actor::System,
                    "task.created",
                    "case",
                    ctx.case_id,
                    &json!({"task": task.task_id, "name": name}),
                    ctx.now,
                )
                .await?;
                events::add(
                    conn,
                    ctx.tenant_id,
                    ctx.case_id,
                    "task",
                    &format!("Aufgabe „{name}“ für die Sachbearbeitung angelegt"),
                    false,
                    ctx.now,
                )
                .await?;
            }
            Effect::Decided { decision_id, result, element } => {
                if ctx.procedure.manifest.check_decision.as_deref() == Some(decision_id.as_str()) {
                    let findings = result.get("befunde").cloned().unwrap_or_else(|| Json::Array(vec![]));
                    cases::set_findings(conn, ctx.tenant_id, ctx.case_id, &findings, ctx.now).await?;
                }
                audit::append(
                    conn,
                    ctx.tenant_id,
                    &Actor::System,
                    "decision.evaluated",
                    "case",
                    ctx.case_id,
                    &json!({"decision": decision_id, "element": element, "result": result}),
                    ctx.now,
                )
                .await?;
            }
            Effect::Completed => {
                audit::append(
                    conn,
                    ctx.tenant_id,
                    &Actor::System,
                    "process.completed",
                    "case",
                    ctx.case_id,
                    &json!({"instance": ctx.instance_id}),
                    ctx.now,
                )
                .await?;
                events::add(conn, ctx.tenant_id, ctx.case_id, "process", "Bearbeitung abgeschlossen", false, ctx.now)
                    .await?;
            }
            Effect::Incident { element, message } => {
                tracing::error!(case = ctx.case_id, element, message, "process incident");
                audit::append(
                    conn,
                    ctx.tenant_id,
                    &Actor::System,
                    "process.incident",
                    "case",
                    ctx.case_id,
                    &json!({"element": element, "message": message}),
                    ctx.now,
                )
                .await?;
                events::add(
                    conn,
                    ctx.tenant_id,
                    ctx.case_id,
                    "incident",
                    &format!("Störung im Ablauf bei „{element}“: {message}"),
                    false,
                    ctx.now,
                )
                .await?;
            }
        }
    }
    Ok(new_jobs)
}
