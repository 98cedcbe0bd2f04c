//! The BPMN executor: a pure state machine. An [`Instance`] holds tokens, scopes (embedded
//! sub-processes, called processes, multi-instance bodies), subscriptions (timers and
//! messages it waits for) and variables. The executor moves tokens through the process until
//! each one waits or ends, and returns the [`Effect`]s the runtime has to persist in the same
//! transaction. It performs no IO: time, decisions, called processes and the working
//! calendar come from the [`Environment`].

use crate::bpmn::{
    parse_cycle, Element, ElementKind, EndKind, Mapping, Process, TimeOrText, TimeValue, TimerDef, TimerKind, Trigger,
    LOOP_COUNTER,
};
use chrono::{DateTime, Utc};
use rathaus_domain::calendar::{parse_instant, Counting, IsoDuration, WorkCalendar};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// Upper bound of steps in one advance: a cycle of gateways without a wait state would
/// otherwise spin forever; it becomes an incident instead.
const MAX_STEPS: usize = 10_000;

/// The root scope: the process itself.
const ROOT: u64 = 0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub tokens: Vec<Token>,
    /// Variables of the process level.
    pub variables: Map<String, Json>,
    /// The next id for tokens, scopes and subscriptions (one sequence, so ids never clash).
    pub next_token: u64,
    pub status: InstanceStatus,
    /// The elements passed, in order: the process history shown in the case file.
    #[serde(default)]
    pub trail: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: u64,
    pub element: String,
    pub waiting: bool,
    /// The scope the token runs in (0: the process level).
    #[serde(default, skip_serializing_if = "is_root")]
    pub scope: u64,
    /// The sequence flow the token arrived by (for the join of a parallel gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Set on the one token that leaves an inclusive join after it fired.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
}

fn is_root(s: &u64) -> bool {
    *s == ROOT
}

/// A running sub-process, called process or multi-instance activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub id: u64,
    pub parent: u64,
    /// The activity that opened the scope.
    pub element: String,
    /// The token that waits at `element` in the parent scope until the scope completes.
    pub token: u64,
    pub kind: ScopeKind,
    /// Local variables.
    pub variables: Map<String, Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScopeKind {
    SubProcess,
    /// A called process: variables are isolated from the caller's.
    Call {
        process: String,
    },
    /// The body of a multi-instance activity: one item scope per element of the collection.
    MultiBody {
        items: Vec<Json>,
        started: usize,
        completed: usize,
        outputs: Vec<Json>,
    },
    MultiItem {
        index: usize,
    },
}

/// Something a token waits for besides a job or a task: a timer or a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: u64,
    pub token: u64,
    /// The catch event, receive task, boundary event or timer start event that defines it.
    pub element: String,
    pub trigger: SubscriptionTrigger,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SubscriptionTrigger {
    Timer { due: DateTime<Utc>, repeat: Option<Repeat> },
    Message { name: String },
}

/// The rest of a timer cycle (`R3/P1D`): how many more times, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    pub remaining: Option<u32>,
    pub interval: IsoDuration,
    pub counting: Counting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstanceStatus {
    Running,
    Completed,
    /// Something the model did not foresee (no gateway condition true, a decision failed,
    /// an error nobody catches). The instance stops where it is until an administrator
    /// resolves it.
    Incident {
        element: String,
        message: String,
    },
    /// Ended from outside before it finished (the application was withdrawn).
    Terminated {
        reason: String,
    },
}

/// What the runtime must do after an advance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Effect {
    /// Run the connector or external worker `job_type` for the token (outbox: at least once,
    /// idempotent by key).
    Job { token: u64, element: String, job_type: String, headers: BTreeMap<String, String>, input: Json, retries: u32 },
    /// Create a task for a person.
    UserTask {
        token: u64,
        element: String,
        name: String,
        candidate_groups: Vec<String>,
        candidate_users: Vec<String>,
        assignee: Option<String>,
        form_key: Option<String>,
        input: Json,
        due: Option<DateTime<Utc>>,
        follow_up: Option<DateTime<Utc>>,
    },
    /// Fire [`Instance::fire_timer`] for `subscription` at `due`.
    Timer { subscription: u64, element: String, due: DateTime<Utc> },
    /// The instance now waits for the message `name` (a message that arrived before may be
    /// correlated right away).
    MessageWait { subscription: u64, element: String, name: String },
    /// Jobs, tasks and timers of these tokens and subscriptions are void (an activity was
    /// interrupted, a gateway's other events lost the race).
    Cancelled { ids: Vec<u64> },
    /// A decision was taken (recorded in the case file).
    Decided { element: String, decision_id: String, result: Json },
    /// The instance reached its end.
    Completed,
    /// The instance stopped with an incident.
    Incident { element: String, message: String },
}

/// What an instance needs from the world: time, decisions, called processes, the calendar.
pub trait Environment {
    fn now(&self) -> DateTime<Utc>;
    fn decide(&self, decision_id: &str, input: &Json) -> Result<Json, String>;
    fn called_process(&self, process_id: &str) -> Option<&Process>;
    fn calendar(&self) -> &WorkCalendar;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("Token {0} gibt es in dieser Prozessinstanz nicht (mehr)")]
    UnknownToken(u64),
    #[error("Token {0} wartet nicht auf Abschluss")]
    NotWaiting(u64),
    #[error("Abonnement {0} gibt es in dieser Prozessinstanz nicht (mehr)")]
    UnknownSubscription(u64),
    #[error("der Zeitgeber ist erst am {0} fällig")]
    NotDue(DateTime<Utc>),
    #[error("die Prozessinstanz läuft nicht mehr")]
    NotRunning,
}

type Failure = (String, String);

