//! The bridge between the form schema and HTML: posted fields become canonical JSON data,
//! and fields become view models for the templates (value, hint, error, options).
//! Everything works without JavaScript; dates use the GOV.UK three-field pattern.

use crate::i18n::tf;
use rathaus_domain::iban::Iban;
use rathaus_domain::money::Money;
use rathaus_domain::Lang;
use rathaus_engine::form::{
    address_part_label, get_path, money_json, remove_path, set_path, Field, FieldKind, FormSchema, Page, ADDRESS_PARTS,
};
use rathaus_engine::{Catalogue, FieldError};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// Posted form fields.
pub struct Posted {
    pairs: Vec<(String, String)>,
}

impl Posted {
    pub fn new(pairs: Vec<(String, String)>) -> Posted {
        Posted { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).map(str::trim).unwrap_or("").to_string()
    }
}

/// The HTML id of a field path: `inhaber.anschrift.plz` → `f-inhaber-anschrift-plz`,
/// `vertretung[1].vornamen` → `f-vertretung-1-vornamen`.
pub fn field_id(path: &str) -> String {
    let mut id = String::from("f-");
    for c in path.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => id.push(c),
            ']' => {}
            _ => id.push('-'),
        }
    }
    id
}

/// Where an error summary link should jump for a field of this kind.
pub fn anchor_for(schema: &FormSchema, path: &str) -> String {
    let id = field_id(path);
    let top = path.split('[').next().unwrap_or(path);
    match schema.field(top).map(|f| f.kind) {
        Some(FieldKind::Date) if !path.contains('[') => format!("{id}-tag"),
        Some(FieldKind::Address) if path == top => format!("{id}-strasse"),
        _ => id,
    }
}

/// What applying posted values found: the raw input per field name (to show it again) and
/// the values that could not be converted.
#[derive(Default)]
pub struct Applied {
    pub raw: HashMap<String, String>,
    pub errors: Vec<FieldError>,
}

/// Applies posted form values to application data.
pub struct Apply<'a> {
    pub schema: &'a FormSchema,
    pub posted: &'a Posted,
    pub lang: Lang,
}

