//! The further procedures of the library run end to end on both backends: each example
//! application takes the automatic path to its permit (PDF/A with what it must print); the
//! Negativzeugnis goes to a clerk for a parcel on the town's list, with the two months of
//! § 28 Abs. 2 BauGB running from receipt; the Gaststättengestattung with alcohol consults
//! police and public order office before the clerk decides.

use chrono::{DateTime, TimeZone, Utc};
use rathaus_documents::text::{pdf_text, squeeze};
use rathaus_domain::{CaseStatus, Lang, TenantSettings};
use rathaus_runtime::{ManualClock, Runtime, RuntimeConfig};
use rathaus_store::audit::Actor;
use rathaus_store::{deadlines, documents, fees, tasks, tenants, testing};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

mod common;

/// Monday, 9 November 2026, 10:00 German time; the examples are for June 2030.
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 9, 9, 0, 0).unwrap()
}

const PROCEDURES: [&str; 5] =
    ["plakatierung", "negativzeugnis-vorkaufsrecht", "gaststaettengestattung", "aufgrabung", "sondernutzung"];

fn library() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

async fn setup(db: &testing::TestDatabase) -> (Arc<Runtime>, tenants::Tenant) {
    let library = rathaus_engine::Library::load(&library()).unwrap();
    let config = RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "n1".into() };
    let rt = Runtime::new(db.store.clone(), library, config, Arc::new(ManualClock::new(monday())), None);
    let mut settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
    settings.bank.iban = "DE02120300000000202051".into();
    let mut tx = db.store.begin().await.unwrap();
    let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, monday()).await.unwrap();
    for p in PROCEDURES {
        tenants::activate_procedure(&mut tx, &t.tenant_id, p, &json!({}), monday()).await.unwrap();
    }
    tx.commit().await.unwrap();
    rt.sync_deployments().await.unwrap();
    (rt, t)
}

fn example(procedure: &str) -> Value {
    let dir = library().join(procedure).join("beispiele");
    let file = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).map(|e| e.path()).next().unwrap();
    serde_json::from_str::<Value>(&std::fs::read_to_string(file).unwrap()).unwrap()["daten"].clone()
}

/// The Negativzeugnis example with its contract really uploaded; the upload key to submit with.
async fn with_contract(rt: &Runtime, t: &tenants::Tenant) -> (Value, String) {
    let p = rt.library.get("negativzeugnis-vorkaufsrecht").unwrap();
    let field = p.form.field("vertrag.kopie").unwrap();
    let key = format!("test-{:016x}", rand::random::<u64>());
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    let upload = rathaus_runtime::uploads::NewUpload {
        tenant: t,
        procedure_id: "negativzeugnis-vorkaufsrecht",
        field,
        upload_key: &key,
        file_name: "kaufvertrag.pdf",
        content: pdf,
        existing: 0,
        keep_until: monday() + chrono::Duration::days(1),
        lang: Lang::De,
    };
    let file = rt.upload(upload).await.unwrap().unwrap_or_else(|e| panic!("{e:?}"));
    let mut data = example("negativzeugnis-vorkaufsrecht");
    data["vertrag"]["kopie"] = json!([file]);
    (data, key)
}

async fn document_text(db: &testing::TestDatabase, t: &tenants::Tenant, case_id: &str, template: &str) -> String {
    let mut conn = db.store.conn().await.unwrap();
    let doc = documents::for_case(&mut conn, &t.tenant_id, case_id)
        .await
        .unwrap()
        .into_iter()
        .rfind(|d| d.template == template)
        .unwrap_or_else(|| panic!("no {template}"));
    let (_, bytes) = documents::content(&mut conn, &t.tenant_id, case_id, &doc.document_id).await.unwrap().unwrap();
    squeeze(&pdf_text(&bytes).unwrap())
}

