//! The runtime on both backends: submissions run the real Gewerbeanzeige procedure.

use rathaus_domain::tenant::{BankAccount, Branding, Contact};
use rathaus_domain::{CaseStatus, Channel, Lang, TenantSettings};
use rathaus_runtime::{Decision, Runtime, RuntimeConfig, RuntimeError, SubmitRequest, SystemClock};
use rathaus_store::audit::Actor;
use rathaus_store::{audit, cases, documents, fees, tasks, tenants, testing};
use serde_json::json;
use std::path::Path;

mod common;
use common::{application, try_submit};
use std::sync::Arc;

fn library_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

async fn setup(db: &testing::TestDatabase) -> (Arc<Runtime>, tenants::Tenant) {
    let library = rathaus_engine::Library::load(&library_dir()).unwrap();
    let config = RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "test".into() };
    let rt = Runtime::new(db.store.clone(), library, config, Arc::new(SystemClock), None);
    let settings = TenantSettings {
        postcodes: vec!["09999".into()],
        branding: Branding {
            logo_text: "Stadt Musterstadt".into(),
            primary_color: "#1d4e89".into(),
            ..Default::default()
        },
        contact: Contact {
            office: "Gewerbeamt".into(),
            street: "Markt 1".into(),
            postcode: "09999".into(),
            city: "Musterstadt".into(),
            ..Default::default()
        },
        bank: BankAccount {
            holder: "Stadtkasse Musterstadt".into(),
            iban: "DE02120300000000202051".into(),
            bic: "BYLADEM1001".into(),
            bank: "DKB".into(),
        },
        land: "SN".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let mut tx = db.store.begin().await.unwrap();
    let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, now).await.unwrap();
    tenants::activate_procedure(&mut tx, &t.tenant_id, "gewerbeanmeldung", &json!({}), now).await.unwrap();
    tx.commit().await.unwrap();
    rt.sync_deployments().await.unwrap();
    (rt, t)
}

