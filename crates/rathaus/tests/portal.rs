//! The citizen portal over HTTP like a browser without JavaScript, and the back office:
//! accept path, review path with a clerk's decision, errors, CSRF, tenant isolation.

mod common;

use common::{client, csrf, soon, ClamdServer, SmtpServer, TestServer, TEST_MALWARE};
use rathaus_store::testing;

struct Visit {
    c: reqwest::Client,
    base: String,
}

impl Visit {
    fn new(s: &TestServer) -> Visit {
        Visit { c: client(), base: s.base.clone() }
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        let res = self.c.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = res.status().as_u16();
        let url = res.url().path().to_string();
        (status, url, res.text().await.unwrap())
    }

    /// Posts a form found at `form_page` (for its CSRF token) to `action`.
    async fn post(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let (_, _, html) = self.get(form_page).await;
        let token = csrf(&html);
        let mut body: Vec<(String, String)> = vec![("_csrf".into(), token)];
        body.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let res = self.c.post(format!("{}{action}", self.base)).form(&body).send().await.unwrap();
        let status = res.status().as_u16();
        let url = res.url().path().to_string();
        (status, url, res.text().await.unwrap())
    }

    /// Posts a form page as `multipart/form-data` with files, like a browser with a file
    /// input: `files` are (input name, file name, content).
    async fn post_files(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> (u16, String, String) {
        self.post_files_to(path, path, fields, files).await
    }

    /// Posts files with a form found at `form_page` to `action`.
    async fn post_files_to(
        &self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> (u16, String, String) {
        let (_, _, html) = self.get(form_page).await;
        let mut form = reqwest::multipart::Form::new().text("_csrf", csrf(&html));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (input, name, content) in files {
            let part = reqwest::multipart::Part::bytes(content.to_vec())
                .file_name(name.to_string())
                .mime_str("application/octet-stream")
                .unwrap();
            form = form.part(input.to_string(), part);
        }
        let res = self.c.post(format!("{}{path}", self.base)).multipart(form).send().await.unwrap();
        let status = res.status().as_u16();
        let url = res.url().path().to_string();
        (status, url, res.text().await.unwrap())
    }

    /// Fills one form page and continues.
    async fn page(&self, tenant: &str, page: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let path = format!("/{tenant}/antrag/gewerbeanmeldung/{page}");
        self.post(&path, &path, fields).await
    }
}

/// Fills the Gewerbeanmeldung page by page like a person; returns the HTML of the check page.
async fn fill_application(v: &Visit, tenant: &str, plz: &str, activity: &str) -> String {
    let (s, url, html) = fill_to_activity(v, tenant, plz, activity).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Prüfen Sie Ihre Angaben"), "not on the check page ({url}):\n{html}");
    html
}

/// Fills the Gewerbeanmeldung up to and including the activity page; returns the answer to
/// that page (the next page, or the check page).
async fn fill_to_activity(v: &Visit, tenant: &str, plz: &str, activity: &str) -> (u16, String, String) {
    let start = soon();
    let (day, month, year) =
        (start.format("%d").to_string(), start.format("%m").to_string(), start.format("%Y").to_string());
    let (s, url, _) = v.page(tenant, "meldung", &[("meldungsart", "anmeldung")]).await;
    assert_eq!((s, url.as_str()), (200, format!("/{tenant}/antrag/gewerbeanmeldung/person").as_str()));
    let (s, url, _) = v
        .page(
            tenant,
            "person",
            &[
                ("inhaber.familienname", "Muster"),
                ("inhaber.vornamen", "Erika"),
                ("inhaber.geburtsdatum.tag", "12"),
                ("inhaber.geburtsdatum.monat", "4"),
                ("inhaber.geburtsdatum.jahr", "1985"),
                ("inhaber.geburtsort", "Chemnitz"),
                ("inhaber.staatsangehoerigkeit[0]", "DE"),
                ("inhaber.anschrift.strasse", "Hauptstraße"),
                ("inhaber.anschrift.hausnummer", "1"),
                ("inhaber.anschrift.plz", plz),
                ("inhaber.anschrift.ort", "Musterstadt"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert!(url.ends_with("/unternehmen"), "{url}");
    let (_, url, _) = v.page(tenant, "unternehmen", &[("rechtsform", "einzelunternehmen")]).await;
    assert!(url.ends_with("/betrieb"), "{url}");
    let (_, url, _) = v
        .page(
            tenant,
            "betrieb",
            &[
                ("betrieb.anschrift.strasse", "Marktplatz"),
                ("betrieb.anschrift.hausnummer", "3"),
                ("betrieb.anschrift.plz", plz),
                ("betrieb.anschrift.ort", "Musterstadt"),
                ("betrieb.niederlassung", "hauptniederlassung"),
            ],
        )
        .await;
    assert!(url.ends_with("/anlass"), "{url}");
    let (_, url, _) = v.page(tenant, "anlass", &[("grund", "neugruendung")]).await;
    assert!(url.ends_with("/taetigkeit"), "{url}");
    v.page(
        tenant,
        "taetigkeit",
        &[
            ("taetigkeiten", activity),
            ("taetigkeit_beschreibung", "Entwicklung und Vertrieb von Software"),
            ("betriebsart", "sonstiges"),
            ("beginn.tag", &day),
            ("beginn.monat", &month),
            ("beginn.jahr", &year),
            ("beschaeftigte.vollzeit", "0"),
            ("beschaeftigte.teilzeit", "0"),
        ],
    )
    .await
}

async fn submit(v: &Visit, tenant: &str) -> (u16, String, String) {
    let path = format!("/{tenant}/antrag/gewerbeanmeldung/pruefen");
    v.post(&path, &path, &[("erklaerung", "true")]).await
}

/// The link whose attributes end with `marker` (e.g. `id="doc-bescheinigung"`).
fn link_to(html: &str, marker: &str) -> String {
    let end = html.find(marker).unwrap_or_else(|| panic!("{marker} not found"));
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    unescape(html[start..end].trim_end().trim_end_matches('"'))
}

/// Decodes the entities minijinja writes in attribute values.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html.find(start).unwrap_or_else(|| panic!("{start} not found")) + start.len();
    let j = html[i..].find(end).unwrap() + i;
    &html[i..j]
}

#[tokio::test]
async fn citizen_submits_a_standard_case_and_gets_the_certificate() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let v = Visit::new(&s);
        let (status, _, home) = v.get("/musterstadt/").await;
        assert_eq!(status, 200);
        assert!(home.contains("Gewerbeanzeige") && home.contains("Stadt Musterstadt"));
        let (_, _, service) = v.get("/musterstadt/leistungen/gewerbeanmeldung").await;
        assert!(service.contains("26,00 €") && service.contains("§§ 14, 15 Gewerbeordnung"), "{service}");
        let check = fill_application(&v, "musterstadt", "09999", "software").await;
        assert!(
            check.contains("Softwareentwicklung, IT-Dienstleistungen") && check.contains("12.04.1985"),
            "answers shown in words"
        );
        assert!(check.contains("voraussichtlich sofort automatisch bearbeitet"), "the assistant predicts the outcome");
        // Without the declaration the application is not sent.
        let (st, _, html) = v
            .post("/musterstadt/antrag/gewerbeanmeldung/pruefen", "/musterstadt/antrag/gewerbeanmeldung/pruefen", &[])
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("Bestätigen Sie, dass Ihre Angaben richtig und vollständig sind."));
        assert!(!html.contains("disabled"), "the application can still be sent once the declaration is given");
        let (st, url, receipt) = submit(&v, "musterstadt").await;
        assert_eq!(st, 200, "{receipt}");
        assert!(url.ends_with("/eingang"), "{url}");
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let code = between(&receipt, "<p class=\"access-code\" id=\"access-code\">", "</p>").to_string();
        assert!(reference.starts_with("GEW-"));
        assert!(receipt.contains("Ihr Antrag ist bestätigt"), "decided within the request");
        let pdf_link = link_to(&receipt, "id=\"doc-bescheinigung\"");
        let res = v.c.get(format!("{}{}", s.base, pdf_link)).send().await.unwrap_or_else(|e| panic!("{pdf_link}: {e}"));
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.bytes().await.unwrap().starts_with(b"%PDF"));
        // The access code is shown once only.
        let (_, _, again) = v.get(&format!("/musterstadt/vorgang/{reference}/eingang")).await;
        assert!(!again.contains(&code));

        // Another browser needs Aktenzeichen and access code.
        let other = Visit::new(&s);
        let (st, url, _) = other.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/status"));
        let (st, _, html) = other
            .post(
                "/musterstadt/status",
                "/musterstadt/status",
                &[("aktenzeichen", &reference), ("zugangscode", "ACDE-FGHJ-KMNP")],
            )
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("keinen Antrag gefunden"));
        let (st, _, html) = other
            .post("/musterstadt/status", "/musterstadt/status", &[("aktenzeichen", "quatsch"), ("zugangscode", "")])
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("nicht das erwartete Format") && html.contains("Geben Sie den Zugangscode ein."));
        let (st, url, html) = other
            .post(
                "/musterstadt/status",
                "/musterstadt/status",
                &[("aktenzeichen", &reference.to_lowercase()), ("zugangscode", &code.replace('-', " "))],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(url.ends_with(&reference), "{url}");
        assert!(html.contains("Bestätigt") && html.contains("Empfangsbescheinigung") && html.contains("26,00 €"));
        // How to pay: the town's account written out and as a GiroCode with a text alternative.
        assert!(html.contains("<dd id=\"pay-iban\">DE02 1203 0000 0000 2020 51</dd>"), "{html}");
        let girocode = between(&html, "<figure class=\"girocode\" id=\"girocode\">", "</figure>");
        assert!(girocode.contains("aria-label=\"GiroCode für die Überweisung von 26,00 € an Stadtkasse Musterstadt\""));
        assert!(girocode.contains("<svg") && girocode.contains("<path"), "the code is drawn: {girocode}");
        // A reference of another tenant is not found under this tenant.
        let (st, _, _) = other.get(&format!("/beispielgemeinde/vorgang/{reference}")).await;
        assert_ne!(st, 200);
        s.stop().await;
    }
}

#[tokio::test]
async fn form_errors_name_the_field_and_keep_the_input() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    v.page("musterstadt", "meldung", &[("meldungsart", "anmeldung")]).await;
    let (st, url, html) = v
        .page(
            "musterstadt",
            "person",
            &[
                ("inhaber.familienname", ""),
                ("inhaber.vornamen", "Erika"),
                ("inhaber.geburtsdatum.tag", "31"),
                ("inhaber.geburtsdatum.monat", "2"),
                ("inhaber.geburtsdatum.jahr", "1985"),
            ],
        )
        .await;
    assert_eq!(st, 422);
    assert!(url.ends_with("/person"));
    assert!(html.contains("Es gibt ein Problem"), "error summary");
    assert!(html.contains("Geben Sie „Familienname“ an."));
    assert!(html.contains("href=\"#f-inhaber-familienname\""), "summary links to the field");
    assert!(html.contains("„Geburtsdatum“ muss ein gültiges Datum sein"));
    assert!(html.contains("value=\"31\""), "what was typed is shown again");
    assert!(html.contains("value=\"Erika\""));
    assert!(html.contains("<title>Fehler:"), "the title announces the error");
    // English on request.
    let (_, _, html) = v.get("/musterstadt/antrag/gewerbeanmeldung/person?lang=en").await;
    assert!(html.contains("Personal details") && html.contains("lang=\"en\""));
    s.stop().await;
}

#[tokio::test]
async fn posts_without_csrf_token_are_refused() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    v.get("/musterstadt/antrag/gewerbeanmeldung/meldung").await;
    let res =
        v.c.post(s.url("/musterstadt/antrag/gewerbeanmeldung/meldung"))
            .form(&[("meldungsart", "anmeldung")])
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 403);
    let res =
        v.c.post(s.url("/musterstadt/intern/anmelden"))
            .form(&[("_csrf", "falsch"), ("benutzername", "admin"), ("passwort", "x")])
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn each_town_has_its_imprint_privacy_and_accessibility_statement_and_its_own_look() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    let (st, _, home) = v.get("/musterstadt/").await;
    assert_eq!(st, 200);
    for link in ["/musterstadt/impressum", "/musterstadt/datenschutz", "/musterstadt/barrierefreiheit"] {
        assert!(home.contains(&format!("href=\"{link}\"")), "footer links to {link}");
    }
    // Built from the town's data where the town wrote nothing of its own.
    let (st, _, imprint) = v.get("/musterstadt/impressum").await;
    assert_eq!(st, 200);
    assert!(imprint.contains("<h1 class=\"heading-l\">Impressum</h1>"), "{imprint}");
    assert!(imprint.contains("Vertreten durch Oberbürgermeisterin Dr. Erika Beispiel"));
    assert!(imprint.contains("Markt 1<br>09999 Musterstadt"));
    let (_, _, privacy) = v.get("/musterstadt/datenschutz").await;
    assert!(privacy.contains("Datenschutzbeauftragter der Stadt Musterstadt"));
    assert!(privacy.contains("Art. 77 DSGVO"));
    let (_, _, accessibility) = v.get("/musterstadt/barrierefreiheit?lang=en").await;
    assert!(accessibility.contains("Accessibility statement") && accessibility.contains("WCAG 2.1 level AA"));
    assert!(accessibility.contains("Sächsischen Staatsregierung für die Belange von Menschen mit Behinderungen"));
    // A town's own imprint replaces the built one.
    let (_, _, own) = v.get("/beispielgemeinde/impressum").await;
    assert!(own.contains("Herausgeberin dieser Seiten ist die Gemeinde Beispielgemeinde"), "{own}");
    assert!(!own.contains("Vertreten durch"), "no built text beside the town's own");
    // The two towns look different: colours and typeface.
    let a = v.c.get(s.url("/musterstadt/theme.css")).send().await.unwrap().text().await.unwrap();
    let b = v.c.get(s.url("/beispielgemeinde/theme.css")).send().await.unwrap().text().await.unwrap();
    assert!(a.contains("--brand: #1d4e89") && a.contains("--font: system-ui"), "{a}");
    assert!(b.contains("--brand: #2f5d3a") && b.contains("--font: Georgia"), "{b}");
    // Musterstadt shows its logo before its name; Beispielgemeinde has none.
    let logo_src = unescape(
        home.split("class=\"logo-image\" src=\"").nth(1).and_then(|r| r.split('"').next()).expect("logo in the header"),
    );
    assert!(logo_src.starts_with("/musterstadt/logo?v="), "{logo_src}");
    let res = v.c.get(s.url(&logo_src)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert!(res.text().await.unwrap().starts_with("<svg"));
    let (_, _, other_home) = v.get("/beispielgemeinde/").await;
    assert!(!other_home.contains("logo-image"));
    assert_eq!(v.c.get(s.url("/beispielgemeinde/logo")).send().await.unwrap().status(), 404);
    let (st, _, _) = v.get("/gibtsnicht/impressum").await;
    assert_eq!(st, 404);
    s.stop().await;
}

#[tokio::test]
async fn a_town_on_its_own_domain_shows_its_portal_and_only_its_portal() {
    let s = TestServer::start(testing::sqlite().await).await;
    let c = client();
    let get = |host: &'static str, path: &str| {
        let req = c.get(s.url(path)).header("host", host);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (st, home) = get("musterstadt.localhost", "/").await;
    assert_eq!(st, 200);
    assert!(home.contains("Stadt Musterstadt") && home.contains("href=\"/musterstadt/impressum\""), "{home}");
    let (st, imprint) = get("MusterStadt.localhost:8080", "/impressum?lang=en").await;
    assert_eq!(st, 200);
    assert!(imprint.contains("<h1 class=\"heading-l\">Imprint</h1>") && imprint.contains("Markt 1"), "{imprint}");
    // The paths with the slug work there too; the platform's own paths stay the same.
    assert_eq!(get("musterstadt.localhost", "/musterstadt/status").await.0, 200);
    assert_eq!(get("musterstadt.localhost", "/static/rathaus.css").await.0, 200);
    // Another town is not reachable through this town's domain.
    let (st, _) = get("musterstadt.localhost", "/beispielgemeinde/impressum").await;
    assert_eq!(st, 404);
    let (_, other) = get("beispielgemeinde.localhost", "/").await;
    assert!(other.contains("Gemeinde Beispielgemeinde"));
    // Any other host: the installation's landing page with the list of towns.
    let (st, landing) = get("rathaus.example", "/").await;
    assert_eq!(st, 200);
    assert!(landing.contains("/musterstadt/") && landing.contains("/beispielgemeinde/"));
    s.stop().await;
}

#[tokio::test]
async fn the_service_finder_understands_everyday_words() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    let (st, _, html) = v.get("/musterstadt/?suche=Ich+m%C3%B6chte+eine+Firma+gr%C3%BCnden").await;
    assert_eq!(st, 200);
    assert!(html.contains("href=\"/musterstadt/leistungen/gewerbeanmeldung\""), "{html}");
    assert!(html.contains("Passende Leistungen für „Ich möchte eine Firma gründen“: 1"), "{html}");
    let (_, _, html) = v.get("/musterstadt/?suche=Gewerbeanmeldung").await;
    assert!(html.contains("/musterstadt/leistungen/gewerbeanmeldung"));
    // Nothing fits: said so, with the way back to all services; the words are kept.
    let (st, _, html) = v.get("/musterstadt/?suche=Hund+anmelden").await;
    assert_eq!(st, 200);
    assert!(!html.contains("/musterstadt/leistungen/gewerbeanmeldung"));
    assert!(
        html.contains("Keine Leistung passt zu „Hund anmelden“.") && html.contains("value=\"Hund anmelden\""),
        "{html}"
    );
    assert!(html.contains("Alle Leistungen zeigen"));
    // In English too (the choice of language is remembered from here on).
    let (_, _, html) = v.get("/musterstadt/?suche=register+a+business&lang=en").await;
    assert!(
        html.contains("/musterstadt/leistungen/gewerbeanmeldung") && html.contains("Matching services for"),
        "{html}"
    );
    s.stop().await;
}

#[tokio::test]
async fn live_validation_answers_with_the_same_errors_as_continue_and_keeps_the_answers() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    let page = "/musterstadt/antrag/gewerbeanmeldung/betrieb";
    let (_, url, html) = v.get(page).await;
    assert!(
        unescape(&html).contains("data-live=\"/musterstadt/antrag/gewerbeanmeldung/betrieb/live\""),
        "the form names its check: {url}"
    );
    let token = csrf(&html);
    let live = |fields: Vec<(&'static str, &'static str)>| {
        let mut body: Vec<(String, String)> = vec![("_csrf".into(), token.clone())];
        body.extend(fields.into_iter().map(|(k, val)| (k.to_string(), val.to_string())));
        let req = v.c.post(s.url(&format!("{page}/live"))).form(&body);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let answer = live(vec![("betrieb.anschrift.plz", "999"), ("betrieb.anschrift.strasse", "Am Markt")]).await;
    let errors = answer["errors"].as_array().unwrap();
    let plz = errors.iter().find(|e| e["field"] == "betrieb.anschrift.plz").expect("postcode error");
    assert_eq!(plz["anchor"], "f-betrieb-anschrift-plz");
    assert!(plz["message"].as_str().unwrap().contains("fünfstellige Postleitzahl"));
    assert!(errors.iter().all(|e| e["field"] != "betrieb.anschrift.strasse"), "a good answer has no error");
    // What was typed is kept in the draft, as on "continue".
    let (_, _, html) = v.get(page).await;
    assert!(html.contains("value=\"Am Markt\""));
    let answer = live(vec![("betrieb.anschrift.plz", "09990")]).await;
    assert!(answer["errors"].as_array().unwrap().iter().all(|e| e["field"] != "betrieb.anschrift.plz"));
    // Without the form's token nothing is checked or kept.
    let res =
        v.c.post(s.url(&format!("{page}/live"))).form(&[("betrieb.anschrift.strasse", "X")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    s.stop().await;
}

/// The assistant: the procedure's checks run on the answers so far and the form says what
/// will happen, on every page (without JavaScript) and in the live answer (with it).
#[tokio::test]
async fn the_assistant_tells_what_will_happen_while_the_form_is_filled() {
    let s = TestServer::start(testing::sqlite().await).await;
    let v = Visit::new(&s);
    let (_, _, first) = v.get("/musterstadt/antrag/gewerbeanmeldung/meldung").await;
    assert!(!first.contains("Was mit Ihrem Antrag passiert"), "nothing to predict before the first answer");
    let (st, _, _) = v.page("musterstadt", "meldung", &[("meldungsart", "anmeldung")]).await;
    assert_eq!(st, 200);
    let page = "/musterstadt/antrag/gewerbeanmeldung/taetigkeit";
    let (_, _, html) = v.get(page).await;
    let panel = between(&html, "data-assistant>", "</aside>");
    assert!(panel.contains("Was mit Ihrem Antrag passiert"), "{panel}");
    assert!(panel.contains("voraussichtlich sofort automatisch bearbeitet") && panel.contains("26,00 €"), "{panel}");

    // Choosing a security business: the live answer brings the permit hint, the document and
    // the review's duration.
    let token = csrf(&html);
    let res =
        v.c.post(s.url(&format!("{page}/live")))
            .form(&[("_csrf", token.as_str()), ("taetigkeiten", "bewachung")])
            .send()
            .await
            .unwrap();
    let answer: serde_json::Value = res.json().await.unwrap();
    let assistant = answer["assistant"].as_str().unwrap();
    assert!(assistant.contains("Eine Sachbearbeiterin oder ein Sachbearbeiter prüft Ihren Antrag."), "{assistant}");
    assert!(
        assistant.contains("Für diese Tätigkeit brauchen Sie eine Erlaubnis nach § 34a GewO."),
        "the citizen's wording, not the clerk's: {assistant}"
    );
    assert!(assistant.contains("<li>Erlaubnis nach § 34a GewO</li>") && assistant.contains("etwa 3 Arbeitstage"));
    // Without JavaScript the page shows the same after the answer is kept.
    let (_, _, html) = v.get(page).await;
    assert!(between(&html, "data-assistant>", "</aside>").contains("Erlaubnis nach § 34a GewO"));
    // In English, from the procedure's English texts.
    let (_, _, html) = v.get(&format!("{page}?lang=en")).await;
    let panel = between(&html, "data-assistant>", "</aside>");
    assert!(
        panel.contains("What will happen with your application") && panel.contains("Permit under § 34a GewO"),
        "{panel}"
    );
    s.stop().await;
}

/// The text of a mail as the applicant reads it: headers as they are, a quoted-printable
/// body decoded.
fn mail_text(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    if !head.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable") {
        return raw.clone();
    }
    let body = body.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&body[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&out))
}