#[tokio::test]
async fn every_example_takes_the_automatic_path_to_its_permit() {
    let expected = [
        ("plakatierung", "erlaubnis", "Sondernutzungserlaubnis für Plakate", 3000),
        ("gaststaettengestattung", "gestattung", "§ 12 GastG", 3000),
        ("aufgrabung", "genehmigung", "5 Jahre ab Abnahme", 5800),
        ("sondernutzung", "erlaubnis", "Gebührenzone B", 2000),
    ];
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        for (procedure, template, words, cents) in expected {
            let data = example(procedure);
            let s = common::submit_to(&rt, &t, procedure, &data, None).await;
            assert_eq!(s.status, CaseStatus::Confirmed, "{procedure} on {:?}", db.backend());
            let text = document_text(&db, &t, &s.case_id, template).await;
            assert!(text.contains(&squeeze(words)) && text.contains("Rechtsbehelfsbelehrung"), "{procedure}: {text}");
            let mut conn = db.store.conn().await.unwrap();
            assert_eq!(
                fees::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap()[0].amount_cents,
                cents,
                "{procedure}"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_parcel_on_the_towns_list_waits_for_the_clerk_within_two_months() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        // Outside every area: the certificate at once.
        let (data, key) = with_contract(&rt, &t).await;
        let free = common::submit_to(&rt, &t, "negativzeugnis-vorkaufsrecht", &data, Some(&key)).await;
        assert_eq!(free.status, CaseStatus::Confirmed);
        assert!(document_text(&db, &t, &free.case_id, "negativzeugnis").await.contains("nichtzu"));

        // The town lists the field of the parcel as a redevelopment area.
        let rows = json!([{"gemarkung": "Musterstadt", "flur": "3", "gebiet": "Sanierungsgebiet Altstadt"}]);
        rt.set_table_rows(&t, "negativzeugnis-vorkaufsrecht", "vorkaufsrechte", rows.clone(), &Actor::System)
            .await
            .unwrap();
        assert_eq!(rt.table_rows(&t, "negativzeugnis-vorkaufsrecht", "vorkaufsrechte").await.unwrap(), rows);
        let bad = json!([{"gemarkung": "Musterstadt"}]);
        assert!(rt
            .set_table_rows(&t, "negativzeugnis-vorkaufsrecht", "vorkaufsrechte", bad, &Actor::System)
            .await
            .is_err());
        let (data, key) = with_contract(&rt, &t).await;
        let listed = common::submit_to(&rt, &t, "negativzeugnis-vorkaufsrecht", &data, Some(&key)).await;
        assert_eq!(listed.status, CaseStatus::InReview);
        let mut conn = db.store.conn().await.unwrap();
        let due: Vec<String> = deadlines::for_case(&mut conn, &t.tenant_id, &listed.case_id)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.due_on)
            .collect();
        assert_eq!(due, ["2027-01-11"], "two months from 9 November: Saturday the 9th, so Monday (§ 193 BGB)");
        let task = tasks::for_case(&mut conn, &t.tenant_id, &listed.case_id).await.unwrap().remove(0);
        drop(conn);
        let decision = common::decision(
            "ablehnen",
            "Die Gemeinde prüft die Ausübung ihres Vorkaufsrechts im Sanierungsgebiet Altstadt.",
            "",
        );
        rt.complete_task(&t.tenant_id, &task.task_id, &decision, &Actor::System).await.unwrap();
        rt.run_due_jobs().await.unwrap();
        let text = document_text(&db, &t, &listed.case_id, "vorkaufsrecht").await;
        assert!(text.contains(&squeeze("Sanierungsgebiet Altstadt")) && text.contains("§28Abs.2BauGB"), "{text}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn alcohol_at_a_festival_is_decided_after_consulting_police_and_public_order_office() {
    for db in testing::all().await {
        let (rt, t) = setup(&db).await;
        let mut data = example("gaststaettengestattung");
        data["alkohol"] = json!(true);
        let s = common::submit_to(&rt, &t, "gaststaettengestattung", &data, None).await;
        assert_eq!(s.status, CaseStatus::InReview);
        let mut asked: Vec<String> =
            rt.consultations(&t, &s.case_id).await.unwrap().into_iter().map(|c| c.participant).collect();
        asked.sort();
        assert_eq!(asked, ["Ordnungsamt", "Polizei"]);
        let mut conn = db.store.conn().await.unwrap();
        let task = tasks::for_case(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().remove(0);
        drop(conn);
        let decision = common::decision("bestaetigen", "", "Kein Ausschank nach 22:00 Uhr.");
        rt.complete_task(&t.tenant_id, &task.task_id, &decision, &Actor::System).await.unwrap();
        rt.run_due_jobs().await.unwrap();
        let text = document_text(&db, &t, &s.case_id, "gestattung").await;
        assert!(
            text.contains(&squeeze("alkoholische und alkoholfreie Getränke"))
                && text.contains(&squeeze("nach 22:00 Uhr")),
            "{text}"
        );
        db.cleanup().await;
    }
}
