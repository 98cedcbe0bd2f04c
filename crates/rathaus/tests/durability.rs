//! Durability and multi-node operation with real `rathaus serve` processes:
//! - SIGKILL at random points during a burst of submissions, restart, repeat: no
//!   acknowledged case is lost, no effect happens twice, every case finishes once its fee is
//!   paid by a bank statement (both databases);
//! - three nodes on one PostgreSQL share the job queue: every job runs exactly once.

mod common;

use common::{application, library_dir};
use rathaus_store::testing::{self, TestDatabase};
use rathaus_store::{audit, tenants};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "durability-test-secret-0123456789";

struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(db: &TestDatabase, data_dir: &Path, demo: bool, name: &str) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(data_dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rathaus"))
            .arg("serve")
            .env("RATHAUS_BIND", format!("127.0.0.1:{port}"))
            .env("RATHAUS_DATA_DIR", data_dir)
            .env("DATABASE_URL", db.process_url())
            .env("RATHAUS_LIBRARY", library_dir())
            .env("RATHAUS_DEMO", demo.to_string())
            .env("RATHAUS_SECRET", SECRET)
            .env("RATHAUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rathaus binary");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "{name} did not become ready; see {}", data_dir.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Node { child, base }
    }

    fn kill(mut self) {
        // Child::kill sends SIGKILL: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rathaus-durability-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn api_key(dir: &Path) -> String {
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo-credentials.json")).unwrap()).unwrap();
    creds["tenants"]["musterstadt"]["api_key"].as_str().unwrap().to_string()
}

/// Submits one application; the reference if the server acknowledged it.
async fn submit(base: &str, key: &str) -> Option<String> {
    let body = json!({"procedure": "gewerbeanmeldung", "data": application("software", "09999")});
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/musterstadt/applications"))
        .bearer_auth(key)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    if res.status() != 201 {
        return None;
    }
    let v: Value = res.json().await.ok()?;
    v["reference"].as_str().map(String::from)
}

/// Waits until no job is pending or running.
async fn settle(db: &TestDatabase) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut conn = db.store.conn().await.unwrap();
        if rathaus_store::jobs::due_count(&mut conn, chrono::Utc::now()).await.unwrap() == 0 {
            return;
        }
        drop(conn);
        assert!(Instant::now() < deadline, "jobs did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Pays every open fee of the demo town with one bank statement, through the API as the
/// treasury's software would.
async fn pay_all(db: &TestDatabase, base: &str, key: &str) {
    let mut conn = db.store.conn().await.unwrap();
    let tenant = tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
    let open: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kassenzeichen, amount_cents FROM fees WHERE tenant_id = $1 AND status <> 'paid' AND amount_cents > 0",
    )
    .bind(&tenant.tenant_id)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    assert!(!open.is_empty(), "the confirmed cases wait for their fees");
    let xml = testing::camt_statement_paying(&tenant.settings.bank.iban, &open);
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/musterstadt/finance/statements"))
        .bearer_auth(key)
        .header("content-type", "application/xml")
        .body(xml)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["gebucht"].as_u64(), Some(open.len() as u64), "{report}");
}