impl Apply<'_> {
    /// Applies the posted values of `fields` (a page, or an item of a repeating group) to
    /// `target`. Values that cannot even be converted (a date that does not exist, letters in
    /// a number) are not stored; they are returned as errors together with the raw input, so the
    /// page shows what the person typed.
    pub fn apply_fields(&self, fields: &[Field], prefix: &str, target: &mut Json, scope: &Json, out: &mut Applied) {
        let (schema, posted, lang) = (self.schema, self.posted, self.lang);
        let (raw, errors) = (&mut out.raw, &mut out.errors);
        for field in fields {
            if !schema.field_visible(field, scope) && !posted_contains(posted, &format!("{prefix}{}", field.key)) {
                continue;
            }
            let name = format!("{prefix}{}", field.key);
            let label = field.label.get(lang);
            match field.kind {
                FieldKind::Date => {
                    let parts = [".tag", ".monat", ".jahr"].map(|s| posted.text(&format!("{name}{s}")));
                    for (s, v) in [".tag", ".monat", ".jahr"].iter().zip(parts.iter()) {
                        raw.insert(format!("{name}{s}"), v.clone());
                    }
                    if parts.iter().all(String::is_empty) {
                        remove_path(target, &field.key);
                    } else if parts.iter().any(String::is_empty) {
                        errors.push(FieldError {
                            field: name.clone(),
                            message: tf(lang, "form.date_incomplete", &[("label", label)]),
                        });
                    } else {
                        let parsed = (|| {
                            let d: u32 = parts[0].parse().ok()?;
                            let m: u32 = parts[1].parse().ok()?;
                            let y: i32 = parts[2].parse().ok()?;
                            if !(1000..=9999).contains(&y) {
                                return None;
                            }
                            chrono::NaiveDate::from_ymd_opt(y, m, d)
                        })();
                        match parsed {
                            Some(d) => set_path(target, &field.key, Json::String(d.format("%Y-%m-%d").to_string())),
                            None => errors.push(FieldError {
                                field: name.clone(),
                                message: tf(lang, "form.date_invalid", &[("label", label)]),
                            }),
                        }
                    }
                }
                FieldKind::Integer => {
                    let v = posted.text(&name);
                    raw.insert(name.clone(), v.clone());
                    if v.is_empty() {
                        remove_path(target, &field.key);
                    } else {
                        match v.replace(['.', ' '], "").parse::<i64>() {
                            Ok(n) => set_path(target, &field.key, Json::from(n)),
                            Err(_) => errors.push(FieldError {
                                field: name.clone(),
                                message: tf(lang, "form.integer_invalid", &[("label", label)]),
                            }),
                        }
                    }
                }
                FieldKind::Money => {
                    let v = posted.text(&name);
                    raw.insert(name.clone(), v.clone());
                    if v.is_empty() {
                        remove_path(target, &field.key);
                    } else {
                        match Money::parse_input(&v) {
                            Ok(m) => set_path(target, &field.key, money_json(m)),
                            Err(_) => errors.push(FieldError {
                                field: name.clone(),
                                message: tf(lang, "form.money_invalid", &[("label", label)]),
                            }),
                        }
                    }
                }
                FieldKind::Address => {
                    let mut parts = Map::new();
                    for part in ADDRESS_PARTS {
                        let part_name = format!("{name}.{part}");
                        let v = posted.text(&part_name);
                        raw.insert(part_name, v.clone());
                        parts.insert(part.to_string(), Json::String(v));
                    }
                    if parts.values().all(|v| v.as_str().is_some_and(str::is_empty)) {
                        remove_path(target, &field.key);
                    } else {
                        set_path(target, &field.key, Json::Object(parts));
                    }
                }
                FieldKind::Boolean => {
                    set_path(target, &field.key, Json::Bool(posted.get(&name) == Some("true")));
                }
                // Files are stored as they are posted (`attachments::store_posted`); the data
                // keeps the references it has.
                FieldKind::File => {}
                FieldKind::Checkboxes => set_list(target, &field.key, posted.all(&name)),
                FieldKind::Catalogue if field.multiple => {
                    if field.slots > 0 {
                        let values: Vec<&str> =
                            (0..field.slots).filter_map(|i| posted.get(&format!("{name}[{i}]"))).collect();
                        set_list(target, &field.key, values);
                    } else {
                        set_list(target, &field.key, posted.all(&name));
                    }
                }
                FieldKind::Repeat => {
                    let count: usize = posted
                        .get(&format!("{name}.__count"))
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0)
                        .min(field.max_items);
                    let mut items = Vec::new();
                    for i in 0..count {
                        let mut item = Json::Object(Map::new());
                        let mut item_scope = scope.clone();
                        if let Some(o) = item_scope.as_object_mut() {
                            o.insert("item".into(), item.clone());
                        }
                        let mut sub = Applied::default();
                        self.apply_fields(&field.fields, &format!("{name}[{i}]."), &mut item, &item_scope, &mut sub);
                        raw.extend(sub.raw);
                        errors.extend(sub.errors);
                        items.push(item);
                    }
                    if items.is_empty() {
                        remove_path(target, &field.key);
                    } else {
                        set_path(target, &field.key, Json::Array(items));
                    }
                }
                _ => {
                    let v = posted.text(&name);
                    raw.insert(name.clone(), v.clone());
                    if v.is_empty() {
                        remove_path(target, &field.key);
                    } else {
                        set_path(target, &field.key, Json::String(v));
                    }
                }
            }
        }
    }
}

fn posted_contains(posted: &Posted, name: &str) -> bool {
    posted
        .pairs
        .iter()
        .any(|(k, _)| k == name || k.starts_with(&format!("{name}.")) || k.starts_with(&format!("{name}[")))
}

