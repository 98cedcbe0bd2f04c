//! Service centres: a town delegates procedures to a centre in its administration; the
//! centre's staff enter the town's back office under the delegation and work there under a
//! qualified name, limited to the delegated procedures, never administering the town; the
//! town ends the delegation and the access ends with the next request. Both audit trails
//! record it; the centre's statistics cover the towns that delegate to it.

mod common;

use common::{client, csrf, library_dir, submit_gewerbeanmeldung, TestServer};
use rathaus_store::{audit, tasks, testing};
use reqwest::Client;
use std::path::{Path, PathBuf};

/// The demo library plus the test procedure „vorkaufsrecht“ (its task is for `bauamt`),
/// so that a town has a procedure it does not delegate.
fn library_with_vorkaufsrecht() -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("rathaus-library-{:016x}", rand::random::<u64>()));
    copy(&library_dir(), &dir);
    copy(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/library/vorkaufsrecht"),
        &dir.join("vorkaufsrecht"),
    );
    dir
}

async fn sign_in(s: &TestServer, tenant: &str, user: &str) -> Client {
    let c = client();
    let page = c.get(s.url(&format!("/{tenant}/intern/anmelden"))).send().await.unwrap().text().await.unwrap();
    let res = c
        .post(s.url(&format!("/{tenant}/intern/anmelden")))
        .form(&[("_csrf", csrf(&page).as_str()), ("benutzername", user), ("passwort", s.password(tenant, user))])
        .send()
        .await
        .unwrap();
    assert!(res.url().path().ends_with("/intern/"), "{tenant}/{user} signed in");
    c
}

