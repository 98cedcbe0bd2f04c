//! FEEL (Friendly Enough Expression Language) as used in conditions, mappings and form rules.
//! A thin layer over dsntk: expressions are parsed once when a procedure is loaded (so syntax
//! errors surface at `library validate`, never at run time) and evaluated against JSON data.

use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{FeelNumber, FeelScope, Name};
use serde_json::Value as Json;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A parsed FEEL expression, ready to be evaluated many times.
#[derive(Clone)]
pub struct Expression {
    source: String,
    evaluator: Arc<dsntk_feel::Evaluator>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.source)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("FEEL-Ausdruck „{source_text}“ ist ungültig: {message}")]
pub struct FeelSyntaxError {
    pub source_text: String,
    pub message: String,
}

/// The result of evaluating an expression that failed at run time (FEEL's `null` with a
/// reason): a missing variable, a type mismatch.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("FEEL-Ausdruck „{expression}“ ergab keinen Wert: {reason}")]
pub struct FeelEvalError {
    pub expression: String,
    pub reason: String,
}

impl Expression {
    /// Parses FEEL text. A leading `=` (the Camunda/Zeebe convention for "this is an
    /// expression") is accepted and ignored. `names` are the variables the expression may use:
    /// FEEL names may contain blanks, so the parser must know which words form a name
    /// (without them, `rechtsform in [..]` would read as the name "rechtsform in").
    pub fn parse(source: &str, names: &[&str]) -> Result<Expression, FeelSyntaxError> {
        let text = source.trim();
        let text = text.strip_prefix('=').unwrap_or(text).trim();
        if text.is_empty() {
            return Err(FeelSyntaxError { source_text: source.to_string(), message: "leer".into() });
        }
        let mut known = FeelContext::default();
        for n in names.iter().copied().chain(words(text).iter().map(String::as_str)) {
            known.set_entry(&Name::from(n), Value::Null(None));
        }
        let scope = FeelScope::from(known);
        let node = dsntk_feel_parser::parse_expression(&scope, text, false)
            .map_err(|e| FeelSyntaxError { source_text: source.to_string(), message: e.to_string() })?;
        let evaluator = dsntk_feel_evaluator::prepare(&node);
        Ok(Expression { source: text.to_string(), evaluator: Arc::new(evaluator) })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a JSON object whose keys become FEEL variables.
    pub fn evaluate(&self, variables: &Json) -> Value {
        let scope = FeelScope::from(json_to_context(variables));
        (self.evaluator)(&scope)
    }

    /// Evaluates and converts to JSON; FEEL `null` is an error carrying dsntk's reason.
    pub fn evaluate_json(&self, variables: &Json) -> Result<Json, FeelEvalError> {
        match self.evaluate(variables) {
            Value::Null(reason) => {
                Err(FeelEvalError { expression: self.source.clone(), reason: reason.unwrap_or_else(|| "null".into()) })
            }
            v => Ok(value_to_json(&v)),
        }
    }

    /// Evaluates a condition. FEEL `null` counts as false (a missing optional field makes a
    /// condition false, it does not break the form), anything else that is not a boolean is
    /// reported.
    pub fn evaluate_bool(&self, variables: &Json) -> Result<bool, FeelEvalError> {
        match self.evaluate(variables) {
            Value::Boolean(b) => Ok(b),
            Value::Null(_) => Ok(false),
            other => Err(FeelEvalError {
                expression: self.source.clone(),
                reason: format!("Ergebnis ist kein Wahrheitswert, sondern {other}"),
            }),
        }
    }
}

/// FEEL keywords: never taken as variable names.
const KEYWORDS: &[&str] = &[
    "if",
    "then",
    "else",
    "for",
    "in",
    "return",
    "some",
    "every",
    "satisfies",
    "and",
    "or",
    "not",
    "between",
    "instance",
    "of",
    "true",
    "false",
    "null",
    "function",
    "external",
];

/// The names an expression may use as variables: identifiers and dotted paths outside
/// string literals that are not keywords and not part of a function's name. Declaring them
/// lets the parser see `betrag * 2` as a product and `if a.b then a.c else 0` as a
/// condition, where unknown names would swallow operators and keywords (FEEL names may
/// contain blanks and `*`, `+`, `-`, `.`); paths resolve through the aliases that
/// `json_to_context` adds.
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let is_start = |c: char| c.is_alphabetic() || c == '_' || c == '?';
    let is_part = |c: char| c.is_alphanumeric() || c == '_';
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if !is_start(c) || (i > 0 && (is_part(chars[i - 1]) || chars[i - 1] == '.')) {
            i += 1;
            continue;
        }
        // A path: word(.word)*
        let start = i;
        let mut first_end = None;
        loop {
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
            first_end.get_or_insert(i);
            if i + 1 < chars.len() && chars[i] == '.' && is_start(chars[i + 1]) {
                i += 1;
                continue;
            }
            break;
        }
        let path: String = chars[start..i].iter().collect();
        let first: String = chars[start..first_end.unwrap_or(i)].iter().collect();
        // Words up to an opening parenthesis name a function ("years and months
        // duration(", "day of week("); keywords other than `and`/`of` end such a run.
        let mut j = i;
        loop {
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && is_start(chars[j]) {
                let w0 = j;
                while j < chars.len() && is_part(chars[j]) {
                    j += 1;
                }
                let w: String = chars[w0..j].iter().collect();
                if KEYWORDS.contains(&w.as_str()) && w != "and" && w != "of" {
                    break;
                }
                continue;
            }
            break;
        }
        let called = j < chars.len() && chars[j] == '(';
        if !called && !KEYWORDS.contains(&first.as_str()) {
            for name in [first, path] {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// Converts a JSON object into a FEEL context.
///
/// Every nested entry is also reachable under its dotted path (`inhaber.anschrift.plz` on the
/// context holding `inhaber`). FEEL allows `.` inside names, and a parser that does not know
/// the data's structure reads `antrag.inhaber.geburtsdatum` as the entry
/// `inhaber.geburtsdatum` of `antrag`; the aliases make such paths resolve to the right value
/// without forcing model authors to declare types or parenthesise paths.
fn json_to_context(json: &Json) -> FeelContext {
    let mut ctx = FeelContext::default();
    if let Json::Object(map) = json {
        for (k, v) in map {
            ctx.set_entry(&Name::from(k.as_str()), json_to_value(v));
            if v.is_object() {
                add_path_aliases(&mut ctx, k, v);
            }
        }
    }
    ctx
}

fn add_path_aliases(ctx: &mut FeelContext, prefix: &str, value: &Json) {
    if let Json::Object(map) = value {
        for (k, v) in map {
            let path = format!("{prefix}.{k}");
            ctx.set_entry(&Name::from(path.as_str()), json_to_value(v));
            add_path_aliases(ctx, &path, v);
        }
    }
}

/// JSON → FEEL. Strings stay strings (dates are converted explicitly with `date(…)` in
/// models, as the modeler sees the canonical JSON data model).
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null(None),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match FeelNumber::from_str(&n.to_string()) {
            Ok(num) => Value::Number(num),
            Err(_) => Value::Null(Some(format!("number {n} not representable"))),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_to_value).collect()),
        Json::Object(_) => Value::Context(json_to_context(json)),
    }
}

