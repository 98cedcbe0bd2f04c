//! The engine in the runtime on both backends: timers in working days fired by the worker
//! (with a clock that can jump), messages correlated or buffered, external workers, BPMN
//! errors, a call activity, and a restart in between.

use chrono::{DateTime, TimeZone, Utc};
use rathaus_domain::{CaseStatus, Channel, Lang, TenantSettings};
use rathaus_runtime::{Correlated, ManualClock, Runtime, RuntimeConfig, RuntimeError, SubmitRequest};
use rathaus_store::audit::Actor;
use rathaus_store::{cases, jobs, tenants, testing};
use serde_json::{json, Map};
use std::path::Path;
use std::sync::Arc;

const WORKER: &str = "fachverfahren-1";
const TYPE: &str = "fachverfahren:pruefung";

/// Monday, 16 November 2026, 10:00 German time. In Saxony Wednesday the 18th is a public
/// holiday (Buß- und Bettag).
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap()
}

fn runtime(db: &testing::TestDatabase, clock: Arc<ManualClock>, node: &str) -> Arc<Runtime> {
    let library = rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library")).unwrap();
    let config = RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: node.into() };
    Runtime::new(db.store.clone(), library, config, clock, None)
}

async fn setup(db: &testing::TestDatabase) -> (Arc<Runtime>, Arc<ManualClock>, tenants::Tenant) {
    let clock = Arc::new(ManualClock::new(monday()));
    let rt = runtime(db, clock.clone(), "node-1");
    let settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
    let mut tx = db.store.begin().await.unwrap();
    let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, monday()).await.unwrap();
    tenants::activate_procedure(&mut tx, &t.tenant_id, "fristen", &json!({}), monday()).await.unwrap();
    tx.commit().await.unwrap();
    rt.sync_deployments().await.unwrap();
    (rt, clock, t)
}

async fn submit(rt: &Runtime, t: &tenants::Tenant, name: &str) -> String {
    submit_to(rt, t, "fristen", name).await.reference.as_str().to_string()
}

/// Submits an application with `name` to `procedure` through the API.
async fn submit_to(rt: &Runtime, t: &tenants::Tenant, procedure: &str, name: &str) -> rathaus_runtime::Submitted {
    let data = json!({"name": name});
    rt.submit(SubmitRequest {
        tenant: t,
        procedure_id: procedure,
        data: &data,
        channel: Channel::Api,
        lang: Lang::De,
        actor: Actor::System,
        upload_key: None,
        account_id: None,
        business_id: None,
    })
    .await
    .unwrap()
}

async fn status(db: &testing::TestDatabase, t: &tenants::Tenant, reference: &str) -> CaseStatus {
    let mut conn = db.store.conn().await.unwrap();
    let c = cases::by_reference(&mut conn, &t.tenant_id, reference).await.unwrap().unwrap();
    CaseStatus::parse(&c.status).unwrap()
}

async fn timer_jobs(db: &testing::TestDatabase, t: &tenants::Tenant, reference: &str) -> Vec<jobs::Job> {
    let mut conn = db.store.conn().await.unwrap();
    let c = cases::by_reference(&mut conn, &t.tenant_id, reference).await.unwrap().unwrap();
    let row = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &c.case_id).await.unwrap().unwrap();
    jobs::for_instance(&mut conn, &t.tenant_id, &row.instance_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.job_type == "rathaus:timer")
        .collect()
}

