//! `rathaus bench engine`: how many process instances per second the engine completes
//! durably on the configured database, against that database's own ceiling measured in the
//! same run (single-row transactions per second on the same pool and settings).
//!
//! Each instance runs the reference process of `crates/runtime/bench/` exactly as a case
//! does: one transaction starts it, evaluates the DMN decisions, takes the gateway and
//! writes the instance, its audit entries and timeline; in the second scenario that
//! transaction ends at a user task and a second transaction completes the task and the
//! process. Rendering documents and the HTTP layer are not part of it.
//!
//! The ceiling and the scenarios take turns in rounds after a warm-up, and on SQLite each
//! turn ends with its write-ahead log synced into the database file, so that the ratios
//! compare operations measured under the same conditions, each paying for its own writes
//! (docs/performance.md).

use crate::{instance_status, persist_effects, resume_loaded, EffectContext, Resume, Resumed, Step};
use rathaus_domain::calendar::WorkCalendar;
use rathaus_domain::TenantSettings;
use rathaus_engine::environment::ProcedureEnv;
use rathaus_engine::executor::Instance;
use rathaus_engine::Procedure;
use rathaus_store::{instances, new_id, tasks, tenants, Store};
use serde::Serialize;
use serde_json::{json, Map};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reference process and its decisions, built into the binary.
pub fn reference_procedure() -> Procedure {
    let files: BTreeMap<String, String> = [
        ("procedure.toml", include_str!("../bench/procedure.toml")),
        ("form.json", include_str!("../bench/form.json")),
        ("process.bpmn", include_str!("../bench/process.bpmn")),
        ("pruefung.dmn", include_str!("../bench/pruefung.dmn")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Procedure::from_files(files).unwrap_or_else(|p| panic!("reference procedure is valid: {p:?}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub instances: usize,
    pub seconds: f64,
    pub instances_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// instances_per_second ÷ ceiling.commits_per_second.
    pub ratio_to_ceiling: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    pub commits: usize,
    pub commits_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: String,
    pub concurrency: usize,
    pub ceiling: Ceiling,
    pub scenarios: Vec<Scenario>,
    /// The executor alone, without a database, on one core: what the engine costs.
    pub in_memory: Vec<InMemory>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InMemory {
    pub name: &'static str,
    pub instances: usize,
    pub instances_per_second: f64,
}

/// Runs the reference process without a database (start, decisions, gateway, and the user
/// task completed) and measures instances per second on one thread.
pub fn in_memory(procedure: &Procedure, n: usize, review: bool) -> f64 {
    let now = chrono::Utc::now();
    let calendar = WorkCalendar::default();
    let env = ProcedureEnv { procedure, now, calendar: &calendar };
    let process = &procedure.process;
    let started = Instant::now();
    for i in 0..n {
        let mut vars = Map::new();
        let kategorie = ["a", "b", "c", "d"][i % 4];
        vars.insert("antrag".into(), json!({"kategorie": kategorie, "betrag": (i % 200) as i64, "pruefen": review}));
        let mut instance = Instance::start(process, vars);
        instance.advance(process, &env);
        if review {
            let token = instance.waiting_token_at("aufgabe").expect("waits at the task");
            let mut result = Map::new();
            result.insert("entscheidung".into(), json!({"ergebnis": "bestaetigen"}));
            instance.complete(process, token, result, &env).expect("task completes");
            instance.advance(process, &env);
        }
        assert!(!instance.is_running(), "reference instance completes");
        // What a durable run would store: the serialised state.
        std::hint::black_box(serde_json::to_string(&instance).expect("serialises"));
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Store(#[from] rathaus_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] crate::RuntimeError),
    #[error("{0}")]
    Failed(String),
}

impl From<sqlx::Error> for BenchError {
    fn from(e: sqlx::Error) -> Self {
        BenchError::Store(rathaus_store::StoreError::Db(e))
    }
}

/// How many turns the ceiling and the scenarios take.
const ROUNDS: usize = 10;

/// Instances of each kind run before measuring.
const WARM_UP: usize = 200;

/// The tables a process step writes.
const ENGINE_TABLES: [&str; 6] = ["counters", "process_instances", "tasks", "case_events", "audit_log", "jobs"];

struct Ctx {
    store: Store,
    procedure: Procedure,
    tenant_id: String,
    calendar: WorkCalendar,
}

/// The `p`-quantile of sorted latencies, in milliseconds (0 for none).
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `total` operations spread over `concurrency` tasks, numbered from `base`, and ends
/// when their writes are synced into the database file ([`Store::sync_log`]), the time that
/// takes included: each kind of operation pays for its own writes, not for the log the one
/// before left to the background checkpointer. Returns elapsed time and latencies.
async fn measure<F, Fut>(
    ctx: &Arc<Ctx>,
    base: usize,
    total: usize,
    concurrency: usize,
    op: F,
) -> Result<(f64, Vec<Duration>), BenchError>
where
    F: Fn(Arc<Ctx>, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), BenchError>> + Send,
{
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..concurrency {
        let ctx = ctx.clone();
        let op = op.clone();
        let count = total / concurrency + usize::from(w < total % concurrency);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(count);
            for i in 0..count {
                let t = Instant::now();
                op(ctx.clone(), base + w * 1_000_000 + i).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, BenchError>(lat)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for h in handles {
        all.extend(h.await.map_err(|e| BenchError::Failed(e.to_string()))??);
    }
    ctx.store.sync_log().await?;
    Ok((started.elapsed().as_secs_f64(), all))
}

/// Elapsed time and latencies of one kind of operation over all rounds.
#[derive(Default)]
struct Runs {
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Runs {
    fn add(&mut self, (seconds, latencies): (f64, Vec<Duration>)) {
        self.seconds += seconds;
        self.latencies.extend(latencies);
    }

    fn sorted(mut self) -> (f64, Vec<Duration>) {
        self.latencies.sort();
        (self.seconds, self.latencies)
    }
}

/// One single-row durable transaction: the ceiling.
async fn commit_one(ctx: Arc<Ctx>, i: usize) -> Result<(), BenchError> {
    let mut tx = ctx.store.begin().await?;
    sqlx::query("INSERT INTO counters (tenant_id, name, value) VALUES ($1, $2, 0)")
        .bind(&ctx.tenant_id)
        .bind(format!("ceiling:{i}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts an instance and moves it as far as it goes, in one transaction.
async fn start_instance(ctx: &Ctx, i: usize, review: bool) -> Result<String, BenchError> {
    let now = chrono::Utc::now();
    let kategorie = ["a", "b", "c", "d"][i % 4];
    let data = json!({"kategorie": kategorie, "betrag": (i % 200) as i64, "pruefen": review});
    let mut vars = Map::new();
    vars.insert("antrag".into(), data);
    let process = &ctx.procedure.process;
    let mut instance = Instance::start(process, vars);
    let effects = instance.advance(process, &ProcedureEnv { procedure: &ctx.procedure, now, calendar: &ctx.calendar });
    let instance_id = new_id();
    let case_id = new_id();
    let ectx = EffectContext {
        tenant_id: &ctx.tenant_id,
        case_id: &case_id,
        instance_id: &instance_id,
        procedure: &ctx.procedure,
        calendar: &ctx.calendar,
        now,
    };
    let mut tx = ctx.store.begin().await?;
    let mut step = Step::default();
    persist_effects(&mut tx, &ectx, &mut instance, effects, &mut step).await?;
    let row = instances::insert_write(
        &instances::InstanceRow {
            tenant_id: ctx.tenant_id.clone(),
            instance_id: instance_id.clone(),
            case_id,
            deployment_id: "benchmark".into(),
            status: instance_status(&instance).into(),
            state: serde_json::to_string(&instance).expect("serialises"),
            revision: 0,
        },
        now,
    );
    step.finish(&mut tx, &ctx.tenant_id, now, row).await?;
    tx.commit().await?;
    let expected = if review { "running" } else { "completed" };
    if instance_status(&instance) != expected {
        return Err(BenchError::Failed(format!("instance ended {:?}, expected {expected}", instance.status)));
    }
    Ok(instance_id)
}

/// Completes the open task of an instance, in a second transaction, as a clerk's decision
/// does (`Runtime::complete_task`): the task and its instance are read first (the clerk has
/// the task open), then one transaction completes it and continues the process, the
/// instance's save checked against the revision read.
async fn complete_task(ctx: &Ctx, instance_id: &str) -> Result<(), BenchError> {
    let mut conn = ctx.store.conn().await?;
    let tasks::WithInstance { task, instance } = tasks::open_with_instance(&mut conn, &ctx.tenant_id, instance_id)
        .await?
        .ok_or_else(|| BenchError::Failed("no open task".into()))?;
    drop(conn);
    let now = chrono::Utc::now();
    let mut tx = ctx.store.begin().await?;
    let result = json!({"entscheidung": {"ergebnis": "bestaetigen"}});
    let mut step = Step::default();
    step.writes.push(tasks::complete_write(&ctx.tenant_id, &task.task_id, &result, "benchmark", now));
    let ectx = EffectContext {
        tenant_id: &ctx.tenant_id,
        case_id: &task.case_id,
        instance_id,
        procedure: &ctx.procedure,
        calendar: &ctx.calendar,
        now,
    };
    let result = result.as_object().cloned().unwrap_or_default();
    match resume_loaded(&mut tx, &ectx, instance, Resume::Complete { token: task.token as u64, result }, step).await? {
        Resumed::Done { .. } => {}
        _ => return Err(BenchError::Failed("task completion did not continue the instance".into())),
    }
    tx.commit().await?;
    Ok(())
}

fn scenario(name: &'static str, n: usize, (seconds, lat): (f64, Vec<Duration>), ceiling: f64) -> Scenario {
    let ips = n as f64 / seconds;
    Scenario {
        name,
        instances: n,
        seconds,
        instances_per_second: ips,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        ratio_to_ceiling: ips / ceiling,
    }
}

/// Runs the benchmark on `store` with `instances` per scenario and `concurrency` parallel
/// clients. Works in a scratch tenant that is deleted afterwards.
pub async fn run(store: Store, instances: usize, concurrency: usize) -> Result<Report, BenchError> {
    let concurrency = concurrency.max(1);
    let now = chrono::Utc::now();
    let slug = format!("bench-{}", &new_id()[..8]).to_lowercase();
    let mut tx = store.begin().await?;
    let tenant = tenants::create(&mut tx, &slug, "Benchmark", &TenantSettings::default(), now).await?;
    tx.commit().await?;
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        procedure: reference_procedure(),
        tenant_id: tenant.tenant_id.clone(),
        calendar: WorkCalendar::default(),
    });
    let result = async {
        // Warm-up: connections open, statements prepared, caches filled, and tables
        // of a database in use: a few hundred instances of both kinds.
        for i in 0..(concurrency * 10).max(WARM_UP) {
            commit_one(ctx.clone(), 10_000_000 + i).await?;
            start_instance(&ctx, i, false).await?;
            let id = start_instance(&ctx, i, true).await?;
            complete_task(&ctx, &id).await?;
        }
        // PostgreSQL plans with the statistics autovacuum keeps: taken on nearly empty
        // tables (a fresh database, or right after a vacuum) they make every lookup a
        // sequential scan that grows with the run; a database in use has them current.
        if store.backend() == rathaus_store::Backend::Postgres {
            let mut conn = store.conn().await?;
            sqlx::query(&format!("ANALYZE {}", ENGINE_TABLES.join(", "))).execute(&mut *conn).await?;
        }
        ctx.store.sync_log().await?;
        // The ceiling and both scenarios take turns in rounds, so that each is measured
        // under the same conditions of the machine (its other load, where the threads
        // run) and the ratios compare like with like.
        let (mut ceiling_runs, mut auto_runs, mut task_runs) = (Runs::default(), Runs::default(), Runs::default());
        let rounds = ROUNDS.min(instances).max(1);
        for round in 0..rounds {
            let n = instances / rounds + usize::from(round < instances % rounds);
            let base = (round + 1) * 1_000_000_000;
            ceiling_runs.add(measure(&ctx, base, n, concurrency, commit_one).await?);
            auto_runs.add(
                measure(&ctx, base, n, concurrency, |ctx, i| async move {
                    start_instance(&ctx, i, false).await.map(|_| ())
                })
                .await?,
            );
            task_runs.add(
                measure(&ctx, base, n, concurrency, |ctx, i| async move {
                    let id = start_instance(&ctx, i, true).await?;
                    complete_task(&ctx, &id).await
                })
                .await?,
            );
        }
        let ceiling_run = ceiling_runs.sorted();
        let auto = auto_runs.sorted();
        let task = task_runs.sorted();
        let ceiling = Ceiling {
            commits: instances,
            commits_per_second: instances as f64 / ceiling_run.0,
            p50_ms: percentile(&ceiling_run.1, 0.50),
            p99_ms: percentile(&ceiling_run.1, 0.99),
        };
        let procedure = &ctx.procedure;
        let in_memory_runs = vec![
            InMemory {
                name: "start → DMN → gateway → end",
                instances,
                instances_per_second: in_memory(procedure, instances, false),
            },
            InMemory {
                name: "start → DMN → gateway → user task (completed) → end",
                instances,
                instances_per_second: in_memory(procedure, instances, true),
            },
        ];
        Ok::<_, BenchError>(Report {
            backend: format!("{:?}", store.backend()).to_lowercase(),
            concurrency,
            in_memory: in_memory_runs,
            scenarios: vec![
                scenario("start → DMN → gateway → end", instances, auto, ceiling.commits_per_second),
                scenario(
                    "start → DMN → gateway → user task (completed) → end",
                    instances,
                    task,
                    ceiling.commits_per_second,
                ),
            ],
            ceiling,
        })
    }
    .await;
    let mut conn = store.conn().await?;
    tenants::delete_scratch_tenant(&mut conn, &tenant.tenant_id).await?;
    result
}
