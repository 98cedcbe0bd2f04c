//! Form schema (`form.json`) and validation of application data against it.
//!
//! The same schema drives the HTML form, the API and the check-your-answers page, so a field
//! is validated identically whichever way an application arrives. Data is the canonical JSON
//! model of the procedure: dotted field keys address nested objects.

use crate::catalogue::Catalogue;
use crate::feel::Expression;
use crate::messages::{msg, Msg};
use chrono::NaiveDate;
use rathaus_domain::attachment::{FileRef, FileType};
use rathaus_domain::iban::{Iban, IbanError};
use rathaus_domain::money::Money;
use rathaus_domain::{Lang, Text};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct FormSchema {
    pub pages: Vec<Page>,
    /// The catalogues as FEEL sees them (`katalog.<name>`), for conditions such as "a chosen
    /// activity needs a permit".
    katalog: Json,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub title: Text,
    pub intro: Option<Text>,
    pub visible: Option<Expression>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// Dotted path in the data model, relative to the item for fields of a repeating group.
    pub key: String,
    pub kind: FieldKind,
    pub label: Text,
    pub help: Option<Text>,
    pub required: Requirement,
    pub visible: Option<Expression>,
    pub options: Vec<Choice>,
    pub catalogue: Option<String>,
    pub multiple: bool,
    /// For multiple catalogue choices: render as this many drop-downs (e.g. nationalities)
    /// instead of a list of checkboxes; 0 = checkboxes.
    pub slots: usize,
    pub pattern: Option<(regex::Regex, Option<Text>)>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_length: usize,
    pub checks: Vec<Check>,
    pub fields: Vec<Field>,
    pub min_items: usize,
    pub max_items: usize,
    pub item_label: Option<Text>,
    pub autocomplete: Option<String>,
    pub width: Option<String>,
    /// `file` fields: the kinds of file accepted and the largest file in bytes.
    pub accept: Vec<FileType>,
    pub max_bytes: u64,
}

/// The largest file a `file` field accepts unless it says otherwise (`max_mb`).
pub const DEFAULT_MAX_MB: u64 = 10;
/// The most a `file` field may allow (`max_mb`): uploads travel in one request and are
/// stored in the database.
pub const LIMIT_MAX_MB: u64 = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Textarea,
    Email,
    Tel,
    Url,
    Postcode,
    Date,
    Integer,
    Boolean,
    Select,
    Radio,
    Checkboxes,
    Catalogue,
    Repeat,
    /// An amount in euros: typed as people write it ("1.234,56 €"), stored as a number.
    Money,
    /// A bank account (IBAN), checked by length and check digits, stored without spaces.
    Iban,
    /// A German postal address: `{strasse, hausnummer, plz, ort}`, the postcode checked.
    Address,
    /// Uploaded files (Anlagen): a list of [`FileRef`]s; the content is stored apart.
    File,
}

/// The parts of an `address` field, in the order they are asked.
pub const ADDRESS_PARTS: [&str; 4] = ["strasse", "hausnummer", "plz", "ort"];

/// The label of an address part.
pub fn address_part_label(part: &str, lang: Lang) -> &'static str {
    match (part, lang) {
        ("strasse", Lang::De) => "Straße",
        ("strasse", Lang::En) => "Street",
        ("hausnummer", Lang::De) => "Hausnummer",
        ("hausnummer", Lang::En) => "House number",
        ("plz", Lang::De) => "Postleitzahl",
        ("plz", Lang::En) => "Postcode",
        (_, Lang::De) => "Ort",
        (_, Lang::En) => "Town or city",
    }
}

/// A German postcode: five digits, 01001 to 99998 (no delivery area starts with 00).
pub fn german_postcode(s: &str) -> bool {
    s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with("00")
}

impl FieldKind {
    pub fn code(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Textarea => "textarea",
            FieldKind::Email => "email",
            FieldKind::Tel => "tel",
            FieldKind::Url => "url",
            FieldKind::Postcode => "postcode",
            FieldKind::Date => "date",
            FieldKind::Integer => "integer",
            FieldKind::Boolean => "boolean",
            FieldKind::Select => "select",
            FieldKind::Radio => "radio",
            FieldKind::Checkboxes => "checkboxes",
            FieldKind::Catalogue => "catalogue",
            FieldKind::Repeat => "repeat",
            FieldKind::Money => "money",
            FieldKind::Iban => "iban",
            FieldKind::Address => "address",
            FieldKind::File => "file",
        }
    }

    fn is_choice(self) -> bool {
        matches!(self, FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes | FieldKind::Catalogue)
    }

    fn is_textual(self) -> bool {
        matches!(
            self,
            FieldKind::Text
                | FieldKind::Textarea
                | FieldKind::Email
                | FieldKind::Tel
                | FieldKind::Url
                | FieldKind::Postcode
                | FieldKind::Iban
        )
    }
}