fn vars(v: serde_json::Value) -> Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn external_worker_then_payment_message() {
    for db in testing::all().await {
        let (rt, _clock, t) = setup(&db).await;
        let reference = submit(&rt, &t, "Erika").await;
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Submitted, "waits for the external worker");
        assert!(
            rt.fetch_and_lock(&t.tenant_id, WORKER, &["rathaus:case-status".into()], 5, chrono::Duration::minutes(5))
                .await
                .is_err(),
            "built-in jobs cannot be fetched"
        );
        let fetched =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 5, chrono::Duration::minutes(5)).await.unwrap();
        assert_eq!(fetched.len(), 1);
        assert_eq!(fetched[0].reference, reference);
        assert_eq!(fetched[0].variables, json!({"name": "Erika", "gebuehr": 20}));
        assert!(
            rt.fetch_and_lock(&t.tenant_id, "other", &[TYPE.into()], 5, chrono::Duration::minutes(5))
                .await
                .unwrap()
                .is_empty(),
            "locked for the first worker"
        );
        assert!(matches!(
            rt.complete_external(&t.tenant_id, &fetched[0].id, "other", Map::new()).await,
            Err(RuntimeError::Conflict(_))
        ));
        rt.complete_external(&t.tenant_id, &fetched[0].id, WORKER, vars(json!({"geprueft": true}))).await.unwrap();
        // Now waiting for payment or the deadline: two working days, the holiday skipped.
        let timers = timer_jobs(&db, &t, &reference).await;
        assert_eq!(timers.len(), 1);
        assert_eq!(timers[0].run_at, "2026-11-19T09:00:00.000Z");
        let got = rt
            .correlate_message(
                &t.tenant_id,
                &reference,
                "zahlung",
                vars(json!({"betrag": 20})),
                chrono::Duration::days(7),
                &Actor::System,
            )
            .await
            .unwrap();
        assert_eq!(got, Correlated::Delivered);
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Confirmed);
        assert_eq!(timer_jobs(&db, &t, &reference).await[0].status, "cancelled", "the deadline is void");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deadline_in_working_days_fires_after_restart_and_not_on_the_holiday() {
    for db in testing::all().await {
        let (rt, clock, t) = setup(&db).await;
        let reference = submit(&rt, &t, "Erika").await;
        let job =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5)).await.unwrap();
        rt.complete_external(&t.tenant_id, &job[0].id, WORKER, Map::new()).await.unwrap();
        drop(rt);
        // A restart: a new runtime (another node) on the same database.
        let rt = runtime(&db, clock.clone(), "node-2");
        clock.set(Utc.with_ymd_and_hms(2026, 11, 18, 23, 0, 0).unwrap());
        assert_eq!(rt.run_due_jobs().await.unwrap(), 0, "Wednesday was a holiday: not yet due");
        // The clock jumps back: still nothing.
        clock.set(monday());
        assert_eq!(rt.run_due_jobs().await.unwrap(), 0);
        clock.set(Utc.with_ymd_and_hms(2026, 11, 19, 9, 0, 0).unwrap());
        assert!(rt.run_due_jobs().await.unwrap() >= 1);
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Rejected, "deadline passed, via the called process");
        assert!(matches!(
            rt.correlate_message(
                &t.tenant_id,
                &reference,
                "zahlung",
                Map::new(),
                chrono::Duration::zero(),
                &Actor::System
            )
            .await,
            Err(RuntimeError::Conflict(_))
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn early_message_is_buffered_and_taken_by_the_wait() {
    for db in testing::all().await {
        let (rt, _clock, t) = setup(&db).await;
        let reference = submit(&rt, &t, "Erika").await;
        let got = rt
            .correlate_message(
                &t.tenant_id,
                &reference,
                "zahlung",
                Map::new(),
                chrono::Duration::days(7),
                &Actor::System,
            )
            .await
            .unwrap();
        assert!(matches!(got, Correlated::Buffered { .. }), "nothing waits yet: {got:?}");
        let job =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5)).await.unwrap();
        rt.complete_external(&t.tenant_id, &job[0].id, WORKER, Map::new()).await.unwrap();
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Confirmed, "the buffered payment was taken");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bpmn_error_and_failures_of_external_workers() {
    for db in testing::all().await {
        let (rt, clock, t) = setup(&db).await;
        let rejected = submit(&rt, &t, "Erika").await;
        let job =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5)).await.unwrap();
        rt.bpmn_error_external(&t.tenant_id, &job[0].id, WORKER, "ABGELEHNT", "Gewerbe untersagt").await.unwrap();
        assert_eq!(status(&db, &t, &rejected).await, CaseStatus::Rejected);

        let failing = submit(&rt, &t, "Max").await;
        let job =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5)).await.unwrap();
        assert_eq!(job[0].reference, failing);
        let dead = rt
            .fail_external(
                &t.tenant_id,
                &job[0].id,
                WORKER,
                "Fachverfahren nicht erreichbar",
                1,
                chrono::Duration::minutes(1),
            )
            .await
            .unwrap();
        assert!(!dead, "one retry left");
        assert!(rt
            .fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5))
            .await
            .unwrap()
            .is_empty());
        clock.advance(chrono::Duration::minutes(2));
        let again =
            rt.fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5)).await.unwrap();
        assert_eq!(again[0].id, job[0].id, "retried after the timeout");
        assert!(rt
            .fail_external(&t.tenant_id, &again[0].id, WORKER, "wieder nicht", 0, chrono::Duration::zero())
            .await
            .unwrap());
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(jobs::failed(&mut conn, &t.tenant_id, 10).await.unwrap().len(), 1, "dead letter for admins");
        drop(conn);
        db.cleanup().await;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_new_version_never_changes_running_cases() {
    for db in testing::all().await {
        let (rt, clock, t) = setup(&db).await;
        let old_case = submit(&rt, &t, "Alt").await;
        // Version 2 of the procedure: five working days to pay instead of two.
        let dir = std::env::temp_dir().join(format!("rathaus-lib-{:016x}", rand_suffix()));
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library"), &dir);
        let toml = dir.join("fristen/procedure.toml");
        std::fs::write(&toml, std::fs::read_to_string(&toml).unwrap().replace("version = \"1\"", "version = \"2\""))
            .unwrap();
        let bpmn = dir.join("fristen/process.bpmn");
        std::fs::write(&bpmn, std::fs::read_to_string(&bpmn).unwrap().replace(">P2D<", ">P5D<")).unwrap();
        let library = rathaus_engine::Library::load(&dir).unwrap();
        let config =
            RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "node-v2".into() };
        let rt2 = Runtime::new(db.store.clone(), library, config, clock.clone(), None);
        clock.advance(chrono::Duration::minutes(1));
        let changes = rt2.sync_deployments().await.unwrap();
        assert!(changes.iter().any(|c| c.3), "a new deployment was made: {changes:?}");
        let new_case = submit(&rt2, &t, "Neu").await;
        // Both cases pass the external check; each runs on the version it started with.
        for _ in 0..2 {
            let job = rt2
                .fetch_and_lock(&t.tenant_id, WORKER, &[TYPE.into()], 1, chrono::Duration::minutes(5))
                .await
                .unwrap();
            rt2.complete_external(&t.tenant_id, &job[0].id, WORKER, Map::new()).await.unwrap();
        }
        // Monday 16 Nov, 10:01 + 2 working days (Wednesday is a holiday in Saxony) = Thursday
        // 19th; + 5 working days = Tuesday 24th.
        assert_eq!(timer_jobs(&db, &t, &old_case).await[0].run_at, "2026-11-19T09:01:00.000Z");
        assert_eq!(timer_jobs(&db, &t, &new_case).await[0].run_at, "2026-11-24T09:01:00.000Z");
        let mut conn = db.store.conn().await.unwrap();
        let a = cases::by_reference(&mut conn, &t.tenant_id, &old_case).await.unwrap().unwrap();
        let b = cases::by_reference(&mut conn, &t.tenant_id, &new_case).await.unwrap().unwrap();
        assert_ne!(a.deployment_id, b.deployment_id);
        let list = rathaus_store::deployments::list(&mut conn, &t.tenant_id).await.unwrap();
        let version_of = |id: &str| list.iter().find(|d| d.deployment_id == id).unwrap().version.clone();
        assert_eq!((version_of(&a.deployment_id), version_of(&b.deployment_id)), ("1".to_string(), "2".to_string()));
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await;
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// A request to the applicant (Nachforderung): sent as a message with a deadline, a
/// reminder three days before in the morning (German time), the deadline passing once;
/// the applicant's message answers it, a withdrawn request's jobs do nothing.
#[tokio::test]
async fn a_request_to_the_applicant_reminds_expires_and_is_answered() {
    use chrono::NaiveDate;
    use rathaus_runtime::requests::RequestState;
    for db in testing::all().await {
        let (rt, clock, t) = setup(&db).await;
        let reference = submit(&rt, &t, "Erika").await;
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_reference(&mut conn, &t.tenant_id, &reference).await.unwrap().unwrap();
        drop(conn);
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sachbearbeitung".into() };
        // Not today, not more than three months ahead.
        let today = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        for bad in [today, NaiveDate::from_ymd_opt(2027, 2, 17).unwrap()] {
            assert!(matches!(
                rt.request_documents(&t, &case, &clerk, "Sabine Sachbearbeiterin", "Kopie", bad).await,
                Err(RuntimeError::Conflict(_))
            ));
        }
        let due = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let first = rt
            .request_documents(&t, &case, &clerk, "Sabine Sachbearbeiterin", "Kopie der Erlaubnis nach § 34a GewO", due)
            .await
            .unwrap();
        let second =
            rt.request_documents(&t, &case, &clerk, "Sabine Sachbearbeiterin", "Mietvertrag", due).await.unwrap();
        let messages = rt.messages(&t, &case.case_id).await.unwrap();
        assert_eq!(messages.len(), 2);
        assert!(
            messages.iter().any(|m| m.body.contains("bis zum 30.11.2026") && m.body.contains("§ 34a GewO")),
            "{messages:?}"
        );
        assert!(rt.withdraw_request(&t, &case, &clerk, &second).await.unwrap());
        assert!(!rt.withdraw_request(&t, &case, &clerk, &second).await.unwrap(), "once");

        let request_jobs = |db: &testing::TestDatabase| {
            let store = db.store.clone();
            let case_id = case.case_id.clone();
            let tenant_id = t.tenant_id.clone();
            async move {
                let mut conn = store.conn().await.unwrap();
                let row = rathaus_store::instances::by_case(&mut conn, &tenant_id, &case_id).await.unwrap().unwrap();
                let mut runs: Vec<String> = jobs::for_instance(&mut conn, &tenant_id, &row.instance_id)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|j| j.job_type == "rathaus:request")
                    .map(|j| format!("{} {}", j.run_at, j.status))
                    .collect();
                runs.sort();
                runs
            }
        };
        // Reminder on Friday 27 November at 08:00 German time (07:00 UTC), deadline at the
        // end of the 30th; for both requests.
        let runs = request_jobs(&db).await;
        assert_eq!(runs.len(), 4, "{runs:?}");
        assert!(runs[0].starts_with("2026-11-27T07:00:00.000Z pending"), "{runs:?}");
        assert!(runs[3].starts_with("2026-11-30T23:00:00.000Z pending"), "{runs:?}");

        let state = |rt: Arc<Runtime>, id: String| {
            let t = t.clone();
            let case_id = case.case_id.clone();
            async move {
                let all = rt.document_requests(&t, &case_id).await.unwrap();
                let r = all.into_iter().find(|r| r.request_id == id).unwrap();
                (r.state(), r.reminded_at.is_some())
            }
        };
        clock.set(Utc.with_ymd_and_hms(2026, 11, 27, 7, 30, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(state(rt.clone(), first.clone()).await, (RequestState::Open, true));
        assert_eq!(
            state(rt.clone(), second.clone()).await,
            (RequestState::Withdrawn, false),
            "a withdrawn request is not reminded"
        );
        clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 22, 59, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(state(rt.clone(), first.clone()).await.0, RequestState::Open, "the 30th is not over yet");
        clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(state(rt.clone(), first.clone()).await.0, RequestState::Overdue);
        assert!(request_jobs(&db).await.iter().all(|r| r.ends_with(" done")), "{:?}", request_jobs(&db).await);

        // A late answer still answers it.
        let message =
            rt.message_from_applicant(&t, &case, "Anbei die Erlaubnis.", None, Lang::De).await.unwrap().unwrap();
        let all = rt.document_requests(&t, &case.case_id).await.unwrap();
        let answered = all.iter().find(|r| r.request_id == first).unwrap();
        assert_eq!(
            (answered.state(), answered.answer_message_id.as_deref()),
            (RequestState::Answered, Some(message.as_str()))
        );
        let mut conn = db.store.conn().await.unwrap();
        let actions: Vec<String> = rathaus_store::audit::for_object(&mut conn, &t.tenant_id, "case", &case.case_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("request."))
            .collect();
        assert_eq!(
            actions,
            [
                "request.created",
                "request.created",
                "request.withdrawn",
                "request.reminded",
                "request.overdue",
                "request.answered"
            ]
        );
        drop(conn);
        db.cleanup().await;
    }
}

/// Withdrawing: the case is closed, its instance stops, its jobs and timers are cancelled,
/// and a timer that would have come due later does nothing; a second withdrawal is refused.
#[tokio::test]
async fn a_withdrawn_case_stops_its_process_and_nothing_of_it_runs_later() {
    use rathaus_runtime::Withdrawal;
    for db in testing::all().await {
        let (rt, clock, t) = setup(&db).await;
        let reference = submit(&rt, &t, "Erika").await;
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_reference(&mut conn, &t.tenant_id, &reference).await.unwrap().unwrap();
        let row = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &case.case_id).await.unwrap().unwrap();
        let pending = jobs::for_instance(&mut conn, &t.tenant_id, &row.instance_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.status == "pending")
            .count();
        assert!(pending >= 1, "the process waits for something");
        drop(conn);
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sachbearbeitung".into() };
        let how = Withdrawal::Recorded { actor: clerk, note: "per Brief vom 16.11.2026".into() };
        rt.withdraw_case(&t, &case.case_id, &how).await.unwrap();
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Closed);
        let mut conn = db.store.conn().await.unwrap();
        let row = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &case.case_id).await.unwrap().unwrap();
        assert_eq!(row.status, "terminated");
        let left: Vec<String> = jobs::for_instance(&mut conn, &t.tenant_id, &row.instance_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.status == "pending")
            .map(|j| j.job_type)
            .collect();
        assert!(left.is_empty(), "nothing left to run: {left:?}");
        let trail = rathaus_store::audit::for_object(&mut conn, &t.tenant_id, "case", &case.case_id).await.unwrap();
        assert!(trail.iter().any(|e| e.action == "case.withdrawn" && e.details.contains("per Brief")));
        drop(conn);
        assert!(matches!(
            rt.withdraw_case(&t, &case.case_id, &Withdrawal::Applicant).await,
            Err(RuntimeError::Conflict(_))
        ));
        // Weeks later: no timer of the case fires, the case stays closed.
        clock.set(Utc.with_ymd_and_hms(2026, 12, 31, 9, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, &reference).await, CaseStatus::Closed);
        db.cleanup().await;
    }
}

