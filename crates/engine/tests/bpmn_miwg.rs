//! Every model of the BPMN MIWG test suite (testdata/bpmn-miwg, reference models and the
//! Camunda Modeler exports) is read without a crash. Each is either imported or rejected with
//! the unsupported elements named; the outcome per file is pinned in
//! `tests/bpmn_miwg_expected.txt`, so a change in what the engine supports shows up here.
//! Regenerate after a deliberate change with `RATHAUS_UPDATE_EXPECTED=1 cargo test -p rathaus-engine --test bpmn_miwg`.

use rathaus_engine::bpmn::Process;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn models() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bpmn-miwg");
    let mut out = Vec::new();
    for dir in ["Reference", "bpmn.io-camunda-modeler-18.6.1"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("suite present")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "bpmn"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// One line per model: `dir/file: imported` or `dir/file: rejected: elem1, elem2 …`
/// (the distinct BPMN element kinds named in the problems).
fn outcome(path: &Path) -> String {
    let name = format!(
        "{}/{}",
        path.parent().unwrap().file_name().unwrap().to_string_lossy(),
        path.file_name().unwrap().to_string_lossy()
    );
    let xml = std::fs::read_to_string(path).unwrap();
    match std::panic::catch_unwind(|| Process::parse(&xml)) {
        Err(_) => format!("{name}: CRASH"),
        Ok(Ok(_)) => format!("{name}: imported"),
        Ok(Err(problems)) => {
            assert!(!problems.is_empty());
            let kinds: BTreeSet<String> = problems.iter().map(|p| kind(&p.message)).collect();
            format!("{name}: rejected: {}", kinds.into_iter().collect::<Vec<_>>().join(" | "))
        }
    }
}

/// A short, stable name for the kind of a problem: the BPMN element or event definition that
/// is not supported, the Zeebe extension that is missing, or FEEL / structure.
fn kind(message: &str) -> String {
    if message.contains("FEEL") {
        return "FEEL syntax".into();
    }
    let words: Vec<&str> = message.split(|c: char| c.is_whitespace() || c == '(' || c == '"').collect();
    if let Some(w) = words.iter().find(|w| w.starts_with("bpmn:") && w.len() > 5) {
        return w.trim_end_matches(|c: char| !c.is_alphanumeric()).to_string();
    }
    if let Some(w) = words.iter().find(|w| w.ends_with("EventDefinition")) {
        return w.to_string();
    }
    if let Some(w) = words.iter().find(|w| w.starts_with("zeebe:")) {
        return format!("missing {w}");
    }
    "structure".into()
}

#[test]
fn every_miwg_model_is_read_and_imported_or_rejected_with_reasons() {
    let actual: Vec<String> = models().iter().map(|p| outcome(p)).collect();
    assert!(actual.len() >= 40, "suite incomplete: {} models", actual.len());
    assert!(!actual.iter().any(|l| l.ends_with("CRASH")), "{actual:#?}");
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpmn_miwg_expected.txt");
    let text = actual.join("\n") + "\n";
    if std::env::var("RATHAUS_UPDATE_EXPECTED").is_ok() {
        std::fs::write(&expected_path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).expect("expected outcomes (see module docs)");
    assert_eq!(
        text, expected,
        "the import outcome of the MIWG models changed; review and regenerate (see module docs)"
    );
}

#[test]
fn every_rejection_names_an_element() {
    for path in models() {
        if let Err(problems) = Process::parse(&std::fs::read_to_string(&path).unwrap()) {
            for p in problems {
                assert!(
                    p.element.is_some() || p.line.is_some(),
                    "{}: problem without element or line: {}",
                    path.display(),
                    p.message
                );
            }
        }
    }
}
