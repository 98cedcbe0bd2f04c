//! Field types with their own rules: amounts of money, IBANs, addresses and files.

use chrono::NaiveDate;
use rathaus_domain::Lang;
use rathaus_engine::summary::display_value;
use rathaus_engine::FormSchema;
use serde_json::json;
use std::collections::BTreeMap;

const FORM: &str = r#"{
  "pages": [{
    "id": "zahlung",
    "title": {"de": "Zahlung", "en": "Payment"},
    "fields": [
      {"key": "kaution", "type": "money", "label": {"de": "Kaution", "en": "Deposit"}, "required": true, "min": 10, "max": 5000,
       "checks": [{"rule": "value >= 100 or value < 50", "message": {"de": "Zwischen 50 und 100 Euro gibt es keine Kaution.", "en": "No deposit between 50 and 100 euros."}}]},
      {"key": "iban", "type": "iban", "label": {"de": "IBAN für die Erstattung", "en": "IBAN for the refund"}, "required": true}
    ]
  }]
}"#;

fn schema() -> FormSchema {
    FormSchema::parse(FORM, &BTreeMap::new()).expect("valid form")
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn errors(data: serde_json::Value, lang: Lang) -> Vec<(String, String)> {
    schema().validate(&data, &BTreeMap::new(), today(), lang).errors.into_iter().map(|e| (e.field, e.message)).collect()
}

#[test]
fn amounts_and_ibans_are_stored_in_one_form_whatever_was_typed() {
    let v = schema().validate(
        &json!({"kaution": "1.234,50 €", "iban": "de89 3704 0044 0532 0130 00"}),
        &BTreeMap::new(),
        today(),
        Lang::De,
    );
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert_eq!(v.data, json!({"kaution": 1234.5, "iban": "DE89370400440532013000"}));
    // The API may send numbers.
    let v = schema().validate(
        &json!({"kaution": 250, "iban": "DE89370400440532013000"}),
        &BTreeMap::new(),
        today(),
        Lang::De,
    );
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert_eq!(v.data["kaution"], json!(250.0));
}

#[test]
fn wrong_amounts_name_the_field_and_the_limit() {
    assert_eq!(
        errors(json!({"kaution": "zwölf", "iban": "DE89370400440532013000"}), Lang::De),
        [("kaution".to_string(), "„Kaution“ muss ein Betrag in Euro sein, z. B. 1.234,56.".to_string())]
    );
    assert_eq!(
        errors(json!({"kaution": "5,99", "iban": "DE89370400440532013000"}), Lang::De),
        [("kaution".to_string(), "„Kaution“ muss mindestens 10,00 € sein.".to_string())]
    );
    assert_eq!(
        errors(json!({"kaution": "5.000,01", "iban": "DE89370400440532013000"}), Lang::De),
        [("kaution".to_string(), "„Kaution“ darf höchstens 5.000,00 € sein.".to_string())]
    );
    assert_eq!(errors(json!({"kaution": "26,505", "iban": "DE89370400440532013000"}), Lang::En).len(), 1);
    // FEEL rules compute with the amount as a number.
    assert_eq!(
        errors(json!({"kaution": "75", "iban": "DE89370400440532013000"}), Lang::De),
        [("kaution".to_string(), "Zwischen 50 und 100 Euro gibt es keine Kaution.".to_string())]
    );
}

#[test]
fn wrong_ibans_say_what_is_wrong() {
    assert_eq!(
        errors(json!({"kaution": 20, "iban": "DE89 3704 0044 0532 0130 01"}), Lang::De),
        [(
            "iban".to_string(),
            "„IBAN für die Erstattung“ ist keine gültige IBAN. Prüfen Sie sie mit Ihren Kontounterlagen, z. B. DE89 3704 0044 0532 0130 00."
                .to_string()
        )]
    );
    assert_eq!(
        errors(json!({"kaution": 20, "iban": "DE89 3704 0044 0532 0130"}), Lang::En),
        [("iban".to_string(), "“IBAN for the refund”: an IBAN from DE has 22 characters, you entered 20.".to_string())]
    );
    assert_eq!(
        errors(json!({"kaution": 20}), Lang::De),
        [("iban".to_string(), "Geben Sie „IBAN für die Erstattung“ an.".to_string())]
    );
}

#[test]
fn check_your_answers_shows_them_as_people_write_them() {
    let s = schema();
    let field = |key: &str| s.pages[0].fields.iter().find(|f| f.key == key).unwrap().clone();
    let none = BTreeMap::new();
    assert_eq!(display_value(&field("kaution"), &json!(1234.5), &none, Lang::De), "1.234,50 €");
    assert_eq!(display_value(&field("kaution"), &json!(1234.5), &none, Lang::En), "€1234.50");
    assert_eq!(
        display_value(&field("iban"), &json!("DE89370400440532013000"), &none, Lang::De),
        "DE89 3704 0044 0532 0130 00"
    );
}

const ADDRESS_FORM: &str = r#"{
  "pages": [{
    "id": "anschrift",
    "title": {"de": "Anschrift"},
    "fields": [
      {"key": "inhaber.anschrift", "type": "address", "label": {"de": "Wohnanschrift", "en": "Home address"}, "required": true,
       "checks": [{"rule": "value.plz != \"09999\"", "message": {"de": "Für 09999 ist die Gemeinde selbst zuständig."}}]}
    ]
  }]
}"#;

