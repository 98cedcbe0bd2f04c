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

pub mod accounts;
pub mod admin;
pub mod archive;
pub mod bench;
pub mod bench_worklist;
pub mod businesses;
pub mod chronicle;
pub mod clock;
mod connectors;
pub mod consultations;
pub mod copies;
pub mod corrections;
mod correlation;
pub mod deadlines;
pub mod delegations;
mod delivery;
mod docdata;
mod drafts;
pub mod expected;
pub mod external;
pub mod finance;
pub mod forwarding;
pub mod intake;
pub mod mail;
pub mod mailbox;
mod notify;
pub mod outbox;
pub mod payments;
pub mod preview;
mod procedures;
pub mod reconciliation;
pub mod requests;
pub mod retention;
mod submit;
pub mod tasks;
pub mod uploads;
mod withdrawal;
mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use correlation::Correlated;
pub use drafts::{DraftLookup, DraftOwner, SavedDraft};
pub use procedures::ActiveProcedure;
pub use submit::{SubmitRequest, Submitted};
pub use tasks::{Decision, Reassign};
pub use withdrawal::Withdrawal;

use rathaus_domain::calendar::{Land, WorkCalendar};
use rathaus_engine::environment::ProcedureEnv;
use rathaus_engine::executor::{Effect, ExecError, Instance, InstanceStatus};
use rathaus_engine::{FieldError, Procedure};
use rathaus_store::audit::{self, Actor};
use rathaus_store::batch::{Batch, Write};
use rathaus_store::{cases, events, instances, jobs, messages, new_id, tasks as task_store, Store, StoreError};
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
    /// Outgoing e-mail, if the installation has it (see [`mail`]).
    pub mail: Option<mail::Mailer>,
    /// The payment provider for online payment of fees, if the installation has one (set
    /// once at start; without one, fees are paid by transfer only).
    pub payments: std::sync::OnceLock<Box<dyn payments::PaymentProvider>>,
    /// The virus scanner every upload passes, if the installation has one (set once at
    /// start; without one, uploads are stored marked `unscanned`).
    pub scanner: std::sync::OnceLock<Box<dyn uploads::VirusScanner>>,
    /// How messages to other authorities are delivered (set once at start with the
    /// installation's drop directory; without it, HTTP addresses only).
    pub transport: std::sync::OnceLock<Box<dyn outbox::Transport>>,
    /// Where the packages of cases handed to the archive are written (set once at start;
    /// without it, nothing is archived).
    pub archive_dir: std::sync::OnceLock<std::path::PathBuf>,
    deployments: Mutex<HashMap<String, Arc<Procedure>>>,
    work: Notify,
}

