//! A person in headless Chromium fills in and submits the Gewerbeanmeldung, then opens the
//! certificate PDF; a clerk works a case from the worklist to the decision. Needs Debian's chromium and chromium-driver (see .ci/run); locally it is
//! skipped with a note when they are missing, in CI (`RATHAUS_REQUIRE_BROWSER=1`) it fails.

mod common;

use common::browser::{browser, click, fill_person, type_into, Browser};
use common::{soon, TestServer};
use fantoccini::{Client, Locator};
use rathaus_store::testing;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

async fn continue_(c: &Client) {
    click(c, "button[value=continue]").await;
}

async fn on_page(c: &Client, path_end: &str) {
    let target = url_matching(c, path_end).await;
    if c.wait().at_most(Duration::from_secs(10)).for_url(&target).await.is_err() {
        let current = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let problems = match c.find(Locator::Css(".error-summary")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => "(no error summary)".into(),
        };
        panic!("did not reach …{path_end}; still at {current}: {problems}");
    }
}

async fn url_matching(c: &Client, path_end: &str) -> url::Url {
    let current = c.current_url().await.unwrap();
    let mut target = current.clone();
    let prefix = current
        .path()
        .rsplit_once("/antrag/gewerbeanmeldung/")
        .map(|(p, _)| p.to_string())
        .unwrap_or_else(|| "/musterstadt".into());
    target.set_path(&format!("{prefix}/antrag/gewerbeanmeldung/{path_end}"));
    target.set_query(None);
    target
}

#[tokio::test]
async fn a_person_submits_the_form_in_chromium_and_opens_the_pdf() {
    let Some(Browser { driver: _driver, client: c }) = browser().await else { return };
    let s = TestServer::start(testing::sqlite().await).await;
    let result = run(&c, &s).await;
    if result.is_err() {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-failure.png");
        if let Ok(png) = c.screenshot().await {
            let _ = std::fs::write(&dir, png);
            eprintln!("screenshot of the failing page: {}", dir.display());
        }
    }
    let _ = c.close().await;
    s.stop().await;
    result.unwrap();
}

