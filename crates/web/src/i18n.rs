//! UI texts in German and English. Handlers never contain UI text: templates and handlers
//! refer to keys, the catalogues `i18n/de.toml` and `i18n/en.toml` hold the words.

use rathaus_domain::Lang;
use std::collections::HashMap;
use std::sync::OnceLock;

const DE: &str = include_str!("../i18n/de.toml");
const EN: &str = include_str!("../i18n/en.toml");

fn flatten(prefix: &str, value: &toml::Value, out: &mut HashMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn catalogue(lang: Lang) -> &'static HashMap<String, String> {
    static CATALOGUES: OnceLock<[HashMap<String, String>; 2]> = OnceLock::new();
    let all = CATALOGUES.get_or_init(|| {
        let load = |text: &str, name: &str| {
            let value: toml::Value =
                toml::from_str(text).unwrap_or_else(|e| panic!("i18n/{name}.toml is invalid: {e}"));
            let mut map = HashMap::new();
            flatten("", &value, &mut map);
            map
        };
        [load(DE, "de"), load(EN, "en")]
    });
    match lang {
        Lang::De => &all[0],
        Lang::En => &all[1],
    }
}

/// The text of `key`; English falls back to German; an unknown key shows itself, so that a
/// missing translation is visible in tests rather than silently blank.
pub fn t(lang: Lang, key: &str) -> String {
    catalogue(lang).get(key).or_else(|| catalogue(Lang::De).get(key)).cloned().unwrap_or_else(|| key.to_string())
}

/// Whether the catalogues have a text for `key` (for optional texts such as hints).
pub fn has(key: &str) -> bool {
    catalogue(Lang::De).contains_key(key)
}

/// `t` with `{name}` placeholders replaced.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut s = t(lang, key);
    for (k, v) in args {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_german_key_has_an_english_text() {
        let de = catalogue(Lang::De);
        let en = catalogue(Lang::En);
        let mut missing: Vec<&String> = de.keys().filter(|k| !en.contains_key(*k)).collect();
        missing.sort();
        assert!(missing.is_empty(), "English texts missing: {missing:?}");
        let mut extra: Vec<&String> = en.keys().filter(|k| !de.contains_key(*k)).collect();
        extra.sort();
        assert!(extra.is_empty(), "English texts without German original: {extra:?}");
    }

    #[test]
    fn placeholders() {
        assert_eq!(tf(Lang::De, "status.reference_label", &[]), t(Lang::De, "status.reference_label"));
        assert_eq!(t(Lang::De, "gibt.es.nicht"), "gibt.es.nicht");
    }
}
