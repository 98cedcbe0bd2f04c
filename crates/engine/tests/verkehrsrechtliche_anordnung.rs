//! The automatic checks of the Verkehrsrechtliche Anordnung (every scenario and rule of the
//! domain specification), run against the real library folder, without a database. Lead
//! times count working days of the tenant's Land (Saxony: Reformation Day, Buß- und Bettag).

mod common;
use chrono::NaiveDate;
use common::with;
use rathaus_domain::calendar::{Land, WorkCalendar};
use rathaus_domain::Lang;
use rathaus_engine::environment::{check, tenant_facts};
use rathaus_engine::Procedure;
use serde_json::{json, Value};

fn procedure() -> &'static Procedure {
    common::procedure("verkehrsrechtliche-anordnung")
}

/// Monday, 9 November 2026.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
}

fn day(n: i64) -> String {
    (today() + chrono::Duration::days(n)).format("%Y-%m-%d").to_string()
}

/// The standard case: removal, no-stopping zone 15 m, one day, municipal road, three weeks
/// ahead.
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
        "ort": {"strasse": "Lindenweg", "hausnummer_von": "5"},
        "strassenklasse": "gemeindestrasse",
        "oepnv_betroffen": false,
        "zeitraum": {"von": day(21), "von_uhrzeit": "07:00", "bis": day(21), "bis_uhrzeit": "18:00"}
    })
}

fn file() -> Value {
    json!([{"id": "f1", "name": "plan.pdf", "type": "pdf", "size": 1000, "sha256": "0".repeat(64)}])
}

struct Outcome {
    decision: String,
    codes: Vec<String>,
    participants: Vec<String>,
    urgent: bool,
    fee: f64,
}

fn run(data: &Value) -> Outcome {
    let p = procedure();
    let validated = p.form.validate(data, &p.catalogues, today(), Lang::De);
    assert!(validated.errors.is_empty(), "scenario data must be valid: {:?}", validated.errors);
    let params = p.resolve_parameters(&json!({})).unwrap();
    let tenant = tenant_facts("Musterstadt", &["09999".into()], &WorkCalendar::new(Land::parse("SN")), today());
    let r = check(p, &validated.data, &params, &tenant, today()).unwrap_or_else(|e| panic!("decision failed: {e}"));
    let texts = |v: &Value, field: Option<&str>| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("list expected: {r}"))
            .iter()
            .map(|x| field.map(|f| &x[f]).unwrap_or(x).as_str().unwrap().to_string())
            .collect()
    };
    Outcome {
        decision: r["entscheidung"].as_str().unwrap().to_string(),
        codes: texts(&r["befunde"], Some("code")),
        participants: texts(&r["beteiligte"], None),
        urgent: r["eilig"] == json!(true),
        fee: r["gebuehr"].as_f64().unwrap(),
    }
}

#[test]
fn a_removal_no_stopping_zone_is_ordered_by_the_machine_for_25_euros() {
    let o = run(&removal());
    assert_eq!(o.decision, "accept", "{:?}", o.codes);
    assert!(o.codes.is_empty() && o.participants.is_empty() && !o.urgent);
    assert_eq!(o.fee, 25.0);
}

