//! Accessibility proven in a browser. A whole submission is made with the keyboard alone.
//! Every portal page of both demo towns is checked with axe-core's WCAG 2.1 A and AA rules
//! and must have no violation: service list, search, service page, each form page empty and
//! with errors, the file upload (refused, uploaded), check-your-answers with and without its
//! error, receipt, status login and status, the case's mailbox, paying online, the
//! saved-draft page, the citizen account (register, sign in, password forgotten, overview,
//! profile), the three statements and the staff login; in the back office the worklist, case
//! file, statistics, deadlines, administration, consultation, intake and Zahlungsabgleich. Screenshots of the main pages at phone
//! and desktop width are written to `target/screenshots/` on every run;
//! `RATHAUS_SCREENSHOTS=docs/screenshots cargo test -p rathaus --test accessibility` writes
//! them where the documentation shows them.
//!
//! Needs Chromium (see browser.rs) and axe-core (`npm ci --prefix tools/axe`, done by
//! .ci/run); with `RATHAUS_REQUIRE_BROWSER=1` a missing one fails the test.

mod common;

use common::browser::{browser, click, fill_person, type_into, Browser};
use common::{application, soon, submit_gewerbeanmeldung, TestServer};
use fantoccini::{Client, Locator};
use rathaus_store::testing;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            let required = std::env::var("RATHAUS_REQUIRE_BROWSER").is_ok_and(|v| v == "1" || v == "true");
            assert!(
                !required,
                "RATHAUS_REQUIRE_BROWSER is set but axe-core is missing: run `npm ci --prefix tools/axe`"
            );
            eprintln!("note: axe-core not installed (npm ci --prefix tools/axe), accessibility test skipped");
            None
        }
    }
}

struct Audit {
    axe: String,
    violations: Vec<String>,
    pages: usize,
    shots: Vec<PathBuf>,
}

impl Audit {
    /// Runs axe-core on the page the browser shows and records its violations under `label`.
    async fn check(&mut self, c: &Client, label: &str) {
        c.execute(&format!("{}\nreturn true;", self.axe), vec![]).await.expect("axe-core loads");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
              .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " ")) }))))
              .catch(e => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));
        "#;
        let found = c.execute_async(script, vec![]).await.expect("axe-core runs");
        self.pages += 1;
        for v in found.as_array().cloned().unwrap_or_default() {
            let url = c.current_url().await.map(|u| u.path().to_string()).unwrap_or_default();
            self.violations.push(format!(
                "{label} ({url}): {} [{}] {}\n    {}",
                v["id"].as_str().unwrap_or(""),
                v["impact"].as_str().unwrap_or(""),
                v["help"].as_str().unwrap_or(""),
                v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }

    /// Screenshots of the page at phone and desktop width.
    async fn screenshots(&mut self, c: &Client, name: &str) {
        // A relative folder is taken from the workspace root.
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join(std::env::var("RATHAUS_SCREENSHOTS").unwrap_or_else(|_| "target/screenshots".into()));
        std::fs::create_dir_all(&dir).unwrap();
        // The top of the page, with no field being typed in (a left field's live check done).
        c.execute("if (document.activeElement) { document.activeElement.blur(); }", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (width, height, kind) in [(390, 844, "phone"), (1280, 1024, "desktop")] {
            c.set_window_size(width, height).await.unwrap();
            c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
            let png = c.screenshot().await.unwrap();
            let path = dir.join(format!("{name}-{kind}.png"));
            std::fs::write(&path, png).unwrap();
            self.shots.push(path);
        }
        c.set_window_size(1280, 1024).await.unwrap();
    }
}

async fn go(c: &Client, s: &TestServer, path: &str) {
    c.goto(&s.url(path)).await.unwrap_or_else(|e| panic!("{path}: {e}"));
}

async fn continue_and_audit(c: &Client, a: &mut Audit, page: &str) {
    // Each page as it is first shown, and with the errors of continuing without answers.
    a.check(c, &format!("{page}, empty")).await;
    click(c, "button[value=continue]").await;
    c.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(".error-summary"))
        .await
        .unwrap_or_else(|_| panic!("{page}: continuing without answers shows the error summary"));
    a.check(c, &format!("{page}, with errors")).await;
}

async fn select(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id)).await.unwrap().select_by_value(value).await.unwrap();
}

