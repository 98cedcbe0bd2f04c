//! Integration API v1 end to end, on SQLite and PostgreSQL.

mod common;

use common::{application, TestServer};
use rathaus_store::testing;
use serde_json::{json, Value};

async fn post(s: &TestServer, tenant: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(s.url(&format!("/api/v1/{tenant}/applications"))).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str, key: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap()
}

#[tokio::test]
async fn accept_path_confirms_with_fee_and_downloadable_documents() {
    for db in testing::all().await {
        let backend = db.backend();
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let (status, body) = post(
            &s,
            "musterstadt",
            Some(&key),
            json!({"procedure": "gewerbeanmeldung", "data": application("software", "09999")}),
        )
        .await;
        assert_eq!(status, 201, "{backend:?}: {body}");
        assert_eq!(body["status"], "confirmed", "{body}");
        assert_eq!(body["outcome"], "accepted");
        let reference = body["reference"].as_str().unwrap();
        assert!(reference.starts_with("GEW-"), "{reference}");
        let code = body["access_code"].as_str().unwrap();
        let status_url = body["status_url"].as_str().unwrap();
        assert!(status_url.ends_with(&format!("/api/v1/musterstadt/applications/{reference}")));

        let res = get(&format!("{status_url}?access_code={code}"), &key).await;
        assert_eq!(res.status(), 200);
        let st: Value = res.json().await.unwrap();
        assert_eq!(st["outcome"], "accepted");
        assert_eq!(st["fee"]["amount"], "26.00");
        assert_eq!(st["fee"]["currency"], "EUR");
        assert!(st["reasons"].as_array().unwrap().is_empty(), "{st}");
        let docs = st["documents"].as_array().unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"eingangsbestaetigung") && kinds.contains(&"bescheinigung"), "{kinds:?}");
        for d in docs {
            let res = get(&format!("{}?access_code={code}", d["url"].as_str().unwrap()), &key).await;
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "application/pdf");
            let bytes = res.bytes().await.unwrap();
            assert!(bytes.starts_with(b"%PDF"));
            assert_eq!(bytes.len() as i64, d["size"].as_i64().unwrap());
        }
        // Wrong access code: not found, nothing revealed.
        let res = get(&format!("{status_url}?access_code=ACDE-FGHJ-KMNP"), &key).await;
        assert_eq!(res.status(), 404);
        let res = get(status_url, &key).await;
        assert_eq!(res.status(), 401, "the access code is required");
        s.stop().await;
    }
}

#[tokio::test]
async fn review_path_lists_every_reason() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let mut data = application("bewachung", "09999");
        data["taetigkeiten"] = json!(["bewachung", "heilpraktiker"]);
        let (status, body) =
            post(&s, "musterstadt", Some(&key), json!({"procedure": "gewerbeanmeldung", "data": data})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["outcome"], "in_review");
        assert_eq!(body["status"], "in_review");
        let url =
            format!("{}?access_code={}", body["status_url"].as_str().unwrap(), body["access_code"].as_str().unwrap());
        let st: Value = get(&url, &key).await.json().await.unwrap();
        let texts: Vec<&str> = st["reasons"].as_array().unwrap().iter().map(|r| r["text"].as_str().unwrap()).collect();
        assert!(texts.contains(&"Erlaubnis nach § 34a GewO fehlt"), "{texts:?}");
        assert!(texts.iter().any(|t| t.contains("kein Gewerbe")), "{texts:?}");
        assert!(st["fee"].is_null(), "no fee before the decision");
        s.stop().await;
    }
}

