//! The built-in connectors a service task can call (`zeebe:taskDefinition type="…"`), as
//! metadata: their names and the headers they need, so that a model is checked at deploy
//! time. Their implementation lives in the runtime, which does the IO.

use rathaus_domain::CaseStatus;
use std::collections::BTreeMap;

/// The built-in form of a clerk's decision (confirm or reject, with reasons).
pub const DECISION_FORM: &str = "rathaus:entscheidung";

pub struct ConnectorSpec {
    pub task_type: &'static str,
    pub description: &'static str,
    pub headers: &'static [HeaderSpec],
}

pub struct HeaderSpec {
    pub key: &'static str,
    pub required: bool,
    pub allowed: AllowedValues,
    pub description: &'static str,
}

pub enum AllowedValues {
    Any,
    CaseStatus,
    Template,
    OneOf(&'static [&'static str]),
}

pub const CASE_STATUS: &str = "rathaus:case-status";
pub const DOCUMENT: &str = "rathaus:document";
pub const FEE: &str = "rathaus:fee";
pub const MESSAGE: &str = "rathaus:message";
pub const NOTE: &str = "rathaus:note";
pub const CONSULT: &str = "rathaus:consult";
pub const COPY: &str = "rathaus:copy";

pub const ALL: &[ConnectorSpec] = &[
    ConnectorSpec {
        task_type: CASE_STATUS,
        description: "Setzt den Status des Vorgangs, den Antragsteller:in und Sachbearbeitung sehen.",
        headers: &[
            HeaderSpec {
                key: "status",
                required: true,
                allowed: AllowedValues::CaseStatus,
                description: "submitted | in_review | confirmed | rejected | closed",
            },
            HeaderSpec {
                key: "note",
                required: false,
                allowed: AllowedValues::Any,
                description: "Text für den Verlauf (für Antragsteller:in sichtbar)",
            },
        ],
    },
    ConnectorSpec {
        task_type: DOCUMENT,
        description: "Erzeugt ein PDF/A-Dokument aus einer Vorlage des Verfahrens und legt es in der Akte ab.",
        headers: &[
            HeaderSpec {
                key: "template",
                required: true,
                allowed: AllowedValues::Template,
                description: "Name der Vorlage aus [templates] in procedure.toml",
            },
            HeaderSpec {
                key: "kind",
                required: true,
                allowed: AllowedValues::OneOf(&["bescheid", "bescheinigung", "schreiben"]),
                description: "Art des Dokuments",
            },
            HeaderSpec {
                key: "deliver",
                required: false,
                allowed: AllowedValues::OneOf(&["true", "false"]),
                description: "dem Antragsteller bereitstellen (Standard: true)",
            },
        ],
    },
    ConnectorSpec {
        task_type: FEE,
        description: "Setzt die Gebühr fest (Betrag aus der Eingabe „betrag“ in Euro), vergibt ein Kassenzeichen.",
        headers: &[
            HeaderSpec {
                key: "legal_basis",
                required: false,
                allowed: AllowedValues::Any,
                description: "Rechtsgrundlage der Gebühr",
            },
            HeaderSpec {
                key: "due_days",
                required: false,
                allowed: AllowedValues::Any,
                description: "Zahlungsfrist in Tagen (Standard 30)",
            },
        ],
    },
    ConnectorSpec {
        task_type: MESSAGE,
        description: "Sendet jedem Empfänger der Eingabe „empfaenger“ (Ids aus [recipients]) seine Nachricht (XÖV), über den Postausgang.",
        headers: &[],
    },
    ConnectorSpec {
        task_type: CONSULT,
        description: "Bittet jede beteiligte Stelle der Eingabe „beteiligte“ (Ids aus [participants]) um Stellungnahme, mit Frist; Einladung, Erinnerung und Fristablauf wie bei einer Beteiligung durch die Sachbearbeitung.",
        headers: &[
            HeaderSpec {
                key: "due",
                required: true,
                allowed: AllowedValues::Any,
                description: "Frist ab heute: ISO-Dauer (P5D) oder =FEEL, das eine ergibt",
            },
            HeaderSpec {
                key: "counting",
                required: false,
                allowed: AllowedValues::OneOf(&["kalendertage", "frist", "arbeitstage", "werktage"]),
                description: "wie die Frist zählt (Standard: arbeitstage)",
            },
        ],
    },
    ConnectorSpec {
        task_type: COPY,
        description: "Sendet jeder Stelle der Eingabe „an“ (Ids aus [participants]) das neueste Dokument der Vorlage als Abschrift per E-Mail.",
        headers: &[HeaderSpec {
            key: "template",
            required: true,
            allowed: AllowedValues::Template,
            description: "Name der Vorlage aus [templates] in procedure.toml",
        }],
    },
    ConnectorSpec {
        task_type: NOTE,
        description: "Schreibt einen Eintrag in den Verlauf des Vorgangs, ohne seinen Status zu ändern.",
        headers: &[
            HeaderSpec {
                key: "note",
                required: true,
                allowed: AllowedValues::Any,
                description: "Text des Eintrags",
            },
            HeaderSpec {
                key: "notify",
                required: false,
                allowed: AllowedValues::OneOf(&["true", "false"]),
                description: "Antragsteller:in mit Konto per E-Mail benachrichtigen (Standard: false)",
            },
            HeaderSpec {
                key: "public",
                required: false,
                allowed: AllowedValues::OneOf(&["true", "false"]),
                description: "für Antragsteller:in sichtbar (Standard: true) oder nur für die Sachbearbeitung",
            },
        ],
    },
];