async fn wait_for_path(c: &Client, end: &str) {
    // Up to 20 s: on a loaded two-core machine a form page can take seconds.
    for _ in 0..400 {
        if c.current_url().await.unwrap().path().ends_with(end) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("did not reach …{end}: {}", c.current_url().await.unwrap());
}

/// Goes through the whole application of `tenant`, auditing every page on the way.
async fn audit_tenant(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    go(c, s, &format!("/{tenant}/")).await;
    a.check(c, &format!("{tenant}: service list")).await;
    a.screenshots(c, &format!("{tenant}-01-services")).await;
    go(c, s, &format!("/{tenant}/?suche=Gewerbe+anmelden")).await;
    a.check(c, &format!("{tenant}: search")).await;
    go(c, s, &format!("/{tenant}/leistungen/gewerbeanmeldung")).await;
    a.check(c, &format!("{tenant}: service page")).await;
    a.screenshots(c, &format!("{tenant}-02-service")).await;
    for (path, label) in
        [("impressum", "imprint"), ("datenschutz", "privacy"), ("barrierefreiheit", "accessibility statement")]
    {
        go(c, s, &format!("/{tenant}/{path}")).await;
        a.check(c, &format!("{tenant}: {label}")).await;
    }
    go(c, s, &format!("/{tenant}/intern/anmelden")).await;
    a.check(c, &format!("{tenant}: staff login")).await;
    go(c, s, &format!("/{tenant}/status")).await;
    a.check(c, &format!("{tenant}: status login")).await;

    let form = format!("/{tenant}/antrag/gewerbeanmeldung");
    go(c, s, &format!("{form}/meldung")).await;
    continue_and_audit(c, a, &format!("{tenant}: form page meldung")).await;
    a.screenshots(c, &format!("{tenant}-03-form-errors")).await;
    click(c, "#f-meldungsart").await;
    click(c, "button[value=continue]").await;

    wait_for_path(c, "/person").await;
    continue_and_audit(c, a, &format!("{tenant}: form page person")).await;
    fill_person(c).await;
    // Saving the draft here: the confirmation page with its e-mail form.
    click(c, "button[value=save_draft]").await;
    wait_for_path(c, "/gespeichert").await;
    a.check(c, &format!("{tenant}: draft saved")).await;
    go(c, s, &format!("{form}/person")).await;
    click(c, "button[value=continue]").await;

    wait_for_path(c, "/unternehmen").await;
    continue_and_audit(c, a, &format!("{tenant}: form page unternehmen")).await;
    select(c, "f-rechtsform", "einzelunternehmen").await;
    click(c, "button[value=continue]").await;

    wait_for_path(c, "/betrieb").await;
    continue_and_audit(c, a, &format!("{tenant}: form page betrieb")).await;
    type_into(c, "f-betrieb-anschrift-strasse", "Am Markt").await;
    type_into(c, "f-betrieb-anschrift-hausnummer", "7").await;
    let plz = if tenant == "musterstadt" { "09999" } else { "09998" };
    type_into(c, "f-betrieb-anschrift-plz", plz).await;
    type_into(c, "f-betrieb-anschrift-ort", "Musterstadt").await;
    click(c, "#f-betrieb-niederlassung").await;
    click(c, "button[value=continue]").await;

    wait_for_path(c, "/anlass").await;
    continue_and_audit(c, a, &format!("{tenant}: form page anlass")).await;
    click(c, "#f-grund").await;
    click(c, "button[value=continue]").await;

    wait_for_path(c, "/taetigkeit").await;
    continue_and_audit(c, a, &format!("{tenant}: form page taetigkeit")).await;
    // Musterstadt: a standard case, decided at once and paid online. Beispielgemeinde: a
    // security company, whose permit page has a file upload.
    let permit = tenant != "musterstadt";
    click(c, &format!("#f-taetigkeiten-list input[value={}]", if permit { "bewachung" } else { "software" })).await;
    type_into(c, "f-taetigkeit_beschreibung", "Softwareentwicklung").await;
    click(c, "input[name=betriebsart][value=sonstiges]").await;
    let start = soon();
    type_into(c, "f-beginn-tag", &start.format("%d").to_string()).await;
    type_into(c, "f-beginn-monat", &start.format("%m").to_string()).await;
    type_into(c, "f-beginn-jahr", &start.format("%Y").to_string()).await;
    type_into(c, "f-beschaeftigte-vollzeit", "0").await;
    type_into(c, "f-beschaeftigte-teilzeit", "0").await;
    a.screenshots(c, &format!("{tenant}-04-form-assistant")).await;
    click(c, "button[value=continue]").await;

    if permit {
        wait_for_path(c, "/erlaubnis").await;
        audit_uploads(c, a, tenant).await;
    }
    wait_for_path(c, "/pruefen").await;
    a.check(c, &format!("{tenant}: check answers")).await;
    a.screenshots(c, &format!("{tenant}-05-check")).await;
    click(c, "form button[type=submit].button").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: check answers without declaration")).await;
    // The declaration forgotten, the application can still be sent once it is given.
    click(c, "#erklaerung").await;
    click(c, "form button[type=submit].button").await;
    if c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Id("reference")).await.is_err() {
        let main = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap_or_default();
        panic!("{tenant}: no receipt after submitting; page shows:\n{main}");
    }
    a.check(c, &format!("{tenant}: receipt")).await;
    a.screenshots(c, &format!("{tenant}-06-receipt")).await;
    let reference = c.find(Locator::Id("reference")).await.unwrap().text().await.unwrap();
    go(c, s, &format!("/{tenant}/vorgang/{reference}")).await;
    a.check(c, &format!("{tenant}: status")).await;
    a.screenshots(c, &format!("{tenant}-07-status")).await;
    // The case's mailbox: empty, with the error of sending nothing, with a message.
    go(c, s, &format!("/{tenant}/vorgang/{reference}/nachrichten")).await;
    a.check(c, &format!("{tenant}: mailbox")).await;
    click(c, "form button[type=submit].button").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: mailbox with error")).await;
    type_into(c, "nachricht", "Eine Frage zu meinem Antrag: Wann erhalte ich den Bescheid?").await;
    click(c, "form button[type=submit].button").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("message-list")).await.unwrap();
    a.check(c, &format!("{tenant}: mailbox with a message")).await;
    go(c, s, &format!("/{tenant}/vorgang/{reference}")).await;
    if permit {
        // A case for review: nothing to pay yet, but the clerk asks for a document.
        request_document(s, tenant, &reference).await;
        go(c, s, &format!("/{tenant}/vorgang/{reference}")).await;
        c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("requests")).await.unwrap();
        a.check(c, &format!("{tenant}: status with a request for a document")).await;
        audit_withdraw_page(c, s, tenant, &reference, a).await;
        return;
    }
    // Paying online: the provider's page (the demo's test provider) and the status after it.
    click(c, "#pay-online").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("testkasse-amount")).await.unwrap();
    a.check(c, &format!("{tenant}: test checkout")).await;
    click(c, "button[value=paid]").await;
    wait_for_path(c, &reference).await;
    a.check(c, &format!("{tenant}: status, fee paid")).await;
    request_document(s, tenant, &reference).await;
    go(c, s, &format!("/{tenant}/vorgang/{reference}")).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("requests")).await.unwrap();
    a.check(c, &format!("{tenant}: status with a request for a document")).await;
}