#[tokio::test]
async fn invalid_data_is_refused_with_field_errors_and_nothing_is_stored() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let mut data = application("software", "09999");
        data["inhaber"]["familienname"] = json!("");
        data["beginn"] = json!("31.12.2026");
        data["taetigkeiten"] = json!(["gibtsnicht"]);
        data["rechtsform"] = json!("gmbh");
        let (status, body) =
            post(&s, "musterstadt", Some(&key), json!({"procedure": "gewerbeanmeldung", "data": data})).await;
        assert_eq!(status, 422, "{body}");
        let errors = body["errors"].as_array().unwrap();
        let by_field =
            |f: &str| errors.iter().find(|e| e["field"] == f).map(|e| e["message"].as_str().unwrap().to_string());
        assert_eq!(by_field("inhaber.familienname").unwrap(), "Geben Sie „Familienname“ an.");
        assert!(by_field("beginn").unwrap().contains("gültiges Datum"));
        assert!(by_field("taetigkeiten").unwrap().contains("„gibtsnicht“ ist keine zulässige Auswahl"));
        assert!(by_field("register.art").is_some(), "a GmbH needs register data: {errors:?}");
        assert!(by_field("vertretung").is_some(), "a GmbH needs its representatives: {errors:?}");
        let mut conn = s.db.store.conn().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(n, 0, "nothing stored");
        drop(conn);
        // Malformed JSON and unknown procedures are clear errors too.
        let res = reqwest::Client::new()
            .post(s.url("/api/v1/musterstadt/applications"))
            .bearer_auth(&key)
            .body("{kaputt")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let (status, body) = post(&s, "musterstadt", Some(&key), json!({"procedure": "hundesteuer", "data": {}})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_procedure")));
        s.stop().await;
    }
}

#[tokio::test]
async fn api_keys_are_bound_to_their_tenant() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let body = json!({"procedure": "gewerbeanmeldung", "data": application("software", "09998")});
        let (status, _) = post(&s, "beispielgemeinde", None, body.clone()).await;
        assert_eq!(status, 401);
        let (status, _) = post(&s, "beispielgemeinde", Some("rh_falsch"), body.clone()).await;
        assert_eq!(status, 401);
        let other = s.api_key("musterstadt").to_string();
        let (status, err) = post(&s, "beispielgemeinde", Some(&other), body.clone()).await;
        assert_eq!(status, 403, "{err}");
        assert_eq!(err["error"]["code"], "forbidden");
        // With its own key: accepted, and the tenant's own fee applies.
        let own = s.api_key("beispielgemeinde").to_string();
        let (status, created) = post(&s, "beispielgemeinde", Some(&own), body).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["outcome"], "accepted", "{created}");
        let url = format!(
            "{}?access_code={}",
            created["status_url"].as_str().unwrap(),
            created["access_code"].as_str().unwrap()
        );
        let st: Value = get(&url, &own).await.json().await.unwrap();
        assert_eq!(st["fee"]["amount"], "30.00");
        // The other tenant's key cannot read it either.
        assert_eq!(get(&url, &other).await.status(), 403);
        // And Musterstadt has no case with this reference.
        let foreign = url.replace("/beispielgemeinde/", "/musterstadt/");
        assert_eq!(get(&foreign, &other).await.status(), 404);
        s.stop().await;
    }
}