impl Runtime {
    pub fn new(
        store: Store,
        library: rathaus_engine::Library,
        config: RuntimeConfig,
        clock: Arc<dyn Clock>,
        mail: Option<mail::Mailer>,
    ) -> Arc<Runtime> {
        Arc::new(Runtime {
            store,
            config,
            clock,
            library,
            mail,
            payments: std::sync::OnceLock::new(),
            scanner: std::sync::OnceLock::new(),
            transport: std::sync::OnceLock::new(),
            archive_dir: std::sync::OnceLock::new(),
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

    /// The token of a link sent to another body (a consultation, a forwarding), derived
    /// from the record's id with the installation's secret, so a job can build the link
    /// again; `kind` keeps the kinds apart.
    pub(crate) fn link_token(&self, kind: &str, id: &str) -> String {
        self.secret_hash(&format!("{kind}-link"), id)[..40].to_string()
    }

    /// What is stored of such a token: its keyed hash, so a database dump opens nothing.
    pub(crate) fn link_token_hash(&self, kind: &str, token: &str) -> String {
        self.secret_hash(kind, token)
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
        InstanceStatus::Terminated { .. } => "terminated",
    }
}

/// The working calendar of a tenant: public holidays of its Land.
/// Whether `token` has the shape of a link token (see [`Runtime::link_token`]); anything
/// else is not looked up at all.
pub(crate) fn is_link_token(token: &str) -> bool {
    token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn tenant_calendar(settings: &rathaus_domain::TenantSettings) -> WorkCalendar {
    WorkCalendar::new(Land::parse(&settings.land))
}

/// What decisions know of the tenant (`mandant`) on `today`, with its Land's working days.
pub fn tenant_facts(tenant: &rathaus_store::tenants::Tenant, today: chrono::NaiveDate) -> Json {
    rathaus_engine::environment::tenant_facts(
        &tenant.name,
        &tenant.settings.postcodes,
        &tenant_calendar(&tenant.settings),
        today,
    )
}

/// Refuses variables from outside that would replace what the process started with.
pub(crate) fn check_outside_variables(variables: &serde_json::Map<String, Json>) -> Result<()> {
    match variables.keys().find(|k| rathaus_engine::bpmn::PROCESS_VARIABLES.contains(&k.as_str())) {
        Some(name) => Err(RuntimeError::Conflict(format!("Die Prozessvariable „{name}“ ist reserviert"))),
        None => Ok(()),
    }
}

/// The case's timeline entry for a step that failed after its last attempt (built-in
/// worker and external workers alike).
pub(crate) async fn record_dead_letter(
    conn: &mut sqlx::AnyConnection,
    job: &jobs::Job,
    error: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<(), StoreError> {
    let text = format!("Schritt „{}“ endgültig fehlgeschlagen: {error}", job.element_id);
    events::add(conn, &job.tenant_id, &job.case_id, "incident", &text, false, now).await
}

/// Job type of timers: a job that runs at the timer's due time (token = the subscription).
pub const TIMER_JOB: &str = "rathaus:timer";

/// Everything needed to write the effects of an advance.
pub(crate) struct EffectContext<'a> {
    pub tenant_id: &'a str,
    pub case_id: &'a str,
    pub instance_id: &'a str,
    pub procedure: &'a Procedure,
    pub calendar: &'a WorkCalendar,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl EffectContext<'_> {
    fn env(&self) -> ProcedureEnv<'_> {
        ProcedureEnv { procedure: self.procedure, now: self.now, calendar: self.calendar }
    }
}

/// How a waiting instance is continued.
#[derive(Clone)]
pub(crate) enum Resume {
    /// A job or user task is done.
    Complete { token: u64, result: serde_json::Map<String, Json> },
    /// A timer is due.
    Timer { subscription: u64 },
    /// A message for the case arrived.
    Message { name: String, payload: serde_json::Map<String, Json> },
    /// A job ended with a BPMN error.
    JobError { token: u64, code: String },
    /// The case ends from outside (withdrawn): the instance stops, its waits are void.
    Terminate { reason: String },
}

pub(crate) enum Resumed {
    /// The instance moved on; this many new jobs are due.
    Done { new_jobs: usize },
    /// What the caller wanted to continue no longer waits (its activity was interrupted,
    /// the instance ended): nothing to do.
    Stale(String),
    /// A timer claimed before its time (the clock was set back).
    NotDue(chrono::DateTime<chrono::Utc>),
    /// Nothing in the instance waits for this message.
    NoSubscriber,
    /// Another transaction saved the instance meanwhile: roll back and retry.
    Conflict,
}

/// What one step of a process writes besides its immediate reads and checks: timeline
/// entries, tasks, jobs and the audit entries, sent to the database together at the end of
/// the step ([`Step::finish`]), since each statement is a round trip and most of the time a
/// step takes.
#[derive(Default)]
pub(crate) struct Step {
    pub audit: Vec<audit::Pending>,
    pub writes: Batch,
}

impl Step {
    /// A step that starts with the caller's own audit entries (the task completed, the
    /// message received).
    pub fn recording(entries: Vec<audit::Pending>) -> Step {
        Step { audit: entries, writes: Batch::new() }
    }

    /// Sends all writes, `last` as the last one, and the audit entries
    /// ([`audit::write_with_entries`]). Returns the rows `last` changed; if it changed none
    /// (a conflict), nothing of the audit is written and the caller rolls back. This is the
    /// last thing a transaction does before committing.
    pub async fn finish(
        mut self,
        conn: &mut sqlx::AnyConnection,
        tenant_id: &str,
        now: chrono::DateTime<chrono::Utc>,
        last: Write,
    ) -> Result<u64> {
        self.writes.push(last);
        Ok(audit::write_with_entries(conn, tenant_id, &self.audit, now, self.writes).await?)
    }
}

/// Continues a waiting instance, advances it and persists the effects, all inside the
/// caller's transaction. `step` holds the caller's own writes (the task completed, the
/// message received): sent in the same batch as the step's, only if the step is done.
pub(crate) async fn resume(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    how: Resume,
    step: Step,
) -> Result<Resumed> {
    let row =
        rathaus_store::instances::by_id(conn, ctx.tenant_id, ctx.instance_id).await?.ok_or(RuntimeError::NotFound)?;
    resume_loaded(conn, ctx, row, how, step).await
}

/// [`resume`] with the instance already read, possibly before the transaction began: the
/// save is checked against the revision read, so a stale row ends in `Conflict` and the
/// caller reads again.
pub(crate) async fn resume_loaded(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    row: instances::InstanceRow,
    how: Resume,
    mut step: Step,
) -> Result<Resumed> {
    let mut instance: Instance = serde_json::from_str(&row.state)
        .map_err(|e| RuntimeError::Procedure(format!("Instanzzustand unlesbar: {e}")))?;
    let process = &ctx.procedure.process;
    let env = ctx.env();
    let outcome = match how {
        Resume::Complete { token, result } => instance.complete(process, token, result, &env).map(Some),
        Resume::Timer { subscription } => instance.fire_timer(process, subscription, &env).map(Some),
        Resume::Message { name, payload } => instance.correlate(process, &name, payload, &env),
        Resume::JobError { token, code } => instance.throw_job_error(process, token, &code, &env).map(Some),
        Resume::Terminate { reason } => Ok(Some(instance.terminate(&reason))),
    };
    let mut effects = match outcome {
        Ok(Some(effects)) => effects,
        Ok(None) => return Ok(Resumed::NoSubscriber),
        Err(ExecError::NotDue(due)) => return Ok(Resumed::NotDue(due)),
        Err(e) => return Ok(Resumed::Stale(e.to_string())),
    };
    effects.extend(instance.advance(process, &env));
    let new_jobs = persist_effects(conn, ctx, &mut instance, effects, &mut step).await?;
    let state = serde_json::to_string(&instance).expect("instance serialises");
    // The save is checked against the revision read above: if another transaction moved
    // the instance meanwhile, nothing of this step may stay (the caller rolls back).
    let save = instances::save_write(
        ctx.tenant_id,
        ctx.instance_id,
        instance_status(&instance),
        &state,
        row.revision,
        ctx.now,
    );
    match step.finish(conn, ctx.tenant_id, ctx.now, save).await? {
        1 => Ok(Resumed::Done { new_jobs }),
        _ => Ok(Resumed::Conflict),
    }
}

/// Persists the effects of moving a process, inside the caller's transaction. A new message
/// wait takes a buffered message of the case right away, which may move the instance on
/// and bring more effects. Returns the number of new jobs.
pub(crate) async fn persist_effects(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    instance: &mut Instance,
    effects: Vec<Effect>,
    step: &mut Step,
) -> Result<usize> {
    let mut queue = std::collections::VecDeque::from(effects);
    let mut new_jobs = 0;
    let env = ctx.env();
    while let Some(effect) = queue.pop_front() {
        if let Effect::MessageWait { subscription, name, .. } = &effect {
            if instance.subscription(*subscription).is_some() && instance.is_running() {
                if let Some(m) = messages::take(conn, ctx.tenant_id, ctx.case_id, name, ctx.now).await? {
                    let payload = serde_json::from_str::<Json>(&m.payload)
                        .ok()
                        .and_then(|v| v.as_object().cloned())
                        .unwrap_or_default();
                    if let Ok(Some(more)) = instance.correlate(&ctx.procedure.process, name, payload, &env) {
                        step.writes.push(events::add_write(
                            ctx.tenant_id,
                            ctx.case_id,
                            "message",
                            &format!("Nachricht „{name}“ zugeordnet (war vorgemerkt)"),
                            false,
                            ctx.now,
                        ));
                        queue.extend(more);
                        queue.extend(instance.advance(&ctx.procedure.process, &env));
                    }
                }
            }
            continue;
        }
        new_jobs += apply_effect(conn, ctx, &effect, step).await?;
    }
    Ok(new_jobs)
}

/// Writes one effect (most into the step's batch); returns 1 if it created a job that is
/// due now.
async fn apply_effect(
    conn: &mut sqlx::AnyConnection,
    ctx: &EffectContext<'_>,
    effect: &Effect,
    step: &mut Step,
) -> Result<usize> {
    let Step { audit: audit_entries, writes } = step;
    let mut record = |action: &str, details: Json| {
        audit_entries.push(audit::Pending {
            actor: Actor::System,
            action: action.into(),
            object_type: "case".into(),
            object_id: ctx.case_id.into(),
            details,
        })
    };
    match effect {
        Effect::Job { token, element, job_type, headers, input, retries } => {
            writes.push(jobs::insert_write(
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
                ctx.now,
            ));
            return Ok(1);
        }
        Effect::Timer { subscription, element, due } => {
            writes.push(jobs::insert_write(
                ctx.tenant_id,
                &new_id(),
                ctx.instance_id,
                ctx.case_id,
                *subscription as i64,
                element,
                TIMER_JOB,
                &json!({}),
                &json!({"due": rathaus_store::ts(*due)}),
                5,
                *due,
                ctx.now,
            ));
            return Ok(usize::from(*due <= ctx.now));
        }
        Effect::MessageWait { .. } => {}
        Effect::Cancelled { ids } => {
            let ids: Vec<i64> = ids.iter().map(|i| *i as i64).collect();
            jobs::cancel_for_tokens(conn, ctx.tenant_id, ctx.instance_id, &ids, ctx.now).await?;
            let withdrawn = task_store::cancel_for_tokens(conn, ctx.tenant_id, ctx.instance_id, &ids, ctx.now).await?;
            if withdrawn > 0 {
                writes.push(events::add_write(
                    ctx.tenant_id,
                    ctx.case_id,
                    "task",
                    "Aufgabe zurückgezogen (Frist abgelaufen oder Ereignis eingetreten)",
                    false,
                    ctx.now,
                ));
            }
        }
        Effect::UserTask {
            token,
            element,
            name,
            candidate_groups,
            candidate_users,
            assignee,
            form_key,
            due,
            follow_up,
            ..
        } => {
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
                assignee: assignee.clone(),
                result: None,
                created_at: rathaus_store::ts(ctx.now),
                completed_at: None,
                completed_by: None,
                candidate_users: candidate_users.join(","),
                due_at: due.map(rathaus_store::ts),
                follow_up_at: follow_up.map(rathaus_store::ts),
                proposal: None,
                proposed_by: None,
            };
            writes.push(task_store::insert_write(&task));
            record("task.created", json!({"task": task.task_id, "name": name, "due": task.due_at}));
            writes.push(events::add_write(
                ctx.tenant_id,
                ctx.case_id,
                "task",
                &format!("Aufgabe „{name}“ für die Sachbearbeitung angelegt"),
                false,
                ctx.now,
            ));
        }
        Effect::Decided { decision_id, result, element } => {
            if ctx.procedure.manifest.check_decision.as_deref() == Some(decision_id.as_str()) {
                let findings = result.get("befunde").cloned().unwrap_or_else(|| Json::Array(vec![]));
                cases::set_findings(conn, ctx.tenant_id, ctx.case_id, &findings, ctx.now).await?;
            }
            record("decision.evaluated", json!({"decision": decision_id, "element": element, "result": result}));
        }
        Effect::Completed => {
            record("process.completed", json!({"instance": ctx.instance_id}));
            writes.push(cases::close_write(ctx.tenant_id, ctx.case_id, ctx.now));
            writes.push(events::add_write(
                ctx.tenant_id,
                ctx.case_id,
                "process",
                "Vorgang abgeschlossen",
                true,
                ctx.now,
            ));
        }
        Effect::Incident { element, message } => {
            tracing::error!(case = ctx.case_id, element, message, "process incident");
            record("process.incident", json!({"element": element, "message": message}));
            writes.push(events::add_write(
                ctx.tenant_id,
                ctx.case_id,
                "incident",
                &format!("Störung im Ablauf bei „{element}“: {message}"),
                false,
                ctx.now,
            ));
        }
    }
    Ok(0)
}