/// The page that withdraws an application, as shown and with the confirmation missing
/// (the application stays). Only an open case has it: Beispielgemeinde's, which waits for a
/// clerk (Musterstadt's is decided by the machine at once).
async fn audit_withdraw_page(c: &Client, s: &TestServer, tenant: &str, reference: &str, a: &mut Audit) {
    go(c, s, &format!("/{tenant}/vorgang/{reference}/zuruecknehmen")).await;
    a.check(c, &format!("{tenant}: withdraw the application")).await;
    click(c, "form[action$='/zuruecknehmen'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: withdraw the application without confirming")).await;
}

/// The clerk asks for a document (as from the case file), due in ten days.
async fn request_document(s: &TestServer, tenant: &str, reference: &str) {
    let rt = &s.assembled.runtime;
    let mut conn = rt.store.conn().await.unwrap();
    let t = rathaus_store::tenants::by_slug(&mut conn, tenant).await.unwrap().unwrap();
    let case = rathaus_store::cases::by_reference(&mut conn, &t.tenant_id, reference).await.unwrap().unwrap();
    drop(conn);
    let due = rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(10);
    let clerk = rathaus_store::audit::Actor::Staff { staff_id: "s".into(), username: "sachbearbeitung".into() };
    let what = "Bitte senden Sie eine Kopie Ihrer Erlaubnis nach § 34a GewO.";
    rt.request_documents(&t, &case, &clerk, "Sabine Sachbearbeiterin", what, due).await.unwrap();
}