fn set_list(target: &mut Json, key: &str, values: Vec<&str>) {
    let mut list: Vec<Json> = Vec::new();
    for v in values.into_iter().map(str::trim).filter(|v| !v.is_empty()) {
        if !list.iter().any(|x| x.as_str() == Some(v)) {
            list.push(Json::String(v.to_string()));
        }
    }
    if list.is_empty() {
        remove_path(target, key);
    } else {
        set_path(target, key, Json::Array(list));
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct OptionView {
    pub value: String,
    pub label: String,
    pub help: Option<String>,
    pub checked: bool,
    /// Words the client-side filter searches (label, synonyms).
    pub search: String,
}

#[derive(Serialize, Debug, Clone, Default)]
pub struct DateView {
    pub tag: String,
    pub monat: String,
    pub jahr: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct FieldView {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    pub error: Option<String>,
    pub required: bool,
    pub multiple: bool,
    pub value: String,
    pub date: DateView,
    pub options: Vec<OptionView>,
    pub slots: usize,
    pub slot_values: Vec<String>,
    pub items: Vec<Vec<FieldView>>,
    pub item_label: String,
    pub can_add: bool,
    pub width: Option<String>,
    pub autocomplete: Option<String>,
    /// The inputs of an `address` field.
    pub parts: Vec<PartView>,
    /// A `file` field's uploaded files, what its input accepts, and the hint on kinds and
    /// sizes.
    pub files: Vec<FileView>,
    pub accept: String,
    pub file_hint: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct FileView {
    pub id: String,
    pub name: String,
    pub size: String,
}

/// One input of a composite field (street, house number, postcode, town of an address).
#[derive(Serialize, Debug, Clone)]
pub struct PartView {
    pub id: String,
    pub name: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
    pub autocomplete: &'static str,
    pub width: &'static str,
    pub numeric: bool,
}

pub struct ViewContext<'a> {
    pub schema: &'a FormSchema,
    pub catalogues: &'a BTreeMap<String, Catalogue>,
    pub errors: &'a [FieldError],
    pub raw: &'a HashMap<String, String>,
    pub lang: Lang,
}

/// View models of the visible fields of a page.
pub fn page_fields(ctx: &ViewContext<'_>, page: &Page, data: &Json) -> Vec<FieldView> {
    page.fields
        .iter()
        .filter(|f| ctx.schema.field_visible(f, data))
        .map(|f| field_view(ctx, f, data, data, ""))
        .collect()
}

fn field_view(ctx: &ViewContext<'_>, field: &Field, obj: &Json, scope: &Json, prefix: &str) -> FieldView {
    let lang = ctx.lang;
    let name = format!("{prefix}{}", field.key);
    let value = get_path(obj, &field.key);
    let error = ctx.errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
    let raw = |n: &str| ctx.raw.get(n).cloned();
    let selected: Vec<String> = match value {
        Some(Json::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        Some(Json::String(s)) => vec![s.clone()],
        _ => vec![],
    };
    let mut options: Vec<OptionView> = field
        .options
        .iter()
        .map(|o| OptionView {
            value: o.value.clone(),
            label: o.label.get(lang).to_string(),
            help: o.help.as_ref().map(|h| h.get(lang).to_string()),
            checked: selected.contains(&o.value),
            search: rathaus_engine::catalogue::fold(o.label.get(lang)),
        })
        .collect();
    if let Some(cat) = field.catalogue.as_ref().and_then(|c| ctx.catalogues.get(c)) {
        options = cat
            .choices(lang)
            .into_iter()
            .map(|c| OptionView {
                checked: selected.contains(&c.id),
                value: c.id,
                label: c.label,
                help: None,
                search: c.search,
            })
            .collect();
    }
    let text_value = raw(&name).unwrap_or_else(|| match value {
        // Shown as people write them: "1.234,56" (the "€" stands beside the field), IBANs
        // in groups of four.
        Some(v @ Json::Number(_)) if field.kind == FieldKind::Money => Money::from_json_euros(v)
            .map(|m| match lang {
                Lang::De => m.to_german().trim_end_matches(" €").to_string(),
                Lang::En => m.to_decimal_string(),
            })
            .unwrap_or_default(),
        Some(Json::String(s)) if field.kind == FieldKind::Iban => {
            Iban::parse(s).map(|i| i.to_string()).unwrap_or_else(|_| s.clone())
        }
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        Some(Json::Bool(b)) => b.to_string(),
        _ => String::new(),
    });
    let date = if field.kind == FieldKind::Date {
        let parsed = value.and_then(Json::as_str).and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        let part = |suffix: &str, from: &dyn Fn(chrono::NaiveDate) -> String| {
            raw(&format!("{name}{suffix}")).unwrap_or_else(|| parsed.map(from).unwrap_or_default())
        };
        DateView {
            tag: part(".tag", &|d| chrono::Datelike::day(&d).to_string()),
            monat: part(".monat", &|d| chrono::Datelike::month(&d).to_string()),
            jahr: part(".jahr", &|d| chrono::Datelike::year(&d).to_string()),
        }
    } else {
        DateView::default()
    };
    let mut slot_values = selected.clone();
    if field.slots > 0 {
        slot_values.resize(field.slots.max(selected.len()), String::new());
    }
    let items: Vec<Vec<FieldView>> = if field.kind == FieldKind::Repeat {
        value
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| {
                let mut item_scope = scope.clone();
                if let Some(o) = item_scope.as_object_mut() {
                    o.insert("item".into(), item.clone());
                }
                field
                    .fields
                    .iter()
                    .filter(|f| ctx.schema.field_visible(f, &item_scope))
                    .map(|f| field_view(ctx, f, item, &item_scope, &format!("{name}[{i}].")))
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let parts = if field.kind == FieldKind::Address {
        ADDRESS_PARTS
            .iter()
            .map(|part| {
                let part_name = format!("{name}.{part}");
                let (autocomplete, width) = match *part {
                    "strasse" => ("address-line1", "20"),
                    "hausnummer" => ("address-line2", "4"),
                    "plz" => ("postal-code", "short"),
                    _ => ("address-level2", "20"),
                };
                PartView {
                    id: field_id(&part_name),
                    label: address_part_label(part, lang).to_string(),
                    value: raw(&part_name).unwrap_or_else(|| {
                        value.and_then(|v| v.get(part)).and_then(Json::as_str).unwrap_or("").to_string()
                    }),
                    error: ctx.errors.iter().find(|e| e.field == part_name).map(|e| e.message.clone()),
                    name: part_name,
                    autocomplete,
                    width,
                    numeric: *part == "plz",
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let files: Vec<FileView> = if field.kind == FieldKind::File {
        value
            .and_then(rathaus_domain::attachment::FileRef::list_of)
            .unwrap_or_default()
            .into_iter()
            .map(|f| FileView { size: rathaus_domain::attachment::size_label(f.size, lang), id: f.id, name: f.name })
            .collect()
    } else {
        Vec::new()
    };
    let (accept, file_hint) = if field.kind == FieldKind::File {
        let accept: Vec<String> = field
            .accept
            .iter()
            .flat_map(|t| t.extensions().iter().map(|e| format!(".{e}")).chain([t.media_type().to_string()]))
            .collect();
        let or = if lang == Lang::De { "oder" } else { "or" };
        let kinds = rathaus_domain::attachment::kinds_label(&field.accept, or);
        let mb = (field.max_bytes / (1024 * 1024)).to_string();
        let n = field.max_items.to_string();
        let hint = if field.max_items > 1 {
            tf(lang, "form.file_hint_multiple", &[("kinds", &kinds), ("mb", &mb), ("n", &n)])
        } else {
            tf(lang, "form.file_hint", &[("kinds", &kinds), ("mb", &mb)])
        };
        (accept.join(","), hint)
    } else {
        (String::new(), String::new())
    };
    let can_add = match field.kind {
        FieldKind::File => files.len() < field.max_items,
        _ => items.len() < field.max_items,
    };
    FieldView {
        kind: field.kind.code(),
        id: field_id(&name),
        name,
        label: field.label.get(lang).to_string(),
        help: field.help.as_ref().map(|h| h.get(lang).to_string()),
        error,
        required: ctx.schema.field_required(field, scope)
            || matches!(field.required, rathaus_engine::form::Requirement::When(_)),
        multiple: field.multiple,
        value: text_value,
        date,
        options,
        slots: field.slots,
        slot_values,
        can_add,
        items,
        item_label: field.item_label.as_ref().map(|t| t.get(lang).to_string()).unwrap_or_default(),
        width: field.width.clone(),
        autocomplete: field.autocomplete.clone(),
        parts,
        files,
        accept,
        file_hint,
    }
}

/// Handles "add another" / "remove" buttons of repeating groups on `page`. Returns true if an
/// action was applied (the page is shown again instead of moving on).
pub fn apply_repeat_action(page: &Page, action: &str, data: &mut Json) -> bool {
    let mut parts = action.splitn(3, ':');
    let (Some(kind), Some(key)) = (parts.next(), parts.next()) else { return false };
    let Some(field) = page.fields.iter().find(|f| f.key == key && f.kind == FieldKind::Repeat) else { return false };
    let mut items = get_path(data, key).and_then(Json::as_array).cloned().unwrap_or_default();
    match kind {
        "add" if items.len() < field.max_items => items.push(Json::Object(Map::new())),
        "remove" => {
            let Some(i) = parts.next().and_then(|i| i.parse::<usize>().ok()) else { return false };
            if i < items.len() {
                items.remove(i);
            }
        }
        _ => return false,
    }
    if items.is_empty() {
        remove_path(data, key);
    } else {
        set_path(data, key, Json::Array(items));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment_form() -> FormSchema {
        let form = r#"{"pages": [{"id": "p", "title": {"de": "Zahlung"}, "fields": [
            {"key": "betrag", "type": "money", "label": {"de": "Betrag"}},
            {"key": "iban", "type": "iban", "label": {"de": "IBAN"}}]}]}"#;
        FormSchema::parse(form, &BTreeMap::new()).expect("valid form")
    }

    #[test]
    fn amounts_typed_the_german_way_are_stored_as_numbers_and_shown_again_as_typed_or_grouped() {
        let schema = payment_form();
        let posted = Posted::new(vec![
            ("betrag".into(), "1.234,5".into()),
            ("iban".into(), "DE89 3704 0044 0532 0130 00".into()),
        ]);
        let mut data = Json::Object(Map::new());
        let mut out = Applied::default();
        let apply = Apply { schema: &schema, posted: &posted, lang: Lang::De };
        apply.apply_fields(&schema.pages[0].fields, "", &mut data, &Json::Object(Map::new()), &mut out);
        assert!(out.errors.is_empty());
        assert_eq!(data["betrag"], serde_json::json!(1234.5));
        // Coming back to the page later (no raw input any more): the stored values, readable.
        let no_raw = HashMap::new();
        let ctx =
            ViewContext { schema: &schema, catalogues: &BTreeMap::new(), errors: &[], raw: &no_raw, lang: Lang::De };
        data["iban"] = Json::String("DE89370400440532013000".into());
        let views = page_fields(&ctx, &schema.pages[0], &data);
        let shown: Vec<(&str, &str)> = views.iter().map(|v| (v.kind, v.value.as_str())).collect();
        assert_eq!(shown, [("money", "1.234,50"), ("iban", "DE89 3704 0044 0532 0130 00")]);

        // Something that is no amount stays on the page as typed, with the field named.
        let posted = Posted::new(vec![("betrag".into(), "12 Euro 50".into())]);
        let mut out = Applied::default();
        let apply = Apply { schema: &schema, posted: &posted, lang: Lang::De };
        apply.apply_fields(&schema.pages[0].fields, "", &mut data, &Json::Object(Map::new()), &mut out);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].field, "betrag");
        assert!(out.errors[0].message.contains("„Betrag“"), "{}", out.errors[0].message);
        assert_eq!(out.raw.get("betrag").map(String::as_str), Some("12 Euro 50"));
    }

    #[test]
    fn an_address_is_four_inputs_that_keep_what_was_typed_and_show_their_own_errors() {
        let form = r#"{"pages": [{"id": "p", "title": {"de": "Anschrift"}, "fields": [
            {"key": "anschrift", "type": "address", "label": {"de": "Anschrift"}, "required": true}]}]}"#;
        let schema = FormSchema::parse(form, &BTreeMap::new()).expect("valid form");
        let posted = Posted::new(vec![
            ("anschrift.strasse".into(), "Markt".into()),
            ("anschrift.hausnummer".into(), "1".into()),
            ("anschrift.plz".into(), "999".into()),
            ("anschrift.ort".into(), "Musterstadt".into()),
        ]);
        let mut data = Json::Object(Map::new());
        let mut out = Applied::default();
        let apply = Apply { schema: &schema, posted: &posted, lang: Lang::De };
        apply.apply_fields(&schema.pages[0].fields, "", &mut data, &Json::Object(Map::new()), &mut out);
        assert_eq!(data["anschrift"]["plz"], "999");
        let errors = schema
            .validate(&data, &BTreeMap::new(), chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(), Lang::De)
            .errors;
        let ctx = ViewContext {
            schema: &schema,
            catalogues: &BTreeMap::new(),
            errors: &errors,
            raw: &out.raw,
            lang: Lang::De,
        };
        let view = &page_fields(&ctx, &schema.pages[0], &data)[0];
        let parts: Vec<(&str, &str, bool)> =
            view.parts.iter().map(|p| (p.id.as_str(), p.value.as_str(), p.error.is_some())).collect();
        assert_eq!(
            parts,
            [
                ("f-anschrift-strasse", "Markt", false),
                ("f-anschrift-hausnummer", "1", false),
                ("f-anschrift-plz", "999", true),
                ("f-anschrift-ort", "Musterstadt", false)
            ]
        );
        // The error summary jumps to the postcode input, or to the street if all is missing.
        assert_eq!(anchor_for(&schema, "anschrift.plz"), "f-anschrift-plz");
        assert_eq!(anchor_for(&schema, "anschrift"), "f-anschrift-strasse");
    }

    #[test]
    fn ids_are_html_safe() {
        assert_eq!(field_id("inhaber.anschrift.plz"), "f-inhaber-anschrift-plz");
        assert_eq!(field_id("vertretung[1].vornamen"), "f-vertretung-1-vornamen");
    }
}