/// Saving a draft, getting its link by e-mail from a real SMTP server, resuming it in another
/// browser; a newer save replaces the link; expired drafts are refused and deleted.
#[tokio::test]
async fn a_saved_draft_is_resumed_by_its_link_sent_by_email() {
    let smtp = SmtpServer::start().await;
    for db in testing::all().await {
        let port = smtp.port;
        let s = TestServer::start_with(db, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            args.mail_from = Some("Stadt Musterstadt <noreply@musterstadt.example>".into());
        })
        .await;
        let v = Visit::new(&s);
        v.page("musterstadt", "meldung", &[("meldungsart", "anmeldung")]).await;
        // Half a page, saved: errors do not stop a draft.
        let person = "/musterstadt/antrag/gewerbeanmeldung/person";
        let (st, url, html) =
            v.post(person, person, &[("inhaber.familienname", "Mustermann"), ("_action", "save_draft")]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/antrag/gewerbeanmeldung/gespeichert"), "{html}");
        assert!(html.contains("Ihr Antrag ist zwischengespeichert"));
        let link = unescape(between(&html, "id=\"resume-link\" href=\"", "\""));
        assert!(link.starts_with(&format!("{}/musterstadt/entwurf/", s.base)), "{link}");
        let expires = between(&html, "<strong id=\"draft-expires\">", "</strong>").to_string();

        // The link by e-mail: a wrong address is named; a right one gets the link, and only that.
        let saved = "/musterstadt/antrag/gewerbeanmeldung/gespeichert";
        let (st, _, html) = v.post(saved, saved, &[("email", "erika@")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie eine E-Mail-Adresse im richtigen Format ein"), "{html}");
        let before = smtp.mails().len();
        let (st, _, html) = v.post(saved, saved, &[("email", "erika@example.org")]).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Wir haben den Link gesendet an"));
        let mails = smtp.mails();
        assert_eq!(mails.len(), before + 1, "one mail reached the SMTP server");
        let mail = mail_text(mails.last().unwrap());
        assert!(mail.contains("X-Rcpt-To: erika@example.org"), "{mail}");
        assert!(mail.contains("Subject: Ihr zwischengespeicherter Antrag bei Musterstadt"), "{mail}");
        assert!(mail.contains(&link) && mail.contains(&expires), "the link and its expiry: {mail}");
        assert!(!mail.contains("Mustermann"), "no answers of the application in the mail: {mail}");
        // Not a relay: after ten mails to one address within 15 minutes, no more.
        for _ in 0..9 {
            let (st, _, _) = v.post(saved, saved, &[("email", "erika@example.org")]).await;
            assert_eq!(st, 200);
        }
        let (st, _, html) = v.post(saved, saved, &[("email", "Erika@example.org")]).await;
        assert_eq!(st, 429);
        assert!(html.contains("zu viele E-Mails angefordert"), "{html}");
        assert_eq!(smtp.mails().len(), before + 10);

        // Another browser opens the link and continues where answers are missing.
        let other = Visit::new(&s);
        let (st, url, html) = other.get(link.trim_start_matches(&s.base)).await;
        assert_eq!((st, url.as_str()), (200, person), "{html}");
        assert!(html.contains("value=\"Mustermann\""), "the saved answer is there");

        // Saving again there gives a new link; the old one no longer opens the draft.
        let (_, _, html) = other.post(person, person, &[("inhaber.vornamen", "Max"), ("_action", "save_draft")]).await;
        let newer = unescape(between(&html, "id=\"resume-link\" href=\"", "\""));
        assert_ne!(newer, link);
        let (st, _, html) = Visit::new(&s).get(link.trim_start_matches(&s.base)).await;
        assert_eq!(st, 404);
        assert!(html.contains("Diesen Entwurf gibt es nicht"), "{html}");
        // Another town's portal does not know the draft.
        let token = newer.rsplit('/').next().unwrap();
        let (st, _, _) = Visit::new(&s).get(&format!("/beispielgemeinde/entwurf/{token}")).await;
        assert_eq!(st, 404);

        // Expired: refused with the reason, then deleted by the clean-up with an audit entry.
        let rt = &s.assembled.runtime;
        let tenant_id = {
            let mut conn = rt.store.conn().await.unwrap();
            let t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap().tenant_id;
            sqlx::query("UPDATE drafts SET expires_at = $1 WHERE tenant_id = $2")
                .bind(rathaus_store::ts(chrono::Utc::now() - chrono::Duration::minutes(1)))
                .bind(&t)
                .execute(&mut *conn)
                .await
                .unwrap();
            t
        };
        let (st, _, html) = Visit::new(&s).get(newer.trim_start_matches(&s.base)).await;
        assert_eq!(st, 410);
        assert!(html.contains("nach 30 Tagen gelöscht"), "{html}");
        assert_eq!(rt.purge_expired_drafts().await.unwrap(), 1);
        let mut conn = rt.store.conn().await.unwrap();
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM drafts WHERE tenant_id = $1")
            .bind(&tenant_id)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(left, 0);
        let expired = rathaus_store::audit::for_object(&mut conn, &tenant_id, "tenant", &tenant_id).await.unwrap();
        assert!(expired.iter().any(|e| e.action == "drafts.expired" && e.details.contains("\"deleted\":1")));
        assert_eq!(rathaus_store::audit::verify(&mut conn, &tenant_id).await.unwrap(), None);
        drop(conn);
        s.stop().await;
    }
}

/// Paying the fee online at the demo's test provider: sent there from the case status, sent
/// back with a signed answer, the fee is paid once however often the answer arrives, and a
/// forged answer is refused.
#[tokio::test]
async fn a_fee_is_paid_online_through_the_payment_provider_once() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let v = Visit::new(&s);
        fill_application(&v, "musterstadt", "09999", "software").await;
        let (st, _, receipt) = submit(&v, "musterstadt").await;
        assert_eq!(st, 200);
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let status_path = format!("/musterstadt/vorgang/{reference}");
        let (_, _, status) = v.get(&status_path).await;
        assert!(status.contains("Jetzt online bezahlen"), "{status}");

        // To the provider: the amount; then "Bezahlen" sends the browser back with the answer.
        let pay = format!("{status_path}/bezahlen");
        let (st, url, checkout) = v.post(&status_path, &pay, &[]).await;
        assert_eq!(st, 200, "{checkout}");
        assert!(url.starts_with("/musterstadt/testkasse/"), "{url}");
        assert!(checkout.contains("<dd id=\"testkasse-amount\">26,00 €</dd>"), "{checkout}");
        let (st, back, html) = v.post(&url, &url, &[("_action", "paid")]).await;
        assert_eq!((st, back.as_str()), (200, status_path.as_str()), "{html}");
        assert!(html.contains("Vielen Dank: Die Gebühr ist bezahlt.") && html.contains("bezahlt"), "{html}");
        assert!(!html.contains("Jetzt online bezahlen") && !html.contains("id=\"girocode\""), "nothing left to pay");

        // The same answer again (a reload, or the provider repeating itself) changes nothing.
        let payment_id = url.rsplit('/').next().unwrap().to_string();
        let rt = &s.assembled.runtime;
        let payment = rt.payment(&tenant_id(&s, "musterstadt").await, &payment_id).await.unwrap();
        let provider = rathaus_runtime::payments::TestProvider::new(&rt.config.secret);
        let tenant = tenant_id(&s, "musterstadt").await;
        let signature = provider.sign(&tenant, &payment, rathaus_runtime::payments::Outcome::Paid);
        let answer = format!("/musterstadt/zahlung/{payment_id}?ergebnis=paid&signatur={signature}");
        let (st, _, _) = v.get(&answer).await;
        assert_eq!(st, 200);
        // A forged answer (another outcome with the same signature) is refused.
        let forged = format!("/musterstadt/zahlung/{payment_id}?ergebnis=cancelled&signatur={signature}");
        let (st, _, html) = v.get(&forged).await;
        assert_eq!(st, 400);
        assert!(html.contains("Die Antwort des Zahlungsdienstes ist ungültig"), "{html}");
        // Another town does not know the payment.
        let (st, _, _) = v.get(&answer.replace("/musterstadt/", "/beispielgemeinde/")).await;
        assert_eq!(st, 404);

        let mut conn = rt.store.conn().await.unwrap();
        let (status,): (String,) = sqlx::query_as("SELECT status FROM fees WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(status, "paid");
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'payment.paid'")
                .bind(&tenant)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(n, 1, "paid once");
        let (case_id,): (String,) = sqlx::query_as("SELECT case_id FROM fees WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        // The clerk sees the fee paid and the payment that paid it.
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, case) = clerk.get(&format!("/musterstadt/intern/vorgaenge/{case_id}")).await;
        assert!(between(&case, "id=\"fees\">", "</ul>").contains("bezahlt"), "{case}");
        let payments = between(&case, "id=\"payments\">", "</ul>");
        assert!(
            payments.contains("26,00 €") && payments.contains("testkasse") && payments.contains("bezahlt"),
            "{payments}"
        );
        s.stop().await;
    }
}

/// A Gewerbeanmeldung for review (a permit is needed) submitted in the portal; its
/// Aktenzeichen.
async fn review_case(s: &TestServer) -> String {
    let citizen = Visit::new(s);
    fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
    let (_, _, receipt) = submit(&citizen, "musterstadt").await;
    between(&receipt, "<strong id=\"reference\">", "</strong>").to_string()
}

const COLLEAGUE_PASSWORD: &str = "ein langes Passwort für Kollegen";

/// A new clerk of Musterstadt in `units`, signed in.
async fn colleague(s: &TestServer, user: &str, name: &str, units: &[&str]) -> Visit {
    let rt = &s.assembled.runtime;
    let mut conn = rt.store.conn().await.unwrap();
    let tenant = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
    drop(conn);
    let units: Vec<String> = units.iter().map(|u| u.to_string()).collect();
    let new = rathaus::admin::NewStaff {
        username: user,
        display_name: name,
        password: COLLEAGUE_PASSWORD,
        role: rathaus_domain::Role::Clerk,
        org_units: &units,
        email: None,
    };
    rathaus::admin::create_staff(rt, &tenant, &new).await.unwrap();
    let v = Visit::new(s);
    let login = "/musterstadt/intern/anmelden";
    let (st, _, html) = v.post(login, login, &[("benutzername", user), ("passwort", COLLEAGUE_PASSWORD)]).await;
    assert_eq!(st, 200, "{html}");
    v
}

/// The open task of the case `reference`.
async fn open_task(s: &TestServer, reference: &str) -> String {
    let (task_id,): (String,) = sqlx::query_as(
        "SELECT t.task_id FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id
         WHERE c.reference = $1 AND t.status = 'open'",
    )
    .bind(reference)
    .fetch_one(s.db.store.pool())
    .await
    .unwrap();
    task_id
}

async fn tenant_id(s: &TestServer, slug: &str) -> String {
    let mut conn = s.assembled.runtime.store.conn().await.unwrap();
    rathaus_store::tenants::by_slug(&mut conn, slug).await.unwrap().unwrap().tenant_id
}

/// The id of the case with this Aktenzeichen.
async fn case_id_of(s: &TestServer, reference: &str) -> String {
    let (id,): (String,) = sqlx::query_as("SELECT case_id FROM cases WHERE reference = $1")
        .bind(reference)
        .fetch_one(s.db.store.pool())
        .await
        .unwrap();
    id
}

async fn login(s: &TestServer, tenant: &str, user: &str) -> Visit {
    let v = Visit::new(s);
    let (st, url, html) = v
        .post(
            &format!("/{tenant}/intern/anmelden"),
            &format!("/{tenant}/intern/anmelden"),
            &[("benutzername", user), ("passwort", s.password(tenant, user))],
        )
        .await;
    assert_eq!(st, 200, "{html}");
    assert!(url.ends_with("/intern/"), "{url}");
    v
}

#[tokio::test]
async fn clerk_decides_a_review_case_and_the_citizen_gets_the_notice() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let citizen = Visit::new(&s);
        let check = fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        assert!(
            check.contains("Sachbearbeiter") && check.contains("kein Gewerbe"),
            "the assistant warns before submission"
        );
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        assert!(receipt.contains("prüft Ihren Antrag"));
        let (_, _, waiting) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(
            waiting.contains("Voraussichtlich entschieden bis:")
                && waiting.contains("übliche Bearbeitungszeit: 3 Arbeitstage"),
            "{waiting}"
        );

        // Wrong password: a clear error, no session.
        let v = Visit::new(&s);
        let (st, _, html) = v
            .post(
                "/musterstadt/intern/anmelden",
                "/musterstadt/intern/anmelden",
                &[("benutzername", "sachbearbeitung"), ("passwort", "falsch")],
            )
            .await;
        assert_eq!(st, 422, "{html}");
        assert!(html.contains("Benutzername oder Passwort sind falsch."));
        let (_, url, _) = v.get("/musterstadt/intern/").await;
        assert!(url.ends_with("/anmelden"));

        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        assert!(list.contains(&reference) && list.contains("kein Gewerbe"), "{list}");
        // The review is due in three working days of Musterstadt's Land (processing_days).
        let due = rathaus_domain::calendar::WorkCalendar::new(Some(rathaus_domain::calendar::Land::SN))
            .add(
                chrono::Utc::now(),
                &rathaus_domain::calendar::IsoDuration::parse("P3D").unwrap(),
                rathaus_domain::calendar::Counting::Arbeitstage,
            )
            .unwrap();
        assert!(list.contains(&rathaus_domain::time::german_date(due)), "due date in the worklist: {list}");
        assert!(!between(&list, "id=\"tasks\">", "</table>").contains("überfällig"), "{list}");
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        assert!(
            case.contains("Ergebnis der automatischen Prüfung")
                && case.contains("Eingangsbestätigung")
                && case.contains("case.submitted")
        );
        // The decision form's address (the case file also has the form that takes the task).
        let end = case.find("/entscheidung\"").expect("a decision form");
        let start = case[..end].rfind("/aufgaben/").unwrap() + "/aufgaben/".len();
        let action = format!("/musterstadt/intern/aufgaben/{}/entscheidung", &case[start..end]);
        // Rejecting needs reasons.
        let (st, _, html) = clerk.post(&case_path, &action, &[("ergebnis", "ablehnen"), ("begruendung", "kurz")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie eine Begründung an"));
        let (st, _, html) = clerk
            .post(
                &case_path,
                &action,
                &[("ergebnis", "ablehnen"), ("begruendung", "Die Heilkunde ist ein freier Beruf und kein Gewerbe.")],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        if !html.contains("Abgelehnt") {
            let mut conn = s.db.store.conn().await.unwrap();
            let jobs: Vec<(String, String, i64, Option<String>, String)> =
                sqlx::query_as("SELECT job_type, status, attempts, last_error, run_at FROM jobs ORDER BY created_at")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            panic!("case not rejected after the decision ({:?}); jobs: {jobs:#?}", s.db.backend());
        }
        assert!(html.contains("Die Entscheidung ist gespeichert."), "{html}");
        // Deciding again is refused politely.
        let (_, _, html) = clerk.post(&case_path, &action, &[("ergebnis", "bestaetigen"), ("begruendung", "")]).await;
        assert!(html.contains("bereits erledigt") || !html.contains("Entscheidung speichern"), "{html}");

        // The citizen sees the notice.
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(status.contains("Abgelehnt") && status.contains("Bescheid über die Gewerbeanzeige"), "{status}");
        // Made available online, the notice counts as notified the day after the applicant
        // retrieves it (§ 41 Abs. 2a VwVfG): the clerk sees whether and when that happened.
        let (_, _, before) = clerk.get(&case_path).await;
        assert!(before.contains("noch nicht abgerufen"), "{before}");
        let notice = link_to(&status, "id=\"doc-bescheid\"");
        let res = citizen.c.get(format!("{}{notice}", s.base)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        citizen.c.get(format!("{}{notice}", s.base)).send().await.unwrap();
        let (_, _, after) = clerk.get(&case_path).await;
        let tomorrow = (rathaus_domain::time::german_time(chrono::Utc::now()).date_naive() + chrono::Duration::days(1))
            .format("%d.%m.%Y")
            .to_string();
        assert!(after.contains(&format!("gilt als bekanntgegeben am {tomorrow}")), "{after}");
        let tid = tenant_id(&s, "musterstadt").await;
        let mut conn = s.db.store.conn().await.unwrap();
        let (retrievals,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'document.retrieved'")
                .bind(&tid)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(retrievals, 1, "only the first retrieval counts");
        drop(conn);

        // Auditors read but may not decide; staff of one tenant see nothing of another.
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (_, _, html) = auditor.get(&case_path).await;
        assert!(html.contains(&reference));
        let (st, _, _) = auditor.post(&case_path, &action, &[("ergebnis", "bestaetigen")]).await;
        assert_eq!(st, 403);
        let other = login(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (_, _, list) = other.get("/beispielgemeinde/intern/").await;
        assert!(!list.contains(&reference), "another tenant's worklist never shows the case");
        let foreign = case_path.replace("/musterstadt/", "/beispielgemeinde/");
        let (st, _, _) = other.get(&foreign).await;
        assert_eq!(st, 404);
        let (_, url, _) = other.get(&case_path).await;
        assert!(
            url.ends_with("/musterstadt/intern/anmelden"),
            "a session of Beispielgemeinde is no session in Musterstadt: {url}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn admins_see_deployments_and_failed_steps_and_retry_them() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let store = s.assembled.runtime.store.clone();
        let mut conn = store.conn().await.unwrap();
        let tenant = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        let t = tenant.tenant_id.as_str();
        // Due tomorrow, so that the server's own worker does not take it first; this test
        // claims and fails it "tomorrow".
        let now = chrono::Utc::now() + chrono::Duration::days(1);
        rathaus_store::jobs::insert_write(
            t,
            "job-kaputt",
            "instanz-x",
            "vorgang-x",
            0,
            "Bescheid_erstellen",
            "rathaus:document",
            &serde_json::json!({}),
            &serde_json::json!({}),
            1,
            now,
            now,
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let only = rathaus_store::jobs::Claim::Instance { tenant_id: t, instance_id: "instanz-x" };
        let job =
            rathaus_store::jobs::claim(&mut conn, store.backend(), "test", now, chrono::Duration::seconds(60), only)
                .await
                .unwrap()
                .unwrap();
        assert!(rathaus_store::jobs::fail(&mut conn, &job, "test", "Vorlage fehlt", now).await.unwrap());
        drop(conn);

        let admin = login(&s, "musterstadt", "admin").await;
        let (_, _, worklist) = admin.get("/musterstadt/intern/").await;
        assert!(worklist.contains("/musterstadt/intern/betrieb"), "admins find the operations page");
        let (st, _, page) = admin.get("/musterstadt/intern/betrieb").await;
        assert_eq!(st, 200);
        assert!(page.contains("Bescheid_erstellen") && page.contains("Vorlage fehlt"), "{page}");
        assert!(page.contains("gewerbeanmeldung") && page.contains("Bereitstellungen"));
        let (st, _, after) = admin
            .post("/musterstadt/intern/betrieb", "/musterstadt/intern/auftraege/job-kaputt/wiederholen", &[])
            .await;
        assert_eq!(st, 200);
        assert!(after.contains("wird erneut versucht"), "{after}");
        let mut conn = store.conn().await.unwrap();
        let entries = rathaus_store::audit::for_object(&mut conn, t, "case", "vorgang-x").await.unwrap();
        assert!(entries.iter().any(|e| e.action == "job.retried" && e.actor == "staff:admin"));
        drop(conn);

        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, worklist) = clerk.get("/musterstadt/intern/").await;
        assert!(!worklist.contains("/musterstadt/intern/betrieb"));
        assert_eq!(clerk.get("/musterstadt/intern/betrieb").await.0, 403);
        s.stop().await;
    }
}

/// A small but real PDF (what the content check looks at is its signature).
const PERMIT_PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];

#[tokio::test]
async fn attachments_are_checked_scanned_kept_with_the_draft_and_listed_with_their_checksum() {
    let clamd = ClamdServer::start().await;
    for db in testing::all().await {
        let scanner = clamd.as_ref().map(ClamdServer::address);
        let s = TestServer::start_with(db, |args| args.clamav = scanner.clone()).await;
        let v = Visit::new(&s);
        // A security company needs a permit (§ 34a GewO): the permit page asks for a copy.
        let (st, url, html) = fill_to_activity(&v, "musterstadt", "09999", "bewachung").await;
        let page = "/musterstadt/antrag/gewerbeanmeldung/erlaubnis";
        assert_eq!((st, url.as_str()), (200, page), "{html}");
        assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
        assert!(html.contains("type=\"file\"") && html.contains("PDF, JPEG oder PNG, höchstens 10 MB."), "{html}");
        let permit = [
            ("erlaubnis.behoerde", "Landratsamt Musterkreis, Gewerbeamt"),
            ("erlaubnis.erteilt_am.tag", "3"),
            ("erlaubnis.erteilt_am.monat", "2"),
            ("erlaubnis.erteilt_am.jahr", "2025"),
            ("erlaubnis.aktenzeichen", "34a-2025-17"),
        ];

        // An image named .pdf: refused with the reason, the answers typed are kept.
        let (st, _, html) = v.post_files(page, &permit, &[("erlaubnis.kopie", "erlaubnis.pdf", PNG)]).await;
        assert_eq!(st, 422, "{html}");
        assert!(
            html.contains("„Kopie der Erlaubnis“: Die Datei „erlaubnis.pdf“ ist eine PNG-Datei, ihr Name endet aber nicht auf „.png“."),
            "{html}"
        );
        assert!(html.contains("Landratsamt Musterkreis, Gewerbeamt"), "the typed answers are kept");
        // A program renamed to .pdf.
        let (st, _, html) =
            v.post_files(page, &permit, &[("erlaubnis.kopie", "erlaubnis.pdf", &b"MZ\x90\0\x03"[..])]).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("„Kopie der Erlaubnis“: Diese Art von Datei ist nicht erlaubt („erlaubnis.pdf“). Erlaubt sind: PDF, JPEG oder PNG."),
            "{html}"
        );
        // Malware, found by ClamAV.
        if clamd.is_some() {
            let (st, _, html) = v.post_files(page, &permit, &[("erlaubnis.kopie", "scan.pdf", TEST_MALWARE)]).await;
            assert_eq!(st, 422, "{html}");
            assert!(html.contains("In der Datei „scan.pdf“ wurde Schadsoftware gefunden."), "{html}");
        }
        // "Hochladen" without choosing a file.
        let (st, _, html) = v.post_files(page, &[("_action", "upload:erlaubnis.kopie")], &[]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Wählen Sie für „Kopie der Erlaubnis“ eine Datei aus."), "{html}");

        // Uploaded and listed on the page; a single-file field then offers no second input.
        let name = "Erlaubnis § 34a.pdf";
        let (st, url, html) = v
            .post_files(page, &[("_action", "upload:erlaubnis.kopie")], &[("erlaubnis.kopie", name, PERMIT_PDF)])
            .await;
        assert_eq!((st, url.as_str()), (200, page), "{html}");
        assert!(html.contains(name) && html.contains("(1 KB)"), "{html}");
        assert!(!html.contains("type=\"file\""), "{html}");
        // Removed again: gone from the page and from the database.
        let remove = format!("remove_file:{}", between(&html, "value=\"remove_file:", "\""));
        let (st, _, html) = v.post_files(page, &[("_action", &remove)], &[]).await;
        assert_eq!(st, 200);
        assert!(!html.contains(name) && html.contains("type=\"file\""), "{html}");
        let tid = tenant_id(&s, "musterstadt").await;
        let count = |sql: &'static str| {
            let store = s.db.store.clone();
            let tid = tid.clone();
            async move {
                let mut conn = store.conn().await.unwrap();
                let (n,): (i64,) = sqlx::query_as(sql).bind(&tid).fetch_one(&mut *conn).await.unwrap();
                n
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM uploads WHERE tenant_id = $1").await, 0);
        // Uploaded with "Weiter" together with the answers: on to the check page.
        let (st, url, check) = v.post_files(page, &permit, &[("erlaubnis.kopie", name, PERMIT_PDF)]).await;
        assert_eq!(st, 200, "{check}");
        assert!(url.ends_with("/pruefen"), "{url}");
        assert!(check.contains(&format!("{name} (1 KB)")), "{check}");

        // Saved as a draft and resumed in another browser: the file goes with it.
        let (st, url, saved) = v.post_files(page, &[("_action", "save_draft")], &[]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/antrag/gewerbeanmeldung/gespeichert"), "{saved}");
        let link = unescape(between(&saved, "id=\"resume-link\" href=\"", "\""));
        let other = Visit::new(&s);
        let (st, url, check) = other.get(link.trim_start_matches(&s.base)).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/antrag/gewerbeanmeldung/pruefen"), "{check}");
        assert!(check.contains(name), "{check}");
        let (st, _, receipt) = submit(&other, "musterstadt").await;
        assert_eq!(st, 200, "{receipt}");
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(PERMIT_PDF))
        };
        // The Eingangsbestätigung (PDF) lists the files too: it was made with them.
        assert!(receipt.contains("id=\"doc-eingangsbestaetigung\""), "{receipt}");
        let attachments = between(&receipt, "id=\"attachments\">", "</ul>");
        assert!(attachments.contains(name) && attachments.contains(&sha256), "{attachments}");
        assert_eq!(count("SELECT COUNT(*) FROM uploads WHERE tenant_id = $1").await, 0, "moved into the case");
        // The applicant can download exactly the file that was received.
        let link = unescape(between(attachments, "<a href=\"", "\""));
        let res = other.c.get(format!("{}{link}", s.base)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(
            disposition.starts_with("attachment;")
                && disposition.contains("filename*=UTF-8''Erlaubnis%20%C2%A7%2034a.pdf"),
            "{disposition}"
        );
        assert_eq!(res.headers()["content-security-policy"], "sandbox");
        assert_eq!(res.bytes().await.unwrap().as_ref(), PERMIT_PDF);

        // The clerk finds it in the case file, with whether it was scanned.
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let (_, _, case) = clerk.get(&link_to(&list, &format!(">{reference}</a>"))).await;
        let scanned = if clamd.is_some() { "auf Schadsoftware geprüft" } else { "nicht auf Schadsoftware geprüft" };
        assert!(case.contains(name) && case.contains(scanned), "{case}");
        // Audited: stored, removed, refused.
        let mut actions = vec!["upload.stored", "upload.removed"];
        if clamd.is_some() {
            actions.push("upload.refused_malware");
        }
        for action in actions {
            let mut conn = s.db.store.conn().await.unwrap();
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = $2")
                .bind(&tid)
                .bind(action)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert!(n > 0, "{action} audited");
        }
        s.stop().await;
    }
}

/// The link in a mail that starts with `prefix` (e.g. `http://…/musterstadt/konto/bestaetigen/`).
fn link_in_mail(mail: &str, prefix: &str) -> String {
    let text = mail_text(mail);
    let start = text.find(prefix).unwrap_or_else(|| panic!("no link {prefix} in:\n{text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// A citizen account from registration to a second application: the address confirmed by a
/// link from a real SMTP server, the profile filling in the form, a draft kept in the
/// account, the case listed there and open without the access code, a forgotten password
/// reset; nothing tells a stranger whether an address has an account.
#[tokio::test]
async fn a_citizen_account_keeps_cases_and_drafts_and_fills_in_forms() {
    let smtp = SmtpServer::start().await;
    for db in testing::all().await {
        let port = smtp.port;
        let s = TestServer::start_with(db, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        })
        .await;
        let v = Visit::new(&s);
        let (_, _, home) = v.get("/musterstadt/").await;
        assert!(home.contains("href=\"/musterstadt/konto/anmelden\""), "sign-in offered: {home}");
        let register = "/musterstadt/konto/registrieren";
        // Every problem of the form at once, the name kept.
        let (st, _, html) = v
            .post(
                register,
                register,
                &[("name", "Erika Muster"), ("email", "erika@"), ("passwort", "kurz"), ("passwort2", "kurz")],
            )
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie eine E-Mail-Adresse im richtigen Format ein"), "{html}");
        assert!(html.contains("Das Passwort muss mindestens 12 Zeichen lang sein."), "{html}");
        assert!(html.contains("value=\"Erika Muster\""));
        let password = "Rathaus ist praktisch 2026";
        let (st, _, html) = v
            .post(
                register,
                register,
                &[
                    ("name", "Erika Muster"),
                    ("email", "Erika@Example.org"),
                    ("passwort", password),
                    ("passwort2", "anders als oben"),
                ],
            )
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("Die beiden Passwörter stimmen nicht überein."), "{html}");
        let before = smtp.mails().len();
        let (st, _, html) = v
            .post(
                register,
                register,
                &[
                    ("name", "Erika Muster"),
                    ("email", "Erika@Example.org"),
                    ("passwort", password),
                    ("passwort2", password),
                ],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Wir haben eine E-Mail an erika@example.org gesendet."), "{html}");
        let mails = smtp.mails();
        assert_eq!(mails.len(), before + 1);
        let prefix = format!("{}/musterstadt/konto/bestaetigen/", s.base);
        let verify = link_in_mail(mails.last().unwrap(), &prefix);
        // Not confirmed yet: no login, but a new link.
        let login = "/musterstadt/konto/anmelden";
        let (st, _, html) = v.post(login, login, &[("email", "erika@example.org"), ("passwort", password)]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Bestätigen Sie zuerst Ihre E-Mail-Adresse."), "{html}");
        assert_eq!(smtp.mails().len(), before + 2, "a new link was sent");
        // Registering the address again looks the same, and the holder is told by mail.
        let stranger = Visit::new(&s);
        let (st, _, html) = stranger
            .post(
                register,
                register,
                &[
                    ("name", "Jemand"),
                    ("email", "erika@example.org"),
                    ("passwort", "ein anderes langes Passwort"),
                    ("passwort2", "ein anderes langes Passwort"),
                ],
            )
            .await;
        assert_eq!(st, 200);
        assert!(html.contains("Wir haben eine E-Mail an erika@example.org gesendet."));
        assert!(mail_text(smtp.mails().last().unwrap()).contains("Sie haben dort schon ein Konto"));

        // The link confirms and signs in; it works once.
        let (st, url, html) = v.get(verify.trim_start_matches(&s.base)).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"), "{html}");
        assert!(
            html.contains("Ihre E-Mail-Adresse ist bestätigt.")
                && html.contains("Angemeldet als Erika Muster (erika@example.org)."),
            "{html}"
        );
        let (st, _, _) = Visit::new(&s).get(verify.trim_start_matches(&s.base)).await;
        assert_eq!(st, 404);

        // The profile: a wrong postcode is named, then saved.
        let profile = "/musterstadt/konto/profil";
        let fields = [
            ("familienname", "Muster"),
            ("vornamen", "Erika"),
            ("strasse", "Hauptstraße"),
            ("hausnummer", "1"),
            ("plz", "0999"),
            ("ort", "Musterstadt"),
            ("telefon", "0371 123456"),
        ];
        let (st, _, html) = v.post(profile, profile, &fields).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie eine Postleitzahl mit fünf Ziffern ein."), "{html}");
        let mut fields = fields;
        fields[4] = ("plz", "09999");
        let (st, url, html) = v.post(profile, profile, &fields).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"), "{html}");
        assert!(html.contains("Ihre Angaben sind gespeichert."));

        // A new application starts with the account's details.
        v.page("musterstadt", "meldung", &[("meldungsart", "anmeldung")]).await;
        let (_, _, person) = v.get("/musterstadt/antrag/gewerbeanmeldung/person").await;
        for filled in [
            "value=\"Muster\"",
            "value=\"Erika\"",
            "value=\"Hauptstraße\"",
            "value=\"09999\"",
            "value=\"erika@example.org\"",
            "value=\"0371 123456\"",
        ] {
            assert!(person.contains(filled), "{filled} prefilled: {person}");
        }
        // Saved under the account: listed there, and opened from there in another browser.
        let path = "/musterstadt/antrag/gewerbeanmeldung/person";
        let (st, _, _) = v.post(path, path, &[("inhaber.geburtsort", "Chemnitz"), ("_action", "save_draft")]).await;
        assert_eq!(st, 200);
        let (_, _, account) = v.get("/musterstadt/konto/").await;
        let drafts = between(&account, "id=\"account-drafts\">", "</ul>");
        assert!(drafts.contains("Gewerbeanzeige"), "{drafts}");
        let draft_link = unescape(between(drafts, "<a href=\"", "\""));
        let laptop = Visit::new(&s);
        let (st, url, _) = laptop.post(login, login, &[("email", "erika@example.org"), ("passwort", password)]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"));
        let (st, url, html) = laptop.get(&draft_link).await;
        assert_eq!((st, url.as_str()), (200, path), "{html}");
        assert!(html.contains("value=\"Chemnitz\""), "{html}");
        // Someone else's draft is not found.
        let (st, _, _) = stranger.get(&draft_link).await;
        assert_eq!(st, 200, "a stranger is sent to the login page");
        // Submitted from the account: listed there and open without the access code.
        let check = fill_application(&laptop, "musterstadt", "09999", "software").await;
        assert!(check.contains("Muster"));
        let mails_before = smtp.mails().len();
        let (st, _, receipt) = submit(&laptop, "musterstadt").await;
        assert_eq!(st, 200, "{receipt}");
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        // The account is told by mail that there is news, and nothing more.
        let mut notice = None;
        for _ in 0..100 {
            notice = smtp.mails()[mails_before..]
                .iter()
                .map(|m| mail_text(m))
                .find(|m| m.contains("Neuigkeiten zu Ihrem Antrag"));
            if notice.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let notice = notice.expect("a notification mail");
        assert!(notice.contains("X-Rcpt-To: erika@example.org"), "{notice}");
        assert!(notice.contains(&format!("{}/musterstadt/konto/", s.base)), "{notice}");
        assert!(!notice.contains(&reference) && !notice.contains("Erika") && !notice.contains("Software"), "{notice}");
        let (_, _, account) = v.get("/musterstadt/konto/").await;
        assert!(account.contains("id=\"account-cases\""), "{account}");
        let cases = between(&account, "id=\"account-cases\">", "</table>");
        assert!(cases.contains(&reference) && cases.contains("Bestätigt"), "{cases}");
        let (st, url, status) = v.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert_eq!((st, url.as_str()), (200, format!("/musterstadt/vorgang/{reference}").as_str()));
        assert!(status.contains("Empfangsbescheinigung"), "{status}");
        // Other browsers still need the access code; another town does not know the account.
        let (_, url, _) = stranger.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert_eq!(url, "/musterstadt/status");
        let other_town = "/beispielgemeinde/konto/anmelden";
        let (st, _, html) =
            stranger.post(other_town, other_town, &[("email", "erika@example.org"), ("passwort", password)]).await;
        assert_eq!(st, 422);
        assert!(html.contains("E-Mail-Adresse oder Passwort sind falsch."));

        // Signing out ends the session.
        let (_, _, page) = v.get("/musterstadt/konto/").await;
        let (st, url, _) = v.post("/musterstadt/konto/", "/musterstadt/konto/abmelden", &[]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/"), "{page}");
        let (_, url, _) = v.get("/musterstadt/konto/").await;
        assert_eq!(url, login);

        // A forgotten password: the same answer for any address, a link that works once.
        let forgot = "/musterstadt/konto/passwort-vergessen";
        let count = smtp.mails().len();
        let (st, _, html) = v.post(forgot, forgot, &[("email", "niemand@example.org")]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Wenn es für niemand@example.org ein Konto gibt"), "{html}");
        assert_eq!(smtp.mails().len(), count, "no mail for an unknown address");
        let (st, _, _) = v.post(forgot, forgot, &[("email", "ERIKA@example.org")]).await;
        assert_eq!(st, 200);
        let reset = link_in_mail(smtp.mails().last().unwrap(), &format!("{}/musterstadt/konto/passwort-neu/", s.base));
        let reset_path = reset.trim_start_matches(&s.base).to_string();
        let (st, _, html) =
            v.post(&reset_path, &reset_path, &[("passwort", "zu kurz"), ("passwort2", "zu kurz")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("mindestens 12 Zeichen"), "{html}");
        let new_password = "Ein neues, langes Passwort";
        let (st, url, html) =
            v.post(&reset_path, &reset_path, &[("passwort", new_password), ("passwort2", new_password)]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"), "{html}");
        assert!(html.contains("Ihr neues Passwort ist gespeichert."));
        let (st, _, _) = Visit::new(&s).get(&reset_path).await;
        assert_eq!(st, 404, "the link works once");
        let fresh = Visit::new(&s);
        let (st, _, _) = fresh.post(login, login, &[("email", "erika@example.org"), ("passwort", password)]).await;
        assert_eq!(st, 422, "the old password no longer works");
        let (st, url, _) =
            fresh.post(login, login, &[("email", "erika@example.org"), ("passwort", new_password)]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"));

        // Audited, without secrets.
        let tid = tenant_id(&s, "musterstadt").await;
        let mut conn = s.db.store.conn().await.unwrap();
        let actions: Vec<(String, String)> = sqlx::query_as(
            "SELECT action, details FROM audit_log WHERE tenant_id = $1 AND object_type = 'account' ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
        for expected in [
            "account.registered",
            "account.verified",
            "account.login",
            "account.profile_saved",
            "account.reset_requested",
            "account.password_reset",
        ] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        assert!(actions.iter().all(|(_, d)| !d.contains(password) && !d.contains("argon2")));
        drop(conn);
        s.stop().await;
    }
}

/// The mailbox of a case: the applicant writes to the authority with a file, the clerk
/// reads it in the case file and answers; each side sees what is new to them and whether
/// the other side has read what they wrote.
#[tokio::test]
async fn applicant_and_clerk_write_to_each_other_in_the_cases_mailbox() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        let mailbox = link_to(&status, ">Nachrichten mit der Behörde");
        assert_eq!(mailbox, format!("/musterstadt/vorgang/{reference}/nachrichten"));
        let (_, _, page) = citizen.get(&mailbox).await;
        assert!(page.contains("Noch keine Nachrichten."), "{page}");
        // Nothing to send; a file that is not what its name says.
        let (st, _, page) = citizen.post_files(&mailbox, &[("nachricht", "")], &[]).await;
        assert_eq!(st, 422);
        assert!(page.contains("Schreiben Sie eine Nachricht oder hängen Sie eine Datei an."), "{page}");
        let text = "Anbei meine Heilpraktikererlaubnis.\nMit freundlichen Grüßen";
        let (st, _, page) =
            citizen.post_files(&mailbox, &[("nachricht", text)], &[("datei", "erlaubnis.pdf", PNG)]).await;
        assert_eq!(st, 422);
        assert!(page.contains("„Datei anhängen“: Die Datei „erlaubnis.pdf“ ist eine PNG-Datei"), "{page}");
        assert!(page.contains("Anbei meine Heilpraktikererlaubnis."), "the text is kept");
        let (st, url, page) =
            citizen.post_files(&mailbox, &[("nachricht", text)], &[("datei", "erlaubnis.pdf", PERMIT_PDF)]).await;
        assert_eq!((st, url.as_str()), (200, mailbox.as_str()), "{page}");
        assert!(page.contains("Ihre Nachricht ist gesendet.") && page.contains("Anbei meine Heilpraktikererlaubnis."));
        assert!(page.contains("noch nicht gelesen"), "the clerk has not read it yet: {page}");
        let file = unescape(between(between(&page, "class=\"message-file\">", "</p>"), "href=\"", "\""));
        let res = citizen.c.get(format!("{}{file}", s.base)).send().await.unwrap();
        assert_eq!(res.bytes().await.unwrap().as_ref(), PERMIT_PDF);

        // The clerk reads it in the case file (new, with the file) and answers.
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        let messages = between(&case, "id=\"message-list\">", "</ol>");
        assert!(
            messages.contains("Antragsteller") && messages.contains("neu") && messages.contains("erlaubnis.pdf"),
            "{messages}"
        );
        let action = format!("{case_path}/nachrichten");
        let (st, _, html) = clerk.post(&case_path, &action, &[("nachricht", "  ")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Schreiben Sie eine Nachricht"), "{html}");
        let answer = "Vielen Dank, die Erlaubnis liegt vor. Wir prüfen noch, ob Sie ein Gewerbe anzeigen müssen.";
        let (st, _, html) = clerk.post(&case_path, &action, &[("nachricht", answer)]).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Die Nachricht ist gesendet"), "{html}");
        let messages = between(&html, "id=\"message-list\">", "</ol>");
        assert!(!messages.contains(">neu<"), "read by the clerk: {messages}");
        assert!(messages.contains(answer) && messages.contains("noch nicht gelesen"), "{messages}");
        // Auditors read but do not write.
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post(&case_path, &action, &[("nachricht", "Hallo")]).await;
        assert_eq!(st, 403);

        // The applicant sees that there is news, and reads it.
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(between(&status, "id=\"mailbox-link\">", "</p>").contains("1 neu"), "{status}");
        let (_, _, page) = citizen.get(&mailbox).await;
        assert!(page.contains(answer) && page.contains("Musterstadt (Sabine Sachbearbeiterin)"), "{page}");
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(!between(&status, "id=\"mailbox-link\">", "</p>").contains("neu"), "{status}");
        // Another browser without the access code sees nothing.
        let (_, url, _) = Visit::new(&s).get(&mailbox).await;
        assert_eq!(url, "/musterstadt/status");
        s.stop().await;
    }
}

/// Registers an account with a real mail round trip and follows the confirmation link in
/// `v`; returns where the link led.
async fn register_confirmed(s: &TestServer, smtp: &SmtpServer, v: &Visit, name: &str, email: &str) -> String {
    let register = "/musterstadt/konto/registrieren";
    let password = "Rathaus ist praktisch 2026";
    let before = smtp.mails().len();
    let (st, _, html) = v
        .post(register, register, &[("name", name), ("email", email), ("passwort", password), ("passwort2", password)])
        .await;
    assert_eq!(st, 200, "{html}");
    assert_eq!(smtp.mails().len(), before + 1);
    let verify = link_in_mail(smtp.mails().last().unwrap(), &format!("{}/musterstadt/konto/bestaetigen/", s.base));
    let (st, url, html) = v.get(verify.trim_start_matches(&s.base)).await;
    assert_eq!(st, 200, "{html}");
    url
}

/// A business account: Anna creates it and invites Ben by e-mail; Ben signs up through the
/// invitation and joins; what Anna saves and submits for the business, Ben sees and opens
/// without the access code; Ben, a member, cannot remove Anna; once he leaves he sees none
/// of it; the last admin cannot leave. Every step is audited.
#[tokio::test]
async fn business_account_members_share_the_businesss_applications() {
    let smtp = SmtpServer::start().await;
    for db in testing::all().await {
        let port = smtp.port;
        let s = TestServer::start_with(db, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        })
        .await;
        let anna = Visit::new(&s);
        assert_eq!(register_confirmed(&s, &smtp, &anna, "Anna Firma", "anna@firma.de").await, "/musterstadt/konto/");
        let new = "/musterstadt/konto/unternehmen/neu";
        let (st, _, html) = anna.post(new, new, &[("name", "  ")]).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("Geben Sie den Namen des Unternehmens ein.") && html.contains("href=\"#name\""),
            "{html}"
        );
        let (st, business_page, html) = anna.post(new, new, &[("name", "Muster GmbH")]).await;
        assert_eq!(st, 200, "{html}");
        assert!(business_page.starts_with("/musterstadt/konto/unternehmen/"), "{business_page}");
        assert!(html.contains("Das Unternehmenskonto „Muster GmbH“ ist angelegt."), "{html}");
        let business_id = business_page.rsplit('/').next().unwrap().to_string();

        // The invitation: a wrong address is named, then a mail with the link goes out.
        let invite = format!("{business_page}/einladen");
        let (st, _, html) = anna.post(&business_page, &invite, &[("email", "ben@"), ("rolle", "member")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie eine E-Mail-Adresse im richtigen Format ein"), "{html}");
        let (st, _, html) = anna.post(&business_page, &invite, &[("email", "Ben@Firma.de"), ("rolle", "member")]).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Die Einladung an ben@firma.de ist gesendet."), "{html}");
        assert!(between(&html, "id=\"business-invitations\">", "</ul>").contains("ben@firma.de"), "{html}");
        let mail = mail_text(smtp.mails().last().unwrap());
        assert!(mail.contains("X-Rcpt-To: ben@firma.de") && mail.contains("Muster GmbH"), "{mail}");
        let link = link_in_mail(smtp.mails().last().unwrap(), &format!("{}/musterstadt/konto/einladung/", s.base));
        let invitation = link.trim_start_matches(&s.base).to_string();

        // Ben is not a member yet: the business's page does not exist for him.
        let ben = Visit::new(&s);
        let (st, _, html) = ben.get(&invitation).await;
        assert_eq!(st, 200);
        assert!(html.contains("dem Unternehmenskonto „Muster GmbH“ beizutreten, als Mitglied"), "{html}");
        assert!(html.contains("href=\"/musterstadt/konto/registrieren\""), "{html}");
        // Signing up through the invitation leads back to it.
        assert_eq!(register_confirmed(&s, &smtp, &ben, "Ben Firma", "ben@firma.de").await, invitation);
        let (st, _, _) = ben.get(&business_page).await;
        assert_eq!(st, 404);
        let (st, url, html) = ben.post(&invitation, &invitation, &[]).await;
        assert_eq!((st, url.as_str()), (200, business_page.as_str()), "{html}");
        assert!(html.contains("Sie sind jetzt Mitglied."), "{html}");
        let members = between(&html, "id=\"business-members\">", "</table>");
        assert!(members.contains("anna@firma.de") && members.contains("ben@firma.de"), "{members}");
        let (st, _, _) = Visit::new(&s).get(&invitation).await;
        assert_eq!(st, 404, "the link works once");

        // Anna acts for the business: her draft and her application are Ben's to see too.
        let (st, _, html) =
            anna.post("/musterstadt/konto/", "/musterstadt/konto/handeln-als", &[("fuer", &business_id)]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Sie handeln für Muster GmbH"), "{html}");
        anna.page("musterstadt", "meldung", &[("meldungsart", "anmeldung")]).await;
        let person = "/musterstadt/antrag/gewerbeanmeldung/person";
        let (st, _, _) =
            anna.post(person, person, &[("inhaber.geburtsort", "Chemnitz"), ("_action", "save_draft")]).await;
        assert_eq!(st, 200);
        let (_, _, overview) = ben.get("/musterstadt/konto/").await;
        let drafts = between(&overview, "id=\"account-drafts\">", "</ul>");
        assert!(drafts.contains("(für Muster GmbH)"), "{overview}");
        fill_application(&anna, "musterstadt", "09999", "software").await;
        let (st, _, receipt) = submit(&anna, "musterstadt").await;
        assert_eq!(st, 200, "{receipt}");
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let (_, _, overview) = ben.get("/musterstadt/konto/").await;
        let cases = between(&overview, "id=\"account-cases\">", "</table>");
        assert!(cases.contains(&reference) && cases.contains("Muster GmbH"), "{cases}");
        let status = format!("/musterstadt/vorgang/{reference}");
        let (st, url, _) = ben.get(&status).await;
        assert_eq!((st, url.as_str()), (200, status.as_str()));

        // A member manages nobody but himself; the last admin stays.
        let (_, _, anna_home) = anna.get("/musterstadt/konto/").await;
        assert!(anna_home.contains("Muster GmbH"));
        let anna_id: (String,) =
            sqlx::query_as("SELECT account_id FROM citizen_accounts WHERE email = 'anna@firma.de'")
                .fetch_one(s.db.store.pool())
                .await
                .unwrap();
        let ben_id: (String,) = sqlx::query_as("SELECT account_id FROM citizen_accounts WHERE email = 'ben@firma.de'")
            .fetch_one(s.db.store.pool())
            .await
            .unwrap();
        let remove = |id: &str| format!("{business_page}/mitglieder/{id}/entfernen");
        let (st, _, _) = ben.post(&business_page, &remove(&anna_id.0), &[]).await;
        assert_eq!(st, 403);
        let (st, _, html) = anna.post(&business_page, &remove(&anna_id.0), &[]).await;
        assert_eq!(st, 200);
        assert!(html.contains("braucht mindestens eine Person, die es verwaltet"), "{html}");
        let (st, url, html) = ben.post(&business_page, &remove(&ben_id.0), &[]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/konto/"), "{html}");
        assert!(html.contains("Sie haben das Unternehmenskonto verlassen."), "{html}");
        assert!(!html.contains(&reference), "{html}");
        let (_, url, _) = ben.get(&status).await;
        assert_eq!(url, "/musterstadt/status", "the access code is needed again");

        let tid = tenant_id(&s, "musterstadt").await;
        let actions: Vec<(String,)> = sqlx::query_as(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND object_type = 'business' ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(actions, ["business.created", "business.invited", "business.member_joined", "business.member_left"]);
        s.stop().await;
    }
}

/// A clerk asks the applicant for a missing document with a deadline (the form names a
/// missing text, a past and an unreadable date); the applicant sees what and by when on the
/// status page and answers in the mailbox; the request is then answered for the clerk and
/// gone from the status page. A request can be withdrawn; auditors can do neither.
#[tokio::test]
async fn a_clerk_requests_a_document_and_the_applicant_answers_in_the_mailbox() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let status_path = format!("/musterstadt/vorgang/{reference}");

        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let action = format!("{case_path}/nachforderungen");
        let (st, _, html) = clerk.post(&case_path, &action, &[("was", ""), ("frist", "")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Beschreiben Sie, was fehlt.") && html.contains("Geben Sie eine Frist ein."), "{html}");
        assert!(html.contains("href=\"#was\"") && html.contains("href=\"#frist\""), "{html}");
        let what = "Bitte senden Sie eine Kopie Ihrer Erlaubnis nach dem Heilpraktikergesetz.";
        let (st, _, html) = clerk.post(&case_path, &action, &[("was", what), ("frist", "2020-01-01")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Die Frist muss nach dem heutigen Tag liegen."), "{html}");
        assert!(html.contains(what), "the text is kept");
        let (st, _, html) = clerk.post(&case_path, &action, &[("was", what), ("frist", "morgen")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie die Frist als Datum ein"), "{html}");
        let today = rathaus_domain::time::german_today(chrono::Utc::now());
        let due = today + chrono::Duration::days(14);
        let due_german = due.format("%d.%m.%Y").to_string();
        let (st, _, html) =
            clerk.post(&case_path, &action, &[("was", what), ("frist", &due.format("%Y-%m-%d").to_string())]).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains(&format!("Die Nachforderung ist gesendet; Frist bis {due_german}.")), "{html}");
        let requests = between(&html, "id=\"requests\">", "</table>");
        assert!(requests.contains(what) && requests.contains("offen"), "{requests}");
        // A second request, withdrawn again.
        let (st, _, html) =
            clerk.post(&case_path, &action, &[("was", "Mietvertrag"), ("frist", &due.to_string())]).await;
        assert_eq!(st, 200, "{html}");
        let withdraw = unescape(between(between(&html, "Mietvertrag</td>", "</tr>"), "action=\"", "\""));
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post(&case_path, &withdraw, &[]).await;
        assert_eq!(st, 403);
        let (st, _, _) = auditor.post(&case_path, &action, &[("was", "x"), ("frist", &due.to_string())]).await;
        assert_eq!(st, 403);
        let (st, _, html) = clerk.post(&case_path, &withdraw, &[]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Die Nachforderung ist zurückgenommen.") && html.contains("zurückgenommen"), "{html}");
        let (st, _, _) = clerk.post(&case_path, &withdraw, &[]).await;
        assert_eq!(st, 404, "once");

        // The applicant sees what is wanted and by when, and answers.
        let (_, _, status) = citizen.get(&status_path).await;
        let waiting = between(&status, "id=\"requests\"", "</div>");
        assert!(waiting.contains(what) && waiting.contains(&format!("Bitte bis zum {due_german}")), "{status}");
        assert!(!waiting.contains("Mietvertrag"), "withdrawn: {waiting}");
        let mailbox = format!("/musterstadt/vorgang/{reference}/nachrichten");
        let (_, _, page) = citizen.get(&mailbox).await;
        assert!(page.contains(&format!("Bitte reichen Sie bis zum {due_german} Folgendes nach:")), "{page}");
        let (st, _, _) = citizen
            .post_files(&mailbox, &[("nachricht", "Anbei die Erlaubnis.")], &[("datei", "erlaubnis.pdf", PERMIT_PDF)])
            .await;
        assert_eq!(st, 200);
        let (_, _, status) = citizen.get(&status_path).await;
        assert!(!status.contains("id=\"requests\""), "{status}");
        assert!(status.contains("Antwort auf die Nachforderung eingegangen"), "{status}");
        let (_, _, html) = clerk.get(&case_path).await;
        let requests = between(&html, "id=\"requests\">", "</table>");
        assert!(requests.contains("beantwortet"), "{requests}");
        s.stop().await;
    }
}

/// The worklist: a clerk takes an unassigned task and finds it under „Meine Aufgaben“; a
/// colleague can neither take it nor see it; given back, it is free again; the team lead
/// sees it „Beim Team“ and assigns it, but not to someone it is not for (an administrator);
/// filters by words,
/// procedure and overdue narrow the list; auditors take nothing. Every change is audited.
#[tokio::test]
async fn clerks_take_give_back_and_are_assigned_tasks_in_the_worklist() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let reference = review_case(&s).await;
        // A second clerk of the trade office, and one of another office (the review task is
        // for the role „clerk“, so she may take it too).
        let max = colleague(&s, "max", "Max Kollege", &["gewerbeamt"]).await;
        colleague(&s, "olga", "Olga Ordnungsamt", &[]).await;

        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = sabine.get("/musterstadt/intern/?liste=offen").await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&reference), "{list}");
        assert!(between(&list, "id=\"liste-meine\"", "</a>").contains("(0)"), "{list}");
        let task_id = open_task(&s, &reference).await;
        let row = between(&list, &format!(">{reference}</a>"), "</tr>");
        assert!(row.contains(&format!("/intern/aufgaben/{task_id}/uebernehmen")), "{row}");
        let claim = format!("/musterstadt/intern/aufgaben/{task_id}/uebernehmen");
        let release = format!("/musterstadt/intern/aufgaben/{task_id}/freigeben");
        let assign = format!("/musterstadt/intern/aufgaben/{task_id}/zuweisen");
        let (st, url, html) =
            sabine.post("/musterstadt/intern/", &claim, &[("zurueck", "/musterstadt/intern/?liste=meine")]).await;
        assert_eq!(st, 200, "{html}");
        assert_eq!(url, "/musterstadt/intern/");
        assert!(html.contains("Sie bearbeiten die Aufgabe jetzt."), "{html}");
        assert!(between(&html, "id=\"tasks\">", "</table>").contains(&reference), "under Meine Aufgaben: {html}");

        // Max: not in his lists, cannot take it, cannot decide it.
        let (_, _, list) = max.get("/musterstadt/intern/").await;
        assert!(!list.contains("id=\"tasks\""), "no task for him: {list}");
        let (st, _, html) = max.post("/musterstadt/intern/", &claim, &[]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Diese Aufgabe bearbeitet inzwischen sachbearbeitung."), "{html}");
        let (st, _, _) = max.post("/musterstadt/intern/", &release, &[]).await;
        assert_eq!(st, 403);

        // Given back, it is free for Max, who takes it.
        let (st, _, html) = sabine.post("/musterstadt/intern/", &release, &[]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Die Aufgabe ist wieder für das Team frei."), "{html}");
        let (_, _, html) = max.post("/musterstadt/intern/", &claim, &[]).await;
        assert!(html.contains("Sie bearbeiten die Aufgabe jetzt."), "{html}");

        // The team lead sees it with the team and gives it to Sabine; not to the administrator.
        let lead = login(&s, "musterstadt", "teamleitung").await;
        let (_, _, list) = lead.get("/musterstadt/intern/?liste=team").await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&reference), "{list}");
        let (st, _, html) = lead.post("/musterstadt/intern/", &assign, &[("an", "admin")]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Die Aufgabe ist nicht für Anna Administratorin bestimmt"), "{html}");
        let (st, _, _) = max.post("/musterstadt/intern/", &assign, &[("an", "sachbearbeitung")]).await;
        assert_eq!(st, 403, "clerks do not assign");
        let (_, _, list) = lead.get("/musterstadt/intern/?liste=team").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = lead.get(&case_path).await;
        assert!(case.contains(&format!("action=\"/musterstadt/intern/aufgaben/{task_id}/zuweisen\"")), "{case}");
        assert!(
            case.contains("<option value=\"sachbearbeitung\">") && !case.contains("<option value=\"admin\">"),
            "{case}"
        );
        let (st, url, html) =
            lead.post(&case_path, &assign, &[("an", "sachbearbeitung"), ("zurueck", &case_path)]).await;
        assert_eq!((st, url.as_str()), (200, case_path.as_str()), "{html}");
        assert!(html.contains("Die Aufgabe ist Sabine Sachbearbeiterin zugewiesen."), "{html}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?liste=meine").await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&reference), "{list}");

        // Filters: words, procedure, overdue.
        let (_, _, list) = sabine.get("/musterstadt/intern/?suche=gibt-es-nicht").await;
        assert!(list.contains("Keine Aufgabe passt zu diesen Filtern."), "{list}");
        let (_, _, list) = sabine.get(&format!("/musterstadt/intern/?suche={}", &reference[4..])).await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&reference), "{list}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?verfahren=gewerbeanmeldung").await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&reference), "{list}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?verfahren=anderes").await;
        assert!(!list.contains("id=\"tasks\""), "{list}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?ueberfaellig=1").await;
        assert!(!list.contains(&format!(">{reference}</a>")) || list.contains("überfällig"), "{list}");

        // Auditors take nothing.
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post("/musterstadt/intern/", &release, &[]).await;
        assert_eq!(st, 403);

        let tid = tenant_id(&s, "musterstadt").await;
        let actions: Vec<(String,)> = sqlx::query_as(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'task.%' AND action <> 'task.created' ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(actions, ["task.claimed", "task.released", "task.claimed", "task.assigned"]);

        // Wiedervorlage: a date in the past or not a date is named; a date is kept and shown
        // in the worklist; emptied, it is gone. Auditors cannot set it.
        let follow_up = format!("/musterstadt/intern/aufgaben/{task_id}/wiedervorlage");
        let (st, _, html) = sabine.post(&case_path, &follow_up, &[("datum", "2020-01-01")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Die Wiedervorlage muss nach dem heutigen Tag liegen."), "{html}");
        assert!(html.contains(&format!("href=\"#wiedervorlage-{task_id}\"")), "{html}");
        let (st, _, html) = sabine.post(&case_path, &follow_up, &[("datum", "bald")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie die Wiedervorlage als Datum ein"), "{html}");
        let date = rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(7);
        let (st, url, html) = sabine.post(&case_path, &follow_up, &[("datum", &date.to_string())]).await;
        assert_eq!((st, url.as_str()), (200, case_path.as_str()), "{html}");
        let german = date.format("%d.%m.%Y").to_string();
        assert!(html.contains(&format!("Die Wiedervorlage ist für den {german} gespeichert.")), "{html}");
        assert!(html.contains(&format!("value=\"{date}\"")), "the date is in the form: {html}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?liste=meine").await;
        assert!(between(&list, "id=\"tasks\">", "</table>").contains(&german), "{list}");
        let (st, _, _) = auditor.post(&case_path, &follow_up, &[("datum", "")]).await;
        assert_eq!(st, 403);
        let (_, _, html) = sabine.post(&case_path, &follow_up, &[("datum", "")]).await;
        assert!(html.contains("Die Wiedervorlage ist aufgehoben."), "{html}");
        s.stop().await;
    }
}

/// The statistics: per procedure the cases of the period, how many the machine decided
/// alone, how long decisions took and how many are open; only for staff, only the tenant's.
#[tokio::test]
async fn statistics_count_cases_automatic_decisions_and_open_ones_per_procedure() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        for activity in ["software", "heilpraktiker"] {
            let citizen = Visit::new(&s);
            fill_application(&citizen, "musterstadt", "09999", activity).await;
            let (st, _, receipt) = submit(&citizen, "musterstadt").await;
            assert_eq!(st, 200, "{receipt}");
        }
        let (_, url, _) = Visit::new(&s).get("/musterstadt/intern/statistik").await;
        assert_eq!(url, "/musterstadt/intern/anmelden", "staff only");
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (st, _, html) = clerk.get("/musterstadt/intern/statistik").await;
        assert_eq!(st, 200);
        let row = between(&html, "id=\"statistics\">", "</table>");
        let row = between(row, "Gewerbeanzeige", "</tr>");
        let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap()).collect();
        // cases, decided, automatic, median, p90, open, overdue tasks
        assert_eq!((cells[0], cells[1], cells[2], cells[5], cells[6]), ("2", "1", "100 %", "1", "0"), "{row}");
        assert!(cells[3].contains("Min") || cells[3].contains("Minute"), "decided within minutes: {row}");
        let (_, _, html) = clerk.get("/musterstadt/intern/statistik?zeitraum=30").await;
        assert!(html.contains("Eingang: letzte 30 Tage"), "{html}");
        let (_, _, html) = clerk.get("/musterstadt/intern/statistik?zeitraum=alle").await;
        let all = between(between(&html, "id=\"statistics\">", "</table>"), "Gewerbeanzeige", "</tr>");
        assert!(all.contains("</th><td>2</td>"), "since the start: {all}");
        let other = login(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (_, _, html) = other.get("/beispielgemeinde/intern/statistik").await;
        assert!(html.contains("In diesem Zeitraum ist kein Antrag eingegangen."), "another town's cases: {html}");
        s.stop().await;
    }
}

/// Withdrawing: the applicant confirms on a page of its own (not ticking the box is named),
/// the case is closed and leaves the worklist; a clerk records a withdrawal that came by
/// letter (a note is required); auditors cannot; a closed case offers no withdrawal.
#[tokio::test]
async fn an_application_is_withdrawn_by_the_applicant_or_recorded_by_a_clerk() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let mut references = Vec::new();
        let mut citizens = Vec::new();
        for _ in 0..2 {
            let citizen = Visit::new(&s);
            fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
            let (_, _, receipt) = submit(&citizen, "musterstadt").await;
            references.push(between(&receipt, "<strong id=\"reference\">", "</strong>").to_string());
            citizens.push(citizen);
        }
        let status = format!("/musterstadt/vorgang/{}", references[0]);
        let (_, _, page) = citizens[0].get(&status).await;
        let withdraw = link_to(&page, ">Antrag zurücknehmen");
        assert_eq!(withdraw, format!("{status}/zuruecknehmen"));
        let (st, _, html) = citizens[0].post(&withdraw, &withdraw, &[]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Bestätigen Sie, dass Sie den Antrag zurücknehmen."), "{html}");
        let (st, url, html) = citizens[0].post(&withdraw, &withdraw, &[("bestaetigung", "ja")]).await;
        assert_eq!((st, url.as_str()), (200, status.as_str()), "{html}");
        assert!(html.contains("Ihr Antrag ist zurückgenommen.") && !html.contains(">Antrag zurücknehmen<"), "{html}");
        // Someone without the access code cannot.
        let (_, url, _) = Visit::new(&s).get(&format!("/musterstadt/vorgang/{}/zuruecknehmen", references[1])).await;
        assert_eq!(url, "/musterstadt/status");

        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        assert!(!between(&list, "id=\"tasks\">", "</table>").contains(&references[0]), "{list}");
        let case_path = link_to(&list, &format!(">{}</a>", references[1]));
        let record = format!("{case_path}/ruecknahme");
        let (st, _, html) = clerk.post(&case_path, &record, &[("vermerk", " ")]).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("Geben Sie an, wie und wann die Rücknahme kam.") && html.contains("href=\"#vermerk\""),
            "{html}"
        );
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post(&case_path, &record, &[("vermerk", "per Brief")]).await;
        assert_eq!(st, 403);
        let (st, _, html) = clerk.post(&case_path, &record, &[("vermerk", "per Brief vom 20.11.2026")]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Die Rücknahme ist erfasst; der Vorgang ist abgeschlossen."), "{html}");
        assert!(html.contains("Rücknahme des Antrags erfasst: per Brief vom 20.11.2026"), "timeline: {html}");
        assert!(!html.contains("/ruecknahme\""), "no second time: {html}");
        let (_, _, page) = citizens[1].get(&format!("/musterstadt/vorgang/{}", references[1])).await;
        assert!(page.contains("Rücknahme des Antrags erfasst") && !page.contains(">Antrag zurücknehmen<"), "{page}");
        s.stop().await;
    }
}

/// The complete case file as ZIP: the data, every document with its bytes, the messages,
/// the timeline and the audit trail, and checksums that match; as one PDF/A; both exports
/// audited. On screen, the case file in time order, filtered by kind.
#[tokio::test]
async fn the_complete_case_file_is_downloaded_as_a_zip_with_checksums_and_as_pdf() {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let mailbox = format!("/musterstadt/vorgang/{reference}/nachrichten");
        let (st, _, _) = citizen
            .post_files(&mailbox, &[("nachricht", "Anbei die Erlaubnis.")], &[("datei", "erlaubnis.pdf", PERMIT_PDF)])
            .await;
        assert_eq!(st, 200);
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        let zip_path = format!("{case_path}/akte.zip");
        assert!(case.contains(&format!("href=\"{zip_path}\"")), "{case}");
        let res = clerk.c.get(format!("{}{zip_path}", s.base)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("Akte-{reference}.zip")));
        let bytes = res.bytes().await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            files.insert(f.name().unwrap().to_string(), content);
        }
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        for expected in ["antrag.json", "nachrichten.json", "verlauf.json", "protokoll.json", "pruefsummen.sha256"] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        assert!(String::from_utf8_lossy(&files["antrag.json"]).contains(&reference));
        assert!(String::from_utf8_lossy(&files["nachrichten.json"]).contains("Anbei die Erlaubnis."));
        assert!(String::from_utf8_lossy(&files["protokoll.json"]).contains("case.submitted"));
        let upload = files
            .iter()
            .find(|(n, _)| n.starts_with("dokumente/") && n.ends_with("erlaubnis.pdf"))
            .expect("the upload");
        assert_eq!(upload.1.as_slice(), PERMIT_PDF);
        assert!(names.iter().any(|n| n.starts_with("dokumente/") && n.contains("eingangsbestaetigung")), "{names:?}");
        // Every checksum matches its file.
        let sums = String::from_utf8(files["pruefsummen.sha256"].clone()).unwrap();
        assert_eq!(sums.lines().count(), files.len() - 1);
        for line in sums.lines() {
            let (sum, name) = line.split_once("  ").unwrap();
            assert_eq!(sum, hex_of(&Sha256::digest(&files[name])), "{name}");
        }
        // The same file as one PDF/A.
        let pdf_path = format!("{case_path}/akte.pdf");
        assert!(case.contains(&format!("href=\"{pdf_path}\"")), "{case}");
        let res = clerk.c.get(format!("{}{pdf_path}", s.base)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("Akte-{reference}.pdf")));
        let pdf = res.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-") && text.contains("pdfaid:part"), "PDF/A");
        assert!(text.contains(&format!("Akte {reference}")), "the case file's title");

        // A note to the file: required, internal, in the chronicle.
        let notes = format!("{case_path}/vermerke");
        let (st, _, html) = clerk.post(&case_path, &notes, &[("vermerk_text", " ")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Geben Sie den Vermerk ein.") && html.contains("href=\"#vermerk-text\""), "{html}");
        let note = "Telefonat mit der Antragstellerin: Erlaubnis folgt per Post.";
        let (st, _, case) = clerk.post(&case_path, &notes, &[("vermerk_text", note)]).await;
        assert_eq!(st, 200);
        assert!(case.contains("Der Vermerk ist in der Akte."), "{case}");
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(!status.contains("Telefonat"), "internal: {status}");
        let (_, _, only_notes) = clerk.get(&format!("{case_path}?art=vermerke")).await;
        let chronicle = between(&only_notes, "id=\"chronicle\">", "</ol>");
        assert!(chronicle.contains(&format!("Vermerk von Sabine Sachbearbeiterin: {note}")), "{chronicle}");
        assert!(chronicle.contains("(intern)") && !chronicle.contains("Anbei"), "{chronicle}");

        // On screen, the file in time order: receipt, the file received, the message; by kind.
        let chronicle = between(&case, "id=\"chronicle\">", "</ol>");
        let position = |needle: &str| chronicle.find(needle).unwrap_or_else(|| panic!("{needle}: {chronicle}"));
        assert!(
            position("Antrag eingegangen") < position("Nachricht der antragstellenden Person: Anbei die Erlaubnis.")
        );
        assert!(chronicle.contains("Datei eingegangen: erlaubnis.pdf"), "{chronicle}");
        let (_, _, only_messages) = clerk.get(&format!("{case_path}?art=nachrichten")).await;
        let chronicle = between(&only_messages, "id=\"chronicle\">", "</ol>");
        assert!(chronicle.contains("Anbei die Erlaubnis.") && !chronicle.contains("Antrag eingegangen"), "{chronicle}");
        assert!(only_messages.contains("href=\"?art=nachrichten#chronik\" aria-current=\"true\""), "{only_messages}");

        let tid = tenant_id(&s, "musterstadt").await;
        let formats: Vec<(String,)> = sqlx::query_as(
            "SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'case.exported' ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        assert_eq!(formats.len(), 2, "both downloads audited");
        assert!(formats[1].0.contains("\"format\":\"pdf\""), "{formats:?}");
        s.stop().await;
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn as_refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The link to a consultation in a mail to `to` (waits for the worker to send it).
async fn consultation_link_mailed(smtp: &SmtpServer, to: &str) -> (String, String) {
    link_mailed(smtp, to, "/musterstadt/beteiligung/").await
}

/// The link starting with `prefix` in the mail to `to` (waiting for the mail), and the mail.
async fn link_mailed(smtp: &SmtpServer, to: &str, prefix: &str) -> (String, String) {
    for _ in 0..200 {
        if let Some(mail) =
            smtp.mails().into_iter().map(|m| mail_text(&m)).find(|m| m.contains(&format!("X-Rcpt-To: {to}")))
        {
            let start = mail.find(prefix).expect("a link in the mail");
            let path: String = mail[start..].chars().take_while(|c| !c.is_whitespace()).collect();
            return (path, mail);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mail to {to}");
}

/// Consultation (Anhörung): a clerk asks the police about a case from the case file (the
/// form names every missing field), sharing one page of the application; the police get
/// the link by e-mail (naming nobody), see the question and only the shared page, not the
/// receipt, and answer with conditions (the form names what is missing, keeping what was
/// typed); the statement lands in the case file and the link then shows it. A second
/// consultation is withdrawn and its link is closed; an auditor can do neither.
#[tokio::test]
async fn a_clerk_consults_the_police_who_answer_through_their_link() {
    let smtp = SmtpServer::start().await;
    for (round, db) in testing::all().await.into_iter().enumerate() {
        let port = smtp.port;
        let s = TestServer::start_with(db, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            args.mail_from = Some("Stadt Musterstadt <noreply@musterstadt.example>".into());
        })
        .await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let action = format!("{case_path}/beteiligungen");

        let (st, _, html) = clerk
            .post(
                &case_path,
                &action,
                &[("stelle", ""), ("stelle_email", "polizei"), ("frage", ""), ("beteiligung_frist", "")],
            )
            .await;
        assert_eq!(st, 422);
        for message in [
            "Geben Sie die beteiligte Stelle an.",
            "Geben Sie eine E-Mail-Adresse im Format name@beispiel.de ein.",
            "Geben Sie die Frage an die Stelle ein.",
            "Geben Sie eine Frist ein.",
            "Wählen Sie mindestens einen Teil des Antrags oder die Anlagen aus.",
        ] {
            assert!(html.contains(message), "{message}: {html}");
        }
        assert!(html.contains("href=\"#stelle\"") && html.contains("href=\"#beteiligung-frist\""), "{html}");
        let police = format!("pi-nord-{round}@polizei.example");
        let question = "Bestehen Bedenken gegen den Betrieb an dieser Stelle?";
        let due = rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(14);
        let due_text = due.format("%Y-%m-%d").to_string();
        let fields = |who: &'static str, email: &str| {
            vec![
                ("stelle".to_string(), who.to_string()),
                ("stelle_email".into(), email.to_string()),
                ("frage".into(), question.to_string()),
                ("beteiligung_frist".into(), due_text.clone()),
                ("teile".into(), "betrieb".into()),
            ]
        };
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let police_fields = fields("Polizeiinspektion Nord", &police);
        let (st, _, _) = auditor.post(&case_path, &action, &as_refs(&police_fields)).await;
        assert_eq!(st, 403);
        let (st, _, html) = clerk.post(&case_path, &action, &as_refs(&police_fields)).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Die Beteiligung von Polizeiinspektion Nord ist gestartet"), "{html}");

        // The police's mail names the authority, the reference and the deadline, not the
        // applicant.
        let (link, mail) = consultation_link_mailed(&smtp, &police).await;
        assert!(mail.contains(&reference) && mail.contains(&due.format("%d.%m.%Y").to_string()), "{mail}");
        assert!(!mail.contains("Muster,") && !mail.contains("Erika") && !mail.contains(question), "{mail}");
        let police_visit = Visit::new(&s);
        let (st, _, page) = police_visit.get(&link).await;
        assert_eq!(st, 200, "{page}");
        assert!(page.contains(question) && page.contains("Marktplatz"), "{page}");
        assert!(!page.contains("Chemnitz") && !page.contains("Erika"), "only the shared page: {page}");
        // The receipt is not among what was shared.
        let (_, _, case_html) = clerk.get(&case_path).await;
        let receipt_doc = link_to(&case_html, "id=\"doc-eingangsbestaetigung\"");
        let receipt_id = receipt_doc.rsplit('/').next().unwrap();
        let (st, _, _) = police_visit.get(&format!("{link}/dokumente/{receipt_id}")).await;
        assert_eq!(st, 404);
        let (st, _, _) = police_visit.get("/musterstadt/beteiligung/0123456789abcdef0123456789abcdef01234567").await;
        assert_eq!(st, 404);

        let (st, _, page) = police_visit.post(&link, &link, &[("votum", "auflagen"), ("auflagen", "")]).await;
        assert_eq!(st, 422);
        let token = csrf(&page);
        assert!(
            page.contains("Geben Sie die Auflagen an.")
                && page.contains("Geben Sie Ihren Namen und Ihre Dienststelle an."),
            "{page}"
        );
        assert!(
            page.contains("id=\"votum-auflagen\" name=\"votum\" type=\"radio\" value=\"auflagen\" checked"),
            "{page}"
        );
        let conditions = "Zufahrt für Rettungsfahrzeuge freihalten.";
        let (st, url, page) = police_visit
            .post(&link, &link, &[("votum", "auflagen"), ("auflagen", conditions), ("name", "PHK Maier, PI Nord")])
            .await;
        assert_eq!((st, url.as_str()), (200, link.as_str()), "{page}");
        assert!(page.contains("Vielen Dank. Ihre Stellungnahme ist eingegangen"), "{page}");
        assert!(page.contains("Zustimmung mit Auflagen") && page.contains(conditions), "{page}");
        assert!(!page.contains("name=\"votum\""), "answered once: {page}");
        // A second answer (a colleague's form, opened before): the first one stands.
        let form = [("_csrf", token.as_str()), ("votum", "zustimmung"), ("name", "PHK Schmidt")];
        let res = police_visit.c.post(format!("{}{link}", police_visit.base)).form(&form).send().await.unwrap();
        let page = res.text().await.unwrap();
        assert!(page.contains("Zu dieser Anfrage liegt bereits eine Stellungnahme vor."), "{page}");
        assert!(page.contains("PHK Maier") && !page.contains("PHK Schmidt"), "{page}");

        let (_, _, html) = clerk.get(&case_path).await;
        let table = between(&html, "id=\"consultations\">", "</table>");
        assert!(
            table.contains("Zustimmung mit Auflagen") && table.contains(conditions) && table.contains("PHK Maier"),
            "{table}"
        );
        assert!(
            html.contains("Stellungnahme von Polizeiinspektion Nord eingegangen: Zustimmung mit Auflagen"),
            "{html}"
        );

        // A second consultation, withdrawn: its link (as the clerk sees it) closes.
        let fire_fields = fields("Feuerwehr", &format!("feuerwehr-{round}@musterstadt.example"));
        let (st, _, html) = clerk.post(&case_path, &action, &as_refs(&fire_fields)).await;
        assert_eq!(st, 200, "{html}");
        let row = between(&html, "Feuerwehr<br>", "</tr>");
        let fire_link = unescape(between(row, "<code class=\"consultation-link\">", "</code>"));
        let fire_link = fire_link[fire_link.find("/musterstadt/").unwrap()..].to_string();
        let (st, _, _) = Visit::new(&s).get(&fire_link).await;
        assert_eq!(st, 200);
        let withdraw = unescape(between(row, "action=\"", "\""));
        let (st, _, _) = auditor.post(&case_path, &withdraw, &[]).await;
        assert_eq!(st, 403);
        let (st, _, html) = clerk.post(&case_path, &withdraw, &[]).await;
        assert_eq!(st, 200);
        assert!(html.contains("Die Beteiligung ist zurückgenommen."), "{html}");
        let (st, _, page) = Visit::new(&s).get(&fire_link).await;
        assert_eq!(st, 410);
        assert!(page.contains("Diese Beteiligung ist beendet"), "{page}");

        let tid = tenant_id(&s, "musterstadt").await;
        let actions: Vec<(String, String)> = sqlx::query_as(
            "SELECT action, actor FROM audit_log WHERE tenant_id = $1 AND action LIKE 'consultation.%' ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        let started = actions.iter().filter(|(a, _)| a == "consultation.started").count();
        assert_eq!(started, 2, "{actions:?}");
        assert!(
            actions.contains(&("consultation.answered".into(), "participant:Polizeiinspektion Nord".into())),
            "{actions:?}"
        );
        assert!(actions.iter().any(|(a, _)| a == "consultation.withdrawn"), "{actions:?}");
        s.stop().await;
    }
}

/// Entering an application that came by post (Erfassung): the start form names what is
/// missing (service, channel, a date in the future, the scan a letter needs); with the
/// scan, the clerk fills the same form pages under a banner, confirms the check page and
/// lands in the case file with the Aktenzeichen and the access code; the case shows the
/// channel, the day of receipt and the scan, the worklist's channel filter finds it, and
/// the applicant opens the status with that code. Cancelling keeps nothing; an auditor
/// cannot enter applications.
#[tokio::test]
async fn a_clerk_enters_an_application_that_came_by_post() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let start = "/musterstadt/intern/erfassung";
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.get(start).await;
        assert_eq!(st, 403);
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        assert!(list.contains("id=\"intake-link\""), "{list}");
        let today = rathaus_domain::time::german_today(chrono::Utc::now());
        let tomorrow = (today + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        let (st, _, html) = clerk.post_files(start, &[("kanal", "post"), ("eingang", &tomorrow)], &[]).await;
        assert_eq!(st, 422);
        for message in [
            "Wählen Sie die Leistung aus.",
            "Das Eingangsdatum darf nicht in der Zukunft liegen.",
            "Laden Sie den Scan des Briefs oder Faxes hoch.",
        ] {
            assert!(html.contains(message), "{message}: {html}");
        }
        assert!(html.contains("id=\"kanal-post\" name=\"kanal\" type=\"radio\" value=\"post\" checked"), "{html}");
        // A scan that is not what it claims to be is refused, naming it.
        let received = today - chrono::Duration::days(3);
        let received_text = received.format("%Y-%m-%d").to_string();
        let fields = [("verfahren", "gewerbeanmeldung"), ("kanal", "post"), ("eingang", received_text.as_str())];
        let (st, _, html) = clerk.post_files(start, &fields, &[("scan", "brief.pdf", b"GIF89a kein PDF")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("brief.pdf"), "{html}");

        // Cancelled: nothing kept.
        let (st, url, _) = clerk.post_files(start, &fields, &[("scan", "brief.pdf", PERMIT_PDF)]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/antrag/gewerbeanmeldung/meldung"));
        let (_, _, page) = clerk.get("/musterstadt/antrag/gewerbeanmeldung/meldung").await;
        assert!(page.contains("id=\"intake-banner\"") && page.contains("Post (Brief)"), "{page}");
        let (_, url, html) = clerk.post(&url, "/musterstadt/intern/erfassung/abbrechen", &[]).await;
        assert_eq!(url, "/musterstadt/intern/");
        assert!(html.contains("Die Erfassung ist abgebrochen") && !html.contains("id=\"intake-banner\""), "{html}");

        // Entered for real: the same form, the same check page.
        let (st, url, _) = clerk.post_files(start, &fields, &[("scan", "brief.pdf", PERMIT_PDF)]).await;
        assert_eq!((st, url.as_str()), (200, "/musterstadt/antrag/gewerbeanmeldung/meldung"));
        let check = fill_application(&clerk, "musterstadt", "09999", "heilpraktiker").await;
        assert!(check.contains("id=\"intake-banner\""), "{check}");
        let (st, url, html) = submit(&clerk, "musterstadt").await;
        assert_eq!(st, 200, "{html}");
        assert!(url.starts_with("/musterstadt/intern/vorgaenge/"), "{url}");
        let flash = between(&html, "Der Antrag ist erfasst: Aktenzeichen ", ". Teilen Sie");
        let (reference, code) = flash.split_once(", Zugangscode ").unwrap();
        let (reference, code) = (reference.to_string(), code.to_string());
        assert!(!html.contains("id=\"intake-banner\""), "the entry is over");
        let received_german = received.format("%d.%m.%Y").to_string();
        assert!(html.contains("Post (Brief)") && html.contains(&format!("Eingang {received_german} ·")), "{html}");
        let documents = between(&html, "class=\"list document-list\"", "</ul>");
        assert!(documents.contains("Eingang (Scan)") && documents.contains("brief.pdf"), "{documents}");
        assert!(
            html.contains(&format!(
                "Antrag eingegangen (per Post) am {received_german}, erfasst von Sabine Sachbearbeiterin"
            )),
            "{html}"
        );
        // The tasks above the list of recent cases.
        let tasks_of = |list: &str| list.split("id=\"cases\"").next().unwrap().to_string();
        let (_, _, list) = clerk.get("/musterstadt/intern/?eingang=post").await;
        assert!(tasks_of(&list).contains(&reference), "{list}");
        assert!(list.contains(&format!("<td>{received_german}</td>")), "only the day of receipt: {list}");
        let (_, _, list) = clerk.get("/musterstadt/intern/?eingang=portal").await;
        assert!(!tasks_of(&list).contains(&reference), "{list}");

        // The applicant follows it with the code the clerk passed on.
        let applicant = Visit::new(&s);
        let (st, _, html) = applicant
            .post(
                "/musterstadt/status",
                "/musterstadt/status",
                &[("aktenzeichen", reference.as_str()), ("zugangscode", code.as_str())],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains(&reference), "{html}");

        let tid = tenant_id(&s, "musterstadt").await;
        let (actor, details): (String, String) = sqlx::query_as(
            "SELECT actor, details FROM audit_log WHERE tenant_id = $1 AND action = 'case.submitted' ORDER BY seq DESC LIMIT 1",
        )
        .bind(&tid)
        .fetch_one(s.db.store.pool())
        .await
        .unwrap();
        assert_eq!(actor, "staff:sachbearbeitung");
        assert!(details.contains("\"channel\":\"post\"") && details.contains(&received_text), "{details}");
        s.stop().await;
    }
}

/// Substitution (Vertretung): Max, who has a task, records his absence with Sabine as
/// deputy (an absence without a date, or into the past, is refused with the reason);
/// Sabine is told whom she stands in for, finds his task under „Vertretung“ and takes it
/// over; once Max is back, nothing of his is in her lists. Auditors record no absence.
#[tokio::test]
async fn a_deputy_sees_and_takes_over_the_tasks_of_an_absent_colleague() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let reference = review_case(&s).await;
        let max = colleague(&s, "max", "Max Kollege", &["gewerbeamt"]).await;
        let task_id = open_task(&s, &reference).await;
        let claim = format!("/musterstadt/intern/aufgaben/{task_id}/uebernehmen");
        let (_, _, html) = max.post("/musterstadt/intern/", &claim, &[]).await;
        assert!(html.contains("Sie bearbeiten die Aufgabe jetzt."), "{html}");

        let absence = "/musterstadt/intern/abwesenheit";
        let (_, _, html) =
            max.post("/musterstadt/intern/", absence, &[("bis", ""), ("vertretung", "sachbearbeitung")]).await;
        assert!(html.contains("Geben Sie an, bis wann Sie abwesend sind."), "{html}");
        let today = rathaus_domain::time::german_today(chrono::Utc::now());
        let yesterday = (today - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        let (_, _, html) =
            max.post("/musterstadt/intern/", absence, &[("bis", &yesterday), ("vertretung", "sachbearbeitung")]).await;
        assert!(html.contains("Das Datum darf nicht vor heute liegen."), "{html}");
        let (_, _, html) =
            max.post("/musterstadt/intern/", absence, &[("bis", &yesterday), ("vertretung", "max")]).await;
        assert!(html.contains("Abwesenheit nicht eingetragen"), "not himself: {html}");
        let until = today + chrono::Duration::days(7);
        let until_text = until.format("%Y-%m-%d").to_string();
        let until_german = until.format("%d.%m.%Y").to_string();
        let (_, _, html) =
            max.post("/musterstadt/intern/", absence, &[("bis", &until_text), ("vertretung", "sachbearbeitung")]).await;
        assert!(
            html.contains(&format!(
                "Abwesenheit bis {until_german} eingetragen; Sabine Sachbearbeiterin vertritt Sie."
            )),
            "{html}"
        );
        assert!(html.contains("id=\"absence-current\""), "{html}");

        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = sabine.get("/musterstadt/intern/").await;
        assert!(list.contains(&format!("Sie vertreten Max Kollege bis einschließlich {until_german}")), "{list}");
        assert!(between(&list, "id=\"liste-vertretung\"", "</a>").contains("(1)"), "{list}");
        let (_, _, list) = sabine.get("/musterstadt/intern/?liste=vertretung").await;
        let row = between(&list, &format!(">{reference}</a>"), "</tr>");
        assert!(row.contains(&format!("/intern/aufgaben/{task_id}/uebernehmen")), "she may take it over: {row}");
        let (_, _, html) =
            sabine.post("/musterstadt/intern/", &claim, &[("zurueck", "/musterstadt/intern/?liste=meine")]).await;
        assert!(html.contains("Sie bearbeiten die Aufgabe jetzt."), "{html}");
        assert!(between(&html, "id=\"tasks\">", "</table>").contains(&reference), "now hers: {html}");

        // Back: the deputy's list is gone.
        let (_, _, html) = max.post("/musterstadt/intern/", absence, &[("_action", "beenden")]).await;
        assert!(html.contains("Ihre Abwesenheit ist beendet."), "{html}");
        let (_, _, list) = sabine.get("/musterstadt/intern/").await;
        assert!(!list.contains("id=\"liste-vertretung\"") && !list.contains("Sie vertreten"), "{list}");
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post("/musterstadt/intern/", absence, &[("_action", "beenden")]).await;
        assert_eq!(st, 403);

        // Max falls ill: the team lead records his absence; a clerk may not do that for him.
        let (st, _, _) = sabine
            .post(
                "/musterstadt/intern/",
                absence,
                &[("fuer", "max"), ("bis", &until_text), ("vertretung", "sachbearbeitung")],
            )
            .await;
        assert_eq!(st, 403, "only a team lead records a colleague's absence");
        let lead = login(&s, "musterstadt", "teamleitung").await;
        let (_, _, list) = lead.get("/musterstadt/intern/").await;
        assert!(between(&list, "id=\"fuer\"", "</select>").contains("Max Kollege"), "{list}");
        let (_, _, html) = lead
            .post("/musterstadt/intern/", absence, &[("fuer", "max"), ("bis", &until_text), ("vertretung", "max")])
            .await;
        assert!(html.contains("Abwesenheit nicht eingetragen"), "not his own deputy: {html}");
        let (_, _, html) = lead
            .post(
                "/musterstadt/intern/",
                absence,
                &[("fuer", "max"), ("bis", &until_text), ("vertretung", "sachbearbeitung")],
            )
            .await;
        assert!(
            html.contains(&format!("Max Kollege ist bis einschließlich {until_german} als abwesend eingetragen; es vertritt Sabine Sachbearbeiterin.")),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                "Max Kollege ist bis einschließlich {until_german} abwesend; es vertritt Sabine Sachbearbeiterin."
            )),
            "{html}"
        );
        let (_, _, list) = sabine.get("/musterstadt/intern/").await;
        assert!(list.contains("Sie vertreten Max Kollege"), "{list}");
        let (_, _, html) = lead.post("/musterstadt/intern/", absence, &[("fuer", "max"), ("_action", "beenden")]).await;
        assert!(html.contains("Die Abwesenheit von Max Kollege ist beendet."), "{html}");

        let tid = tenant_id(&s, "musterstadt").await;
        let actions: Vec<(String,)> = sqlx::query_as(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND action IN ('staff.absence', 'task.taken_over') ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(actions, ["staff.absence", "task.taken_over", "staff.absence", "staff.absence", "staff.absence"]);
        s.stop().await;
    }
}

/// Bulk actions in the worklist: nothing chosen or no action is refused with the reason;
/// Sabine takes two tasks at once; Max cannot give them back (skipped and counted); a
/// resubmission date is checked once and set on both; the team lead assigns both to Max.
#[tokio::test]
async fn bulk_actions_change_each_chosen_task_as_its_own_button_would() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let first = review_case(&s).await;
        let second = review_case(&s).await;
        let tasks = [open_task(&s, &first).await, open_task(&s, &second).await];
        let max = colleague(&s, "max", "Max Kollege", &["gewerbeamt"]).await;
        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let bulk = "/musterstadt/intern/aufgaben/sammelaktion";
        let list = "/musterstadt/intern/";
        let (_, _, html) = sabine.get(list).await;
        assert!(html.contains("form=\"sammel\"") && html.contains("id=\"sammel\""), "{html}");
        let (_, _, html) = sabine.post(list, bulk, &[("aktion", "uebernehmen")]).await;
        assert!(html.contains("Nichts geändert: Wählen Sie mindestens eine Aufgabe aus."), "{html}");
        let (_, _, html) = sabine.post(list, bulk, &[("aufgaben", &tasks[0])]).await;
        assert!(html.contains("Wählen Sie aus, was mit den Aufgaben geschehen soll."), "{html}");
        let chosen = |action: &'static str| -> Vec<(&str, &str)> {
            vec![("aufgaben", tasks[0].as_str()), ("aufgaben", tasks[1].as_str()), ("aktion", action)]
        };
        let (_, _, html) = sabine.post(list, bulk, &chosen("uebernehmen")).await;
        assert!(html.contains("2 von 2 Aufgaben übernommen."), "{html}");
        let (_, _, html) = max.post(list, bulk, &chosen("freigeben")).await;
        assert!(html.contains("0 von 2 Aufgaben für das Team freigegeben. 2 übersprungen"), "{html}");
        let mut past = chosen("wiedervorlage");
        past.push(("datum", "2020-01-01"));
        let (_, _, html) = sabine.post(list, bulk, &past).await;
        assert!(html.contains("Die Wiedervorlage muss nach dem heutigen Tag liegen."), "{html}");
        let soon_date =
            (rathaus_domain::time::german_today(chrono::Utc::now()) + chrono::Duration::days(3)).to_string();
        let mut later = chosen("wiedervorlage");
        later.push(("datum", soon_date.as_str()));
        let (_, _, html) = sabine.post(list, bulk, &later).await;
        assert!(html.contains("Wiedervorlage bei 2 von 2 Aufgaben gesetzt."), "{html}");
        let lead = login(&s, "musterstadt", "teamleitung").await;
        let mut assign = chosen("zuweisen");
        assign.push(("an", "max"));
        let (_, _, html) = sabine.post(list, bulk, &assign).await;
        assert!(html.contains("Nichts geändert: Zuweisen kann nur die Teamleitung."), "{html}");
        let (_, _, html) = lead.post(list, bulk, &assign).await;
        assert!(html.contains("2 von 2 Aufgaben zugewiesen."), "{html}");
        let (_, _, html) = max.get("/musterstadt/intern/?liste=meine").await;
        let mine = between(&html, "id=\"tasks\">", "</table>");
        assert!(mine.contains(&first) && mine.contains(&second), "{mine}");
        let tid = tenant_id(&s, "musterstadt").await;
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action IN ('task.claimed', 'task.follow_up', 'task.assigned')",
        )
        .bind(&tid)
        .fetch_one(s.db.store.pool())
        .await
        .unwrap();
        assert_eq!(n, 6, "each change audited on its own");
        s.stop().await;
    }
}

/// Searching all cases from the worklist: by a word of the application, by the applicant
/// and by the Aktenzeichen, also once the case is decided; nothing of another town.
#[tokio::test]
async fn clerks_find_any_case_of_their_town_by_its_words() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let reference = review_case(&s).await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "software").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let decided = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let cases_of = |html: &str| between(html, "id=\"cases-heading\"", "</table>").to_string();
        let (_, _, html) = sabine.get("/musterstadt/intern/?vorgang=Vertrieb+Softw").await;
        let found = cases_of(&html);
        assert!(found.contains(&reference) && found.contains(&decided), "{found}");
        assert!(found.contains("Vorgänge mit „Vertrieb Softw“ (2)"), "{found}");
        let (_, _, html) = sabine.get(&format!("/musterstadt/intern/?vorgang={decided}")).await;
        let found = cases_of(&html);
        assert!(found.contains(&decided) && !found.contains(&reference), "{found}");
        let (_, _, html) = sabine.get("/musterstadt/intern/?vorgang=xyzzy").await;
        assert!(html.contains("Keine Vorgänge gefunden."), "{html}");
        let other = login(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (_, _, html) = other.get("/beispielgemeinde/intern/?vorgang=Muster").await;
        assert!(!html.contains(&reference) && !html.contains(&decided), "{html}");
        s.stop().await;
    }
}

/// Four-eyes principle: with the procedure's parameter `vier_augen` set by the town, Sabine's
/// decision is only a proposal; she cannot approve it herself; Max sends it back (a reason
/// is required), Sabine proposes again and Max approves: the case is decided. Audited.
#[tokio::test]
async fn with_four_eyes_a_second_person_approves_the_decision() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let tid = tenant_id(&s, "musterstadt").await;
        let rt = &s.assembled.runtime;
        let mut tx = rt.store.begin().await.unwrap();
        let activation =
            rathaus_store::tenants::activation(&mut tx, &tid, "gewerbeanmeldung").await.unwrap().expect("active");
        let mut parameters = activation.parameters.clone();
        parameters["vier_augen"] = serde_json::json!(true);
        rathaus_store::tenants::activate_procedure(&mut tx, &tid, "gewerbeanmeldung", &parameters, chrono::Utc::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let reference = review_case(&s).await;
        let task_id = open_task(&s, &reference).await;
        let max = colleague(&s, "max", "Max Kollege", &["gewerbeamt"]).await;
        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = sabine.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let decide = format!("/musterstadt/intern/aufgaben/{task_id}/entscheidung");
        let (_, _, html) = sabine.post(&case_path, &decide, &[("ergebnis", "bestaetigen")]).await;
        assert!(html.contains("Die Entscheidung ist zur Freigabe vorgeschlagen"), "{html}");
        assert!(html.contains("Wartet auf die Freigabe durch eine zweite Person."), "{html}");
        assert!(!html.contains(&decide), "no second decision meanwhile: {html}");
        let approve = format!("/musterstadt/intern/aufgaben/{task_id}/vorschlag/annehmen");
        let send_back = format!("/musterstadt/intern/aufgaben/{task_id}/vorschlag/zurueckweisen");
        let (st, _, _) = sabine.post(&case_path, &approve, &[]).await;
        assert_eq!(st, 403, "not her own proposal");

        let (_, _, html) = max.get(&case_path).await;
        assert!(html.contains("Vorgeschlagene Entscheidung:") && html.contains("Sabine Sachbearbeiterin"), "{html}");
        let (_, _, html) = max.post(&case_path, &send_back, &[("grund", "kurz")]).await;
        assert!(html.contains("Begründen Sie in mindestens 10 Zeichen"), "{html}");
        let (_, _, html) =
            max.post(&case_path, &send_back, &[("grund", "Die Erlaubnis fehlt noch in der Akte.")]).await;
        assert!(html.contains("Der Vorschlag ist zurückgegeben"), "{html}");
        let (_, _, html) = sabine.get(&case_path).await;
        assert!(html.contains(&decide) && html.contains("Die Erlaubnis fehlt noch in der Akte."), "{html}");

        let reason = "Die Erlaubnis nach dem Heilpraktikergesetz fehlt.";
        let (_, _, html) = sabine.post(&case_path, &decide, &[("ergebnis", "ablehnen"), ("begruendung", reason)]).await;
        assert!(html.contains("zur Freigabe vorgeschlagen"), "{html}");
        let (_, _, html) = max.post(&case_path, &approve, &[]).await;
        assert!(html.contains("Die Entscheidung ist freigegeben."), "{html}");
        let mut status = String::new();
        for _ in 0..100 {
            let (_, _, html) = max.get(&case_path).await;
            status = between(&html, "id=\"case-status\">", "</strong>").to_string();
            if status == "Abgelehnt" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, "Abgelehnt");
        let actions: Vec<(String,)> = sqlx::query_as(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'task.%' AND action NOT IN ('task.created') ORDER BY seq",
        )
        .bind(&tid)
        .fetch_all(s.db.store.pool())
        .await
        .unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
        assert!(
            actions.ends_with(&[
                "task.proposed",
                "task.proposal_rejected",
                "task.proposed",
                "task.completed",
                "task.approved"
            ]),
            "{actions:?}"
        );
        s.stop().await;
    }
}

/// Deadlines: a case in review has the statutory one of § 15 GewO and the town's target,
/// shown with their traffic lights on the dashboard, in the worklist and in the case file;
/// filters by light and kind; a passed one is red; deciding meets them; another town sees
/// none of it.
#[tokio::test]
async fn the_deadlines_dashboard_shows_each_cases_deadlines_with_their_traffic_light() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let reference = review_case(&s).await;
        let (_, url, _) = Visit::new(&s).get("/musterstadt/intern/fristen").await;
        assert_eq!(url, "/musterstadt/intern/anmelden", "staff only");
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (st, _, html) = clerk.get("/musterstadt/intern/fristen").await;
        assert_eq!(st, 200, "{html}");
        let html = unescape(&html);
        let statutory = between(&html, &format!("id=\"frist-{reference}-empfangsbescheinigung\">"), "</tr>");
        assert!(
            statutory.contains("Empfangsbescheinigung binnen drei Tagen")
                && statutory.contains("gesetzliche Frist · § 15 Abs. 1 GewO")
                && statutory.contains("im Plan"),
            "{statutory}"
        );
        let target = between(&html, &format!("id=\"frist-{reference}-bearbeitungsziel\">"), "</tr>");
        assert!(target.contains("Bearbeitungsziel der Gemeinde") && target.contains("noch "), "{target}");
        assert!(html.contains("im Plan <span class=\"count\">(2)</span>"), "{html}");
        let (_, _, red) = clerk.get("/musterstadt/intern/fristen?ampel=rot").await;
        assert!(red.contains("id=\"no-deadlines\""), "{red}");
        let (_, _, targets) = clerk.get("/musterstadt/intern/fristen?art=ziel").await;
        assert!(targets.contains("bearbeitungsziel\">") && !targets.contains("empfangsbescheinigung\">"), "{targets}");
        let (_, _, mine) = clerk.get("/musterstadt/intern/fristen?meine=1").await;
        assert!(mine.contains("id=\"no-deadlines\""), "nobody has taken the task yet: {mine}");

        // The last day of the target has passed: red everywhere, and counted in the link.
        sqlx::query("UPDATE case_deadlines SET warn_on = '2020-01-01', due_on = '2020-01-02' WHERE deadline_key = 'bearbeitungsziel'")
            .execute(s.db.store.pool())
            .await
            .unwrap();
        let (_, _, red) = clerk.get("/musterstadt/intern/fristen?ampel=rot").await;
        let row = between(&red, &format!("id=\"frist-{reference}-bearbeitungsziel\">"), "</tr>");
        assert!(row.contains("abgelaufen") && row.contains("02.01.2020") && row.contains("Tagen abgelaufen"), "{row}");
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        assert!(list.contains("Fristen (1 abgelaufen)"), "{list}");
        let row = between(&list, &format!(">{reference}</a>"), "</tr>");
        assert!(row.contains("light-rot") && row.contains("Bearbeitungsziel der Gemeinde: 02.01.2020"), "{row}");
        let (_, _, only_red) = clerk.get("/musterstadt/intern/?ampel=rot").await;
        assert!(only_red.contains(&format!(">{reference}</a>")), "{only_red}");
        let (_, _, only_green) = clerk.get("/musterstadt/intern/?ampel=gruen").await;
        let tasks = between(&only_green, "id=\"tasks-heading\"", "id=\"cases-heading\"");
        assert!(!tasks.contains(&format!(">{reference}</a>")), "{tasks}");
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        let section = unescape(between(&case, "id=\"case-deadlines\">", "</table>"));
        assert!(section.contains("§ 15 Abs. 1 GewO") && section.contains("light-rot"), "{section}");

        // Another town's staff see nothing of it.
        let other = login(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (_, _, html) = other.get("/beispielgemeinde/intern/fristen").await;
        assert!(!html.contains(&reference) && html.contains("id=\"no-deadlines\""), "{html}");

        // Deciding the case meets its deadlines: off the dashboard, and so marked in the file.
        let task_id = open_task(&s, &reference).await;
        let decide = format!("/musterstadt/intern/aufgaben/{task_id}/entscheidung");
        let reason = "Heilpraktiker üben einen freien Beruf aus.";
        let (_, _, html) = clerk.post(&case_path, &decide, &[("ergebnis", "ablehnen"), ("begruendung", reason)]).await;
        assert!(!html.contains(&decide), "{html}");
        let (_, _, html) = clerk.get("/musterstadt/intern/fristen").await;
        assert!(!html.contains(&reference), "{html}");
        let (_, _, case) = clerk.get(&case_path).await;
        let section = between(&case, "id=\"case-deadlines\">", "</table>");
        assert!(section.contains("fristgerecht erledigt") && section.contains("nach Ablauf erledigt"), "{section}");
        s.stop().await;
    }
}

/// Deciding with text blocks and a preview: the procedure's blocks are inserted into the
/// reason to be edited (nothing is decided), the notice is previewed as PDF (nothing is
/// decided either), the form's problems are named, then the decision is taken.
#[tokio::test]
async fn a_clerk_inserts_text_blocks_previews_the_notice_and_decides() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let reference = review_case(&s).await;
        let task_id = open_task(&s, &reference).await;
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        assert!(case.contains("id=\"baustein-freier_beruf\"") && case.contains("Freier Beruf, kein Gewerbe"), "{case}");
        assert!(!case.contains("ergebnis-auflagen"), "a Gewerbeanzeige takes no conditions");
        let decide = format!("/musterstadt/intern/aufgaben/{task_id}/entscheidung");
        let preview = format!("/musterstadt/intern/aufgaben/{task_id}/vorschau");
        assert!(case.contains(&format!("formaction=\"{preview}\"")) || unescape(&case).contains(&preview), "{case}");

        let (st, _, html) = clerk
            .post(
                &case_path,
                &decide,
                &[
                    ("ergebnis", "ablehnen"),
                    ("begruendung", "Nach Prüfung:"),
                    ("baustein", "freier_beruf"),
                    ("_aktion", "bausteine"),
                ],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        let reason = between(&html, "name=\"begruendung\"", "</textarea>");
        assert!(reason.contains("Nach Prüfung:\n\nDie angezeigte Tätigkeit ist kein Gewerbe"), "{reason}");
        assert!(html.contains("value=\"ablehnen\" checked"), "the choice is kept");
        assert_eq!(open_task(&s, &reference).await, task_id, "nothing decided");

        let (st, _, html) = clerk.post(&case_path, &preview, &[("begruendung", "kurz")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("Wählen Sie, ob Sie bestätigen oder zurückweisen."), "{html}");
        let (st, _, pdf) = clerk
            .post(
                &case_path,
                &preview,
                &[("ergebnis", "ablehnen"), ("begruendung", "Die Tätigkeit ist ein freier Beruf.")],
            )
            .await;
        assert_eq!(st, 200);
        assert!(pdf.starts_with("%PDF-"), "a PDF");
        assert_eq!(open_task(&s, &reference).await, task_id, "the preview decided nothing");
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor
            .post(
                &case_path,
                &preview,
                &[("ergebnis", "ablehnen"), ("begruendung", "Die Tätigkeit ist ein freier Beruf.")],
            )
            .await;
        assert_eq!(st, 403, "auditors neither decide nor preview");

        let (_, _, html) = clerk
            .post(
                &case_path,
                &decide,
                &[("ergebnis", "ablehnen"), ("begruendung", "Die Tätigkeit ist ein freier Beruf.")],
            )
            .await;
        assert!(html.contains("Die Entscheidung ist gespeichert."), "{html}");
        s.stop().await;
    }
}

/// Correcting the data: a clerk changes a page of the application with a reason, under the
/// form's rules; the earlier version stays in the file, the applicant is told which answers
/// were corrected; unchanged or unreasoned changes are refused; auditors cannot; a finished
/// case can no longer be changed.
#[tokio::test]
async fn a_clerk_corrects_the_applicants_data_with_a_reason_and_the_old_version_is_kept() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let (_, _, case) = clerk.get(&case_path).await;
        let page = format!("{case_path}/angaben/person");
        assert!(unescape(&case).contains(&format!("href=\"{page}\"")), "{case}");
        let (st, _, form) = clerk.get(&page).await;
        assert_eq!(st, 200, "{form}");
        assert!(form.contains("value=\"Muster\"") && form.contains("value=\"Chemnitz\""), "prefilled: {form}");
        let person = |name: &'static str, reason: &'static str| {
            vec![
                ("inhaber.familienname", name),
                ("inhaber.vornamen", "Erika"),
                ("inhaber.geburtsdatum.tag", "12"),
                ("inhaber.geburtsdatum.monat", "4"),
                ("inhaber.geburtsdatum.jahr", "1985"),
                ("inhaber.geburtsort", "Chemnitz"),
                ("inhaber.staatsangehoerigkeit[0]", "DE"),
                ("inhaber.anschrift.strasse", "Hauptstraße"),
                ("inhaber.anschrift.hausnummer", "1"),
                ("inhaber.anschrift.plz", "09999"),
                ("inhaber.anschrift.ort", "Musterstadt"),
                ("aenderungsgrund", reason),
                ("_action", "speichern"),
            ]
        };
        let (st, _, html) = clerk.post(&page, &page, &person("Mustermann", "kurz")).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("Begründen Sie die Änderung (mindestens 10 Zeichen).")
                && html.contains("value=\"Mustermann\""),
            "{html}"
        );
        let (st, _, html) = clerk.post(&page, &page, &person("", "Schreibfehler im Namen, telefonisch geklärt.")).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("href=\"#f-inhaber-familienname\">Geben Sie „Familienname“ an."),
            "the field is named: {html}"
        );
        let (st, _, html) =
            clerk.post(&page, &page, &person("Muster", "Schreibfehler im Namen, telefonisch geklärt.")).await;
        assert_eq!(st, 422);
        assert!(html.contains("nichts geändert"), "{html}");
        let (st, url, html) =
            clerk.post(&page, &page, &person("Mustermann", "Schreibfehler im Namen, telefonisch geklärt.")).await;
        assert_eq!((st, url.as_str()), (200, case_path.as_str()), "{html}");
        assert!(html.contains("Die Angaben sind geändert (Fassung 2, 1 Angabe(n))."), "{html}");
        let history = between(&html, "id=\"corrections\">", "</table>");
        assert!(
            history.contains("<del>Muster</del> → <ins>Mustermann</ins>")
                && history.contains("Schreibfehler im Namen, telefonisch geklärt.")
                && history.contains("staff:sachbearbeitung"),
            "{history}"
        );
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        assert!(list.contains("Erika Mustermann"), "the applicant's name follows the data: {list}");
        let (_, _, zip) = clerk.get(&format!("{case_path}/akte.zip")).await;
        assert!(zip.contains("aenderungen.json"), "the corrections are in the file's ZIP");
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}")).await;
        assert!(status.contains("Die Behörde hat Ihre Angaben berichtigt: Familienname"), "{status}");
        let (_, _, found) = clerk.get("/musterstadt/intern/?vorgang=Mustermann").await;
        assert!(between(&found, "id=\"cases-heading\"", "</table>").contains(&reference), "search finds the new name");

        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.get(&page).await;
        assert_eq!(st, 403);
        let other = login(&s, "beispielgemeinde", "sachbearbeitung").await;
        let (st, _, _) = other.get(&page.replace("/musterstadt/", "/beispielgemeinde/")).await;
        assert_eq!(st, 404, "another town's case");

        // Decided, the case's data stays as it is.
        let task_id = open_task(&s, &reference).await;
        let decide = format!("/musterstadt/intern/aufgaben/{task_id}/entscheidung");
        clerk
            .post(&case_path, &decide, &[("ergebnis", "ablehnen"), ("begruendung", "Freier Beruf, keine Anzeige.")])
            .await;
        let (_, url, html) = clerk.get(&page).await;
        assert_eq!(url, case_path);
        assert!(html.contains("Der Vorgang ist abgeschlossen; seine Angaben lassen sich nicht mehr ändern."), "{html}");
        s.stop().await;
    }
}

/// Forwarding to the competent authority: the form's problems are named; forwarded, the
/// case is closed, the applicant reads to whom and why in the mailbox, the authority is
/// mailed a link that shows the application and its attachments and records the first
/// opening; the link of another town or a wrong token shows nothing.
#[tokio::test]
async fn a_clerk_forwards_an_application_to_the_competent_authority() {
    let smtp = SmtpServer::start().await;
    for (round, db) in testing::all().await.into_iter().enumerate() {
        let port = smtp.port;
        let s = TestServer::start_with(db, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            args.mail_from = Some("Stadt Musterstadt <noreply@musterstadt.example>".into());
        })
        .await;
        let citizen = Visit::new(&s);
        fill_application(&citizen, "musterstadt", "09999", "heilpraktiker").await;
        let (_, _, receipt) = submit(&citizen, "musterstadt").await;
        let reference = between(&receipt, "<strong id=\"reference\">", "</strong>").to_string();
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = clerk.get("/musterstadt/intern/").await;
        let case_path = link_to(&list, &format!(">{reference}</a>"));
        let action = format!("{case_path}/abgabe");
        let (st, _, html) =
            clerk.post(&case_path, &action, &[("abgabe_email", "kein-mail"), ("abgabe_grund", "kurz")]).await;
        assert_eq!(st, 422);
        assert!(
            html.contains("Geben Sie die zuständige Stelle an.")
                && html.contains("Geben Sie eine E-Mail-Adresse wie name@beispiel.de an.")
                && html.contains("Begründen Sie die Abgabe (mindestens 10 Zeichen).")
                && html.contains("href=\"#abgabe-stelle\""),
            "{html}"
        );
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, _) = auditor.post(&case_path, &action, &[]).await;
        assert_eq!(st, 403);

        let to = format!("gewerbeamt-{round}@nachbarstadt.example");
        let reason = "Die Betriebsstätte liegt in Nachbarstadt (§ 14 Abs. 1 GewO).";
        let fields = [
            ("abgabe_stelle", "Gewerbeamt Nachbarstadt"),
            ("abgabe_email", to.as_str()),
            ("abgabe_grund", reason),
            ("abgabe_anlagen", "ja"),
        ];
        let (st, _, html) = clerk.post(&case_path, &action, &fields).await;
        assert_eq!(st, 200, "{html}");
        assert!(
            html.contains("Der Antrag ist an Gewerbeamt Nachbarstadt abgegeben; der Vorgang ist abgeschlossen."),
            "{html}"
        );
        assert!(html.contains("id=\"case-status\">Abgeschlossen") && html.contains("noch nicht abgerufen"), "{html}");
        assert!(open_task_count(&s, &reference).await == 0, "the process stopped");
        let (_, _, status) = citizen.get(&format!("/musterstadt/vorgang/{reference}/nachrichten")).await;
        assert!(
            unescape(&status).contains("nicht unsere Behörde zuständig, sondern: Gewerbeamt Nachbarstadt")
                && status.contains("Nachbarstadt (§ 14 Abs. 1 GewO)"),
            "{status}"
        );

        let (link, mail) = link_mailed(&smtp, &to, "/musterstadt/abgabe/").await;
        assert!(mail.contains(&reference) && !mail.contains("Erika"), "no personal data in the mail: {mail}");
        let authority = Visit::new(&s);
        let (st, _, page) = authority.get(&link).await;
        assert_eq!(st, 200, "{page}");
        let page = unescape(&page);
        assert!(page.contains("Abgegebener Antrag") && page.contains("Muster") && page.contains(reason), "{page}");
        let (_, _, file) = clerk.get(&case_path).await;
        assert!(file.contains("id=\"forwarding-state\">abgerufen"), "the first opening is recorded: {file}");
        let (st, _, _) = authority.get(&format!("/musterstadt/abgabe/{}", "0".repeat(40))).await;
        assert_eq!(st, 404);
        let (st, _, _) = authority.get(&link.replace("/musterstadt/", "/beispielgemeinde/")).await;
        assert_eq!(st, 404, "another town's portal does not know the link");
        let (st, _, _) = clerk.post(&case_path, &action, &fields).await;
        assert_eq!(st, 200, "a second forwarding is refused with a message");
        s.stop().await;
    }
}

async fn open_task_count(s: &TestServer, reference: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id
         WHERE c.reference = $1 AND t.status = 'open'",
    )
    .bind(reference)
    .fetch_one(s.db.store.pool())
    .await
    .unwrap();
    n
}

