//! The further procedures of the library (domain specification „weitere Verfahren“): every
//! scenario of their automatic checks and fees, run against the real library folders, without
//! a database.

mod common;
use chrono::NaiveDate;
use common::{procedure, with};
use rathaus_domain::calendar::{Land, WorkCalendar};
use rathaus_domain::Lang;
use rathaus_engine::environment::{check, tenant_facts};
use serde_json::{json, Value};

/// Monday, 9 November 2026.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
}

fn day(n: i64) -> String {
    (today() + chrono::Duration::days(n)).format("%Y-%m-%d").to_string()
}

fn pdf() -> Value {
    json!([{"id": "f1", "name": "datei.pdf", "type": "pdf", "size": 1000, "sha256": "0".repeat(64)}])
}

struct Outcome {
    decision: String,
    codes: Vec<String>,
    reasons: Vec<String>,
    fee: f64,
    result: Value,
}

/// The check of `id` on `data` with the town's `overrides`; the data must pass the form.
fn run(id: &str, data: &Value, overrides: Value) -> Outcome {
    let p = procedure(id);
    let validated = p.form.validate(data, &p.catalogues, today(), Lang::De);
    assert!(validated.errors.is_empty(), "{id}: scenario data must be valid: {:?}", validated.errors);
    let params = p.resolve_parameters(&overrides).unwrap_or_else(|e| panic!("{id}: {e:?}"));
    let tenant = tenant_facts("Musterstadt", &["09999".into()], &WorkCalendar::new(Land::parse("SN")), today());
    let r =
        check(p, &validated.data, &params, &tenant, today()).unwrap_or_else(|e| panic!("{id}: decision failed: {e}"));
    let befunde = r["befunde"].as_array().unwrap_or_else(|| panic!("{r}"));
    Outcome {
        decision: r["entscheidung"].as_str().unwrap().to_string(),
        codes: befunde.iter().map(|b| b["code"].as_str().unwrap().to_string()).collect(),
        reasons: befunde.iter().map(|b| b["grund"].as_str().unwrap().to_string()).collect(),
        fee: r["gebuehr"].as_f64().unwrap_or_else(|| panic!("{id}: fee {r}")),
        result: r,
    }
}

// --- Negativzeugnis Vorkaufsrecht --------------------------------------------------------

fn sale() -> Value {
    json!({
        "notar": {"name": "Notariat Dr. Berger", "anschrift": {"strasse": "Schlossstraße", "hausnummer": "2", "plz": "09999", "ort": "Musterstadt"},
                  "email": "kanzlei@notar-berger.example"},
        "grundstueck": {"gemarkung": "Musterstadt", "flur": "3", "flurstueck": "118/4"},
        "vertrag": {"datum": day(-7), "urkundennummer": "UR-Nr. 1234/2026", "verkaeufer": "Hans Alt", "kaeufer": "Jana Neu", "kopie": pdf()}
    })
}

fn areas() -> Value {
    json!({"vorkaufsrechte": [
        {"gemarkung": "Musterstadt", "flur": "3", "flurstueck": "12/3", "gebiet": "Fläche für den Gemeinbedarf (B-Plan Nr. 7)", "rechtsgrundlage": "§ 24 Abs. 1 Nr. 1 BauGB"},
        {"gemarkung": "Musterstadt", "flur": "5", "gebiet": "Sanierungsgebiet Altstadt", "rechtsgrundlage": "§ 24 Abs. 1 Nr. 3 BauGB"},
        {"gemarkung": "Oberdorf", "gebiet": "Satzung über ein besonderes Vorkaufsrecht Ortsmitte"}
    ]})
}

