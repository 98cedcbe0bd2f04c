//! `rathaus bench worklist`: how the back office's reads hold up in a tenant with a million
//! cases. A scratch tenant is filled in two stages (a tenth of the cases, then all of them),
//! mostly decided cases with a few open ones, each open one with its task and deadline, the
//! way a town's file looks after some years. At each stage every read of the worklist, the
//! case search, the deadlines dashboard and the statistics is timed, against the ceiling of
//! the same run: the primary-key lookup of one case on the same pool. A read that uses its
//! index stays within a small multiple of the ceiling and grows little from the first stage
//! to the second; one that scans grows with the cases. The tenant is deleted afterwards.

use crate::bench::{percentile, BenchError};
use chrono::{DateTime, Duration as Days, Utc};
use rathaus_domain::TenantSettings;
use rathaus_store::batch::Write;
use rathaus_store::deadlines::{self, Filter};
use rathaus_store::{cases, new_id, tasks, tenants, ts, Store};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Rows per INSERT statement (13 parameters each, well below PostgreSQL's 65,535).
const ROWS_PER_INSERT: usize = 400;

/// Timings per read.
const RUNS: usize = 25;

#[derive(Debug, Clone, Serialize)]
pub struct Read {
    pub name: &'static str,
    /// Rows the read returned (the last run).
    pub rows: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// p50 ÷ the ceiling's p50 at this stage.
    pub ratio_to_ceiling: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub cases: usize,
    pub open_cases: usize,
    pub fill_seconds: f64,
    /// The primary-key lookup of one case.
    pub ceiling_p50_ms: f64,
    pub reads: Vec<Read>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub name: &'static str,
    /// Ratio to the ceiling at the last stage ÷ at the first: about 1 for a read that uses
    /// its index, about the growth of the cases for one that scans.
    pub ratio_growth: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: String,
    pub stages: Vec<Stage>,
    pub growth: Vec<Growth>,
}

/// Every how many cases one is still open (0.5 %).
const OPEN_EVERY: usize = 200;

/// Family names of the made-up applicants: one in fifty cases has each.
const NAMES: [&str; 50] = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
];

fn reference(i: usize) -> String {
    format!("BEN-2026-{i:07}")
}

/// Parameters per case row of the INSERT.
const CASE_PARAMS: usize = 9;

