//! Participants of a procedure (Beteiligte): the bodies a process consults (Anhörung) or
//! sends a copy to, described once in procedure.toml (`[participants.<id>]`) and named by
//! id from the process: the connector `rathaus:consult` asks each participant of its
//! input `beteiligte` for a statement, `rathaus:copy` mails each one of its input `an` the
//! case's latest document of a template.
//!
//! The e-mail address is a literal or `=FEEL` over the process variables, so a town sets
//! the addresses of its police station or bus operator through parameters.

use crate::outbound::Value;
use rathaus_domain::Text;
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantDef {
    pub name: Text,
    /// Where invitations, reminders and copies go: a literal address or `=FEEL`.
    pub email: String,
    /// What the participant is asked (the invitation page shows it).
    #[serde(default)]
    pub question: Option<Text>,
    /// The form's page ids the participant sees of the application.
    #[serde(default)]
    pub pages: Vec<String>,
    /// Whether the participant sees the application's attachments.
    #[serde(default = "yes")]
    pub documents: bool,
}

fn yes() -> bool {
    true
}

/// A participant ready to use: its compiled address.
#[derive(Debug, Clone)]
pub struct Participant {
    pub id: String,
    pub def: ParticipantDef,
    pub email: Value,
}

/// A participant resolved for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedParticipant {
    pub id: String,
    pub name: String,
    pub email: String,
    pub question: String,
    pub pages: Vec<String>,
    pub documents: bool,
}

impl Participant {
    pub fn compile(id: &str, def: &ParticipantDef, names: &[&str]) -> Result<Participant, String> {
        let email = Value::parse(&def.email, names).map_err(|e| format!("email: {e}"))?;
        Ok(Participant { id: id.to_string(), def: def.clone(), email })
    }

    /// The participant for these variables; an address that is empty or no address at all
    /// is an error naming the participant (the town has not set it).
    pub fn resolve(&self, variables: &Json) -> Result<ResolvedParticipant, String> {
        let name = self.def.name.get(rathaus_domain::Lang::De).to_string();
        let email = self.email.resolve(variables).map_err(|e| format!("Beteiligte Stelle „{name}“, email: {e}"))?;
        let email = email.trim().to_string();
        if !valid_address(&email) {
            return Err(format!(
                "Beteiligte Stelle „{name}“: „{email}“ ist keine E-Mail-Adresse (Parameter der Gemeinde prüfen)"
            ));
        }
        let question = self
            .def
            .question
            .as_ref()
            .map(|q| q.get(rathaus_domain::Lang::De).to_string())
            .unwrap_or_else(|| "Bitte nehmen Sie zu dem Antrag Stellung.".into());
        Ok(ResolvedParticipant {
            id: self.id.clone(),
            name,
            email,
            question,
            pages: self.def.pages.clone(),
            documents: self.def.documents,
        })
    }
}

fn valid_address(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !email.chars().any(|c| c.is_whitespace() || c == ',')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(email: &str) -> ParticipantDef {
        ParticipantDef {
            name: Text::de("Polizeirevier"),
            email: email.into(),
            question: None,
            pages: vec!["ort".into()],
            documents: true,
        }
    }

    #[test]
    fn an_address_from_a_parameter_resolves_and_a_missing_one_is_named() {
        let names = crate::bpmn::PROCESS_VARIABLES;
        let p = Participant::compile("polizei", &def("=parameter.email_polizei"), names).unwrap();
        let r = p.resolve(&json!({"parameter": {"email_polizei": " revier@polizei.example "}})).unwrap();
        assert_eq!((r.email.as_str(), r.pages.as_slice()), ("revier@polizei.example", &["ort".to_string()][..]));
        let e = p.resolve(&json!({"parameter": {"email_polizei": ""}})).unwrap_err();
        assert!(e.contains("Polizeirevier") && e.contains("keine E-Mail-Adresse"), "{e}");
        let literal = Participant::compile("p", &def("verkehr@stadt.example"), names).unwrap();
        assert_eq!(literal.resolve(&json!({})).unwrap().email, "verkehr@stadt.example");
    }
}