/// The ids a connector's input `key` names: a list of texts, one text, or nothing (none).
/// `noun` names what an id stands for in the messages ("Empfänger-Id").
pub fn input_ids(input: Option<&serde_json::Value>, key: &str, noun: &str) -> Result<Vec<String>, String> {
    use serde_json::Value as Json;
    match input {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(s)) => Ok(vec![s.clone()]),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(String::from).ok_or_else(|| format!("Eingabe „{key}“: {i} ist keine {noun}")))
            .collect(),
        Some(other) => Err(format!("Eingabe „{key}“: {other} ist keine Liste von {noun}s")),
    }
}

pub fn find(task_type: &str) -> Option<&'static ConnectorSpec> {
    ALL.iter().find(|c| c.task_type == task_type)
}

impl ConnectorSpec {
    /// Problems with the headers of a service task using this connector.
    pub fn check_headers(&self, headers: &BTreeMap<String, String>, templates: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for key in headers.keys() {
            if !self.headers.iter().any(|h| h.key == key) {
                out.push(format!("unbekannter Header „{key}“"));
            }
        }
        for h in self.headers {
            match headers.get(h.key) {
                None if h.required => out.push(format!("Header „{}“ fehlt ({})", h.key, h.description)),
                None => {}
                Some(v) => {
                    let ok = match &h.allowed {
                        AllowedValues::Any => true,
                        AllowedValues::CaseStatus => CaseStatus::parse(v).is_some(),
                        AllowedValues::Template => templates.iter().any(|t| t == v),
                        AllowedValues::OneOf(vals) => vals.contains(&v.as_str()),
                    };
                    if !ok {
                        out.push(format!("Header „{}“ = „{v}“ ist nicht zulässig ({})", h.key, h.description));
                    }
                }
            }
        }
        if self.task_type == FEE {
            if let Some(d) = headers.get("due_days") {
                if d.parse::<u32>().is_err() {
                    out.push(format!("Header „due_days“ = „{d}“ ist keine Zahl von Tagen"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_ids_come_as_a_list_a_text_or_nothing() {
        assert_eq!(input_ids(Some(&json!(["a", "b"])), "beteiligte", "Id").unwrap(), ["a", "b"]);
        assert_eq!(input_ids(Some(&json!("a")), "beteiligte", "Id").unwrap(), ["a"]);
        assert!(input_ids(None, "beteiligte", "Id").unwrap().is_empty());
        assert_eq!(input_ids(Some(&json!([1])), "an", "Id").unwrap_err(), "Eingabe „an“: 1 ist keine Id");
        assert_eq!(
            input_ids(Some(&json!(3)), "empfaenger", "Empfänger-Id").unwrap_err(),
            "Eingabe „empfaenger“: 3 ist keine Liste von Empfänger-Ids"
        );
    }
}
