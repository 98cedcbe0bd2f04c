//! BPMN 2.0 import: reads a process model as exported by bpmn.io / Camunda Modeler into an
//! executable [`Process`]. Task types, headers, input/output mappings, called decisions and
//! candidate groups use the Camunda 8 (Zeebe) extension namespace, so the Camunda Modeler's
//! property panels edit them. Anything the executor cannot run is reported here, with element
//! id and line, so that it is caught by `library validate` and never at run time.

use crate::feel::Expression;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
pub const ZEEBE_NS: &str = "http://camunda.org/schema/zeebe/1.0";

/// Variables every process instance has from its start (see docs/library-format.md): the
/// application data, the tenant's parameters, facts about the tenant, the receipt, and the
/// result of the clerk's decision form.
pub const PROCESS_VARIABLES: &[&str] = &["antrag", "parameter", "mandant", "eingang", "entscheidung"];

#[derive(Debug, Clone)]
pub struct Process {
    pub id: String,
    pub name: String,
    pub elements: Vec<Element>,
    pub flows: Vec<Flow>,
    index: HashMap<String, usize>,
    flow_index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub name: String,
    pub kind: ElementKind,
    pub incoming: Vec<String>,
    pub outgoing: Vec<String>,
    pub inputs: Vec<Mapping>,
    pub outputs: Vec<Mapping>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum ElementKind {
    StartEvent,
    EndEvent {
        terminate: bool,
    },
    /// A none intermediate throw event: a milestone that only passes the token on.
    IntermediateEvent,
    ExclusiveGateway {
        default: Option<String>,
    },
    /// An abstract task without behaviour (documentation in the diagram).
    Task,
    ServiceTask {
        task_type: String,
        headers: BTreeMap<String, String>,
        retries: u32,
    },
    BusinessRuleTask {
        decision_id: String,
        result_variable: String,
    },
    UserTask {
        candidate_groups: Vec<String>,
        form_key: Option<String>,
    },
}

impl ElementKind {
    pub fn label(&self) -> &'static str {
        match self {
            ElementKind::StartEvent => "startEvent",
            ElementKind::EndEvent { .. } => "endEvent",
            ElementKind::IntermediateEvent => "intermediateThrowEvent",
            ElementKind::ExclusiveGateway { .. } => "exclusiveGateway",
            ElementKind::Task => "task",
            ElementKind::ServiceTask { .. } => "serviceTask",
            ElementKind::BusinessRuleTask { .. } => "businessRuleTask",
            ElementKind::UserTask { .. } => "userTask",
        }
    }
}

/// `target = source`: the source is a FEEL expression over the process variables.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub source: Expression,
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub source: String,
    pub target: String,
    pub condition: Option<Expression>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpmnProblem {
    pub line: Option<usize>,
    pub element: Option<String>,
    pub message: String,
}

impl std::fmt::Display for BpmnProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.element {
            Some(id) => write!(f, "Element „{id}“: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Elements we recognise as BPMN but cannot execute yet. They are reported by name.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
    "subProcess",
    "adHocSubProcess",
    "transaction",
    "callActivity",
    "sendTask",
    "receiveTask",
    "scriptTask",
    "manualTask",
    "intermediateCatchEvent",
    "boundaryEvent",
];

/// Elements inside a process that carry no behaviour and are ignored.
const IGNORED: &[&str] = &[
    "documentation",
    "extensionElements",
    "laneSet",
    "textAnnotation",
    "association",
    "group",
    "category",
    "ioSpecification",
    "property",
    "incoming",
    "outgoing",
    // Data objects and stores document data; the executor keeps data in process variables.
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "dataInputAssociation",
    "dataOutputAssociation",
];

impl Process {
    pub fn element(&self, id: &str) -> Option<&Element> {
        self.index.get(id).map(|&i| &self.elements[i])
    }

    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flow_index.get(id).map(|&i| &self.flows[i])
    }

    pub fn start_event(&self) -> &Element {
        self.elements
            .iter()
            .find(|e| matches!(e.kind, ElementKind::StartEvent))
            .expect("validated: a process has exactly one start event")
    }