/// The permit page: as shown, with a refused file, with a file uploaded; then filled in.
async fn audit_uploads(c: &Client, a: &mut Audit, tenant: &str) {
    a.check(c, &format!("{tenant}: form page erlaubnis (file upload)")).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("erlaubnis.pdf");
    std::fs::write(&wrong, b"GIF89a not a pdf").unwrap();
    let right = dir.path().join("Erlaubnis 34a.pdf");
    std::fs::write(&right, b"%PDF-1.7\n%%EOF\n").unwrap();
    let input = c.find(Locator::Id("f-erlaubnis-kopie")).await.unwrap();
    input.send_keys(wrong.to_str().unwrap()).await.unwrap();
    click(c, "button[value='upload:erlaubnis.kopie']").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: form page erlaubnis, file refused")).await;
    let input = c.find(Locator::Id("f-erlaubnis-kopie")).await.unwrap();
    input.send_keys(right.to_str().unwrap()).await.unwrap();
    click(c, "button[value='upload:erlaubnis.kopie']").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".file-list")).await.unwrap();
    a.check(c, &format!("{tenant}: form page erlaubnis, file uploaded")).await;
    a.screenshots(c, &format!("{tenant}-04b-upload")).await;
    type_into(c, "f-erlaubnis-behoerde", "Landratsamt Musterkreis").await;
    type_into(c, "f-erlaubnis-erteilt_am-tag", "3").await;
    type_into(c, "f-erlaubnis-erteilt_am-monat", "2").await;
    type_into(c, "f-erlaubnis-erteilt_am-jahr", "2025").await;
    type_into(c, "f-erlaubnis-aktenzeichen", "34a-2025-17").await;
    click(c, "button[value=continue]").await;
}

/// The newest mail the demo wrote into its mail folder, as text.
fn last_mail(s: &TestServer) -> String {
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(s.data_dir.join("mail")).unwrap().flatten().map(|e| e.path()).collect();
    names.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
    let raw = std::fs::read_to_string(names.last().expect("a mail")).unwrap().replace("=\r\n", "").replace("=\n", "");
    raw.replace("=3D", "=")
}

/// The citizen account pages: register (empty, with errors), sign in (with an error),
/// password forgotten, the account overview and the profile; the business account pages.
async fn audit_account(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    // Signed out of the application's session first (the account starts a new one).
    c.delete_all_cookies().await.unwrap();
    go(c, s, &format!("/{tenant}/konto/registrieren")).await;
    a.check(c, &format!("{tenant}: account registration")).await;
    click(c, "form button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: account registration with errors")).await;
    type_into(c, "name", "Erika Muster").await;
    type_into(c, "email", &format!("erika@{tenant}.example")).await;
    type_into(c, "passwort", "ein langes gutes Passwort").await;
    type_into(c, "passwort2", "ein langes gutes Passwort").await;
    click(c, "form button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("account-message")).await.unwrap();
    a.check(c, &format!("{tenant}: account check your mail")).await;
    go(c, s, &format!("/{tenant}/konto/anmelden")).await;
    a.check(c, &format!("{tenant}: account sign-in")).await;
    click(c, "form button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: account sign-in with error")).await;
    go(c, s, &format!("/{tenant}/konto/passwort-vergessen")).await;
    a.check(c, &format!("{tenant}: account password forgotten")).await;
    let mail = last_mail(s);
    let marker = format!("/{tenant}/konto/bestaetigen/");
    let start = mail.find(&marker).unwrap_or_else(|| panic!("no confirmation link in {mail}"));
    let token: String = mail[start + marker.len()..].chars().take_while(|ch| ch.is_ascii_hexdigit()).collect();
    go(c, s, &format!("{marker}{token}")).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("account-greeting")).await.unwrap();
    a.check(c, &format!("{tenant}: account overview")).await;
    a.screenshots(c, &format!("{tenant}-08-account")).await;
    go(c, s, &format!("/{tenant}/konto/profil")).await;
    a.check(c, &format!("{tenant}: account profile")).await;
    // The business account: create (with an error first), its page with an invitation
    // error, and the invitation's page as the invited person sees it before signing in.
    go(c, s, &format!("/{tenant}/konto/unternehmen/neu")).await;
    a.check(c, &format!("{tenant}: business account new")).await;
    click(c, "form[action$='/unternehmen/neu'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: business account new with error")).await;
    type_into(c, "name", "Muster GmbH").await;
    click(c, "form[action$='/unternehmen/neu'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("business-members")).await.unwrap();
    a.check(c, &format!("{tenant}: business account")).await;
    type_into(c, "email", "kollege@").await;
    click(c, "form[action$='/einladen'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: business account with invitation error")).await;
    type_into(c, "email", &format!("kollege@{tenant}.example")).await;
    click(c, "form[action$='/einladen'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("business-invitations")).await.unwrap();
    let mail = last_mail(s);
    let marker = format!("/{tenant}/konto/einladung/");
    let start = mail.find(&marker).unwrap_or_else(|| panic!("no invitation link in {mail}"));
    let token: String = mail[start + marker.len()..].chars().take_while(|ch| ch.is_ascii_hexdigit()).collect();
    c.delete_all_cookies().await.unwrap();
    go(c, s, &format!("{marker}{token}")).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("invitation-text")).await.unwrap();
    a.check(c, &format!("{tenant}: business account invitation")).await;
    c.delete_all_cookies().await.unwrap();
}