#[test]
fn a_parcel_outside_every_area_gets_the_certificate_at_once_for_25_euros() {
    let o = run("negativzeugnis-vorkaufsrecht", &sale(), areas());
    assert_eq!((o.decision.as_str(), o.fee), ("accept", 25.0), "{:?}", o.reasons);
    assert!(o.codes.is_empty());
    // Without any list the town has no area: accepted as well.
    assert_eq!(run("negativzeugnis-vorkaufsrecht", &sale(), json!({})).decision, "accept");
}

#[test]
fn a_parcel_in_an_area_of_the_list_is_reviewed_with_the_area_named() {
    let cases = [
        (
            "the parcel itself",
            json!({"grundstueck": {"flurstueck": "12/3"}}),
            "B-Plan Nr. 7",
            "§ 24 Abs. 1 Nr. 1 BauGB",
        ),
        (
            "a whole field",
            json!({"grundstueck": {"flur": "5", "flurstueck": "7"}}),
            "Sanierungsgebiet Altstadt",
            "§ 24 Abs. 1 Nr. 3 BauGB",
        ),
        (
            "a whole district, any case",
            json!({"grundstueck": {"gemarkung": "OBERDORF", "flur": null, "flurstueck": "1"}}),
            "Ortsmitte",
            "§§ 24, 25 BauGB",
        ),
    ];
    for (what, patch, area, basis) in cases {
        let o = run("negativzeugnis-vorkaufsrecht", &with(sale(), patch), areas());
        assert_eq!(o.decision, "review", "{what}");
        assert_eq!(o.codes, ["vorkaufsrecht"], "{what}");
        assert!(o.reasons[0].contains(area), "{what}: {:?}", o.reasons);
        assert_eq!(o.result["befunde"][0]["rechtsgrundlage"], basis, "{what}");
    }
}

#[test]
fn the_statutory_deadline_is_two_months_from_receipt_with_reminders() {
    let p = procedure("negativzeugnis-vorkaufsrecht");
    let d = &p.manifest.deadlines["vorkaufsrecht"];
    assert_eq!((d.duration.as_deref(), d.legal_basis.as_deref()), (Some("P2M"), Some("§ 28 Abs. 2 BauGB")));
    assert_eq!(d.remind, ["P4W", "P2W"]);
    // A town's list with a row lacking its area is refused, naming the row.
    let e = p.resolve_parameters(&json!({"vorkaufsrechte": [{"gemarkung": "Musterstadt"}]})).unwrap_err();
    assert!(e[0].contains("Zeile 1") && e[0].contains("Gebiet"), "{e:?}");
}

// --- Aufgrabegenehmigung ------------------------------------------------------------------

fn dig() -> Value {
    json!({
        "firma": {"name": "Tiefbau Krause GmbH", "anschrift": {"strasse": "Gewerbering", "hausnummer": "4", "plz": "09999", "ort": "Musterstadt"},
                  "telefon": "0371 7788", "email": "bau@krause.example"},
        "auftraggeber": {"name": "Stadtwerke Musterstadt"}, "zweck": "Hausanschluss Trinkwasser",
        "ort": {"strasse": "Lindenweg", "hausnummer": "7"}, "laenge_m": "4", "breite_m": "2,5", "oberflaeche": "pflaster",
        "zeitraum": {"von": day(10), "bis": day(12)}, "wiederherstellung": true
    })
}

#[test]
fn a_small_excavation_in_paving_is_permitted_at_once_with_fee_by_area() {
    let o = run("aufgrabung", &dig(), json!({}));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.result["flaeche_m2"].as_f64(), Some(10.0));
    assert_eq!(o.fee, 70.0, "50 € and 10 m² × 2 €");
    assert_eq!(o.result["gewaehrleistung_jahre"], json!(5));
    assert_eq!(
        run("aufgrabung", &dig(), json!({"gewaehrleistung_jahre": 4})).result["gewaehrleistung_jahre"],
        json!(4)
    );
}

