//! The Verkehrsrechtliche Anordnung of the library, end to end on both backends: the
//! removal's no-stopping zone ordered by the machine with a copy to the police and the
//! reminder on the last day; a full closure of a state road consulting police, fire service,
//! transport operator and road authority, a condition of the police taken into the order;
//! an urgent application with its surcharge; a refusal.

use chrono::{DateTime, TimeZone, Utc};
use rathaus_domain::consultation::Answer;
use rathaus_domain::{CaseStatus, TenantSettings};
use rathaus_runtime::mail::Mailer;
use rathaus_runtime::{ManualClock, Runtime, RuntimeConfig, Submitted};
use rathaus_store::audit::{self, Actor};
use rathaus_store::{cases, documents, events, fees, tasks, tenants, testing};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;

use rathaus_documents::text::squeeze;

/// Monday, 9 November 2026, 10:00 German time.
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 9, 9, 0, 0).unwrap()
}

fn day(n: i64) -> String {
    (monday() + chrono::Duration::days(n)).format("%Y-%m-%d").to_string()
}

struct Setup {
    rt: Arc<Runtime>,
    clock: Arc<ManualClock>,
    t: tenants::Tenant,
    mails: PathBuf,
}

async fn setup(db: &testing::TestDatabase) -> Setup {
    let library = rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")).unwrap();
    let config = RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "n1".into() };
    let clock = Arc::new(ManualClock::new(monday()));
    let mails = std::env::temp_dir().join(format!("rathaus-vra-mails-{:016x}", rand::random::<u64>()));
    let mailer = Mailer::directory(mails.clone(), "verkehr@musterstadt.example").unwrap();
    let rt = Runtime::new(db.store.clone(), library, config, clock.clone(), Some(mailer));
    let mut settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
    settings.bank.iban = "DE02120300000000202051".into();
    settings.bank.holder = "Stadtkasse Musterstadt".into();
    let mut tx = db.store.begin().await.unwrap();
    let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, monday()).await.unwrap();
    let overrides = json!({"email_polizei": "verkehr@polizei.example"});
    tenants::activate_procedure(&mut tx, &t.tenant_id, "verkehrsrechtliche-anordnung", &overrides, monday())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rt.sync_deployments().await.unwrap();
    Setup { rt, clock, t, mails }
}

fn removal() -> Value {
    json!({
        "antragsteller": {
            "ansprechperson": "Erika Muster",
            "anschrift": {"strasse": "Lindenweg", "hausnummer": "7", "plz": "09999", "ort": "Musterstadt"},
            "telefon": "0371 123456", "email": "erika@example.org"
        },
        "verantwortlicher_vor_ort": {"name": "Erika Muster", "telefon_24h": "0171 1234567"},
        "art": "umzug_halteverbot",
        "beschreibung": "Umzug mit einem Möbelwagen",
        "massnahme": "halteverbot",
        "betroffene_flaechen": ["parkstreifen"],
        "laenge_m": 15,
        "ort": {"strasse": "Lindenweg", "hausnummer_von": "5", "hausnummer_bis": "9"},
        "strassenklasse": "gemeindestrasse",
        "oepnv_betroffen": false,
        "zeitraum": {"von": day(21), "von_uhrzeit": "07:00", "bis": day(21), "bis_uhrzeit": "18:00"}
    })
}

async fn submit(s: &Setup, data: &Value) -> Submitted {
    common::submit_to(&s.rt, &s.t, "verkehrsrechtliche-anordnung", data, None).await
}

async fn case(db: &testing::TestDatabase, s: &Setup, id: &str) -> cases::Case {
    let mut conn = db.store.conn().await.unwrap();
    cases::by_id(&mut conn, &s.t.tenant_id, id).await.unwrap().unwrap()
}

/// The text of the newest document of `template`.
async fn pdf_text(db: &testing::TestDatabase, s: &Setup, case_id: &str, template: &str) -> String {
    let mut conn = db.store.conn().await.unwrap();
    let doc = documents::for_case(&mut conn, &s.t.tenant_id, case_id)
        .await
        .unwrap()
        .into_iter()
        .rfind(|d| d.template == template)
        .unwrap_or_else(|| panic!("no document {template}"));
    let (_, bytes) = documents::content(&mut conn, &s.t.tenant_id, case_id, &doc.document_id).await.unwrap().unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    rathaus_documents::text::squeeze(&rathaus_documents::text::pdf_text(&bytes).unwrap())
}

