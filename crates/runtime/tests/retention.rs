//! Aussonderung on both backends: a finished case past its retention goes to the archive as
//! a package with metadata and checksums, then its personal data are erased, audited and
//! logged; a case not yet due or still open stays as it is, and nothing happens twice.

use chrono::Datelike;
use rathaus_domain::{CaseStatus, TenantSettings};
use rathaus_runtime::{Clock, ManualClock, Runtime, RuntimeConfig};
use rathaus_store::audit::{self, Actor};
use rathaus_store::{cases, tenants, testing};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

mod common;
use common::application;

async fn count(db: &testing::TestDatabase, sql: &str, tenant_id: &str, case_id: &str) -> i64 {
    let mut conn = db.store.conn().await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sql).bind(tenant_id).bind(case_id).fetch_one(&mut *conn).await.unwrap();
    n
}

#[tokio::test]
async fn a_case_past_its_retention_is_archived_as_a_package_and_its_personal_data_erased() {
    for db in testing::all().await {
        let library =
            rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")).unwrap();
        let config =
            RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "n1".into() };
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let rt = Runtime::new(db.store.clone(), library, config, clock.clone(), None);
        let dir = std::env::temp_dir().join(format!("rathaus-archiv-{:016x}", rand::random::<u64>()));
        rt.archive_dir.set(dir.clone()).unwrap();
        let settings = TenantSettings { postcodes: vec!["09999".into()], land: "SN".into(), ..Default::default() };
        let now = chrono::Utc::now();
        let mut tx = db.store.begin().await.unwrap();
        let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, now).await.unwrap();
        tenants::activate_procedure(&mut tx, &t.tenant_id, "gewerbeanmeldung", &json!({}), now).await.unwrap();
        tx.commit().await.unwrap();
        rt.sync_deployments().await.unwrap();
        let done = common::submit(&rt, &t, &application("software")).await;
        let open = common::submit(&rt, &t, &application("heilpraktiker")).await;
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_id(&mut conn, &t.tenant_id, &done.case_id).await.unwrap().unwrap();
        assert_eq!(case.status, CaseStatus::Confirmed.code());
        assert!(case.closed_at.is_none(), "open while the fee is unpaid");
        drop(conn);

        // The fee never comes: after „zahlung_abschluss_nach“ (P3M) the treasury dunns and the
        // case ends, with a note to the applicant. Retention counts from then.
        clock.advance(chrono::Duration::days(80));
        rt.run_due_jobs().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        assert!(cases::by_id(&mut conn, &t.tenant_id, &done.case_id).await.unwrap().unwrap().closed_at.is_none());
        drop(conn);
        clock.advance(chrono::Duration::days(15));
        rt.run_due_jobs().await.unwrap();
        let mut conn = db.store.conn().await.unwrap();
        let case = cases::by_id(&mut conn, &t.tenant_id, &done.case_id).await.unwrap().unwrap();
        let closed = rathaus_store::parse_ts(case.closed_at.as_deref().expect("closed after three months")).unwrap();
        let timeline: Vec<String> = rathaus_store::events::for_case(&mut conn, &t.tenant_id, &done.case_id, true)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(timeline.iter().any(|m| m.starts_with("Die Gebühr ist bisher nicht eingegangen")), "{timeline:?}");
        drop(conn);

        // A clerk's free text in the audit trail (as a correction's reason is written).
        let mut conn = db.store.conn().await.unwrap();
        let reason = json!({"grund": "Frau Muster hat telefonisch die Hausnummer berichtigt"});
        audit::append(
            &mut conn,
            &t.tenant_id,
            &Actor::System,
            "case.corrected",
            "case",
            &done.case_id,
            &reason,
            clock.now(),
        )
        .await
        .unwrap();
        drop(conn);

        // Not due yet: five years from the end of the year it ended.
        assert!(rt.archive_due().await.unwrap().is_empty());
        let year = rathaus_domain::time::german_today(closed).year();
        let due = chrono::NaiveDate::from_ymd_opt(year + 6, 1, 1).unwrap().and_hms_opt(0, 30, 0).unwrap().and_utc();
        clock.advance((due - clock.now()) - chrono::Duration::days(1));
        assert!(rt.archive_due().await.unwrap().is_empty(), "the day before it is due");
        clock.advance(chrono::Duration::days(1));
        let archived = rt.archive_due().await.unwrap();
        let refs: Vec<&str> = archived.iter().map(|a| a.reference.as_str()).collect();
        assert_eq!(refs, [case.reference.as_str()], "the case in review stays");

        // The package: the whole file with its metadata and checksums.
        let package = std::fs::read(&archived[0].package).unwrap();
        assert_eq!(archived[0].package, dir.join("musterstadt").join(format!("{}.zip", case.reference)));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(package.clone())).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
        for name in ["antrag.json", "xdomea.xml", "pruefsummen.sha256"] {
            assert!(names.contains(&name.to_string()), "{name}: {names:?}");
        }
        assert!(names.iter().any(|n| n.starts_with("dokumente/")), "{names:?}");
        let mut antrag = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("antrag.json").unwrap(), &mut antrag).unwrap();
        assert!(antrag.contains("Muster"), "the archive keeps what the town erases");

        // Erased here; what statistics and the treasury need stays.
        let t_id = t.tenant_id.as_str();
        let id = case.case_id.as_str();
        let mut conn = db.store.conn().await.unwrap();
        let erased = cases::by_id(&mut conn, t_id, id).await.unwrap().unwrap();
        drop(conn);
        assert_eq!((erased.data.as_str(), erased.applicant.as_str()), ("{}", ""));
        assert_eq!((erased.reference.as_str(), erased.status.as_str()), (case.reference.as_str(), "confirmed"));
        for (table, left) in [("documents", 0), ("outbox", 0), ("process_instances", 0), ("jobs", 0), ("fees", 1)] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1 AND case_id = $2");
            assert_eq!(count(&db, &sql, t_id, id).await, left, "{table}");
        }
        // The case in review keeps everything.
        let sql = "SELECT COUNT(*) FROM documents WHERE tenant_id = $1 AND case_id = $2";
        assert!(count(&db, sql, t_id, &open.case_id).await > 0);

        // Logged, audited, and the audit trail still holds together.
        let log = rt.archive_log(&t, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].package_sha256.as_deref(), Some(rathaus_store::sha256_hex(&package).as_str()));
        let erased: Value = serde_json::from_str(log[0].erased.as_deref().unwrap()).unwrap();
        assert!(erased["dokumente"].as_u64().unwrap() >= 2 && erased["uebermittlungen"] == 5, "{erased}");
        let mut conn = db.store.conn().await.unwrap();
        let actions: Vec<String> =
            audit::for_object(&mut conn, t_id, "case", id).await.unwrap().into_iter().map(|e| e.action).collect();
        assert!(actions.contains(&"case.archived".to_string()) && actions.contains(&"case.erased".to_string()));
        assert_eq!(audit::verify(&mut conn, t_id).await.unwrap(), None, "the chain holds without the erased texts");
        // The entries stay with what was done and when; their free text is gone, the
        // archiving's own entry keeps its package checksum.
        let trail = audit::for_object(&mut conn, t_id, "case", id).await.unwrap();
        assert!(trail.iter().all(|e| !e.details.contains("Muster")), "no free text left");
        let corrected = trail.iter().find(|e| e.action == "case.corrected").expect("the entry stays");
        assert!(corrected.details == "{}" && corrected.erased_at.is_some());
        let archived = trail.iter().find(|e| e.action == "case.archived").unwrap();
        assert!(archived.details.contains("sha256") && archived.erased_at.is_none());
        assert!(erased["protokolltexte"].as_u64().unwrap() >= 1, "{erased}");
        // Tampering with details that were not erased is still found.
        sqlx::query("UPDATE audit_log SET details = '{\"x\":1}' WHERE tenant_id = $1 AND action = 'case.archived'")
            .bind(t_id)
            .execute(&mut *conn)
            .await
            .unwrap();
        assert!(audit::verify(&mut conn, t_id).await.unwrap().is_some());
        drop(conn);

        // Nothing twice; the case file of the erased case still opens.
        assert!(rt.archive_due().await.unwrap().is_empty());
        rt.case_archive(&t, id, &Actor::System).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await;
    }
}