#[derive(Debug, Clone)]
pub enum Requirement {
    Never,
    Always,
    When(Expression),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: Text,
    #[serde(default)]
    pub help: Option<Text>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub rule: Expression,
    pub message: Text,
}

/// One problem with one field, as returned to the form (next to the field and in the error
/// summary) and to the API (`422 {field, message}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field, e.g. `inhaber.anschrift.plz` or `vertretung[1].familienname`.
    pub field: String,
    pub message: String,
}

/// The outcome of validating a whole application.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The data with every field removed whose page or field condition is false, so that
    /// nothing is stored that the procedure does not ask for (data minimisation).
    pub data: Json,
    pub errors: Vec<FieldError>,
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Raw shape of `form.json`, before expressions are parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    pages: Vec<RawPage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPage {
    id: String,
    title: Text,
    #[serde(default)]
    intro: Option<Text>,
    #[serde(default)]
    visible: Option<String>,
    fields: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRequirement {
    Flag(bool),
    Rule(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    key: String,
    #[serde(rename = "type")]
    kind: FieldKind,
    label: Text,
    #[serde(default)]
    help: Option<Text>,
    #[serde(default)]
    required: Option<RawRequirement>,
    #[serde(default)]
    visible: Option<String>,
    #[serde(default)]
    options: Vec<Choice>,
    #[serde(default)]
    catalogue: Option<String>,
    #[serde(default)]
    multiple: bool,
    #[serde(default)]
    slots: Option<usize>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    pattern_message: Option<Text>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    max_length: Option<usize>,
    #[serde(default)]
    checks: Vec<RawCheck>,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    min_items: Option<usize>,
    #[serde(default)]
    max_items: Option<usize>,
    #[serde(default)]
    item_label: Option<Text>,
    #[serde(default)]
    autocomplete: Option<String>,
    #[serde(default)]
    width: Option<String>,
    #[serde(default)]
    accept: Vec<String>,
    #[serde(default)]
    max_mb: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    rule: String,
    message: Text,
}

/// A problem in `form.json`, with the text to search for to find its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    pub message: String,
    /// A distinctive text near the problem (e.g. the field key), used to find the line.
    pub anchor: Option<String>,
    pub line: Option<usize>,
}

impl FormSchema {
    /// Parses `form.json`. Every problem is collected rather than stopping at the first, so
    /// that `library validate` shows all of them at once.
    pub fn parse(text: &str, catalogues: &BTreeMap<String, Catalogue>) -> Result<FormSchema, Vec<SchemaProblem>> {
        let raw: RawForm = serde_json::from_str(text).map_err(|e| {
            vec![SchemaProblem {
                message: format!("ungültiges Formular-JSON: {e}"),
                anchor: None,
                line: Some(e.line()),
            }]
        })?;
        let mut problems = Vec::new();
        let mut pages = Vec::new();
        let mut page_ids = std::collections::HashSet::new();
        let mut names: Vec<String> = raw
            .pages
            .iter()
            .flat_map(|p| p.fields.iter())
            .map(|f| f.key.split('.').next().unwrap_or("").to_string())
            .collect();
        names.extend(SCOPE_NAMES.iter().map(|s| s.to_string()));
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut keys = std::collections::HashSet::new();
        if raw.pages.is_empty() {
            problems.push(SchemaProblem { message: "das Formular hat keine Seiten".into(), anchor: None, line: None });
        }
        for p in raw.pages {
            let anchor = format!("\"id\": \"{}\"", p.id);
            if !is_slug(&p.id) {
                problems.push(problem(
                    format!("Seiten-ID „{}“: nur Kleinbuchstaben, Ziffern und - erlaubt", p.id),
                    &anchor,
                ));
            }
            if !page_ids.insert(p.id.clone()) {
                problems.push(problem(format!("Seiten-ID „{}“ kommt mehrfach vor", p.id), &anchor));
            }
            if p.title.is_missing_german() {
                problems.push(problem(format!("Seite „{}“ hat keinen deutschen Titel", p.id), &anchor));
            }
            let visible = parse_expr(p.visible.as_deref(), &names, &anchor, &mut problems);
            let fields = p
                .fields
                .into_iter()
                .filter_map(|f| convert_field(f, catalogues, &names, &mut keys, "", &mut problems))
                .collect();
            pages.push(Page { id: p.id, title: p.title, intro: p.intro, visible, fields });
        }
        if problems.is_empty() {
            let katalog =
                Json::Object(catalogues.iter().map(|(k, c)| (k.clone(), Json::Array(c.entries.clone()))).collect());
            Ok(FormSchema { pages, katalog })
        } else {
            Err(problems)
        }
    }

    /// The top-level keys of the data model: the variables of expressions over the data.
    pub fn data_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.pages.iter().flat_map(|p| p.fields.iter()).map(|f| f.key.split('.').next().unwrap_or("")).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn page(&self, id: &str) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }

    /// Finds the field definition of a (top-level) key.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.pages.iter().flat_map(|p| p.fields.iter()).find(|f| f.key == key)
    }

    /// The pages whose condition holds for `data`, in order.
    pub fn visible_pages<'a>(&'a self, data: &Json) -> Vec<&'a Page> {
        self.pages.iter().filter(|p| self.holds(p.visible.as_ref(), data)).collect()
    }

    /// Whether a field is shown for `data` (`scope` is the data, plus `item` in a group).
    pub fn field_visible(&self, field: &Field, scope: &Json) -> bool {
        self.holds(field.visible.as_ref(), scope)
    }

    pub fn field_required(&self, field: &Field, scope: &Json) -> bool {
        match &field.required {
            Requirement::Never => false,
            Requirement::Always => true,
            Requirement::When(e) => self.holds(Some(e), scope),
        }
    }

    /// Evaluates a condition; the catalogues are added to the scope only for expressions that
    /// use them, since converting them to FEEL costs more than most conditions.
    fn holds(&self, cond: Option<&Expression>, scope: &Json) -> bool {
        let Some(cond) = cond else { return true };
        let result = if cond.source().contains("katalog") {
            let mut s = scope.clone();
            if let Some(o) = s.as_object_mut() {
                o.insert("katalog".into(), self.katalog.clone());
            }
            cond.evaluate_bool(&s)
        } else {
            cond.evaluate_bool(scope)
        };
        result.unwrap_or(false)
    }

    /// Validates a whole application, as on final submission and in the API.
    /// `today` is the date of the request, for rules such as "birth date lies in the past".
    pub fn validate(
        &self,
        data: &Json,
        catalogues: &BTreeMap<String, Catalogue>,
        today: NaiveDate,
        lang: Lang,
    ) -> Validated {
        let mut errors = Vec::new();
        let mut cleaned = Json::Object(Map::new());
        let Json::Object(input) = data else {
            errors.push(FieldError { field: String::new(), message: msg(lang, Msg::NotAnObject, &[]) });
            return Validated { data: cleaned, errors };
        };
        let known: Vec<&str> = self.pages.iter().flat_map(|p| p.fields.iter().map(|f| f.key.as_str())).collect();
        for path in leaf_paths(input, "") {
            if !known
                .iter()
                .any(|k| path == *k || path.starts_with(&format!("{k}.")) || k.starts_with(&format!("{path}.")))
            {
                errors.push(FieldError { field: path, message: msg(lang, Msg::UnknownField, &[]) });
            }
        }
        let ctx = Ctx { schema: self, catalogues, today, lang };
        for page in self.visible_pages(data) {
            let v = ctx.validate_fields(&page.fields, data, data, "");
            errors.extend(v.errors);
            merge_into(&mut cleaned, v.data);
        }
        Validated { data: cleaned, errors }
    }

    /// Validates only the fields of one page (the multi-page HTML form checks each page as the
    /// citizen leaves it).
    pub fn validate_page(
        &self,
        page_id: &str,
        data: &Json,
        catalogues: &BTreeMap<String, Catalogue>,
        today: NaiveDate,
        lang: Lang,
    ) -> Vec<FieldError> {
        let ctx = Ctx { schema: self, catalogues, today, lang };
        match self.page(page_id) {
            Some(page) => ctx.validate_fields(&page.fields, data, data, "").errors,
            None => Vec::new(),
        }
    }
}

