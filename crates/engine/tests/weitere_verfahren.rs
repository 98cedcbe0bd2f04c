//! The further procedures of the library (domain specification „weitere Verfahren“): every
//! scenario of their automatic checks and fees, run against the real library folders, without
//! a database.

use chrono::NaiveDate;
use rathaus_domain::calendar::{Land, WorkCalendar};
use rathaus_domain::Lang;
use rathaus_engine::environment::{check, tenant_facts};
use rathaus_engine::Procedure;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

fn procedure(id: &str) -> Procedure {
    static P: OnceLock<Mutex<BTreeMap<String, Procedure>>> = OnceLock::new();
    let all = P.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut all = all.lock().unwrap();
    all.entry(id.to_string())
        .or_insert_with(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library").join(id);
            Procedure::load_dir(&dir).unwrap_or_else(|ps| {
                panic!("{id} invalid:\n{}", ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))
            })
        })
        .clone()
}

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
    let r = check(&p, &validated.data, &params, &tenant, today()).unwrap_or_else(|e| panic!("{id}: decision failed: {e}"));
    let befunde = r["befunde"].as_array().unwrap_or_else(|| panic!("{r}"));
    Outcome {
        decision: r["entscheidung"].as_str().unwrap().to_string(),
        codes: befunde.iter().map(|b| b["code"].as_str().unwrap().to_string()).collect(),
        reasons: befunde.iter().map(|b| b["grund"].as_str().unwrap().to_string()).collect(),
        fee: r["gebuehr"].as_f64().unwrap_or_else(|| panic!("{id}: fee {r}")),
        result: r,
    }
}

fn with(mut base: Value, patch: Value) -> Value {
    merge(&mut base, patch);
    base
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
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
        ("the parcel itself", json!({"grundstueck": {"flurstueck": "12/3"}}), "B-Plan Nr. 7", "§ 24 Abs. 1 Nr. 1 BauGB"),
        ("a whole field", json!({"grundstueck": {"flur": "5", "flurstueck": "7"}}), "Sanierungsgebiet Altstadt", "§ 24 Abs. 1 Nr. 3 BauGB"),
        ("a whole district, any case", json!({"grundstueck": {"gemarkung": "OBERDORF", "flur": null, "flurstueck": "1"}}), "Ortsmitte", "§§ 24, 25 BauGB"),
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