async fn call(s: &TestServer, path: &str, key: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new().post(s.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn engine_endpoints_messages_jobs_and_deployments() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let other = s.api_key("beispielgemeinde").to_string();
        let (_, created) = post(
            &s,
            "musterstadt",
            Some(&key),
            json!({"procedure": "gewerbeanmeldung", "data": application("software", "09999")}),
        )
        .await;
        let reference = created["reference"].as_str().unwrap();
        let path = format!("/api/v1/musterstadt/cases/{reference}/messages");
        // The confirmed case waits for its fee: the payment's message ends it, and a second
        // one is refused, not kept (buffering for running cases is tested in the runtime's
        // engine tests).
        let (status, delivered) = call(&s, &path, &key, json!({"name": "zahlung", "variables": {"betrag": 26}})).await;
        assert_eq!((status, &delivered["delivered"]), (200, &json!(true)), "{delivered}");
        let res = reqwest::Client::new()
            .get(s.url(&format!(
                "/api/v1/musterstadt/applications/{reference}?access_code={}",
                created["access_code"].as_str().unwrap()
            )))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let state: Value = res.json().await.unwrap();
        assert!(state["closed_at"].is_string() && state["outcome"] == "accepted", "{state}");
        let (status, err) = call(&s, &path, &key, json!({"name": "zahlung", "variables": {"betrag": 26}})).await;
        assert_eq!(status, 409, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("abgeschlossen"), "{err}");
        // A case under review waits for a clerk, not for a payment: the message is kept for
        // when it does (or refused with ttl_seconds = 0).
        let (_, review) = post(
            &s,
            "musterstadt",
            Some(&key),
            json!({"procedure": "gewerbeanmeldung", "data": application("heilpraktiker", "09999")}),
        )
        .await;
        assert_eq!(review["status"], "in_review", "{review}");
        let review_path = format!("/api/v1/musterstadt/cases/{}/messages", review["reference"].as_str().unwrap());
        let (status, err) = call(&s, &review_path, &key, json!({"name": "zahlung", "ttl_seconds": 0})).await;
        assert_eq!(status, 409, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("wartet derzeit nicht"), "{err}");
        let (status, got) = call(&s, &review_path, &key, json!({"name": "zahlung", "variables": {"betrag": 26}})).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["delivered"], false);
        assert!(got["expires_at"].is_string());
        let (status, err) = call(&s, &path, &key, json!({"name": " "})).await;
        assert_eq!(status, 422, "{err}");
        let (status, err) = call(&s, &path, &key, json!({"name": "zahlung", "variables": {"antrag": {}}})).await;
        assert_eq!(status, 422, "the application cannot be replaced from outside: {err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("variables.antrag"));
        assert_eq!(call(&s, &path, &key, json!({"nam": "x"})).await.0, 400, "unknown shape");
        assert_eq!(call(&s, &path, &other, json!({"name": "zahlung"})).await.0, 403, "another tenant's key");
        let missing = "/api/v1/musterstadt/cases/GEW-2026-999999/messages";
        assert_eq!(call(&s, missing, &key, json!({"name": "zahlung"})).await.0, 404);
        // External workers: built-in types are not for them; unknown jobs are 404.
        let fetch = "/api/v1/musterstadt/jobs/fetch-and-lock";
        let (status, err) = call(&s, fetch, &key, json!({"worker": "fv", "types": ["rathaus:document"]})).await;
        assert_eq!(status, 409, "{err}");
        let (status, jobs) =
            call(&s, fetch, &key, json!({"worker": "fv", "types": ["fachverfahren:x"], "max_jobs": 5})).await;
        assert_eq!((status, jobs), (200, json!([])));
        assert_eq!(call(&s, fetch, &key, json!({"worker": "", "types": ["x"]})).await.0, 422);
        assert_eq!(call(&s, fetch, &key, json!({"worker": "fv", "types": ["x"], "lock_seconds": 0})).await.0, 422);
        let (status, _) = call(&s, "/api/v1/musterstadt/jobs/unbekannt/complete", &key, json!({"worker": "fv"})).await;
        assert_eq!(status, 404);
        // Deployments: the version the case runs on, with no instance left running.
        let list: Value = get(&s.url("/api/v1/musterstadt/deployments"), &key).await.json().await.unwrap();
        let list = list.as_array().unwrap();
        let procedures: Vec<&str> = list.iter().map(|d| d["procedure"].as_str().unwrap()).collect();
        let library = rathaus_engine::Library::load(&common::library_dir()).unwrap();
        assert_eq!(list.len(), library.procedures.len(), "one per procedure the demo town offers: {list:?}");
        assert!(procedures.contains(&"verkehrsrechtliche-anordnung"));
        let gewerbe = list.iter().find(|d| d["procedure"] == "gewerbeanmeldung").unwrap();
        assert_eq!(gewerbe["running_instances"], 1, "the case under review");
        assert_eq!(gewerbe["content_hash"].as_str().unwrap().len(), 64);
        s.stop().await;
    }
}