/// Consultation (Anhörung): the invitation is mailed at once with the participant's link, a
/// reminder three days before the deadline in the morning; a consultation answered or
/// withdrawn meanwhile is neither reminded nor overdue; the deadline passing without an
/// answer marks it overdue once and brings the case's tasks up for resubmission; withdrawing
/// the case closes the links.
#[tokio::test]
async fn a_consultation_invites_reminds_expires_and_is_answered() {
    use chrono::NaiveDate;
    use rathaus_domain::consultation::{Answer, AnswerProblem, Verdict};
    use rathaus_runtime::consultations::{Answered, ConsultationState, Request};
    for db in testing::all().await {
        let mail_dir = std::env::temp_dir().join(format!("rathaus-consultation-{:016x}", rand_suffix()));
        let clock = Arc::new(ManualClock::new(monday()));
        let (_, _, t) = setup(&db).await;
        let library =
            rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library")).unwrap();
        let config =
            RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "n".into() };
        let mailer = rathaus_runtime::mail::Mailer::directory(mail_dir.clone(), "amt@musterstadt.example").unwrap();
        let rt = Runtime::new(db.store.clone(), library, config, clock.clone(), Some(mailer));
        rt.sync_deployments().await.unwrap();
        let reference = submit(&rt, &t, "Erika").await;
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_reference(&mut conn, &t.tenant_id, &reference).await.unwrap().unwrap();
        drop(conn);
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sachbearbeitung".into() };
        let pages = vec!["angaben".to_string()];
        let ask = |who: &'static str, due: NaiveDate| Request {
            participant: who,
            email: "stelle@example.org",
            question: "Bedenken?",
            shared_pages: &[],
            share_documents: false,
            due,
        };
        let today = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        assert!(matches!(
            rt.start_consultation(&t, &case, &clerk, "Sabine", &ask("Polizei", today)).await,
            Err(RuntimeError::Conflict(_))
        ));
        let due = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let police = rt
            .start_consultation(&t, &case, &clerk, "Sabine", &Request { shared_pages: &pages, ..ask("Polizei", due) })
            .await
            .unwrap();
        let fire = rt.start_consultation(&t, &case, &clerk, "Sabine", &ask("Feuerwehr", due)).await.unwrap();
        let road = rt.start_consultation(&t, &case, &clerk, "Sabine", &ask("Straßenbauamt", due)).await.unwrap();
        rt.run_due_jobs().await.unwrap();
        let mails = |dir: &Path| -> Vec<String> {
            let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
            names.sort();
            names.iter().map(|p| std::fs::read_to_string(p).unwrap().replace("=\r\n", "").replace("=\n", "")).collect()
        };
        let sent = mails(&mail_dir);
        assert_eq!(sent.len(), 3, "one invitation each");
        let link = rt.consultation_link(&t, &police);
        let token = link.rsplit('/').next().unwrap().to_string();
        assert!(sent.iter().any(|m| m.contains(&token)), "the mail holds the link: {sent:?}");

        let state = |id: String| {
            let (rt, t, case_id) = (rt.clone(), t.clone(), case.case_id.clone());
            async move {
                let all = rt.consultations(&t, &case_id).await.unwrap();
                let c = all.into_iter().find(|c| c.consultation_id == id).unwrap();
                (c.state(), c.invited_at.is_some(), c.reminded_at.is_some())
            }
        };
        assert_eq!(state(police.clone()).await, (ConsultationState::Open, true, false));
        assert!(rt.open_consultation(&t, "0123456789abcdef0123456789abcdef01234567").await.unwrap().is_none());
        assert!(rt.open_consultation(&t, "kurz").await.unwrap().is_none());
        let opened = rt.open_consultation(&t, &token).await.unwrap().unwrap();
        assert_eq!(
            (opened.consultation.consultation_id.as_str(), opened.consultation.pages()),
            (police.as_str(), pages.clone())
        );

        // An incomplete answer is refused with its problems; the fire service answers.
        let bad = Answer { verdict: "bedenken".into(), ..Default::default() };
        assert_eq!(
            rt.answer_consultation(&t, &token, &bad).await.unwrap(),
            Answered::Invalid(vec![AnswerProblem::StatementMissing, AnswerProblem::NameMissing])
        );
        let fire_token = rt.consultation_link(&t, &fire).rsplit('/').next().unwrap().to_string();
        let agree = Answer { verdict: "zustimmung".into(), answered_by: "BM Schulz".into(), ..Default::default() };
        assert_eq!(rt.answer_consultation(&t, &fire_token, &agree).await.unwrap(), Answered::Recorded(Verdict::Agree));
        assert_eq!(rt.answer_consultation(&t, &fire_token, &agree).await.unwrap(), Answered::Closed, "once");
        assert!(rt.withdraw_consultation(&t, &case, &clerk, &road).await.unwrap());
        assert!(!rt.withdraw_consultation(&t, &case, &clerk, &road).await.unwrap(), "once");

        // Reminder on Friday 27 November at 08:00 German time, for the police only.
        clock.set(Utc.with_ymd_and_hms(2026, 11, 27, 7, 30, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(state(police.clone()).await, (ConsultationState::Open, true, true));
        assert_eq!(state(fire.clone()).await.0, ConsultationState::Answered);
        assert_eq!(state(road.clone()).await, (ConsultationState::Withdrawn, true, false));
        let sent = mails(&mail_dir);
        assert_eq!(sent.len(), 4, "one reminder");
        assert!(sent.iter().filter(|m| m.contains("Erinnerung")).count() == 1);
        assert!(rt.overdue_consultations(&t, 10).await.unwrap().is_empty());

        // The deadline passes at the end of the 30th, German time.
        clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(state(police.clone()).await.0, ConsultationState::Overdue);
        assert_eq!(state(fire.clone()).await.0, ConsultationState::Answered);
        let overdue = rt.overdue_consultations(&t, 10).await.unwrap();
        assert_eq!(
            overdue.iter().map(|(c, r)| (c.participant.as_str(), r.as_str())).collect::<Vec<_>>(),
            [("Polizei", reference.as_str())]
        );
        let mut conn = db.store.conn().await.unwrap();
        let trail = rathaus_store::audit::for_object(&mut conn, &t.tenant_id, "case", &case.case_id).await.unwrap();
        drop(conn);
        let actions: Vec<&str> =
            trail.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("consultation.")).collect();
        assert_eq!(
            actions,
            [
                "consultation.started",
                "consultation.started",
                "consultation.started",
                "consultation.invited",
                "consultation.invited",
                "consultation.invited",
                "consultation.answered",
                "consultation.withdrawn",
                "consultation.reminded",
                "consultation.overdue"
            ]
        );
        assert!(trail.iter().any(|e| e.actor == "participant:Feuerwehr"));

        // A late answer is still taken.
        let conditions = Answer {
            verdict: "auflagen".into(),
            conditions: "Absperrung ab 7 Uhr".into(),
            answered_by: "PHK Maier".into(),
            ..Default::default()
        };
        assert_eq!(
            rt.answer_consultation(&t, &token, &conditions).await.unwrap(),
            Answered::Recorded(Verdict::AgreeWithConditions)
        );
        assert!(rt.overdue_consultations(&t, 10).await.unwrap().is_empty());
        // Withdrawing the case closes what still waits.
        let later = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        let last = rt.start_consultation(&t, &case, &clerk, "Sabine", &ask("Ordnungsamt", later)).await.unwrap();
        let how = rathaus_runtime::Withdrawal::Recorded { actor: clerk.clone(), note: "per Telefon".into() };
        rt.withdraw_case(&t, &case.case_id, &how).await.unwrap();
        assert_eq!(state(last.clone()).await.0, ConsultationState::Withdrawn);
        let last_token = rt.consultation_link(&t, &last).rsplit('/').next().unwrap().to_string();
        assert!(rt.open_consultation(&t, &last_token).await.unwrap().unwrap().case_closed);
        let answer = Answer { verdict: "zustimmung".into(), answered_by: "X".into(), ..Default::default() };
        assert_eq!(rt.answer_consultation(&t, &last_token, &answer).await.unwrap(), Answered::Closed);
        let _ = std::fs::remove_dir_all(&mail_dir);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deadlines_remind_the_clerk_escalate_to_the_team_lead_and_end_with_the_case() {
    use rathaus_domain::deadline::Light;
    use rathaus_runtime::tasks::Decision;
    use rathaus_runtime::Reassign;
    use rathaus_store::{audit, deadlines, staff, tasks};
    for db in testing::all().await {
        let mail_dir = std::env::temp_dir().join(format!("rathaus-deadlines-{:016x}", rand_suffix()));
        let clock = Arc::new(ManualClock::new(monday()));
        let library =
            rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library")).unwrap();
        let config =
            RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "n".into() };
        let mailer = rathaus_runtime::mail::Mailer::directory(mail_dir.clone(), "amt@musterstadt.example").unwrap();
        let rt = Runtime::new(db.store.clone(), library, config, clock.clone(), Some(mailer));
        let settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
        let mut tx = db.store.begin().await.unwrap();
        let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, monday()).await.unwrap();
        tenants::activate_procedure(&mut tx, &t.tenant_id, "vorkaufsrecht", &json!({}), monday()).await.unwrap();
        // A clerk, the building office's team lead, and another office's team lead.
        for (user, role, unit, email) in [
            ("sabine", "clerk", "bauamt", "sabine@musterstadt.example"),
            ("thomas", "team_lead", "bauamt", "thomas@musterstadt.example"),
            ("olga", "team_lead", "ordnungsamt", "olga@musterstadt.example"),
        ] {
            let s = staff::create(&mut tx, &t.tenant_id, user, user, "x", role, monday()).await.unwrap();
            staff::set_org_units(&mut tx, &t.tenant_id, &s.staff_id, &[unit.to_string()]).await.unwrap();
            staff::set_email(&mut tx, &t.tenant_id, &s.staff_id, Some(email)).await.unwrap();
        }
        tx.commit().await.unwrap();
        rt.sync_deployments().await.unwrap();
        let s = submit_to(&rt, &t, "vorkaufsrecht", "Notarin Dr. Weiß").await;
        let views = rt.case_deadlines(&t, &s.case_id).await.unwrap();
        let due: Vec<(String, String, Light)> =
            views.iter().map(|v| (v.deadline.deadline_key.clone(), v.deadline.due_on.clone(), v.light)).collect();
        // Ten working days in Saxony skip Buß- und Bettag (18 November); two months from
        // 16 November end on Saturday 16 January, so on Monday the 18th.
        assert_eq!(
            due,
            [
                ("ziel".to_string(), "2026-12-01".to_string(), Light::Green),
                ("vorkaufsrecht".to_string(), "2027-01-18".to_string(), Light::Green)
            ],
            "{:?}",
            db.backend()
        );
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().remove(0);
        drop(conn);
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sabine".into() };
        assert!(rt.reassign_task(&t.tenant_id, &task.task_id, Reassign::Claim { by: "sabine" }, &clerk).await.unwrap());
        let mails = |dir: &Path| -> Vec<String> {
            let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
            let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            names.iter().map(|p| std::fs::read_to_string(p).unwrap().replace("=\r\n", "").replace("=\n", "")).collect()
        };
        let to = |m: &String, who: &str| m.contains(&format!("To: {who}@musterstadt.example"));
        let actions = || {
            let (store, tenant, case_id) = (db.store.clone(), t.tenant_id.clone(), s.case_id.clone());
            async move {
                let mut conn = store.conn().await.unwrap();
                audit::for_object(&mut conn, &tenant, "case", &case_id)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|a| a.action)
                    .filter(|a| a.starts_with("deadline."))
                    .collect::<Vec<_>>()
            }
        };

        // Two days before the target's last day the clerk is reminded (and nobody else).
        clock.set(Utc.with_ymd_and_hms(2026, 11, 29, 7, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        let sent = mails(&mail_dir);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(to(&sent[0], "sabine") && sent[0].contains("endet am 01.12.2026"), "{}", sent[0]);
        assert!(!sent[0].contains("Weiß"), "no personal data in the mail");
        assert_eq!(actions().await, ["deadline.reminded"]);
        let (rows, counts) = rt.deadline_dashboard(&t, deadlines::Filter::default(), 10).await.unwrap();
        assert_eq!((rows.len(), counts.red, counts.amber, counts.green), (2, 0, 1, 1));

        // The target passes: the clerk and the building office's team lead (not the other
        // office's) are told, and the task comes up for resubmission.
        clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        let sent = mails(&mail_dir);
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent[1..].iter().any(|m| to(m, "sabine")) && sent[1..].iter().any(|m| to(m, "thomas")), "{sent:?}");
        assert!(sent[1..].iter().all(|m| m.contains("Frist abgelaufen")));
        assert_eq!(actions().await, ["deadline.reminded", "deadline.expired", "deadline.escalated"]);
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::by_id(&mut conn, &t.tenant_id, &task.task_id).await.unwrap().unwrap();
        assert!(task.follow_up_at.is_some());
        drop(conn);
        let lights: Vec<Light> = rt.case_deadlines(&t, &s.case_id).await.unwrap().iter().map(|v| v.light).collect();
        assert_eq!(lights, [Light::Red, Light::Green]);
        // A job run again changes nothing.
        rt.run_due_jobs().await.unwrap();
        assert_eq!(mails(&mail_dir).len(), 3);

        // Four weeks before the statutory end: reminder; two weeks before: reminder and the
        // team lead, in one morning.
        clock.set(Utc.with_ymd_and_hms(2026, 12, 21, 6, 30, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(mails(&mail_dir).len(), 4);
        clock.set(Utc.with_ymd_and_hms(2027, 1, 4, 6, 30, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        let sent = mails(&mail_dir);
        assert_eq!(sent.len(), 6, "{sent:?}");
        assert!(
            sent[5..].iter().chain(&sent[4..5]).any(|m| to(m, "thomas") && m.contains("Frist in Gefahr")),
            "{sent:?}"
        );
        let (rows, _) = rt
            .deadline_dashboard(&t, deadlines::Filter { light: Some("gelb"), ..Default::default() }, 10)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].view.deadline.reminders, rows[0].view.deadline.escalated_at.is_some()), (2, true));

        // The clerk decides: the deadlines are met; the statutory one's end passes quietly.
        let decision = Decision {
            outcome: "bestaetigen".into(),
            reason: String::new(),
            clerk_name: "Sabine".into(),
            conditions: String::new(),
        };
        rt.complete_task(&t.tenant_id, &task.task_id, &decision, &clerk).await.unwrap();
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, s.reference.as_str()).await, CaseStatus::Confirmed);
        clock.set(Utc.with_ymd_and_hms(2027, 1, 20, 8, 0, 0).unwrap());
        rt.run_due_jobs().await.unwrap();
        assert_eq!(mails(&mail_dir).len(), 6);
        let views = rt.case_deadlines(&t, &s.case_id).await.unwrap();
        assert!(views.iter().all(|v| v.met), "{views:?}");
        assert_eq!(views.iter().map(|v| v.light).collect::<Vec<_>>(), [Light::Red, Light::Green]);
        let (rows, counts) = rt.deadline_dashboard(&t, deadlines::Filter::default(), 10).await.unwrap();
        assert_eq!((rows.len(), counts.red + counts.amber + counts.green), (0, 0));
        assert_eq!(actions().await.len(), 6, "nothing after the decision: {:?}", actions().await);
        let _ = std::fs::remove_dir_all(&mail_dir);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_decision_with_conditions_is_previewed_as_pdf_and_then_taken() {
    use rathaus_runtime::tasks::Decision;
    use rathaus_store::tasks;
    for db in testing::all().await {
        let clock = Arc::new(ManualClock::new(monday()));
        let rt = runtime(&db, clock.clone(), "n");
        let mut tx = db.store.begin().await.unwrap();
        let t =
            tenants::create(&mut tx, "musterstadt", "Musterstadt", &TenantSettings::default(), monday()).await.unwrap();
        tenants::activate_procedure(&mut tx, &t.tenant_id, "vorkaufsrecht", &json!({}), monday()).await.unwrap();
        tx.commit().await.unwrap();
        rt.sync_deployments().await.unwrap();
        let s = submit_to(&rt, &t, "vorkaufsrecht", "Notarin Dr. Weiß").await;
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().remove(0);
        drop(conn);
        let decide = |outcome: &str, conditions: &str| Decision {
            outcome: outcome.into(),
            reason: "Kein Gebiet mit Vorkaufsrecht.".into(),
            clerk_name: "Sabine".into(),
            conditions: conditions.into(),
        };
        let conditions = "Legen Sie dieses Zeugnis dem Grundbuchamt vor.\n\nEs gilt nur für Flurstück 12/3.";
        let with = rt.preview_decision(&t, &task.task_id, &decide("bestaetigen", conditions)).await.unwrap();
        let without = rt.preview_decision(&t, &task.task_id, &decide("bestaetigen", "")).await.unwrap();
        assert!(with.starts_with(b"%PDF-") && without.starts_with(b"%PDF-"));
        assert!(with.len() > without.len(), "the conditions are in the notice");
        // No template for a refusal is named: no preview; conditions with a refusal are refused.
        assert!(matches!(
            rt.preview_decision(&t, &task.task_id, &decide("ablehnen", "")).await,
            Err(RuntimeError::NotFound)
        ));
        assert!(matches!(
            rt.complete_task(&t.tenant_id, &task.task_id, &decide("ablehnen", conditions), &Actor::System).await,
            Err(RuntimeError::Conflict(_))
        ));
        // The preview decided nothing.
        assert_eq!(status(&db, &t, s.reference.as_str()).await, CaseStatus::Submitted);
        rt.complete_task(&t.tenant_id, &task.task_id, &decide("bestaetigen", conditions), &Actor::System)
            .await
            .unwrap();
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, s.reference.as_str()).await, CaseStatus::Confirmed);
        let mut conn = db.store.conn().await.unwrap();
        let row = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        let state: serde_json::Value = serde_json::from_str(&row.state).unwrap();
        assert!(row.state.contains("Es gilt nur für Flurstück 12/3."), "{state}");
        drop(conn);
        db.cleanup().await;
    }
}

