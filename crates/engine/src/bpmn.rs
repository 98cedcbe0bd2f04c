//! BPMN 2.0 import: reads a process model as exported by bpmn.io / Camunda Modeler into an
//! executable [`Process`]. Task types, headers, input/output mappings, called decisions and
//! processes, assignments, due dates, message subscriptions and multi-instance collections
//! use the Camunda 8 (Zeebe) extension namespace, so the Camunda Modeler's property panels
//! edit them; what Zeebe has no attribute for (how a duration is counted: working days of
//! the tenant's Land, statutory deadlines) uses the `rathaus:` namespace. Anything the
//! executor cannot run is reported here, with element id and line, so that it is caught by
//! `library validate` and never at run time.

use crate::feel::Expression;
use rathaus_domain::calendar::{parse_instant, Counting, IsoDuration};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
pub const ZEEBE_NS: &str = "http://camunda.org/schema/zeebe/1.0";
/// Our own extension attributes (documented in docs/library-format.md).
pub const RATHAUS_NS: &str = "https://rathaus.dev/schema/bpmn/1.0";

/// Variables every process instance has from its start (see docs/library-format.md): the
/// application data, the tenant's parameters, facts about the tenant, the receipt, and the
/// result of the clerk's decision form.
pub const PROCESS_VARIABLES: &[&str] = &["antrag", "parameter", "mandant", "eingang", "entscheidung"];

/// Variables a multi-instance activity adds in each of its instances.
pub const LOOP_COUNTER: &str = "loopCounter";

#[derive(Debug, Clone)]
pub struct Process {
    pub id: String,
    pub name: String,
    /// All elements, those inside sub-processes included (ids are unique per document).
    pub elements: Vec<Element>,
    pub flows: Vec<Flow>,
    index: HashMap<String, usize>,
    flow_index: HashMap<String, usize>,
    /// For each element, the elements reachable from it on the same level (for the join
    /// of inclusive gateways).
    reach: HashMap<String, HashSet<String>>,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub name: String,
    pub kind: ElementKind,
    /// The embedded sub-process this element is part of (None: the process level).
    pub parent: Option<String>,
    pub incoming: Vec<String>,
    pub outgoing: Vec<String>,
    pub inputs: Vec<Mapping>,
    pub outputs: Vec<Mapping>,
    /// Boundary events attached to this activity.
    pub boundaries: Vec<String>,
    pub multi: Option<MultiInstance>,
    /// The default flow of an activity or gateway with conditional outgoing flows.
    pub default_flow: Option<String>,
    pub line: usize,
}

/// How a service task, send task or message throw event hands work to a connector or an
/// external worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDef {
    pub task_type: String,
    pub headers: BTreeMap<String, String>,
    pub retries: u32,
}

#[derive(Debug, Clone)]
pub enum ElementKind {
    /// A start event; a timer start delays the process, a message start is the submission.
    StartEvent {
        timer: Option<TimerDef>,
    },
    EndEvent {
        end: EndKind,
    },
    /// A none or message intermediate throw event (a milestone, or a message sent by a job).
    IntermediateThrow {
        job: Option<JobDef>,
    },
    /// An intermediate timer or message catch event.
    IntermediateCatch {
        trigger: Trigger,
    },
    ExclusiveGateway,
    ParallelGateway,
    InclusiveGateway,
    EventBasedGateway,
    /// An abstract or manual task: passes the token on.
    Task,
    /// A service or send task: a job for a connector or an external worker.
    ServiceTask {
        job: JobDef,
    },
    ReceiveTask {
        message: String,
    },
    ScriptTask {
        expression: Expression,
        result_variable: String,
    },
    BusinessRuleTask {
        decision_id: String,
        result_variable: String,
    },
    UserTask(UserTaskDef),
    /// An embedded sub-process; `start` is its none start event.
    SubProcess {
        start: String,
    },
    CallActivity {
        process_id: String,
        propagate_all: bool,
    },
    Boundary {
        attached_to: String,
        interrupting: bool,
        trigger: Trigger,
    },
}

#[derive(Debug, Clone)]
pub enum EndKind {
    None,
    Terminate,
    Error { code: String },
    Message(JobDef),
}