#[tokio::test]
async fn openapi_and_health_are_served() {
    let s = TestServer::start(testing::sqlite().await).await;
    let doc: Value = reqwest::get(s.url("/api/openapi.json")).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/{tenant}/applications",
        "/api/v1/{tenant}/applications/{reference}",
        "/api/v1/{tenant}/applications/{reference}/documents/{document_id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    for path in [
        "/api/v1/{tenant}/jobs/fetch-and-lock",
        "/api/v1/{tenant}/cases/{reference}/messages",
        "/api/v1/{tenant}/deployments",
        "/api/v1/{tenant}/finance/runs",
        "/api/v1/{tenant}/finance/runs/{run}",
        "/api/v1/{tenant}/finance/runs/{run}/csv",
        "/api/v1/{tenant}/finance/statements",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["Receivable"]["properties"]["kassenzeichen"].is_object());
    assert!(doc["components"]["schemas"]["ImportReport"]["properties"]["umsaetze"].is_object());
    assert_eq!(reqwest::get(s.url("/healthz")).await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(reqwest::get(s.url("/readyz")).await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn files_come_base64_encoded_and_are_checked_like_uploads() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let pdf: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n";
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let mut data = application("bewachung", "09999");
        data["erlaubnis"] =
            json!({"behoerde": "Landratsamt Musterkreis", "erteilt_am": "2025-02-03", "aktenzeichen": "34a-17"});
        // Every problem at once, nothing stored.
        let (status, body) = post(
            &s,
            "musterstadt",
            Some(&key),
            json!({"procedure": "gewerbeanmeldung", "data": data, "files": [
                {"field": "erlaubnis.kopie", "name": "erlaubnis.pdf", "content_base64": b64(b"GIF89a")},
                {"field": "inhaber.familienname", "name": "x.pdf", "content_base64": b64(pdf)},
                {"field": "erlaubnis.kopie", "name": "erlaubnis.pdf", "content_base64": "%%%"}
            ]}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let errors: Vec<(String, String)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            errors,
            [
                ("files[0]".to_string(), "„Kopie der Erlaubnis“: Diese Art von Datei ist nicht erlaubt („erlaubnis.pdf“). Erlaubt sind: PDF, JPEG oder PNG.".to_string()),
                ("files[1].field".to_string(), "„inhaber.familienname“ ist kein Dateifeld dieses Verfahrens.".to_string()),
                ("files[2].content_base64".to_string(), "Der Inhalt der Datei „erlaubnis.pdf“ ist kein gültiges Base64.".to_string()),
            ]
        );
        // A reference made up in the data instead of a file is refused.
        let mut forged = data.clone();
        forged["erlaubnis"]["kopie"] =
            json!([{"id": "x", "name": "erlaubnis.pdf", "type": "pdf", "size": 10, "sha256": "00"}]);
        let (status, body) =
            post(&s, "musterstadt", Some(&key), json!({"procedure": "gewerbeanmeldung", "data": forged})).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("ist nicht mehr gespeichert"), "{body}");

        let (status, body) = post(
            &s,
            "musterstadt",
            Some(&key),
            json!({"procedure": "gewerbeanmeldung", "data": data, "files": [
                {"field": "erlaubnis.kopie", "name": "erlaubnis.pdf", "content_base64": b64(pdf)}
            ]}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let code = body["access_code"].as_str().unwrap();
        let st: Value = get(&format!("{}?access_code={code}", body["status_url"].as_str().unwrap()), &key)
            .await
            .json()
            .await
            .unwrap();
        let attachment = st["documents"].as_array().unwrap().iter().find(|d| d["kind"] == "anlage").expect("attached");
        assert_eq!(attachment["file_name"], "erlaubnis.pdf");
        assert_eq!(attachment["title"], "Kopie der Erlaubnis");
        assert_eq!(attachment["media_type"], "application/pdf");
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(pdf))
        };
        assert_eq!(attachment["sha256"], sha256.as_str());
        let res = get(&format!("{}?access_code={code}", attachment["url"].as_str().unwrap()), &key).await;
        assert_eq!(res.bytes().await.unwrap().as_ref(), pdf);
        s.stop().await;
    }
}

async fn finance(s: &TestServer, tenant: &str, key: &str, method: &str, path: &str) -> reqwest::Response {
    let url = s.url(&format!("/api/v1/{tenant}/finance/runs{path}"));
    let c = reqwest::Client::new();
    let req = if method == "POST" { c.post(url) } else { c.get(url) };
    req.bearer_auth(key).send().await.unwrap()
}