/// The clerk's worklist (all lists, filtered), a case file with its forms (decision,
/// message, request to the applicant, taking the task, resubmission) and the statistics.
async fn audit_worklist(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    sign_in(c, s, tenant, "sachbearbeitung").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
    a.check(c, &format!("{tenant}: worklist")).await;
    go(c, s, &format!("/{tenant}/intern/?liste=offen&verfahren=gewerbeanmeldung&sortierung=eingang")).await;
    a.check(c, &format!("{tenant}: worklist filtered")).await;
    let case = c.find(Locator::Css("#cases a")).await.unwrap().attr("href").await.unwrap().unwrap();
    go(c, s, &case).await;
    a.check(c, &format!("{tenant}: case file")).await;

    go(c, s, &format!("/{tenant}/intern/statistik")).await;
    a.check(c, &format!("{tenant}: statistics")).await;
    go(c, s, &format!("/{tenant}/intern/fristen")).await;
    a.check(c, &format!("{tenant}: deadlines")).await;
    go(c, s, &format!("/{tenant}/intern/fristen?ampel=rot&art=gesetzlich")).await;
    a.check(c, &format!("{tenant}: deadlines, none red")).await;
    audit_admin(c, s, tenant, a).await;
    audit_consultation(c, s, tenant, a).await;
    audit_intake(c, s, tenant, a).await;
    audit_payments(c, s, tenant, a).await;
    c.delete_all_cookies().await.unwrap();
}

/// The Zahlungsabgleich with what a statement left to clarify, and a clarification's error.
async fn audit_payments(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    let rt = &s.assembled.runtime;
    let mut conn = rt.store.conn().await.unwrap();
    let t = rathaus_store::tenants::by_slug(&mut conn, tenant).await.unwrap().unwrap();
    drop(conn);
    let never = |n| rathaus_domain::kassenzeichen(2026, n);
    let xml = rathaus_store::testing::camt_test_statement(
        &t.settings.bank.iban,
        &never(999_997),
        &never(999_998),
        &never(999_999),
    );
    rt.import_statement(&t, &xml, &rathaus_store::audit::Actor::System).await.unwrap();
    sign_in(c, s, tenant, "sachbearbeitung").await;
    // Signed in once the worklist shows (leaving earlier could cancel the login).
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
    go(c, s, &format!("/{tenant}/intern/zahlungen")).await;
    a.check(c, &format!("{tenant}: payment reconciliation")).await;
    click(c, "#unmatched form button[value=zuordnen]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: payment reconciliation with an error")).await;
}

/// Signs `user` of `tenant` in to the back office, in a fresh browser session.
async fn sign_in(c: &Client, s: &TestServer, tenant: &str, user: &str) {
    c.delete_all_cookies().await.unwrap();
    go(c, s, &format!("/{tenant}/intern/anmelden")).await;
    type_into(c, "benutzername", user).await;
    type_into(c, "passwort", s.password(tenant, user)).await;
    click(c, "form[action$='/intern/anmelden'] button[type=submit]").await;
}

/// The administration as the tenant admin sees it: overview, a procedure's settings (with
/// the errors of a wrong fee), a staff account; then signed in as the clerk again.
async fn audit_admin(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    sign_in(c, s, tenant, "admin").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
    go(c, s, &format!("/{tenant}/intern/verwaltung")).await;
    a.check(c, &format!("{tenant}: administration")).await;
    click(c, "form[action$='/verwaltung/mitarbeitende'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: administration, new account with errors")).await;
    let person = c.find(Locator::Css("#admin-staff a")).await.unwrap().attr("href").await.unwrap().unwrap();
    go(c, s, &person).await;
    a.check(c, &format!("{tenant}: administration, a staff account")).await;
    go(c, s, &format!("/{tenant}/intern/verwaltung/auftritt")).await;
    a.check(c, &format!("{tenant}: administration, look and contact")).await;
    type_into(c, "akzent", "#ffff00").await;
    click(c, "form[action$='/verwaltung/auftritt'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: administration, look and contact with errors")).await;
    go(c, s, &format!("/{tenant}/intern/verwaltung/schluessel")).await;
    a.check(c, &format!("{tenant}: administration, API keys")).await;
    go(c, s, &format!("/{tenant}/intern/verwaltung/verfahren/gewerbeanmeldung")).await;
    a.check(c, &format!("{tenant}: administration, a procedure's settings")).await;
    type_into(c, "p-gebuehr_anmeldung", "viel").await;
    click(c, "form[action*='/verwaltung/verfahren/'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: administration, a procedure's settings with errors")).await;
    go(c, s, &format!("/{tenant}/intern/verwaltung/delegationen")).await;
    a.check(c, &format!("{tenant}: administration, delegation to service centres")).await;
    click(c, "form[action$='/verwaltung/delegationen'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: administration, delegation with errors")).await;
    go(c, s, &format!("/{tenant}/intern/verwaltung/aussonderung")).await;
    a.check(c, &format!("{tenant}: administration, archiving and deletion log")).await;
    let table = format!("/{tenant}/intern/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte");
    go(c, s, &table).await;
    a.check(c, &format!("{tenant}: administration, a town's list (pre-emption areas)")).await;
    type_into(c, "csv", "Gemarkung;Unbekannt\nMusterstadt;1").await;
    click(c, "form[action$='/import'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: administration, a town's list, import with errors")).await;
    // The team lead's worklist, with the form for a team member's absence.
    sign_in(c, s, tenant, "teamleitung").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("team-abwesenheit")).await.unwrap();
    a.check(c, &format!("{tenant}: team lead's worklist")).await;
    sign_in(c, s, tenant, "sachbearbeitung").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
}