#[derive(Debug, Clone)]
pub enum Trigger {
    Timer(TimerDef),
    Message {
        name: String,
    },
    /// An error boundary event; `None` catches every error.
    Error {
        code: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct TimerDef {
    pub kind: TimerKind,
    pub value: TimeValue,
    pub counting: Counting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// A point in time.
    Date,
    /// A duration from the moment the timer starts.
    Duration,
    /// `R<n>/<duration>` (n repetitions, or unbounded without n): only on non-interrupting
    /// boundary events.
    Cycle,
}

/// A literal from the model, or a FEEL expression (`=…`) evaluated when the timer starts.
#[derive(Debug, Clone)]
pub enum TimeValue {
    Literal(String),
    Feel(Expression),
}

#[derive(Debug, Clone)]
pub struct UserTaskDef {
    pub candidate_groups: Vec<String>,
    /// `candidateGroups="=…"`: a FEEL expression giving the groups (a text or a list of
    /// texts) when the task is created, e.g. `=parameter.zustaendige_einheit`, so that a
    /// town routes the tasks to its own organisational unit by a parameter.
    pub candidate_groups_expr: Option<Expression>,
    pub candidate_users: Vec<String>,
    pub assignee: Option<TimeOrText>,
    pub form_key: Option<String>,
    pub due: Option<DueDef>,
    pub follow_up: Option<DueDef>,
}

/// A text attribute that may be a FEEL expression (`=…`).
#[derive(Debug, Clone)]
pub enum TimeOrText {
    Literal(String),
    Feel(Expression),
}

/// A due or follow-up date of a user task: a date, a date-time or a duration from the task's
/// creation, counted as `counting` says.
#[derive(Debug, Clone)]
pub struct DueDef {
    pub value: TimeValue,
    pub counting: Counting,
}

#[derive(Debug, Clone)]
pub struct MultiInstance {
    pub sequential: bool,
    pub input_collection: Expression,
    pub input_element: Option<String>,
    pub output_collection: Option<String>,
    pub output_element: Option<Expression>,
    pub completion_condition: Option<Expression>,
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

/// Elements we recognise as BPMN but cannot execute. They are reported by name.
const KNOWN_UNSUPPORTED: &[&str] = &["complexGateway", "adHocSubProcess", "transaction"];

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
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    // Data objects and stores document data; the executor keeps data in process variables.
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "dataInputAssociation",
    "dataOutputAssociation",
];

/// Messages and errors are declared once at the root of the document and referenced by id.
struct Definitions {
    messages: HashMap<String, String>,
    errors: HashMap<String, String>,
}

struct Importer<'a> {
    names: Vec<&'a str>,
    defs: Definitions,
    problems: Vec<BpmnProblem>,
    elements: Vec<Element>,
    flows: Vec<Flow>,
    rejected: HashSet<String>,
    line_of: &'a dyn Fn(roxmltree::Node) -> usize,
}

impl Process {
    pub fn element(&self, id: &str) -> Option<&Element> {
        self.index.get(id).map(|&i| &self.elements[i])
    }

    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flow_index.get(id).map(|&i| &self.flows[i])
    }

    /// The start event of the process level.
    pub fn start_event(&self) -> &Element {
        self.elements
            .iter()
            .find(|e| e.parent.is_none() && matches!(e.kind, ElementKind::StartEvent { .. }))
            .expect("validated: a process has exactly one start event")
    }

    /// Whether `to` can be reached from `from` on the same level.
    pub fn can_reach(&self, from: &str, to: &str) -> bool {
        self.reach.get(from).is_some_and(|r| r.contains(to))
    }

    pub fn business_rule_decisions(&self) -> impl Iterator<Item = (&Element, &str)> {
        self.elements.iter().filter_map(|e| match &e.kind {
            ElementKind::BusinessRuleTask { decision_id, .. } => Some((e, decision_id.as_str())),
            _ => None,
        })
    }

    /// Every element that hands work to a job: service and send tasks, message throw events.
    pub fn jobs(&self) -> impl Iterator<Item = (&Element, &JobDef)> {
        self.elements.iter().filter_map(|e| match &e.kind {
            ElementKind::ServiceTask { job }
            | ElementKind::IntermediateThrow { job: Some(job) }
            | ElementKind::EndEvent { end: EndKind::Message(job) } => Some((e, job)),
            _ => None,
        })
    }

    pub fn called_processes(&self) -> impl Iterator<Item = (&Element, &str)> {
        self.elements.iter().filter_map(|e| match &e.kind {
            ElementKind::CallActivity { process_id, .. } => Some((e, process_id.as_str())),
            _ => None,
        })
    }