async fn get(c: &Client, s: &TestServer, path: &str) -> (u16, String) {
    let res = c.get(s.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Posts a form of the page at `page` (its CSRF token) to `path`.
async fn post(c: &Client, s: &TestServer, page: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let html = c.get(s.url(page)).send().await.unwrap().text().await.unwrap();
    let token = csrf(&html);
    let mut body = vec![("_csrf", token.as_str())];
    body.extend_from_slice(fields);
    let res = c.post(s.url(path)).form(&body).send().await.unwrap();
    let status = res.status().as_u16();
    let url = res.url().path().to_string();
    (status, url, res.text().await.unwrap())
}

fn review_case() -> serde_json::Value {
    // A Heilpraktikerin: the rules send the case to a clerk.
    let mut data = common::application("heilpraktiker", "09999");
    data["taetigkeit_beschreibung"] = "Heilpraktikerin".into();
    data
}

/// The delegation id in the centre's list of towns, for `town`.
fn enter_path(html: &str, town: &str) -> String {
    let marker = format!("/kdz/intern/mandanten/{town}/");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no way into {town}:\n{html}"));
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_town_delegates_a_procedure_to_a_centre_whose_staff_work_there_until_it_ends() {
    for db in testing::all().await {
        let library = library_with_vorkaufsrecht();
        let s = TestServer::start_with(db, |a| a.library = Some(library.clone())).await;
        let rt = &s.assembled.runtime;
        // Musterstadt offers the Vorkaufsrecht too (not to be delegated).
        let mut conn = rt.store.conn().await.unwrap();
        let town = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        let kdz = rathaus_store::tenants::by_slug(&mut conn, "kdz").await.unwrap().unwrap();
        drop(conn);
        assert!(kdz.settings.service_centre);
        let system = audit::Actor::System;
        rt.configure_procedure(&town, "vorkaufsrecht", true, &serde_json::Map::new(), &system).await.unwrap();
        rt.sync_deployments().await.unwrap();
        let (_, gewerbe) = submit_gewerbeanmeldung(&s, "musterstadt", &review_case()).await;
        let data = serde_json::json!({"name": "Notarin Dr. Weiß"});
        let vorkauf = rt
            .submit(rathaus_runtime::SubmitRequest {
                tenant: &town,
                procedure_id: "vorkaufsrecht",
                data: &data,
                channel: rathaus_domain::Channel::Api,
                lang: rathaus_domain::Lang::De,
                actor: audit::Actor::Applicant,
                upload_key: None,
                account_id: None,
                business_id: None,
            })
            .await
            .unwrap();

        // Before any delegation, the centre's clerk has only Beispielgemeinde (the demo's).
        let centre = sign_in(&s, "kdz", "sachbearbeitung").await;
        let (status, towns) = get(&centre, &s, "/kdz/intern/mandanten").await;
        assert_eq!(status, 200);
        assert!(towns.contains("Beispielgemeinde") && !towns.contains("Musterstadt"), "{towns}");
        // The centre is not offered to citizens on the start page.
        let (_, landing) = get(&client(), &s, "/").await;
        assert!(landing.contains("Musterstadt") && !landing.contains("KDZ"), "{landing}");

        // Musterstadt's administration: wrong input is named at its field, nothing granted.
        let admin = sign_in(&s, "musterstadt", "admin").await;
        let form = "/musterstadt/intern/verwaltung/delegationen";
        let (status, _, html) = post(&admin, &s, form, form, &[("vereinbarung", " "), ("bis", "morgen")]).await;
        assert_eq!(status, 422);
        for expected in [
            "Bitte wählen Sie das Servicezentrum aus.",
            "Bitte wählen Sie den Umfang: bearbeiten oder nur lesen.",
            "Gültig bis: „morgen“ ist kein Datum (TT.MM.JJJJ).",
            "href=\"#zentrum\"",
        ] {
            assert!(html.contains(expected), "{expected} in\n{html}");
        }
        let fields = [
            ("zentrum", "kdz"),
            ("verfahren", "gewerbeanmeldung"),
            ("umfang", "bearbeiten"),
            ("vereinbarung", ""),
            ("von", "2026-01-01"),
            ("bis", "2025-12-31"),
        ];
        let (status, _, html) = post(&admin, &s, form, form, &fields).await;
        assert_eq!(status, 422);
        assert!(html.contains("Bitte die Rechtsgrundlage oder Vereinbarung nennen"), "{html}");
        assert!(html.contains("Das Ende der Übertragung (31.12.2025) liegt vor ihrem Beginn (01.01.2026)"), "{html}");
        assert!(rt.delegations_of(&town).await.unwrap().is_empty(), "nothing granted");
        // The town's auditor reads the page but cannot grant; clerks do not see it.
        let auditor = sign_in(&s, "musterstadt", "pruefung").await;
        assert_eq!(get(&auditor, &s, form).await.0, 200);
        let (status, _, _) = post(&auditor, &s, form, form, &[("zentrum", "kdz")]).await;
        assert_eq!(status, 403);
        let clerk = sign_in(&s, "musterstadt", "sachbearbeitung").await;
        assert_eq!(get(&clerk, &s, form).await.0, 403);

        let fields = [
            ("zentrum", "kdz"),
            ("verfahren", "gewerbeanmeldung"),
            ("umfang", "bearbeiten"),
            ("vereinbarung", "Zweckvereinbarung vom 01.12.2026"),
        ];
        let (status, url, html) = post(&admin, &s, form, form, &fields).await;
        assert_eq!((status, url.as_str()), (200, form));
        assert!(html.contains("Die Aufgaben sind „KDZ Musterland (Servicezentrum)“ übertragen."), "{html}");
        assert!(html.contains("Zweckvereinbarung vom 01.12.2026") && html.contains("in Kraft"), "{html}");
        let (d, _) = rt.delegations_of(&town).await.unwrap().into_iter().next().unwrap();

        // The centre's clerk enters Musterstadt under it.
        let (_, towns) = get(&centre, &s, "/kdz/intern/mandanten").await;
        assert!(towns.contains("Musterstadt"), "{towns}");
        // Musterstadt's open Gewerbeanzeige waits for the centre (its Vorkaufsrecht is not
        // counted: not delegated).
        let row = &towns[towns.find("Musterstadt").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("1 offen, davon 1 noch nicht übernommen"), "{row}");
        let enter = enter_path(&towns, "musterstadt");
        let (status, url, worklist) = post(&centre, &s, "/kdz/intern/mandanten", &enter, &[]).await;
        assert_eq!((status, url.as_str()), (200, "/musterstadt/intern/"));
        assert!(worklist.contains("id=\"delegation-banner\""), "{worklist}");
        assert!(worklist.contains("Kim Zentrumsmitarbeiterin (KDZ Musterland (Servicezentrum))"), "{worklist}");
        // The delegated Gewerbeanzeige is in the worklist, the Vorkaufsrecht is not, and its
        // case file is not found.
        assert!(worklist.contains(gewerbe.reference.as_str()), "{worklist}");
        assert!(!worklist.contains(vorkauf.reference.as_str()), "{worklist}");
        let vorkauf_case = format!("/musterstadt/intern/vorgaenge/{}", vorkauf.case_id);
        assert_eq!(get(&centre, &s, &vorkauf_case).await.0, 404);
        assert_eq!(get(&centre, &s, &format!("{vorkauf_case}/akte.zip")).await.0, 404);
        let (status, _, _) =
            post(&centre, &s, "/musterstadt/intern/", &format!("{vorkauf_case}/vermerke"), &[("vermerk_text", "x")])
                .await;
        assert_eq!(status, 404);
        let mut conn = rt.store.conn().await.unwrap();
        let vorkauf_task =
            tasks::for_case(&mut conn, &town.tenant_id, &vorkauf.case_id).await.unwrap()[0].task_id.clone();
        let gewerbe_task =
            tasks::for_case(&mut conn, &town.tenant_id, &gewerbe.case_id).await.unwrap()[0].task_id.clone();
        drop(conn);
        let claim = |task: &str| format!("/musterstadt/intern/aufgaben/{task}/uebernehmen");
        let (status, _, _) = post(&centre, &s, "/musterstadt/intern/", &claim(&vorkauf_task), &[]).await;
        assert_eq!(status, 404);
        // The Gewerbeanzeige's task is taken under the qualified name.
        let (status, _, _) = post(&centre, &s, "/musterstadt/intern/", &claim(&gewerbe_task), &[]).await;
        assert_eq!(status, 200);
        let mut conn = rt.store.conn().await.unwrap();
        let t = tasks::by_id(&mut conn, &town.tenant_id, &gewerbe_task).await.unwrap().unwrap();
        assert_eq!(t.assignee.as_deref(), Some("sachbearbeitung@kdz"));
        let trail = audit::for_object(&mut conn, &town.tenant_id, "case", &gewerbe.case_id).await.unwrap();
        assert!(
            trail.iter().any(|e| e.action == "task.claimed" && e.actor == "staff:sachbearbeitung@kdz"),
            "{trail:?}"
        );
        // Entering is recorded on both sides.
        for tenant in [&town.tenant_id, &kdz.tenant_id] {
            let entries = audit::for_object(&mut conn, tenant, "delegation", &d.delegation_id).await.unwrap();
            let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            assert!(actions.contains(&"delegation.entered"), "{actions:?}");
            assert!(actions.contains(&"delegation.granted") || actions.contains(&"delegation.received"), "{actions:?}");
        }
        drop(conn);
        let (status, case_file) = get(&centre, &s, &format!("/musterstadt/intern/vorgaenge/{}", gewerbe.case_id)).await;
        assert_eq!(status, 200);
        assert!(case_file.contains("sachbearbeitung@kdz"), "{case_file}");
        // The centre records its clerk's absence: the centre's team lead, her deputy, finds
        // the task she took in Musterstadt under „Vertretung“.
        let mut conn = rt.store.conn().await.unwrap();
        let kim =
            rathaus_store::staff::by_username(&mut conn, &kdz.tenant_id, "sachbearbeitung").await.unwrap().unwrap();
        drop(conn);
        let until = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
        rt.set_absence(&kdz.tenant_id, &kim.staff_id, Some((until, "teamleitung")), &audit::Actor::System)
            .await
            .unwrap();
        let lead = sign_in(&s, "kdz", "teamleitung").await;
        let (_, lead_towns) = get(&lead, &s, "/kdz/intern/mandanten").await;
        let (status, _, _) =
            post(&lead, &s, "/kdz/intern/mandanten", &enter_path(&lead_towns, "musterstadt"), &[]).await;
        assert_eq!(status, 200);
        let (_, standing_in) = get(&lead, &s, "/musterstadt/intern/?liste=vertretung").await;
        assert!(
            standing_in.contains("Kim Zentrumsmitarbeiterin") && standing_in.contains(gewerbe.reference.as_str()),
            "{standing_in}"
        );
        // Never the town's administration, operations or absences.
        for path in ["/musterstadt/intern/verwaltung", "/musterstadt/intern/betrieb", form] {
            assert_eq!(get(&centre, &s, path).await.0, 403, "{path}");
        }
        let (status, _, _) =
            post(&centre, &s, "/musterstadt/intern/", "/musterstadt/intern/abwesenheit", &[("bis", "")]).await;
        assert_eq!(status, 403);
        // The deadlines and statistics pages show the delegated procedure only.
        let (_, deadlines) = get(&centre, &s, "/musterstadt/intern/fristen").await;
        assert!(deadlines.contains(gewerbe.reference.as_str()) && !deadlines.contains(vorkauf.reference.as_str()));
        let (_, statistics) = get(&centre, &s, "/musterstadt/intern/statistik?zeitraum=alle").await;
        assert!(statistics.contains("Gewerbe") && !statistics.contains("Negativzeugnis (Test)"), "{statistics}");
        // The town's own staff see both.
        let (_, own) = get(&clerk, &s, "/musterstadt/intern/statistik?zeitraum=alle").await;
        assert!(own.contains("Negativzeugnis (Test)"), "{own}");

        // The centre's statistics: Musterstadt's and Beispielgemeinde's delegated cases.
        let (_, centre_stats) = get(&centre, &s, "/kdz/intern/statistik?zeitraum=alle").await;
        assert!(centre_stats.contains("id=\"centre-towns\""), "{centre_stats}");
        assert!(
            centre_stats.contains("Musterstadt") && !centre_stats.contains("Negativzeugnis (Test)"),
            "{centre_stats}"
        );
        // The centre's administrator cannot enter (no role there).
        let centre_admin = sign_in(&s, "kdz", "admin").await;
        let (_, towns) = get(&centre_admin, &s, "/kdz/intern/mandanten").await;
        assert!(towns.contains("Als Verwaltung des Zentrums bearbeiten Sie keine Vorgänge."), "{towns}");
        let (status, _, _) = post(&centre_admin, &s, "/kdz/intern/mandanten", &enter, &[]).await;
        assert_eq!(status, 403);
        // Another town's staff cannot use the centre's way in.
        let other = sign_in(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (status, url, _) = post(&other, &s, "/beispielgemeinde/intern/", &enter, &[]).await;
        assert!(status == 403 || url.ends_with("/kdz/intern/anmelden"), "{status} {url}");

        // Musterstadt ends the delegation: the centre's next request is turned away.
        let revoke = format!("{form}/{}/beenden", d.delegation_id);
        let (status, _, html) = post(&admin, &s, form, &revoke, &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Die Übertragung ist beendet"), "{html}");
        let (status, url, _) = {
            let res = centre.get(s.url("/musterstadt/intern/")).send().await.unwrap();
            (res.status().as_u16(), res.url().path().to_string(), ())
        };
        assert_eq!((status, url.as_str()), (200, "/musterstadt/intern/anmelden"));
        let (_, towns) = get(&centre, &s, "/kdz/intern/mandanten").await;
        assert!(!towns.contains("Musterstadt"), "{towns}");
        let (status, _, _) = post(&centre, &s, "/kdz/intern/mandanten", &enter, &[]).await;
        assert_eq!(status, 403);
        let mut conn = rt.store.conn().await.unwrap();
        let entries = audit::for_object(&mut conn, &kdz.tenant_id, "delegation", &d.delegation_id).await.unwrap();
        assert!(entries.iter().any(|e| e.action == "delegation.revoked"));
        drop(conn);
        s.stop().await;
        let _ = std::fs::remove_dir_all(&library);
    }
}

#[tokio::test]
async fn a_read_only_delegation_lets_the_centre_see_but_not_change() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let rt = &s.assembled.runtime;
        let (town, submitted) = submit_gewerbeanmeldung(&s, "musterstadt", &review_case()).await;
        let grant = rathaus_runtime::delegations::Grant {
            centre: "kdz",
            procedures: Vec::new(),
            scope: rathaus_domain::delegation::Scope::Read,
            agreement: "Fachaufsicht",
            valid_from: None,
            valid_until: None,
        };
        rt.grant_delegation(&town, &grant, &audit::Actor::System).await.unwrap();
        let lead = sign_in(&s, "kdz", "teamleitung").await;
        let (_, towns) = get(&lead, &s, "/kdz/intern/mandanten").await;
        assert!(towns.contains("Prüfung (nur lesen)"), "read only gives the auditor's role:\n{towns}");
        let enter = enter_path(&towns, "musterstadt");
        let (status, url, _) = post(&lead, &s, "/kdz/intern/mandanten", &enter, &[]).await;
        assert_eq!((status, url.as_str()), (200, "/musterstadt/intern/"));
        let case = format!("/musterstadt/intern/vorgaenge/{}", submitted.case_id);
        assert_eq!(get(&lead, &s, &case).await.0, 200);
        let (status, _, _) = post(&lead, &s, &case, &format!("{case}/vermerke"), &[("vermerk_text", "Notiz")]).await;
        assert_eq!(status, 403);
        // An auditor of the town reads the administration; a reading centre never does.
        assert_eq!(get(&lead, &s, "/musterstadt/intern/verwaltung").await.0, 403);
        s.stop().await;
    }
}