fn address_errors(data: serde_json::Value, lang: Lang) -> (serde_json::Value, Vec<(String, String)>) {
    let schema = FormSchema::parse(ADDRESS_FORM, &BTreeMap::new()).expect("valid form");
    let v = schema.validate(&data, &BTreeMap::new(), today(), lang);
    (v.data, v.errors.into_iter().map(|e| (e.field, e.message)).collect())
}

#[test]
fn an_address_is_checked_part_by_part() {
    let (data, errors) = address_errors(
        json!({"inhaber": {"anschrift": {"strasse": " Markt ", "hausnummer": "1a", "plz": "09990", "ort": "Musterstadt"}}}),
        Lang::De,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        data,
        json!({"inhaber": {"anschrift": {"strasse": "Markt", "hausnummer": "1a", "plz": "09990", "ort": "Musterstadt"}}})
    );

    let (_, errors) = address_errors(
        json!({"inhaber": {"anschrift": {"strasse": "Markt", "hausnummer": "eins", "plz": "00123", "ort": "", "land": "DE"}}}),
        Lang::De,
    );
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["inhaber.anschrift.hausnummer", "inhaber.anschrift.plz", "inhaber.anschrift.ort", "inhaber.anschrift.land"]
    );
    assert_eq!(errors[1].1, "„Wohnanschrift: Postleitzahl“ muss eine fünfstellige Postleitzahl sein, z. B. 09999.");
    assert_eq!(errors[2].1, "Geben Sie „Wohnanschrift: Ort“ an.");

    let (_, errors) = address_errors(json!({}), Lang::En);
    assert_eq!(errors, [("inhaber.anschrift".to_string(), "Enter “Home address”.".to_string())]);
    // FEEL checks see the parts.
    let (_, errors) = address_errors(
        json!({"inhaber": {"anschrift": {"strasse": "Markt", "hausnummer": "1", "plz": "09999", "ort": "Musterstadt"}}}),
        Lang::De,
    );
    assert_eq!(errors, [("inhaber.anschrift".to_string(), "Für 09999 ist die Gemeinde selbst zuständig.".to_string())]);
}

#[test]
fn an_address_reads_as_one_line() {
    let s = FormSchema::parse(ADDRESS_FORM, &BTreeMap::new()).unwrap();
    let field = s.pages[0].fields[0].clone();
    let value = json!({"strasse": "Markt", "hausnummer": "1a", "plz": "09990", "ort": "Musterstadt"});
    assert_eq!(display_value(&field, &value, &BTreeMap::new(), Lang::De), "Markt 1a, 09990 Musterstadt");
}

const FILE_FORM: &str = r#"{
  "pages": [{
    "id": "nachweise",
    "title": {"de": "Nachweise", "en": "Evidence"},
    "fields": [
      {"key": "erlaubnis.kopie", "type": "file", "accept": ["pdf"], "max_mb": 2, "required": true,
       "label": {"de": "Kopie der Erlaubnis", "en": "Copy of the permit"}},
      {"key": "fotos", "type": "file", "multiple": true, "max_items": 2, "label": {"de": "Fotos", "en": "Photos"}}
    ]
  }]
}"#;

fn file_ref(id: &str, name: &str, kind: &str, size: u64) -> serde_json::Value {
    json!({"id": id, "name": name, "type": kind, "size": size, "sha256": "ab12"})
}