#[tokio::test]
async fn standard_case_is_confirmed_by_the_machine_with_documents_and_fee() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let data = application("software");
        let s = try_submit(&rt, &t, "gewerbeanmeldung", &data, None).await.unwrap();
        assert_eq!(s.status, CaseStatus::Confirmed, "{:?}", db.backend());
        assert!(s.reference.as_str().starts_with("GEW-"));
        let mut conn = db.store.conn().await.unwrap();
        let docs = documents::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d.kind.as_str()).collect();
        assert!(kinds.contains(&"eingangsbestaetigung") && kinds.contains(&"bescheinigung"), "{kinds:?}");
        let (_, pdf) = documents::content(
            &mut conn,
            &t.tenant_id,
            &s.case_id,
            &docs.iter().find(|d| d.kind == "bescheinigung").unwrap().document_id,
        )
        .await
        .unwrap()
        .unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let fee = fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap();
        assert_eq!(fee.len(), 1);
        assert_eq!(fee[0].amount_cents, 2600);
        assert!(rathaus_domain::money::kassenzeichen_valid(&fee[0].kassenzeichen));
        assert!(tasks::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().is_empty(), "no clerk involved");
        assert_eq!(audit::verify(&mut conn, &t.tenant_id).await.unwrap(), None);
        let trail = audit::for_object(&mut conn, &t.tenant_id, "case", &s.case_id).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        for a in ["case.submitted", "decision.evaluated", "fee.created", "document.created", "case.status"] {
            assert!(actions.contains(&a), "audit misses {a}: {actions:?}");
        }

        // Confirmed, but open until the fee is paid (spec: the case closes with the payment).
        let case = cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        assert!(case.decided_at.is_some() && case.closed_at.is_none(), "{case:?}");
        assert!(!actions.contains(&"process.completed"));
        let instance = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        assert_eq!(instance.status, "running");
        drop(conn);
        let statement = testing::camt_statement_paying(&t.settings.bank.iban, &[(fee[0].kassenzeichen.clone(), 2600)]);
        let report = rt.import_statement(&t, &statement, &Actor::System).await.unwrap();
        assert_eq!(report.gebucht, 1, "{report:?}");
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        assert!(case.closed_at.is_some(), "closed with the payment");
        assert_eq!(case.status, "confirmed", "the decision stays what it was");
        let instance = rathaus_store::instances::by_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        assert_eq!(instance.status, "completed");
        let timeline: Vec<String> = rathaus_store::events::for_case(&mut conn, &t.tenant_id, &s.case_id, true)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(timeline.iter().any(|m| m == "Vorgang abgeschlossen"), "{timeline:?}");
        let trail = audit::for_object(&mut conn, &t.tenant_id, "case", &s.case_id).await.unwrap();
        assert_eq!(trail.iter().filter(|e| e.action == "process.completed").count(), 1);
        assert_eq!(audit::verify(&mut conn, &t.tenant_id).await.unwrap(), None);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn review_case_waits_for_the_clerk_and_a_rejection_produces_a_notice() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let data = application("heilpraktiker");
        let s = rt
            .submit(SubmitRequest {
                tenant: &t,
                procedure_id: "gewerbeanmeldung",
                data: &data,
                channel: Channel::Portal,
                lang: Lang::De,
                actor: Actor::Applicant,
                upload_key: None,
                account_id: None,
                business_id: None,
            })
            .await
            .unwrap();
        assert_eq!(s.status, CaseStatus::InReview);
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        let findings = case.findings_json().unwrap();
        assert!(findings[0]["grund"].as_str().unwrap().contains("kein Gewerbe"), "{findings}");
        let open = tasks::open(&mut conn, &t.tenant_id, 10).await.unwrap();
        assert_eq!(open.len(), 1);
        drop(conn);
        let decision = Decision {
            outcome: "ablehnen".into(),
            reason: "Heilpraktiker üben einen freien Beruf aus.".into(),
            clerk_name: "Sabine Sachbearbeiterin".into(),
            conditions: String::new(),
        };
        let clerk = Actor::Staff { staff_id: "s1".into(), username: "sabine".into() };
        rt.complete_task(&t.tenant_id, &open[0].task_id, &decision, &clerk).await.unwrap();
        // Deciding twice is refused, nothing changes.
        assert!(matches!(
            rt.complete_task(&t.tenant_id, &open[0].task_id, &decision, &clerk).await,
            Err(RuntimeError::Conflict(_))
        ));
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap();
        assert_eq!(case.status, "rejected");
        let docs = documents::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap();
        assert!(docs.iter().any(|d| d.kind == "bescheid"), "{:?}", docs.iter().map(|d| &d.kind).collect::<Vec<_>>());
        assert!(
            fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().is_empty(),
            "a rejection costs no fee here"
        );
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn clerk_confirmation_reuses_the_confirmation_path() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let s = try_submit(&rt, &t, "gewerbeanmeldung", &application("bewachung"), None).await.unwrap();
        assert_eq!(s.status, CaseStatus::InReview);
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::open(&mut conn, &t.tenant_id, 10).await.unwrap().remove(0);
        drop(conn);
        let d = Decision {
            outcome: "bestaetigen".into(),
            reason: "Erlaubnis liegt vor".into(),
            clerk_name: "Max Mustermann".into(),
            conditions: String::new(),
        };
        rt.complete_task(
            &t.tenant_id,
            &task.task_id,
            &d,
            &Actor::Staff { staff_id: "x".into(), username: "max".into() },
        )
        .await
        .unwrap();
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap().status, "confirmed");
        assert_eq!(fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().len(), 1);
        drop(conn);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn invalid_data_stores_nothing() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let mut data = application("software");
        data["inhaber"]["anschrift"]["plz"] = json!("");
        data["beschaeftigte"]["vollzeit"] = json!(-1);
        data["erfunden"] = json!(1);
        let err = try_submit(&rt, &t, "gewerbeanmeldung", &data, None).await.unwrap_err();
        let RuntimeError::Invalid(errors) = err else { panic!("expected validation errors, got {err:?}") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"inhaber.anschrift.plz")
                && fields.contains(&"beschaeftigte.vollzeit")
                && fields.contains(&"erfunden"),
            "{errors:?}"
        );
        let mut conn = db.store.conn().await.unwrap();
        assert!(cases::list(&mut conn, &t.tenant_id, None, 10).await.unwrap().is_empty());
        let err = try_submit(&rt, &t, "gibtsnicht", &data, None).await.unwrap_err();
        assert!(matches!(err, RuntimeError::UnknownProcedure(_)));
        drop(conn);
        db.cleanup().await;
    }
}