#[test]
fn a_full_closure_of_a_state_road_is_reviewed_after_consulting_all_four_bodies() {
    let data = with(
        removal(),
        json!({"art": "aufgrabung", "massnahme": "vollsperrung", "strassenklasse": "staatsstrasse",
            "betroffene_flaechen": ["fahrbahn", "gehweg"], "laenge_m": 80, "regelplan": "B I/6",
            "umleitung": {"beschreibung": "über Bahnhofstraße und Ring"}, "umleitungsplan": file(),
            "zeitraum": {"von": day(28), "bis": day(35)}}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "review");
    assert_eq!(o.participants, ["polizei", "feuerwehr", "oepnv", "strassenbaulasttraeger"]);
    assert!(
        o.codes.contains(&"anhoerung".into()) && o.codes.contains(&"strassenbaulasttraeger".into()),
        "{:?}",
        o.codes
    );
    assert!(!o.urgent);
    assert_eq!(o.fee, 40.0);
}

#[test]
fn scaffolding_four_working_days_ahead_is_urgent_with_a_surcharge() {
    // Monday 9 November to Friday 13 November: four working days before the start.
    let data = with(
        removal(),
        json!({"art": "geruest", "massnahme": "einengung", "betroffene_flaechen": ["gehweg"], "laenge_m": 12,
            "verkehrszeichenplan": file(), "zeitraum": {"von": day(4), "bis": day(30)}}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "review");
    assert!(o.urgent && o.codes.contains(&"kurzfristig".into()), "{:?}", o.codes);
    assert!(o.participants.is_empty());
    assert_eq!(o.fee, 60.0, "40 € and 50 %");
}

#[test]
fn lead_time_counts_working_days_of_the_land() {
    // 9 November + 10 working days in Saxony: the 18th (Buß- und Bettag) is a holiday, so
    // the tenth working day before a start on the 24th is the 9th itself only without it.
    let start = |n: i64| with(removal(), json!({"zeitraum": {"von": day(n), "bis": day(n)}}));
    assert!(run(&start(14)).urgent, "start on 23 November: nine working days, the 18th is a holiday in Saxony");
    assert!(!run(&start(15)).urgent, "start on 24 November: ten working days");
    assert_eq!(run(&start(15)).decision, "accept");
    // The same in a Land without the holiday.
    let p = procedure();
    let params = p.resolve_parameters(&json!({})).unwrap();
    let by = WorkCalendar::new(Land::parse("BY"));
    let tenant = tenant_facts("Musterstadt", &["09999".into()], &by, today());
    let r = check(p, &start(14), &params, &tenant, today()).unwrap();
    assert_eq!(r["eilig"], json!(false), "in Bavaria the 18th is a working day");
}

#[test]
fn the_standard_case_has_its_limits() {
    let cases = [
        ("too long", json!({"laenge_m": 21})),
        ("too many days", json!({"zeitraum": {"bis": day(24)}})),
        ("a bus line", json!({"oepnv_betroffen": true})),
        ("a district road", json!({"strassenklasse": "kreisstrasse"})),
    ];
    for (what, patch) in cases {
        let o = run(&with(removal(), patch));
        assert_eq!(o.decision, "review", "{what}");
        assert!(o.codes.contains(&"pruefung".into()), "{what}: {:?}", o.codes);
    }
    assert_eq!(run(&with(removal(), json!({"laenge_m": 20, "zeitraum": {"bis": day(23)}}))).decision, "accept");
    let long = with(
        removal(),
        json!({"art": "container", "massnahme": "einengung", "regelplan": "B I/1", "zeitraum": {"bis": day(130)}}),
    );
    assert!(run(&long).codes.contains(&"lange_dauer".into()));
    let bus = run(&with(removal(), json!({"oepnv_betroffen": true})));
    assert_eq!(bus.participants, ["polizei", "feuerwehr", "oepnv"], "public transport affected: consultation");
}

#[test]
fn the_form_refuses_a_narrowing_without_sign_plan_or_standard_plan_naming_the_attachment() {
    let p = procedure();
    let data = with(removal(), json!({"art": "kran", "massnahme": "einengung"}));
    let errors = p.form.validate(&data, &p.catalogues, today(), Lang::De).errors;
    assert!(
        errors.iter().any(|e| e.field == "verkehrszeichenplan" && e.message.contains("Verkehrszeichenplan")),
        "{errors:?}"
    );
    // With a standard plan, or the plan attached, it is accepted.
    for patch in [json!({"regelplan": "B I/1"}), json!({"verkehrszeichenplan": file()})] {
        let ok = with(data.clone(), patch);
        assert!(p.form.validate(&ok, &p.catalogues, today(), Lang::De).errors.is_empty());
    }
    // A full closure needs the diversion plan; the end must not be before the start.
    let closure =
        with(data, json!({"massnahme": "vollsperrung", "regelplan": "B I/1", "umleitung": {"beschreibung": "Ring"}}));
    let errors = p.form.validate(&closure, &p.catalogues, today(), Lang::De).errors;
    assert!(errors.iter().any(|e| e.field == "umleitungsplan"), "{errors:?}");
    let backwards = with(removal(), json!({"zeitraum": {"von": day(21), "bis": day(20)}}));
    let errors = p.form.validate(&backwards, &p.catalogues, today(), Lang::De).errors;
    assert!(
        errors.iter().any(|e| e.field == "zeitraum.bis" && e.message.contains("nicht vor dem Beginn")),
        "{errors:?}"
    );
}

#[test]
fn the_assistant_says_nothing_before_the_answers_that_matter() {
    let p = procedure();
    let params = p.resolve_parameters(&json!({})).unwrap();
    let tenant = tenant_facts("Musterstadt", &["09999".into()], &WorkCalendar::new(Land::parse("SN")), today());
    let partial = json!({"antragsteller": {"ansprechperson": "Erika Muster"}, "art": "umzug_halteverbot"});
    let o = rathaus_engine::assistant::outlook(p, &partial, &params, &tenant, today(), Lang::De).unwrap().unwrap();
    assert!(o.hints.is_empty() && !o.review, "no finding before the answers: {:?}", o.hints);
    // Once the answers show a full closure, it says so.
    let closure = json!({"art": "aufgrabung", "massnahme": "vollsperrung"});
    let o = rathaus_engine::assistant::outlook(p, &closure, &params, &tenant, today(), Lang::De).unwrap().unwrap();
    assert!(o.review && o.hints.iter().any(|h| h.contains("Polizei, Feuerwehr")), "{:?}", o.hints);
}