/// Every case finished, and every effect happened exactly once.
async fn check_exactly_once(db: &TestDatabase, acknowledged: &[String]) -> usize {
    let mut conn = db.store.conn().await.unwrap();
    let tenant = tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
    let t = tenant.tenant_id.as_str();
    let cases: Vec<(String, String, String)> =
        sqlx::query_as("SELECT case_id, reference, status FROM cases WHERE tenant_id = $1")
            .bind(t)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for r in acknowledged {
        assert!(cases.iter().any(|c| &c.1 == r), "acknowledged case {r} is lost");
    }
    for (case_id, reference, status) in &cases {
        assert_eq!(status, "confirmed", "{reference} did not finish");
        let (instance_status,): (String,) =
            sqlx::query_as("SELECT status FROM process_instances WHERE tenant_id = $1 AND case_id = $2")
                .bind(t)
                .bind(case_id)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(instance_status, "completed", "{reference}");
        let (closed_at,): (Option<String>,) =
            sqlx::query_as("SELECT closed_at FROM cases WHERE tenant_id = $1 AND case_id = $2")
                .bind(t)
                .bind(case_id)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert!(closed_at.is_some(), "{reference}: closed");
        let docs: Vec<(String, i64)> = sqlx::query_as(
            "SELECT template, COUNT(*) FROM documents WHERE tenant_id = $1 AND case_id = $2 GROUP BY template",
        )
        .bind(t)
        .bind(case_id)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert!(docs.len() >= 2, "{reference}: receipt and notice expected, got {docs:?}");
        assert!(docs.iter().all(|d| d.1 == 1), "{reference}: a document was made twice: {docs:?}");
        let (fees,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM fees WHERE tenant_id = $1 AND case_id = $2")
            .bind(t)
            .bind(case_id)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(fees, 1, "{reference}: exactly one fee");
        let (completed,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND object_id = $2 AND action = 'process.completed'",
        )
        .bind(t)
        .bind(case_id)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(completed, 1, "{reference}: the process completed once");
    }
    // Jobs for later (the reminders of the cases' deadlines) are not due yet.
    let now = rathaus_store::ts(chrono::Utc::now());
    let (bad,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND status <> 'done' AND run_at <= $2")
            .bind(t)
            .bind(&now)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(bad, 0, "every job done, none dead-lettered");
    assert_eq!(audit::verify(&mut conn, t).await.unwrap(), None, "audit chain intact");
    cases.len()
}

#[tokio::test]
async fn sigkill_during_a_burst_loses_nothing_and_does_nothing_twice() {
    for db in testing::all().await {
        let dir = data_dir();
        let mut node = Node::start(&db, &dir, true, "node").await;
        let key = api_key(&dir);
        let mut acknowledged = Vec::new();
        for round in 0..3 {
            let base = node.base.clone();
            let burst: Vec<_> = (0..12)
                .map(|_| {
                    let (base, key) = (base.clone(), key.clone());
                    tokio::spawn(async move { submit(&base, &key).await })
                })
                .collect();
            // Kill at a random point of the burst: during submissions, rendering, commits.
            tokio::time::sleep(Duration::from_millis(100 + rand::random::<u64>() % 900)).await;
            node.kill();
            for b in burst {
                if let Some(r) = b.await.unwrap() {
                    acknowledged.push(r);
                }
            }
            node = Node::start(&db, &dir, true, &format!("node-{round}")).await;
        }
        // After the last restart some more, then let the worker finish what was left.
        for _ in 0..3 {
            acknowledged.extend(submit(&node.base, &key).await);
        }
        settle(&db).await;
        pay_all(&db, &node.base, &key).await;
        settle(&db).await;
        let cases = check_exactly_once(&db, &acknowledged).await;
        assert!(cases >= acknowledged.len());
        assert!(!acknowledged.is_empty(), "some submissions must have been acknowledged");
        node.kill();
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn three_nodes_on_one_postgresql_run_every_job_exactly_once() {
    let Some(db) = testing::postgres().await else { return };
    let dirs: Vec<PathBuf> = (0..3).map(|_| data_dir()).collect();
    let first = Node::start(&db, &dirs[0], true, "node-a").await;
    let key = api_key(&dirs[0]);
    let nodes = vec![
        first,
        Node::start(&db, &dirs[1], false, "node-b").await,
        Node::start(&db, &dirs[2], false, "node-c").await,
    ];
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let burst: Vec<_> = (0..30)
        .map(|i| {
            let (base, key) = (bases[i % 3].clone(), key.clone());
            tokio::spawn(async move { submit(&base, &key).await })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for b in burst {
        acknowledged.push(b.await.unwrap().expect("every submission is acknowledged"));
    }
    settle(&db).await;
    pay_all(&db, &bases[1], &key).await;
    settle(&db).await;
    assert_eq!(check_exactly_once(&db, &acknowledged).await, 30);
    let mut conn = db.store.conn().await.unwrap();
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as("SELECT locked_by, attempts FROM jobs WHERE run_at <= $1")
        .bind(rathaus_store::ts(chrono::Utc::now()))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.1 == 1), "every job ran once, none was taken over");
    let nodes_used: std::collections::BTreeSet<_> = rows.iter().filter_map(|r| r.0.clone()).collect();
    assert!(nodes_used.len() >= 2, "jobs were shared between nodes: {nodes_used:?}");
    drop(conn);
    for n in nodes {
        n.kill();
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    db.cleanup().await;
}
