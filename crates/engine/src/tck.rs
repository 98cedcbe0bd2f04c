//! A runner for the DMN Technology Compatibility Kit (TCK): reads the `*-test-*.xml` files of
//! each test folder, evaluates the folder's models with dsntk and compares every result node.
//! Used by `rathaus dmn-tck <dir>` and by the test that keeps the pass rate from dropping.

use dsntk_evaluator::ModelEvaluator;
use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{FeelScope, Name};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TC_NS: &str = "http://www.omg.org/spec/DMN/20160719/testcase";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Result of one result node of one test case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `compliance-level-3/0085-decision-services/001/decision_001`
    pub id: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Compliance level folder → (passed, failed).
    pub levels: BTreeMap<String, (usize, usize)>,
    pub results: Vec<CaseResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.levels.values().map(|(p, _)| p).sum()
    }

    pub fn failed(&self) -> usize {
        self.levels.values().map(|(_, f)| f).sum()
    }
}

/// Runs every test folder below `root` (the `TestCases` folder or one compliance level).
pub fn run(root: &Path) -> Report {
    let mut report = Report::default();
    let mut folders: Vec<PathBuf> = Vec::new();
    collect_folders(root, &mut folders);
    folders.sort();
    for folder in folders {
        let level = folder
            .ancestors()
            .filter_map(|a| a.file_name().and_then(|n| n.to_str()))
            .find(|n| n.starts_with("compliance-level"))
            .unwrap_or("other")
            .to_string();
        for r in run_folder(&folder, &level) {
            let entry = report.levels.entry(level.clone()).or_default();
            if r.passed {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
            report.results.push(r);
        }
    }
    report
}

fn collect_folders(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut has_tests = false;
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            collect_folders(&p, out);
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("-test-") && n.ends_with(".xml")) {
            has_tests = true;
        }
    }
    if has_tests {
        out.push(dir.to_path_buf());
    }
}

struct Model {
    namespace: String,
    name: String,
}

fn run_folder(folder: &Path, level: &str) -> Vec<CaseResult> {
    let name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let fail_all = |detail: String| -> Vec<CaseResult> {
        vec![CaseResult { id: format!("{level}/{name}"), passed: false, detail }]
    };
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(folder).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    let mut definitions = Vec::new();
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "dmn")) {
        let Ok(xml) = std::fs::read_to_string(f) else { continue };
        let file_name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if let Ok(doc) = roxmltree::Document::parse(&xml) {
            let root = doc.root_element();
            models.insert(
                file_name.clone(),
                Model {
                    namespace: root.attribute("namespace").unwrap_or("").into(),
                    name: root.attribute("name").unwrap_or("").into(),
                },
            );
        }
        match dsntk_model::parse(&xml) {
            Ok(d) => definitions.push(d),
            Err(e) => return fail_all(format!("{file_name}: nicht lesbar: {e}")),
        }
    }
    // dsntk panics on some inputs it does not support; a TCK runner must survive that.
    let evaluator = match std::panic::catch_unwind(|| ModelEvaluator::new(&definitions)) {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return fail_all(format!("Modell nicht auswertbar: {e}")),
        Err(_) => return fail_all("Modell nicht auswertbar: dsntk ist abgestürzt".into()),
    };
    let mut results = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("-test-") && n.ends_with(".xml")))
    {
        let Ok(xml) = std::fs::read_to_string(f) else { continue };
        let Ok(doc) = roxmltree::Document::parse(&xml) else {
            results.extend(fail_all(format!("{}: kein XML", f.display())));
            continue;
        };
        let root = doc.root_element();
        let model_file = child_text(root, "modelName").unwrap_or_default();
        let Some(model) = models.get(&model_file).or_else(|| models.values().next()) else {
            results.extend(fail_all(format!("Modell {model_file} fehlt")));
            continue;
        };
        for tc in root.children().filter(|n| is_tc(n, "testCase")) {
            let tc_id = tc.attribute("id").unwrap_or("?");
            let mut input = FeelContext::default();
            for node in tc.children().filter(|n| is_tc(n, "inputNode")) {
                input.set_entry(&Name::from(node.attribute("name").unwrap_or("")), value_of(node));
            }
            let kind = tc.attribute("type").unwrap_or("decision");
            for rn in tc.children().filter(|n| is_tc(n, "resultNode")) {
                let node_name = rn.attribute("name").unwrap_or("");
                let id = format!("{level}/{name}/{tc_id}/{node_name}");
                let expected = if rn.attribute("errorResult") == Some("true") {
                    Value::Null(None)
                } else {
                    match rn.children().find(|n| is_tc(n, "expected")) {
                        Some(e) => value_of(e),
                        None => Value::Null(None),
                    }
                };
                let invocable = if kind == "decisionService" {
                    tc.attribute("invocableName").unwrap_or(node_name)
                } else {
                    node_name
                };
                let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    evaluator.evaluate_invocable(&model.namespace, &model.name, invocable, &input)
                }));
                let actual = match evaluated {
                    Ok(Value::Context(ctx))
                        if kind == "decisionService" && ctx.get_entry(&Name::from(node_name)).is_some() =>
                    {
                        ctx.get_entry(&Name::from(node_name)).cloned().unwrap_or(Value::Null(None))
                    }
                    Ok(v) => v,
                    Err(_) => {
                        results.push(CaseResult {
                            id,
                            passed: false,
                            detail: "dsntk ist bei der Auswertung abgestürzt".into(),
                        });
                        continue;
                    }
                };
                let passed = equal(&actual, &expected);
                results.push(CaseResult {
                    id,
                    passed,
                    detail: if passed { String::new() } else { format!("erwartet {expected}, erhalten {actual}") },
                });
            }
        }
    }
    results
}