/// The tenant's administration: a tenant admin creates a staff account (its first password
/// shown once works), changes its role and address, sets a new password, cannot lock
/// themselves out; sets a fee and a processing target of a procedure (typed values
/// checked, the field named), switches the procedure off and on again; auditors read,
/// clerks see nothing of it.
#[tokio::test]
async fn a_tenant_admin_manages_staff_and_the_towns_procedure_settings() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let admin = login(&s, "musterstadt", "admin").await;
        let (st, _, page) = admin.get("/musterstadt/intern/verwaltung").await;
        assert_eq!(st, 200, "{page}");
        assert!(page.contains("Gewerbeanzeige") && page.contains("Sabine Sachbearbeiterin"), "{page}");
        let create = "/musterstadt/intern/verwaltung/mitarbeitende";
        let (st, _, html) = admin
            .post(
                "/musterstadt/intern/verwaltung",
                create,
                &[
                    ("name", ""),
                    ("benutzername", "Max Neu"),
                    ("rolle", "clerk"),
                    ("einheiten", "Gewerbe Amt"),
                    ("email", "kein"),
                ],
            )
            .await;
        assert_eq!(st, 422);
        assert!(
            html.contains("href=\"#neu-name\"")
                && html.contains("Benutzername „Max Neu“")
                && html.contains("Organisationseinheit „Gewerbe“")
                && html.contains("E-Mail-Adresse „kein“ ist ungültig"),
            "{html}"
        );
        let fields = [
            ("name", "Max Neumann"),
            ("benutzername", "m.neumann"),
            ("rolle", "clerk"),
            ("einheiten", "gewerbeamt"),
            ("email", "m.neumann@musterstadt.example"),
        ];
        let (st, _, html) = admin.post("/musterstadt/intern/verwaltung", create, &fields).await;
        assert_eq!(st, 200, "{html}");
        let password = between(&html, "Erstes Passwort (nur jetzt sichtbar): ", "<").trim().to_string();
        assert_eq!(password.len(), 16, "{html}");
        let (st, _, html) = admin.post("/musterstadt/intern/verwaltung", create, &fields).await;
        assert_eq!(st, 422);
        assert!(html.contains("Den Benutzer „m.neumann“ gibt es bei „musterstadt“ schon"), "{html}");
        let max = Visit::new(&s);
        let signin = "/musterstadt/intern/anmelden";
        let (_, url, _) = max.post(signin, signin, &[("benutzername", "m.neumann"), ("passwort", &password)]).await;
        assert_eq!(url, "/musterstadt/intern/", "the first password works");

        // Made a team lead; then locked.
        let (_, _, list) = admin.get("/musterstadt/intern/verwaltung").await;
        let person = link_to(&list, ">Max Neumann</a>");
        let edit = |role: &'static str, active: &'static str| {
            vec![
                ("name", "Max Neumann"),
                ("rolle", role),
                ("einheiten", "gewerbeamt, ordnungsamt"),
                ("email", ""),
                ("aktiv", active),
                ("_aktion", "speichern"),
            ]
        };
        let (_, _, html) = admin.post(&person, &person, &edit("team_lead", "ja")).await;
        assert!(
            html.contains("Das Konto „m.neumann“ ist gespeichert.") && html.contains("value=\"team_lead\" selected"),
            "{html}"
        );
        assert!(html.contains("value=\"gewerbeamt, ordnungsamt\""), "{html}");
        let (_, _, html) = admin.post(&person, &person, &[("_aktion", "passwort")]).await;
        let new_password = between(&html, "(nur jetzt sichtbar): ", "<").trim().to_string();
        assert!(new_password.len() == 16 && new_password != password, "{html}");
        admin.post(&person, &person, &edit("team_lead", "")).await;
        let again = Visit::new(&s);
        let (st, url, _) =
            again.post(signin, signin, &[("benutzername", "m.neumann"), ("passwort", &new_password)]).await;
        assert!(st == 422 || url.ends_with("/anmelden"), "a locked account cannot sign in");
        let (_, url, _) = max.get("/musterstadt/intern/").await;
        assert_eq!(url, signin, "a locked account's session ends at its next step");
        // An admin cannot take their own administration away.
        let mut conn = s.assembled.runtime.store.conn().await.unwrap();
        let tid = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap().tenant_id;
        let me = rathaus_store::staff::by_username(&mut conn, &tid, "admin").await.unwrap().unwrap();
        let actions: Vec<String> =
            rathaus_store::audit::for_object(&mut conn, &tid, "staff", person.rsplit('/').next().unwrap())
                .await
                .unwrap()
                .into_iter()
                .map(|a| format!("{} {}", a.actor, a.action))
                .collect();
        drop(conn);
        assert_eq!(
            actions,
            [
                "staff:admin staff.created",
                "staff:m.neumann staff.login",
                "staff:admin staff.changed",
                "staff:admin staff.password_reset",
                "staff:admin staff.changed"
            ]
        );
        let mine = format!("/musterstadt/intern/verwaltung/mitarbeitende/{}", me.staff_id);
        let (_, _, html) = admin
            .post(
                &mine,
                &mine,
                &[("name", &me.display_name), ("rolle", "clerk"), ("aktiv", "ja"), ("_aktion", "speichern")],
            )
            .await;
        assert!(html.contains("nicht selbst entziehen"), "{html}");

        // The town's fee and processing target.
        let settings = "/musterstadt/intern/verwaltung/verfahren/gewerbeanmeldung";
        let (_, _, form) = admin.get(settings).await;
        assert!(form.contains("id=\"p-gebuehr_anmeldung\"") && form.contains("Standard: 26,00"), "{form}");
        let (st, _, html) = admin
            .post(
                settings,
                settings,
                &[("aktiv", "ja"), ("p.gebuehr_anmeldung", "viel"), ("p.bearbeitungsziel", "PT4H")],
            )
            .await;
        assert_eq!(st, 422, "{html}");
        assert!(
            html.contains("href=\"#p-gebuehr_anmeldung\"") && html.contains("href=\"#p-bearbeitungsziel\""),
            "each wrong value is named: {html}"
        );
        let (st, _, html) = admin
            .post(
                settings,
                settings,
                &[("aktiv", "ja"), ("p.gebuehr_anmeldung", "31,50"), ("p.bearbeitungsziel", "P5D")],
            )
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("value=\"31,50\"") && html.contains("value=\"P5D\""), "{html}");
        let rt = &s.assembled.runtime;
        let tenant = {
            let mut conn = rt.store.conn().await.unwrap();
            rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap()
        };
        let active = rt.active_procedure(&tenant, "gewerbeanmeldung").await.unwrap();
        assert_eq!(
            (active.parameters["gebuehr_anmeldung"].clone(), active.parameters["bearbeitungsziel"].clone()),
            (serde_json::json!(31.5), serde_json::json!("P5D"))
        );
        // The town routes the review tasks to its public-order office: new cases' tasks go
        // there, and a clerk of the trade office no longer sees them; a wrong unit is named.
        let (st, _, html) = admin
            .post(
                settings,
                settings,
                &[("aktiv", "ja"), ("p.gebuehr_anmeldung", "31,50"), ("p.zustaendige_einheit", "Ordnungs Amt")],
            )
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("href=\"#p-zustaendige_einheit\""), "{html}");
        admin
            .post(
                settings,
                settings,
                &[("aktiv", "ja"), ("p.gebuehr_anmeldung", "31,50"), ("p.zustaendige_einheit", "ordnungsamt")],
            )
            .await;
        let reference = review_case(&s).await;
        let (groups,): (String,) = sqlx::query_as(
            "SELECT t.candidate_groups FROM tasks t JOIN cases c ON c.tenant_id = t.tenant_id AND c.case_id = t.case_id WHERE c.reference = $1",
        )
        .bind(&reference)
        .fetch_one(s.db.store.pool())
        .await
        .unwrap();
        assert_eq!(groups, "ordnungsamt");
        let sabine = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, list) = sabine.get("/musterstadt/intern/").await;
        assert!(!between(&list, "id=\"tasks-heading\"", "id=\"cases-heading\"").contains(&reference), "{list}");

        // Switched off, the portal no longer offers it; switched on again, it does.
        admin.post(settings, settings, &[("p.gebuehr_anmeldung", "31,50")]).await;
        let (st, _, _) = Visit::new(&s).get("/musterstadt/leistungen/gewerbeanmeldung").await;
        assert_eq!(st, 404, "not offered");
        admin.post(settings, settings, &[("aktiv", "ja"), ("p.gebuehr_anmeldung", "31,50")]).await;
        let (st, _, _) = Visit::new(&s).get("/musterstadt/leistungen/gewerbeanmeldung").await;
        assert_eq!(st, 200);

        // The town's look and contact: unreadable colours and a wrong IBAN are named; a
        // good change shows in the portal at once.
        let look = "/musterstadt/intern/verwaltung/auftritt";
        let (_, _, form) = admin.get(look).await;
        let field = |name: &str| between(&form, &format!("name=\"{name}\" type=\"text\" value=\""), "\"").to_string();
        let mut fields: Vec<(String, String)> = [
            "logo_text",
            "tagline",
            "farbe",
            "akzent",
            "amt",
            "strasse",
            "plz",
            "ort",
            "telefon",
            "email",
            "sprechzeiten",
            "vertretung",
            "datenschutz",
            "kontoinhaber",
            "iban",
            "bic",
            "bankname",
            "schlichtungsstelle",
        ]
        .iter()
        .map(|n| (n.to_string(), unescape(&field(n))))
        .collect();
        assert!(fields.iter().any(|(n, v)| n == "iban" && v.starts_with("DE")), "{fields:?}");
        let set = |fields: &mut Vec<(String, String)>, name: &str, value: &str| {
            fields.iter_mut().find(|(n, _)| n == name).unwrap().1 = value.to_string();
        };
        set(&mut fields, "akzent", "#ffff00");
        set(&mut fields, "iban", "DE00 1234");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (st, _, html) = admin.post(look, look, &pairs).await;
        assert_eq!(st, 422, "{html}");
        assert!(
            html.contains("href=\"#akzent\"") && html.contains("href=\"#iban\"") && html.contains("4,5 : 1"),
            "{html}"
        );
        set(&mut fields, "akzent", "#0b5394");
        set(&mut fields, "iban", "DE89 3704 0044 0532 0130 00");
        set(&mut fields, "sprechzeiten", "Mo–Fr 8–12 Uhr, Do 14–18 Uhr");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (st, _, html) = admin.post(look, look, &pairs).await;
        assert_eq!(st, 200, "{html}");
        assert!(
            html.contains("Die Einstellungen sind gespeichert.") && html.contains("value=\"DE89370400440532013000\""),
            "{html}"
        );
        let (_, _, theme) = Visit::new(&s).get("/musterstadt/theme.css").await;
        assert!(theme.contains("#0b5394"), "the portal shows the new colour: {theme}");

        // The area, Land, own addresses, draft retention and a login provider: each wrong
        // value named at its field, nothing saved; then saved, with a new logo image.
        let wrong = [
            ("gebiet_plz", "09999, 0999"),
            ("land", "XX"),
            ("domains", "service.musterstadt.example\nkein host\nbeispielgemeinde.localhost"),
            ("entwuerfe_tage", "viele"),
            ("oidc_aussteller", "http://anmeldung.example"),
            ("oidc_client", ""),
        ];
        let (st, _, html) = admin.post_files(look, &wrong, &[("logo", "logo.gif", b"GIF89a")]).await;
        assert_eq!(st, 422, "{html}");
        for expected in [
            "Postleitzahl „0999“ des Gebiets muss fünfstellig sein",
            "Land „XX“ ist unbekannt",
            "„kein“ ist kein Rechnername",
            "Die Adresse „beispielgemeinde.localhost“ gehört schon zu „Beispielgemeinde“",
            "Entwürfe aufbewahren: 1 bis 365 Tage",
            "muss mit https:// beginnen",
            "Bitte die Client-ID angeben",
            "Bitte das Client-Geheimnis angeben",
            "href=\"#logo\"",
        ] {
            assert!(unescape(&html).contains(expected), "{expected} in:\n{html}");
        }
        let png: &[u8] = b"\x89PNG\r\n\x1a\nein Bild";
        let good = [
            ("gebiet_plz", "09999 09990, 09991"),
            ("land", "BY"),
            ("domains", "Service.Musterstadt.example\n"),
            ("entwuerfe_tage", "21"),
            ("oidc_aussteller", "https://id.example/realms/buerger/"),
            ("oidc_client", "rathaus"),
            ("oidc_geheimnis", "geheim-1"),
            ("oidc_name", "Servicekonto"),
        ];
        let (st, _, html) = admin.post_files(look, &good, &[("logo", "logo.png", png)]).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Die Einstellungen sind gespeichert."), "{html}");
        assert!(!html.contains("geheim-1"), "a secret is never shown");
        let mut conn = s.db.store.conn().await.unwrap();
        let t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        drop(conn);
        assert_eq!(t.settings.postcodes, ["09999", "09990", "09991"]);
        assert_eq!((t.settings.land.as_str(), t.settings.drafts_kept_days), ("BY", Some(21)));
        assert_eq!(t.settings.domains, ["service.musterstadt.example"]);
        let oidc = t.settings.oidc.clone().unwrap();
        assert_eq!(
            (oidc.issuer.as_str(), oidc.client_secret.as_str()),
            ("https://id.example/realms/buerger", "geheim-1")
        );
        let logo = reqwest::get(s.url("/musterstadt/logo")).await.unwrap();
        assert_eq!(logo.headers()["content-type"], "image/png");
        assert_eq!(logo.bytes().await.unwrap().as_ref(), png);
        // Saved again without a secret: the stored one stays; the trail never has it.
        let (st, _, _) = admin.post_files(look, &[("oidc_name", "BundID")], &[]).await;
        assert_eq!(st, 200);
        let mut conn = s.db.store.conn().await.unwrap();
        let t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        let trail: Vec<(String,)> =
            sqlx::query_as("SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.settings_changed'")
                .bind(&t.tenant_id)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        drop(conn);
        let oidc = t.settings.oidc.clone().unwrap();
        assert_eq!((oidc.label.as_str(), oidc.client_secret.as_str()), ("BundID", "geheim-1"));
        assert!(!trail.is_empty() && trail.iter().all(|(d,)| !d.contains("geheim-1")), "{trail:?}");
        // Removing the logo and the provider; the area back as it was for the tests below.
        let back = [
            ("logo_entfernen", "1"),
            ("oidc_aussteller", ""),
            ("gebiet_plz", "09999, 09990"),
            ("land", "SN"),
            ("domains", "musterstadt.localhost"),
        ];
        let (st, _, html) = admin.post_files(look, &back, &[]).await;
        assert_eq!(st, 200, "{html}");
        let (_, _, home) = Visit::new(&s).get("/musterstadt/").await;
        assert!(!home.contains("class=\"logo-image\""), "{home}");
        let mut conn = s.db.store.conn().await.unwrap();
        let t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        drop(conn);
        assert!(t.settings.oidc.is_none() && t.settings.domains == ["musterstadt.localhost"]);

        // An API key: shown once, works against the API, revoked it stops at once.
        let keys = "/musterstadt/intern/verwaltung/schluessel";
        let (st, _, html) = admin.post(keys, keys, &[("bezeichnung", " ")]).await;
        assert_eq!(st, 422);
        assert!(html.contains("href=\"#bezeichnung\""), "{html}");
        let (st, _, html) = admin.post(keys, keys, &[("bezeichnung", "Onlinedienst des Landes")]).await;
        assert_eq!(st, 200, "{html}");
        let key = between(&html, "(nur jetzt sichtbar): ", "<").trim().to_string();
        assert!(key.starts_with("rh_"), "{html}");
        let status = s.url("/api/v1/musterstadt/deployments");
        let res = reqwest::Client::new().get(&status).bearer_auth(&key).send().await.unwrap();
        let code = res.status().as_u16();
        assert_eq!(code, 200, "the key is accepted: {}", res.text().await.unwrap());
        let row = between(&html, "<td>Onlinedienst des Landes</td>", "</tr>");
        let revoke = link_after(row, "/widerrufen");
        let (_, _, html) = admin.post(keys, &revoke, &[]).await;
        assert!(html.contains("Der Schlüssel ist widerrufen.") && html.contains("widerrufen am"), "{html}");
        let res = reqwest::Client::new().get(&status).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "a revoked key is refused");

        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, html) = auditor.get(settings).await;
        assert!(
            st == 200
                && html.contains("<fieldset class=\"fieldset\" disabled>")
                && !html.contains(">Speichern</button>"),
            "{html}"
        );
        let (_, _, html) = auditor.get("/musterstadt/intern/verwaltung").await;
        assert!(html.contains("nur lesend") && !html.contains("Konto anlegen</button>"), "{html}");
        let (st, _, _) = auditor.post(settings, settings, &[("aktiv", "ja")]).await;
        assert_eq!(st, 403);
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (st, _, _) = clerk.get("/musterstadt/intern/verwaltung").await;
        assert_eq!(st, 403);
        s.stop().await;
    }
}