    /// Names of the messages the process waits for anywhere.
    pub fn message_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .elements
            .iter()
            .filter_map(|e| match &e.kind {
                ElementKind::ReceiveTask { message }
                | ElementKind::IntermediateCatch { trigger: Trigger::Message { name: message } }
                | ElementKind::Boundary { trigger: Trigger::Message { name: message }, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Parses the first executable process of a BPMN document. Returns every problem found.
    pub fn parse(xml: &str) -> Result<Process, Vec<BpmnProblem>> {
        Process::parse_all(xml).map(|mut ps| ps.remove(0))
    }

    /// Parses every executable process of a BPMN document (a document may hold a main
    /// process and the processes its call activities call).
    pub fn parse_all(xml: &str) -> Result<Vec<Process>, Vec<BpmnProblem>> {
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
        let mut executable: Vec<_> =
            processes.iter().copied().filter(|p| p.attribute("isExecutable") == Some("true")).collect();
        if executable.is_empty() {
            executable.extend(processes.first().copied());
        }
        if executable.is_empty() {
            return Err(vec![BpmnProblem {
                line: Some(line_of(root)),
                element: None,
                message: "das Modell enthält keinen Prozess (bpmn:process)".into(),
            }]);
        }
        let defs = Definitions {
            messages: root
                .children()
                .filter(|n| is_bpmn(n, "message"))
                .filter_map(|n| {
                    let id = n.attribute("id")?.to_string();
                    Some((
                        id.clone(),
                        n.attribute("name").map(str::trim).filter(|s| !s.is_empty()).unwrap_or(&id).to_string(),
                    ))
                })
                .collect(),
            errors: root
                .children()
                .filter(|n| is_bpmn(n, "error"))
                .filter_map(|n| {
                    let id = n.attribute("id")?.to_string();
                    let code = n.attribute("errorCode").or(n.attribute("name")).unwrap_or(&id).trim().to_string();
                    Some((id, code))
                })
                .collect(),
        };
        let mut all_problems = Vec::new();
        let mut out = Vec::new();
        let mut defs = Some(defs);
        for process_node in executable {
            let mut names: Vec<String> = PROCESS_VARIABLES.iter().map(|s| s.to_string()).collect();
            names.push(LOOP_COUNTER.into());
            for n in process_node.descendants().filter(|n| n.is_element() && n.tag_name().namespace() == Some(ZEEBE_NS))
            {
                for attr in ["resultVariable", "target", "inputElement", "outputCollection"] {
                    if let Some(v) = n.attribute(attr) {
                        names.push(v.trim().to_string());
                    }
                }
            }
            let mut importer = Importer {
                names: names.iter().map(String::as_str).collect(),
                defs: defs.take().expect("set"),
                problems: Vec::new(),
                elements: Vec::new(),
                flows: Vec::new(),
                rejected: HashSet::new(),
                line_of: &line_of,
            };
            importer.level(process_node, None);
            let Importer { mut problems, elements, flows, rejected, defs: d, .. } = importer;
            defs = Some(d);
            let mut process = Process {
                id: process_node.attribute("id").unwrap_or("").to_string(),
                name: process_node.attribute("name").unwrap_or("").to_string(),
                index: elements.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect(),
                flow_index: flows.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect(),
                elements,
                flows,
                reach: HashMap::new(),
            };
            process.link(&mut problems, &rejected);
            // Reachability and the like only make sense for a model we could read completely;
            // with rejected elements they would only repeat the root cause.
            if rejected.is_empty() {
                process.check_structure(&mut problems);
            }
            process.reach = process.elements.iter().map(|e| (e.id.clone(), process.forward(&e.id))).collect();
            all_problems.extend(problems);
            out.push(process);
        }
        if all_problems.is_empty() {
            Ok(out)
        } else {
            Err(all_problems)
        }
    }

    /// Connects flows and elements, and boundary events to their activities. Flows from or
    /// to an element that was rejected (and reported) already are skipped silently.
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
                if self.elements[s].parent != self.elements[t].parent {
                    problems.push(BpmnProblem {
                        line: Some(f.line),
                        element: Some(f.id.clone()),
                        message: "Sequenzfluss über die Grenze eines Unterprozesses".into(),
                    });
                    continue;
                }
                self.elements[s].outgoing.push(f.id.clone());
                self.elements[t].incoming.push(f.id.clone());
            }
        }
        let attachments: Vec<(String, String, usize)> = self
            .elements
            .iter()
            .filter_map(|e| match &e.kind {
                ElementKind::Boundary { attached_to, .. } => Some((e.id.clone(), attached_to.clone(), e.line)),
                _ => None,
            })
            .collect();
        for (boundary, activity, line) in attachments {
            match self.index.get(&activity) {
                Some(&i) if is_activity(&self.elements[i].kind) => self.elements[i].boundaries.push(boundary),
                Some(_) => problems.push(BpmnProblem {
                    line: Some(line),
                    element: Some(boundary),
                    message: format!("Randereignis an „{activity}“, das keine Aktivität ist"),
                }),
                None if rejected.contains(&activity) => {}
                None => problems.push(BpmnProblem {
                    line: Some(line),
                    element: Some(boundary),
                    message: format!("attachedToRef=\"{activity}\" verweist auf keine Aktivität"),
                }),
            }
        }
    }