fn problem(message: String, anchor: &str) -> SchemaProblem {
    SchemaProblem { message, anchor: Some(anchor.to_string()), line: None }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Names every form expression may use besides the data's top-level keys: the catalogues,
/// the current item of a repeating group, the value of the field being checked, today's date.
pub const SCOPE_NAMES: &[&str] = &["katalog", "item", "value", "heute"];

fn parse_expr(
    src: Option<&str>,
    names: &[&str],
    anchor: &str,
    problems: &mut Vec<SchemaProblem>,
) -> Option<Expression> {
    let src = src?;
    match Expression::parse(src, names) {
        Ok(e) => Some(e),
        Err(e) => {
            problems.push(problem(e.to_string(), anchor));
            None
        }
    }
}

fn convert_field(
    f: RawField,
    catalogues: &BTreeMap<String, Catalogue>,
    names: &[&str],
    keys: &mut std::collections::HashSet<String>,
    prefix: &str,
    problems: &mut Vec<SchemaProblem>,
) -> Option<Field> {
    let anchor = format!("\"key\": \"{}\"", f.key);
    let full_key = format!("{prefix}{}", f.key);
    if !is_key(&f.key) {
        problems.push(problem(
            format!("Feld „{}“: Schlüssel nur aus Kleinbuchstaben, Ziffern, _ und Punkten", f.key),
            &anchor,
        ));
    }
    if !keys.insert(full_key.clone()) {
        problems.push(problem(format!("Feld „{full_key}“ kommt mehrfach vor"), &anchor));
    }
    if f.label.is_missing_german() {
        problems.push(problem(format!("Feld „{full_key}“ hat keine deutsche Beschriftung"), &anchor));
    }
    let required = match f.required {
        None | Some(RawRequirement::Flag(false)) => Requirement::Never,
        Some(RawRequirement::Flag(true)) => Requirement::Always,
        Some(RawRequirement::Rule(src)) => match parse_expr(Some(&src), names, &anchor, problems) {
            Some(e) => Requirement::When(e),
            None => Requirement::Never,
        },
    };
    let visible = parse_expr(f.visible.as_deref(), names, &anchor, problems);
    match f.kind {
        FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes if f.options.is_empty() => {
            problems.push(problem(
                format!("Feld „{full_key}“ ({}) braucht Auswahlmöglichkeiten (options)", f.kind.code()),
                &anchor,
            ));
        }
        FieldKind::Catalogue => match &f.catalogue {
            None => problems.push(problem(format!("Feld „{full_key}“ (catalogue) nennt keinen Katalog"), &anchor)),
            Some(name) if !catalogues.contains_key(name) => problems.push(problem(
                format!(
                    "Feld „{full_key}“ verweist auf den Katalog „{name}“, der in procedure.toml nicht deklariert ist"
                ),
                &anchor,
            )),
            _ => {}
        },
        FieldKind::Repeat if f.fields.is_empty() => {
            problems.push(problem(format!("Feld „{full_key}“ (repeat) hat keine Unterfelder (fields)"), &anchor));
        }
        _ => {}
    }
    if f.kind != FieldKind::Repeat && !f.fields.is_empty() {
        problems.push(problem(format!("Feld „{full_key}“: Unterfelder gibt es nur bei type \"repeat\""), &anchor));
    }
    if f.kind == FieldKind::File && !prefix.is_empty() {
        // A repeating group's items are rebuilt from each posted page; files are not posted
        // again, so they would be lost.
        problems
            .push(problem(format!("Feld „{full_key}“: Dateifelder gibt es nicht in Wiederholungsgruppen"), &anchor));
    }
    if f.kind != FieldKind::File && (!f.accept.is_empty() || f.max_mb.is_some()) {
        problems.push(problem(format!("Feld „{full_key}“: accept und max_mb gibt es nur bei type \"file\""), &anchor));
    }
    let mut accept = Vec::new();
    for code in &f.accept {
        match FileType::from_code(code) {
            Some(t) if !accept.contains(&t) => accept.push(t),
            Some(_) => {}
            None => problems.push(problem(
                format!(
                    "Feld „{full_key}“: unbekannte Dateiart „{code}“ in accept (bekannt: {})",
                    FileType::ALL.map(FileType::code).join(", ")
                ),
                &anchor,
            )),
        }
    }
    if accept.is_empty() {
        accept = FileType::ALL.to_vec();
    }
    let max_mb = f.max_mb.unwrap_or(DEFAULT_MAX_MB);
    if f.kind == FieldKind::File && !(1..=LIMIT_MAX_MB).contains(&max_mb) {
        problems.push(problem(
            format!("Feld „{full_key}“: max_mb muss zwischen 1 und {LIMIT_MAX_MB} liegen, nicht {max_mb}"),
            &anchor,
        ));
    }
    if f.kind != FieldKind::Catalogue && f.catalogue.is_some() {
        problems.push(problem(format!("Feld „{full_key}“: catalogue gibt es nur bei type \"catalogue\""), &anchor));
    }
    let pattern = match &f.pattern {
        None => None,
        Some(p) => match regex::Regex::new(p) {
            Ok(re) => Some((re, f.pattern_message.clone())),
            Err(e) => {
                problems.push(problem(format!("Feld „{full_key}“: ungültiges Muster (pattern): {e}"), &anchor));
                None
            }
        },
    };
    let checks = f
        .checks
        .into_iter()
        .filter_map(|c| {
            if c.message.is_missing_german() {
                problems.push(problem(
                    format!("Feld „{full_key}“: Prüfregel „{}“ hat keine deutsche Meldung", c.rule),
                    &anchor,
                ));
            }
            parse_expr(Some(&c.rule), names, &anchor, problems).map(|rule| Check { rule, message: c.message })
        })
        .collect();
    let child_prefix = format!("{full_key}[].");
    let fields: Vec<Field> = f
        .fields
        .into_iter()
        .filter_map(|sub| convert_field(sub, catalogues, names, keys, &child_prefix, problems))
        .collect();
    let default_len = if f.kind == FieldKind::Textarea { 4000 } else { 200 };
    Some(Field {
        key: f.key,
        kind: f.kind,
        label: f.label,
        help: f.help,
        required,
        visible,
        options: f.options,
        catalogue: f.catalogue,
        multiple: f.multiple || f.kind == FieldKind::Checkboxes,
        slots: f.slots.unwrap_or(0),
        pattern,
        min: f.min,
        max: f.max,
        max_length: f.max_length.unwrap_or(default_len),
        checks,
        fields,
        min_items: f.min_items.unwrap_or(0),
        max_items: f.max_items.unwrap_or(match f.kind {
            FieldKind::File if f.multiple => 10,
            FieldKind::File => 1,
            _ => 20,
        }),
        item_label: f.item_label,
        autocomplete: f.autocomplete,
        width: f.width,
        accept,
        max_bytes: max_mb.min(LIMIT_MAX_MB) * 1024 * 1024,
    })
}

// ---------------------------------------------------------------------------------------------
// Data access

/// Reads a dotted path from a JSON object.
pub fn get_path<'a>(data: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(data, |cur, part| cur.get(part)).filter(|v| !v.is_null())
}