#[test]
fn asphalt_always_and_larger_areas_go_to_the_road_authority() {
    let o =
        run("aufgrabung", &with(dig(), json!({"oberflaeche": "asphalt", "laenge_m": "1", "breite_m": "1"})), json!({}));
    assert_eq!((o.decision.as_str(), o.codes.as_slice()), ("review", &["asphalt".to_string()][..]));
    let o = run("aufgrabung", &with(dig(), json!({"laenge_m": "4,5"})), json!({}));
    assert_eq!(o.codes, ["flaeche"]);
    assert!(o.reasons[0].contains("11.25"), "{:?}", o.reasons);
    let p = procedure("aufgrabung");
    let errors =
        p.form.validate(&with(dig(), json!({"wiederherstellung": false})), &p.catalogues, today(), Lang::De).errors;
    assert!(
        errors.iter().any(|e| e.field == "wiederherstellung"),
        "the restoration commitment is required: {errors:?}"
    );
}

// --- Plakatierung -------------------------------------------------------------------------

fn posters() -> Value {
    json!({
        "veranstalter": {"name": "Kulturverein Musterstadt e. V.", "anschrift": {"strasse": "Markt", "hausnummer": "9", "plz": "09999", "ort": "Musterstadt"},
                         "telefon": "0371 4455", "email": "info@kulturverein.example"},
        "zweck": "veranstaltung", "anlass": "Sommerkonzert", "datum": day(21),
        "anzahl": 30, "format": "a1", "standorte": {"art": "stadtgebiet"},
        "zeitraum": {"von": day(8), "bis": day(21)}
    })
}

#[test]
fn posters_for_an_event_are_permitted_at_once_for_fifty_cents_a_week() {
    let o = run("plakatierung", &posters(), json!({}));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.fee, 30.0, "30 posters × 2 weeks × 0.50 €");
    // Up to seven days after the event is fine; eight days are not.
    assert_eq!(
        run("plakatierung", &with(posters(), json!({"zeitraum": {"bis": day(28)}})), json!({})).decision,
        "accept"
    );
    let late = run("plakatierung", &with(posters(), json!({"zeitraum": {"bis": day(29)}})), json!({}));
    assert_eq!(late.codes, ["nach_veranstaltung"]);
    let many = run("plakatierung", &with(posters(), json!({"anzahl": 51})), json!({}));
    assert_eq!(many.codes, ["zu_viele"]);
    assert_eq!(
        run("plakatierung", &with(posters(), json!({"anzahl": 60})), json!({"max_plakate": 60})).decision,
        "accept"
    );
}

#[test]
fn election_posters_at_most_six_weeks_ahead_and_free_for_parties() {
    let election = with(
        posters(),
        json!({"zweck": "wahl", "wahlvorschlagstraeger": true, "datum": day(50),
        "zeitraum": {"von": day(8), "bis": day(52)}}),
    );
    let o = run("plakatierung", &election, json!({}));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.fee, 0.0, "parties' election posters are free");
    let early = run("plakatierung", &with(election.clone(), json!({"zeitraum": {"von": day(7)}})), json!({}));
    assert_eq!(early.codes, ["wahl_zu_frueh"]);
    assert!(run("plakatierung", &election, json!({"wahlplakate_gebuehrenfrei": false})).fee > 0.0);
    let p = procedure("plakatierung");
    let errors = p.form.validate(&with(posters(), json!({"format": "a0"})), &p.catalogues, today(), Lang::De).errors;
    assert!(errors.iter().any(|e| e.field == "format"), "larger than A1 is refused: {errors:?}");
}

// --- Vorübergehende Gaststättengestattung ------------------------------------------------

fn festival() -> Value {
    json!({
        "veranstalter": {"name": "Sportverein Musterstadt e. V.", "anschrift": {"strasse": "Sportplatzweg", "hausnummer": "1", "plz": "09999", "ort": "Musterstadt"},
                         "telefon": "0371 5566", "email": "vorstand@sv.example"},
        "verantwortlich": {"name": "Karl Kasse", "geburtsdatum": "1970-05-05", "telefon": "0172 111222"},
        "anlass": "Kinderfest", "ort": "Sportplatz",
        "zeitraum": {"von": day(20), "bis": day(21)}, "uhrzeit": {"von": "14:00", "bis": "19:00"},
        "alkohol": false, "besucher": 300, "toiletten": true
    })
}

