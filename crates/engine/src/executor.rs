//! The BPMN executor: a pure state machine. An [`Instance`] holds tokens and variables; the
//! executor moves tokens through the process until each one waits (a service task's job, a
//! user task) or ends, and returns the [`Effect`]s the runtime has to persist in the same
//! transaction. It performs no IO: decisions are evaluated through [`DecisionService`].

use crate::bpmn::{ElementKind, Mapping, Process};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// Upper bound of steps in one advance: a cycle of gateways without a wait state would
/// otherwise spin forever; it becomes an incident instead.
const MAX_STEPS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub tokens: Vec<Token>,
    pub variables: Map<String, Json>,
    pub next_token: u64,
    pub status: InstanceStatus,
    /// The elements passed, in order: the process history shown in the case file.
    #[serde(default)]
    pub trail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: u64,
    pub element: String,
    pub waiting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstanceStatus {
    Running,
    Completed,
    /// Something the model did not foresee (no gateway condition true, a decision failed).
    /// The instance stops where it is until an administrator resolves it.
    Incident {
        element: String,
        message: String,
    },
}

/// What the runtime must do after an advance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Effect {
    /// Run the connector `job_type` for the token (outbox: at least once, idempotent by key).
    Job { token: u64, element: String, job_type: String, headers: BTreeMap<String, String>, input: Json, retries: u32 },
    /// Create a task for a person.
    UserTask {
        token: u64,
        element: String,
        name: String,
        candidate_groups: Vec<String>,
        form_key: Option<String>,
        input: Json,
    },
    /// A decision was taken (recorded in the case file).
    Decided { element: String, decision_id: String, result: Json },
    /// The instance reached its end.
    Completed,
    /// The instance stopped with an incident.
    Incident { element: String, message: String },
}

/// Evaluates a DMN decision by id with the given input variables.
pub trait DecisionService {
    fn evaluate(&self, decision_id: &str, input: &Json) -> Result<Json, String>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("Token {0} gibt es in dieser Prozessinstanz nicht")]
    UnknownToken(u64),
    #[error("Token {0} wartet nicht auf Abschluss")]
    NotWaiting(u64),
    #[error("die Prozessinstanz läuft nicht mehr")]
    NotRunning,
}