/// The form action ending in `suffix` on the page.
fn link_after(html: &str, suffix: &str) -> String {
    let end = html.find(&format!("{suffix}\"")).unwrap_or_else(|| panic!("no {suffix} in {html}")) + suffix.len();
    let start = html[..end].rfind('"').unwrap() + 1;
    unescape(&html[start..end])
}

/// A Gewerbeanmeldung through the API, decided by the machine with a fee: its Aktenzeichen
/// and Kassenzeichen.
async fn fee_case(s: &TestServer) -> (String, String) {
    let res = reqwest::Client::new()
        .post(s.url("/api/v1/musterstadt/applications"))
        .bearer_auth(s.api_key("musterstadt"))
        .json(&serde_json::json!({"procedure": "gewerbeanmeldung", "data": common::application("software", "09999")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    let reference = body["reference"].as_str().unwrap().to_string();
    let (kz,): (String,) = sqlx::query_as(
        "SELECT f.kassenzeichen FROM fees f JOIN cases c ON c.tenant_id = f.tenant_id AND c.case_id = f.case_id WHERE c.reference = $1",
    )
    .bind(&reference)
    .fetch_one(s.db.store.pool())
    .await
    .unwrap();
    (reference, kz)
}

async fn fee_status(s: &TestServer, kassenzeichen: &str) -> String {
    let (status,): (String,) = sqlx::query_as("SELECT status FROM fees WHERE kassenzeichen = $1")
        .bind(kassenzeichen)
        .fetch_one(s.db.store.pool())
        .await
        .unwrap();
    status
}

/// Zahlungsabgleich over HTTP: the finance system posts the day's statement to the API; what
/// matches is booked, the rest is listed for the town's clerks, who assign a payment to a
/// fee or close it with a note (errors named by field), or upload a statement themselves;
/// auditors read; another town's key is refused.
#[tokio::test]
async fn bank_statements_are_imported_and_what_does_not_match_is_clarified_by_a_clerk() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let (first, kz1) = fee_case(&s).await;
        let (_, kz2) = fee_case(&s).await;
        let unknown = rathaus_domain::kassenzeichen(2026, 999_999);
        // Musterstadt's notices name this account (demo data).
        let xml = rathaus_store::testing::camt_test_statement("DE02120300000000202051", &kz1, &kz2, &unknown);
        let import = |key: String, tenant: &'static str, body: String| {
            let url = s.url(&format!("/api/v1/{tenant}/finance/statements"));
            async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(key)
                    .header("content-type", "application/xml")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let key = s.api_key("musterstadt").to_string();
        let other_key = s.api_key("beispielgemeinde").to_string();
        assert_eq!(import(other_key.clone(), "musterstadt", xml.clone()).await.status(), 403);
        // Beispielgemeinde's account is another: its own endpoint refuses the statement.
        let res = import(other_key, "beispielgemeinde", xml.clone()).await;
        assert_eq!(res.status(), 422);
        let e: serde_json::Value = res.json().await.unwrap();
        assert!(e["error"]["message"].as_str().unwrap().contains("Der Kontoauszug ist vom Konto"), "{e}");
        let res = import(key.clone(), "musterstadt", "<Document/>".into()).await;
        assert_eq!(res.status(), 422);

        let res = import(key.clone(), "musterstadt", xml.clone()).await;
        assert_eq!(res.status(), 200);
        let report: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (&report["gebucht"], &report["ungeklaert"], &report["nicht_betroffen"]),
            (&serde_json::json!(1), &serde_json::json!(4), &serde_json::json!(1)),
            "{report}"
        );
        assert_eq!(report["umsaetze"][0]["aktenzeichen"], first.as_str());
        assert_eq!(fee_status(&s, &kz1).await, "paid");
        assert_eq!(fee_status(&s, &kz2).await, "open");
        // The worklist links what waits; the page lists it.
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, worklist) = clerk.get("/musterstadt/intern/").await;
        assert!(worklist.contains("Zahlungsabgleich (4 zu klären)"), "{worklist}");
        let (st, _, page) = clerk.get("/musterstadt/intern/zahlungen").await;
        assert_eq!(st, 200);
        for text in [
            "Max Weber",
            "Blumen Koch GmbH",
            "Heimatverein e.V.",
            "Der Betrag weicht von der Gebühr ab",
            "Rückbuchung durch die Bank",
        ] {
            assert!(page.contains(text), "{text}");
        }
        assert!(!page.contains("Bürobedarf GmbH"), "money out is not listed");
        let id_of = |page: &str, payer: &str| {
            let at = page.find(payer).unwrap();
            let start = page[..at].rfind("id=\"umsatz-").unwrap() + "id=\"umsatz-".len();
            page[start..].split('"').next().unwrap().trim_end_matches("-title").to_string()
        };
        let partial = id_of(&page, "Max Weber");
        let action = format!("/musterstadt/intern/zahlungen/{partial}");
        let desk = "/musterstadt/intern/zahlungen";
        let (st, _, html) =
            clerk.post(desk, &action, &[("aktion", "zuordnen"), ("kassenzeichen", &kz2), ("vermerk", "")]).await;
        assert_eq!(st, 422);
        assert!(
            html.contains(&format!("href=\"#vermerk-{partial}\"")) && html.contains("Bitte vermerken Sie"),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{kz2}\"")), "what was typed is kept");
        let (st, _, html) = clerk
            .post(desk, &action, &[("aktion", "zuordnen"), ("kassenzeichen", &kz2), ("vermerk", "Rest erlassen")])
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("Die Zahlung ist gebucht"), "{html}");
        assert_eq!(fee_status(&s, &kz2).await, "paid");
        let heimat = id_of(&html, "Heimatverein e.V.");
        let (st, _, html) = clerk
            .post(
                desk,
                &format!("{desk}/{heimat}"),
                &[("aktion", "erledigen"), ("vermerk", "Standgebühr: Ordnungsamt, nicht Rathaus")],
            )
            .await;
        assert_eq!(st, 200);
        assert!(html.contains("Der Umsatz ist erledigt.") && html.contains("Standgebühr: Ordnungsamt"), "{html}");

        // A clerk uploads the same statement: nothing twice.
        let (st, _, html) = clerk
            .post_files_to(desk, &format!("{desk}/kontoauszug"), &[], &[("kontoauszug", "auszug.xml", xml.as_bytes())])
            .await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("0 gebucht, 0 zur Klärung, 5 bereits eingelesen, 1 nicht betroffen"), "{html}");
        let (st, _, html) = clerk
            .post_files_to(desk, &format!("{desk}/kontoauszug"), &[], &[("kontoauszug", "bild.png", b"\x89PNG")])
            .await;
        assert_eq!(st, 422);
        assert!(html.contains("href=\"#kontoauszug\""), "{html}");

        // Auditors read, and change nothing.
        let auditor = login(&s, "musterstadt", "pruefung").await;
        let (st, _, page) = auditor.get(desk).await;
        assert_eq!(st, 200);
        assert!(page.contains("Blumen Koch GmbH") && !page.contains("name=\"aktion\""));
        let koch = id_of(&page, "Blumen Koch GmbH");
        let (st, _, _) =
            auditor.post(desk, &format!("{desk}/{koch}"), &[("aktion", "erledigen"), ("vermerk", "x")]).await;
        assert_eq!(st, 403);
        s.stop().await;
    }
}

