//! Storage tests, run on SQLite and (when configured) PostgreSQL.

use chrono::{Duration, TimeZone, Utc};
use rathaus_domain::TenantSettings;
use rathaus_store::audit::Actor;
use rathaus_store::jobs::Claim;
use rathaus_store::{
    accounts, audit, cases, documents, jobs, messages, next_counter, sessions, tenants, testing, uploads,
};
use serde_json::json;

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

async fn two_tenants(store: &rathaus_store::Store) -> (tenants::Tenant, tenants::Tenant) {
    let mut tx = store.begin().await.unwrap();
    let a = tenants::create(&mut tx, "a-stadt", "A-Stadt", &TenantSettings::default(), t0()).await.unwrap();
    let b = tenants::create(&mut tx, "b-dorf", "B-Dorf", &TenantSettings::default(), t0()).await.unwrap();
    tx.commit().await.unwrap();
    (a, b)
}

fn new_case<'a>(tenant: &'a str, id: &'a str, reference: &'a str, data: &'a serde_json::Value) -> cases::NewCase<'a> {
    cases::NewCase {
        tenant_id: tenant,
        case_id: id,
        reference,
        procedure_id: "gewerbeanmeldung",
        deployment_id: "d1",
        status: "submitted",
        channel: "api",
        lang: "de",
        applicant: "Erika Muster",
        data,
        access_code_hash: "h",
        received_at: t0(),
        now: t0(),
    }
}

#[tokio::test]
async fn counters_are_per_tenant_and_gapless() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(next_counter(&mut conn, &a.tenant_id, "GEW-2026").await.unwrap(), 1);
        assert_eq!(next_counter(&mut conn, &a.tenant_id, "GEW-2026").await.unwrap(), 2);
        assert_eq!(next_counter(&mut conn, &b.tenant_id, "GEW-2026").await.unwrap(), 1, "{:?}", db.backend());
        // A rolled back transaction gives its number back.
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(next_counter(&mut tx, &a.tenant_id, "GEW-2026").await.unwrap(), 3);
        tx.rollback().await.unwrap();
        assert_eq!(next_counter(&mut conn, &a.tenant_id, "GEW-2026").await.unwrap(), 3);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn cases_are_only_found_within_their_tenant() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let data = json!({"x": 1});
        let mut tx = db.store.begin().await.unwrap();
        cases::insert(&mut tx, new_case(&a.tenant_id, "c1", "GEW-2026-000001", &data)).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        assert!(cases::by_reference(&mut conn, &a.tenant_id, "GEW-2026-000001").await.unwrap().is_some());
        assert!(cases::by_reference(&mut conn, &b.tenant_id, "GEW-2026-000001").await.unwrap().is_none());
        assert!(cases::by_id(&mut conn, &b.tenant_id, "c1").await.unwrap().is_none());
        assert_eq!(cases::list(&mut conn, &b.tenant_id, None, 10).await.unwrap().len(), 0);
        assert_eq!(cases::list(&mut conn, &a.tenant_id, Some("submitted"), 10).await.unwrap().len(), 1);
        assert_eq!(cases::list(&mut conn, &a.tenant_id, Some("confirmed"), 10).await.unwrap().len(), 0);
        cases::set_status(&mut conn, &a.tenant_id, "c1", "confirmed", true, t0()).await.unwrap();
        let c = cases::by_id(&mut conn, &a.tenant_id, "c1").await.unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.decided_at.is_some()), ("confirmed", true));
        assert_eq!(c.data_json().unwrap(), data);
        // The same reference may exist in another tenant, never twice in one.
        let mut tx = db.store.begin().await.unwrap();
        cases::insert(&mut tx, new_case(&b.tenant_id, "c2", "GEW-2026-000001", &data)).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        assert!(cases::insert(&mut tx, new_case(&a.tenant_id, "c3", "GEW-2026-000001", &data)).await.is_err());
        drop(tx);
        drop(conn);
        db.cleanup().await;
    }
}