impl Instance {
    /// A new instance with one token on the start event; call [`Instance::advance`] next.
    pub fn start(process: &Process, variables: Map<String, Json>) -> Instance {
        Instance {
            tokens: vec![Token { id: 1, element: process.start_event().id.clone(), waiting: false }],
            variables,
            next_token: 2,
            status: InstanceStatus::Running,
            trail: Vec::new(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == InstanceStatus::Running
    }

    pub fn variables_json(&self) -> Json {
        Json::Object(self.variables.clone())
    }

    /// Moves all tokens that are not waiting as far as they go.
    pub fn advance(&mut self, process: &Process, decisions: &dyn DecisionService) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut steps = 0;
        while self.is_running() {
            let Some(pos) = self.tokens.iter().position(|t| !t.waiting) else {
                break;
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
            if let Err((element, message)) = self.step(process, decisions, pos, &mut effects) {
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

    /// Executes the element the token at `pos` stands on.
    fn step(
        &mut self,
        process: &Process,
        decisions: &dyn DecisionService,
        pos: usize,
        effects: &mut Vec<Effect>,
    ) -> Result<(), (String, String)> {
        let token = self.tokens[pos].clone();
        let element = process
            .element(&token.element)
            .ok_or_else(|| (token.element.clone(), "Element gibt es im Prozessmodell nicht (mehr)".to_string()))?;
        let fail = |m: String| (element.id.clone(), m);
        self.trail.push(element.id.clone());
        match &element.kind {
            ElementKind::StartEvent | ElementKind::IntermediateEvent | ElementKind::Task => {
                self.apply_outputs(&element.outputs, &Map::new()).map_err(fail)?;
                self.move_along(process, pos, &element.outgoing[0]);
            }
            ElementKind::EndEvent { terminate } => {
                if *terminate {
                    self.tokens.clear();
                } else {
                    self.tokens.remove(pos);
                }
            }
            ElementKind::ExclusiveGateway { default } => {
                let vars = self.variables_json();
                let mut chosen = None;
                for fid in &element.outgoing {
                    if default.as_deref() == Some(fid.as_str()) {
                        continue;
                    }
                    let flow = process.flow(fid).expect("validated");
                    match &flow.condition {
                        None => {
                            // A merging gateway (single unconditional outgoing flow).
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
                let chosen = chosen.or_else(|| default.clone()).ok_or_else(|| {
                    fail("keine Bedingung des Gateways ist erfüllt und es gibt keinen Standardfluss".into())
                })?;
                self.move_along(process, pos, &chosen);
            }
            ElementKind::BusinessRuleTask { decision_id, result_variable } => {
                let input = self.inputs(&element.inputs).map_err(fail)?;
                let result = decisions
                    .evaluate(decision_id, &input)
                    .map_err(|e| fail(format!("Entscheidung „{decision_id}“: {e}")))?;
                effects.push(Effect::Decided {
                    element: element.id.clone(),
                    decision_id: decision_id.clone(),
                    result: result.clone(),
                });
                let mut out = Map::new();
                out.insert(result_variable.clone(), result);
                if element.outputs.is_empty() {
                    self.variables.extend(out);
                } else {
                    self.apply_outputs(&element.outputs, &out).map_err(fail)?;
                }
                self.move_along(process, pos, &element.outgoing[0]);
            }
            ElementKind::ServiceTask { task_type, headers, retries } => {
                let input = self.inputs(&element.inputs).map_err(fail)?;
                self.tokens[pos].waiting = true;
                effects.push(Effect::Job {
                    token: token.id,
                    element: element.id.clone(),
                    job_type: task_type.clone(),
                    headers: headers.clone(),
                    input,
                    retries: *retries,
                });
            }
            ElementKind::UserTask { candidate_groups, form_key } => {
                let input = self.inputs(&element.inputs).map_err(fail)?;
                self.tokens[pos].waiting = true;
                effects.push(Effect::UserTask {
                    token: token.id,
                    element: element.id.clone(),
                    name: element.name.clone(),
                    candidate_groups: candidate_groups.clone(),
                    form_key: form_key.clone(),
                    input,
                });
            }
        }
        Ok(())
    }

    fn move_along(&mut self, process: &Process, pos: usize, flow_id: &str) {
        let flow = process.flow(flow_id).expect("validated");
        let token = &mut self.tokens[pos];
        token.element = flow.target.clone();
        token.waiting = false;
    }

    /// Input for a task: the mapped values if the task has input mappings, otherwise all
    /// variables (as Zeebe does).
    fn inputs(&self, mappings: &[Mapping]) -> Result<Json, String> {
        let vars = self.variables_json();
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

    /// Output mappings are evaluated over the variables plus the task's result; the result
    /// itself is merged only when no output mapping is given.
    fn apply_outputs(&mut self, mappings: &[Mapping], result: &Map<String, Json>) -> Result<(), String> {
        if mappings.is_empty() {
            self.variables.extend(result.clone());
            return Ok(());
        }
        let mut scope = self.variables.clone();
        scope.extend(result.clone());
        let scope = Json::Object(scope);
        for m in mappings {
            let v = m.source.evaluate_json(&scope).map_err(|e| e.to_string())?;
            self.variables.insert(m.target.clone(), v);
        }
        Ok(())
    }

    /// Completes the wait of a token (job done, user task done) with its result and moves it
    /// on. Call [`Instance::advance`] afterwards.
    pub fn complete(&mut self, process: &Process, token_id: u64, result: Map<String, Json>) -> Result<(), ExecError> {
        if !self.is_running() {
            return Err(ExecError::NotRunning);
        }
        let pos = self.tokens.iter().position(|t| t.id == token_id).ok_or(ExecError::UnknownToken(token_id))?;
        if !self.tokens[pos].waiting {
            return Err(ExecError::NotWaiting(token_id));
        }
        let element = process.element(&self.tokens[pos].element).ok_or(ExecError::UnknownToken(token_id))?.clone();
        if let Err(message) = self.apply_outputs(&element.outputs, &result) {
            self.status = InstanceStatus::Incident { element: element.id.clone(), message };
            return Ok(());
        }
        self.move_along(process, pos, &element.outgoing[0]);
        Ok(())
    }

    /// The token waiting at `element_id`, if any.
    pub fn waiting_token_at(&self, element_id: &str) -> Option<u64> {
        self.tokens.iter().find(|t| t.waiting && t.element == element_id).map(|t| t.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODEL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="rule"/>
    <bpmn:businessRuleTask id="rule"><bpmn:extensionElements><zeebe:calledDecision decisionId="D" resultVariable="r"/></bpmn:extensionElements></bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="fDefault"/>
    <bpmn:sequenceFlow id="fHigh" sourceRef="gw" targetRef="job"><bpmn:conditionExpression>=r &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fDefault" sourceRef="gw" targetRef="task"/>
    <bpmn:serviceTask id="job"><bpmn:extensionElements><zeebe:taskDefinition type="t"/><zeebe:ioMapping><zeebe:input source="fest" target="text"/><zeebe:input source="=r * 2" target="doppelt"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="job" targetRef="end"/>
    <bpmn:userTask id="task" name="Prüfen"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="clerk"/></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="task" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"#;

    struct Fixed(Result<Json, String>);

    impl DecisionService for Fixed {
        fn evaluate(&self, _: &str, _: &Json) -> Result<Json, String> {
            self.0.clone()
        }
    }

    fn process() -> Process {
        Process::parse(MODEL).unwrap()
    }

    #[test]
    fn condition_true_leads_to_the_job_with_mapped_input() {
        let p = process();
        let mut i = Instance::start(&p, Map::new());
        let effects = i.advance(&p, &Fixed(Ok(json!(20))));
        let Some(Effect::Job { token, input, .. }) = effects.iter().find(|e| matches!(e, Effect::Job { .. })) else {
            panic!("{effects:?}")
        };
        assert_eq!(input, &json!({"text": "fest", "doppelt": 40}), "a source without '=' is literal text");
        i.complete(&p, *token, Map::new()).unwrap();
        assert_eq!(i.advance(&p, &Fixed(Ok(json!(20)))), vec![Effect::Completed]);
        assert_eq!(i.status, InstanceStatus::Completed);
        assert_eq!(i.trail, ["start", "rule", "gw", "job", "end"]);
    }

    #[test]
    fn default_flow_when_no_condition_holds() {
        let p = process();
        let mut i = Instance::start(&p, Map::new());
        let effects = i.advance(&p, &Fixed(Ok(json!(3))));
        assert!(effects.iter().any(|e| matches!(e, Effect::UserTask { name, candidate_groups, .. } if name == "Prüfen" && candidate_groups == &vec!["clerk".to_string()])), "{effects:?}");
        assert!(i.is_running());
        let token = i.waiting_token_at("task").unwrap();
        assert_eq!(i.complete(&p, token + 99, Map::new()), Err(ExecError::UnknownToken(token + 99)));
        i.complete(&p, token, Map::new()).unwrap();
        assert_eq!(i.complete(&p, token, Map::new()), Err(ExecError::NotWaiting(token)), "a wait is completed once");
    }

    #[test]
    fn a_failing_decision_is_an_incident_not_a_panic() {
        let p = process();
        let mut i = Instance::start(&p, Map::new());
        let effects = i.advance(&p, &Fixed(Err("kaputt".into())));
        assert!(
            matches!(&i.status, InstanceStatus::Incident { element, message } if element == "rule" && message.contains("kaputt"))
        );
        assert!(matches!(effects.last(), Some(Effect::Incident { .. })));
        assert_eq!(i.complete(&p, 1, Map::new()), Err(ExecError::NotRunning));
    }

    #[test]
    fn a_condition_that_yields_null_counts_as_false() {
        let p = process();
        let mut i = Instance::start(&p, Map::new());
        i.advance(&p, &Fixed(Ok(json!("kein Vergleich möglich"))));
        // "text" > 10 is null in FEEL: no flow taken by condition, so the default flow is.
        assert!(i.is_running());
        assert!(i.waiting_token_at("task").is_some());
    }

    #[test]
    fn state_survives_serialisation() {
        let p = process();
        let mut i = Instance::start(&p, Map::new());
        i.advance(&p, &Fixed(Ok(json!(3))));
        let back: Instance = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(back, i);
    }
}
