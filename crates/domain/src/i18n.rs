//! Languages and texts that exist in German and (optionally) English.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A UI language. German is the language of the administration; English is offered as a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    De,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::De, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "de" | "de-de" => Some(Lang::De),
            "en" | "en-gb" | "en-us" => Some(Lang::En),
            _ => None,
        }
    }
}

/// A text given per language, as written in procedure files: `{ de = "…", en = "…" }` or just
/// `"…"` (German only). German is mandatory; other languages fall back to German.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Localized(BTreeMap<String, String>),
}

impl Default for Text {
    fn default() -> Self {
        Text::Plain(String::new())
    }
}

impl Text {
    pub fn de(s: impl Into<String>) -> Text {
        Text::Plain(s.into())
    }

    /// The text in `lang`, falling back to German, then to any language given.
    pub fn get(&self, lang: Lang) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Localized(map) => map
                .get(lang.code())
                .or_else(|| map.get("de"))
                .or_else(|| map.values().next())
                .map(String::as_str)
                .unwrap_or(""),
        }
    }

    /// True when the German text, the one every procedure must provide, is missing or blank.
    pub fn is_missing_german(&self) -> bool {
        match self {
            Text::Plain(s) => s.trim().is_empty(),
            Text::Localized(map) => map.get("de").is_none_or(|s| s.trim().is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_german() {
        let t: Text = serde_json::from_str(r#"{"de": "Gewerbe", "en": "Trade"}"#).unwrap();
        assert_eq!(t.get(Lang::En), "Trade");
        let t: Text = serde_json::from_str(r#"{"de": "Gewerbe"}"#).unwrap();
        assert_eq!(t.get(Lang::En), "Gewerbe");
        let t: Text = serde_json::from_str(r#""Gewerbe""#).unwrap();
        assert_eq!(t.get(Lang::En), "Gewerbe");
        assert!(!t.is_missing_german());
        let t: Text = serde_json::from_str(r#"{"en": "Trade"}"#).unwrap();
        assert!(t.is_missing_german());
    }

    #[test]
    fn parses_language_codes() {
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("de-DE"), Some(Lang::De));
        assert_eq!(Lang::parse("fr"), None);
    }
}