/// The case file lists the messages the case sent to other authorities (XGewerbeanzeige),
/// each downloadable as sent; the background worker delivers them into the drop directory.
#[tokio::test]
async fn the_case_file_lists_the_transmissions_to_other_authorities() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let (reference, _) = fee_case(&s).await;
        let case_id = case_id_of(&s, &reference).await;
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let path = format!("/musterstadt/intern/vorgaenge/{case_id}");
        // Delivered in the background: wait until the case file says so.
        let mut page = String::new();
        for _ in 0..100 {
            page = clerk.get(&path).await.2;
            if page.matches("zugestellt am").count() == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let list = between(&page, "id=\"transmissions\">", "</ul>");
        for name in [
            "Finanzamt",
            "Statistisches Landesamt",
            "Zollverwaltung",
            "Industrie- und Handelskammer",
            "Berufsgenossenschaft (DGUV)",
        ] {
            assert!(list.contains(name), "{name}: {list}");
        }
        assert_eq!(list.matches("zugestellt am").count(), 5, "{list}");
        let files: usize = std::fs::read_dir(s.data_dir.join("ausgang/musterstadt"))
            .unwrap()
            .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(files, 5);
        let start = list.find("href=\"").unwrap() + 6;
        let url = unescape(&list[start..start + list[start..].find('"').unwrap()]);
        let res = clerk.c.get(format!("{}{url}", clerk.base)).send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "application/xml; charset=utf-8");
        let xml = res.text().await.unwrap();
        assert!(xml.starts_with("<?xml") && xml.contains(&reference), "{xml}");
        s.stop().await;
    }
}