/// Writes the cases numbered `numbers` of the tenant's `total`: case `i` submitted at
/// `i / total` of ten years up to `now`; every [`OPEN_EVERY`]th open with an open task and
/// a deadline, the rest decided.
async fn fill(
    store: &Store,
    tenant_id: &str,
    numbers: &[usize],
    total: usize,
    now: DateTime<Utc>,
) -> Result<(), BenchError> {
    let span_minutes = 3650 * 24 * 60;
    let mut tx = store.begin().await?;
    for chunk in numbers.chunks(ROWS_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|k| {
                let p: Vec<String> = (1..=CASE_PARAMS).map(|j| format!("${}", k * CASE_PARAMS + j)).collect();
                format!(
                    "({}, {}, {}, 'gewerbeanmeldung', 'bench', {}, 'online', 'de', {}, {}, '[]', 'h', {}, {}, {})",
                    p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
                )
            })
            .collect();
        let mut write = Write::new(format!(
            "INSERT INTO cases (tenant_id, case_id, reference, procedure_id, deployment_id, status, channel, lang,
                applicant, data, findings, access_code_hash, submitted_at, updated_at, decided_at) VALUES {}",
            rows.join(", ")
        ));
        let mut open = Vec::new();
        for &i in chunk {
            // Cases arrive evenly over the span; the newest last.
            let submitted =
                now - Days::minutes(span_minutes) + Days::minutes(span_minutes * (i as i64 + 1) / total.max(1) as i64);
            let case_id = format!("bench-{i:07}");
            let is_open = i % OPEN_EVERY == 0;
            // Spread over the names at both stages (every tenth case, and all).
            let name = NAMES[(i / 10 + i) % NAMES.len()];
            write = write
                .bind(tenant_id)
                .bind(case_id.clone())
                .bind(reference(i))
                .bind(if is_open { "in_review" } else { "confirmed" })
                .bind(format!("Erika {name}"))
                .bind(format!(r#"{{"betrieb":{{"bezeichnung":"Betrieb {name}"}}}}"#))
                .bind(ts(submitted))
                .bind(ts(submitted))
                .bind(if is_open { None } else { Some(ts(submitted + Days::hours(30))) });
            if is_open {
                open.push((case_id, submitted));
            }
        }
        write.execute(&mut tx).await?;
        for (case_id, submitted) in open {
            let task = tasks::Task {
                tenant_id: tenant_id.to_string(),
                task_id: format!("task-{case_id}"),
                case_id: case_id.clone(),
                instance_id: format!("instance-{case_id}"),
                token: 1,
                element_id: "pruefen".into(),
                name: "Anzeige prüfen".into(),
                candidate_groups: "clerk".into(),
                form_key: "rathaus:entscheidung".into(),
                status: "open".into(),
                assignee: None,
                result: None,
                created_at: ts(submitted),
                completed_at: None,
                completed_by: None,
                candidate_users: String::new(),
                due_at: Some(ts(submitted + Days::days(14))),
                follow_up_at: None,
                proposal: None,
                proposed_by: None,
            };
            tasks::insert_write(&task).execute(&mut tx).await?;
            let day = submitted.date_naive();
            deadlines::insert_write(&deadlines::NewDeadline {
                tenant_id,
                deadline_id: &format!("deadline-{case_id}"),
                case_id: &case_id,
                key: "bearbeitungsziel",
                kind: "ziel",
                label: r#"{"de":"Bearbeitungsziel","en":"Processing target"}"#,
                legal_basis: None,
                warn_on: day + Days::days(10),
                due_on: day + Days::days(14),
                now: submitted,
            })
            .execute(&mut tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Times `read` [`RUNS`] times after two runs to warm up; sorted latencies and the rows of
/// the last run.
async fn time<F, Fut>(read: F) -> Result<(Vec<Duration>, usize), BenchError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<usize, BenchError>>,
{
    for _ in 0..2 {
        read().await?;
    }
    let mut lat = Vec::with_capacity(RUNS);
    let mut rows = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        rows = read().await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    Ok((lat, rows))
}

/// The reads of the back office with the cases numbered `0, step, 2·step, …` below
/// `total` in the tenant.
async fn measure(
    store: &Store,
    tenant_id: &str,
    total: usize,
    step: usize,
    now: DateTime<Utc>,
) -> Result<(f64, Vec<Read>), BenchError> {
    let count = total.div_ceil(step);
    // The ceiling: one case by its key, a different one each time.
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let (ceiling, _) = time(|| async {
        let i = counter.fetch_add(7919, std::sync::atomic::Ordering::Relaxed) % count * step;
        let mut conn = store.conn().await?;
        Ok(cases::by_id(&mut conn, tenant_id, &format!("bench-{i:07}")).await?.map_or(0, |_| 1))
    })
    .await?;
    let ceiling = percentile(&ceiling, 0.5);
    let today = rathaus_domain::time::german_today(now);
    let newest_open: Vec<String> = {
        let mut conn = store.conn().await?;
        tasks::open_with_cases(&mut conn, tenant_id, 50).await?.into_iter().map(|r| r.task.case_id).collect()
    };
    let one = vec![format!("{:07}", count / 2 * step)];
    let common = vec!["weber".to_string()];
    let mut reads = Vec::new();
    macro_rules! read {
        ($name:expr, |$conn:ident| $body:expr) => {{
            let (lat, rows) = time(|| async {
                let mut $conn = store.conn().await?;
                Ok::<usize, BenchError>($body)
            })
            .await?;
            let p50 = percentile(&lat, 0.5);
            reads.push(Read {
                name: $name,
                rows,
                p50_ms: p50,
                p95_ms: percentile(&lat, 0.95),
                ratio_to_ceiling: if ceiling > 0.0 { p50 / ceiling } else { 0.0 },
            });
        }};
    }
    read!("worklist: open tasks with their cases", |conn| tasks::open_with_cases(&mut conn, tenant_id, 500)
        .await?
        .len());
    read!("worklist: latest cases", |conn| cases::list(&mut conn, tenant_id, None, 50).await?.len());
    read!("worklist: deadline lights of the page's cases", |conn| {
        let ids: Vec<&str> = newest_open.iter().map(String::as_str).collect();
        deadlines::open_for_cases(&mut conn, tenant_id, &ids).await?.len()
    });
    read!("worklist: red deadlines count", |conn| {
        let (r, a, g) = deadlines::counts(&mut conn, tenant_id, today, &[]).await?;
        (r + a + g) as usize
    });
    read!("search: one Aktenzeichen", |conn| cases::search(&mut conn, tenant_id, &one, 100).await?.len());
    read!("search: a name in 2 % of cases", |conn| cases::search(&mut conn, tenant_id, &common, 100).await?.len());
    read!("deadlines dashboard: nearest 200", |conn| deadlines::open(
        &mut conn,
        tenant_id,
        today,
        Filter::default(),
        200
    )
    .await?
    .len());
    read!("statistics: last 30 days", |conn| cases::statistics_rows(&mut conn, tenant_id, now - Days::days(30))
        .await?
        .len());
    Ok((ceiling, reads))
}

/// Fills a scratch tenant with `cases` cases and times the reads twice: with every tenth
/// case in (the same ten years, a tenth of the history) and with all. The open cases are
/// the same at both stages, as in a town whose history grows while its open work does not.
pub async fn run(store: Store, cases: usize) -> Result<Report, BenchError> {
    let cases = cases.max(20);
    let now = Utc::now();
    let slug = format!("bench-{}", &new_id()[..8]).to_lowercase();
    let mut tx = store.begin().await?;
    let tenant = tenants::create(&mut tx, &slug, "Benchmark", &TenantSettings::default(), now).await?;
    tx.commit().await?;
    let result = async {
        let mut stages = Vec::new();
        let tenth: Vec<usize> = (0..cases).step_by(10).collect();
        let rest: Vec<usize> = (0..cases).filter(|i| i % 10 != 0).collect();
        for (numbers, step) in [(tenth, 10), (rest, 1)] {
            let started = Instant::now();
            fill(&store, &tenant.tenant_id, &numbers, cases, now).await?;
            // The planner's statistics of the new rows, as PostgreSQL's autovacuum gathers
            // them after a bulk load (without them it guesses the tenant's cases are few).
            let mut conn = store.conn().await?;
            sqlx::query("ANALYZE").execute(&mut *conn).await?;
            drop(conn);
            let fill_seconds = started.elapsed().as_secs_f64();
            let (ceiling_p50_ms, reads) = measure(&store, &tenant.tenant_id, cases, step, now).await?;
            stages.push(Stage {
                cases: cases.div_ceil(step),
                open_cases: cases.div_ceil(OPEN_EVERY),
                fill_seconds,
                ceiling_p50_ms,
                reads,
            });
        }
        let growth = stages[0]
            .reads
            .iter()
            .zip(&stages[1].reads)
            .map(|(a, b)| Growth {
                name: a.name,
                ratio_growth: if a.ratio_to_ceiling > 0.0 { b.ratio_to_ceiling / a.ratio_to_ceiling } else { 0.0 },
            })
            .collect();
        Ok::<_, BenchError>(Report { backend: format!("{:?}", store.backend()).to_lowercase(), stages, growth })
    }
    .await;
    let mut conn = store.conn().await?;
    tenants::delete_scratch_tenant(&mut conn, &tenant.tenant_id).await?;
    result
}