#[test]
fn a_short_festival_without_alcohol_is_permitted_at_once_at_30_euros_a_day() {
    let o = run("gaststaettengestattung", &festival(), json!({}));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.fee, 60.0);
    assert_eq!(o.result["beteiligte"], json!([]));
    let week = run("gaststaettengestattung", &with(festival(), json!({"zeitraum": {"bis": day(26)}})), json!({}));
    assert_eq!((week.codes.as_slice(), week.fee), (&["lange".to_string()][..], 150.0), "seven days, at most 150 €");
}

#[test]
fn alcohol_or_a_late_application_means_a_reliability_check_with_police_and_public_order_office() {
    let beer = run("gaststaettengestattung", &with(festival(), json!({"alkohol": true})), json!({}));
    assert_eq!((beer.decision.as_str(), beer.codes.as_slice()), ("review", &["alkohol".to_string()][..]));
    assert_eq!(beer.result["beteiligte"], json!(["polizei", "ordnungsamt"]));
    let late = run(
        "gaststaettengestattung",
        &with(festival(), json!({"zeitraum": {"von": day(13), "bis": day(13)}})),
        json!({}),
    );
    assert_eq!(late.codes, ["kurzfristig"]);
    assert_eq!(
        run(
            "gaststaettengestattung",
            &with(festival(), json!({"zeitraum": {"von": day(14), "bis": day(14)}})),
            json!({})
        )
        .decision,
        "accept"
    );
    let p = procedure("gaststaettengestattung");
    let minor = with(festival(), json!({"verantwortlich": {"geburtsdatum": "2010-01-01"}}));
    let errors = p.form.validate(&minor, &p.catalogues, today(), Lang::De).errors;
    assert!(errors.iter().any(|e| e.field == "verantwortlich.geburtsdatum"), "{errors:?}");
}

// --- Sondernutzung ------------------------------------------------------------------------

fn skip() -> Value {
    json!({
        "antragsteller": {"name": "Erika Muster", "anschrift": {"strasse": "Lindenweg", "hausnummer": "7", "plz": "09999", "ort": "Musterstadt"},
                          "telefon": "0371 123456", "email": "erika@example.org"},
        "art": "container", "ort": {"strasse": "Lindenweg", "hausnummer": "7"}, "flaeche": "parkstreifen", "flaeche_m2": "8",
        "zeitraum": {"von": day(10), "bis": day(19)}
    })
}

fn zones() -> Value {
    json!({"zonen": [{"strasse": "Markt", "zone": "A"}, {"strasse": "Lindenweg", "zone": "B"}]})
}

#[test]
fn a_skip_on_the_parking_lane_is_permitted_at_once_with_the_minimum_fee() {
    let o = run("sondernutzung", &skip(), zones());
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!((o.result["zone"].as_str(), o.fee), (Some("B"), 20.0), "8 m² × 2 weeks × 1 € = 16 €, minimum 20 €");
    for (what, patch) in [
        ("on the pavement", json!({"flaeche": "gehweg"})),
        ("too long", json!({"zeitraum": {"bis": day(24)}})),
        ("too large", json!({"flaeche_m2": "10,5"})),
    ] {
        assert_eq!(run("sondernutzung", &with(skip(), patch), zones()).codes, ["pruefung"], "{what}");
    }
}