/// Entering an application that came by phone (the clerk signed in): the start page, with
/// its errors, and a form page under the entry's banner; then cancelled.
async fn audit_intake(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    go(c, s, &format!("/{tenant}/intern/erfassung")).await;
    a.check(c, &format!("{tenant}: enter an application")).await;
    click(c, "form[action$='/erfassung'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: enter an application, with errors")).await;
    click(c, "#verfahren-0").await;
    click(c, "#kanal-telefon").await;
    click(c, "form[action$='/erfassung'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("intake-banner")).await.unwrap();
    a.check(c, &format!("{tenant}: form page under the entry's banner")).await;
    click(c, "#intake-banner button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
}

/// A consultation of another body about an open case (the clerk signed in): the case
/// file's consultation form with its errors, the participant's page as shown, with errors
/// and answered, and the worklist listing an overdue consultation.
async fn audit_consultation(c: &Client, s: &TestServer, tenant: &str, a: &mut Audit) {
    use rathaus_runtime::consultations::Request;
    let rt = &s.assembled.runtime;
    // A case for review (a permit is needed), so that it stays open.
    let plz = if tenant == "musterstadt" { "09999" } else { "09998" };
    let (t, submitted) = submit_gewerbeanmeldung(s, tenant, &application("heilpraktiker", plz)).await;
    let mut conn = rt.store.conn().await.unwrap();
    let open = rathaus_store::cases::by_id(&mut conn, &t.tenant_id, &submitted.case_id).await.unwrap().unwrap();
    drop(conn);
    // Correcting its data: the page, and with the errors of saving without a reason.
    go(c, s, &format!("/{tenant}/intern/vorgaenge/{}/angaben/person", open.case_id)).await;
    a.check(c, &format!("{tenant}: correcting the data")).await;
    click(c, "button[name=_action][value=speichern]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: correcting the data, with errors")).await;
    go(c, s, &format!("/{tenant}/intern/vorgaenge/{}", open.case_id)).await;
    click(c, "details:has(form[action$='/beteiligungen']) > summary").await;
    click(c, "form[action$='/beteiligungen'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: case file, consultation form with errors")).await;

    let clerk = rathaus_store::audit::Actor::Staff { staff_id: "s".into(), username: "sachbearbeitung".into() };
    let due = rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(14);
    let pages = vec!["betrieb".to_string(), "taetigkeit".to_string()];
    let request = Request {
        participant: "Polizeiinspektion Nord",
        email: "pi-nord@polizei.example",
        question: "Bestehen Bedenken gegen den Betrieb an dieser Stelle?",
        shared_pages: &pages,
        share_documents: true,
        due,
    };
    let id = rt.start_consultation(&t, &open, &clerk, "Sabine Sachbearbeiterin", &request).await.unwrap();
    let link = rt.consultation_link(&t, &id);
    let path = link[link.find(&format!("/{tenant}/beteiligung/")).unwrap()..].to_string();
    go(c, s, &path).await;
    a.check(c, &format!("{tenant}: consultation, participant's page")).await;
    click(c, "form[action*='/beteiligung/'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: consultation, answer with errors")).await;
    click(c, "#votum-auflagen").await;
    type_into(c, "auflagen", "Zufahrt für Rettungsfahrzeuge freihalten.").await;
    type_into(c, "name", "PHK Maier, PI Nord").await;
    click(c, "form[action*='/beteiligung/'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("given-verdict")).await.unwrap();
    a.check(c, &format!("{tenant}: consultation answered")).await;

    // A second consultation whose deadline has passed (set as the deadline's job would).
    let late = rt.start_consultation(&t, &open, &clerk, "Sabine Sachbearbeiterin", &request).await.unwrap();
    let mut conn = rt.store.conn().await.unwrap();
    let marked = rathaus_store::consultations::mark(
        &mut conn,
        &t.tenant_id,
        &late,
        rathaus_store::consultations::Mark::Overdue,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert!(marked);
    drop(conn);
    go(c, s, &format!("/{tenant}/intern/")).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("overdue-consultations")).await.unwrap();
    a.check(c, &format!("{tenant}: worklist with an overdue consultation")).await;

    // Forwarding: the form with its errors, then the competent authority's page.
    go(c, s, &format!("/{tenant}/intern/vorgaenge/{}", open.case_id)).await;
    click(c, "details:has(form[action$='/abgabe']) > summary").await;
    click(c, "form[action$='/abgabe'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(".error-summary")).await.unwrap();
    a.check(c, &format!("{tenant}: case file, forwarding form with errors")).await;
    let to = rathaus_runtime::forwarding::ForwardTo {
        authority: "Gewerbeamt Nachbarstadt",
        email: "gewerbe@nachbarstadt.example",
        reason: "Die Betriebsstätte liegt in Nachbarstadt.",
        share_documents: true,
    };
    let id = rt.forward_case(&t, &open.case_id, &to, &clerk, "Sabine Sachbearbeiterin").await.unwrap();
    go(c, s, &format!("/{tenant}/intern/vorgaenge/{}", open.case_id)).await;
    a.check(c, &format!("{tenant}: case file of a forwarded case")).await;
    let link = rt.forwarding_link(&t, &id);
    let path = &link[link.find(&format!("/{tenant}/abgabe/")).unwrap()..];
    go(c, s, path).await;
    a.check(c, &format!("{tenant}: forwarded application, the authority's page")).await;
}

/// The demo's service centre: its worklist, its towns, its statistics across them, and
/// Beispielgemeinde's worklist entered under the delegation (with its banner).
async fn audit_centre(c: &Client, s: &TestServer, a: &mut Audit) {
    sign_in(c, s, "kdz", "teamleitung").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("lists")).await.unwrap();
    a.check(c, "kdz: the centre's own worklist").await;
    go(c, s, "/kdz/intern/mandanten").await;
    a.check(c, "kdz: the towns that delegate").await;
    go(c, s, "/kdz/intern/statistik?zeitraum=alle").await;
    a.check(c, "kdz: statistics across towns").await;
    go(c, s, "/kdz/intern/mandanten").await;
    click(c, "form[action*='/intern/mandanten/beispielgemeinde/'] button[type=submit]").await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("delegation-banner")).await.unwrap();
    a.check(c, "beispielgemeinde: worklist entered by the centre").await;
    c.delete_all_cookies().await.unwrap();
}