impl Instance {
    /// A new instance with one token on the start event; call [`Instance::advance`] next.
    pub fn start(process: &Process, variables: Map<String, Json>) -> Instance {
        Instance {
            tokens: vec![Token {
                id: 1,
                element: process.start_event().id.clone(),
                waiting: false,
                scope: ROOT,
                via: None,
                joined: false,
            }],
            variables,
            next_token: 2,
            status: InstanceStatus::Running,
            trail: Vec::new(),
            scopes: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == InstanceStatus::Running
    }

    /// Ends the instance from outside (the application was withdrawn): every token, scope
    /// and wait is cancelled, so no task, job or timer of it stays; nothing runs any more.
    /// An instance that has ended already stays as it is.
    pub fn terminate(&mut self, reason: &str) -> Vec<Effect> {
        if matches!(self.status, InstanceStatus::Completed | InstanceStatus::Terminated { .. }) {
            return Vec::new();
        }
        let mut ids = Vec::new();
        let tokens: Vec<u64> = self.tokens.iter().map(|t| t.id).collect();
        for token in tokens {
            self.cancel_token(token, &mut ids);
        }
        ids.extend(self.subscriptions.drain(..).map(|s| s.id));
        self.scopes.clear();
        self.status = InstanceStatus::Terminated { reason: reason.to_string() };
        if ids.is_empty() {
            Vec::new()
        } else {
            vec![Effect::Cancelled { ids }]
        }
    }

    /// The process-level variables.
    pub fn variables_json(&self) -> Json {
        Json::Object(self.variables.clone())
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_token;
        self.next_token += 1;
        id
    }

    /// Moves all tokens that are not waiting as far as they go.
    pub fn advance(&mut self, process: &Process, env: &dyn Environment) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut steps = 0;
        while self.is_running() {
            let pos = match self.tokens.iter().position(|t| !t.waiting) {
                Some(pos) => pos,
                None => match self.fire_inclusive_join(process, env) {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err((element, message)) => {
                        self.incident(&mut effects, element, message);
                        break;
                    }
                },
            };
            steps += 1;
            if steps > MAX_STEPS {
                let element = self.tokens[pos].element.clone();
                self.incident(
                    &mut effects,
                    element,
                    format!("mehr als {MAX_STEPS} Schritte ohne Wartezustand (Endlosschleife im Modell?)"),
                );
                break;
            }
            let result = self
                .step(process, env, pos, &mut effects)
                .and_then(|()| self.settle_scopes(process, env, &mut effects));
            if let Err((element, message)) = result {
                self.incident(&mut effects, element, message);
            }
        }
        if self.is_running() && self.tokens.is_empty() {
            self.status = InstanceStatus::Completed;
            effects.push(Effect::Completed);
        }
        effects
    }

    fn incident(&mut self, effects: &mut Vec<Effect>, element: String, message: String) {
        self.status = InstanceStatus::Incident { element: element.clone(), message: message.clone() };
        effects.push(Effect::Incident { element, message });
    }

    // ----- scopes and variables -----