/// Aussonderung over HTTP: a finished case whose retention ran out is archived and erased by
/// the runtime; the administration's log shows when, which package and what was deleted;
/// the case file still opens, without the applicant's data.
#[tokio::test]
async fn the_administration_sees_what_was_archived_and_erased_when() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let admin = login(&s, "musterstadt", "admin").await;
        let (_, _, page) = admin.get("/musterstadt/intern/verwaltung/aussonderung").await;
        assert!(page.contains("Noch kein Vorgang ausgesondert."), "{page}");
        let (reference, kz) = fee_case(&s).await;
        let open_id = case_id_of(&s, &reference).await;
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, page) = clerk.get(&format!("/musterstadt/intern/vorgaenge/{open_id}")).await;
        assert!(page.contains("offen bis zur Zahlung der Gebühr"), "the case file says it waits for the fee");
        // Confirmed, but open until the fee is paid: the bank statement pays it and the case ends.
        let (cents,): (i64,) = sqlx::query_as("SELECT amount_cents FROM fees WHERE kassenzeichen = $1")
            .bind(&kz)
            .fetch_one(s.db.store.pool())
            .await
            .unwrap();
        let xml = rathaus_store::testing::camt_statement_paying("DE02120300000000202051", &[(kz.clone(), cents)]);
        let res = reqwest::Client::new()
            .post(s.url("/api/v1/musterstadt/finance/statements"))
            .bearer_auth(s.api_key("musterstadt"))
            .header("content-type", "application/xml")
            .body(xml)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let (closed,): (Option<String>,) = sqlx::query_as("SELECT closed_at FROM cases WHERE reference = $1")
            .bind(&reference)
            .fetch_one(s.db.store.pool())
            .await
            .unwrap();
        assert!(closed.is_some(), "the payment ends the case");
        let id = case_id_of(&s, &reference).await;
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (_, _, page) = clerk.get(&format!("/musterstadt/intern/vorgaenge/{id}")).await;
        assert!(page.contains("id=\"case-closed\"") && page.contains("Abgeschlossen"), "the case file shows the end");
        // Ended long ago: past five years of retention.
        sqlx::query("UPDATE cases SET decided_at = '2019-03-01T10:00:00.000Z', closed_at = '2019-03-01T10:00:00.000Z' WHERE reference = $1")
            .bind(&reference)
            .execute(s.db.store.pool())
            .await
            .unwrap();
        // Deliveries of the case's messages may still run in the background: wait for them.
        for _ in 0..100 {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE job_type = 'rathaus:deliver-message' AND status NOT IN ('done', 'dead')")
                .fetch_one(s.db.store.pool())
                .await
                .unwrap();
            if n == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let archived = s.assembled.runtime.archive_due().await.unwrap();
        assert!(archived.iter().any(|a| a.reference == reference), "{archived:?}");
        assert!(s.data_dir.join(format!("archiv/musterstadt/{reference}.zip")).exists());
        let (st, _, page) = admin.get("/musterstadt/intern/verwaltung/aussonderung").await;
        assert_eq!(st, 200);
        let table = between(&page, "id=\"archive-log\"", "</table>");
        assert!(table.contains(&reference) && table.contains("01.01.2025") && table.contains("Dokumente"), "{table}");
        let case_id = case_id_of(&s, &reference).await;
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        let (st, _, page) = clerk.get(&format!("/musterstadt/intern/vorgaenge/{case_id}")).await;
        assert_eq!(st, 200);
        assert!(page.contains(&reference) && !page.contains("Erika"), "the applicant's data are gone");
        s.stop().await;
    }
}