/// FEEL → JSON. Numbers become integers where they are whole, otherwise decimals; temporal
/// values become their ISO text.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null(_) => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Number(n) => number_to_json(n),
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Context(ctx) => {
            let mut map = serde_json::Map::new();
            for (name, v) in ctx.iter() {
                let key = name.to_string();
                // Dotted entries are the path aliases added by `json_to_context`.
                if !key.contains('.') {
                    map.insert(key, value_to_json(v));
                }
            }
            Json::Object(map)
        }
        Value::Date(d) => Json::String(d.to_string()),
        Value::DateTime(d) => Json::String(d.to_string()),
        Value::Time(t) => Json::String(t.to_string()),
        Value::DaysAndTimeDuration(d) => Json::String(d.to_string()),
        Value::YearsAndMonthsDuration(d) => Json::String(d.to_string()),
        other => Json::String(other.to_string()),
    }
}

fn number_to_json(n: &FeelNumber) -> Json {
    if n.is_integer() {
        if let Ok(i) = i64::try_from(n) {
            return Json::from(i);
        }
    }
    n.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Json::Number).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_conditions_on_json() {
        let e = Expression::parse(r#"=rechtsform in ["gmbh", "ug"]"#, &["rechtsform"]).unwrap();
        assert!(e.evaluate_bool(&json!({"rechtsform": "gmbh"})).unwrap());
        assert!(!e.evaluate_bool(&json!({"rechtsform": "gbr"})).unwrap());
        assert!(!e.evaluate_bool(&json!({})).unwrap(), "a missing variable makes a condition false");
    }

    #[test]
    fn works_with_nested_data_lists_and_dates() {
        let data = json!({"inhaber": {"geburtsdatum": "2010-05-01"}, "beginn": "2026-12-01", "t": ["a", "b"]});
        let age = Expression::parse(
            "years and months duration(date(inhaber.geburtsdatum), date(beginn)).years",
            &["inhaber", "beginn", "t"],
        )
        .unwrap();
        assert_eq!(age.evaluate_json(&data).unwrap(), json!(16));
        let count = Expression::parse("count(t)", &["t"]).unwrap();
        assert_eq!(count.evaluate_json(&data).unwrap(), json!(2));
        let ctx = Expression::parse(r#"{a: 1.5, b: "x", c: [true]}"#, &[]).unwrap();
        assert_eq!(ctx.evaluate_json(&data).unwrap(), json!({"a": 1.5, "b": "x", "c": [true]}));
    }

    #[test]
    fn operators_after_undeclared_names_and_camunda_style_paths() {
        let data = json!({"betrag": 21, "antrag": {"art": "gmbh", "kosten": {"gesamt": 5}}, "x": 2});
        let e = |src: &str| Expression::parse(src, &[]).unwrap().evaluate_json(&data).unwrap();
        assert_eq!(e("=betrag * 2"), json!(42));
        assert_eq!(e("betrag+1"), json!(22));
        assert_eq!(e("betrag - x"), json!(19));
        assert_eq!(e(r#"if antrag.art = "gmbh" then antrag.kosten.gesamt else 0"#), json!(5));
        assert_eq!(e(r#"if x > 1 then "viel" else "wenig""#), json!("viel"));
        assert_eq!(e("count([betrag, x])"), json!(2));
        assert_eq!(e(r#""betrag * 2""#), json!("betrag * 2"));
    }

    #[test]
    fn reports_syntax_errors_at_parse_time() {
        assert!(Expression::parse("1 +", &[]).is_err());
        assert!(Expression::parse("=", &[]).is_err());
    }

    #[test]
    fn non_boolean_condition_is_an_error() {
        let e = Expression::parse("1 + 1", &[]).unwrap();
        assert!(e.evaluate_bool(&json!({})).is_err());
    }
}