/// PostgreSQL: `audit_chain` finds the chain's head by its key however small the table was
/// when its statistics were taken (since migration 0035 it may not scan sequentially; 0034
/// planned every call). A plan cached while the table was empty would otherwise read the
/// whole table on every append once it has grown.
#[tokio::test]
async fn audit_chain_uses_the_key_after_the_table_grew() {
    for db in testing::all().await {
        if db.backend() != rathaus_store::Backend::Postgres {
            db.cleanup().await;
            continue;
        }
        let (a, b) = two_tenants(&db.store).await;
        // One connection: PL/pgSQL caches plans per session.
        let mut conn = db.store.conn().await.unwrap();
        let entry = |i: usize| audit::Pending {
            actor: Actor::System,
            action: "process.step".into(),
            object_type: "case".into(),
            object_id: format!("c{i}"),
            details: json!({"step": i}),
        };
        sqlx::query("ANALYZE audit_log").execute(&mut *conn).await.unwrap();
        // Past the five calls after which a generic plan may be cached.
        for i in 0..8 {
            audit::append_all(&mut conn, &a.tenant_id, &[entry(i)], t0()).await.unwrap();
        }
        // The table grows (another tenant's trail) before autovacuum could analyse it.
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, at, actor, action, object_type, object_id, details, prev_hash, hash)
             SELECT $1, g, $2, 'system', 'process.step', 'case', 'c' || g, '{}', '', '' FROM generate_series(1, 5000) g",
        )
        .bind(&b.tenant_id)
        .bind(rathaus_store::ts(t0()))
        .execute(&mut *conn)
        .await
        .unwrap();
        async fn seq_scans(conn: &mut sqlx::AnyConnection) -> i64 {
            // This session's counts are published at the end of its next statement.
            sqlx::query("SELECT pg_stat_force_next_flush()").execute(&mut *conn).await.unwrap();
            let (n,): (i64,) =
                sqlx::query_as("SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'audit_log'::regclass")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            n
        }
        let before = seq_scans(&mut conn).await;
        for i in 8..13 {
            audit::append_all(&mut conn, &a.tenant_id, &[entry(i)], t0()).await.unwrap();
        }
        assert_eq!(seq_scans(&mut conn).await, before, "appends scanned the audit trail");
        let mut conn2 = db.store.conn().await.unwrap();
        assert_eq!(audit::verify(&mut conn2, &a.tenant_id).await.unwrap(), None);
        drop((conn, conn2));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn audit_trail_is_a_verifiable_hash_chain() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let mut conn = db.store.conn().await.unwrap();
        for i in 0..3 {
            audit::append(&mut conn, &a.tenant_id, &Actor::System, "case.status", "case", "c1", &json!({"i": i}), t0())
                .await
                .unwrap();
        }
        audit::append(&mut conn, &b.tenant_id, &Actor::Applicant, "case.submitted", "case", "c9", &json!({}), t0())
            .await
            .unwrap();
        // Text beyond ASCII is hashed as UTF-8 by whichever side chains (PostgreSQL chains
        // in the database, see migration 0012; verify recomputes in the application).
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "müller".into() };
        audit::append(
            &mut conn,
            &b.tenant_id,
            &clerk,
            "case.note",
            "case",
            "c9",
            &json!({"text": "Straße „Ö“ €"}),
            t0(),
        )
        .await
        .unwrap();
        assert_eq!(audit::verify(&mut conn, &b.tenant_id).await.unwrap(), None);
        // A batch appended at the end of a transaction continues the same chain.
        let batch: Vec<audit::Pending> = (0..3)
            .map(|i| audit::Pending {
                actor: Actor::System,
                action: "process.step".into(),
                object_type: "case".into(),
                object_id: "c2".into(),
                details: json!({"step": i}),
            })
            .collect();
        audit::append_all(&mut conn, &a.tenant_id, &batch, t0()).await.unwrap();
        audit::append_all(&mut conn, &a.tenant_id, &[], t0()).await.unwrap();
        audit::append(&mut conn, &a.tenant_id, &Actor::System, "case.status", "case", "c2", &json!({}), t0())
            .await
            .unwrap();
        assert_eq!(audit::count(&mut conn, &a.tenant_id).await.unwrap(), 7);
        assert_eq!(audit::for_object(&mut conn, &a.tenant_id, "case", "c2").await.unwrap().len(), 4);
        assert_eq!(audit::verify(&mut conn, &a.tenant_id).await.unwrap(), None);
        assert_eq!(audit::for_object(&mut conn, &a.tenant_id, "case", "c1").await.unwrap().len(), 3);
        assert_eq!(audit::for_object(&mut conn, &b.tenant_id, "case", "c1").await.unwrap().len(), 0);
        // Tampering with an entry breaks the chain at that entry.
        sqlx::query("UPDATE audit_log SET details = '{\"i\": 99}' WHERE tenant_id = $1 AND seq = 2")
            .bind(&a.tenant_id)
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(audit::verify(&mut conn, &a.tenant_id).await.unwrap(), Some(2));
        assert_eq!(audit::verify(&mut conn, &b.tenant_id).await.unwrap(), None);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn jobs_are_claimed_once_retried_and_dead_lettered() {
    for db in testing::all().await {
        let (a, _) = two_tenants(&db.store).await;
        let backend = db.backend();
        let mut conn = db.store.conn().await.unwrap();
        jobs::insert_write(
            &a.tenant_id,
            "j1",
            "i1",
            "c1",
            1,
            "Task_X",
            "rathaus:fee",
            &json!({}),
            &json!({}),
            2,
            t0(),
            t0(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let lease = Duration::seconds(30);
        let job = jobs::claim(&mut conn, backend, "w1", t0(), lease, Claim::BuiltIn).await.unwrap().expect("claimable");
        assert_eq!(job.attempts, 1);
        assert!(
            jobs::claim(&mut conn, backend, "w2", t0(), lease, Claim::BuiltIn).await.unwrap().is_none(),
            "a leased job is not claimed twice"
        );
        assert_eq!(
            jobs::busy_for_instance(&mut conn, &a.tenant_id, "i1", t0()).await.unwrap(),
            1,
            "running counts as busy"
        );
        // The first worker fails: retried after a backoff, not before.
        assert!(!jobs::fail(&mut conn, &job, "w1", "boom", t0()).await.unwrap());
        assert_eq!(
            jobs::busy_for_instance(&mut conn, &a.tenant_id, "i1", t0()).await.unwrap(),
            0,
            "a later retry is not busy now"
        );
        assert!(jobs::claim(&mut conn, backend, "w2", t0(), lease, Claim::BuiltIn).await.unwrap().is_none());
        let later = t0() + Duration::minutes(5);
        let job =
            jobs::claim(&mut conn, backend, "w2", later, lease, Claim::BuiltIn).await.unwrap().expect("due again");
        assert_eq!(job.attempts, 2);
        // Lease expiry: w2 dies; w3 takes over; w2 can no longer complete it.
        let much_later = later + Duration::minutes(1);
        let job3 = jobs::claim(&mut conn, backend, "w3", much_later, lease, Claim::BuiltIn)
            .await
            .unwrap()
            .expect("lease expired");
        assert!(!jobs::complete(&mut conn, &a.tenant_id, "j1", "w2", much_later).await.unwrap());
        // Last attempt fails: dead letter.
        assert!(jobs::fail(&mut conn, &job3, "w3", "boom again", much_later).await.unwrap());
        assert!(jobs::claim(&mut conn, backend, "w4", much_later + Duration::days(1), lease, Claim::BuiltIn)
            .await
            .unwrap()
            .is_none());
        let all = jobs::for_instance(&mut conn, &a.tenant_id, "i1").await.unwrap();
        assert_eq!(all[0].status, "failed");
        assert_eq!(all[0].last_error.as_deref(), Some("boom again"));
        // Instance filter: only that instance's jobs.
        jobs::insert_write(
            &a.tenant_id,
            "j2",
            "i2",
            "c2",
            1,
            "T",
            "rathaus:fee",
            &json!({}),
            &json!({}),
            3,
            t0(),
            t0(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let only = |i| Claim::Instance { tenant_id: &a.tenant_id, instance_id: i };
        assert!(jobs::claim(&mut conn, backend, "w", t0(), lease, only("i1")).await.unwrap().is_none());
        let j2 = jobs::claim(&mut conn, backend, "w", t0(), lease, only("i2")).await.unwrap().unwrap();
        assert!(jobs::complete(&mut conn, &a.tenant_id, &j2.job_id, "w", t0()).await.unwrap());
        assert_eq!(jobs::pending_count(&mut conn).await.unwrap(), 0);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn external_jobs_timers_cancellation_and_buffered_messages() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let backend = db.backend();
        let lease = Duration::seconds(30);
        let mut conn = db.store.conn().await.unwrap();
        for (id, tenant, job_type, token, run_at) in [
            ("ext", &a.tenant_id, "fachverfahren:gewerbe", 1, t0()),
            ("timer", &a.tenant_id, "rathaus:timer", 2, t0() + Duration::days(3)),
            ("other", &b.tenant_id, "fachverfahren:gewerbe", 1, t0()),
        ] {
            jobs::insert_write(tenant, id, "i1", "c1", token, "T", job_type, &json!({}), &json!({}), 3, run_at, t0())
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // The built-in worker leaves external types alone; an external worker sees only its
        // tenant's jobs of its type.
        assert!(jobs::claim(&mut conn, backend, "node", t0(), lease, Claim::BuiltIn).await.unwrap().is_none());
        let ext = Claim::External { tenant_id: &a.tenant_id, job_type: "fachverfahren:gewerbe" };
        let job = jobs::claim(&mut conn, backend, "sw", t0(), lease, ext).await.unwrap().expect("external job");
        assert_eq!(job.job_id, "ext");
        assert!(
            jobs::claim(&mut conn, backend, "sw", t0(), lease, ext).await.unwrap().is_none(),
            "tenant b's job is not visible"
        );
        assert!(jobs::extend_lock(&mut conn, &a.tenant_id, "ext", "sw", t0() + Duration::minutes(10)).await.unwrap());
        assert!(!jobs::extend_lock(&mut conn, &a.tenant_id, "ext", "other", t0() + Duration::minutes(10))
            .await
            .unwrap());
        assert!(
            jobs::claim(&mut conn, backend, "sw2", t0() + Duration::minutes(5), lease, ext).await.unwrap().is_none(),
            "the extended lock holds"
        );
        assert_eq!(
            jobs::fail_external(&mut conn, &job, "sw", "Fachverfahren nicht erreichbar", 0, Duration::minutes(1), t0())
                .await
                .unwrap(),
            Some(true),
            "no retries left: dead letter"
        );
        assert_eq!(jobs::failed(&mut conn, &a.tenant_id, 10).await.unwrap().len(), 1);
        // A timer runs at its due time, not before.
        assert!(jobs::claim(&mut conn, backend, "node", t0() + Duration::days(2), lease, Claim::BuiltIn)
            .await
            .unwrap()
            .is_none());
        let timer = jobs::claim(&mut conn, backend, "node", t0() + Duration::days(3), lease, Claim::BuiltIn)
            .await
            .unwrap()
            .expect("due timer");
        // Claimed too early after a clock jump back: put back without counting the attempt.
        jobs::reschedule(&mut conn, &timer, "node", t0() + Duration::days(4)).await.unwrap();
        let again = jobs::by_id(&mut conn, &a.tenant_id, "timer").await.unwrap().unwrap();
        assert_eq!((again.status.as_str(), again.attempts), ("pending", 0));
        // Cancelling by token voids the pending timer.
        assert_eq!(jobs::cancel_for_tokens(&mut conn, &a.tenant_id, "i1", &[2], t0()).await.unwrap(), 1);
        assert_eq!(jobs::by_id(&mut conn, &a.tenant_id, "timer").await.unwrap().unwrap().status, "cancelled");
        // Buffered messages: taken once, oldest first, not after expiry, per tenant.
        messages::buffer(
            &mut conn,
            &a.tenant_id,
            "m1",
            "c1",
            "zahlung",
            &json!({"n": 1}),
            t0(),
            t0() + Duration::days(1),
        )
        .await
        .unwrap();
        messages::buffer(
            &mut conn,
            &a.tenant_id,
            "m2",
            "c1",
            "zahlung",
            &json!({"n": 2}),
            t0() + Duration::seconds(1),
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
        assert!(messages::take(&mut conn, &b.tenant_id, "c1", "zahlung", t0()).await.unwrap().is_none());
        let m = messages::take(&mut conn, &a.tenant_id, "c1", "zahlung", t0()).await.unwrap().unwrap();
        assert_eq!(m.message_id, "m1");
        assert!(
            messages::take(&mut conn, &a.tenant_id, "c1", "zahlung", t0() + Duration::hours(2))
                .await
                .unwrap()
                .is_none(),
            "m2 expired"
        );
        assert_eq!(messages::purge(&mut conn, t0() + Duration::days(2)).await.unwrap(), 2);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sessions_expire_and_are_tenant_bound() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let mut conn = db.store.conn().await.unwrap();
        sessions::save(&mut conn, &a.tenant_id, "sid", &json!({"csrf": "x"}), t0(), t0() + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(sessions::load(&mut conn, &a.tenant_id, "sid", t0()).await.unwrap(), Some(json!({"csrf": "x"})));
        assert_eq!(
            sessions::load(&mut conn, &b.tenant_id, "sid", t0()).await.unwrap(),
            None,
            "another tenant's cookie is useless"
        );
        assert_eq!(sessions::load(&mut conn, &a.tenant_id, "sid", t0() + Duration::hours(2)).await.unwrap(), None);
        assert_eq!(sessions::purge_expired(&mut conn, t0() + Duration::hours(2)).await.unwrap(), 1);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn documents_keep_bytes_and_are_idempotent() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let mut conn = db.store.conn().await.unwrap();
        let bytes = b"%PDF-1.7 test \x00\xff".to_vec();
        for _ in 0..2 {
            documents::insert(
                &mut conn,
                documents::NewDocument {
                    tenant_id: &a.tenant_id,
                    document_id: "doc1",
                    case_id: "c1",
                    kind: "bescheinigung",
                    template: "t",
                    title: "Empfangsbescheinigung",
                    file_name: "e.pdf",
                    media_type: "application/pdf",
                    content: &bytes,
                    visible_to_applicant: true,
                    now: t0(),
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(documents::for_case(&mut conn, &a.tenant_id, "c1").await.unwrap().len(), 1);
        let (meta, content) = documents::content(&mut conn, &a.tenant_id, "c1", "doc1").await.unwrap().unwrap();
        assert_eq!(content, bytes);
        assert_eq!(meta.size, bytes.len() as i64);
        assert!(documents::content(&mut conn, &b.tenant_id, "c1", "doc1").await.unwrap().is_none());
        assert!(documents::content(&mut conn, &a.tenant_id, "other-case", "doc1").await.unwrap().is_none());
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_batch_writes_everything_in_one_statement_and_reports_its_last_write() {
    use rathaus_store::batch::Batch;
    use rathaus_store::{events, instances, tasks};
    for db in testing::all().await {
        let (a, _) = two_tenants(&db.store).await;
        let t = &a.tenant_id;
        let row = instances::InstanceRow {
            tenant_id: t.clone(),
            instance_id: "i1".into(),
            case_id: "c1".into(),
            deployment_id: "d1".into(),
            status: "running".into(),
            state: "{}".into(),
            revision: 0,
        };
        let task = tasks::Task {
            tenant_id: t.clone(),
            task_id: "k1".into(),
            case_id: "c1".into(),
            instance_id: "i1".into(),
            token: 7,
            element_id: "pruefen".into(),
            name: "Prüfen".into(),
            candidate_groups: "sachbearbeitung".into(),
            form_key: String::new(),
            status: "open".into(),
            assignee: None,
            result: None,
            created_at: rathaus_store::ts(t0()),
            completed_at: None,
            completed_by: None,
            candidate_users: String::new(),
            due_at: Some(rathaus_store::ts(t0() + Duration::days(3))),
            follow_up_at: None,
            proposal: None,
            proposed_by: None,
        };
        let entry = |action: &str| audit::Pending {
            actor: Actor::System,
            action: action.into(),
            object_type: "case".into(),
            object_id: "c1".into(),
            details: json!({"n": 1}),
        };
        // First step: instance, task, timeline entry and audit entries together.
        let mut tx = db.store.begin().await.unwrap();
        let mut batch = Batch::new();
        batch.push(tasks::insert_write(&task));
        batch.push(events::add_write(t, "c1", "task", "Aufgabe angelegt", false, t0()));
        batch.push(
            audit::chain(&mut tx, t, &[entry("task.created"), entry("decision.evaluated")], t0())
                .await
                .unwrap()
                .unwrap(),
        );
        batch.push(instances::insert_write(&row, t0()));
        assert_eq!(batch.len(), 4);
        assert_eq!(batch.execute(&mut tx).await.unwrap(), 1, "{:?}: the last write inserted one row", db.backend());
        assert!(batch.is_empty());
        tx.commit().await.unwrap();

        // A request to the applicant that went unanswered brings the open task back.
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(tasks::follow_up_now(&mut conn, t, "c1", t0() + Duration::days(1)).await.unwrap(), 1);
        assert_eq!(tasks::follow_up_now(&mut conn, t, "c2", t0()).await.unwrap(), 0);
        let task = tasks::by_id(&mut conn, t, "k1").await.unwrap().unwrap();
        assert_eq!(task.follow_up_at, Some(rathaus_store::ts(t0() + Duration::days(1))));
        drop(conn);

        // Second step: the checked save comes last; with the right revision it changes a row.
        let mut tx = db.store.begin().await.unwrap();
        let mut batch = Batch::new();
        batch.push(tasks::complete_write(t, "k1", &json!({"ok": true}), "benchmark", t0()));
        batch.push(events::add_write(t, "c1", "process", "Bearbeitung abgeschlossen", false, t0()));
        batch.push(audit::chain(&mut tx, t, &[entry("process.completed")], t0()).await.unwrap().unwrap());
        batch.push(instances::save_write(t, "i1", "completed", "{\"done\":true}", 0, t0()));
        assert_eq!(batch.execute(&mut tx).await.unwrap(), 1);
        tx.commit().await.unwrap();

        // A stale revision changes nothing and says so; rolling back undoes the rest.
        let mut tx = db.store.begin().await.unwrap();
        let mut batch = Batch::new();
        batch.push(events::add_write(t, "c1", "process", "verloren", false, t0()));
        batch.push(audit::chain(&mut tx, t, &[entry("lost")], t0()).await.unwrap().unwrap());
        batch.push(instances::save_write(t, "i1", "running", "{}", 0, t0()));
        assert_eq!(batch.execute(&mut tx).await.unwrap(), 0, "{:?}: stale revision", db.backend());
        tx.rollback().await.unwrap();

        let mut conn = db.store.conn().await.unwrap();
        let saved = instances::by_id(&mut conn, t, "i1").await.unwrap().unwrap();
        assert_eq!((saved.status.as_str(), saved.revision), ("completed", 1));
        let task = tasks::by_id(&mut conn, t, "k1").await.unwrap().unwrap();
        assert_eq!(task.status, "completed");
        assert_eq!(task.due_at, Some(rathaus_store::ts(t0() + Duration::days(3))));
        let timeline: Vec<String> =
            events::for_case(&mut conn, t, "c1", false).await.unwrap().into_iter().map(|e| e.message).collect();
        assert_eq!(timeline, ["Aufgabe angelegt", "Bearbeitung abgeschlossen"]);
        let trail = audit::for_object(&mut conn, t, "case", "c1").await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["task.created", "decision.evaluated", "process.completed"]);
        assert_eq!(audit::verify(&mut conn, t).await.unwrap(), None, "{:?}: chain intact", db.backend());
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_tenants_logo_is_stored_replaced_and_kept_apart_from_other_tenants() {
    use rathaus_store::assets;
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let mut conn = db.store.conn().await.unwrap();
        let first = assets::put(&mut conn, &a.tenant_id, "logo", "image/png", b"\x89PNG one", t0()).await.unwrap();
        let second = assets::put(&mut conn, &a.tenant_id, "logo", "image/svg+xml", b"<svg/>", t0()).await.unwrap();
        assert_ne!(first, second);
        let logo = assets::get(&mut conn, &a.tenant_id, "logo").await.unwrap().unwrap();
        assert_eq!(
            (logo.content_type.as_str(), logo.content.as_slice(), logo.sha256),
            ("image/svg+xml", &b"<svg/>"[..], second)
        );
        assert!(assets::get(&mut conn, &b.tenant_id, "logo").await.unwrap().is_none(), "{:?}", db.backend());
        drop(conn);
        db.cleanup().await;
    }
}

/// `audit::write_with_entries` chains a step's entries without reading the chain's head
/// on SQLite (it remembers the head it wrote last). An entry written meanwhile by another
/// path, or a transaction rolled back after it moved the remembered head, must not fork
/// the chain: the step falls back to reading the head, and its other writes land once.
#[tokio::test]
async fn step_entries_never_fork_the_chain_from_a_stale_head() {
    use rathaus_store::batch::Batch;
    use rathaus_store::events;
    for db in testing::all().await {
        let (a, _) = two_tenants(&db.store).await;
        let t = &a.tenant_id;
        let entry = |action: &str| audit::Pending {
            actor: Actor::System,
            action: action.into(),
            object_type: "case".into(),
            object_id: "c1".into(),
            details: json!({}),
        };
        let step = |message: &str| {
            let mut batch = Batch::new();
            batch.push(events::add_write(t, "c1", "process", message, false, t0()));
            batch
        };
        let mut tx = db.store.begin().await.unwrap();
        let changed = audit::write_with_entries(&mut tx, t, &[entry("eins")], t0(), step("eins")).await.unwrap();
        assert_eq!(changed, 1);
        tx.commit().await.unwrap();

        // Another path appends: the remembered head is behind.
        let mut tx = db.store.begin().await.unwrap();
        audit::append(&mut tx, t, &Actor::System, "dazwischen", "case", "c1", &json!({}), t0()).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        audit::write_with_entries(&mut tx, t, &[entry("zwei"), entry("zwei-b")], t0(), step("zwei")).await.unwrap();
        tx.commit().await.unwrap();

        // A rolled back step: the remembered head is ahead of the database.
        let mut tx = db.store.begin().await.unwrap();
        audit::write_with_entries(&mut tx, t, &[entry("verloren")], t0(), step("verloren")).await.unwrap();
        tx.rollback().await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        audit::write_with_entries(&mut tx, t, &[entry("drei")], t0(), step("drei")).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(audit::verify(&mut conn, t).await.unwrap(), None, "{:?}: the chain is whole", db.backend());
        let actions: Vec<String> =
            audit::for_object(&mut conn, t, "case", "c1").await.unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(actions, ["eins", "dazwischen", "zwei", "zwei-b", "drei"], "{:?}", db.backend());
        let timeline: Vec<String> =
            events::for_case(&mut conn, t, "c1", false).await.unwrap().into_iter().map(|e| e.message).collect();
        assert_eq!(timeline, ["eins", "zwei", "drei"], "{:?}: each step's writes once", db.backend());
        drop(conn);
        db.cleanup().await;
    }
}

fn upload<'a>(id: &'a str, key: &'a str, tenant: &'a str, content: &'a [u8]) -> uploads::NewUpload<'a> {
    uploads::NewUpload {
        tenant_id: tenant,
        upload_id: id,
        upload_key: key,
        procedure_id: "gewerbeanmeldung",
        field: "erlaubnis.kopie",
        file_name: "erlaubnis.pdf",
        media_type: "application/pdf",
        content,
        scan: "clean",
        now: t0(),
        expires: t0() + Duration::hours(8),
    }
}

fn attach<'a>(key: &'a str, tenant: &'a str, id: &'a str, sha256: &'a str) -> uploads::Attach<'a> {
    uploads::Attach {
        tenant_id: tenant,
        upload_key: key,
        upload_id: id,
        sha256,
        case_id: "c1",
        title: "Kopie der Erlaubnis",
        now: t0(),
    }
}

#[tokio::test]
async fn uploads_belong_to_their_key_move_into_the_case_once_and_expire() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let (ta, tb) = (a.tenant_id.as_str(), b.tenant_id.as_str());
        let mut conn = db.store.conn().await.unwrap();
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let sha = uploads::insert(&mut conn, upload("u1", "key-a", ta, &pdf)).await.unwrap();
        assert_eq!(sha, rathaus_store::sha256_hex(&pdf));
        uploads::insert(&mut conn, upload("u2", "key-a", ta, &pdf)).await.unwrap();
        uploads::insert(&mut conn, upload("u3", "key-b", tb, &pdf)).await.unwrap();
        let listed: Vec<String> =
            uploads::for_key(&mut conn, ta, "key-a").await.unwrap().into_iter().map(|u| u.upload_id).collect();
        assert_eq!(listed, ["u1", "u2"]);
        assert_eq!(uploads::bytes_for_key(&mut conn, ta, "key-a").await.unwrap(), 2 * pdf.len() as i64);
        assert_eq!(uploads::bytes_for_key(&mut conn, ta, "nothing").await.unwrap(), 0);
        // Another key, another tenant or another content never attaches.
        let data = json!({});
        cases::insert(&mut conn, new_case(ta, "c1", "GEW-2026-000001", &data)).await.unwrap();
        let zeros = "0".repeat(64);
        assert!(!uploads::attach(&mut conn, &attach("key-b", ta, "u1", &sha)).await.unwrap());
        assert!(!uploads::attach(&mut conn, &attach("key-a", tb, "u1", &sha)).await.unwrap());
        assert!(!uploads::attach(&mut conn, &attach("key-a", ta, "u1", &zeros)).await.unwrap());
        assert!(uploads::attach(&mut conn, &attach("key-a", ta, "u1", &sha)).await.unwrap());
        assert!(!uploads::attach(&mut conn, &attach("key-a", ta, "u1", &sha)).await.unwrap(), "moved once");
        let docs = documents::for_case(&mut conn, ta, "c1").await.unwrap();
        assert_eq!(docs.len(), 1, "{:?}", db.backend());
        let d = &docs[0];
        assert_eq!(
            (d.document_id.as_str(), d.kind.as_str(), d.title.as_str(), d.file_name.as_str(), d.scan.as_str()),
            ("u1", "anlage", "Kopie der Erlaubnis", "erlaubnis.pdf", "clean")
        );
        assert_eq!(d.visible_to_applicant, 1);
        let (_, bytes) = documents::content(&mut conn, ta, "c1", "u1").await.unwrap().unwrap();
        assert_eq!(bytes, pdf);
        // Removing: only with the key.
        assert!(!uploads::delete(&mut conn, ta, "key-b", "u2").await.unwrap());
        // A saved draft keeps its uploads longer; the rest expire.
        uploads::keep_until(&mut conn, ta, "key-a", t0() + Duration::days(14)).await.unwrap();
        let later = t0() + Duration::days(1);
        assert_eq!(uploads::tenants_with_expired(&mut conn, later).await.unwrap(), std::slice::from_ref(&b.tenant_id));
        assert_eq!(uploads::delete_expired(&mut conn, tb, later).await.unwrap(), 1);
        assert_eq!(uploads::delete_expired(&mut conn, ta, later).await.unwrap(), 0);
        assert_eq!(uploads::delete_expired(&mut conn, ta, t0() + Duration::days(15)).await.unwrap(), 1);
        assert!(uploads::for_key(&mut conn, ta, "key-a").await.unwrap().is_empty());
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn accounts_are_per_tenant_and_their_links_work_once_and_in_time() {
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let (ta, tb) = (a.tenant_id.as_str(), b.tenant_id.as_str());
        let mut conn = db.store.conn().await.unwrap();
        let account = |tenant_id, account_id| accounts::NewAccount {
            tenant_id,
            account_id,
            email: "erika@example.org",
            password_hash: "$argon2id$…",
            display_name: "Erika Muster",
            now: t0(),
        };
        assert!(accounts::create(&mut conn, &account(ta, "acc1")).await.unwrap());
        assert!(!accounts::create(&mut conn, &account(ta, "acc2")).await.unwrap(), "one account per address");
        assert!(accounts::create(&mut conn, &account(tb, "acc3")).await.unwrap(), "another town, another account");
        let found = accounts::by_email(&mut conn, ta, "erika@example.org").await.unwrap().unwrap();
        assert_eq!(found.account_id, "acc1");
        assert!(!found.verified());
        assert!(accounts::by_id(&mut conn, tb, "acc1").await.unwrap().is_none());

        // A link works once, within its time, for its purpose, in its tenant.
        let later = t0() + Duration::hours(1);
        accounts::add_token(&mut conn, ta, "h1", "acc1", accounts::Purpose::Verify, t0(), t0() + Duration::hours(48))
            .await
            .unwrap();
        assert!(!accounts::token_valid(&mut conn, ta, "h1", accounts::Purpose::Reset, later).await.unwrap());
        assert!(accounts::token_valid(&mut conn, ta, "h1", accounts::Purpose::Verify, later).await.unwrap());
        assert_eq!(accounts::take_token(&mut conn, tb, "h1", accounts::Purpose::Verify, later).await.unwrap(), None);
        assert_eq!(accounts::take_token(&mut conn, ta, "h1", accounts::Purpose::Reset, later).await.unwrap(), None);
        assert_eq!(
            accounts::take_token(&mut conn, ta, "h1", accounts::Purpose::Verify, later).await.unwrap().as_deref(),
            Some("acc1")
        );
        assert_eq!(accounts::take_token(&mut conn, ta, "h1", accounts::Purpose::Verify, later).await.unwrap(), None);
        accounts::add_token(&mut conn, ta, "h2", "acc1", accounts::Purpose::Reset, t0(), t0() + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            accounts::take_token(&mut conn, ta, "h2", accounts::Purpose::Reset, t0() + Duration::hours(2))
                .await
                .unwrap(),
            None,
            "expired"
        );
        accounts::mark_verified(&mut conn, ta, "acc1", later).await.unwrap();

        // Cases belong to the account that submitted them.
        let data = json!({});
        cases::insert(&mut conn, new_case(ta, "c1", "GEW-2026-000001", &data)).await.unwrap();
        accounts::link_case(&mut conn, ta, "acc1", None, "c1").await.unwrap();
        assert!(accounts::owns_case(&mut conn, ta, "acc1", "c1").await.unwrap());
        assert!(!accounts::owns_case(&mut conn, tb, "acc3", "c1").await.unwrap());
        let listed = accounts::cases(&mut conn, ta, "acc1").await.unwrap();
        assert_eq!(listed.iter().map(|c| c.reference.as_str()).collect::<Vec<_>>(), ["GEW-2026-000001"]);
        assert!(accounts::cases(&mut conn, tb, "acc3").await.unwrap().is_empty());

        // Never confirmed: deleted after a while; confirmed accounts stay.
        assert_eq!(
            accounts::purge_unverified(&mut conn, t0() + Duration::days(8)).await.unwrap(),
            1,
            "{:?}",
            db.backend()
        );
        assert!(accounts::by_id(&mut conn, tb, "acc3").await.unwrap().is_none());
        assert!(accounts::by_id(&mut conn, ta, "acc1").await.unwrap().is_some());
        drop(conn);
        db.cleanup().await;
    }
}

/// SQLite only: commits leave the copying of the write-ahead log into the database file to
/// the store's background checkpointer, which does it soon after, without another commit.
#[tokio::test]
async fn sqlite_checkpoints_the_write_ahead_log_in_the_background() {
    let db = testing::sqlite().await;
    let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite:"));
    let mut tx = db.store.begin().await.unwrap();
    sqlx::query("CREATE TABLE scratch (payload TEXT NOT NULL)").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    // About 500 pages: far below the writer's own automatic checkpoint (10 000 pages), so
    // only the background task can bring them into the database file.
    let mut tx = db.store.begin().await.unwrap();
    sqlx::query("INSERT INTO scratch (payload) VALUES ($1)")
        .bind("x".repeat(2_000_000))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut grown = 0;
    for _ in 0..200 {
        grown = std::fs::metadata(&path).unwrap().len().saturating_sub(before);
        if grown >= 2_000_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(grown >= 2_000_000, "database file grew by {grown} bytes only: the WAL was not checkpointed");
    db.cleanup().await;
}

/// A business account: members share the cases and drafts made for the business, nobody
/// else (not another tenant's account) sees them; the last admin cannot be removed; an
/// invitation replaces the earlier one to the same address and is found by its link only.
#[tokio::test]
async fn business_members_share_cases_and_drafts_and_keep_an_admin() {
    use rathaus_store::{businesses, drafts};
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let (ta, tb) = (a.tenant_id.as_str(), b.tenant_id.as_str());
        let mut conn = db.store.conn().await.unwrap();
        for (tenant_id, account_id, email) in [
            (ta, "anna", "anna@firma.de"),
            (ta, "ben", "ben@firma.de"),
            (ta, "carla", "carla@example.org"),
            (tb, "ben", "ben@firma.de"),
        ] {
            let new = accounts::NewAccount {
                tenant_id,
                account_id,
                email,
                password_hash: "$argon2id$…",
                display_name: account_id,
                now: t0(),
            };
            assert!(accounts::create(&mut conn, &new).await.unwrap());
        }
        businesses::create(&mut conn, ta, "firma", "Muster GmbH", "anna", t0()).await.unwrap();
        let m = businesses::membership(&mut conn, ta, "firma", "anna").await.unwrap().unwrap();
        assert!(m.is_admin());
        assert!(businesses::membership(&mut conn, tb, "firma", "anna").await.unwrap().is_none());

        // Invitations: the newer one to an address replaces the older; found by its link.
        let invite = |token_hash: &'static str, invitation_id: &'static str| businesses::NewInvitation {
            tenant_id: ta,
            invitation_id,
            token_hash,
            business_id: "firma",
            email: "ben@firma.de",
            role: businesses::Role::Member,
            invited_by: "anna",
            now: t0(),
            expires: t0() + Duration::days(7),
        };
        businesses::invite(&mut conn, &invite("h1", "i1")).await.unwrap();
        businesses::invite(&mut conn, &invite("h2", "i2")).await.unwrap();
        assert!(businesses::invitation_by_token(&mut conn, ta, "h1").await.unwrap().is_none());
        let inv = businesses::invitation_by_token(&mut conn, ta, "h2").await.unwrap().unwrap();
        assert_eq!((inv.invitation_id.as_str(), inv.email.as_str()), ("i2", "ben@firma.de"));
        assert!(businesses::invitation_by_token(&mut conn, tb, "h2").await.unwrap().is_none());
        assert!(!inv.expired(t0() + Duration::days(6)).unwrap());
        assert!(inv.expired(t0() + Duration::days(7)).unwrap());
        assert_eq!(businesses::invitations(&mut conn, ta, "firma", t0()).await.unwrap().len(), 1);
        assert!(businesses::invitations(&mut conn, ta, "firma", t0() + Duration::days(8)).await.unwrap().is_empty());
        businesses::add_member(&mut conn, ta, "firma", "ben", businesses::Role::Member, t0()).await.unwrap();
        assert!(businesses::delete_invitation(&mut conn, ta, "firma", "i2").await.unwrap());
        assert!(!businesses::delete_invitation(&mut conn, ta, "firma", "i2").await.unwrap());
        let members = businesses::members(&mut conn, ta, "firma").await.unwrap();
        assert_eq!(members.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(), ["anna@firma.de", "ben@firma.de"]);

        // Anna's case for the business and her private one; Ben sees only the business's.
        let data = json!({});
        cases::insert(&mut conn, new_case(ta, "c1", "GEW-2026-000001", &data)).await.unwrap();
        cases::insert(&mut conn, new_case(ta, "c2", "GEW-2026-000002", &data)).await.unwrap();
        accounts::link_case(&mut conn, ta, "anna", Some("firma"), "c1").await.unwrap();
        accounts::link_case(&mut conn, ta, "anna", None, "c2").await.unwrap();
        let refs = |cases: Vec<accounts::AccountCase>| {
            cases.into_iter().map(|c| (c.reference, c.business)).collect::<Vec<_>>()
        };
        assert_eq!(
            refs(accounts::cases(&mut conn, ta, "ben").await.unwrap()),
            [("GEW-2026-000001".to_string(), Some("Muster GmbH".to_string()))]
        );
        assert_eq!(accounts::cases(&mut conn, ta, "anna").await.unwrap().len(), 2);
        assert!(accounts::owns_case(&mut conn, ta, "ben", "c1").await.unwrap());
        assert!(!accounts::owns_case(&mut conn, ta, "ben", "c2").await.unwrap());
        assert!(!accounts::owns_case(&mut conn, ta, "carla", "c1").await.unwrap());
        assert!(!accounts::owns_case(&mut conn, tb, "ben", "c1").await.unwrap());
        assert!(accounts::cases(&mut conn, tb, "ben").await.unwrap().is_empty());

        // A draft Ben saves for the business is Anna's to continue too.
        let save = drafts::Save {
            tenant_id: ta,
            draft_id: "d1",
            procedure_id: "gewerbeanmeldung",
            data: &data,
            token_hash: "dh1",
            upload_key: None,
            account_id: Some("ben"),
            business_id: Some("firma"),
            now: t0(),
            expires: t0() + Duration::days(30),
        };
        drafts::save(&mut conn, &save).await.unwrap();
        let listed = accounts::drafts(&mut conn, ta, "anna", t0()).await.unwrap();
        assert_eq!(listed.iter().map(|d| d.business.as_deref()).collect::<Vec<_>>(), [Some("Muster GmbH")]);
        assert!(drafts::of_account(&mut conn, ta, "anna", "d1").await.unwrap().is_some());
        assert!(drafts::of_account(&mut conn, ta, "carla", "d1").await.unwrap().is_none());
        assert!(accounts::drafts(&mut conn, ta, "carla", t0()).await.unwrap().is_empty());

        // The last admin stays; a member goes, and with membership the shared view.
        assert_eq!(
            businesses::remove_member(&mut conn, ta, "firma", "anna").await.unwrap(),
            businesses::Removed::LastAdmin
        );
        assert_eq!(
            businesses::remove_member(&mut conn, ta, "firma", "carla").await.unwrap(),
            businesses::Removed::NotAMember
        );
        assert_eq!(
            businesses::remove_member(&mut conn, ta, "firma", "ben").await.unwrap(),
            businesses::Removed::Removed
        );
        assert!(!accounts::owns_case(&mut conn, ta, "ben", "c1").await.unwrap());
        assert!(drafts::of_account(&mut conn, ta, "ben", "d1").await.unwrap().is_some(), "his own draft stays his");
        assert!(businesses::of_account(&mut conn, ta, "ben").await.unwrap().is_empty());
        assert_eq!(businesses::purge_invitations(&mut conn, t0() + Duration::days(8)).await.unwrap(), 0);
        drop(conn);
        db.cleanup().await;
    }
}

/// Full-text search over a tenant's cases: by Aktenzeichen, applicant and any submitted
/// value, by word prefix, umlauts as written; never another tenant's case; a change of the
/// data is found at once; operators in the input are plain text.
#[tokio::test]
async fn cases_are_found_by_words_within_their_tenant() {
    assert_eq!(
        cases::search_words("  Bäckerei \"Schmidt\" OR GEW-2026-000001 *"),
        ["bäckerei", "schmidt", "or", "gew", "2026", "000001"]
    );
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let bakery = json!({"betrieb": {"bezeichnung": "Bäckerei Schmidt", "anschrift": {"ort": "Musterstadt"}}});
        let kiosk = json!({"betrieb": {"bezeichnung": "Kiosk am Markt"}});
        let mut tx = db.store.begin().await.unwrap();
        cases::insert(&mut tx, new_case(&a.tenant_id, "c1", "GEW-2026-000001", &bakery)).await.unwrap();
        cases::insert(&mut tx, new_case(&a.tenant_id, "c2", "GEW-2026-000002", &kiosk)).await.unwrap();
        cases::insert(&mut tx, new_case(&b.tenant_id, "c3", "GEW-2026-000001", &bakery)).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        let found = |words: &str| {
            let words = cases::search_words(words);
            let tenant = a.tenant_id.clone();
            let store = db.store.clone();
            async move {
                let mut conn = store.conn().await.unwrap();
                let mut ids: Vec<String> = cases::search(&mut conn, &tenant, &words, 50)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| c.case_id)
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(found("schmidt").await, ["c1"], "{:?}", db.backend());
        assert_eq!(found("Bäck").await, ["c1"], "a prefix, with its umlaut");
        assert_eq!(found("GEW-2026-000002").await, ["c2"]);
        assert_eq!(found("erika muster").await, ["c1", "c2"], "the applicant");
        assert_eq!(found("kiosk schmidt").await, Vec::<String>::new(), "every word must match");
        assert_eq!(found("\" OR * NEAR(").await, Vec::<String>::new(), "operators are words, not syntax");
        assert!(found("").await.is_empty());
        // Changed data is found at once; the old words are gone.
        sqlx::query("UPDATE cases SET data = $1 WHERE tenant_id = $2 AND case_id = 'c2'")
            .bind(json!({"betrieb": {"bezeichnung": "Blumenladen Weber"}}).to_string())
            .bind(&a.tenant_id)
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(found("weber").await, ["c2"]);
        assert!(found("kiosk").await.is_empty());
        // A deleted case leaves nothing in the index (on SQLite found by key, not by scan).
        sqlx::query("DELETE FROM cases WHERE tenant_id = $1 AND case_id = 'c2'")
            .bind(&a.tenant_id)
            .execute(&mut *conn)
            .await
            .unwrap();
        assert!(found("weber").await.is_empty());
        if db.backend() == rathaus_store::Backend::Sqlite {
            for table in ["case_search", "case_search_rows"] {
                let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE case_id = 'c2'"))
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                assert_eq!(n, 0, "{table}");
            }
        }
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deadlines_are_listed_by_light_marked_once_and_met_with_the_case() {
    use chrono::NaiveDate;
    use rathaus_store::deadlines::{self, Filter, NewDeadline};
    use rathaus_store::tasks;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    for db in testing::all().await {
        let (a, b) = two_tenants(&db.store).await;
        let t = &a.tenant_id;
        let data = json!({});
        let mut tx = db.store.begin().await.unwrap();
        for (id, reference) in [("c1", "GEW-2026-000001"), ("c2", "GEW-2026-000002"), ("c3", "GEW-2026-000003")] {
            cases::insert(&mut tx, new_case(t, id, reference, &data)).await.unwrap();
        }
        cases::insert(&mut tx, new_case(&b.tenant_id, "c1", "GEW-2026-000001", &data)).await.unwrap();
        // c1 passed (last day the 4th), c2 in its warning days, c3 far ahead; B has one too.
        for (tenant, id, case, kind, warn, due) in [
            (t.as_str(), "d1", "c1", "gesetzlich", day(3), day(4)),
            (t, "d2", "c2", "ziel", day(6), day(9)),
            (t, "d3", "c3", "gesetzlich", day(20), day(28)),
            (&b.tenant_id, "d1", "c1", "gesetzlich", day(1), day(2)),
        ] {
            let new = NewDeadline {
                tenant_id: tenant,
                deadline_id: id,
                case_id: case,
                key: kind,
                kind,
                label: r#"{"de":"Frist","en":"Deadline"}"#,
                legal_basis: Some("§ 1"),
                warn_on: warn,
                due_on: due,
                now: t0(),
            };
            deadlines::insert_write(&new).execute(&mut tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        let today = day(7);
        assert_eq!(deadlines::counts(&mut conn, t, today, &[]).await.unwrap(), (1, 1, 1), "{:?}", db.backend());
        let all = deadlines::open(&mut conn, t, today, Filter::default(), 10).await.unwrap();
        let refs: Vec<&str> = all.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(refs, ["GEW-2026-000001", "GEW-2026-000002", "GEW-2026-000003"]);
        let only = |light, kind| Filter { light, kind, ..Filter::default() };
        let red = deadlines::open(&mut conn, t, today, only(Some("rot"), None), 10).await.unwrap();
        assert_eq!(red.iter().map(|r| r.deadline.deadline_id.as_str()).collect::<Vec<_>>(), ["d1"]);
        let amber = deadlines::open(&mut conn, t, today, only(Some("gelb"), None), 10).await.unwrap();
        assert_eq!(amber.iter().map(|r| r.deadline.deadline_id.as_str()).collect::<Vec<_>>(), ["d2"]);
        let statutory = deadlines::open(&mut conn, t, today, only(None, Some("gesetzlich")), 10).await.unwrap();
        assert_eq!(statutory.len(), 2);
        // A service centre's staff see the procedures delegated to them: all three cases
        // are Gewerbeanzeigen, none of them an Aufgrabegenehmigung.
        let gewerbe = ["gewerbeanmeldung".to_string()];
        let other = ["aufgrabegenehmigung".to_string(), "gewerbeanmeldung_x".to_string()];
        let within = |w| Filter { within: w, ..Filter::default() };
        assert_eq!(deadlines::open(&mut conn, t, today, within(&gewerbe), 10).await.unwrap().len(), 3);
        assert!(deadlines::open(&mut conn, t, today, within(&other), 10).await.unwrap().is_empty());
        assert_eq!(deadlines::counts(&mut conn, t, today, &gewerbe).await.unwrap(), (1, 1, 1));
        assert_eq!(deadlines::counts(&mut conn, t, today, &other).await.unwrap(), (0, 0, 0));
        // Only the cases with an open task of mine.
        let task = tasks::Task {
            tenant_id: t.clone(),
            task_id: "k1".into(),
            case_id: "c3".into(),
            instance_id: "i1".into(),
            token: 1,
            element_id: "pruefen".into(),
            name: "Prüfen".into(),
            candidate_groups: "clerk".into(),
            form_key: String::new(),
            status: "open".into(),
            assignee: Some("sabine".into()),
            result: None,
            created_at: rathaus_store::ts(t0()),
            completed_at: None,
            completed_by: None,
            candidate_users: String::new(),
            due_at: None,
            follow_up_at: None,
            proposal: None,
            proposed_by: None,
        };
        tasks::insert_write(&task).execute(&mut conn).await.unwrap();
        let mine = Filter { assignee: Some("sabine"), ..Filter::default() };
        let mine = deadlines::open(&mut conn, t, today, mine, 10).await.unwrap();
        assert_eq!(mine.iter().map(|r| r.deadline.case_id.as_str()).collect::<Vec<_>>(), ["c3"]);
        // The worklist reads the lights of its page's cases; never another tenant's.
        let of = deadlines::open_for_cases(&mut conn, t, &["c1", "c3", "c9"]).await.unwrap();
        assert_eq!(of.iter().map(|d| d.deadline_id.as_str()).collect::<Vec<_>>(), ["d1", "d3"]);
        assert_eq!(deadlines::open_for_cases(&mut conn, &b.tenant_id, &["c1"]).await.unwrap().len(), 1);
        // Each moment is recorded once (a retried job changes nothing).
        assert!(deadlines::mark_reminded(&mut conn, t, "d2", 1).await.unwrap());
        assert!(!deadlines::mark_reminded(&mut conn, t, "d2", 1).await.unwrap());
        assert!(deadlines::mark_reminded(&mut conn, t, "d2", 2).await.unwrap());
        assert!(deadlines::mark_expired(&mut conn, t, "d1", t0()).await.unwrap());
        assert!(!deadlines::mark_expired(&mut conn, t, "d1", t0()).await.unwrap());
        assert!(deadlines::mark_escalated(&mut conn, t, "d1", t0()).await.unwrap());
        assert!(!deadlines::mark_escalated(&mut conn, t, "d1", t0()).await.unwrap());
        let d2 = deadlines::by_id(&mut conn, t, "d2").await.unwrap().unwrap();
        assert_eq!(d2.reminders, 2);
        // A final status meets the case's deadlines; nothing is marked on them after that.
        cases::set_status(&mut conn, t, "c1", "confirmed", true, t0()).await.unwrap();
        cases::set_status(&mut conn, t, "c2", "in_review", false, t0()).await.unwrap();
        let d1 = deadlines::by_id(&mut conn, t, "d1").await.unwrap().unwrap();
        assert!(d1.met_at.is_some() && d1.expired_at.is_some());
        assert!(deadlines::by_id(&mut conn, t, "d2").await.unwrap().unwrap().met_at.is_none());
        assert!(!deadlines::mark_reminded(&mut conn, t, "d1", 1).await.unwrap());
        assert_eq!(deadlines::counts(&mut conn, t, today, &[]).await.unwrap(), (0, 1, 1));
        assert_eq!(deadlines::for_case(&mut conn, t, "c1").await.unwrap().len(), 1);
        // B's deadline is untouched by all of this.
        assert_eq!(deadlines::counts(&mut conn, &b.tenant_id, today, &[]).await.unwrap(), (1, 0, 0));
        drop(conn);
        db.cleanup().await;
    }
}