#[tokio::test]
async fn every_portal_page_of_both_towns_passes_axe_core_wcag_2_1_aa() {
    let Some(axe) = axe_source() else { return };
    let Some(Browser { driver: _driver, client: c }) = browser().await else { return };
    let s = TestServer::start(testing::sqlite().await).await;
    let mut audit = Audit { axe, violations: Vec::new(), pages: 0, shots: Vec::new() };
    for tenant in ["musterstadt", "beispielgemeinde"] {
        audit_tenant(&c, &s, tenant, &mut audit).await;
        audit_account(&c, &s, tenant, &mut audit).await;
        audit_worklist(&c, &s, tenant, &mut audit).await;
    }
    audit_centre(&c, &s, &mut audit).await;
    let _ = c.close().await;
    s.stop().await;
    assert!(audit.pages >= 122, "pages audited: {}", audit.pages);
    assert!(audit.shots.len() >= 28, "screenshots: {}", audit.shots.len());
    assert!(
        audit.violations.is_empty(),
        "{} accessibility violations on {} pages:\n{}",
        audit.violations.len(),
        audit.pages,
        audit.violations.join("\n")
    );
}

/// What has the keyboard focus: its id, or for buttons and links their value or text.
async fn focused(c: &Client) -> String {
    let v = c
        .execute(
            "const e = document.activeElement; return e ? (e.id || (e.tagName + ':' + (e.value || e.textContent.trim()))) : ''",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

async fn press(c: &Client, key: fantoccini::key::Key) {
    let key = char::from(key).to_string();
    c.active_element().await.unwrap().send_keys(&key).await.unwrap();
}

/// Presses Tab until `target` (see [`focused`]) has the focus, as a keyboard user does.
async fn tab_to(c: &Client, target: &str) {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let now = focused(c).await;
        if now == target {
            return;
        }
        seen.push(now);
        press(c, fantoccini::key::Key::Tab).await;
    }
    panic!("Tab never reaches {target}; focus went through: {}", seen.join(" → "));
}

async fn type_here(c: &Client, target: &str, text: &str) {
    tab_to(c, target).await;
    c.active_element().await.unwrap().send_keys(text).await.unwrap();
}

async fn keyboard_continue(c: &Client, next: &str) {
    tab_to(c, "BUTTON:continue").await;
    press(c, fantoccini::key::Key::Enter).await;
    wait_for_path(c, next).await;
}

/// A whole Gewerbeanmeldung with the keyboard only: Tab to move, Space to choose, typing
/// into fields, Enter to continue and to send. Every control must be reachable and
/// operable this way (WCAG 2.1.1), in the order of the page.
#[tokio::test]
async fn a_person_submits_an_application_with_the_keyboard_only() {
    use fantoccini::key::Key;
    let Some(Browser { driver: _driver, client: c }) = browser().await else { return };
    let s = TestServer::start(testing::sqlite().await).await;
    go(&c, &s, "/musterstadt/leistungen/gewerbeanmeldung").await;
    tab_to(&c, "A:Jetzt starten ›").await;
    press(&c, Key::Enter).await;
    wait_for_path(&c, "/meldung").await;

    tab_to(&c, "f-meldungsart").await;
    press(&c, Key::Space).await;
    keyboard_continue(&c, "/person").await;

    type_here(&c, "f-inhaber-familienname", "Tastatur").await;
    type_here(&c, "f-inhaber-vornamen", "Tina").await;
    type_here(&c, "f-inhaber-geburtsdatum-tag", "3").await;
    type_here(&c, "f-inhaber-geburtsdatum-monat", "10").await;
    type_here(&c, "f-inhaber-geburtsdatum-jahr", "1990").await;
    type_here(&c, "f-inhaber-geburtsort", "Zwickau").await;
    type_here(&c, "f-inhaber-staatsangehoerigkeit", "Deutschland").await;
    type_here(&c, "f-inhaber-anschrift-strasse", "Rosenweg").await;
    type_here(&c, "f-inhaber-anschrift-hausnummer", "4").await;
    type_here(&c, "f-inhaber-anschrift-plz", "09990").await;
    type_here(&c, "f-inhaber-anschrift-ort", "Musterstadt").await;
    keyboard_continue(&c, "/unternehmen").await;

    type_here(&c, "f-rechtsform", "Einzel").await;
    keyboard_continue(&c, "/betrieb").await;

    type_here(&c, "f-betrieb-anschrift-strasse", "Am Markt").await;
    type_here(&c, "f-betrieb-anschrift-hausnummer", "7").await;
    type_here(&c, "f-betrieb-anschrift-plz", "09999").await;
    type_here(&c, "f-betrieb-anschrift-ort", "Musterstadt").await;
    tab_to(&c, "f-betrieb-niederlassung").await;
    press(&c, Key::Space).await;
    keyboard_continue(&c, "/anlass").await;

    tab_to(&c, "f-grund").await;
    press(&c, Key::Space).await;
    keyboard_continue(&c, "/taetigkeit").await;

    // The long activity list: its filter, then the one match.
    type_here(&c, "f-taetigkeiten-filter", "programm").await;
    press(&c, Key::Tab).await;
    let id = focused(&c).await;
    assert!(id.starts_with("f-taetigkeiten"), "after the filter, Tab reaches the matching activity: {id}");
    press(&c, Key::Space).await;
    type_here(&c, "f-taetigkeit_beschreibung", "Softwareentwicklung").await;
    let sonstiges = c
        .execute("return document.querySelector('input[name=betriebsart][value=sonstiges]').id", vec![])
        .await
        .unwrap();
    tab_to(&c, sonstiges.as_str().unwrap()).await;
    press(&c, Key::Space).await;
    let start = soon();
    type_here(&c, "f-beginn-tag", &start.format("%d").to_string()).await;
    type_here(&c, "f-beginn-monat", &start.format("%m").to_string()).await;
    type_here(&c, "f-beginn-jahr", &start.format("%Y").to_string()).await;
    type_here(&c, "f-beschaeftigte-vollzeit", "0").await;
    type_here(&c, "f-beschaeftigte-teilzeit", "0").await;
    keyboard_continue(&c, "/pruefen").await;

    tab_to(&c, "erklaerung").await;
    press(&c, Key::Space).await;
    tab_to(&c, "BUTTON:Antrag verbindlich absenden").await;
    press(&c, Key::Enter).await;
    let reference = c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Id("reference")).await;
    let reference = match reference {
        Ok(r) => r.text().await.unwrap(),
        Err(_) => {
            panic!("no receipt: {}", c.find(Locator::Css("main")).await.unwrap().text().await.unwrap_or_default())
        }
    };
    assert!(reference.starts_with("GEW-"), "{reference}");
    let _ = c.close().await;
    s.stop().await;
}