    pub fn business_rule_decisions(&self) -> impl Iterator<Item = (&Element, &str)> {
        self.elements.iter().filter_map(|e| match &e.kind {
            ElementKind::BusinessRuleTask { decision_id, .. } => Some((e, decision_id.as_str())),
            _ => None,
        })
    }

    pub fn service_tasks(&self) -> impl Iterator<Item = (&Element, &str, &BTreeMap<String, String>)> {
        self.elements.iter().filter_map(|e| match &e.kind {
            ElementKind::ServiceTask { task_type, headers, .. } => Some((e, task_type.as_str(), headers)),
            _ => None,
        })
    }

    /// Parses the first executable process of a BPMN document. Returns every problem found.
    pub fn parse(xml: &str) -> Result<Process, Vec<BpmnProblem>> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| {
            vec![BpmnProblem {
                line: Some(e.pos().row as usize),
                element: None,
                message: format!("kein wohlgeformtes XML: {e}"),
            }]
        })?;
        let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(BPMN_NS) || root.tag_name().name() != "definitions" {
            return Err(vec![BpmnProblem {
                line: Some(line_of(root)),
                element: None,
                message: format!("Wurzelelement muss bpmn:definitions im Namensraum {BPMN_NS} sein"),
            }]);
        }
        let processes: Vec<_> = root.children().filter(|n| is_bpmn(n, "process")).collect();
        let process_node =
            match processes.iter().find(|p| p.attribute("isExecutable") == Some("true")).or(processes.first()) {
                Some(p) => *p,
                None => {
                    return Err(vec![BpmnProblem {
                        line: Some(line_of(root)),
                        element: None,
                        message: "das Modell enthält keinen Prozess (bpmn:process)".into(),
                    }])
                }
            };
        let mut problems = Vec::new();
        let mut elements = Vec::new();
        let mut flows = Vec::new();
        let mut rejected: HashSet<String> = HashSet::new();
        let mut names: Vec<String> = PROCESS_VARIABLES.iter().map(|s| s.to_string()).collect();
        for n in process_node.descendants().filter(|n| n.is_element() && n.tag_name().namespace() == Some(ZEEBE_NS)) {
            for attr in ["resultVariable", "target"] {
                if let Some(v) = n.attribute(attr) {
                    names.push(v.trim().to_string());
                }
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let names = &names[..];
        for node in process_node.children().filter(|n| n.is_element()) {
            let tag = node.tag_name().name();
            let id = node.attribute("id").unwrap_or("").to_string();
            let line = line_of(node);
            let p = |message: String| BpmnProblem { line: Some(line), element: Some(id.clone()), message };
            if node.tag_name().namespace() != Some(BPMN_NS) {
                continue; // foreign extension elements at process level carry no behaviour
            }
            if IGNORED.contains(&tag) {
                continue;
            }
            if id.is_empty() {
                problems.push(BpmnProblem { line: Some(line), element: None, message: format!("bpmn:{tag} ohne id") });
                continue;
            }
            if tag == "sequenceFlow" {
                let condition = node
                    .children()
                    .find(|c| is_bpmn(c, "conditionExpression"))
                    .and_then(|c| c.text())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .and_then(|t| match Expression::parse(t, names) {
                        Ok(e) => Some(e),
                        Err(e) => {
                            problems.push(p(format!("Bedingung: {e}")));
                            None
                        }
                    });
                flows.push(Flow {
                    id: id.clone(),
                    source: node.attribute("sourceRef").unwrap_or("").to_string(),
                    target: node.attribute("targetRef").unwrap_or("").to_string(),
                    condition,
                    line,
                });
                continue;
            }
            let kind = match tag {
                "startEvent" => {
                    if let Some(def) = event_definition(node) {
                        problems.push(p(format!(
                            "Startereignis mit {def} wird noch nicht unterstützt (nur einfaches Startereignis)"
                        )));
                    }
                    Some(ElementKind::StartEvent)
                }
                "endEvent" => match event_definition(node) {
                    None => Some(ElementKind::EndEvent { terminate: false }),
                    Some("terminateEventDefinition") => Some(ElementKind::EndEvent { terminate: true }),
                    Some(def) => {
                        problems.push(p(format!("Endereignis mit {def} wird noch nicht unterstützt")));
                        None
                    }
                },
                "intermediateThrowEvent" => match event_definition(node) {
                    None => Some(ElementKind::IntermediateEvent),
                    Some(def) => {
                        problems.push(p(format!("Zwischenereignis mit {def} wird noch nicht unterstützt")));
                        None
                    }
                },
                "exclusiveGateway" => {
                    Some(ElementKind::ExclusiveGateway { default: node.attribute("default").map(String::from) })
                }
                "task" => Some(ElementKind::Task),
                "serviceTask" => {
                    let def = zeebe(node, "taskDefinition");
                    match def.and_then(|d| d.attribute("type")).map(str::trim).filter(|t| !t.is_empty()) {
                        Some(t) => {
                            let retries = match def.and_then(|d| d.attribute("retries")) {
                                None => 3,
                                Some(r) => r.trim().parse().unwrap_or_else(|_| {
                                    problems.push(p(format!("retries=\"{r}\" ist keine Zahl")));
                                    3
                                }),
                            };
                            Some(ElementKind::ServiceTask { task_type: t.to_string(), headers: headers(node), retries })
                        }
                        None => {
                            problems.push(p(
                                "Serviceaufgabe ohne zeebe:taskDefinition type=\"…\" (welcher Konnektor soll laufen?)"
                                    .into(),
                            ));
                            None
                        }
                    }
                }
                "businessRuleTask" => {
                    let called = zeebe(node, "calledDecision");
                    let decision = called.and_then(|c| c.attribute("decisionId")).unwrap_or("").trim();
                    let result = called.and_then(|c| c.attribute("resultVariable")).unwrap_or("").trim();
                    if decision.is_empty() || result.is_empty() {
                        problems.push(p(
                            "Geschäftsregelaufgabe braucht zeebe:calledDecision mit decisionId und resultVariable"
                                .into(),
                        ));
                        None
                    } else {
                        Some(ElementKind::BusinessRuleTask {
                            decision_id: decision.into(),
                            result_variable: result.into(),
                        })
                    }
                }
                "userTask" => {
                    let groups = zeebe(node, "assignmentDefinition")
                        .and_then(|a| a.attribute("candidateGroups"))
                        .map(|g| {
                            g.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>()
                        })
                        .unwrap_or_default();
                    if groups.is_empty() {
                        problems.push(p("Benutzeraufgabe ohne zeebe:assignmentDefinition candidateGroups (wer soll sie bearbeiten?)".into()));
                    }
                    let form_key = zeebe(node, "formDefinition").and_then(|f| f.attribute("formKey")).map(String::from);
                    Some(ElementKind::UserTask { candidate_groups: groups, form_key })
                }
                other if KNOWN_UNSUPPORTED.contains(&other) => {
                    problems.push(p(format!(
                        "bpmn:{other} wird von dieser Version der Prozess-Engine noch nicht ausgeführt"
                    )));
                    None
                }
                other => {
                    problems.push(p(format!("unbekanntes oder nicht unterstütztes BPMN-Element bpmn:{other}")));
                    None
                }
            };
            // Event definitions the executor does not know are reported above; loops and
            // multi-instance markers are reported here, for any activity.
            for child in node.children().filter(|c| c.is_element() && c.tag_name().namespace() == Some(BPMN_NS)) {
                let name = child.tag_name().name();
                if name == "multiInstanceLoopCharacteristics" || name == "standardLoopCharacteristics" {
                    problems.push(p(format!("bpmn:{name} (Mehrfachausführung) wird noch nicht unterstützt")));
                }
            }
            let Some(kind) = kind else {
                rejected.insert(id);
                continue;
            };
            let (inputs, outputs) = io_mappings(node, names, &mut problems, &id, line);
            elements.push(Element {
                id,
                name: node.attribute("name").unwrap_or("").trim().to_string(),
                kind,
                incoming: Vec::new(),
                outgoing: Vec::new(),
                inputs,
                outputs,
                line,
            });
        }
        let mut process = Process {
            id: process_node.attribute("id").unwrap_or("").to_string(),
            name: process_node.attribute("name").unwrap_or("").to_string(),
            index: elements.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect(),
            flow_index: flows.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect(),
            elements,
            flows,
        };
        process.link(&mut problems, &rejected);
        // Reachability and the like only make sense for a model we could read completely;
        // with rejected elements they would only repeat the root cause.
        if rejected.is_empty() {
            process.check_structure(&mut problems);
        }
        if problems.is_empty() {
            Ok(process)
        } else {
            Err(problems)
        }
    }

    /// Connects flows and elements. Flows from or to an element that was rejected (and
    /// reported) already are skipped silently.
    fn link(&mut self, problems: &mut Vec<BpmnProblem>, rejected: &HashSet<String>) {
        let mut seen = HashSet::new();
        for e in &self.elements {
            if !seen.insert(e.id.clone()) {
                problems.push(BpmnProblem {
                    line: Some(e.line),
                    element: Some(e.id.clone()),
                    message: "id kommt mehrfach vor".into(),
                });
            }
        }
        for f in self.flows.clone() {
            let mut ok = true;
            for (end, what) in [(&f.source, "sourceRef"), (&f.target, "targetRef")] {
                if !self.index.contains_key(end) {
                    ok = false;
                    if rejected.contains(end.as_str()) {
                        continue;
                    }
                    problems.push(BpmnProblem {
                        line: Some(f.line),
                        element: Some(f.id.clone()),
                        message: format!("Sequenzfluss: {what}=\"{end}\" verweist auf kein ausführbares Element"),
                    });
                }
            }
            if ok {
                let s = self.index[&f.source];
                let t = self.index[&f.target];
                self.elements[s].outgoing.push(f.id.clone());
                self.elements[t].incoming.push(f.id.clone());
            }
        }
    }

    fn check_structure(&self, problems: &mut Vec<BpmnProblem>) {
        let starts: Vec<&Element> =
            self.elements.iter().filter(|e| matches!(e.kind, ElementKind::StartEvent)).collect();
        if starts.len() != 1 {
            problems.push(BpmnProblem {
                line: None,
                element: Some(self.id.clone()),
                message: format!("ein Prozess braucht genau ein Startereignis, gefunden: {}", starts.len()),
            });
        }
        for e in &self.elements {
            let p = |message: String| BpmnProblem { line: Some(e.line), element: Some(e.id.clone()), message };
            match &e.kind {
                ElementKind::StartEvent if !e.incoming.is_empty() => {
                    problems.push(p("ein Startereignis darf keine eingehenden Flüsse haben".into()))
                }
                ElementKind::EndEvent { .. } if !e.outgoing.is_empty() => {
                    problems.push(p("ein Endereignis darf keine ausgehenden Flüsse haben".into()))
                }
                ElementKind::EndEvent { .. } => {}
                ElementKind::ExclusiveGateway { default } => {
                    if e.outgoing.is_empty() {
                        problems.push(p("Gateway ohne ausgehenden Fluss".into()));
                    }
                    if let Some(d) = default {
                        if !e.outgoing.contains(d) {
                            problems.push(p(format!("Standardfluss „{d}“ geht nicht von diesem Gateway aus")));
                        }
                    }
                    if e.outgoing.len() > 1 {
                        for fid in &e.outgoing {
                            let f = self.flow(fid).expect("linked");
                            if f.condition.is_none() && default.as_deref() != Some(fid) {
                                problems.push(BpmnProblem {
                                    line: Some(f.line),
                                    element: Some(fid.clone()),
                                    message: format!("Fluss aus dem verzweigenden Gateway „{}“ braucht eine Bedingung oder muss Standardfluss sein", e.id),
                                });
                            }
                        }
                    }
                }
                _ => {
                    if e.outgoing.is_empty() {
                        problems.push(p("Element ohne ausgehenden Fluss (fehlt ein Endereignis?)".into()));
                    }
                    if e.outgoing.len() > 1 {
                        problems.push(p("mehrere ausgehende Flüsse ohne Gateway (implizite Parallelität) werden noch nicht unterstützt; bitte ein exklusives Gateway verwenden".into()));
                    }
                }
            }
            if !matches!(e.kind, ElementKind::ExclusiveGateway { .. }) {
                for fid in &e.outgoing {
                    if let Some(f) = self.flow(fid) {
                        if f.condition.is_some() {
                            problems.push(BpmnProblem {
                                line: Some(f.line),
                                element: Some(fid.clone()),
                                message: "bedingte Flüsse sind nur nach einem exklusiven Gateway erlaubt".into(),
                            });
                        }
                    }
                }
            }
        }
        // Everything must be reachable from the start, and every element must reach an end:
        // otherwise a case could get stuck forever.
        if let [start] = starts.as_slice() {
            let reachable = self.reach(&start.id, |e| {
                e.outgoing.iter().filter_map(|f| self.flow(f)).map(|f| f.target.clone()).collect()
            });
            for e in &self.elements {
                if !reachable.contains(&e.id) {
                    problems.push(BpmnProblem {
                        line: Some(e.line),
                        element: Some(e.id.clone()),
                        message: "vom Startereignis aus nicht erreichbar".into(),
                    });
                }
            }
        }
        let ends: Vec<&Element> =
            self.elements.iter().filter(|e| matches!(e.kind, ElementKind::EndEvent { .. })).collect();
        let mut can_end = HashSet::new();
        for end in ends {
            can_end.extend(self.reach(&end.id, |e| {
                e.incoming.iter().filter_map(|f| self.flow(f)).map(|f| f.source.clone()).collect()
            }));
        }
        for e in &self.elements {
            if !can_end.contains(&e.id) && !e.outgoing.is_empty() {
                problems.push(BpmnProblem {
                    line: Some(e.line),
                    element: Some(e.id.clone()),
                    message: "von hier aus ist kein Endereignis erreichbar".into(),
                });
            }
        }
    }

    fn reach(&self, from: &str, next: impl Fn(&Element) -> Vec<String>) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([from.to_string()]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(e) = self.element(&id) {
                queue.extend(next(e));
            }
        }
        seen
    }
}