#[test]
fn cafe_tables_in_zone_a_pay_by_area_and_week_and_need_a_sketch() {
    let cafe = with(
        skip(),
        json!({"art": "cafe", "ort": {"strasse": "MARKT", "hausnummer": "1"}, "flaeche": "platz", "flaeche_m2": "12,5",
        "zeitraum": {"von": day(10), "bis": day(40)}, "skizze": pdf()}),
    );
    let o = run("sondernutzung", &cafe, zones());
    assert_eq!(o.decision, "review");
    assert_eq!((o.result["zone"].as_str(), o.fee), (Some("A"), 125.0), "12.5 m² × 5 weeks × 2 €");
    // An unlisted street has the default zone.
    let elsewhere = run("sondernutzung", &with(cafe.clone(), json!({"ort": {"strasse": "Ringstraße"}})), zones());
    assert_eq!((elsewhere.result["zone"].as_str(), elsewhere.fee), (Some("B"), 62.5));
    let p = procedure("sondernutzung");
    let no_sketch = with(cafe, json!({"skizze": null}));
    let errors = p.form.validate(&no_sketch, &p.catalogues, today(), Lang::De).errors;
    assert!(errors.iter().any(|e| e.field == "skizze"), "{errors:?}");
}

// --- Related procedures ---------------------------------------------------------------------

#[test]
fn an_excavation_carries_company_place_and_period_into_the_traffic_order() {
    let excavation = procedure("aufgrabung");
    let vra = procedure("verkehrsrechtliche-anordnung");
    let related = excavation.related.iter().find(|r| r.id == "verkehrsrechtliche-anordnung").expect("suggested");
    assert!(related.applies(&dig()));
    let carried = related.carried(&dig());
    assert_eq!(carried["antragsteller"]["firma"], "Tiefbau Krause GmbH");
    assert_eq!(carried["antragsteller"]["anschrift"]["strasse"], "Gewerbering");
    assert_eq!(
        (carried["ort"]["strasse"].as_str(), carried["ort"]["hausnummer_von"].as_str()),
        (Some("Lindenweg"), Some("7"))
    );
    assert_eq!(carried["zeitraum"]["von"], day(10));
    // What is carried fits the other form: its only problems are the answers still missing.
    let errors = vra.form.validate(&carried, &vra.catalogues, today(), Lang::De).errors;
    for carried_field in
        ["antragsteller.firma", "antragsteller.anschrift", "ort.strasse", "zeitraum.von", "zeitraum.bis"]
    {
        assert!(
            !errors.iter().any(|e| e.field == carried_field || e.field.starts_with(&format!("{carried_field}."))),
            "{carried_field}: {errors:?}"
        );
    }
    // The traffic order suggests the skip's permit only for skips and scaffolding.
    let vra_related = vra.related.iter().find(|r| r.id == "sondernutzung").unwrap();
    assert!(
        vra_related.applies(&json!({"art": "container"})) && !vra_related.applies(&json!({"art": "umzug_halteverbot"}))
    );
    assert!(!vra_related.applies(&json!({})), "not before the answer");
}

#[test]
fn a_suggestion_naming_an_unknown_procedure_or_field_is_a_library_problem() {
    let excavation = procedure("aufgrabung");
    let vra = procedure("verkehrsrechtliche-anordnung");
    let def: rathaus_engine::related::RelatedDef = toml::from_str(
        "reason = \"x\"\ncarry = { \"ort.gibtesnicht\" = \"ort.strasse\", \"beschreibung\" = \"zweck_falsch\" }",
    )
    .unwrap();
    let r = rathaus_engine::related::Related::compile("verkehrsrechtliche-anordnung", &def, &excavation.form).unwrap();
    let problems = rathaus_engine::related::check(&excavation.form, &r, Some(&vra.form));
    assert!(
        problems.iter().any(|p| p.contains("„ort.gibtesnicht“"))
            && problems.iter().any(|p| p.contains("„zweck_falsch“")),
        "{problems:?}"
    );
    assert!(rathaus_engine::related::check(&excavation.form, &r, None)[0].contains("gibt es in der Bibliothek nicht"));
}
