//! The automatic checks of the Gewerbeanzeige (rules 1–10 of the domain specification and
//! every scenario it lists), run against the real library folder, without a database.

mod common;
use chrono::NaiveDate;
use common::with;
use rathaus_domain::calendar::WorkCalendar;
use rathaus_domain::Lang;
use rathaus_engine::environment::{check, tenant_facts};
use rathaus_engine::Procedure;
use serde_json::{json, Value};

fn procedure() -> &'static Procedure {
    common::procedure("gewerbeanmeldung")
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn days(n: i64) -> String {
    (today() + chrono::Duration::days(n)).format("%Y-%m-%d").to_string()
}

/// Einzelunternehmen, software, beginn in 5 days, German, Betriebsstätte in the tenant.
fn standard() -> Value {
    json!({
        "meldungsart": "anmeldung",
        "inhaber": {
            "familienname": "Muster", "vornamen": "Erika", "geburtsdatum": "1985-04-12", "geburtsort": "Chemnitz",
            "staatsangehoerigkeit": ["DE"],
            "anschrift": {"strasse": "Hauptstraße", "hausnummer": "1", "plz": "09999", "ort": "Musterstadt"}
        },
        "rechtsform": "einzelunternehmen",
        "betrieb": {"anschrift": {"strasse": "Marktplatz", "hausnummer": "3", "plz": "09999", "ort": "Musterstadt"}, "niederlassung": "hauptniederlassung"},
        "grund": "neugruendung",
        "taetigkeiten": ["software"],
        "taetigkeit_beschreibung": "Entwicklung und Vertrieb von Software",
        "betriebsart": ["sonstiges"],
        "beginn": days(5),
        "nebenerwerb": false,
        "beschaeftigte": {"vollzeit": 0, "teilzeit": 0}
    })
}

struct Outcome {
    decision: String,
    codes: Vec<String>,
    reasons: Vec<String>,
    recipients: Vec<String>,
    fee: Value,
}

fn run(data: &Value) -> Outcome {
    let p = procedure();
    let validated = p.form.validate(data, &p.catalogues, today(), Lang::De);
    assert!(validated.errors.is_empty(), "scenario data must be valid: {:?}", validated.errors);
    let params = p.resolve_parameters(&json!({})).unwrap();
    let tenant = tenant_facts("Musterstadt", &["09999".into(), "09990".into()], &WorkCalendar::new(None), today());
    let r = check(p, &validated.data, &params, &tenant, today()).unwrap_or_else(|e| panic!("decision failed: {e}"));
    let list = |key: &str, field: &str| -> Vec<String> {
        r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                if field.is_empty() {
                    b.as_str().unwrap().to_string()
                } else {
                    b[field].as_str().unwrap().to_string()
                }
            })
            .collect()
    };
    Outcome {
        decision: r["entscheidung"].as_str().unwrap().to_string(),
        codes: list("befunde", "code"),
        reasons: list("befunde", "grund"),
        recipients: list("empfaenger", ""),
        fee: r["gebuehr"].clone(),
    }
}

#[test]
fn scenario_standard_case_is_accepted_with_fee_and_recipients() {
    let o = run(&standard());
    assert_eq!(o.decision, "accept", "reasons: {:?}", o.reasons);
    assert!(o.codes.is_empty(), "{:?}", o.reasons);
    assert_eq!(o.fee, json!(26));
    let mut r = o.recipients.clone();
    r.sort();
    assert_eq!(r, vec!["berufsgenossenschaft", "finanzamt", "ihk", "statistisches_landesamt", "zoll"]);
}