fn is_bpmn(n: &roxmltree::Node, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(BPMN_NS)
}

fn event_definition<'a>(node: roxmltree::Node<'a, 'a>) -> Option<&'a str> {
    node.children()
        .find(|c| {
            c.is_element()
                && c.tag_name().namespace() == Some(BPMN_NS)
                && c.tag_name().name().ends_with("EventDefinition")
        })
        .map(|c| c.tag_name().name())
}

fn extension_elements<'a>(node: roxmltree::Node<'a, 'a>) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> {
    node.children().filter(|c| is_bpmn(c, "extensionElements")).flat_map(|x| x.children().filter(|c| c.is_element()))
}

fn zeebe<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    extension_elements(node).find(|c| c.tag_name().namespace() == Some(ZEEBE_NS) && c.tag_name().name() == name)
}

fn headers(node: roxmltree::Node) -> BTreeMap<String, String> {
    zeebe(node, "taskHeaders")
        .map(|h| {
            h.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "header")
                .filter_map(|c| Some((c.attribute("key")?.to_string(), c.attribute("value").unwrap_or("").to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn io_mappings(
    node: roxmltree::Node,
    names: &[&str],
    problems: &mut Vec<BpmnProblem>,
    id: &str,
    line: usize,
) -> (Vec<Mapping>, Vec<Mapping>) {
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    if let Some(io) = zeebe(node, "ioMapping") {
        for m in io.children().filter(|c| c.is_element()) {
            let source = m.attribute("source").unwrap_or("");
            let target = m.attribute("target").unwrap_or("").trim().to_string();
            if target.is_empty() {
                problems.push(BpmnProblem {
                    line: Some(line),
                    element: Some(id.into()),
                    message: "Zuordnung (ioMapping) ohne target".into(),
                });
                continue;
            }
            // As in Zeebe, a source without a leading `=` is a literal text, not an expression.
            let source = if source.trim_start().starts_with('=') {
                source.to_string()
            } else {
                format!("\"{}\"", source.replace('\\', "\\\\").replace('"', "\\\""))
            };
            match Expression::parse(&source, names) {
                Ok(source) => match m.tag_name().name() {
                    "input" => inputs.push(Mapping { source, target }),
                    "output" => outputs.push(Mapping { source, target }),
                    _ => {}
                },
                Err(e) => problems.push(BpmnProblem {
                    line: Some(line),
                    element: Some(id.into()),
                    message: format!("Zuordnung nach „{target}“: {e}"),
                }),
            }
        }
    }
    (inputs, outputs)
}