#[test]
fn library_examples_are_valid_and_render_every_template() {
    let library = rathaus_engine::Library::load(&library_dir()).unwrap();
    for (id, p) in &library.procedures {
        let problems = rathaus_runtime::preview::check_examples(p, &library_dir().join(id));
        assert!(problems.is_empty(), "{id}:\n{}", problems.join("\n"));
    }
}

/// A case waiting for a clerk shows when it will probably be decided: from the procedure's
/// processing time at first, from how long clerks took lately once there are enough cases.
#[tokio::test]
async fn the_expected_decision_comes_from_recent_cases_or_the_procedures_processing_time() {
    use rathaus_runtime::expected::Basis;
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let submit = |activity: &'static str| {
            let rt = rt.clone();
            let t = t.clone();
            async move {
                let data = application(activity);
                try_submit(&rt, &t, "gewerbeanmeldung", &data, None).await.unwrap()
            }
        };
        let waiting = submit("heilpraktiker").await;
        assert_eq!(waiting.status, CaseStatus::InReview);
        let case_of = |id: String| {
            let store = db.store.clone();
            let tenant_id = t.tenant_id.clone();
            async move {
                let mut conn = store.conn().await.unwrap();
                cases::by_id(&mut conn, &tenant_id, &id).await.unwrap().unwrap()
            }
        };
        let case = case_of(waiting.case_id.clone()).await;
        let expected = rt.expected_completion(&t, &case).await.unwrap().unwrap();
        // No history: three working days (processing_days) in Saxony.
        assert_eq!(expected.basis, Basis::Standard { working_days: 3 });
        let submitted = rathaus_store::parse_ts(&case.submitted_at).unwrap();
        let calendar = rathaus_domain::calendar::WorkCalendar::new(Some(rathaus_domain::calendar::Land::SN));
        let three = calendar
            .add(
                submitted,
                &rathaus_domain::calendar::IsoDuration::parse("P3D").unwrap(),
                rathaus_domain::calendar::Counting::Arbeitstage,
            )
            .unwrap();
        assert_eq!(expected.by, three);
        // Decided cases: machine decisions do not count; clerks took 1, 2, 2, 4 and 30 days.
        let mut conn = db.store.conn().await.unwrap();
        for (i, days) in [1i64, 2, 2, 4, 30].into_iter().enumerate() {
            let data = json!({});
            let id = format!("old{i}");
            let reference = format!("GEW-2025-00010{i}");
            cases::insert(
                &mut conn,
                cases::NewCase {
                    tenant_id: &t.tenant_id,
                    case_id: &id,
                    reference: &reference,
                    procedure_id: "gewerbeanmeldung",
                    deployment_id: &case.deployment_id,
                    status: "submitted",
                    channel: "api",
                    lang: "de",
                    applicant: "A",
                    data: &data,
                    access_code_hash: "h",
                    received_at: submitted - chrono::Duration::days(60),
                    now: submitted - chrono::Duration::days(60),
                },
            )
            .await
            .unwrap();
            let decided = submitted - chrono::Duration::days(60) + chrono::Duration::days(days);
            cases::set_status(&mut conn, &t.tenant_id, &id, "confirmed", true, decided).await.unwrap();
        }
        drop(conn);
        assert_eq!(submit("software").await.status, CaseStatus::Confirmed, "a machine decision, not counted");
        let expected = rt.expected_completion(&t, &case).await.unwrap().unwrap();
        assert_eq!(expected.basis, Basis::Statistics { cases: 5 });
        assert_eq!(expected.by, submitted + chrono::Duration::days(2), "the median, not the mean");
        // Decided cases expect nothing.
        let done = case_of(submit("software").await.case_id).await;
        assert_eq!(rt.expected_completion(&t, &done).await.unwrap(), None);
        db.cleanup().await;
    }
}