fn is_tc(n: &roxmltree::Node, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(TC_NS)
}

fn child_text(n: roxmltree::Node, name: &str) -> Option<String> {
    n.children().find(|c| is_tc(c, name)).and_then(|c| c.text()).map(|t| t.trim().to_string())
}

/// The FEEL value of a node holding `<value>`, `<component>`s or `<list>`.
fn value_of(node: roxmltree::Node) -> Value {
    if let Some(v) = node.children().find(|c| is_tc(c, "value")) {
        return simple(v);
    }
    if let Some(list) = node.children().find(|c| is_tc(c, "list")) {
        return list_of(list);
    }
    let components: Vec<_> = node.children().filter(|c| is_tc(c, "component")).collect();
    if !components.is_empty() {
        let mut ctx = FeelContext::default();
        for c in components {
            ctx.set_entry(&Name::from(c.attribute("name").unwrap_or("")), value_of(c));
        }
        return Value::Context(ctx);
    }
    Value::Null(None)
}

fn list_of(list: roxmltree::Node) -> Value {
    if list.attribute((XSI_NS, "nil")) == Some("true") {
        return Value::Null(None);
    }
    Value::List(list.children().filter(|c| is_tc(c, "item")).map(value_of).collect())
}

fn simple(v: roxmltree::Node) -> Value {
    if v.attribute((XSI_NS, "nil")) == Some("true") {
        return Value::Null(None);
    }
    let text = v.text().unwrap_or("");
    let ty = v.attribute((XSI_NS, "type")).map(|t| t.rsplit(':').next().unwrap_or(t)).unwrap_or("");
    let quoted = || format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let literal = match ty {
        "decimal" | "double" | "integer" | "int" | "long" | "float" => text.trim().to_string(),
        "boolean" => text.trim().to_string(),
        "date" => format!("date({})", quoted()),
        "dateTime" => format!("date and time({})", quoted()),
        "time" => format!("time({})", quoted()),
        "duration" => format!("duration({})", quoted()),
        _ => return Value::String(text.to_string()),
    };
    let scope = FeelScope::default();
    match dsntk_feel_parser::parse_expression(&scope, &literal, false) {
        Ok(node) => dsntk_feel_evaluator::evaluate(&scope, &node),
        Err(_) => Value::String(text.to_string()),
    }
}

fn equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Null(_), Value::Null(_)) => true,
        (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y)),
        (Value::Context(a), Value::Context(b)) => {
            let ea = a.get_entries();
            ea.len() == b.len() && ea.iter().all(|(k, v)| b.get_entry(k).is_some_and(|w| equal(v, w)))
        }
        (a, b) => dsntk_evaluator::evaluate_equals(a, b),
    }
}
