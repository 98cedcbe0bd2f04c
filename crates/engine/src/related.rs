//! Related procedures (point 7 of the procedures issue): a procedure names others an
//! applicant usually needs as well (an excavation usually needs a traffic order), when, and
//! which of its answers carry over. The portal suggests them while the form is filled in
//! and after submission, and starts the other application with the answers carried over.
//!
//! `when` is FEEL over the application's data (as form conditions see it); without it the
//! suggestion always applies. `carry` maps a field of the other procedure's form to a field
//! (or a group such as an address) of this one.

use crate::feel::Expression;
use crate::form::{get_path, set_path, FormSchema};
use rathaus_domain::Text;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedDef {
    /// FEEL over the data: when the suggestion applies.
    #[serde(default)]
    pub when: Option<String>,
    /// Why the applicant probably needs it, in plain language.
    pub reason: Text,
    /// Field of the other procedure = field of this one.
    #[serde(default)]
    pub carry: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Related {
    /// The other procedure's id.
    pub id: String,
    pub def: RelatedDef,
    when: Option<Expression>,
}

impl Related {
    /// Compiles `when` with the names of the form's data.
    pub fn compile(id: &str, def: &RelatedDef, form: &FormSchema) -> Result<Related, String> {
        let when = match &def.when {
            None => None,
            Some(source) => {
                let mut names: Vec<String> = form
                    .pages
                    .iter()
                    .flat_map(|p| p.fields.iter())
                    .map(|f| f.key.split('.').next().unwrap_or_default().to_string())
                    .collect();
                names.sort();
                names.dedup();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                Some(Expression::parse(source, &names).map_err(|e| format!("when: {e}"))?)
            }
        };
        Ok(Related { id: id.to_string(), def: def.clone(), when })
    }

    /// Whether the suggestion applies to `data` (an answer not given yet: no).
    pub fn applies(&self, data: &Json) -> bool {
        match &self.when {
            None => true,
            Some(e) => e.evaluate_bool(data).unwrap_or(false),
        }
    }

    /// The other procedure's data carried over from `data`: only the answers given.
    pub fn carried(&self, data: &Json) -> Json {
        let mut out = Json::Object(Map::new());
        for (target, source) in &self.def.carry {
            if let Some(v) = get_path(data, source).filter(|v| !v.is_null()) {
                set_path(&mut out, target, v.clone());
            }
        }
        out
    }
}

/// Problems of `from`'s suggestions against the library: the other procedure must exist and
/// both ends of each carried field must be fields (or groups of fields) of the two forms.
pub fn check(from: &FormSchema, related: &Related, to: Option<&FormSchema>) -> Vec<String> {
    let Some(to) = to else {
        return vec![format!("related.{}: das Verfahren gibt es in der Bibliothek nicht", related.id)];
    };
    let known = |form: &FormSchema, key: &str| {
        form.pages.iter().flat_map(|p| p.fields.iter()).any(|f| f.key == key || f.key.starts_with(&format!("{key}.")))
    };
    let mut out = Vec::new();
    for (target, source) in &related.def.carry {
        if !known(to, target) {
            out.push(format!(
                "related.{}.carry: Feld „{target}“ gibt es im Formular von {} nicht",
                related.id, related.id
            ));
        }
        if !known(from, source) {
            out.push(format!("related.{}.carry: Feld „{source}“ gibt es in diesem Formular nicht", related.id));
        }
    }
    out
}