/// Writes a dotted path, creating intermediate objects.
pub fn set_path(data: &mut Json, path: &str, value: Json) {
    if !data.is_object() {
        *data = Json::Object(Map::new());
    }
    let mut cur = data;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = cur.as_object_mut().expect("object ensured above");
        if i == parts.len() - 1 {
            obj.insert(part.to_string(), value);
            return;
        }
        let next = obj.entry(part.to_string()).or_insert_with(|| Json::Object(Map::new()));
        if !next.is_object() {
            *next = Json::Object(Map::new());
        }
        cur = next;
    }
}

/// Removes a dotted path; empty parent objects are removed as well.
pub fn remove_path(data: &mut Json, path: &str) {
    fn go(cur: &mut Json, parts: &[&str]) {
        let Some(obj) = cur.as_object_mut() else {
            return;
        };
        if parts.len() == 1 {
            obj.remove(parts[0]);
            return;
        }
        if let Some(child) = obj.get_mut(parts[0]) {
            go(child, &parts[1..]);
            if child.as_object().is_some_and(|o| o.is_empty()) {
                obj.remove(parts[0]);
            }
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    go(data, &parts);
}

fn merge_into(target: &mut Json, source: Json) {
    match (target, source) {
        (Json::Object(t), Json::Object(s)) => {
            for (k, v) in s {
                match t.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge_into(existing, v),
                    _ => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (t, s) => *t = s,
    }
}

/// Dotted paths of all leaves of an object (arrays count as leaves).
fn leaf_paths(obj: &Map<String, Json>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in obj {
        let path = format!("{prefix}{k}");
        match v {
            Json::Object(inner) if !inner.is_empty() => out.extend(leaf_paths(inner, &format!("{path}."))),
            _ => out.push(path),
        }
    }
    out
}

fn is_empty(v: Option<&Json>) -> bool {
    match v {
        None | Some(Json::Null) => true,
        Some(Json::String(s)) => s.trim().is_empty(),
        Some(Json::Array(a)) => a.is_empty(),
        Some(Json::Object(o)) => o.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

impl Field {
    /// The label of an option value, for display on check-your-answers and documents.
    pub fn option_label<'a>(
        &'a self,
        value: &str,
        catalogues: &'a BTreeMap<String, Catalogue>,
        lang: Lang,
    ) -> Option<String> {
        if let Some(c) = self.options.iter().find(|c| c.value == value) {
            return Some(c.label.get(lang).to_string());
        }
        let cat = catalogues.get(self.catalogue.as_deref()?)?;
        cat.label(value, lang)
    }
}

struct Ctx<'a> {
    schema: &'a FormSchema,
    catalogues: &'a BTreeMap<String, Catalogue>,
    today: NaiveDate,
    lang: Lang,
}

impl Ctx<'_> {
    /// Validates `fields` of `obj` (the whole data or one item of a repeating group). `scope` is
    /// what conditions see: the whole application, plus `item` inside a repeating group.
    fn validate_fields(&self, fields: &[Field], obj: &Json, scope: &Json, prefix: &str) -> Validated {
        let (catalogues, today, lang) = (self.catalogues, self.today, self.lang);
        let mut errors = Vec::new();
        let mut cleaned = Json::Object(Map::new());
        for field in fields {
            if !self.schema.field_visible(field, scope) {
                continue;
            }
            let path = format!("{prefix}{}", field.key);
            let label = field.label.get(lang);
            let value = get_path(obj, &field.key);
            let err = |m: Msg, args: &[&str]| FieldError { field: path.clone(), message: msg(lang, m, args) };
            if is_empty(value) {
                if field.kind == FieldKind::Boolean {
                    // An unticked box is an answer ("no"), not a missing one.
                    set_path(&mut cleaned, &field.key, Json::Bool(false));
                    if self.schema.field_required(field, scope) {
                        errors.push(err(Msg::MustConfirm, &[label]));
                    }
                } else if self.schema.field_required(field, scope) {
                    let m = if field.kind == FieldKind::Repeat {
                        Msg::RequiredItems
                    } else if field.kind == FieldKind::File {
                        Msg::RequiredFile
                    } else if field.kind.is_choice() {
                        Msg::RequiredChoice
                    } else {
                        Msg::Required
                    };
                    errors.push(err(m, &[label]));
                }
                continue;
            }
            let value = value.expect("non-empty");
            let before = errors.len();
            let normalized = match field.kind {
                k if k.is_textual() => match value {
                    Json::String(s) => {
                        let s = s.trim().to_string();
                        if s.chars().count() > field.max_length {
                            errors.push(err(Msg::TooLong, &[label, &field.max_length.to_string()]));
                        }
                        check_text_format(field, &s, lang, &mut errors, &err);
                        let s = match field.kind {
                            FieldKind::Iban => Iban::parse(&s).map(|i| i.electronic().to_string()).unwrap_or(s),
                            _ => s,
                        };
                        Some(Json::String(s))
                    }
                    _ => {
                        errors.push(err(Msg::MustBeText, &[label]));
                        None
                    }
                },
                FieldKind::Date => match value.as_str().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()) {
                    Some(d) => Some(Json::String(d.format("%Y-%m-%d").to_string())),
                    None => {
                        errors.push(err(Msg::InvalidDate, &[label]));
                        None
                    }
                },
                FieldKind::Integer => match value.as_i64() {
                    Some(n) => {
                        if let Some(min) = field.min.filter(|m| n < *m) {
                            errors.push(err(Msg::TooSmall, &[label, &min.to_string()]));
                        }
                        if let Some(max) = field.max.filter(|m| n > *m) {
                            errors.push(err(Msg::TooLarge, &[label, &max.to_string()]));
                        }
                        Some(Json::from(n))
                    }
                    None => {
                        errors.push(err(Msg::MustBeInteger, &[label]));
                        None
                    }
                },
                FieldKind::Address => match value.as_object() {
                    Some(parts) => {
                        let mut out = Map::new();
                        for part in ADDRESS_PARTS {
                            let text = parts.get(part).and_then(Json::as_str).map(str::trim).unwrap_or("");
                            let part_label = format!("{label}: {}", address_part_label(part, lang));
                            let part_err = |m: Msg| FieldError {
                                field: format!("{path}.{part}"),
                                message: msg(lang, m, &[&part_label]),
                            };
                            if text.is_empty() {
                                if self.schema.field_required(field, scope) {
                                    errors.push(part_err(Msg::Required));
                                }
                                continue;
                            }
                            let ok = match part {
                                "plz" => german_postcode(text),
                                "hausnummer" => {
                                    text.starts_with(|c: char| c.is_ascii_digit()) && text.chars().count() <= 12
                                }
                                _ => text.chars().count() <= 100,
                            };
                            if !ok {
                                errors.push(part_err(match part {
                                    "plz" => Msg::InvalidPostcode,
                                    "hausnummer" => Msg::InvalidHouseNumber,
                                    _ => Msg::TooLongPart,
                                }));
                            }
                            out.insert(part.to_string(), Json::String(text.to_string()));
                        }
                        for extra in parts.keys().filter(|k| !ADDRESS_PARTS.contains(&k.as_str())) {
                            errors.push(FieldError {
                                field: format!("{path}.{extra}"),
                                message: msg(lang, Msg::UnknownField, &[]),
                            });
                        }
                        Some(Json::Object(out))
                    }
                    None => {
                        errors.push(err(Msg::NotAnObject, &[label]));
                        None
                    }
                },
                FieldKind::Money => {
                    let amount = match value {
                        Json::String(s) => Money::parse_input(s).ok(),
                        other => Money::from_json_euros(other).ok(),
                    };
                    match amount {
                        Some(m) => {
                            let euros = |e: i64| Money::from_cents(e * 100).to_german();
                            if let Some(min) = field.min.filter(|min| m.cents() < min * 100) {
                                errors.push(err(Msg::TooSmall, &[label, &euros(min)]));
                            }
                            if let Some(max) = field.max.filter(|max| m.cents() > max * 100) {
                                errors.push(err(Msg::TooLarge, &[label, &euros(max)]));
                            }
                            Some(money_json(m))
                        }
                        None => {
                            errors.push(err(Msg::InvalidMoney, &[label]));
                            None
                        }
                    }
                }
                FieldKind::Boolean => match value.as_bool() {
                    Some(b) => {
                        if !b && self.schema.field_required(field, scope) {
                            errors.push(err(Msg::MustConfirm, &[label]));
                        }
                        Some(Json::Bool(b))
                    }
                    None => {
                        errors.push(err(Msg::MustBeBoolean, &[label]));
                        None
                    }
                },
                FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes | FieldKind::Catalogue => {
                    validate_choice(field, value, catalogues, &mut errors, &err, label)
                }
                FieldKind::Repeat => match value.as_array() {
                    Some(items) => {
                        if items.len() < field.min_items && self.schema.field_required(field, scope) {
                            errors.push(err(Msg::TooFewItems, &[label, &field.min_items.to_string()]));
                        }
                        if items.len() > field.max_items {
                            errors.push(err(Msg::TooManyItems, &[label, &field.max_items.to_string()]));
                        }
                        let mut out = Vec::new();
                        for (i, item) in items.iter().enumerate() {
                            if !item.is_object() {
                                errors.push(FieldError {
                                    field: format!("{path}[{i}]"),
                                    message: msg(lang, Msg::NotAnObject, &[]),
                                });
                                continue;
                            }
                            let mut item_scope = scope.clone();
                            if let Some(o) = item_scope.as_object_mut() {
                                o.insert("item".into(), item.clone());
                            }
                            let v = self.validate_fields(&field.fields, item, &item_scope, &format!("{path}[{i}]."));
                            if let Some(obj) = item.as_object() {
                                for leaf in leaf_paths(obj, "") {
                                    let known = field
                                        .fields
                                        .iter()
                                        .any(|f| leaf == f.key || leaf.starts_with(&format!("{}.", f.key)));
                                    if !known {
                                        errors.push(FieldError {
                                            field: format!("{path}[{i}].{leaf}"),
                                            message: msg(lang, Msg::UnknownField, &[]),
                                        });
                                    }
                                }
                            }
                            errors.extend(v.errors);
                            out.push(v.data);
                        }
                        Some(Json::Array(out))
                    }
                    None => {
                        errors.push(err(Msg::MustBeList, &[label]));
                        None
                    }
                },
                FieldKind::File => match FileRef::list_of(value) {
                    Some(files) => {
                        if files.len() > field.max_items {
                            errors.push(err(Msg::TooManyFiles, &[label, &field.max_items.to_string()]));
                        }
                        for f in &files {
                            if !field.accept.contains(&f.kind) || f.size > field.max_bytes || f.size == 0 {
                                errors.push(err(Msg::FileNotAccepted, &[label, &f.name]));
                            }
                        }
                        Some(serde_json::to_value(&files).expect("file references serialise"))
                    }
                    None => {
                        errors.push(err(Msg::NotFiles, &[label]));
                        None
                    }
                },
                _ => unreachable!("all kinds handled"),
            };
            if errors.len() == before {
                if let Some(v) = &normalized {
                    for check in &field.checks {
                        let mut check_scope = scope.clone();
                        if let Some(o) = check_scope.as_object_mut() {
                            o.insert("value".into(), v.clone());
                            o.insert("heute".into(), Json::String(today.format("%Y-%m-%d").to_string()));
                        }
                        // A rule that cannot be evaluated (e.g. it compares with an optional
                        // field left empty) does not block; only a rule that is false does.
                        if let dsntk_feel::values::Value::Boolean(false) = check.rule.evaluate(&check_scope) {
                            errors
                                .push(FieldError { field: path.clone(), message: check.message.get(lang).to_string() });
                        }
                    }
                }
            }
            if let Some(v) = normalized {
                set_path(&mut cleaned, &field.key, v);
            }
        }
        Validated { data: cleaned, errors }
    }
}

fn check_text_format(
    field: &Field,
    s: &str,
    lang: Lang,
    errors: &mut Vec<FieldError>,
    err: &dyn Fn(Msg, &[&str]) -> FieldError,
) {
    let label = field.label.get(lang);
    let ok = match field.kind {
        FieldKind::Email => plausible_email(s),
        FieldKind::Tel => {
            s.chars().all(|c| c.is_ascii_digit() || " +-/()".contains(c))
                && s.chars().filter(|c| c.is_ascii_digit()).count() >= 5
        }
        FieldKind::Url => {
            let lower = s.to_ascii_lowercase();
            (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("www."))
                && !s.contains(char::is_whitespace)
        }
        FieldKind::Postcode => s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()),
        FieldKind::Iban => match Iban::parse(s) {
            Ok(_) => true,
            Err(IbanError::Length { country, expected, actual }) => {
                let numbers = [country, expected.to_string(), actual.to_string()];
                errors.push(err(Msg::IbanLength, &[label, &numbers[0], &numbers[1], &numbers[2]]));
                return;
            }
            Err(_) => {
                errors.push(err(Msg::InvalidIban, &[label]));
                return;
            }
        },
        _ => true,
    };
    if !ok {
        let m = match field.kind {
            FieldKind::Email => Msg::InvalidEmail,
            FieldKind::Tel => Msg::InvalidPhone,
            FieldKind::Url => Msg::InvalidUrl,
            _ => Msg::InvalidPostcode,
        };
        errors.push(err(m, &[label]));
        return;
    }
    if let Some((re, message)) = &field.pattern {
        if !re.is_match(s) {
            let mut e = err(Msg::InvalidFormat, &[label]);
            if let Some(m) = message {
                e.message = m.get(lang).to_string();
            }
            errors.push(e);
        }
    }
}

/// An amount as the form data carries it: a JSON number of euros with at most two decimals
/// (what FEEL rules and decisions compute with).
pub fn money_json(m: Money) -> Json {
    serde_json::Number::from_f64(m.cents() as f64 / 100.0).map(Json::Number).unwrap_or(Json::Null)
}

/// Whether `s` looks like an e-mail address (one `@`, a dot in the domain, no spaces): the
/// check of e-mail fields, and of addresses the portal sends mail to.
pub fn plausible_email(s: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$").expect("valid regex")).is_match(s)
}

fn validate_choice(
    field: &Field,
    value: &Json,
    catalogues: &BTreeMap<String, Catalogue>,
    errors: &mut Vec<FieldError>,
    err: &dyn Fn(Msg, &[&str]) -> FieldError,
    label: &str,
) -> Option<Json> {
    let allowed = |v: &str| -> bool {
        match field.kind {
            FieldKind::Catalogue => {
                field.catalogue.as_ref().and_then(|c| catalogues.get(c)).is_some_and(|c| c.contains(v))
            }
            _ => field.options.iter().any(|o| o.value == v),
        }
    };
    if field.multiple {
        let Some(items) = value.as_array() else {
            errors.push(err(Msg::MustBeList, &[label]));
            return None;
        };
        let mut out: Vec<String> = Vec::new();
        for item in items {
            match item.as_str() {
                Some(s) if allowed(s) => {
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_string());
                    }
                }
                Some(s) => errors.push(err(Msg::NotAnOption, &[label, s])),
                None => errors.push(err(Msg::MustBeText, &[label])),
            }
        }
        Some(Json::Array(out.into_iter().map(Json::String).collect()))
    } else {
        match value.as_str() {
            Some(s) if allowed(s) => Some(Json::String(s.to_string())),
            Some(s) => {
                errors.push(err(Msg::NotAnOption, &[label, s]));
                None
            }
            None => {
                errors.push(err(Msg::MustBeText, &[label]));
                None
            }
        }
    }
}