fn mails(s: &Setup) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(&s.mails)
        .map(|d| d.filter_map(Result::ok).map(|e| std::fs::read_to_string(e.path()).unwrap()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

async fn timeline(db: &testing::TestDatabase, s: &Setup, case_id: &str, public_only: bool) -> Vec<String> {
    let mut conn = db.store.conn().await.unwrap();
    events::for_case(&mut conn, &s.t.tenant_id, case_id, public_only)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn a_removal_no_stopping_zone_is_ordered_at_once_copied_to_the_police_and_ends_on_its_last_day() {
    for db in testing::all().await {
        let s = setup(&db).await;
        let sub = submit(&s, &removal()).await;
        assert_eq!(sub.status, CaseStatus::Confirmed, "{:?}", db.backend());
        assert!(sub.reference.as_str().starts_with("VRA-"));
        let mut conn = db.store.conn().await.unwrap();
        let fee = fees::for_case(&mut conn, &s.t.tenant_id, &sub.case_id).await.unwrap();
        assert_eq!(fee[0].amount_cents, 2500);
        assert!(tasks::for_case(&mut conn, &s.t.tenant_id, &sub.case_id).await.unwrap().is_empty(), "no clerk");
        drop(conn);

        // The order: place, period, the standard conditions of a removal, costs, remedy.
        let order = pdf_text(&db, &s, &sub.case_id, "anordnung").await;
        for words in
            ["Verkehrsrechtliche Anordnung", "Lindenweg 5–9", "72 Stunden", "25,00", "Widerspruch", "maschinell"]
        {
            assert!(order.contains(&squeeze(words)), "order lacks {words}: {order}");
        }

        // The police get a copy by link; the link opens the order, once audited.
        let copies = s.rt.copies(&s.t, &sub.case_id).await.unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(
            (copies[0].recipient.as_str(), copies[0].email.as_str(), copies[0].status.as_str()),
            ("Polizei", "verkehr@polizei.example", "sent")
        );
        let sent = mails(&s);
        let link = s.rt.copy_link(&s.t, &copies[0].copy_id);
        assert!(sent.iter().any(|m| m.contains("verkehr@polizei.example") && m.contains(&link)), "{sent:?}");
        assert!(!sent.iter().any(|m| m.contains("Erika")), "the mail carries nothing of the applicant");
        let token = link.rsplit('/').next().unwrap();
        let (meta, bytes) = s.rt.open_copy(&s.t, token).await.unwrap().expect("the link opens the order");
        assert!(meta.template == "anordnung" && bytes.starts_with(b"%PDF"));
        s.rt.open_copy(&s.t, token).await.unwrap().unwrap();
        assert!(s.rt.open_copy(&s.t, &"0".repeat(40)).await.unwrap().is_none(), "a wrong token opens nothing");
        let mut conn = db.store.conn().await.unwrap();
        let trail = audit::for_object(&mut conn, &s.t.tenant_id, "case", &sub.case_id).await.unwrap();
        assert_eq!(trail.iter().filter(|e| e.action == "copy.opened").count(), 1, "the first opening is audited");
        assert!(trail.iter().any(|e| e.action == "copy.sent"));
        drop(conn);

        // Open until the last day of the measure; then a reminder, and the case ends.
        assert!(case(&db, &s, &sub.case_id).await.closed_at.is_none());
        s.clock.advance(chrono::Duration::days(20));
        s.rt.run_due_jobs().await.unwrap();
        assert!(case(&db, &s, &sub.case_id).await.closed_at.is_none(), "the day before the last");
        s.clock.advance(chrono::Duration::days(1));
        s.rt.run_due_jobs().await.unwrap();
        let ended = case(&db, &s, &sub.case_id).await;
        assert!(ended.closed_at.is_some(), "ended on its last day");
        let public = timeline(&db, &s, &sub.case_id, true).await;
        assert!(public.iter().any(|m| m.starts_with("Heute endet der Zeitraum")), "{public:?}");

        // Weeks later the link has run out.
        s.clock.advance(chrono::Duration::days(91));
        assert!(s.rt.open_copy(&s.t, token).await.unwrap().is_none(), "expired after 90 days");
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(audit::verify(&mut conn, &s.t.tenant_id).await.unwrap(), None);
        drop(conn);
        let _ = std::fs::remove_dir_all(&s.mails);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_closure_is_decided_after_consulting_four_bodies_and_takes_the_police_condition_into_the_order() {
    for db in testing::all().await {
        let s = setup(&db).await;
        let mut data = removal();
        let patch = json!({"art": "aufgrabung", "beschreibung": "Hausanschluss Fernwärme", "massnahme": "vollsperrung",
            "strassenklasse": "staatsstrasse", "betroffene_flaechen": ["fahrbahn", "gehweg"], "laenge_m": 60,
            "regelplan": "B I/6", "umleitung": {"beschreibung": "über Bahnhofstraße und Ring"},
            "zeitraum": {"von": day(28), "von_uhrzeit": "07:00", "bis": day(32), "bis_uhrzeit": "17:00"}});
        for (k, v) in patch.as_object().unwrap() {
            data[k] = v.clone();
        }
        // Without the diversion plan the submission is refused, naming it.
        let refused = common::try_submit(&s.rt, &s.t, "verkehrsrechtliche-anordnung", &data, None).await.unwrap_err();
        assert!(format!("{refused:?}").contains("umleitungsplan"), "{refused:?}");
        data.as_object_mut().unwrap().remove("umleitungsplan");
        data["massnahme"] = json!("halbseitige_sperrung");
        data["oepnv_betroffen"] = json!(true);
        data.as_object_mut().unwrap().remove("umleitung");
        let sub = submit(&s, &data).await;
        assert_eq!(sub.status, CaseStatus::InReview);

        // The process asked all four, with five working days: Monday the 9th to Monday the 16th.
        let consultations = s.rt.consultations(&s.t, &sub.case_id).await.unwrap();
        let mut names: Vec<&str> = consultations.iter().map(|c| c.participant.as_str()).collect();
        names.sort();
        assert_eq!(names, ["Feuerwehr", "Polizei", "Straßenbaulastträger", "Verkehrsunternehmen (ÖPNV)"]);
        assert!(consultations.iter().all(|c| c.due_date == "2026-11-16"), "{:?}", consultations[0].due_date);
        assert!(consultations.iter().all(|c| c.pages().contains(&"ort".to_string())));
        let invited = mails(&s);
        assert!(invited.iter().any(|m| m.contains("Bitte um Stellungnahme") && m.contains("verkehr@polizei.example")));

        // The police agree with a condition; the clerk inserts it with one click and decides.
        let police = consultations.iter().find(|c| c.participant == "Polizei").unwrap();
        let link = s.rt.consultation_link(&s.t, &police.consultation_id);
        let answer = Answer {
            verdict: "auflagen".into(),
            statement: String::new(),
            conditions: "Die Sperrung ist zwischen 7 und 9 Uhr aufzuheben (Schulweg).".into(),
            answered_by: "PHK Weber".into(),
        };
        s.rt.answer_consultation(&s.t, link.rsplit('/').next().unwrap(), &answer).await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &s.t.tenant_id, &sub.case_id)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.status == "open")
            .expect("the clerk's task");
        drop(conn);
        let decision = common::decision("bestaetigen", "", &answer.conditions);
        s.rt.complete_task(&s.t.tenant_id, &task.task_id, &decision, &Actor::System).await.unwrap();
        s.rt.run_due_jobs().await.unwrap();
        assert_eq!(case(&db, &s, &sub.case_id).await.status, "confirmed");
        let order = pdf_text(&db, &s, &sub.case_id, "anordnung").await;
        for words in ["halbseitige Sperrung", "B I/6", "Schulweg", "RSA 21", "40,00", "Sabine Sachbearbeiterin"] {
            assert!(order.contains(&squeeze(words)), "order lacks {words}: {order}");
        }
        // Copies to the police and every body consulted.
        let mut copied: Vec<String> =
            s.rt.copies(&s.t, &sub.case_id).await.unwrap().into_iter().map(|c| c.recipient).collect();
        copied.sort();
        assert_eq!(copied, ["Feuerwehr", "Polizei", "Straßenbaulastträger", "Verkehrsunternehmen (ÖPNV)"]);
        let _ = std::fs::remove_dir_all(&s.mails);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_urgent_application_pays_the_surcharge_and_a_refusal_gets_a_notice() {
    for db in testing::all().await {
        let s = setup(&db).await;
        let mut data = removal();
        data["art"] = json!("geruest");
        data["massnahme"] = json!("einengung");
        data["betroffene_flaechen"] = json!(["gehweg"]);
        data["regelplan"] = json!("B II/1");
        data["zeitraum"] = json!({"von": day(4), "von_uhrzeit": "07:00", "bis": day(30), "bis_uhrzeit": "17:00"});
        let urgent = submit(&s, &data).await;
        assert_eq!(urgent.status, CaseStatus::InReview);
        let c = case(&db, &s, &urgent.case_id).await;
        assert!(c.findings.contains("kurzfristig"), "{}", c.findings);
        assert!(s.rt.consultations(&s.t, &urgent.case_id).await.unwrap().is_empty(), "nobody to consult");
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &s.t.tenant_id, &urgent.case_id).await.unwrap().remove(0);
        drop(conn);
        let confirm = common::decision("bestaetigen", "", "");
        s.rt.complete_task(&s.t.tenant_id, &task.task_id, &confirm, &Actor::System).await.unwrap();
        s.rt.run_due_jobs().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        assert_eq!(fees::for_case(&mut conn, &s.t.tenant_id, &urgent.case_id).await.unwrap()[0].amount_cents, 6000);
        drop(conn);
        assert!(pdf_text(&db, &s, &urgent.case_id, "anordnung").await.contains("Zuschlag"));

        // Another one is refused: notice with the reason, no fee, no copy.
        let refused = submit(&s, &data).await;
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &s.t.tenant_id, &refused.case_id).await.unwrap().remove(0);
        drop(conn);
        let reject =
            common::decision("ablehnen", "Die Straße ist in diesem Zeitraum wegen des Weihnachtsmarkts gesperrt.", "");
        s.rt.complete_task(&s.t.tenant_id, &task.task_id, &reject, &Actor::System).await.unwrap();
        s.rt.run_due_jobs().await.unwrap();
        let ended = case(&db, &s, &refused.case_id).await;
        assert_eq!(ended.status, "rejected");
        assert!(ended.closed_at.is_some());
        assert!(pdf_text(&db, &s, &refused.case_id, "ablehnung").await.contains("Weihnachtsmarkts"));
        assert!(s.rt.copies(&s.t, &refused.case_id).await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&s.mails);
        db.cleanup().await;
    }
}