/// A provider like a government payment platform (ePayBL's Paypage): it registers each
/// payment server to server and hands out its own reference, and it confirms by looking
/// the payment up by that reference, not by a signature. Switched off, it does not answer.
struct PlatformProvider {
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl rathaus_runtime::payments::PaymentProvider for PlatformProvider {
    fn name(&self) -> &'static str {
        "plattform"
    }

    fn start<'a>(
        &'a self,
        c: &'a rathaus_runtime::payments::Checkout<'a>,
    ) -> futures_util::future::BoxFuture<'a, Result<rathaus_runtime::payments::Started, String>> {
        let down = self.down.load(std::sync::atomic::Ordering::SeqCst);
        let reference = format!("PP-{}", c.kassenzeichen);
        let redirect_url = format!("https://paypage.example/?ref={reference}&zurueck={}", c.return_url);
        Box::pin(async move {
            if down {
                return Err("connection refused".into());
            }
            Ok(rathaus_runtime::payments::Started { redirect_url, provider_reference: Some(reference) })
        })
    }

    fn confirm<'a>(
        &'a self,
        _tenant_id: &'a str,
        payment: &'a rathaus_store::payments::Payment,
        _answer: &'a std::collections::BTreeMap<String, String>,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<rathaus_runtime::payments::Outcome>, String>> {
        let known = payment.provider_reference.as_deref().is_some_and(|r| r.starts_with("PP-"));
        Box::pin(async move { Ok(known.then_some(rathaus_runtime::payments::Outcome::Paid)) })
    }
}

#[tokio::test]
async fn a_payment_platform_registers_the_payment_and_confirms_it_by_its_reference() {
    use rathaus_runtime::payments::PaymentAnswer;
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
        assert!(rt.payments.set(Box::new(PlatformProvider { down: down.clone() })).is_ok());
        let data = application("software");
        let s = try_submit(&rt, &t, "gewerbeanmeldung", &data, None).await.unwrap();
        // The platform does not answer: the attempt ends, the fee stays open, the applicant
        // is told to try later or to transfer.
        match rt.start_payment(&t, &s.case_id).await {
            Err(RuntimeError::Conflict(m)) => assert!(m.contains("nicht erreichbar"), "{m}"),
            other => panic!("expected the provider's failure, got {other:?}"),
        }
        let mut conn = db.store.conn().await.unwrap();
        let attempts = rathaus_store::payments::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap();
        assert_eq!(attempts.iter().map(|p| p.status.as_str()).collect::<Vec<_>>(), ["cancelled"]);
        assert_eq!(fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap()[0].status, "open");
        drop(conn);

        // Up again: registered with the platform's reference; its confirmation pays the fee once.
        down.store(false, std::sync::atomic::Ordering::SeqCst);
        let url = rt.start_payment(&t, &s.case_id).await.unwrap();
        assert!(url.starts_with("https://paypage.example/?ref=PP-"), "{url}");
        assert!(url.contains("/musterstadt/zahlung/"), "{url}");
        let mut conn = db.store.conn().await.unwrap();
        let attempts = rathaus_store::payments::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap();
        // Both attempts may carry the same millisecond: found by their state, not their order.
        let payment = attempts.iter().find(|p| p.status == "started").unwrap().clone();
        let failed = attempts.iter().find(|p| p.status == "cancelled").unwrap().clone();
        assert!(payment.provider_reference.as_deref().is_some_and(|r| r.starts_with("PP-")), "{payment:?}");
        drop(conn);
        let answer = std::collections::BTreeMap::new();
        assert!(matches!(
            rt.payment_answer(&t.tenant_id, &payment.payment_id, &answer).await.unwrap(),
            PaymentAnswer::Recorded { outcome: rathaus_runtime::payments::Outcome::Paid, .. }
        ));
        assert!(matches!(
            rt.payment_answer(&t.tenant_id, &payment.payment_id, &answer).await.unwrap(),
            PaymentAnswer::AlreadyRecorded { .. }
        ));
        // The failed attempt is not the platform's to confirm.
        assert!(matches!(
            rt.payment_answer(&t.tenant_id, &failed.payment_id, &answer).await,
            Err(RuntimeError::Forbidden)
        ));
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap()[0].status, "paid");
        drop(conn);
        db.cleanup().await;
    }
}

