//! The service finder: which of a tenant's services fit what a person typed, in their own
//! words ("Gewerbe anmelden", "Firma gründen", "Umzug Halteverbot"). A service matches when
//! every meaningful word of the query is found in its name, summary, description or
//! keywords (the procedure's synonyms); umlauts may be written out (ue for ü), and a word
//! matches the beginning of a longer one ("gründ" finds "gründen").

/// Words that carry no meaning in a search ("ich möchte ein Gewerbe anmelden").
const STOPWORDS: &[&str] = &[
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "und", "oder", "fuer", "mit",
    "von", "zu", "zum", "zur", "im", "in", "an", "am", "auf", "ich", "mein", "meine", "meinen", "wie", "was", "wo",
    "moechte", "will", "kann", "muss", "a", "an", "the", "my", "to", "for", "of", "i", "want", "how",
];

/// Lower case, umlauts and ß written out, everything else that is not a letter or digit a
/// separator.
pub fn words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => folded.push_str("ae"),
            'ö' => folded.push_str("oe"),
            'ü' => folded.push_str("ue"),
            'ß' => folded.push_str("ss"),
            c if c.is_alphanumeric() => folded.push(c),
            _ => folded.push(' '),
        }
    }
    folded.split_whitespace().map(str::to_string).collect()
}

/// The query's words that count, with common German endings taken off ("anmelden" finds
/// "Anmeldung", "verlegen" finds "verlegt").
pub fn query_words(query: &str) -> Vec<String> {
    words(query).into_iter().filter(|w| w.len() >= 2 && !STOPWORDS.contains(&w.as_str())).map(|w| stem(&w)).collect()
}

fn stem(word: &str) -> String {
    for ending in ["ungen", "ung", "en", "er", "es", "e", "n", "t", "s"] {
        if let Some(stem) = word.strip_suffix(ending).filter(|s| s.chars().count() >= 4) {
            return stem.to_string();
        }
    }
    word.to_string()
}

/// How well a service fits: `None` if a query word is missing, otherwise a score (words in
/// the name and keywords count more than in the description).
pub fn score(query: &[String], name: &str, keywords: &[String], body: &str) -> Option<u32> {
    if query.is_empty() {
        return None;
    }
    let title: Vec<String> = words(name).into_iter().chain(keywords.iter().flat_map(|k| words(k))).collect();
    let text = words(body);
    let plain = |pool: &[String], q: &str| pool.iter().any(|w| w.starts_with(q) || (q.len() >= 5 && w.contains(q)));
    // A compound the service spells apart: "Gewerbeanmeldung" for "Gewerbe anmelden".
    let compound = |pool: &[String], q: &str| {
        q.char_indices()
            .map(|(i, _)| i)
            .filter(|i| *i >= 4 && q.len() - i >= 4)
            .any(|i| plain(pool, &q[..i]) && plain(pool, &q[i..]))
    };
    let found = |pool: &[String], q: &str| plain(pool, q) || compound(pool, q);
    let mut total = 0;
    for q in query {
        total += if found(&title, q) {
            3
        } else if found(&text, q) {
            1
        } else {
            return None;
        };
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gewerbe(q: &str) -> Option<u32> {
        let keywords: Vec<String> =
            ["Gewerbe anmelden", "Gewerbeschein", "Selbstständig machen", "Firma gründen", "trade registration"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        score(
            &query_words(q),
            "Gewerbeanzeige (An-, Um- und Abmeldung)",
            &keywords,
            "Wer ein Gewerbe beginnt, verlegt, ändert oder aufgibt, muss das der Gemeinde anzeigen.",
        )
    }

    #[test]
    fn finds_a_service_by_its_synonyms_in_everyday_words() {
        assert!(gewerbe("Gewerbe anmelden").is_some());
        assert!(gewerbe("Ich möchte eine Firma gründen").is_some());
        assert!(gewerbe("firma gruenden").is_some(), "umlauts written out");
        assert!(gewerbe("selbstständig").is_some());
        assert!(gewerbe("Trade registration").is_some());
        assert!(gewerbe("gewerbe verlegen").is_some(), "a word of the description, another form");
        assert!(gewerbe("Gewerbeanmeldung").is_some(), "a compound of two words of the service");
        assert!(gewerbe("Gewerbe").unwrap() > gewerbe("verlegt").unwrap(), "the name counts more than the text");
    }

    #[test]
    fn every_word_must_fit_and_empty_queries_find_nothing() {
        assert_eq!(gewerbe("Hund anmelden"), None);
        assert_eq!(gewerbe("Umzug Halteverbot"), None);
        assert_eq!(gewerbe("ich möchte"), None, "only stop words");
        assert_eq!(gewerbe(""), None);
    }
}