/// The Verkehrsrechtliche Anordnung over HTTP: a removal's no-stopping zone submitted
/// through the API is ordered at once; the case file lists the copy for the police with its
/// link; the link opens the order (PDF) without an account, in its own town only.
#[tokio::test]
async fn a_removal_order_is_issued_at_once_and_its_copy_opens_for_the_police() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
        let data = serde_json::json!({
            "antragsteller": {"ansprechperson": "Erika Muster",
                "anschrift": {"strasse": "Lindenweg", "hausnummer": "7", "plz": "09999", "ort": "Musterstadt"},
                "telefon": "0371 123456", "email": "erika@example.org"},
            "verantwortlicher_vor_ort": {"name": "Erika Muster", "telefon_24h": "0171 1234567"},
            "art": "umzug_halteverbot", "beschreibung": "Umzug", "massnahme": "halteverbot",
            "betroffene_flaechen": ["parkstreifen"], "laenge_m": 12,
            "ort": {"strasse": "Lindenweg", "hausnummer_von": "7"}, "strassenklasse": "gemeindestrasse",
            "oepnv_betroffen": false,
            "zeitraum": {"von": start.to_string(), "von_uhrzeit": "07:00", "bis": start.to_string(), "bis_uhrzeit": "18:00"}
        });
        let res = client()
            .post(s.url("/api/v1/musterstadt/applications"))
            .bearer_auth(s.api_key("musterstadt"))
            .json(&serde_json::json!({"procedure": "verkehrsrechtliche-anordnung", "data": data}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["outcome"], "accepted", "{body}");
        let reference = body["reference"].as_str().unwrap().to_string();
        let case_id = case_id_of(&s, &reference).await;
        // The copy job runs in the background.
        let mut page = String::new();
        let clerk = login(&s, "musterstadt", "sachbearbeitung").await;
        for _ in 0..100 {
            page = clerk.get(&format!("/musterstadt/intern/vorgaenge/{case_id}")).await.2;
            if page.contains("id=\"copies\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let table = between(&page, "id=\"copies\"", "</table>");
        assert!(table.contains("Polizei") && table.contains("verkehr@polizei.musterstadt.example"), "{table}");
        let link = unescape(between(table, "readonly value=\"", "\""));
        let path = &link[link.find("/musterstadt/abschrift/").expect("link of the town")..];
        let res = client().get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.bytes().await.unwrap().starts_with(b"%PDF"));
        let token = path.rsplit('/').next().unwrap();
        let elsewhere = client().get(s.url(&format!("/beispielgemeinde/abschrift/{token}"))).send().await.unwrap();
        assert_eq!(elsewhere.status(), 404, "another town's address opens nothing");
        let wrong = client().get(s.url(&format!("/musterstadt/abschrift/{}", "a".repeat(40)))).send().await.unwrap();
        assert_eq!(wrong.status(), 404);
        s.stop().await;
    }
}