    fn check_structure(&self, problems: &mut Vec<BpmnProblem>) {
        // One none start event per level: the process and each embedded sub-process.
        let mut levels: Vec<Option<String>> = vec![None];
        levels.extend(
            self.elements
                .iter()
                .filter(|e| matches!(e.kind, ElementKind::SubProcess { .. }))
                .map(|e| Some(e.id.clone())),
        );
        for level in &levels {
            let starts: Vec<&Element> = self
                .elements
                .iter()
                .filter(|e| &e.parent == level && matches!(e.kind, ElementKind::StartEvent { .. }))
                .collect();
            if starts.len() != 1 {
                problems.push(BpmnProblem {
                    line: level.as_deref().and_then(|l| self.element(l)).map(|e| e.line),
                    element: Some(level.clone().unwrap_or_else(|| self.id.clone())),
                    message: format!(
                        "{} braucht genau ein Startereignis, gefunden: {}",
                        if level.is_some() { "ein Unterprozess" } else { "ein Prozess" },
                        starts.len()
                    ),
                });
            }
            if let (Some(_), [start]) = (level, starts.as_slice()) {
                if let ElementKind::StartEvent { timer: Some(_) } = start.kind {
                    problems.push(BpmnProblem {
                        line: Some(start.line),
                        element: Some(start.id.clone()),
                        message: "ein Unterprozess beginnt mit einem einfachen Startereignis (ohne Zeitgeber)".into(),
                    });
                }
            }
            // Everything must be reachable from the start or a boundary event, and every
            // element must reach an end: otherwise a case could get stuck forever.
            let entries: Vec<&Element> = self
                .elements
                .iter()
                .filter(|e| &e.parent == level)
                .filter(|e| matches!(e.kind, ElementKind::StartEvent { .. } | ElementKind::Boundary { .. }))
                .collect();
            let mut reachable = HashSet::new();
            for entry in &entries {
                reachable.extend(self.forward(&entry.id));
            }
            let mut can_end = HashSet::new();
            for end in self.elements.iter().filter(|e| &e.parent == level && e.outgoing.is_empty()) {
                can_end.extend(self.backward(&end.id));
            }
            for e in self.elements.iter().filter(|e| &e.parent == level) {
                if !entries.is_empty() && !reachable.contains(&e.id) {
                    problems.push(BpmnProblem {
                        line: Some(e.line),
                        element: Some(e.id.clone()),
                        message: "vom Startereignis aus nicht erreichbar".into(),
                    });
                }
                if !can_end.contains(&e.id) {
                    problems.push(BpmnProblem {
                        line: Some(e.line),
                        element: Some(e.id.clone()),
                        message: "von hier aus ist kein Ende erreichbar (Endlosschleife ohne Ausgang?)".into(),
                    });
                }
            }
        }
        for e in &self.elements {
            let p = |message: String| BpmnProblem { line: Some(e.line), element: Some(e.id.clone()), message };
            match &e.kind {
                ElementKind::StartEvent { .. } | ElementKind::Boundary { .. } if !e.incoming.is_empty() => {
                    problems.push(p("ein Start- oder Randereignis darf keine eingehenden Flüsse haben".into()))
                }
                ElementKind::EndEvent { .. } if !e.outgoing.is_empty() => {
                    problems.push(p("ein Endereignis darf keine ausgehenden Flüsse haben".into()))
                }
                ElementKind::EndEvent { .. } => {}
                _ if e.outgoing.is_empty() => {
                    problems.push(p("Element ohne ausgehenden Fluss (fehlt ein Endereignis?)".into()))
                }
                _ => {}
            }
            if let Some(d) = &e.default_flow {
                if !e.outgoing.contains(d) {
                    problems.push(p(format!("Standardfluss „{d}“ geht nicht von diesem Element aus")));
                }
            }
            let conditional = e.outgoing.iter().filter_map(|f| self.flow(f)).filter(|f| f.condition.is_some()).count();
            match &e.kind {
                ElementKind::ExclusiveGateway | ElementKind::InclusiveGateway if e.outgoing.len() > 1 => {
                    for fid in &e.outgoing {
                        let f = self.flow(fid).expect("linked");
                        if f.condition.is_none() && e.default_flow.as_deref() != Some(fid) {
                            problems.push(BpmnProblem {
                                line: Some(f.line),
                                element: Some(fid.clone()),
                                message: format!(
                                    "Fluss aus dem verzweigenden Gateway „{}“ braucht eine Bedingung oder muss Standardfluss sein",
                                    e.id
                                ),
                            });
                        }
                    }
                }
                ElementKind::ParallelGateway | ElementKind::EventBasedGateway if conditional > 0 => problems.push(p(
                    "Flüsse aus einem parallelen oder ereignisbasierten Gateway haben keine Bedingungen".into(),
                )),
                ElementKind::EventBasedGateway => {
                    if e.outgoing.len() < 2 {
                        problems.push(p("ein ereignisbasiertes Gateway braucht mindestens zwei Ereignisse".into()));
                    }
                    for fid in &e.outgoing {
                        let target = self.flow(fid).and_then(|f| self.element(&f.target));
                        if let Some(t) = target {
                            let ok = matches!(
                                t.kind,
                                ElementKind::IntermediateCatch { .. } | ElementKind::ReceiveTask { .. }
                            ) && t.incoming.len() == 1;
                            if !ok {
                                problems.push(p(format!(
                                    "nach einem ereignisbasierten Gateway muss ein Zwischenereignis (Zeitgeber, Nachricht) oder eine Empfangsaufgabe mit nur diesem eingehenden Fluss stehen, nicht „{}“",
                                    t.id
                                )));
                            }
                        }
                    }
                }
                _ => {}
            }
            if let ElementKind::Boundary { trigger: Trigger::Timer(t), interrupting, .. } = &e.kind {
                if t.kind == TimerKind::Cycle && *interrupting {
                    problems.push(p(
                        "ein wiederkehrender Zeitgeber (timeCycle) geht nur als nicht unterbrechendes Randereignis"
                            .into(),
                    ));
                }
            }
        }
    }

    fn forward(&self, from: &str) -> HashSet<String> {
        self.walk(from, |e| e.outgoing.iter().filter_map(|f| self.flow(f)).map(|f| f.target.clone()).collect())
    }

    /// Elements from which `to` is reachable; a boundary event's activity counts as its
    /// predecessor (an interrupted activity ends through its boundary path).
    fn backward(&self, to: &str) -> HashSet<String> {
        self.walk(to, |e| {
            let mut prev: Vec<String> =
                e.incoming.iter().filter_map(|f| self.flow(f)).map(|f| f.source.clone()).collect();
            if let ElementKind::Boundary { attached_to, .. } = &e.kind {
                prev.push(attached_to.clone());
            }
            prev
        })
    }