#[test]
fn scenario_gmbh_security_without_permit_goes_to_review() {
    let data = with(
        standard(),
        json!({"rechtsform": "gmbh", "register": {"art": "HRB", "nummer": "12345", "gericht": "Amtsgericht Chemnitz"},
               "vertretung": [{"familienname": "Beispiel", "vornamen": "Max", "geburtsdatum": "1980-01-01", "staatsangehoerigkeit": ["DE"],
                               "anschrift": {"strasse": "Weg", "hausnummer": "2", "plz": "09999", "ort": "Musterstadt"}}],
               "taetigkeiten": ["bewachung"], "taetigkeit_beschreibung": "Bewachung von Objekten"}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "review");
    assert!(o.reasons.contains(&"Erlaubnis nach § 34a GewO fehlt".to_string()), "{:?}", o.reasons);
    assert!(o.recipients.contains(&"registergericht".to_string()));
}

#[test]
fn permit_given_is_still_reviewed_but_with_another_reason() {
    let data = with(
        standard(),
        json!({"taetigkeiten": ["immobilienmakler"], "erlaubnis": {"behoerde": "IHK Chemnitz", "erteilt_am": "2026-01-10", "aktenzeichen": "34c-123"}}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "review");
    assert_eq!(o.codes, vec!["erlaubnis_pruefen"]);
    assert!(o.reasons[0].contains("§ 34c GewO") && o.reasons[0].contains("IHK Chemnitz"), "{:?}", o.reasons);
}

#[test]
fn scenario_hairdresser_with_craft_card_and_staff_is_accepted() {
    let data = with(
        standard(),
        json!({"taetigkeiten": ["friseur"], "betriebsart": ["handwerk"], "beschaeftigte": {"vollzeit": 0, "teilzeit": 2},
               "handwerkskarte": {"kammer": "Handwerkskammer Chemnitz", "eingetragen_am": "2020-03-01"}}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    for r in ["hwk", "bundesagentur_fuer_arbeit", "gewerbeaufsicht"] {
        assert!(o.recipients.contains(&r.to_string()), "{r} missing in {:?}", o.recipients);
    }
    assert!(!o.recipients.contains(&"ihk".to_string()), "a pure craft business is not reported to the IHK");
}

#[test]
fn hairdresser_without_craft_card_goes_to_review() {
    let o = run(&with(standard(), json!({"taetigkeiten": ["friseur"], "betriebsart": ["handwerk"]})));
    assert_eq!(o.decision, "review");
    assert_eq!(o.codes, vec!["handwerkskarte_fehlt"]);
    assert!(o.reasons[0].contains("Friseur"));
}

#[test]
fn craft_like_activity_is_accepted_and_reported_to_the_hwk() {
    let o = run(&with(standard(), json!({"taetigkeiten": ["kosmetik"], "betriebsart": ["handwerk"]})));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert!(o.recipients.contains(&"hwk".to_string()));
}

#[test]
fn scenario_heilpraktiker_is_probably_no_trade() {
    let o = run(&with(standard(), json!({"taetigkeiten": ["heilpraktiker"]})));
    assert_eq!(o.decision, "review");
    assert!(o.reasons.iter().any(|r| r.contains("kein Gewerbe")), "{:?}", o.reasons);
}

#[test]
fn scenario_premises_outside_the_tenant_is_a_question_of_competence() {
    let o = run(&with(standard(), json!({"betrieb": {"anschrift": {"plz": "09998", "ort": "Beispielgemeinde"}}})));
    assert_eq!(o.decision, "review");
    assert_eq!(o.codes, vec!["zustaendigkeit"]);
    assert!(o.reasons[0].contains("Zuständigkeit"));
}

#[test]
fn scenario_deregistration_of_software_business_is_accepted_without_fee() {
    let mut data = with(
        standard(),
        json!({"meldungsart": "abmeldung", "grund": null, "beginn": null, "grund_abmeldung": "aufgabe", "ende": days(-3)}),
    );
    data.as_object_mut().unwrap().remove("grund");
    let o = run(&data);
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.fee, json!(0));
    assert!(o.recipients.contains(&"finanzamt".to_string()));
    assert!(!o.recipients.contains(&"berufsgenossenschaft".to_string()), "BG only learns of registrations");
}

#[test]
fn itinerant_trade_and_bar_need_other_procedures() {
    let o = run(&with(standard(), json!({"taetigkeiten": ["marktstand"]})));
    assert_eq!((o.decision.as_str(), o.codes.clone()), ("review", vec!["reisegewerbe".to_string()]));
    let o = run(&with(standard(), json!({"taetigkeiten": ["gaststaette"]})));
    assert_eq!((o.decision.as_str(), o.codes.clone()), ("review", vec!["gaststaette".to_string()]));
    assert!(o.reasons[0].contains("Gaststättenerlaubnis nach Landesrecht"), "parameter text is used: {:?}", o.reasons);
}

#[test]
fn minors_need_court_approval() {
    let o = run(&with(standard(), json!({"inhaber": {"geburtsdatum": "2009-01-01"}})));
    assert_eq!(o.codes, vec!["minderjaehrig"]);
    assert_eq!(o.decision, "review");
    // 18 on the day of the start: no longer a minor.
    let o = run(&with(standard(), json!({"inhaber": {"geburtsdatum": "2008-11-27"}})));
    assert!(o.codes.is_empty(), "{:?}", o.reasons);
}

#[test]
fn third_country_nationals_need_a_residence_permit_allowing_self_employment() {
    let o = run(&with(standard(), json!({"inhaber": {"staatsangehoerigkeit": ["TR"]}})));
    assert_eq!(o.codes, vec!["aufenthaltstitel"]);
    assert!(o.reasons[0].contains("Türkei"), "{:?}", o.reasons);
    assert!(o.recipients.contains(&"auslaenderbehoerde".to_string()));
    let o = run(&with(
        standard(),
        json!({"inhaber": {"staatsangehoerigkeit": ["TR"]}, "aufenthaltstitel": {"art": "Niederlassungserlaubnis", "erlaubt_selbststaendigkeit": true}}),
    ));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    // A second nationality of the EU does not remove the third-country one from the check,
    // but the Swiss or Austrian alone need nothing.
    let o = run(&with(standard(), json!({"inhaber": {"staatsangehoerigkeit": ["AT", "CH"]}})));
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
}

#[test]
fn late_notification_is_accepted_but_flagged() {
    let o = run(&with(standard(), json!({"beginn": days(-45)})));
    assert_eq!(o.decision, "accept");
    assert_eq!(o.codes, vec!["verspaetet"]);
    assert!(o.reasons[0].contains("45 Tage"), "{:?}", o.reasons);
    let o = run(&with(standard(), json!({"beginn": days(-30)})));
    assert!(o.codes.is_empty(), "exactly the limit is not late: {:?}", o.reasons);
}

#[test]
fn start_far_in_the_future_is_reviewed() {
    let o = run(&with(standard(), json!({"beginn": days(400)})));
    assert_eq!((o.decision.as_str(), o.codes.clone()), ("review", vec!["beginn_zu_weit".to_string()]));
    assert!(run(&with(standard(), json!({"beginn": days(365)}))).codes.is_empty());
}

#[test]
fn several_reasons_are_all_listed() {
    let o = run(&with(
        standard(),
        json!({"taetigkeiten": ["bewachung", "heilpraktiker"], "betrieb": {"anschrift": {"plz": "01067"}}, "inhaber": {"staatsangehoerigkeit": ["US"]}}),
    ));
    assert_eq!(o.decision, "review");
    let mut codes = o.codes.clone();
    codes.sort();
    assert_eq!(codes, vec!["aufenthaltstitel", "erlaubnis_fehlt", "kein_gewerbe", "zustaendigkeit"]);
}

#[test]
fn change_notification_costs_the_change_fee() {
    let data = with(
        standard(),
        json!({"meldungsart": "ummeldung", "grund": null, "aenderung": ["verlegung"],
               "betrieb": {"anschrift_alt": {"strasse": "Alte Gasse", "hausnummer": "9", "plz": "09990", "ort": "Musterstadt"}}}),
    );
    let o = run(&data);
    assert_eq!(o.decision, "accept", "{:?}", o.reasons);
    assert_eq!(o.fee, json!(20));
}

#[test]
fn tenant_fee_override_is_used() {
    let p = procedure();
    let params = p.resolve_parameters(&json!({"gebuehr_anmeldung": "31.50"})).unwrap();
    let tenant = tenant_facts("Musterstadt", &["09999".into()], &WorkCalendar::new(None), today());
    let r = check(p, &standard(), &params, &tenant, today()).unwrap();
    assert_eq!(r["gebuehr"], json!(31.5));
    assert!(p.resolve_parameters(&json!({"gebuehr_anmeldung": "viel"})).is_err());
    assert!(p.resolve_parameters(&json!({"unbekannt": 1})).is_err());
}

/// The assistant's outlook on the answers given so far.
fn outlook(data: &Value, lang: Lang) -> Option<rathaus_engine::assistant::Outlook> {
    let p = procedure();
    let params = p.resolve_parameters(&json!({})).unwrap();
    let tenant = tenant_facts("Musterstadt", &["09999".into(), "09990".into()], &WorkCalendar::new(None), today());
    rathaus_engine::assistant::outlook(p, data, &params, &tenant, today(), lang)
        .unwrap_or_else(|e| panic!("the check must run on partial data: {e}"))
}

#[test]
fn the_assistant_says_nothing_before_the_first_answer() {
    assert_eq!(outlook(&json!({}), Lang::De), None);
}

#[test]
fn the_assistant_runs_the_checks_on_partial_answers_without_false_alarms() {
    // Only the kind of notification: nothing to object to yet, and the fee is known.
    let o = outlook(&json!({"meldungsart": "anmeldung"}), Lang::De).unwrap();
    assert!(!o.review, "no finding on missing answers: {:?}", o.hints);
    assert!(o.hints.is_empty(), "{:?}", o.hints);
    assert_eq!(o.fee.map(|f| f.to_german()), Some("26,00 €".to_string()));
    assert_eq!(o.processing_days, None, "decided at once");

    // A personal address without the premises' postcode yet is no question of competence.
    let o = outlook(&json!({"meldungsart": "anmeldung", "inhaber": {"familienname": "Muster"}}), Lang::De).unwrap();
    assert!(o.hints.is_empty(), "{:?}", o.hints);
}

#[test]
fn the_assistant_tells_about_the_permit_as_soon_as_the_activity_is_chosen() {
    let data = json!({"meldungsart": "anmeldung", "taetigkeiten": ["bewachung"]});
    let o = outlook(&data, Lang::De).unwrap();
    assert!(o.review);
    assert_eq!(
        o.hints,
        ["Für diese Tätigkeit brauchen Sie eine Erlaubnis nach § 34a GewO. Bitte geben Sie die Erlaubnis im Antrag an, sonst prüft eine Sachbearbeiterin oder ein Sachbearbeiter Ihre Anzeige."]
    );
    assert_eq!(o.documents, ["Erlaubnis nach § 34a GewO"]);
    assert_eq!(o.processing_days, Some(3), "the procedure's processing days");

    let o = outlook(&data, Lang::En).unwrap();
    assert_eq!(o.documents, ["Permit under § 34a GewO"]);
    assert!(o.hints[0].starts_with("This activity requires a permit under § 34a GewO."), "{:?}", o.hints);

    // Once the permit is given, the hint changes: a clerk checks it.
    let given = with(data, json!({"erlaubnis": {"behoerde": "Landratsamt", "erteilt_am": "2026-01-05"}}));
    let o = outlook(&given, Lang::De).unwrap();
    assert!(o.review);
    assert!(o.hints[0].contains("prüft die Erlaubnis, die Sie angegeben haben"), "{:?}", o.hints);
}

#[test]
fn the_assistant_on_a_complete_standard_case_predicts_the_automatic_confirmation() {
    let o = outlook(&standard(), Lang::De).unwrap();
    assert!(!o.review && o.hints.is_empty() && o.documents.is_empty());
    // A late notification is confirmed but the applicant is told.
    let late = with(standard(), json!({"beginn": days(-40)}));
    let o = outlook(&late, Lang::De).unwrap();
    assert!(!o.review);
    assert_eq!(o.hints.len(), 1);
    assert!(o.hints[0].contains("§ 14 Abs. 1, § 146 Abs. 2 Nr. 2 GewO"), "{:?}", o.hints);
}

/// `[prefill]` names form fields and account fields; a wrong one is a problem at
/// `library validate`, with its line, not a silent gap in the form.
#[test]
fn prefill_names_form_fields_and_account_fields() {
    let p = procedure();
    assert_eq!(p.manifest.prefill.get("inhaber.familienname").map(String::as_str), Some("familienname"));
    let mut files = library_files();
    let manifest = files["procedure.toml"].replace(
        "\"inhaber.telefon\" = \"telefon\"",
        "\"inhaber.telefon\" = \"handy\"\n\"inhaber.geburtsdatum\" = \"vornamen\"",
    );
    files.insert("procedure.toml".into(), manifest);
    let problems: Vec<String> = Procedure::from_files(files).unwrap_err().into_iter().map(|p| p.message).collect();
    assert!(
        problems
            .iter()
            .any(|m| m.starts_with("prefill: „handy“ ist kein Feld des Bürgerkontos (bekannt: familienname")),
        "{problems:?}"
    );
    assert!(
        problems.contains(
            &"prefill: „inhaber.geburtsdatum“ ist kein Text-, E-Mail-, Telefon- oder PLZ-Feld des Formulars"
                .to_string()
        ),
        "{problems:?}"
    );
}

/// The library folder's files, as `Procedure::from_files` takes them.
fn library_files() -> std::collections::BTreeMap<String, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library/gewerbeanmeldung");
    let mut files = std::collections::BTreeMap::new();
    for entry in walk(&dir) {
        let name = entry.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
        if let Ok(text) = std::fs::read_to_string(&entry) {
            files.insert(name, text);
        }
    }
    let shared = dir.join("../_kataloge/staaten.json");
    files.insert("../_kataloge/staaten.json".into(), std::fs::read_to_string(shared).unwrap());
    files
}

#[test]
fn deadlines_come_from_the_manifest_and_the_towns_target_from_its_parameter() {
    use rathaus_domain::calendar::{Counting, IsoDuration};
    let p = procedure();
    let params = p.resolve_parameters(&json!({})).unwrap();
    let d: Vec<_> = p.deadlines(&params);
    let keys: Vec<&str> = d.iter().map(|d| d.key).collect();
    assert_eq!(keys, ["bearbeitungsziel", "empfangsbescheinigung"]);
    assert_eq!(d[1].spec.duration, IsoDuration::parse("P3D").unwrap());
    assert_eq!(d[1].spec.counting, Counting::Frist);
    assert_eq!(d[1].def.legal_basis.as_deref(), Some("§ 15 Abs. 1 GewO"));
    assert_eq!(d[0].spec.duration, IsoDuration::parse("P2D").unwrap());
    assert_eq!(d[0].spec.counting, Counting::Arbeitstage);
    // The town sets its own target; hours or nonsense are refused with the parameter named.
    let params = p.resolve_parameters(&json!({"bearbeitungsziel": "P1W"})).unwrap();
    assert_eq!(p.deadlines(&params)[0].spec.duration, IsoDuration::parse("P1W").unwrap());
    let e = p.resolve_parameters(&json!({"bearbeitungsziel": "PT4H"})).unwrap_err();
    assert!(e.iter().any(|m| m.starts_with("Parameter „bearbeitungsziel“")), "{e:?}");
    let e = p.resolve_parameters(&json!({"bearbeitungsziel": "zwei Tage"})).unwrap_err();
    assert!(e.iter().any(|m| m.contains("keine Dauer nach ISO 8601")), "{e:?}");
}

#[test]
fn a_wrong_deadline_definition_is_named_when_the_procedure_loads() {
    let check = |from: &str, to: &str, expected: &str| {
        let mut files = library_files();
        let manifest = files["procedure.toml"].replace(from, to);
        assert_ne!(manifest, files["procedure.toml"], "{from}");
        files.insert("procedure.toml".into(), manifest);
        let problems: Vec<String> = Procedure::from_files(files).unwrap_err().into_iter().map(|p| p.message).collect();
        assert!(problems.iter().any(|m| m.contains(expected)), "{expected}: {problems:?}");
    };
    check("duration = \"P3D\"", "duration = \"P3D\"\nparameter = \"bearbeitungsziel\"", "genau eines von duration");
    check("remind = [\"P1D\"]", "remind = [\"P1W\"]", "liegt nicht innerhalb der Frist");
    check("duration = \"P3D\"", "duration = \"PT72H\"", "nicht in Stunden");
    check("parameter = \"bearbeitungsziel\"", "parameter = \"gebuehr_anmeldung\"", "muss den Typ duration haben");
    check("parameter = \"bearbeitungsziel\"", "parameter = \"gibts_nicht\"", "Parameter „gibts_nicht“ gibt es nicht");
    check("kind = \"ziel\"", "kind = \"wunsch\"", "wunsch");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// XGewerbeanzeige names nationalities by the Destatis key: the catalogue gives one for
/// every sovereign state it lists, three digits and each once.
#[test]
fn the_states_catalogue_has_destatis_keys() {
    let staaten = &procedure().catalogues["staaten"];
    let keys: Vec<(String, String)> = staaten
        .entries
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?.to_string(), e.get("destatis")?.as_str()?.to_string())))
        .collect();
    assert!(keys.len() >= 190, "{} states with a key", keys.len());
    let mut seen = std::collections::BTreeSet::new();
    for (id, key) in &keys {
        assert!(key.len() == 3 && key.bytes().all(|b| b.is_ascii_digit()), "{id}: {key}");
        assert!(seen.insert(key.clone()), "{id}: key {key} twice");
    }
    let key = |id: &str| keys.iter().find(|(i, _)| i == id).map(|(_, k)| k.as_str());
    assert_eq!((key("DE"), key("TR"), key("PL"), key("CL")), (Some("000"), Some("163"), Some("152"), Some("332")));
}