    fn scope(&self, id: u64) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.id == id)
    }

    /// The process a scope runs: the main process, or the one a call activity called.
    fn process_of<'a>(&self, scope: u64, main: &'a Process, env: &'a dyn Environment) -> Result<&'a Process, String> {
        let mut s = scope;
        while s != ROOT {
            let sc = self.scope(s).ok_or_else(|| format!("Bereich {s} fehlt im Instanzzustand"))?;
            if let ScopeKind::Call { process } = &sc.kind {
                return env
                    .called_process(process)
                    .ok_or_else(|| format!("aufgerufener Prozess „{process}“ ist nicht (mehr) bereitgestellt"));
            }
            s = sc.parent;
        }
        Ok(main)
    }

    /// The variables visible in a scope: its locals over those of the enclosing scopes, up to
    /// the process level or the start of a called process.
    pub fn visible(&self, scope: u64) -> Map<String, Json> {
        let mut chain = Vec::new();
        let mut s = scope;
        let mut isolated = false;
        while s != ROOT {
            let Some(sc) = self.scope(s) else { break };
            chain.push(sc);
            if matches!(sc.kind, ScopeKind::Call { .. }) {
                isolated = true;
                break;
            }
            s = sc.parent;
        }
        let mut out = if isolated { Map::new() } else { self.variables.clone() };
        for sc in chain.iter().rev() {
            out.extend(sc.variables.clone());
        }
        out
    }

    /// Sets a variable where it lives: the nearest scope that has it as a local, otherwise
    /// the process level (or the called process's level).
    fn set_var(&mut self, scope: u64, name: &str, value: Json) {
        let mut s = scope;
        while s != ROOT {
            let Some(i) = self.scopes.iter().position(|x| x.id == s) else { break };
            let sc = &mut self.scopes[i];
            if sc.variables.contains_key(name) || matches!(sc.kind, ScopeKind::Call { .. }) {
                sc.variables.insert(name.to_string(), value);
                return;
            }
            s = sc.parent;
        }
        self.variables.insert(name.to_string(), value);
    }

    fn set_local(&mut self, scope: u64, name: &str, value: Json) {
        match self.scopes.iter_mut().find(|x| x.id == scope) {
            Some(sc) => {
                sc.variables.insert(name.to_string(), value);
            }
            None => {
                self.variables.insert(name.to_string(), value);
            }
        }
    }

    /// Is this token the inner instance of the multi-instance activity `element`?
    fn is_inner_instance(&self, token: &Token, element: &str) -> bool {
        self.scope(token.scope).is_some_and(|s| s.element == element && matches!(s.kind, ScopeKind::MultiItem { .. }))
    }

    /// Writes the result of an activity: through its output mappings if it has any,
    /// otherwise the result as it is. Inside a multi-instance item the values stay local, so
    /// that `outputElement` can collect them.
    fn write_result(&mut self, token: &Token, element: &Element, result: &Map<String, Json>) -> Result<(), String> {
        let local = self.is_inner_instance(token, &element.id);
        let values: Vec<(String, Json)> = if element.outputs.is_empty() {
            result.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            let mut scope = self.visible(token.scope);
            scope.extend(result.clone());
            let scope = Json::Object(scope);
            let mut out = Vec::new();
            for m in &element.outputs {
                out.push((m.target.clone(), m.source.evaluate_json(&scope).map_err(|e| e.to_string())?));
            }
            out
        };
        for (k, v) in values {
            if local {
                self.set_local(token.scope, &k, v);
            } else {
                self.set_var(token.scope, &k, v);
            }
        }
        Ok(())
    }

    /// Input for a task: the mapped values if the task has input mappings, otherwise all
    /// visible variables (as Zeebe does).
    fn inputs(&self, scope: u64, mappings: &[Mapping]) -> Result<Json, String> {
        let vars = Json::Object(self.visible(scope));
        if mappings.is_empty() {
            return Ok(vars);
        }
        let mut out = Map::new();
        for m in mappings {
            let v = m.source.evaluate_json(&vars).map_err(|e| e.to_string())?;
            out.insert(m.target.clone(), v);
        }
        Ok(Json::Object(out))
    }

    fn new_token(&mut self, element: &str, scope: u64, via: Option<String>) -> u64 {
        let id = self.next_id();
        self.tokens.push(Token { id, element: element.to_string(), waiting: false, scope, via, joined: false });
        id
    }

    fn pos(&self, token: u64) -> Option<usize> {
        self.tokens.iter().position(|t| t.id == token)
    }

    // ----- stepping -----

    /// Executes the element the token at `pos` stands on.
    fn step(
        &mut self,
        main: &Process,
        env: &dyn Environment,
        pos: usize,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Failure> {
        let token = self.tokens[pos].clone();
        let process = self.process_of(token.scope, main, env).map_err(|m| (token.element.clone(), m))?;
        let element = process
            .element(&token.element)
            .ok_or_else(|| (token.element.clone(), "Element gibt es im Prozessmodell nicht (mehr)".to_string()))?;
        let fail = |m: String| (element.id.clone(), m);
        if !token.joined {
            self.trail.push(element.id.clone());
        }

        // A multi-instance activity entered from outside opens its body first.
        if let Some(mi) = &element.multi {
            if !self.is_inner_instance(&token, &element.id) {
                let vars = Json::Object(self.visible(token.scope));
                let items = match mi.input_collection.evaluate_json(&vars).map_err(|e| fail(e.to_string()))? {
                    Json::Array(items) => items,
                    other => return Err(fail(format!("inputCollection ist keine Liste, sondern {other}"))),
                };
                self.tokens[pos].waiting = true;
                let body = self.next_id();
                let n = items.len();
                self.scopes.push(Scope {
                    id: body,
                    parent: token.scope,
                    element: element.id.clone(),
                    token: token.id,
                    kind: ScopeKind::MultiBody { items, started: 0, completed: 0, outputs: vec![Json::Null; n] },
                    variables: Map::new(),
                });
                self.open_boundaries(token.id, element, process, env, effects).map_err(fail)?;
                if n == 0 {
                    return self.complete_body(body, main, env, effects);
                }
                let first = if mi.sequential { 1 } else { n };
                for _ in 0..first {
                    self.start_item(body, element).map_err(fail)?;
                }
                return Ok(());
            }
        }

        match &element.kind {
            ElementKind::StartEvent { timer: Some(timer) } => {
                self.tokens[pos].waiting = true;
                self.subscribe_timer(token.id, &element.id, timer, token.scope, env, effects).map_err(fail)?;
            }
            ElementKind::StartEvent { timer: None }
            | ElementKind::IntermediateThrow { job: None }
            | ElementKind::Task
            | ElementKind::Boundary { .. } => {
                self.write_result(&token, element, &Map::new()).map_err(fail)?;
                self.leave(pos, process, effects)?;
            }
            ElementKind::EndEvent { end: EndKind::None } => {
                self.write_result(&token, element, &Map::new()).map_err(fail)?;
                self.tokens.remove(pos);
            }
            ElementKind::EndEvent { end: EndKind::Terminate } => {
                let mut ids = Vec::new();
                let in_scope: Vec<u64> = self.tokens.iter().filter(|t| t.scope == token.scope).map(|t| t.id).collect();
                for t in in_scope {
                    self.cancel_token(t, &mut ids);
                }
                ids.retain(|i| *i != token.id);
                if !ids.is_empty() {
                    effects.push(Effect::Cancelled { ids });
                }
            }
            ElementKind::EndEvent { end: EndKind::Error { code } } => {
                self.tokens.remove(pos);
                self.throw_error(None, token.scope, code, main, env, effects).map_err(|m| (element.id.clone(), m))?;
            }
            ElementKind::ServiceTask { job }
            | ElementKind::IntermediateThrow { job: Some(job) }
            | ElementKind::EndEvent { end: EndKind::Message(job) } => {
                let input = self.inputs(token.scope, &element.inputs).map_err(fail)?;
                self.tokens[pos].waiting = true;
                effects.push(Effect::Job {
                    token: token.id,
                    element: element.id.clone(),
                    job_type: job.task_type.clone(),
                    headers: job.headers.clone(),
                    input,
                    retries: job.retries,
                });
                if !self.is_inner_instance(&token, &element.id) {
                    self.open_boundaries(token.id, element, process, env, effects).map_err(fail)?;
                }
            }
            ElementKind::UserTask(def) => {
                let input = self.inputs(token.scope, &element.inputs).map_err(fail)?;
                let vars = Json::Object(self.visible(token.scope));
                let now = env.now();
                let moment = |d: &Option<crate::bpmn::DueDef>| -> Result<Option<DateTime<Utc>>, String> {
                    match d {
                        None => Ok(None),
                        Some(d) => instant(&d.value, d.counting, &vars, now, env.calendar()).map(Some),
                    }
                };
                let due = moment(&def.due).map_err(|e| fail(format!("dueDate: {e}")))?;
                let follow_up = moment(&def.follow_up).map_err(|e| fail(format!("followUpDate: {e}")))?;
                let assignee = match &def.assignee {
                    None => None,
                    Some(TimeOrText::Literal(a)) => Some(a.clone()),
                    Some(TimeOrText::Feel(e)) => match e.evaluate_json(&vars) {
                        Ok(Json::String(s)) if !s.trim().is_empty() => Some(s),
                        Ok(Json::Null) | Ok(Json::String(_)) | Err(_) => None,
                        Ok(other) => return Err(fail(format!("assignee ergibt keinen Text, sondern {other}"))),
                    },
                };
                let candidate_groups = match &def.candidate_groups_expr {
                    None => def.candidate_groups.clone(),
                    Some(e) => match e.evaluate_json(&vars) {
                        Ok(Json::String(g)) => {
                            g.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
                        }
                        Ok(Json::Array(items)) if items.iter().all(Json::is_string) => items
                            .iter()
                            .filter_map(Json::as_str)
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                        Ok(other) => {
                            return Err(fail(format!(
                                "candidateGroups ergibt weder Text noch Liste von Texten, sondern {other}"
                            )))
                        }
                        Err(e) => return Err(fail(format!("candidateGroups: {e}"))),
                    },
                };
                if candidate_groups.is_empty() && def.candidate_users.is_empty() && assignee.is_none() {
                    return Err(fail(
                        "candidateGroups ergibt keine Gruppe: niemand könnte die Aufgabe bearbeiten".into(),
                    ));
                }
                self.tokens[pos].waiting = true;
                effects.push(Effect::UserTask {
                    token: token.id,
                    element: element.id.clone(),
                    name: element.name.clone(),
                    candidate_groups,
                    candidate_users: def.candidate_users.clone(),
                    assignee,
                    form_key: def.form_key.clone(),
                    input,
                    due,
                    follow_up,
                });
                if !self.is_inner_instance(&token, &element.id) {
                    self.open_boundaries(token.id, element, process, env, effects).map_err(fail)?;
                }
            }
            ElementKind::IntermediateCatch { trigger } => {
                self.tokens[pos].waiting = true;
                self.subscribe(token.id, &element.id, trigger, token.scope, env, effects).map_err(fail)?;
            }
            ElementKind::ReceiveTask { message } => {
                self.tokens[pos].waiting = true;
                let trigger = Trigger::Message { name: message.clone() };
                self.subscribe(token.id, &element.id, &trigger, token.scope, env, effects).map_err(fail)?;
                if !self.is_inner_instance(&token, &element.id) {
                    self.open_boundaries(token.id, element, process, env, effects).map_err(fail)?;
                }
            }
            ElementKind::ScriptTask { expression, result_variable } => {
                let vars = Json::Object(self.visible(token.scope));
                let value = expression.evaluate_json(&vars).map_err(|e| fail(e.to_string()))?;
                let mut out = Map::new();
                out.insert(result_variable.clone(), value);
                self.write_result(&token, element, &out).map_err(fail)?;
                self.leave(pos, process, effects)?;
            }
            ElementKind::BusinessRuleTask { decision_id, result_variable } => {
                let input = self.inputs(token.scope, &element.inputs).map_err(fail)?;
                let result =
                    env.decide(decision_id, &input).map_err(|e| fail(format!("Entscheidung „{decision_id}“: {e}")))?;
                effects.push(Effect::Decided {
                    element: element.id.clone(),
                    decision_id: decision_id.clone(),
                    result: result.clone(),
                });
                let mut out = Map::new();
                out.insert(result_variable.clone(), result);
                self.write_result(&token, element, &out).map_err(fail)?;
                self.leave(pos, process, effects)?;
            }
            ElementKind::SubProcess { start } => {
                let locals = match self.inputs(token.scope, &element.inputs).map_err(fail)? {
                    Json::Object(m) if !element.inputs.is_empty() => m,
                    _ => Map::new(),
                };
                self.enter_scope(pos, element, ScopeKind::SubProcess, locals, start, process, env, effects)
                    .map_err(fail)?;
            }
            ElementKind::CallActivity { process_id, .. } => {
                let called = env
                    .called_process(process_id)
                    .ok_or_else(|| fail(format!("aufgerufener Prozess „{process_id}“ ist nicht bereitgestellt")))?;
                let variables = match self.inputs(token.scope, &element.inputs).map_err(fail)? {
                    Json::Object(m) => m,
                    _ => Map::new(),
                };
                let start = called.start_event().id.clone();
                let kind = ScopeKind::Call { process: process_id.clone() };
                self.enter_scope(pos, element, kind, variables, &start, process, env, effects).map_err(fail)?;
            }
            ElementKind::ExclusiveGateway => {
                let vars = Json::Object(self.visible(token.scope));
                let mut chosen = None;
                for fid in &element.outgoing {
                    if element.default_flow.as_deref() == Some(fid.as_str()) {
                        continue;
                    }
                    let flow = process.flow(fid).expect("validated");
                    match &flow.condition {
                        None => {
                            chosen = Some(fid.clone());
                            break;
                        }
                        Some(cond) => {
                            if cond.evaluate_bool(&vars).map_err(|e| fail(e.to_string()))? {
                                chosen = Some(fid.clone());
                                break;
                            }
                        }
                    }
                }
                let chosen = chosen.or_else(|| element.default_flow.clone()).ok_or_else(|| {
                    fail("keine Bedingung des Gateways ist erfüllt und es gibt keinen Standardfluss".into())
                })?;
                self.move_along(pos, process, &chosen);
            }
            ElementKind::ParallelGateway => {
                if element.incoming.len() > 1 {
                    self.tokens[pos].waiting = true;
                    // Fires when a token has arrived on every incoming flow.
                    let mut arrived = Vec::new();
                    for f in &element.incoming {
                        match self.tokens.iter().find(|t| {
                            t.waiting
                                && t.scope == token.scope
                                && t.element == element.id
                                && t.via.as_deref() == Some(f.as_str())
                                && !arrived.contains(&t.id)
                        }) {
                            Some(t) => arrived.push(t.id),
                            None => return Ok(()),
                        }
                    }
                    self.tokens.retain(|t| !arrived.contains(&t.id));
                    let id = self.new_token(&element.id, token.scope, None);
                    let pos = self.pos(id).expect("just created");
                    self.split(pos, process, element.outgoing.clone());
                } else {
                    self.split(pos, process, element.outgoing.clone());
                }
            }
            ElementKind::InclusiveGateway => {
                if element.incoming.len() > 1 && !token.joined {
                    // Waits until no other token can still arrive (see fire_inclusive_join).
                    self.tokens[pos].waiting = true;
                } else {
                    self.tokens[pos].joined = false;
                    let flows = self.chosen_flows(element, process, token.scope, true).map_err(fail)?;
                    self.split(pos, process, flows);
                }
            }
            ElementKind::EventBasedGateway => {
                self.tokens[pos].waiting = true;
                for fid in &element.outgoing {
                    let target = process.element(&process.flow(fid).expect("validated").target).expect("validated");
                    let trigger = match &target.kind {
                        ElementKind::IntermediateCatch { trigger } => trigger.clone(),
                        ElementKind::ReceiveTask { message } => Trigger::Message { name: message.clone() },
                        _ => unreachable!("validated: only events after an event-based gateway"),
                    };
                    self.subscribe(token.id, &target.id, &trigger, token.scope, env, effects).map_err(fail)?;
                }
            }
        }
        Ok(())
    }

    /// The token at `pos` waits in `element` while a new scope (sub-process or called
    /// process) runs from `start`; boundary events of the activity start listening.
    #[allow(clippy::too_many_arguments)]
    fn enter_scope(
        &mut self,
        pos: usize,
        element: &Element,
        kind: ScopeKind,
        variables: Map<String, Json>,
        start: &str,
        process: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let token = self.tokens[pos].clone();
        self.tokens[pos].waiting = true;
        let id = self.next_id();
        self.scopes.push(Scope {
            id,
            parent: token.scope,
            element: element.id.clone(),
            token: token.id,
            kind,
            variables,
        });
        if !self.is_inner_instance(&token, &element.id) {
            self.open_boundaries(token.id, element, process, env, effects)?;
        }
        self.new_token(start, id, None);
        Ok(())
    }

    /// Moves the token along one flow.
    fn move_along(&mut self, pos: usize, process: &Process, flow_id: &str) {
        let flow = process.flow(flow_id).expect("validated");
        let token = &mut self.tokens[pos];
        token.element = flow.target.clone();
        token.waiting = false;
        token.via = Some(flow_id.to_string());
    }

    /// Sends the token down each of `flows` (a token per flow).
    fn split(&mut self, pos: usize, process: &Process, flows: Vec<String>) {
        let scope = self.tokens[pos].scope;
        for (i, f) in flows.iter().enumerate() {
            if i == 0 {
                continue;
            }
            let target = process.flow(f).expect("validated").target.clone();
            self.new_token(&target, scope, Some(f.clone()));
        }
        if let Some(first) = flows.first() {
            self.move_along(pos, process, first);
        }
    }

    /// The outgoing flows to take: every flow without condition, every flow whose condition
    /// holds; the default flow if none does.
    fn chosen_flows(
        &self,
        element: &Element,
        process: &Process,
        scope: u64,
        gateway: bool,
    ) -> Result<Vec<String>, String> {
        let vars = Json::Object(self.visible(scope));
        let mut out = Vec::new();
        for fid in &element.outgoing {
            if element.default_flow.as_deref() == Some(fid.as_str()) {
                continue;
            }
            let flow = process.flow(fid).expect("validated");
            let take = match &flow.condition {
                None => true,
                Some(c) => c.evaluate_bool(&vars).map_err(|e| e.to_string())?,
            };
            if take {
                out.push(fid.clone());
            }
        }
        if out.is_empty() {
            if let Some(d) = &element.default_flow {
                out.push(d.clone());
            }
        }
        if out.is_empty() && !element.outgoing.is_empty() {
            return Err(format!(
                "keine Bedingung {} ist erfüllt und es gibt keinen Standardfluss",
                if gateway { "des Gateways" } else { "der ausgehenden Flüsse" }
            ));
        }
        Ok(out)
    }

    /// The token has finished its element: it ends an inner instance of a multi-instance
    /// activity, or moves on along the outgoing flows.
    fn leave(&mut self, pos: usize, process: &Process, effects: &mut Vec<Effect>) -> Result<(), Failure> {
        let token = self.tokens[pos].clone();
        let element = process.element(&token.element).expect("token stands on an element");
        self.drop_subscriptions(token.id, effects);
        if self.is_inner_instance(&token, &element.id) {
            self.tokens.remove(pos);
            return Ok(());
        }
        if let ElementKind::EndEvent { .. } = element.kind {
            // A message end event whose job is done.
            self.tokens.remove(pos);
            return Ok(());
        }
        let flows = if element.outgoing.len() == 1
            && process.flow(&element.outgoing[0]).is_some_and(|f| f.condition.is_none())
        {
            element.outgoing.clone()
        } else {
            self.chosen_flows(element, process, token.scope, false).map_err(|m| (element.id.clone(), m))?
        };
        self.split(pos, process, flows);
        Ok(())
    }

    /// Removes the subscriptions of a token (its wait is over); timers become void.
    fn drop_subscriptions(&mut self, token: u64, effects: &mut Vec<Effect>) {
        let ids: Vec<u64> = self.subscriptions.iter().filter(|s| s.token == token).map(|s| s.id).collect();
        if !ids.is_empty() {
            self.subscriptions.retain(|s| s.token != token);
            effects.push(Effect::Cancelled { ids });
        }
    }

    /// Cancels a token and everything below it (its scopes, their tokens, subscriptions).
    fn cancel_token(&mut self, token: u64, ids: &mut Vec<u64>) {
        if let Some(pos) = self.pos(token) {
            self.tokens.remove(pos);
            ids.push(token);
        }
        let subs: Vec<u64> = self.subscriptions.iter().filter(|s| s.token == token).map(|s| s.id).collect();
        self.subscriptions.retain(|s| s.token != token);
        ids.extend(subs);
        let scopes: Vec<u64> = self.scopes.iter().filter(|s| s.token == token).map(|s| s.id).collect();
        for s in scopes {
            self.cancel_scope(s, ids);
        }
    }

    fn cancel_scope(&mut self, scope: u64, ids: &mut Vec<u64>) {
        let tokens: Vec<u64> = self.tokens.iter().filter(|t| t.scope == scope).map(|t| t.id).collect();
        for t in tokens {
            self.cancel_token(t, ids);
        }
        let children: Vec<u64> = self.scopes.iter().filter(|s| s.parent == scope).map(|s| s.id).collect();
        for c in children {
            self.cancel_scope(c, ids);
        }
        self.scopes.retain(|s| s.id != scope);
    }

    // ----- scopes completing -----

    /// Completes every scope that has nothing left to do, innermost first.
    fn settle_scopes(
        &mut self,
        main: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Failure> {
        loop {
            let done = self.scopes.iter().find(|s| {
                !matches!(s.kind, ScopeKind::MultiBody { .. })
                    && !self.tokens.iter().any(|t| t.scope == s.id)
                    && !self.scopes.iter().any(|c| c.parent == s.id)
            });
            let Some(done) = done.cloned() else { return Ok(()) };
            self.complete_scope(done, main, env, effects)?;
            if !self.is_running() {
                return Ok(());
            }
        }
    }

    fn complete_scope(
        &mut self,
        scope: Scope,
        main: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Failure> {
        let parent_process = self.process_of(scope.parent, main, env).map_err(|m| (scope.element.clone(), m))?;
        let element = parent_process
            .element(&scope.element)
            .ok_or_else(|| (scope.element.clone(), "Element fehlt im Prozessmodell".to_string()))?;
        let fail = |m: String| (element.id.clone(), m);
        let vars = self.visible(scope.id);
        self.scopes.retain(|s| s.id != scope.id);
        match &scope.kind {
            ScopeKind::MultiItem { index } => {
                let body_id = scope.parent;
                let mi = element.multi.as_ref().expect("multi-instance element");
                let output = match &mi.output_element {
                    Some(e) => e.evaluate_json(&Json::Object(vars)).unwrap_or(Json::Null),
                    None => Json::Null,
                };
                let Some(body) = self.scopes.iter_mut().find(|s| s.id == body_id) else { return Ok(()) };
                let ScopeKind::MultiBody { items, completed, outputs, started } = &mut body.kind else {
                    return Err(fail("Mehrfachausführung ohne Rumpf".into()));
                };
                outputs[*index] = output;
                *completed += 1;
                let (n, done, started) = (items.len(), *completed, *started);
                let finished = done == n || {
                    match &mi.completion_condition {
                        None => false,
                        Some(c) => {
                            let mut scope_vars = self.visible(body_id);
                            scope_vars.insert("numberOfInstances".into(), Json::from(n));
                            scope_vars.insert("numberOfCompletedInstances".into(), Json::from(done));
                            scope_vars.insert("numberOfActiveInstances".into(), Json::from(started - done));
                            c.evaluate_bool(&Json::Object(scope_vars)).map_err(|e| fail(e.to_string()))?
                        }
                    }
                };
                if finished {
                    self.complete_body(body_id, main, env, effects)?;
                } else if mi.sequential && started < n {
                    self.start_item(body_id, element).map_err(fail)?;
                }
                Ok(())
            }
            ScopeKind::SubProcess | ScopeKind::Call { .. } => {
                let Some(pos) = self.pos(scope.token) else { return Ok(()) };
                let token = self.tokens[pos].clone();
                let inner = self.is_inner_instance(&token, &element.id);
                if !element.outputs.is_empty() {
                    let vars = Json::Object(vars);
                    for m in &element.outputs {
                        let v = m.source.evaluate_json(&vars).map_err(|e| fail(e.to_string()))?;
                        if inner {
                            self.set_local(token.scope, &m.target, v);
                        } else {
                            self.set_var(token.scope, &m.target, v);
                        }
                    }
                } else if let (ScopeKind::Call { .. }, ElementKind::CallActivity { propagate_all: true, .. }) =
                    (&scope.kind, &element.kind)
                {
                    for (k, v) in scope.variables {
                        if inner {
                            self.set_local(token.scope, &k, v);
                        } else {
                            self.set_var(token.scope, &k, v);
                        }
                    }
                }
                self.tokens[pos].waiting = false;
                self.leave(pos, parent_process, effects)
            }
            ScopeKind::MultiBody { .. } => Ok(()),
        }
    }

    /// All inner instances of a multi-instance activity are done (or its completion
    /// condition holds): collect the outputs, cancel what still runs, move on.
    fn complete_body(
        &mut self,
        body_id: u64,
        main: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Failure> {
        let Some(body) = self.scope(body_id).cloned() else { return Ok(()) };
        let process = self.process_of(body.parent, main, env).map_err(|m| (body.element.clone(), m))?;
        let element = process.element(&body.element).expect("validated");
        let mut ids = Vec::new();
        self.cancel_scope(body_id, &mut ids);
        if !ids.is_empty() {
            effects.push(Effect::Cancelled { ids });
        }
        let Some(pos) = self.pos(body.token) else { return Ok(()) };
        if let (ScopeKind::MultiBody { outputs, .. }, Some(mi)) = (&body.kind, &element.multi) {
            if let Some(collection) = &mi.output_collection {
                let scope = self.tokens[pos].scope;
                self.set_var(scope, collection, Json::Array(outputs.clone()));
            }
        }
        self.tokens[pos].waiting = false;
        self.leave(pos, process, effects)
    }

    fn start_item(&mut self, body_id: u64, element: &Element) -> Result<(), String> {
        let mi = element.multi.as_ref().expect("multi-instance element");
        let body = self.scopes.iter_mut().find(|s| s.id == body_id).ok_or("Mehrfachausführung ohne Rumpf")?;
        let ScopeKind::MultiBody { items, started, .. } = &mut body.kind else {
            return Err("Mehrfachausführung ohne Rumpf".into());
        };
        let index = *started;
        *started += 1;
        let item = items[index].clone();
        let token = body.token;
        let mut locals = Map::new();
        if let Some(name) = &mi.input_element {
            locals.insert(name.clone(), item);
        }
        locals.insert(LOOP_COUNTER.into(), Json::from(index + 1));
        let id = self.next_id();
        self.scopes.push(Scope {
            id,
            parent: body_id,
            element: element.id.clone(),
            token,
            kind: ScopeKind::MultiItem { index },
            variables: locals,
        });
        self.new_token(&element.id, id, None);
        Ok(())
    }

    /// An inclusive gateway joins when no other token of its scope can still reach it.
    fn fire_inclusive_join(&mut self, main: &Process, env: &dyn Environment) -> Result<bool, Failure> {
        let waiting: Vec<Token> = self.tokens.iter().filter(|t| t.waiting && t.via.is_some()).cloned().collect();
        for t in waiting {
            let process = self.process_of(t.scope, main, env).map_err(|m| (t.element.clone(), m))?;
            let Some(element) = process.element(&t.element) else { continue };
            if !matches!(element.kind, ElementKind::InclusiveGateway) || element.incoming.len() < 2 {
                continue;
            }
            let blocked = self
                .tokens
                .iter()
                .any(|o| o.scope == t.scope && o.element != t.element && process.can_reach(&o.element, &t.element));
            if blocked {
                continue;
            }
            let arrived: Vec<u64> = self
                .tokens
                .iter()
                .filter(|o| o.scope == t.scope && o.element == t.element && o.waiting)
                .map(|o| o.id)
                .collect();
            self.tokens.retain(|o| !arrived.contains(&o.id));
            let id = self.new_token(&t.element, t.scope, None);
            let pos = self.pos(id).expect("just created");
            self.tokens[pos].joined = true;
            return Ok(true);
        }
        Ok(false)
    }

    // ----- timers, messages, errors -----

    /// Opens the timer and message subscriptions of the boundary events of an activity the
    /// token now waits in.
    fn open_boundaries(
        &mut self,
        token: u64,
        element: &Element,
        process: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let scope = self.tokens.iter().find(|t| t.id == token).map(|t| t.scope).unwrap_or(ROOT);
        for b in &element.boundaries {
            let boundary = process.element(b).expect("linked");
            if let ElementKind::Boundary { trigger, .. } = &boundary.kind {
                if !matches!(trigger, Trigger::Error { .. }) {
                    self.subscribe(token, b, trigger, scope, env, effects)?;
                }
            }
        }
        Ok(())
    }

    fn subscribe(
        &mut self,
        token: u64,
        element: &str,
        trigger: &Trigger,
        scope: u64,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        match trigger {
            Trigger::Timer(t) => self.subscribe_timer(token, element, t, scope, env, effects),
            Trigger::Message { name } => {
                let id = self.next_id();
                self.subscriptions.push(Subscription {
                    id,
                    token,
                    element: element.to_string(),
                    trigger: SubscriptionTrigger::Message { name: name.clone() },
                });
                effects.push(Effect::MessageWait {
                    subscription: id,
                    element: element.to_string(),
                    name: name.clone(),
                });
                Ok(())
            }
            Trigger::Error { .. } => Ok(()),
        }
    }

    fn subscribe_timer(
        &mut self,
        token: u64,
        element: &str,
        timer: &TimerDef,
        scope: u64,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let vars = Json::Object(self.visible(scope));
        let now = env.now();
        let (due, repeat) = match timer.kind {
            TimerKind::Date => (instant(&timer.value, timer.counting, &vars, now, env.calendar())?, None),
            TimerKind::Duration => {
                let d = IsoDuration::parse(&text_of(&timer.value, &vars)?).map_err(|e| e.to_string())?;
                (env.calendar().add(now, &d, timer.counting)?, None)
            }
            TimerKind::Cycle => {
                let (reps, interval) = parse_cycle(&text_of(&timer.value, &vars)?)?;
                if reps == Some(0) {
                    return Ok(());
                }
                let due = env.calendar().add(now, &interval, timer.counting)?;
                (due, Some(Repeat { remaining: reps.map(|r| r - 1), interval, counting: timer.counting }))
            }
        };
        let id = self.next_id();
        self.subscriptions.push(Subscription {
            id,
            token,
            element: element.to_string(),
            trigger: SubscriptionTrigger::Timer { due, repeat },
        });
        effects.push(Effect::Timer { subscription: id, element: element.to_string(), due });
        Ok(())
    }

    /// A timer is due: its event happens. Call [`Instance::advance`] afterwards.
    pub fn fire_timer(
        &mut self,
        process: &Process,
        subscription: u64,
        env: &dyn Environment,
    ) -> Result<Vec<Effect>, ExecError> {
        if !self.is_running() {
            return Err(ExecError::NotRunning);
        }
        let sub = self
            .subscriptions
            .iter()
            .find(|s| s.id == subscription)
            .cloned()
            .ok_or(ExecError::UnknownSubscription(subscription))?;
        let SubscriptionTrigger::Timer { due, .. } = &sub.trigger else {
            return Err(ExecError::UnknownSubscription(subscription));
        };
        if *due > env.now() {
            return Err(ExecError::NotDue(*due));
        }
        let mut effects = Vec::new();
        if let Err((element, message)) = self.trigger(process, sub, Map::new(), env, &mut effects) {
            self.incident(&mut effects, element, message);
        }
        Ok(effects)
    }

    /// Delivers the message `name` to the oldest subscription waiting for it. Returns the
    /// effects, or `None` if nothing in this instance waits for such a message.
    pub fn correlate(
        &mut self,
        process: &Process,
        name: &str,
        payload: Map<String, Json>,
        env: &dyn Environment,
    ) -> Result<Option<Vec<Effect>>, ExecError> {
        if !self.is_running() {
            return Err(ExecError::NotRunning);
        }
        let Some(sub) = self
            .subscriptions
            .iter()
            .filter(|s| matches!(&s.trigger, SubscriptionTrigger::Message { name: n } if n == name))
            .min_by_key(|s| s.id)
            .cloned()
        else {
            return Ok(None);
        };
        let mut effects = Vec::new();
        if let Err((element, message)) = self.trigger(process, sub, payload, env, &mut effects) {
            self.incident(&mut effects, element, message);
        }
        Ok(Some(effects))
    }

    /// Whether a message subscription is open (for the runtime's message buffer).
    pub fn subscription(&self, id: u64) -> Option<&Subscription> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    fn trigger(
        &mut self,
        main: &Process,
        sub: Subscription,
        payload: Map<String, Json>,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Failure> {
        let pos = self.pos(sub.token).ok_or_else(|| (sub.element.clone(), "wartendes Token fehlt".to_string()))?;
        let token = self.tokens[pos].clone();
        let process = self.process_of(token.scope, main, env).map_err(|m| (sub.element.clone(), m))?;
        let element = process
            .element(&sub.element)
            .ok_or_else(|| (sub.element.clone(), "Element fehlt im Prozessmodell".to_string()))?;
        let fail = |m: String| (element.id.clone(), m);
        match &element.kind {
            ElementKind::Boundary { interrupting, .. } => {
                let scope = token.scope;
                if *interrupting {
                    let mut ids = Vec::new();
                    self.cancel_token(token.id, &mut ids);
                    effects.push(Effect::Cancelled { ids });
                } else {
                    // The activity goes on; a timer cycle schedules its next round.
                    self.subscriptions
                        .retain(|s| s.id != sub.id || matches!(s.trigger, SubscriptionTrigger::Message { .. }));
                    if let SubscriptionTrigger::Timer { due, repeat: Some(r) } = &sub.trigger {
                        if r.remaining != Some(0) {
                            let mut next = *due;
                            let now = env.now();
                            while next <= now {
                                next = env.calendar().add(next, &r.interval, r.counting).map_err(fail)?;
                            }
                            let id = self.next_id();
                            let repeat = Repeat { remaining: r.remaining.map(|n| n - 1), ..r.clone() };
                            self.subscriptions.push(Subscription {
                                id,
                                token: token.id,
                                element: sub.element.clone(),
                                trigger: SubscriptionTrigger::Timer { due: next, repeat: Some(repeat) },
                            });
                            effects.push(Effect::Timer { subscription: id, element: sub.element.clone(), due: next });
                        }
                    }
                }
                for (k, v) in &payload {
                    self.set_var(scope, k, v.clone());
                }
                self.new_token(&element.id, scope, None);
            }
            _ => {
                // The token itself waited here (catch event, receive task, timer start) or
                // at an event-based gateway, whose other events are now void.
                let gateway = token.element != element.id;
                if gateway {
                    self.trail.push(element.id.clone());
                }
                self.tokens[pos].element = element.id.clone();
                self.tokens[pos].waiting = false;
                self.write_result(&self.tokens[pos].clone(), element, &payload).map_err(fail)?;
                self.leave(pos, process, effects)?;
            }
        }
        self.settle_scopes(main, env, effects)
    }

    /// A job ended with a BPMN error (an external worker's `bpmnError`): the nearest error
    /// boundary event catches it, or the instance gets an incident.
    pub fn throw_job_error(
        &mut self,
        process: &Process,
        token: u64,
        code: &str,
        env: &dyn Environment,
    ) -> Result<Vec<Effect>, ExecError> {
        if !self.is_running() {
            return Err(ExecError::NotRunning);
        }
        let pos = self.pos(token).ok_or(ExecError::UnknownToken(token))?;
        if !self.tokens[pos].waiting {
            return Err(ExecError::NotWaiting(token));
        }
        let scope = self.tokens[pos].scope;
        let element = self.tokens[pos].element.clone();
        let mut effects = Vec::new();
        let result = self
            .throw_error(Some(token), scope, code, process, env, &mut effects)
            .map_err(|m| (element.clone(), m))
            .and_then(|()| self.settle_scopes(process, env, &mut effects));
        if let Err((element, message)) = result {
            self.incident(&mut effects, element, message);
        }
        Ok(effects)
    }

    /// Finds the error boundary event that catches `code`, from the throwing activity
    /// outwards through the enclosing sub-processes and calls.
    fn throw_error(
        &mut self,
        from: Option<u64>,
        scope: u64,
        code: &str,
        main: &Process,
        env: &dyn Environment,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        // (token waiting at the activity, scope of that token)
        let mut candidate: Option<(u64, u64)> = from.map(|t| (t, scope));
        let mut s = scope;
        loop {
            if let Some((t, in_scope)) = candidate {
                let process = self.process_of(in_scope, main, env)?;
                let token = self.tokens.iter().find(|x| x.id == t).cloned();
                if let Some(token) = token {
                    let activity = process.element(&token.element).ok_or("Element fehlt")?;
                    let catcher = activity.boundaries.iter().filter_map(|b| process.element(b)).find(|b| {
                        matches!(&b.kind, ElementKind::Boundary { trigger: Trigger::Error { code: c }, .. } if c.as_deref().is_none_or(|c| c == code))
                    });
                    if let Some(b) = catcher {
                        let mut ids = Vec::new();
                        self.cancel_token(t, &mut ids);
                        effects.push(Effect::Cancelled { ids });
                        self.new_token(&b.id, in_scope, None);
                        return Ok(());
                    }
                }
            }
            if s == ROOT {
                return Err(format!("Fehler „{code}“ wird von keinem Randereignis gefangen"));
            }
            let sc = self.scope(s).cloned().ok_or("Bereich fehlt")?;
            // An inner instance of a multi-instance activity passes the error to its body,
            // whose token carries the boundary events.
            candidate = match sc.kind {
                ScopeKind::MultiItem { .. } => None,
                _ => Some((sc.token, sc.parent)),
            };
            s = sc.parent;
        }
    }

    /// Completes the wait of a token at a job or user task with its result and moves it on.
    /// Call [`Instance::advance`] afterwards.
    pub fn complete(
        &mut self,
        process: &Process,
        token_id: u64,
        result: Map<String, Json>,
        env: &dyn Environment,
    ) -> Result<Vec<Effect>, ExecError> {
        if !self.is_running() {
            return Err(ExecError::NotRunning);
        }
        let pos = self.pos(token_id).ok_or(ExecError::UnknownToken(token_id))?;
        let token = self.tokens[pos].clone();
        if !token.waiting {
            return Err(ExecError::NotWaiting(token_id));
        }
        let p = self.process_of(token.scope, process, env).map_err(|_| ExecError::UnknownToken(token_id))?;
        let element = p.element(&token.element).ok_or(ExecError::UnknownToken(token_id))?;
        let is_job_or_task = matches!(
            element.kind,
            ElementKind::ServiceTask { .. }
                | ElementKind::UserTask(_)
                | ElementKind::IntermediateThrow { job: Some(_) }
                | ElementKind::EndEvent { end: EndKind::Message(_) }
        );
        if !is_job_or_task || self.scopes.iter().any(|s| s.token == token_id) {
            return Err(ExecError::NotWaiting(token_id));
        }
        let mut effects = Vec::new();
        let result = self
            .write_result(&token, element, &result)
            .map_err(|m| (element.id.clone(), m))
            .and_then(|()| {
                self.tokens[pos].waiting = false;
                self.leave(pos, p, &mut effects)
            })
            .and_then(|()| self.settle_scopes(process, env, &mut effects));
        if let Err((element, message)) = result {
            self.incident(&mut effects, element, message);
        }
        Ok(effects)
    }

    /// The token waiting at `element_id`, if any.
    pub fn waiting_token_at(&self, element_id: &str) -> Option<u64> {
        self.tokens.iter().find(|t| t.waiting && t.element == element_id).map(|t| t.id)
    }

    /// Open timer and message subscriptions (for tests and the case file).
    pub fn open_subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }
}

fn text_of(value: &TimeValue, vars: &Json) -> Result<String, String> {
    match value {
        TimeValue::Literal(s) => Ok(s.clone()),
        TimeValue::Feel(e) => match e.evaluate_json(vars).map_err(|e| e.to_string())? {
            Json::String(s) => Ok(s),
            other => Err(format!("Zeitangabe ergibt keinen Text, sondern {other}")),
        },
    }
}

/// A point in time from a date, date-time or duration (from now).
fn instant(
    value: &TimeValue,
    counting: Counting,
    vars: &Json,
    now: DateTime<Utc>,
    calendar: &WorkCalendar,
) -> Result<DateTime<Utc>, String> {
    let text = text_of(value, vars)?;
    if let Ok(d) = IsoDuration::parse(&text) {
        return calendar.add(now, &d, counting);
    }
    // FEEL date-times may carry a zone id after '@'; the offset before it is what counts.
    let plain = text.split('@').next().unwrap_or(&text);
    parse_instant(plain).ok_or_else(|| format!("„{text}“ ist weder Zeitpunkt noch Dauer nach ISO 8601"))
}

#[cfg(test)]
mod tests;