    fn walk(&self, from: &str, next: impl Fn(&Element) -> Vec<String>) -> HashSet<String> {
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

fn is_activity(kind: &ElementKind) -> bool {
    matches!(
        kind,
        ElementKind::Task
            | ElementKind::ServiceTask { .. }
            | ElementKind::ReceiveTask { .. }
            | ElementKind::ScriptTask { .. }
            | ElementKind::BusinessRuleTask { .. }
            | ElementKind::UserTask(_)
            | ElementKind::SubProcess { .. }
            | ElementKind::CallActivity { .. }
    )
}

impl Importer<'_> {
    fn problem(&mut self, line: usize, id: &str, message: String) {
        self.problems.push(BpmnProblem { line: Some(line), element: Some(id.to_string()), message });
    }

    fn expr(&mut self, line: usize, id: &str, what: &str, source: &str) -> Option<Expression> {
        match Expression::parse(source, &self.names) {
            Ok(e) => Some(e),
            Err(e) => {
                self.problem(line, id, format!("{what}: {e}"));
                None
            }
        }
    }

    /// Reads the flow elements of a process or sub-process.
    fn level(&mut self, container: roxmltree::Node, parent: Option<&str>) {
        for node in container.children().filter(|n| n.is_element()) {
            let tag = node.tag_name().name();
            let id = node.attribute("id").unwrap_or("").to_string();
            let line = (self.line_of)(node);
            if node.tag_name().namespace() != Some(BPMN_NS) || IGNORED.contains(&tag) {
                continue; // foreign extension elements carry no behaviour
            }
            if id.is_empty() {
                self.problems.push(BpmnProblem {
                    line: Some(line),
                    element: None,
                    message: format!("bpmn:{tag} ohne id"),
                });
                continue;
            }
            if tag == "sequenceFlow" {
                let condition = node
                    .children()
                    .find(|c| is_bpmn(c, "conditionExpression"))
                    .and_then(|c| c.text())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .and_then(|t| self.expr(line, &id, "Bedingung", &t));
                self.flows.push(Flow {
                    id: id.clone(),
                    source: node.attribute("sourceRef").unwrap_or("").to_string(),
                    target: node.attribute("targetRef").unwrap_or("").to_string(),
                    condition,
                    line,
                });
                continue;
            }
            let kind = self.kind(node, tag, &id, line);
            let multi = self.multi_instance(node, &id, line);
            let Some(kind) = kind else {
                self.rejected.insert(id);
                continue;
            };
            if multi.is_some() && !is_activity(&kind) {
                self.problem(line, &id, "Mehrfachausführung geht nur an Aufgaben und Unterprozessen".into());
            }
            let (inputs, outputs) = self.io_mappings(node, &id, line);
            let is_sub = matches!(kind, ElementKind::SubProcess { .. });
            self.elements.push(Element {
                id: id.clone(),
                name: node.attribute("name").unwrap_or("").trim().to_string(),
                kind,
                parent: parent.map(String::from),
                incoming: Vec::new(),
                outgoing: Vec::new(),
                inputs,
                outputs,
                boundaries: Vec::new(),
                multi,
                default_flow: node.attribute("default").map(String::from),
                line,
            });
            if is_sub {
                self.level(node, Some(&id));
            }
        }
    }

    fn kind(&mut self, node: roxmltree::Node, tag: &str, id: &str, line: usize) -> Option<ElementKind> {
        let def = event_definition(node);
        let unsupported_def = |this: &mut Self, what: &str, def: &str| {
            this.problem(line, id, format!("{what} mit {def} wird nicht unterstützt"));
            None
        };
        match tag {
            "startEvent" => match def.map(|d| d.tag_name().name()) {
                None | Some("messageEventDefinition") => Some(ElementKind::StartEvent { timer: None }),
                Some("timerEventDefinition") => {
                    let timer = self.timer(def.expect("some"), id, line)?;
                    if timer.kind == TimerKind::Cycle {
                        self.problem(line, id, "ein Startereignis mit wiederkehrendem Zeitgeber (timeCycle) wird nicht unterstützt: ein Vorgang beginnt mit seinem Antrag; timeDate oder timeDuration verschieben den Beginn".into());
                        return None;
                    }
                    Some(ElementKind::StartEvent { timer: Some(timer) })
                }
                Some(d) => unsupported_def(self, "Startereignis", d),
            },
            "endEvent" => match def.map(|d| d.tag_name().name()) {
                None => Some(ElementKind::EndEvent { end: EndKind::None }),
                Some("terminateEventDefinition") => Some(ElementKind::EndEvent { end: EndKind::Terminate }),
                Some("errorEventDefinition") => {
                    let code = self.error_code(def.expect("some"));
                    match code {
                        Some(code) => Some(ElementKind::EndEvent { end: EndKind::Error { code } }),
                        None => {
                            self.problem(
                                line,
                                id,
                                "Fehler-Endereignis ohne errorRef auf einen bpmn:error mit errorCode".into(),
                            );
                            None
                        }
                    }
                }
                Some("messageEventDefinition") => {
                    self.job(node, id, line).map(|job| ElementKind::EndEvent { end: EndKind::Message(job) })
                }
                Some(d) => unsupported_def(self, "Endereignis", d),
            },
            "intermediateThrowEvent" => match def.map(|d| d.tag_name().name()) {
                None => Some(ElementKind::IntermediateThrow { job: None }),
                Some("messageEventDefinition") => {
                    self.job(node, id, line).map(|job| ElementKind::IntermediateThrow { job: Some(job) })
                }
                Some(d) => unsupported_def(self, "Zwischenereignis", d),
            },
            "intermediateCatchEvent" => {
                let trigger = self.trigger(def, id, line, "Zwischenereignis")?;
                if matches!(trigger, Trigger::Error { .. }) {
                    self.problem(line, id, "Fehler werden nur von Randereignissen gefangen".into());
                    return None;
                }
                if matches!(&trigger, Trigger::Timer(t) if t.kind == TimerKind::Cycle) {
                    self.problem(
                        line,
                        id,
                        "ein Zwischenereignis wartet einmal (timeDate oder timeDuration, nicht timeCycle)".into(),
                    );
                    return None;
                }
                Some(ElementKind::IntermediateCatch { trigger })
            }
            "boundaryEvent" => {
                let trigger = self.trigger(def, id, line, "Randereignis")?;
                let interrupting = node.attribute("cancelActivity") != Some("false");
                if matches!(trigger, Trigger::Error { .. }) && !interrupting {
                    self.problem(
                        line,
                        id,
                        "ein Fehler-Randereignis unterbricht immer (cancelActivity=\"false\" ist nicht erlaubt)".into(),
                    );
                }
                let attached_to = node.attribute("attachedToRef").unwrap_or("").trim().to_string();
                Some(ElementKind::Boundary { attached_to, interrupting, trigger })
            }
            "exclusiveGateway" => Some(ElementKind::ExclusiveGateway),
            "parallelGateway" => Some(ElementKind::ParallelGateway),
            "inclusiveGateway" => Some(ElementKind::InclusiveGateway),
            "eventBasedGateway" => {
                if node.attribute("instantiate") == Some("true") {
                    self.problem(
                        line,
                        id,
                        "ein ereignisbasiertes Gateway zum Starten (instantiate) wird nicht unterstützt".into(),
                    );
                    return None;
                }
                Some(ElementKind::EventBasedGateway)
            }
            "task" | "manualTask" => Some(ElementKind::Task),
            "serviceTask" | "sendTask" => self.job(node, id, line).map(|job| ElementKind::ServiceTask { job }),
            "receiveTask" => match node.attribute("messageRef").and_then(|r| self.defs.messages.get(r)) {
                Some(name) => Some(ElementKind::ReceiveTask { message: name.clone() }),
                None => {
                    self.problem(line, id, "Empfangsaufgabe ohne messageRef auf eine bpmn:message mit Namen".into());
                    None
                }
            },
            "scriptTask" => {
                let script = zeebe(node, "script");
                let expression = script.and_then(|s| s.attribute("expression")).map(str::to_string);
                let result = script.and_then(|s| s.attribute("resultVariable")).unwrap_or("").trim().to_string();
                match (expression, result.is_empty()) {
                    (Some(src), false) => {
                        let expression = self.expr(line, id, "Skript", &src)?;
                        Some(ElementKind::ScriptTask { expression, result_variable: result })
                    }
                    _ => {
                        self.problem(line, id, "Skriptaufgabe braucht zeebe:script mit expression (FEEL) und resultVariable; andere Skriptsprachen werden nicht ausgeführt".into());
                        None
                    }
                }
            }
            "businessRuleTask" => {
                let called = zeebe(node, "calledDecision");
                let decision = called.and_then(|c| c.attribute("decisionId")).unwrap_or("").trim();
                let result = called.and_then(|c| c.attribute("resultVariable")).unwrap_or("").trim();
                if decision.is_empty() || result.is_empty() {
                    self.problem(
                        line,
                        id,
                        "Geschäftsregelaufgabe braucht zeebe:calledDecision mit decisionId und resultVariable".into(),
                    );
                    None
                } else {
                    Some(ElementKind::BusinessRuleTask { decision_id: decision.into(), result_variable: result.into() })
                }
            }
            "userTask" => self.user_task(node, id, line).map(ElementKind::UserTask),
            "subProcess" => {
                if node.attribute("triggeredByEvent") == Some("true") {
                    self.problem(line, id, "Ereignis-Unterprozesse (triggeredByEvent) werden nicht unterstützt; bitte Randereignisse verwenden".into());
                    return None;
                }
                let start = node
                    .children()
                    .find(|c| is_bpmn(c, "startEvent"))
                    .and_then(|s| s.attribute("id"))
                    .unwrap_or("")
                    .to_string();
                Some(ElementKind::SubProcess { start })
            }
            "callActivity" => {
                let called = zeebe(node, "calledElement");
                match called.and_then(|c| c.attribute("processId")).map(str::trim).filter(|s| !s.is_empty()) {
                    Some(pid) if pid.starts_with('=') => {
                        self.problem(line, id, "der aufgerufene Prozess muss fest angegeben sein (kein Ausdruck), damit er beim Prüfen der Bibliothek gefunden wird".into());
                        None
                    }
                    Some(pid) => Some(ElementKind::CallActivity {
                        process_id: pid.to_string(),
                        propagate_all: called.and_then(|c| c.attribute("propagateAllChildVariables")) != Some("false"),
                    }),
                    None => {
                        self.problem(line, id, "Aufrufaktivität ohne zeebe:calledElement processId=\"…\"".into());
                        None
                    }
                }
            }
            other if KNOWN_UNSUPPORTED.contains(&other) => {
                self.problem(line, id, format!("bpmn:{other} wird von der Prozess-Engine nicht ausgeführt"));
                None
            }
            other => {
                self.problem(line, id, format!("unbekanntes oder nicht unterstütztes BPMN-Element bpmn:{other}"));
                None
            }
        }
    }

    fn trigger(&mut self, def: Option<roxmltree::Node>, id: &str, line: usize, what: &str) -> Option<Trigger> {
        let Some(def) = def else {
            self.problem(line, id, format!("{what} ohne Ereignisdefinition (Zeitgeber, Nachricht oder Fehler)"));
            return None;
        };
        match def.tag_name().name() {
            "timerEventDefinition" => self.timer(def, id, line).map(Trigger::Timer),
            "messageEventDefinition" => match def.attribute("messageRef").and_then(|r| self.defs.messages.get(r)) {
                Some(name) => Some(Trigger::Message { name: name.clone() }),
                None => {
                    self.problem(
                        line,
                        id,
                        "Nachrichtenereignis ohne messageRef auf eine bpmn:message mit Namen".into(),
                    );
                    None
                }
            },
            "errorEventDefinition" => Some(Trigger::Error { code: self.error_code(def) }),
            d => {
                self.problem(line, id, format!("{what} mit {d} wird nicht unterstützt"));
                None
            }
        }
    }

    fn error_code(&self, def: roxmltree::Node) -> Option<String> {
        def.attribute("errorRef").and_then(|r| self.defs.errors.get(r)).cloned()
    }

    fn timer(&mut self, def: roxmltree::Node, id: &str, line: usize) -> Option<TimerDef> {
        let counting = match def.attribute((RATHAUS_NS, "counting")) {
            None => Counting::Kalendertage,
            Some(c) => match Counting::parse(c) {
                Some(c) => c,
                None => {
                    self.problem(
                        line,
                        id,
                        format!("rathaus:counting=\"{c}\": erlaubt sind kalendertage, frist, arbeitstage, werktage"),
                    );
                    return None;
                }
            },
        };
        let found = ["timeDate", "timeDuration", "timeCycle"].into_iter().find_map(|k| {
            def.children().find(|c| is_bpmn(c, k)).map(|c| (k, c.text().unwrap_or("").trim().to_string()))
        });
        let Some((k, text)) = found else {
            self.problem(line, id, "Zeitgeber ohne timeDate, timeDuration oder timeCycle".into());
            return None;
        };
        let kind = match k {
            "timeDate" => TimerKind::Date,
            "timeDuration" => TimerKind::Duration,
            _ => TimerKind::Cycle,
        };
        let value = self.time_value(&text, kind, id, line, k)?;
        Some(TimerDef { kind, value, counting })
    }

    fn time_value(&mut self, text: &str, kind: TimerKind, id: &str, line: usize, what: &str) -> Option<TimeValue> {
        if text.starts_with('=') {
            return self.expr(line, id, what, text).map(TimeValue::Feel);
        }
        let ok = match kind {
            TimerKind::Date => parse_instant(text).is_some() || IsoDuration::parse(text).is_ok(),
            TimerKind::Duration => IsoDuration::parse(text).is_ok(),
            TimerKind::Cycle => parse_cycle(text).is_ok(),
        };
        if !ok {
            let hint = match kind {
                TimerKind::Date => "ein Zeitpunkt nach ISO 8601, z. B. 2026-12-01T09:00:00+01:00",
                TimerKind::Duration => "eine Dauer nach ISO 8601, z. B. P10D oder PT4H",
                TimerKind::Cycle => "eine Wiederholung nach ISO 8601, z. B. R3/P1D",
            };
            self.problem(line, id, format!("{what} „{text}“ ist nicht {hint} (oder ein FEEL-Ausdruck mit =)"));
            return None;
        }
        Some(TimeValue::Literal(text.to_string()))
    }

    fn job(&mut self, node: roxmltree::Node, id: &str, line: usize) -> Option<JobDef> {
        let def = zeebe(node, "taskDefinition");
        match def.and_then(|d| d.attribute("type")).map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => {
                let retries = match def.and_then(|d| d.attribute("retries")) {
                    None => 3,
                    Some(r) => r.trim().parse().unwrap_or_else(|_| {
                        self.problem(line, id, format!("retries=\"{r}\" ist keine Zahl"));
                        3
                    }),
                };
                Some(JobDef { task_type: t.to_string(), headers: headers(node), retries })
            }
            None => {
                self.problem(
                    line,
                    id,
                    "Service-/Sendeaufgabe oder Nachrichtenereignis ohne zeebe:taskDefinition type=\"…\" (welcher Konnektor oder externe Dienst soll es ausführen?)"
                        .into(),
                );
                None
            }
        }
    }

