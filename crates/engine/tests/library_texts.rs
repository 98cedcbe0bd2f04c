//! Every text the shipped library shows to people exists in German and English, so the
//! portal in English never falls back to German mid-page.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

/// Paths of `{ "de": … }` texts without an `"en"` beside.
fn german_only(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if o.contains_key("de") && o.values().all(Value::is_string) && !o.contains_key("en") {
                out.push(path.to_string());
            }
            for (k, child) in o {
                german_only(child, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                german_only(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() && p.file_name().is_some_and(|n| n != "beispiele") {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn every_form_and_catalogue_text_of_the_library_is_in_german_and_english() {
    let mut files = Vec::new();
    json_files(&library(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("form.json")), "the library's forms are found");
    let mut missing = Vec::new();
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let mut here = Vec::new();
        german_only(&v, "", &mut here);
        missing.extend(here.into_iter().map(|p| format!("{}: {p}", f.display())));
    }
    assert!(missing.is_empty(), "texts without English: {missing:#?}");
}

#[test]
fn every_text_of_the_procedure_manifests_is_in_german_and_english() {
    let mut missing = Vec::new();
    let mut manifests = 0;
    for entry in std::fs::read_dir(library()).unwrap().flatten() {
        let manifest = entry.path().join("procedure.toml");
        if !manifest.exists() {
            continue;
        }
        manifests += 1;
        let v: toml::Value = toml::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        let v: Value = serde_json::to_value(v).unwrap();
        let mut here = Vec::new();
        german_only(&v, "", &mut here);
        missing.extend(here.into_iter().map(|p| format!("{}: {p}", manifest.display())));
    }
    assert!(manifests > 0, "the library's procedures are found");
    assert!(missing.is_empty(), "texts without English: {missing:#?}");
}

#[test]
fn a_german_only_text_is_found() {
    let mut out = Vec::new();
    german_only(
        &serde_json::json!({"fields": [{"label": {"de": "Name"}}, {"label": {"de": "Ort", "en": "Town"}}]}),
        "",
        &mut out,
    );
    assert_eq!(out, [".fields[0].label"]);
}

/// Every finding the check decision of a procedure can produce has a hint for the
/// applicant (`[hints.<code>]`), so the assistant never shows a clerk's wording.
#[test]
fn every_finding_code_of_a_check_decision_has_a_hint_for_the_applicant() {
    let mut missing = Vec::new();
    let mut codes_seen = 0;
    for entry in std::fs::read_dir(library()).unwrap().flatten() {
        let manifest = entry.path().join("procedure.toml");
        if !manifest.exists() {
            continue;
        }
        let p = rathaus_engine::Procedure::load_dir(&entry.path()).unwrap_or_else(|e| panic!("{e:?}"));
        if p.manifest.check_decision.is_none() {
            continue;
        }
        for file in &p.manifest.decisions {
            let xml = std::fs::read_to_string(entry.path().join(file)).unwrap();
            let doc = roxmltree::Document::parse(&xml).unwrap();
            for table in doc.descendants().filter(|n| n.has_tag_name("decisionTable")) {
                let outputs: Vec<_> = table.children().filter(|n| n.has_tag_name("output")).collect();
                let Some(code_column) = outputs.iter().position(|o| o.attribute("name") == Some("code")) else {
                    continue;
                };
                for rule in table.children().filter(|n| n.has_tag_name("rule")) {
                    let entry_text = rule
                        .children()
                        .filter(|n| n.has_tag_name("outputEntry"))
                        .nth(code_column)
                        .and_then(|e| e.descendants().find(|t| t.has_tag_name("text")))
                        .and_then(|t| t.text())
                        .unwrap_or_default();
                    let code = entry_text.trim().trim_matches('"');
                    codes_seen += 1;
                    if !p.manifest.hints.contains_key(code) {
                        missing.push(format!("{}: {code}", p.id()));
                    }
                }
            }
        }
    }
    assert!(codes_seen > 5, "the finding codes are found ({codes_seen})");
    assert!(missing.is_empty(), "findings without a hint: {missing:?}");
}