async fn run(c: &Client, s: &TestServer) -> Result<(), String> {
    c.goto(&s.url("/musterstadt/")).await.map_err(|e| e.to_string())?;
    assert!(c.title().await.unwrap().contains("Stadt Musterstadt"));
    c.find(Locator::LinkText("Gewerbeanzeige (An-, Um- und Abmeldung)")).await.unwrap().click().await.unwrap();
    c.find(Locator::LinkText("Jetzt starten ›")).await.unwrap().click().await.unwrap();

    // Page 1: the kind of notification. Continuing without a choice shows the error summary.
    continue_(c).await;
    let summary = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    assert!(summary.text().await.unwrap().contains("Wählen Sie „Was möchten Sie anzeigen?“ aus."));
    let focused = c.active_element().await.unwrap();
    assert_eq!(
        focused.attr("class").await.unwrap().as_deref(),
        Some("error-summary"),
        "the script moves focus to the error summary"
    );
    click(c, "#f-meldungsart").await;
    continue_(c).await;

    on_page(c, "person").await;
    fill_person(c).await;
    continue_(c).await;

    on_page(c, "unternehmen").await;
    c.find(Locator::Id("f-rechtsform")).await.unwrap().select_by_value("einzelunternehmen").await.unwrap();
    continue_(c).await;

    on_page(c, "betrieb").await;
    type_into(c, "f-betrieb-geschaeftsbezeichnung", "Mustermann IT").await;
    type_into(c, "f-betrieb-anschrift-strasse", "Am Markt").await;
    type_into(c, "f-betrieb-anschrift-hausnummer", "7").await;
    // Live validation: leaving a wrong postcode shows its error in place, before "continue".
    type_into(c, "f-betrieb-anschrift-plz", "999").await;
    type_into(c, "f-betrieb-anschrift-ort", "Musterstadt").await;
    let live_error = c
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#f-betrieb-anschrift-plz-live-error"))
        .await
        .map_err(|e| format!("no live error for the postcode: {e}"))?;
    assert!(live_error.text().await.unwrap().contains("fünfstellige Postleitzahl"));
    let invalid = c.find(Locator::Id("f-betrieb-anschrift-plz")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    // Only the field just left shows an error: required fields not visited yet stay quiet.
    let shown = c.find_all(Locator::Css(".error-message")).await.unwrap();
    assert_eq!(shown.len(), 1, "one error on the page");
    type_into(c, "f-betrieb-anschrift-plz", "09990").await;
    type_into(c, "f-betrieb-anschrift-ort", "Musterstadt").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while c.find(Locator::Css("#f-betrieb-anschrift-plz-live-error")).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the corrected postcode's error goes away");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(c, "#f-betrieb-niederlassung").await;
    continue_(c).await;

    on_page(c, "anlass").await;
    click(c, "#f-grund").await;
    continue_(c).await;

    on_page(c, "taetigkeit").await;
    // The assistant: choosing a security business brings the permit hint at once (the
    // procedure's checks on the answers so far), unchoosing it takes it away.
    let assistant_says = |text: &'static str, present: bool| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let panel = c.find(Locator::Css("[data-assistant]")).await.unwrap().text().await.unwrap();
            if panel.contains(text) == present {
                return Ok::<(), String>(());
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "assistant panel {} „{text}“: {panel}",
                    if present { "lacks" } else { "still shows" }
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    click(c, "#f-taetigkeiten-list input[value=bewachung]").await;
    assistant_says("Erlaubnis nach § 34a GewO", true).await?;
    click(c, "#f-taetigkeiten-list input[value=bewachung]").await;
    assistant_says("Erlaubnis nach § 34a GewO", false).await?;
    // The activity list filters as you type (progressive enhancement), umlauts written out
    // or not, synonyms included.
    type_into(c, "f-taetigkeiten-filter", "tuersteher").await;
    let visible = c.execute("return Array.from(document.querySelectorAll('#f-taetigkeiten-list .choice')).filter(e => !e.hidden).map(e => e.querySelector('input').value)", vec![]).await.unwrap();
    assert_eq!(visible, json!(["bewachung"]), "“tuersteher” finds the security business by its synonym „Türsteher“");
    type_into(c, "f-taetigkeiten-filter", "programm").await;
    let visible = c.execute("return Array.from(document.querySelectorAll('#f-taetigkeiten-list .choice')).filter(e => !e.hidden).length", vec![]).await.unwrap();
    assert_eq!(visible, json!(1), "only the software activity matches “programm”");
    click(c, "#f-taetigkeiten-list input[value=software]").await;
    type_into(c, "f-taetigkeit_beschreibung", "IT-Beratung und Softwareentwicklung").await;
    click(c, "input[name=betriebsart][value=sonstiges]").await;
    let start = soon();
    type_into(c, "f-beginn-tag", &start.format("%d").to_string()).await;
    type_into(c, "f-beginn-monat", &start.format("%m").to_string()).await;
    type_into(c, "f-beginn-jahr", &start.format("%Y").to_string()).await;
    type_into(c, "f-beschaeftigte-vollzeit", "1").await;
    type_into(c, "f-beschaeftigte-teilzeit", "0").await;
    continue_(c).await;

    on_page(c, "pruefen").await;
    let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("Mustermann IT") && body.contains("03.10.1990"), "{body}");
    click(c, "#erklaerung").await;
    click(c, "form button[type=submit].button").await;

    let reference = c
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("reference"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reference.starts_with("GEW-"), "{reference}");
    let code = c.find(Locator::Id("access-code")).await.unwrap().text().await.unwrap();
    assert_eq!(code.len(), 14);
    let status = c.find(Locator::Id("status-text")).await.unwrap().text().await.unwrap();
    assert!(status.contains("bestätigt"), "{status}");

    // Open the certificate: the link answers with a PDF in the browser's session.
    let link = c.find(Locator::Id("doc-bescheinigung")).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    let fetched = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'), new TextDecoder().decode(b.slice(0, 5)), b.byteLength])));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(fetched[0], json!(200), "{fetched}");
    assert_eq!(fetched[1], json!("application/pdf"));
    assert_eq!(fetched[2], json!("%PDF-"));
    assert!(fetched[3].as_i64().unwrap() > 10_000);
    link.click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The browser is still fine after opening the PDF; the status page shows the case.
    c.goto(&s.url(&format!("/musterstadt/vorgang/{reference}"))).await.unwrap();
    let text = c.find(Locator::Id("case-status")).await.unwrap().text().await.unwrap();
    assert_eq!(text, "Bestätigt");
    Ok(())
}

/// Waits until the element `css` is on the page and its text contains `text`.
async fn wait_for_text(c: &Client, css: &str, text: &str) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.text().await.unwrap_or_default().contains(text) {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            let page = c.source().await.unwrap_or_default();
            return Err(format!("„{text}“ not in {css}: {page}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A clerk's day in Chromium: sign in, take the task from the worklist, open the case,
/// write a note to the file, consult the police, confirm the application, and see the
/// case decided; the consultation's link then answers as closed.
#[tokio::test]
async fn a_clerk_works_a_case_from_the_worklist_to_the_decision_in_chromium() {
    let Some(Browser { driver: _driver, client: c }) = browser().await else { return };
    let s = TestServer::start(testing::sqlite().await).await;
    let result = clerk_journey(&c, &s).await;
    if result.is_err() {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-clerk-failure.png");
        if let Ok(png) = c.screenshot().await {
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot of the failing page: {}", path.display());
        }
    }
    let _ = c.close().await;
    s.stop().await;
    result.unwrap();
}

async fn clerk_journey(c: &Client, s: &TestServer) -> Result<(), String> {
    let (_, submitted) =
        common::submit_gewerbeanmeldung(s, "musterstadt", &common::application("heilpraktiker", "09999")).await;
    let reference = submitted.reference.as_str().to_string();

    c.goto(&s.url("/musterstadt/intern/anmelden")).await.map_err(|e| e.to_string())?;
    type_into(c, "benutzername", "sachbearbeitung").await;
    type_into(c, "passwort", s.password("musterstadt", "sachbearbeitung")).await;
    click(c, "form[action$='/intern/anmelden'] button[type=submit]").await;
    wait_for_text(c, "#tasks", &reference).await?;
    click(c, "#tasks form[action$='/uebernehmen'] button[type=submit]").await;
    wait_for_text(c, ".notification", "Sie bearbeiten die Aufgabe jetzt.").await?;
    wait_for_text(c, "#liste-meine", "(1)").await?;
    c.find(Locator::LinkText(&reference)).await.map_err(|e| e.to_string())?.click().await.map_err(|e| e.to_string())?;
    wait_for_text(c, "h1", &reference).await?;

    // A note to the file.
    type_into(c, "vermerk-text", "Rückruf: Erlaubnis liegt im Original vor.").await;
    click(c, "form[action$='/vermerke'] button[type=submit]").await;
    wait_for_text(c, ".notification", "Der Vermerk ist in der Akte.").await?;
    wait_for_text(c, "#chronicle", "Rückruf: Erlaubnis liegt im Original vor.").await?;

    // The police are consulted (the date set as a date picker would).
    click(c, "details:has(form[action$='/beteiligungen']) > summary").await;
    type_into(c, "stelle", "Polizeiinspektion Nord").await;
    type_into(c, "stelle-email", "pi-nord@polizei.example").await;
    type_into(c, "frage", "Bestehen Bedenken?").await;
    let due = (rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(14)).to_string();
    c.execute("document.getElementById('beteiligung-frist').value = arguments[0];", vec![json!(due)])
        .await
        .map_err(|e| e.to_string())?;
    click(c, "form[action$='/beteiligungen'] button[type=submit]").await;
    wait_for_text(c, ".notification", "Die Beteiligung von Polizeiinspektion Nord ist gestartet").await?;
    wait_for_text(c, "#consultations", "Polizeiinspektion Nord").await?;
    // In a closed disclosure: its text content, not its visible text.
    let code = c.find(Locator::Css(".consultation-link")).await.map_err(|e| e.to_string())?;
    let link = code.prop("textContent").await.map_err(|e| e.to_string())?.unwrap_or_default();

    // The decision: confirmed.
    click(c, "#ergebnis-bestaetigen").await;
    click(c, "form[action$='/entscheidung'] button.decide-button").await;
    wait_for_text(c, ".notification", "Die Entscheidung ist gespeichert.").await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = c.find(Locator::Id("case-status")).await.map_err(|e| e.to_string())?.text().await.unwrap();
        if status.contains("Bestätigt") {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("the case is not decided: {status}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.refresh().await.map_err(|e| e.to_string())?;
    }
    // The case is finished: the police's link is closed.
    let path = &link[link.find("/musterstadt/").ok_or("a path in the link")?..];
    c.goto(&s.url(path)).await.map_err(|e| e.to_string())?;
    wait_for_text(c, "h1", "Diese Beteiligung ist beendet").await?;
    Ok(())
}
