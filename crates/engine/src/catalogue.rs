//! Catalogues: lists a procedure ships as data (the activity catalogue of the Gewerbeanzeige,
//! the list of states). Each entry is a JSON object with at least `id` and `label`; all other
//! properties (flags, legal references, synonyms) are free and reach the DMN decisions as
//! `katalog.<name>`.

use rathaus_domain::{Lang, Text};
use serde_json::Value as Json;

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub name: String,
    pub entries: Vec<Json>,
}

impl Catalogue {
    /// Parses a catalogue file (a JSON array of objects). Problems come with the entry's
    /// position so that the author finds them.
    pub fn parse(name: &str, text: &str) -> Result<Catalogue, Vec<(Option<usize>, String)>> {
        let value: Json =
            serde_json::from_str(text).map_err(|e| vec![(Some(e.line()), format!("ungültiges JSON: {e}"))])?;
        let Json::Array(entries) = value else {
            return Err(vec![(None, "ein Katalog muss eine JSON-Liste von Objekten sein".into())]);
        };
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            let id = e.get("id").and_then(Json::as_str);
            match id {
                None => problems.push((None, format!("Eintrag Nr. {} hat keine Zeichenkette „id“", i + 1))),
                Some(id) if !seen.insert(id.to_string()) => {
                    problems.push((None, format!("Eintrag „{id}“ kommt mehrfach vor")))
                }
                _ => {}
            }
            let label_ok = e
                .get("label")
                .and_then(|l| serde_json::from_value::<Text>(l.clone()).ok())
                .is_some_and(|t| !t.is_missing_german());
            if !label_ok {
                problems.push((
                    None,
                    format!("Eintrag Nr. {} ({}) hat keine deutsche Bezeichnung „label“", i + 1, id.unwrap_or("?")),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Catalogue { name: name.to_string(), entries })
        } else {
            Err(problems)
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.entry(id).is_some()
    }

    pub fn entry(&self, id: &str) -> Option<&Json> {
        self.entries.iter().find(|e| e.get("id").and_then(Json::as_str) == Some(id))
    }

    pub fn label(&self, id: &str, lang: Lang) -> Option<String> {
        label_of(self.entry(id)?, lang)
    }

    /// The entries in catalogue order, each with its label and the text a search looks in.
    pub fn choices(&self, lang: Lang) -> Vec<CatalogueChoice> {
        self.entries
            .iter()
            .filter_map(|e| {
                let id = e.get("id")?.as_str()?.to_string();
                let label = label_of(e, lang)?;
                // Searched: the id, the labels in every language (an English reader may know
                // the German word), the `synonyme` and the WZ code, folded (see [`fold`]).
                let mut search = format!("{id} {label}");
                for other in Lang::ALL.into_iter().filter(|l| *l != lang).filter_map(|l| label_of(e, l)) {
                    search.push(' ');
                    search.push_str(&other);
                }
                for s in e.get("synonyme").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
                    search.push(' ');
                    search.push_str(s);
                }
                if let Some(wz) = e.get("wz").and_then(Json::as_str) {
                    search.push(' ');
                    search.push_str(wz);
                }
                let search = fold(&search);
                Some(CatalogueChoice { id, label, search })
            })
            .collect()
    }

    /// Entries matching a search: every word of the query must occur in the search text of
    /// the entry (see [`Catalogue::choices`]). The assistant uses this to find activities.
    pub fn search(&self, query: &str, lang: Lang) -> Vec<(String, String)> {
        let words: Vec<String> = query.split_whitespace().map(fold).collect();
        self.choices(lang)
            .into_iter()
            .filter(|c| words.iter().all(|w| c.search.contains(w.as_str())))
            .map(|c| (c.id, c.label))
            .collect()
    }
}

/// Text as searches compare it: lower case, umlauts and ß written out (`Türsteher` and
/// `tuersteher` are the same word). The portal's script folds what is typed the same way.
pub fn fold(text: &str) -> String {
    text.to_lowercase().replace('ä', "ae").replace('ö', "oe").replace('ü', "ue").replace('ß', "ss")
}

/// One entry of a catalogue as a choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueChoice {
    pub id: String,
    pub label: String,
    /// Folded text of id, labels, synonyms and WZ code.
    pub search: String,
}

fn label_of(entry: &Json, lang: Lang) -> Option<String> {
    let text: Text = serde_json::from_value(entry.get("label")?.clone()).ok()?;
    Some(text.get(lang).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_searches() {
        let c = Catalogue::parse(
            "t",
            r#"[{"id": "software", "label": "Softwareentwicklung", "synonyme": ["Programmierung", "IT"]},
                {"id": "friseur", "label": {"de": "Friseur", "en": "Hairdresser"}}]"#,
        )
        .unwrap();
        assert!(c.contains("friseur"));
        assert_eq!(c.label("friseur", Lang::En).unwrap(), "Hairdresser");
        assert_eq!(c.search("programm", Lang::De), vec![("software".into(), "Softwareentwicklung".into())]);
        assert_eq!(c.search("", Lang::De).len(), 2);
        // Umlauts written out or not, the other language's label.
        assert_eq!(c.search("Frisör", Lang::De), vec![]);
        assert_eq!(c.search("friseur", Lang::En), vec![("friseur".into(), "Hairdresser".into())]);
        assert_eq!(c.search("hairdresser", Lang::De), vec![("friseur".into(), "Friseur".into())]);
        assert_eq!(fold("Türsteher Maß"), "tuersteher mass");
    }

    #[test]
    fn reports_missing_ids_and_duplicates() {
        let err = Catalogue::parse(
            "t",
            r#"[{"label": "x"}, {"id": "a", "label": "A"}, {"id": "a", "label": "B"}, {"id": "b"}]"#,
        )
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
    }
}
