//! Human-readable answers: the data of an application as label/value rows per form page.
//! Used by the check-your-answers page, the case file and every document, so that all show
//! the same wording.

use crate::catalogue::Catalogue;
use crate::form::{get_path, Field, FieldKind, FormSchema};
use chrono::NaiveDate;
use rathaus_domain::iban::Iban;
use rathaus_domain::money::Money;
use rathaus_domain::Lang;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Section {
    pub page_id: String,
    pub title: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    /// Path of the field (for change links and error anchors).
    pub key: String,
    pub label: String,
    pub value: String,
}

/// Sections of the visible pages with the answers given; pages without answers are left out.
pub fn summarize(
    schema: &FormSchema,
    data: &Json,
    catalogues: &BTreeMap<String, Catalogue>,
    lang: Lang,
) -> Vec<Section> {
    schema
        .visible_pages(data)
        .into_iter()
        .map(|page| {
            let mut rows = Vec::new();
            for field in &page.fields {
                if schema.field_visible(field, data) {
                    rows_of(schema, field, data, data, "", catalogues, lang, &mut rows);
                }
            }
            Section { page_id: page.id.clone(), title: page.title.get(lang).to_string(), rows }
        })
        .filter(|s| !s.rows.is_empty())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn rows_of(
    schema: &FormSchema,
    field: &Field,
    obj: &Json,
    scope: &Json,
    prefix: &str,
    catalogues: &BTreeMap<String, Catalogue>,
    lang: Lang,
    rows: &mut Vec<Row>,
) {
    let Some(value) = get_path(obj, &field.key) else { return };
    let key = format!("{prefix}{}", field.key);
    if field.kind == FieldKind::Repeat {
        let item_label = field.item_label.as_ref().map(|t| t.get(lang)).unwrap_or("Eintrag");
        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
            let mut item_scope = scope.clone();
            if let Some(o) = item_scope.as_object_mut() {
                o.insert("item".into(), item.clone());
            }
            let mut sub = Vec::new();
            for f in &field.fields {
                if schema.field_visible(f, &item_scope) {
                    rows_of(schema, f, item, &item_scope, &format!("{key}[{i}]."), catalogues, lang, &mut sub);
                }
            }
            for mut r in sub {
                r.label = format!("{} – {item_label} {}: {}", field.label.get(lang), i + 1, r.label);
                rows.push(r);
            }
        }
        return;
    }
    if field.kind == FieldKind::File {
        // One row per file, named with its size (a list joined by commas would hide which
        // file is which).
        for f in rathaus_domain::attachment::FileRef::list_of(value).unwrap_or_default() {
            let size = rathaus_domain::attachment::size_label(f.size, lang);
            rows.push(Row {
                key: key.clone(),
                label: field.label.get(lang).to_string(),
                value: format!("{} ({size})", f.name),
            });
        }
        return;
    }
    let text = display_value(field, value, catalogues, lang);
    if !text.is_empty() {
        rows.push(Row { key, label: field.label.get(lang).to_string(), value: text });
    }
}

/// The value of one field as a person reads it: dates as 27.03.2026, choices by their
/// label, yes/no for booleans, amounts as 1.234,56 €, IBANs in groups of four.
pub fn display_value(field: &Field, value: &Json, catalogues: &BTreeMap<String, Catalogue>, lang: Lang) -> String {
    let one = |v: &Json| -> String {
        match v {
            Json::String(s) => match field.kind {
                FieldKind::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| d.format("%d.%m.%Y").to_string())
                    .unwrap_or_else(|_| s.clone()),
                FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes | FieldKind::Catalogue => {
                    field.option_label(s, catalogues, lang).unwrap_or_else(|| s.clone())
                }
                FieldKind::Iban => Iban::parse(s).map(|i| i.to_string()).unwrap_or_else(|_| s.clone()),
                _ => s.clone(),
            },
            Json::Number(_) if field.kind == FieldKind::Money => match Money::from_json_euros(v) {
                Ok(m) => match lang {
                    Lang::De => m.to_german(),
                    Lang::En => format!("€{}", m.to_decimal_string()),
                },
                Err(_) => v.to_string(),
            },
            Json::Bool(b) => match (b, lang) {
                (true, Lang::De) => "Ja".into(),
                (false, Lang::De) => "Nein".into(),
                (true, Lang::En) => "Yes".into(),
                (false, Lang::En) => "No".into(),
            },
            Json::Number(n) => n.to_string(),
            Json::Object(parts) if field.kind == FieldKind::Address => {
                let part = |k: &str| parts.get(k).and_then(Json::as_str).unwrap_or("").to_string();
                let street = format!("{} {}", part("strasse"), part("hausnummer")).trim().to_string();
                let town = format!("{} {}", part("plz"), part("ort")).trim().to_string();
                [street, town].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
            }
            Json::Null => String::new(),
            other => other.to_string(),
        }
    };
    match value {
        Json::Array(items) => items.iter().map(one).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", "),
        v => one(v),
    }
}

/// One answer a correction changed, as people read it: empty `old` for an answer added,
/// empty `new` for one removed.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub label: String,
    pub old: String,
    pub new: String,
}

/// What differs between two summaries of the same form, in the order of the form (answers
/// that only the old version had come last).
pub fn changes(before: &[Section], after: &[Section]) -> Vec<Change> {
    let rows = |sections: &[Section]| -> Vec<Row> { sections.iter().flat_map(|s| s.rows.iter().cloned()).collect() };
    let (old, new) = (rows(before), rows(after));
    let find = |list: &[Row], key: &str| list.iter().find(|r| r.key == key).map(|r| r.value.clone());
    let mut out: Vec<Change> = new
        .iter()
        .filter_map(|r| {
            let was = find(&old, &r.key).unwrap_or_default();
            (was != r.value).then(|| Change {
                key: r.key.clone(),
                label: r.label.clone(),
                old: was,
                new: r.value.clone(),
            })
        })
        .collect();
    out.extend(old.iter().filter(|r| find(&new, &r.key).is_none()).map(|r| Change {
        key: r.key.clone(),
        label: r.label.clone(),
        old: r.value.clone(),
        new: String::new(),
    }));
    out
}

#[cfg(test)]
mod change_tests {
    use super::*;

    fn section(rows: &[(&str, &str)]) -> Vec<Section> {
        vec![Section {
            page_id: "p".into(),
            title: "P".into(),
            rows: rows
                .iter()
                .map(|(k, v)| Row { key: k.to_string(), label: k.to_uppercase(), value: v.to_string() })
                .collect(),
        }]
    }

    #[test]
    fn changed_added_and_removed_answers_are_listed() {
        let before = section(&[("name", "Muster"), ("ort", "Musterstadt"), ("fax", "0351 1")]);
        let after = section(&[("name", "Mustermann"), ("ort", "Musterstadt"), ("telefon", "0351 2")]);
        let c = changes(&before, &after);
        let short: Vec<(&str, &str, &str)> =
            c.iter().map(|c| (c.key.as_str(), c.old.as_str(), c.new.as_str())).collect();
        assert_eq!(short, [("name", "Muster", "Mustermann"), ("telefon", "", "0351 2"), ("fax", "0351 1", "")]);
        assert!(changes(&before, &before).is_empty());
    }
}
