//! Messages to other authorities (XÖV standards such as XGewerbeanzeige): a procedure names
//! its message formats (`[messages]`: an XML template with the namespace it must produce)
//! and its recipients (`[recipients]`: name, which message, where it is delivered, and facts
//! for the template such as the recipient's authority id). The connector `rathaus:message`
//! sends one message to each recipient a decision named; this is its pure part: the
//! definitions, a recipient resolved against the case's variables, and rendering a message
//! and checking it is well-formed XML of the right namespace.
//!
//! A recipient's `address` and facts are literal texts, or FEEL over the process variables
//! when they start with `=` (as in Zeebe), so that a town sets its own through parameters
//! (`address = "=parameter.uebermittlung_ziel + \"finanzamt\""`).

use crate::feel::Expression;
use rathaus_domain::Text;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// A message format of the procedure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageDef {
    /// The XML template (minijinja), relative to the procedure folder.
    pub template: String,
    pub title: Text,
    /// The namespace the root element must have (the standard's version).
    pub namespace: String,
}

/// A body that receives messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientDef {
    pub name: Text,
    /// The key of its message format in `[messages]`.
    pub message: String,
    /// Where the transport delivers it: `https://…` (HTTP POST) or `ablage:<folder>` (a
    /// folder of the installation's drop directory, for a gateway that forwards by OSCI/XTA).
    pub address: String,
    /// Texts the template uses (`empfaenger.<key>`), e.g. the message element, the
    /// authority id.
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

/// A literal text, or `=FEEL` over the process variables.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Feel(Expression),
}

impl Value {
    pub fn parse(source: &str, names: &[&str]) -> Result<Value, String> {
        match source.strip_prefix('=') {
            Some(feel) => Expression::parse(feel, names).map(Value::Feel).map_err(|e| e.to_string()),
            None => Ok(Value::Text(source.to_string())),
        }
    }

    /// The text it gives for these variables; a FEEL value that is no text, or null, is an
    /// error naming the expression.
    pub fn resolve(&self, variables: &Json) -> Result<String, String> {
        match self {
            Value::Text(t) => Ok(t.clone()),
            Value::Feel(e) => match e.evaluate_json(variables) {
                Ok(Json::String(s)) => Ok(s),
                Ok(Json::Number(n)) => Ok(n.to_string()),
                Ok(other) => Err(format!("„={}“ ergibt keinen Text, sondern {other}", e.source())),
                Err(err) => Err(format!("„={}“: {err}", e.source())),
            },
        }
    }
}

/// A recipient ready to use: its compiled address and facts.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: String,
    pub def: RecipientDef,
    pub address: Value,
    pub facts: BTreeMap<String, Value>,
}

/// A recipient resolved for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRecipient {
    pub id: String,
    pub name: String,
    pub message: String,
    pub address: String,
    pub facts: Map<String, Json>,
}

impl Recipient {
    pub fn compile(id: &str, def: &RecipientDef, names: &[&str]) -> Result<Recipient, String> {
        let address = Value::parse(&def.address, names).map_err(|e| format!("address: {e}"))?;
        let mut facts = BTreeMap::new();
        for (k, v) in &def.facts {
            facts.insert(k.clone(), Value::parse(v, names).map_err(|e| format!("facts.{k}: {e}"))?);
        }
        Ok(Recipient { id: id.to_string(), def: def.clone(), address, facts })
    }

    pub fn resolve(&self, variables: &Json) -> Result<ResolvedRecipient, String> {
        let problem = |what: &str, e: String| format!("Empfänger „{}“, {what}: {e}", self.id);
        let address = self.address.resolve(variables).map_err(|e| problem("address", e))?;
        if address.trim().is_empty() {
            return Err(problem("address", "keine Zustelladresse".into()));
        }
        let mut facts = Map::new();
        for (k, v) in &self.facts {
            facts.insert(k.clone(), Json::String(v.resolve(variables).map_err(|e| problem(&format!("facts.{k}"), e))?));
        }
        Ok(ResolvedRecipient {
            id: self.id.clone(),
            name: self.def.name.get(rathaus_domain::Lang::De).to_string(),
            message: self.def.message.clone(),
            address,
            facts,
        })
    }
}