/// Sollstellung: a run takes every fee not handed over yet, each fee goes into exactly one
/// run (also when two runs start at once), a run reads the same every time, as JSON and CSV,
/// and another town's key sees none of it.
#[tokio::test]
async fn receivables_go_to_the_finance_system_in_runs_each_exactly_once() {
    for db in testing::all().await {
        let backend = db.backend();
        let s = TestServer::start(db).await;
        let key = s.api_key("musterstadt").to_string();
        let submit = || async {
            let data = application("software", "09999");
            let (status, body) =
                post(&s, "musterstadt", Some(&key), json!({"procedure": "gewerbeanmeldung", "data": data})).await;
            assert_eq!(status, 201, "{body}");
            body["reference"].as_str().unwrap().to_string()
        };
        let first = [submit().await, submit().await];

        let res = finance(&s, "musterstadt", &key, "POST", "").await;
        assert_eq!(res.status(), 201, "{backend:?}");
        let run: Value = res.json().await.unwrap();
        assert_eq!((run["nummer"].as_i64(), run["anzahl"].as_i64()), (Some(1), Some(2)), "{run}");
        assert_eq!((run["summe"].as_str(), run["summe_cent"].as_i64()), (Some("52.00"), Some(5200)));
        assert!(run["erstellt_von"].as_str().unwrap().starts_with("api:"), "{run}");
        let items = run["forderungen"].as_array().unwrap();
        let mut refs: Vec<&str> = items.iter().map(|r| r["aktenzeichen"].as_str().unwrap()).collect();
        refs.sort_unstable();
        assert_eq!(refs, [first[0].as_str(), first[1].as_str()]);
        for r in items {
            assert_eq!((r["betrag"].as_str(), r["verfahren"].as_str()), (Some("26.00"), Some("gewerbeanmeldung")));
            assert_eq!(r["schuldner"], "Erika Muster");
            assert!(r["anschrift"].as_array().unwrap().iter().any(|l| l == "09999 Musterstadt"), "{r}");
            let kassenzeichen = r["kassenzeichen"].as_str().unwrap();
            assert!(kassenzeichen.starts_with("2026") && kassenzeichen.bytes().all(|b| b.is_ascii_digit()), "{r}");
        }
        // Nothing new: no empty run.
        assert_eq!(finance(&s, "musterstadt", &key, "POST", "").await.status(), 204);

        // The same run again: the same receivables, as JSON and as CSV.
        let run_id = run["lauf_id"].as_str().unwrap().to_string();
        let again: Value = finance(&s, "musterstadt", &key, "GET", &format!("/{run_id}")).await.json().await.unwrap();
        assert_eq!(again, run);
        let csv = finance(&s, "musterstadt", &key, "GET", &format!("/{run_id}/csv")).await;
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = csv.text().await.unwrap();
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert_eq!(lines[0], "lauf;kassenzeichen;aktenzeichen;verfahren;betrag;faellig_am;rechtsgrundlage;schuldner;anschrift;forderung_vom");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("1;") && l.contains(";26.00;") && l.split(';').count() == 10),
            "{csv}"
        );

        // Two runs started at once share nothing.
        let more = [submit().await, submit().await, submit().await];
        let (a, b) =
            tokio::join!(finance(&s, "musterstadt", &key, "POST", ""), finance(&s, "musterstadt", &key, "POST", ""));
        let mut seen: Vec<String> = Vec::new();
        for res in [a, b] {
            if res.status() == 201 {
                let r: Value = res.json().await.unwrap();
                seen.extend(
                    r["forderungen"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["aktenzeichen"].as_str().unwrap().to_string()),
                );
            } else {
                assert_eq!(res.status(), 204);
            }
        }
        seen.sort();
        let mut expected: Vec<String> = more.to_vec();
        expected.sort();
        assert_eq!(seen, expected, "each receivable in exactly one run");

        // The run log, newest first.
        let log: Value = finance(&s, "musterstadt", &key, "GET", "").await.json().await.unwrap();
        let numbers: Vec<i64> = log.as_array().unwrap().iter().map(|r| r["nummer"].as_i64().unwrap()).collect();
        assert_eq!(numbers.first(), Some(&(numbers.len() as i64)));
        assert_eq!(log.as_array().unwrap().iter().map(|r| r["anzahl"].as_i64().unwrap()).sum::<i64>(), 5);

        // Another town: its key is refused on Musterstadt's runs, and its own log is empty.
        let other = s.api_key("beispielgemeinde").to_string();
        assert_eq!(finance(&s, "musterstadt", &other, "GET", &format!("/{run_id}")).await.status(), 403);
        assert_eq!(finance(&s, "beispielgemeinde", &other, "GET", &format!("/{run_id}")).await.status(), 404);
        let theirs: Value = finance(&s, "beispielgemeinde", &other, "GET", "").await.json().await.unwrap();
        assert_eq!(theirs, json!([]));
        // Audited.
        let mut conn = s.db.store.conn().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'finance.run_created'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, log.as_array().unwrap().len() as i64);
        drop(conn);
        s.stop().await;
    }
}
