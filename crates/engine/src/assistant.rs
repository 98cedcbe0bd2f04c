//! The assistant: while someone fills in a form, the procedure's own check decision runs on
//! the answers so far and says, in plain language, what will happen: whether the machine can
//! decide or a clerk will review, why, which documents are needed, the fee and how long it
//! takes. The texts for the citizen come from the procedure (`[hints.<code>]` in
//! procedure.toml, keyed by the `code` of the decision's findings), so the wording belongs to
//! the procedure like its rules do.

use crate::environment::check;
use crate::library::Procedure;
use chrono::NaiveDate;
use rathaus_domain::{Lang, Money, Text};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// What the assistant tells about a finding of the check decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintDef {
    /// The hint, in plain language. `{name}` is replaced by the finding's output `name`
    /// (e.g. `{rechtsgrundlage}`).
    pub text: Text,
    /// A document the applicant needs because of this finding.
    #[serde(default)]
    pub document: Option<Text>,
}

/// The expected outcome of an application on the answers given so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlook {
    /// A clerk will review the application (otherwise the machine decides at once).
    pub review: bool,
    /// Hints for the applicant, one per finding, in the order of the decision.
    pub hints: Vec<String>,
    /// Documents the applicant needs, each once.
    pub documents: Vec<String>,
    /// The fee, once the answers determine it.
    pub fee: Option<Money>,
    /// Working days a review takes (the procedure's `processing_days`); only when `review`.
    pub processing_days: Option<u32>,
}

/// The outlook on `data`, which may be incomplete: the decision is written so that an
/// answer not given yet leads to no finding. `None` for a procedure without a check
/// decision and before the first answer (nothing to predict from).
pub fn outlook(
    procedure: &Procedure,
    data: &Json,
    parameters: &Json,
    tenant: &Json,
    today: NaiveDate,
    lang: Lang,
) -> Result<Option<Outlook>, String> {
    if procedure.manifest.check_decision.is_none() || data.as_object().is_none_or(|o| o.is_empty()) {
        return Ok(None);
    }
    let result = check(procedure, data, parameters, tenant, today)?;
    let findings = result["befunde"].as_array().cloned().unwrap_or_default();
    let mut hints = Vec::new();
    let mut documents: Vec<String> = Vec::new();
    for finding in &findings {
        let code = finding["code"].as_str().unwrap_or_default();
        match procedure.manifest.hints.get(code) {
            Some(def) => {
                hints.push(fill(def.text.get(lang), finding));
                if let Some(d) = &def.document {
                    let d = fill(d.get(lang), finding);
                    if !documents.contains(&d) {
                        documents.push(d);
                    }
                }
            }
            // A finding without a hint still tells its reason (the clerk's wording).
            None => hints.extend(finding["grund"].as_str().map(String::from)),
        }
    }
    let review = result["entscheidung"] == "review";
    let fee = result.get("gebuehr").filter(|g| !g.is_null()).and_then(|g| Money::from_json_euros(g).ok());
    Ok(Some(Outlook {
        review,
        hints,
        documents,
        fee,
        processing_days: if review { procedure.manifest.processing_days } else { None },
    }))
}

/// Replaces each `{name}` in `text` by the finding's output `name` (texts and numbers).
fn fill(text: &str, finding: &Json) -> String {
    let mut out = text.to_string();
    if let Some(fields) = finding.as_object() {
        for (name, value) in fields {
            let value = match value {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => continue,
            };
            out = out.replace(&format!("{{{name}}}"), &value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_take_the_findings_outputs() {
        let finding = json!({"code": "erlaubnis_fehlt", "rechtsgrundlage": "§ 34a GewO", "tage": 3});
        assert_eq!(
            fill("Erlaubnis nach {rechtsgrundlage} fehlt ({tage} Tage, {unbekannt})", &finding),
            "Erlaubnis nach § 34a GewO fehlt (3 Tage, {unbekannt})"
        );
    }
}
