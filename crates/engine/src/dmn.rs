//! DMN decisions (decision tables, literal expressions, decision requirement graphs), evaluated
//! by dsntk. Decisions are referenced by their `id` (as Camunda's `calledDecision decisionId`
//! does); inputs are JSON objects whose keys are the model's input data names.

use crate::feel::{json_to_value, value_to_json};
use dsntk_evaluator::ModelEvaluator;
use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{FeelScope, Name};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const DMN_NAMESPACES: &[&str] = &[
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
    "https://www.omg.org/spec/DMN/20240513/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
];

#[derive(Clone)]
pub struct Decisions {
    evaluator: Arc<ModelEvaluator>,
    by_id: BTreeMap<String, DecisionRef>,
}

#[derive(Debug, Clone)]
pub struct DecisionRef {
    pub namespace: String,
    pub model_name: String,
    pub name: String,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmnProblem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decisions").field("by_id", &self.by_id.keys().collect::<Vec<_>>()).finish()
    }
}

impl Decisions {
    /// Loads DMN files `(file name, XML text)`. Checks well-formedness and the FEEL syntax of
    /// every expression and unary test (with line numbers) before handing the models to dsntk.
    pub fn load(files: &[(String, String)]) -> Result<Decisions, Vec<DmnProblem>> {
        let mut problems = Vec::new();
        let mut by_id = BTreeMap::new();
        let mut definitions = Vec::new();
        for (file, xml) in files {
            let before = problems.len();
            match scan(file, xml, &mut problems) {
                Some(refs) => {
                    for r in refs {
                        let id = r.0.clone();
                        if by_id.insert(id.clone(), r.1).is_some() {
                            problems.push(DmnProblem {
                                file: file.clone(),
                                line: None,
                                message: format!("Entscheidung mit id „{id}“ ist mehrfach definiert"),
                            });
                        }
                    }
                }
                None => continue,
            }
            if problems.len() > before {
                continue;
            }
            match dsntk_model::parse(xml) {
                Ok(defs) => definitions.push(defs),
                Err(e) => problems.push(DmnProblem {
                    file: file.clone(),
                    line: None,
                    message: format!("DMN-Modell nicht lesbar: {e}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let evaluator = ModelEvaluator::new(&definitions).map_err(|e| {
            vec![DmnProblem {
                file: files.first().map(|f| f.0.clone()).unwrap_or_default(),
                line: None,
                message: format!("DMN-Modell nicht auswertbar: {e}"),
            }]
        })?;
        Ok(Decisions { evaluator, by_id })
    }

    pub fn contains(&self, decision_id: &str) -> bool {
        self.by_id.contains_key(decision_id)
    }

    pub fn decision(&self, decision_id: &str) -> Option<&DecisionRef> {
        self.by_id.get(decision_id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Evaluates a decision with JSON input; FEEL `null` at the top is reported as an error
    /// with dsntk's explanation, since a decision that yields nothing is a modelling error.
    pub fn evaluate(&self, decision_id: &str, input: &Json) -> Result<Json, String> {
        let r = self.by_id.get(decision_id).ok_or_else(|| format!("Entscheidung „{decision_id}“ gibt es nicht"))?;
        let mut ctx = FeelContext::default();
        if let Json::Object(map) = input {
            for (k, v) in map {
                ctx.set_entry(&Name::from(k.as_str()), json_to_value(v));
            }
        }
        match self.evaluator.evaluate_invocable(&r.namespace, &r.model_name, &r.name, &ctx) {
            Value::Null(Some(reason)) => Err(reason),
            Value::Null(None) => Err("Ergebnis ist null".into()),
            v => Ok(value_to_json(&v)),
        }
    }
}

/// Reads ids, names and positions with roxmltree (dsntk's model has no positions) and checks
/// the FEEL text of the model.
fn scan(file: &str, xml: &str, problems: &mut Vec<DmnProblem>) -> Option<Vec<(String, DecisionRef)>> {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(d) => d,
        Err(e) => {
            problems.push(DmnProblem {
                file: file.into(),
                line: Some(e.pos().row as usize),
                message: format!("kein wohlgeformtes XML: {e}"),
            });
            return None;
        }
    };
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or("");
    if root.tag_name().name() != "definitions" || !DMN_NAMESPACES.contains(&ns) {
        problems.push(DmnProblem {
            file: file.into(),
            line: Some(1),
            message: "Wurzelelement muss dmn:definitions (DMN 1.2 bis 1.5) sein".into(),
        });
        return None;
    }
    let namespace = root.attribute("namespace").unwrap_or("").to_string();
    let model_name = root.attribute("name").unwrap_or("").to_string();
    let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
    // Names a FEEL parser must know to read multi-word names such as "Applicant Age". Each
    // expression gets a fresh scope: dsntk's parser adds names to the scope it is given.
    let mut known = FeelContext::default();
    for n in root.descendants().filter(|n| n.is_element()) {
        if matches!(
            n.tag_name().name(),
            "inputData"
                | "decision"
                | "businessKnowledgeModel"
                | "decisionService"
                | "itemComponent"
                | "contextEntry"
                | "variable"
                | "formalParameter"
        ) {
            if let Some(name) = n.attribute("name") {
                known.set_entry(&Name::from(name), Value::Null(None));
            }
        }
    }
    let mut refs = Vec::new();
    for n in root.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        if tag == "decision" {
            let id = n.attribute("id").unwrap_or("").to_string();
            let name = n.attribute("name").unwrap_or("").to_string();
            if id.is_empty() || name.is_empty() {
                problems.push(DmnProblem {
                    file: file.into(),
                    line: Some(line_of(n)),
                    message: "Entscheidung ohne id oder name".into(),
                });
                continue;
            }
            refs.push((
                id,
                DecisionRef {
                    namespace: namespace.clone(),
                    model_name: model_name.clone(),
                    name,
                    file: file.into(),
                    line: line_of(n),
                },
            ));
        }
        let text = || {
            n.children().find(|c| c.tag_name().name() == "text").and_then(|t| t.text()).unwrap_or("").trim().to_string()
        };
        let result = match tag {
            "inputExpression" | "literalExpression" | "outputEntry" => {
                let t = text();
                if t.is_empty() {
                    continue;
                }
                dsntk_feel_parser::parse_expression(&FeelScope::from(known.clone()), &t, false)
                    .map(|_| ())
                    .map_err(|e| (t, e.to_string()))
            }
            "inputEntry" => {
                let t = text();
                if t.is_empty() || t == "-" {
                    continue;
                }
                dsntk_feel_parser::parse_unary_tests(&FeelScope::from(known.clone()), &t, false)
                    .map(|_| ())
                    .map_err(|e| (t, e.to_string()))
            }
            _ => continue,
        };
        if let Err((t, e)) = result {
            problems.push(DmnProblem {
                file: file.into(),
                line: Some(line_of(n)),
                message: format!("FEEL in <{tag}> „{t}“ ist ungültig: {e}"),
            });
        }
    }
    Some(refs)
}