/// The template environment: minijinja with XML escaping of every value, strict about
/// undefined names only where a template tests them, and the filter `datum(format)` for
/// dates (`YYYY-MM-DD` in, chrono format out).
fn environment(name: &str, source: &str) -> Result<minijinja::Environment<'static>, String> {
    let mut env = minijinja::Environment::new();
    // HTML escaping (&, <, >, ", ', /) is valid escaping in XML text and attributes.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_filter("datum", |value: String, format: String| -> Result<String, minijinja::Error> {
        let day = chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("„{value}“ ist kein Datum"))
        })?;
        Ok(day.format(&format).to_string())
    });
    env.add_template_owned(name.to_string(), source.to_string()).map_err(|e| describe(&e))?;
    Ok(env)
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("Zeile {line}: {}", e.detail().unwrap_or(&e.to_string())),
        None => e.to_string(),
    }
}

/// Checks that a template compiles (at library load).
pub fn check_template(name: &str, source: &str) -> Result<(), String> {
    environment(name, source).map(|_| ())
}

/// Renders a message and checks it: well-formed XML whose root element is in `namespace`.
pub fn render(name: &str, source: &str, namespace: &str, context: &Json) -> Result<String, String> {
    let env = environment(name, source)?;
    let template = env.get_template(name).map_err(|e| describe(&e))?;
    let xml = template.render(context).map_err(|e| describe(&e))?;
    let xml = xml.trim_start().to_string();
    check_xml(&xml, namespace)?;
    Ok(xml)
}

/// Whether `xml` is well-formed and its root element in `namespace`.
pub fn check_xml(xml: &str, namespace: &str) -> Result<(), String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("kein wohlgeformtes XML: {e}"))?;
    let root = doc.root_element();
    match root.tag_name().namespace() {
        Some(ns) if ns == namespace => Ok(()),
        other => Err(format!(
            "das Wurzelelement „{}“ hat den Namensraum {}, erwartet {namespace}",
            root.tag_name().name(),
            other.map(|n| format!("„{n}“")).unwrap_or_else(|| "keinen".into())
        )),
    }
}

/// The element paths of a document (`/root/child/…`, local names, from the root), each
/// once: what a structural comparison of two messages compares.
pub fn element_paths(xml: &str) -> Result<std::collections::BTreeSet<String>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let mut out = std::collections::BTreeSet::new();
    fn walk(node: roxmltree::Node, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        let path = format!("{prefix}/{}", node.tag_name().name());
        for child in node.children().filter(|c| c.is_element()) {
            walk(child, &path, out);
        }
        out.insert(path);
    }
    walk(doc.root_element(), "", &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_literal_or_feel_over_the_variables() {
        let names = ["parameter"];
        let vars = json!({"parameter": {"ziel": "ablage:", "n": 3}});
        assert_eq!(Value::parse("ablage:x", &names).unwrap().resolve(&vars).unwrap(), "ablage:x");
        let feel = Value::parse("=parameter.ziel + \"finanzamt\"", &names).unwrap();
        assert_eq!(feel.resolve(&vars).unwrap(), "ablage:finanzamt");
        assert_eq!(Value::parse("=parameter.n", &names).unwrap().resolve(&vars).unwrap(), "3");
        let missing = Value::parse("=parameter.fehlt", &names).unwrap().resolve(&vars).unwrap_err();
        assert!(missing.contains("parameter.fehlt"), "{missing}");
        assert!(Value::parse("=parameter.(", &names).is_err());
    }

    #[test]
    fn a_message_is_escaped_checked_for_well_formedness_and_namespace() {
        let src = r#"<?xml version="1.0"?><m:n xmlns:m="urn:x"><m:a>{{ text }}</m:a><m:d>{{ tag | datum("%d%m%Y") }}</m:d></m:n>"#;
        let out = render("t", src, "urn:x", &json!({"text": "Müller & Söhne <GmbH>", "tag": "1965-10-12"})).unwrap();
        assert!(out.contains("Müller &amp; Söhne &lt;GmbH&gt;") && out.contains("<m:d>12101965</m:d>"), "{out}");
        assert!(render("t", src, "urn:y", &json!({"text": "", "tag": "2026-01-01"})).unwrap_err().contains("urn:y"));
        assert!(render("t", "<a><b></a>", "urn:x", &json!({})).unwrap_err().contains("wohlgeformt"));
        assert!(render("t", src, "urn:x", &json!({"text": "", "tag": "gestern"})).unwrap_err().contains("kein Datum"));
        assert!(check_template("t", "{% if %}").is_err());
        let paths = element_paths(&out).unwrap();
        assert_eq!(paths.into_iter().collect::<Vec<_>>(), ["/n", "/n/a", "/n/d"]);
    }
}