/// The engine benchmark on a few instances: the ceiling and both scenarios are measured in
/// the same run over all their instances (each instance is checked to end as the scenario
/// says, or the run fails), and the scratch tenant is gone afterwards.
#[tokio::test]
async fn the_engine_benchmark_runs_every_scenario_and_cleans_up() {
    for db in rathaus_store::testing::all().await {
        let report = rathaus_runtime::bench::run(db.store.clone(), 25, 2).await.unwrap();
        assert_eq!(report.ceiling.commits, 25);
        assert!(report.ceiling.commits_per_second > 0.0, "{:?}", db.backend());
        assert_eq!(report.scenarios.len(), 2);
        for s in &report.scenarios {
            assert_eq!(s.instances, 25);
            assert!(s.ratio_to_ceiling > 0.0 && s.p50_ms > 0.0 && s.p99_ms >= s.p50_ms, "{s:?}");
        }
        let mut conn = db.store.conn().await.unwrap();
        let left = rathaus_store::tenants::list(&mut conn).await.unwrap();
        assert!(!left.iter().any(|t| t.slug.starts_with("bench-")), "the scratch tenant is deleted");
        drop(conn);
        db.cleanup().await;
    }
}

/// The worklist benchmark on a small tenant: every read answers what the data holds at
/// both stages (a tenth of the cases, then all), and the scratch tenant is gone afterwards.
/// (How fast is for `rathaus bench worklist` to report, not for a test to assert.)
#[tokio::test]
async fn the_worklist_benchmark_reads_what_it_filled_and_cleans_up() {
    for db in rathaus_store::testing::all().await {
        let report = rathaus_runtime::bench_worklist::run(db.store.clone(), 2_000).await.unwrap();
        assert_eq!(report.stages.iter().map(|s| s.cases).collect::<Vec<_>>(), [200, 2_000]);
        for stage in &report.stages {
            let rows = |name: &str| stage.reads.iter().find(|r| r.name == name).unwrap().rows;
            // 2,000 cases, one in 200 open: ten open tasks, with a deadline each.
            assert_eq!(rows("worklist: open tasks with their cases"), 10, "{:?}", db.backend());
            assert_eq!(rows("worklist: latest cases"), 50);
            assert_eq!(rows("worklist: deadline lights of the page's cases"), 10);
            assert_eq!(rows("worklist: red deadlines count"), 10);
            assert_eq!(rows("search: one Aktenzeichen"), 1);
            // One applicant in fifty is called Weber.
            assert_eq!(rows("search: a name in 2 % of cases"), (stage.cases / 50).min(100));
            assert_eq!(rows("deadlines dashboard: nearest 200"), 10);
            assert!(stage.ceiling_p50_ms > 0.0 && stage.reads.iter().all(|r| r.p50_ms > 0.0));
        }
        assert_eq!(report.growth.len(), report.stages[0].reads.len());
        let mut conn = db.store.conn().await.unwrap();
        let left: Vec<_> = rathaus_store::tenants::list(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.slug.starts_with("bench-"))
            .collect();
        assert!(left.is_empty(), "the scratch tenant is deleted");
        drop(conn);
        db.cleanup().await;
    }
}