#[test]
fn file_fields_take_references_to_uploads_within_their_limits() {
    let schema = FormSchema::parse(FILE_FORM, &BTreeMap::new()).expect("valid form");
    let field = schema.field("erlaubnis.kopie").unwrap();
    assert_eq!(field.accept, [rathaus_domain::attachment::FileType::Pdf]);
    assert_eq!(field.max_bytes, 2 * 1024 * 1024);
    assert_eq!(field.max_items, 1, "one file unless the field says multiple");
    // No kinds named: PDF, JPEG and PNG, 10 MB.
    let fotos = schema.field("fotos").unwrap();
    assert_eq!(fotos.accept.len(), 3);
    assert_eq!(fotos.max_bytes, 10 * 1024 * 1024);

    let ok = json!({"erlaubnis": {"kopie": [file_ref("u1", "erlaubnis.pdf", "pdf", 1000)]}});
    let v = schema.validate(&ok, &BTreeMap::new(), today(), Lang::De);
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert_eq!(v.data, ok);

    let check = |data: serde_json::Value, lang: Lang| -> Vec<(String, String)> {
        schema
            .validate(&data, &BTreeMap::new(), today(), lang)
            .errors
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    };
    assert_eq!(
        check(json!({}), Lang::De),
        [("erlaubnis.kopie".to_string(), "Laden Sie „Kopie der Erlaubnis“ hoch.".to_string())]
    );
    assert_eq!(check(json!({}), Lang::En)[0].1, "Upload “Copy of the permit”.");
    // A PNG where only PDFs are allowed, a file over the limit: references an upload could
    // not have produced (the API checks them like the portal).
    let wrong = check(
        json!({"erlaubnis": {"kopie": [file_ref("u1", "scan.png", "png", 1000)]}, "fotos": [file_ref("u2", "a.jpg", "jpeg", 11 * 1024 * 1024)]}),
        Lang::De,
    );
    assert_eq!(
        wrong,
        [
            (
                "erlaubnis.kopie".to_string(),
                "„Kopie der Erlaubnis“: Die Datei „scan.png“ ist hier nicht zulässig. Laden Sie sie erneut hoch."
                    .to_string()
            ),
            (
                "fotos".to_string(),
                "„Fotos“: Die Datei „a.jpg“ ist hier nicht zulässig. Laden Sie sie erneut hoch.".to_string()
            ),
        ]
    );
    let three =
        json!([file_ref("a", "a.png", "png", 1), file_ref("b", "b.png", "png", 1), file_ref("c", "c.png", "png", 1)]);
    let too_many =
        check(json!({"erlaubnis": {"kopie": [file_ref("u1", "e.pdf", "pdf", 1)]}, "fotos": three}), Lang::De);
    assert_eq!(too_many, [("fotos".to_string(), "Laden Sie für „Fotos“ höchstens 2 Dateien hoch.".to_string())]);
    let not_files = check(json!({"erlaubnis": {"kopie": "erlaubnis.pdf"}}), Lang::De);
    assert_eq!(not_files[0].1, "„Kopie der Erlaubnis“ muss eine Liste hochgeladener Dateien sein.");
}

#[test]
fn check_your_answers_lists_each_file_with_its_size() {
    let schema = FormSchema::parse(FILE_FORM, &BTreeMap::new()).expect("valid form");
    let data = json!({"erlaubnis": {"kopie": [file_ref("u1", "erlaubnis.pdf", "pdf", 250 * 1024)]},
        "fotos": [file_ref("u2", "vorne.jpg", "jpeg", 2 * 1024 * 1024), file_ref("u3", "hinten.jpg", "jpeg", 1024)]});
    let rows: Vec<(String, String)> = rathaus_engine::summary::summarize(&schema, &data, &BTreeMap::new(), Lang::De)
        .into_iter()
        .flat_map(|s| s.rows)
        .map(|r| (r.label, r.value))
        .collect();
    assert_eq!(
        rows,
        [
            ("Kopie der Erlaubnis".to_string(), "erlaubnis.pdf (250 KB)".to_string()),
            ("Fotos".to_string(), "vorne.jpg (2,0 MB)".to_string()),
            ("Fotos".to_string(), "hinten.jpg (1 KB)".to_string()),
        ]
    );
}

#[test]
fn a_file_field_in_the_wrong_place_or_with_unknown_kinds_is_reported_when_the_library_loads() {
    let form = r#"{"pages": [{"id": "p", "title": {"de": "P"}, "fields": [
      {"key": "gruppe", "type": "repeat", "label": {"de": "Gruppe"}, "fields": [
        {"key": "nachweis", "type": "file", "label": {"de": "Nachweis"}}]},
      {"key": "scan", "type": "file", "accept": ["pdf", "exe"], "max_mb": 100, "label": {"de": "Scan"}},
      {"key": "name", "type": "text", "accept": ["pdf"], "label": {"de": "Name"}}
    ]}]}"#;
    let problems: Vec<String> =
        FormSchema::parse(form, &BTreeMap::new()).unwrap_err().into_iter().map(|p| p.message).collect();
    assert_eq!(
        problems,
        [
            "Feld „gruppe[].nachweis“: Dateifelder gibt es nicht in Wiederholungsgruppen",
            "Feld „scan“: unbekannte Dateiart „exe“ in accept (bekannt: pdf, jpeg, png)",
            "Feld „scan“: max_mb muss zwischen 1 und 25 liegen, nicht 100",
            "Feld „name“: accept und max_mb gibt es nur bei type \"file\"",
        ]
    );
}