    fn user_task(&mut self, node: roxmltree::Node, id: &str, line: usize) -> Option<UserTaskDef> {
        let assignment = zeebe(node, "assignmentDefinition");
        let list = |attr: &str| {
            assignment
                .and_then(|a| a.attribute(attr))
                .map(|g| g.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let groups_attr = assignment.and_then(|a| a.attribute("candidateGroups")).map(str::trim).unwrap_or("");
        let (candidate_groups, candidate_groups_expr) = if groups_attr.starts_with('=') {
            (Vec::new(), Some(self.expr(line, id, "candidateGroups", groups_attr)?))
        } else {
            (list("candidateGroups"), None)
        };
        let candidate_users = list("candidateUsers");
        let assignee = match assignment.and_then(|a| a.attribute("assignee")).map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(a) if a.starts_with('=') => Some(TimeOrText::Feel(self.expr(line, id, "assignee", a)?)),
            Some(a) => Some(TimeOrText::Literal(a.to_string())),
        };
        if candidate_groups.is_empty()
            && candidate_groups_expr.is_none()
            && candidate_users.is_empty()
            && assignee.is_none()
        {
            self.problem(
                line,
                id,
                "Benutzeraufgabe ohne zeebe:assignmentDefinition candidateGroups (wer soll sie bearbeiten?)".into(),
            );
        }
        let form_key = zeebe(node, "formDefinition").and_then(|f| f.attribute("formKey")).map(String::from);
        let schedule = zeebe(node, "taskSchedule");
        let counting = match schedule.and_then(|s| s.attribute((RATHAUS_NS, "counting"))) {
            None => Counting::Kalendertage,
            Some(c) => Counting::parse(c).unwrap_or_else(|| {
                self.problem(
                    line,
                    id,
                    format!("rathaus:counting=\"{c}\": erlaubt sind kalendertage, frist, arbeitstage, werktage"),
                );
                Counting::Kalendertage
            }),
        };
        let mut due_def = |attr: &str| -> Option<DueDef> {
            let text = schedule.and_then(|s| s.attribute(attr)).map(str::trim).filter(|s| !s.is_empty())?;
            let value = self.time_value(text, TimerKind::Date, id, line, attr)?;
            Some(DueDef { value, counting })
        };
        let due = due_def("dueDate");
        let follow_up = due_def("followUpDate");
        Some(UserTaskDef {
            candidate_groups,
            candidate_groups_expr,
            candidate_users,
            assignee,
            form_key,
            due,
            follow_up,
        })
    }

    fn multi_instance(&mut self, node: roxmltree::Node, id: &str, line: usize) -> Option<MultiInstance> {
        if node.children().any(|c| is_bpmn(&c, "standardLoopCharacteristics")) {
            self.problem(line, id, "bpmn:standardLoopCharacteristics (Schleife) wird nicht unterstützt; bitte Mehrfachausführung über eine Liste (multiInstanceLoopCharacteristics) verwenden".into());
            return None;
        }
        let mi = node.children().find(|c| is_bpmn(c, "multiInstanceLoopCharacteristics"))?;
        let sequential = mi.attribute("isSequential") == Some("true");
        let lc = extension_elements(mi)
            .find(|c| c.tag_name().namespace() == Some(ZEEBE_NS) && c.tag_name().name() == "loopCharacteristics");
        let attr = |name: &str| lc.and_then(|l| l.attribute(name)).map(str::trim).filter(|s| !s.is_empty());
        let Some(input) = attr("inputCollection").map(str::to_string) else {
            self.problem(line, id, "bpmn:multiInstanceLoopCharacteristics (Mehrfachausführung) braucht zeebe:loopCharacteristics inputCollection=\"=…\" (über welche Liste?)".into());
            return None;
        };
        let input_collection = self.expr(line, id, "inputCollection", &input)?;
        let output_element = match attr("outputElement").map(str::to_string) {
            Some(src) => Some(self.expr(line, id, "outputElement", &src)?),
            None => None,
        };
        let completion_condition = match mi
            .children()
            .find(|c| is_bpmn(c, "completionCondition"))
            .and_then(|c| c.text())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
        {
            Some(src) => Some(self.expr(line, id, "completionCondition", &src)?),
            None => None,
        };
        let output_collection = attr("outputCollection").map(String::from);
        if output_collection.is_some() != output_element.is_some() {
            self.problem(line, id, "outputCollection und outputElement werden nur zusammen angegeben".into());
        }
        Some(MultiInstance {
            sequential,
            input_collection,
            input_element: attr("inputElement").map(String::from),
            output_collection,
            output_element,
            completion_condition,
        })
    }

    fn io_mappings(&mut self, node: roxmltree::Node, id: &str, line: usize) -> (Vec<Mapping>, Vec<Mapping>) {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        if let Some(io) = zeebe(node, "ioMapping") {
            for m in io.children().filter(|c| c.is_element()) {
                let source = m.attribute("source").unwrap_or("");
                let target = m.attribute("target").unwrap_or("").trim().to_string();
                if target.is_empty() {
                    self.problem(line, id, "Zuordnung (ioMapping) ohne target".into());
                    continue;
                }
                // As in Zeebe, a source without a leading `=` is a literal text, not an expression.
                let source = if source.trim_start().starts_with('=') {
                    source.to_string()
                } else {
                    format!("\"{}\"", source.replace('\\', "\\\\").replace('"', "\\\""))
                };
                if let Some(source) = self.expr(line, id, &format!("Zuordnung nach „{target}“"), &source) {
                    match m.tag_name().name() {
                        "input" => inputs.push(Mapping { source, target }),
                        "output" => outputs.push(Mapping { source, target }),
                        _ => {}
                    }
                }
            }
        }
        (inputs, outputs)
    }
}

/// `R/P1D` (unbounded), `R3/PT4H`: repetitions and interval.
pub fn parse_cycle(text: &str) -> Result<(Option<u32>, IsoDuration), String> {
    let bad = || format!("„{text}“ ist keine Wiederholung nach ISO 8601 (z. B. R3/P1D)");
    let (r, d) = text.trim().split_once('/').ok_or_else(bad)?;
    let r = r.strip_prefix('R').ok_or_else(bad)?;
    let reps = if r.is_empty() { None } else { Some(r.parse::<u32>().map_err(|_| bad())?) };
    let interval = IsoDuration::parse(d).map_err(|_| bad())?;
    if interval.is_zero() {
        return Err(bad());
    }
    Ok((reps, interval))
}

fn is_bpmn(n: &roxmltree::Node, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(BPMN_NS)
}

fn event_definition<'a>(node: roxmltree::Node<'a, 'a>) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(BPMN_NS) && c.tag_name().name().ends_with("EventDefinition")
    })
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