/// Zahlungsabgleich: a bank statement pays the fee it names without doubt and the case that
/// waits for the payment goes on; everything else waits for a clerk, who assigns or closes
/// it; importing the statement again books nothing twice; a statement of another account is
/// refused.
#[tokio::test]
async fn a_bank_statement_pays_fees_continues_their_cases_and_leaves_the_rest_to_a_clerk() {
    use rathaus_runtime::reconciliation::Resolution;
    for db in testing::all().await {
        let clock = Arc::new(ManualClock::new(monday()));
        let rt = runtime(&db, clock.clone(), "node-1");
        let mut settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
        settings.bank.iban = "DE89 3704 0044 0532 0130 00".into();
        let mut tx = db.store.begin().await.unwrap();
        let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, monday()).await.unwrap();
        tenants::activate_procedure(&mut tx, &t.tenant_id, "kasse", &json!({}), monday()).await.unwrap();
        tx.commit().await.unwrap();
        rt.sync_deployments().await.unwrap();
        let (a, b) = (submit_to(&rt, &t, "kasse", "Erika").await, submit_to(&rt, &t, "kasse", "Max").await);
        rt.run_due_jobs().await.unwrap();
        let fee_of = |case_id: String| {
            let db = &db;
            let t = &t;
            async move {
                let mut conn = db.store.conn().await.unwrap();
                rathaus_store::fees::for_case(&mut conn, &t.tenant_id, &case_id).await.unwrap().pop().unwrap()
            }
        };
        let (fee_a, fee_b) = (fee_of(a.case_id.clone()).await, fee_of(b.case_id.clone()).await);
        assert_eq!((fee_a.amount_cents, fee_a.status.as_str()), (2600, "open"));
        let unknown = rathaus_domain::kassenzeichen(2026, 999);
        let xml = rathaus_store::testing::camt_test_statement(
            "DE89370400440532013000",
            &fee_a.kassenzeichen,
            &fee_b.kassenzeichen,
            &unknown,
        );
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sachbearbeitung".into() };

        let report = rt.import_statement(&t, &xml, &clerk).await.unwrap();
        assert_eq!(report.kontoauszug, "2026-12-07-231");
        let results: Vec<(&str, &str, Option<&str>)> =
            report.umsaetze.iter().map(|u| (u.referenz.as_str(), u.ergebnis.as_str(), u.grund.as_deref())).collect();
        assert_eq!(
            results,
            [
                ("2026120700001", "gebucht", None),
                ("2026120700002/1", "ungeklaert", Some("betrag_abweichend")),
                ("2026120700002/2", "ungeklaert", Some("kassenzeichen_unbekannt")),
                ("2026120700003", "ungeklaert", Some("ohne_kassenzeichen")),
                ("2026120700004", "nicht_betroffen", None),
                ("R-77", "ungeklaert", Some("rueckbuchung")),
            ]
        );
        assert_eq!(report.umsaetze[0].aktenzeichen.as_deref(), Some(a.reference.as_str()));
        assert_eq!(report.umsaetze[5].betrag, "-26.00");
        assert_eq!((report.gebucht, report.ungeklaert, report.nicht_betroffen), (1, 4, 1));
        // The case that waited for its payment goes on; the partly paid one still waits.
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, a.reference.as_str()).await, CaseStatus::Confirmed);
        assert_eq!(status(&db, &t, b.reference.as_str()).await, CaseStatus::Submitted);
        assert_eq!(fee_of(a.case_id.clone()).await.status, "paid");

        // The same statement again: nothing booked twice.
        let again = rt.import_statement(&t, &xml, &clerk).await.unwrap();
        assert_eq!((again.gebucht, again.ungeklaert, again.bereits_eingelesen, again.nicht_betroffen), (0, 0, 5, 1));

        // The clerk's part.
        let (open, _) = rt.bank_transactions(&t).await.unwrap();
        assert_eq!(open.len(), 4);
        let by_ref = |r: &str| open.iter().find(|o| o.bank_reference == r).unwrap().transaction_id.clone();
        let partial = by_ref("2026120700002/1");
        let field_of = |e: RuntimeError| match e {
            RuntimeError::Invalid(v) => v[0].field.clone(),
            other => panic!("{other:?}"),
        };
        let assign = |k: &str| Resolution::Assign { kassenzeichen: k.to_string() };
        // A different amount needs a note; a paid fee or an unknown number cannot be assigned.
        let e = rt.resolve_bank_transaction(&t, &partial, &assign(&fee_b.kassenzeichen), "", &clerk).await.unwrap_err();
        assert_eq!(field_of(e), "vermerk");
        let unknown_tx = by_ref("2026120700002/2");
        for wrong in [fee_a.kassenzeichen.as_str(), unknown.as_str(), "123"] {
            let e = rt.resolve_bank_transaction(&t, &unknown_tx, &assign(wrong), "", &clerk).await.unwrap_err();
            assert_eq!(field_of(e), "kassenzeichen", "{wrong}");
        }
        let grouped =
            format!("{} {} {}", &fee_b.kassenzeichen[..4], &fee_b.kassenzeichen[4..8], &fee_b.kassenzeichen[8..]);
        let note = "Rest von 6 € nach Rücksprache erlassen";
        let reference = rt.resolve_bank_transaction(&t, &partial, &assign(&grouped), note, &clerk).await.unwrap();
        assert_eq!(reference.as_deref(), Some(b.reference.as_str()));
        rt.run_due_jobs().await.unwrap();
        assert_eq!(status(&db, &t, b.reference.as_str()).await, CaseStatus::Confirmed);
        assert!(matches!(
            rt.resolve_bank_transaction(&t, &partial, &Resolution::Close, "noch einmal", &clerk).await,
            Err(RuntimeError::Conflict(_))
        ));
        // A return pays nothing; closing needs a note.
        let returned = by_ref("R-77");
        let e =
            rt.resolve_bank_transaction(&t, &returned, &assign(&fee_b.kassenzeichen), "x", &clerk).await.unwrap_err();
        assert_eq!(field_of(e), "kassenzeichen");
        let e = rt.resolve_bank_transaction(&t, &returned, &Resolution::Close, " ", &clerk).await.unwrap_err();
        assert_eq!(field_of(e), "vermerk");
        rt.resolve_bank_transaction(&t, &returned, &Resolution::Close, "Mahnung an Frau Muster", &clerk).await.unwrap();
        let (open, done) = rt.bank_transactions(&t).await.unwrap();
        assert_eq!((open.len(), done.len()), (2, 2));
        assert!(done.iter().any(|d| d.status == "assigned" && d.note.as_deref() == Some(note)));

        // Another account's statement is refused as a whole.
        let other = rathaus_store::testing::camt_test_statement(
            "DE02120300000000202051",
            &fee_a.kassenzeichen,
            &fee_b.kassenzeichen,
            &unknown,
        );
        let e = rt.import_statement(&t, &other, &clerk).await.unwrap_err();
        assert_eq!(field_of(e), "kontoauszug");
        assert!(matches!(rt.import_statement(&t, "<kein/>", &clerk).await, Err(RuntimeError::Invalid(_))));

        // Audited.
        let mut conn = db.store.conn().await.unwrap();
        for (action, n) in
            [("finance.statement_imported", 2), ("payment.transfer_booked", 2), ("bank.transaction_closed", 1)]
        {
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = $2")
                    .bind(&t.tenant_id)
                    .bind(action)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(count, n, "{action}");
        }
        drop(conn);
        db.cleanup().await;
    }
}