/// Cross-procedure help: an Aufgrabung usually needs a traffic order. The assistant says so
/// while the form is filled in; after submission the status page offers to start the
/// traffic order, whose form then has the company, place and period already filled in.
#[tokio::test]
async fn an_excavation_suggests_the_traffic_order_and_carries_its_answers_over() {
    let s = TestServer::start(testing::sqlite().await).await;
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let data = serde_json::json!({
        "firma": {"name": "Tiefbau Krause GmbH", "ansprechperson": "Peter Krause",
            "anschrift": {"strasse": "Gewerbering", "hausnummer": "4", "plz": "09999", "ort": "Musterstadt"},
            "telefon": "0371 7788", "email": "bau@krause.example"},
        "auftraggeber": {"name": "Stadtwerke Musterstadt"}, "zweck": "Hausanschluss Trinkwasser",
        "ort": {"strasse": "Lindenweg", "hausnummer": "7"}, "laenge_m": "4", "breite_m": "1", "oberflaeche": "pflaster",
        "zeitraum": {"von": start.to_string(), "bis": (start + chrono::Duration::days(2)).to_string()}, "wiederherstellung": true
    });
    // While filling in: the assistant names the traffic order.
    let applicant = Visit::new(&s);
    let (_, _, page) = applicant.get("/musterstadt/antrag/aufgrabung/firma").await;
    assert!(!page.contains("id=\"assistant-related\""), "nothing before the first answer");
    // A page sent incomplete is shown again, with the assistant on the answers so far.
    let form = "/musterstadt/antrag/aufgrabung/firma";
    let (_, _, page) = applicant.post(form, form, &[("firma.name", "Tiefbau Krause GmbH")]).await;
    assert!(page.contains("id=\"assistant-related\"") && page.contains("Verkehrsrechtliche Anordnung"), "{page}");

    // After submission (through the API, then followed with the access code).
    let res = client()
        .post(s.url("/api/v1/musterstadt/applications"))
        .bearer_auth(s.api_key("musterstadt"))
        .json(&serde_json::json!({"procedure": "aufgrabung", "data": data}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    let (reference, code) = (body["reference"].as_str().unwrap(), body["access_code"].as_str().unwrap());
    let follower = Visit::new(&s);
    let (st, _, html) = follower
        .post("/musterstadt/status", "/musterstadt/status", &[("aktenzeichen", reference), ("zugangscode", code)])
        .await;
    assert_eq!(st, 200);
    let related = between(&html, "id=\"related\"", "</section>");
    assert!(related.contains("Verkehrsrechtliche Anordnung") && related.contains("Baustelle"), "{related}");
    let status_path = format!("/musterstadt/vorgang/{reference}");
    let (st, url, form) = follower
        .post(&status_path, &format!("/musterstadt/vorgang/{reference}/weiter/verkehrsrechtliche-anordnung"), &[])
        .await;
    assert_eq!(st, 200, "{form}");
    assert_eq!(url, "/musterstadt/antrag/verkehrsrechtliche-anordnung/antragsteller");
    assert!(form.contains("value=\"Tiefbau Krause GmbH\"") && form.contains("value=\"Gewerbering\""), "{form}");
    let (_, _, place) = follower.get("/musterstadt/antrag/verkehrsrechtliche-anordnung/ort").await;
    assert!(place.contains("value=\"Lindenweg\""), "{place}");
    // Only for a case the visitor may see, and only a procedure the case suggests.
    let stranger = Visit::new(&s);
    let (st, _, _) = stranger
        .post(
            "/musterstadt/status",
            &format!("/musterstadt/vorgang/{reference}/weiter/verkehrsrechtliche-anordnung"),
            &[],
        )
        .await;
    assert_ne!(st, 200);
    let (st, _, _) =
        follower.post(&status_path, &format!("/musterstadt/vorgang/{reference}/weiter/plakatierung"), &[]).await;
    assert_eq!(st, 404);
    s.stop().await;
}
