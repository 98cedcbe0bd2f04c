//! Executor tests: one small model per BPMN construct, run step by step.

use super::*;
use chrono::TimeZone;
use rathaus_domain::calendar::Land;
use serde_json::json;

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rathaus="https://rathaus.dev/schema/bpmn/1.0" id="d">
  <bpmn:message id="m_zahlung" name="zahlung"/>
  <bpmn:message id="m_unterlagen" name="unterlagen"/>
  <bpmn:error id="e_abgelehnt" errorCode="ABGELEHNT"/>"#;

fn model(body: &str) -> Process {
    Process::parse(&format!(
        "{HEAD}<bpmn:process id=\"p\" isExecutable=\"true\">{body}</bpmn:process></bpmn:definitions>"
    ))
    .unwrap_or_else(|e| panic!("{e:#?}"))
}

fn svc(id: &str) -> String {
    format!(
        r#"<bpmn:serviceTask id="{id}"><bpmn:extensionElements><zeebe:taskDefinition type="t_{id}"/></bpmn:extensionElements></bpmn:serviceTask>"#
    )
}

fn user(id: &str) -> String {
    format!(
        r#"<bpmn:userTask id="{id}" name="{id}"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="clerk"/></bpmn:extensionElements></bpmn:userTask>"#
    )
}

fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#)
}

fn cond(id: &str, from: &str, to: &str, c: &str) -> String {
    format!(
        r#"<bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression>{c}</bpmn:conditionExpression></bpmn:sequenceFlow>"#
    )
}

struct Env {
    now: DateTime<Utc>,
    decision: Result<Json, String>,
    called: BTreeMap<String, Process>,
    calendar: WorkCalendar,
}

impl Env {
    fn at(now: DateTime<Utc>) -> Env {
        Env { now, decision: Ok(json!(null)), called: BTreeMap::new(), calendar: WorkCalendar::new(Some(Land::SN)) }
    }
}

impl Environment for Env {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn decide(&self, _: &str, _: &Json) -> Result<Json, String> {
        self.decision.clone()
    }
    fn called_process(&self, id: &str) -> Option<&Process> {
        self.called.get(id)
    }
    fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }
}

/// Monday, 16 November 2026, 10:00 German time.
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap()
}

fn env() -> Env {
    Env::at(monday())
}

fn decided(value: Json) -> Env {
    Env { decision: Ok(value), ..env() }
}

fn jobs(effects: &[Effect]) -> Vec<(u64, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Job { token, element, .. } => Some((*token, element.clone())),
            _ => None,
        })
        .collect()
}

fn timers(effects: &[Effect]) -> Vec<(u64, DateTime<Utc>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timer { subscription, due, .. } => Some((*subscription, *due)),
            _ => None,
        })
        .collect()
}

fn cancelled(effects: &[Effect]) -> Vec<u64> {
    effects
        .iter()
        .flat_map(|e| match e {
            Effect::Cancelled { ids } => ids.clone(),
            _ => vec![],
        })
        .collect()
}

/// Completes the job or task at `element` and advances.
fn finish(i: &mut Instance, p: &Process, element: &str, result: Json, env: &Env) -> Vec<Effect> {
    let token = i.waiting_token_at(element).unwrap_or_else(|| panic!("nothing waits at {element}: {i:#?}"));
    let mut effects = i.complete(p, token, result.as_object().cloned().unwrap_or_default(), env).unwrap();
    effects.extend(i.advance(p, env));
    effects
}

fn started(p: &Process, vars: Json, env: &Env) -> (Instance, Vec<Effect>) {
    let mut i = Instance::start(p, vars.as_object().cloned().unwrap_or_default());
    let effects = i.advance(p, env);
    (i, effects)
}

fn basic() -> Process {
    model(&[
        r#"<bpmn:startEvent id="start"/>"#.to_string(),
        flow("f1", "start", "rule"),
        r#"<bpmn:businessRuleTask id="rule"><bpmn:extensionElements><zeebe:calledDecision decisionId="D" resultVariable="r"/></bpmn:extensionElements></bpmn:businessRuleTask>"#.into(),
        flow("f2", "rule", "gw"),
        r#"<bpmn:exclusiveGateway id="gw" default="fDefault"/>"#.into(),
        cond("fHigh", "gw", "job", "=r &gt; 10"),
        flow("fDefault", "gw", "task"),
        r#"<bpmn:serviceTask id="job"><bpmn:extensionElements><zeebe:taskDefinition type="t"/><zeebe:ioMapping><zeebe:input source="fest" target="text"/><zeebe:input source="=r * 2" target="doppelt"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>"#.into(),
        flow("f3", "job", "end"),
        user("task"),
        flow("f4", "task", "end"),
        r#"<bpmn:endEvent id="end"/>"#.into(),
    ]
    .concat())
}

#[test]
fn condition_true_leads_to_the_job_with_mapped_input() {
    let p = basic();
    let env = decided(json!(20));
    let (mut i, effects) = started(&p, json!({}), &env);
    let Some(Effect::Job { input, .. }) = effects.iter().find(|e| matches!(e, Effect::Job { .. })) else {
        panic!("{effects:?}")
    };
    assert_eq!(input, &json!({"text": "fest", "doppelt": 40}), "a source without '=' is literal text");
    assert_eq!(finish(&mut i, &p, "job", json!({}), &env), vec![Effect::Completed]);
    assert_eq!(i.status, InstanceStatus::Completed);
    assert_eq!(i.trail, ["start", "rule", "gw", "job", "end"]);
}

#[test]
fn default_flow_when_no_condition_holds() {
    let p = basic();
    let env = decided(json!(3));
    let (mut i, effects) = started(&p, json!({}), &env);
    assert!(effects.iter().any(|e| matches!(e, Effect::UserTask { name, candidate_groups, .. } if name == "task" && candidate_groups == &vec!["clerk".to_string()])), "{effects:?}");
    let token = i.waiting_token_at("task").unwrap();
    assert_eq!(i.complete(&p, token + 99, Map::new(), &env), Err(ExecError::UnknownToken(token + 99)));
    i.complete(&p, token, Map::new(), &env).unwrap();
    assert_eq!(i.complete(&p, token, Map::new(), &env), Err(ExecError::NotWaiting(token)), "a wait is completed once");
}

#[test]
fn a_failing_decision_is_an_incident_not_a_panic() {
    let p = basic();
    let env = Env { decision: Err("kaputt".into()), ..env() };
    let (mut i, effects) = started(&p, json!({}), &env);
    assert!(
        matches!(&i.status, InstanceStatus::Incident { element, message } if element == "rule" && message.contains("kaputt"))
    );
    assert!(matches!(effects.last(), Some(Effect::Incident { .. })));
    assert_eq!(i.complete(&p, 1, Map::new(), &env), Err(ExecError::NotRunning));
}

#[test]
fn a_condition_that_yields_null_counts_as_false() {
    let p = basic();
    // "text" > 10 is null in FEEL: no flow taken by condition, so the default flow is.
    let (i, _) = started(&p, json!({}), &decided(json!("kein Vergleich möglich")));
    assert!(i.is_running());
    assert!(i.waiting_token_at("task").is_some());
}

#[test]
fn state_survives_serialisation() {
    let p = basic();
    let (i, _) = started(&p, json!({}), &decided(json!(3)));
    let back: Instance = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
    assert_eq!(back, i);
}

#[test]
fn parallel_gateway_forks_and_joins() {
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "fork"),
            r#"<bpmn:parallelGateway id="fork"/>"#.into(),
            flow("fa", "fork", "a"),
            flow("fb", "fork", "b"),
            svc("a"),
            svc("b"),
            flow("fa2", "a", "join"),
            flow("fb2", "b", "join"),
            r#"<bpmn:parallelGateway id="join"/>"#.into(),
            flow("fe", "join", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    );
    let env = env();
    let (mut i, effects) = started(&p, json!({}), &env);
    assert_eq!(jobs(&effects).len(), 2, "both branches run at once");
    let e = finish(&mut i, &p, "b", json!({"b": 1}), &env);
    assert!(!e.contains(&Effect::Completed), "the join waits for the other branch");
    assert!(i.is_running());
    let e = finish(&mut i, &p, "a", json!({"a": 1}), &env);
    assert_eq!(e, vec![Effect::Completed]);
    assert_eq!(i.variables, json!({"a": 1, "b": 1}).as_object().unwrap().clone());
    assert_eq!(i.trail.iter().filter(|t| *t == "end").count(), 1, "joined into one token");
}

fn inclusive() -> Process {
    model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "fork"),
            r#"<bpmn:inclusiveGateway id="fork" default="fc"/>"#.into(),
            cond("fa", "fork", "a", "=x &gt; 1"),
            cond("fb", "fork", "b", "=x &gt; 5"),
            flow("fc", "fork", "c"),
            svc("a"),
            svc("b"),
            svc("c"),
            flow("fa2", "a", "join"),
            flow("fb2", "b", "join"),
            flow("fc2", "c", "join"),
            r#"<bpmn:inclusiveGateway id="join"/>"#.into(),
            flow("fe", "join", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    )
}

#[test]
fn inclusive_gateway_takes_every_true_branch_and_joins_only_those() {
    let p = inclusive();
    let env = env();
    let (mut i, effects) = started(&p, json!({"x": 3}), &env);
    assert_eq!(jobs(&effects).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(finish(&mut i, &p, "a", json!({}), &env), vec![Effect::Completed], "one branch: joins at once");

    let (mut i, effects) = started(&p, json!({"x": 10}), &env);
    assert_eq!(jobs(&effects).len(), 2);
    assert!(finish(&mut i, &p, "a", json!({}), &env).is_empty(), "b can still arrive");
    assert_eq!(finish(&mut i, &p, "b", json!({}), &env), vec![Effect::Completed]);

    let (mut i, effects) = started(&p, json!({"x": 0}), &env);
    assert_eq!(jobs(&effects).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["c"], "default flow");
    assert_eq!(finish(&mut i, &p, "c", json!({}), &env), vec![Effect::Completed]);
}

fn event_gateway() -> Process {
    model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "gw"),
            r#"<bpmn:eventBasedGateway id="gw"/>"#.into(),
            flow("fm", "gw", "paid"),
            flow("ft", "gw", "late"),
            r#"<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_zahlung"/></bpmn:intermediateCatchEvent>"#.into(),
            r#"<bpmn:intermediateCatchEvent id="late"><bpmn:timerEventDefinition rathaus:counting="arbeitstage"><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#.into(),
            flow("fm2", "paid", "end_paid"),
            flow("ft2", "late", "remind"),
            svc("remind"),
            flow("fr", "remind", "end_late"),
            r#"<bpmn:endEvent id="end_paid"/>"#.into(),
            r#"<bpmn:endEvent id="end_late"/>"#.into(),
        ]
        .concat(),
    )
}

#[test]
fn event_based_gateway_message_wins() {
    let p = event_gateway();
    let env = env();
    let (mut i, effects) = started(&p, json!({}), &env);
    let [(timer, due)] = timers(&effects)[..] else { panic!("{effects:?}") };
    // Three working days in Saxony from Monday 16 November 2026: Buß- und Bettag (18th) is
    // a holiday there, so Friday the 20th.
    assert_eq!(due, Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap());
    assert!(effects.iter().any(|e| matches!(e, Effect::MessageWait { name, .. } if name == "zahlung")));
    assert_eq!(i.correlate(&p, "unbekannt", Map::new(), &env).unwrap(), None, "nobody waits for it");
    let mut e = i.correlate(&p, "zahlung", json!({"betrag": 26}).as_object().unwrap().clone(), &env).unwrap().unwrap();
    e.extend(i.advance(&p, &env));
    assert!(cancelled(&e).contains(&timer), "the timer lost the race: {e:?}");
    assert!(e.contains(&Effect::Completed));
    assert_eq!(i.variables["betrag"], json!(26), "message variables are set");
    assert_eq!(i.trail, ["start", "gw", "paid", "end_paid"]);
}

#[test]
fn event_based_gateway_timer_wins_and_is_not_fired_early() {
    let p = event_gateway();
    let (mut i, effects) = started(&p, json!({}), &env());
    let [(timer, due)] = timers(&effects)[..] else { panic!() };
    let early = Env::at(due - chrono::Duration::seconds(1));
    assert_eq!(i.fire_timer(&p, timer, &early), Err(ExecError::NotDue(due)), "a clock that jumped back");
    let later = Env::at(due + chrono::Duration::days(3));
    let mut e = i.fire_timer(&p, timer, &later).unwrap();
    e.extend(i.advance(&p, &later));
    assert_eq!(jobs(&e).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["remind"]);
    assert_eq!(i.correlate(&p, "zahlung", Map::new(), &later).unwrap(), None, "the message lost the race");
    assert_eq!(i.fire_timer(&p, timer, &later), Err(ExecError::UnknownSubscription(timer)), "fires once");
}

fn boundaries() -> Process {
    model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "check"),
            user("check"),
            flow("f1", "check", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
            r#"<bpmn:boundaryEvent id="remind" attachedToRef="check" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/P1D</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#.into(),
            flow("fr", "remind", "mail"),
            svc("mail"),
            flow("fm", "mail", "end_mail"),
            r#"<bpmn:endEvent id="end_mail"/>"#.into(),
            r#"<bpmn:boundaryEvent id="escalate" attachedToRef="check"><bpmn:timerEventDefinition><bpmn:timeDuration>P10D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#.into(),
            flow("fx", "escalate", "lead"),
            user("lead"),
            flow("fl", "lead", "end"),
        ]
        .concat(),
    )
}

#[test]
fn terminating_cancels_the_task_and_its_timers_and_nothing_runs_after() {
    let p = boundaries();
    let (mut i, effects) = started(&p, json!({}), &env());
    let task = i.waiting_token_at("check").expect("the task waits");
    let timer_ids: Vec<u64> = timers(&effects).into_iter().map(|t| t.0).collect();
    let e = i.terminate("zurückgenommen");
    let ids = cancelled(&e);
    assert!(ids.contains(&task), "the task's token: {e:?}");
    for t in &timer_ids {
        assert!(ids.contains(t), "timer {t}: {e:?}");
    }
    assert_eq!(i.status, InstanceStatus::Terminated { reason: "zurückgenommen".into() });
    assert!(!i.is_running() && i.open_subscriptions().is_empty() && i.waiting_token_at("check").is_none());
    assert!(i.advance(&p, &env()).is_empty(), "nothing runs after");
    assert!(i.terminate("noch einmal").is_empty(), "once");
}

#[test]
fn non_interrupting_timer_cycle_reminds_while_the_task_stays() {
    let p = boundaries();
    let (mut i, effects) = started(&p, json!({}), &env());
    assert_eq!(timers(&effects).len(), 2, "reminder cycle and escalation");
    let reminder = timers(&effects).into_iter().min_by_key(|t| t.1).unwrap();
    let day1 = Env::at(reminder.1);
    let mut e = i.fire_timer(&p, reminder.0, &day1).unwrap();
    e.extend(i.advance(&p, &day1));
    assert_eq!(jobs(&e).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["mail"]);
    let [(next, due2)] = timers(&e)[..] else { panic!("second reminder: {e:?}") };
    assert_eq!(due2, reminder.1 + chrono::Duration::days(1));
    assert!(i.waiting_token_at("check").is_some(), "the task stays open");
    let day2 = Env::at(due2);
    let e = i.fire_timer(&p, next, &day2).unwrap();
    assert!(timers(&e).is_empty(), "R2: two reminders, no third");
    // Completing the task ends its timers.
    let e = finish(&mut i, &p, "check", json!({}), &day2);
    assert_eq!(cancelled(&e).len(), 1, "the escalation timer is void: {e:?}");
    assert!(i.open_subscriptions().is_empty());
}

#[test]
fn interrupting_timer_cancels_the_task() {
    let p = boundaries();
    let (mut i, effects) = started(&p, json!({}), &env());
    let escalation = timers(&effects).into_iter().max_by_key(|t| t.1).unwrap();
    let task = i.waiting_token_at("check").unwrap();
    let late = Env::at(escalation.1);
    let mut e = i.fire_timer(&p, escalation.0, &late).unwrap();
    e.extend(i.advance(&p, &late));
    assert!(cancelled(&e).contains(&task), "the clerk's task is withdrawn: {e:?}");
    assert!(e.iter().any(|x| matches!(x, Effect::UserTask { element, .. } if element == "lead")));
    assert!(i.open_subscriptions().is_empty(), "the reminder cycle ended with the task");
    assert_eq!(
        i.complete(&p, task, Map::new(), &late),
        Err(ExecError::UnknownToken(task)),
        "a late completion is refused"
    );
}

fn error_model() -> Process {
    model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "sub"),
            r#"<bpmn:subProcess id="sub">"#.into(),
            r#"<bpmn:startEvent id="s_start"/>"#.into(),
            flow("s0", "s_start", "s_gw"),
            r#"<bpmn:exclusiveGateway id="s_gw" default="s_ok"/>"#.into(),
            cond("s_bad", "s_gw", "s_error", "=x = \"nein\""),
            flow("s_ok", "s_gw", "call_out"),
            r#"<bpmn:endEvent id="s_error"><bpmn:errorEventDefinition errorRef="e_abgelehnt"/></bpmn:endEvent>"#.into(),
            svc("call_out"),
            flow("s1", "call_out", "s_end"),
            r#"<bpmn:endEvent id="s_end"/>"#.into(),
            r#"</bpmn:subProcess>"#.into(),
            flow("f1", "sub", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
            r#"<bpmn:boundaryEvent id="caught" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="e_abgelehnt"/></bpmn:boundaryEvent>"#.into(),
            flow("fc", "caught", "end_rejected"),
            r#"<bpmn:endEvent id="end_rejected"/>"#.into(),
        ]
        .concat(),
    )
}

#[test]
fn error_end_event_in_a_sub_process_is_caught_at_its_boundary() {
    let p = error_model();
    let env = env();
    let (i, effects) = started(&p, json!({"x": "nein"}), &env);
    assert_eq!(effects.last(), Some(&Effect::Completed));
    assert_eq!(i.trail, ["start", "sub", "s_start", "s_gw", "s_error", "caught", "end_rejected"]);
}

#[test]
fn a_job_error_from_an_external_worker_propagates_out_of_the_sub_process() {
    let p = error_model();
    let env = env();
    let (mut i, _) = started(&p, json!({"x": "ja"}), &env);
    let token = i.waiting_token_at("call_out").unwrap();
    let mut e = i.throw_job_error(&p, token, "ABGELEHNT", &env).unwrap();
    e.extend(i.advance(&p, &env));
    assert!(cancelled(&e).contains(&token));
    assert!(e.contains(&Effect::Completed), "{e:?}");
    assert!(i.trail.ends_with(&["caught".to_string(), "end_rejected".to_string()]));

    let (mut i, _) = started(&p, json!({"x": "ja"}), &env);
    let token = i.waiting_token_at("call_out").unwrap();
    i.throw_job_error(&p, token, "ANDERS", &env).unwrap();
    assert!(
        matches!(&i.status, InstanceStatus::Incident { message, .. } if message.contains("ANDERS")),
        "an error nobody catches is an incident: {:?}",
        i.status
    );
}

#[test]
fn sub_process_completes_and_the_process_goes_on() {
    let p = error_model();
    let env = env();
    let (mut i, _) = started(&p, json!({"x": "ja"}), &env);
    assert_eq!(finish(&mut i, &p, "call_out", json!({"antwort": 1}), &env), vec![Effect::Completed]);
    assert_eq!(i.variables["antwort"], json!(1), "variables set inside reach the process level");
    assert!(i.scopes.is_empty());
}

#[test]
fn terminate_end_event_ends_the_other_branches() {
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "fork"),
            r#"<bpmn:parallelGateway id="fork"/>"#.into(),
            flow("fa", "fork", "a"),
            flow("fb", "fork", "stop"),
            user("a"),
            flow("fa2", "a", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
            r#"<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>"#.into(),
        ]
        .concat(),
    );
    let (i, effects) = started(&p, json!({}), &env());
    let task = effects
        .iter()
        .find_map(|e| match e {
            Effect::UserTask { token, .. } => Some(*token),
            _ => None,
        })
        .unwrap();
    assert!(cancelled(&effects).contains(&task), "{effects:?}");
    assert_eq!(effects.last(), Some(&Effect::Completed));
    assert_eq!(i.status, InstanceStatus::Completed);
}

#[test]
fn call_activity_runs_the_called_process_with_its_own_variables() {
    let main = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "call"),
            r#"<bpmn:callActivity id="call"><bpmn:extensionElements><zeebe:calledElement processId="pruefen"/><zeebe:ioMapping><zeebe:input source="=antrag.betrag" target="betrag"/><zeebe:output source="=ergebnis" target="pruefung"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:callActivity>"#.into(),
            flow("f1", "call", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    );
    let called = Process::parse(&format!(
        r#"{HEAD}<bpmn:process id="pruefen" isExecutable="true"><bpmn:startEvent id="c_start"/>{}<bpmn:scriptTask id="calc"><bpmn:extensionElements><zeebe:script expression="=betrag * 2" resultVariable="ergebnis"/></bpmn:extensionElements></bpmn:scriptTask>{}{}{}<bpmn:endEvent id="c_end"/></bpmn:process></bpmn:definitions>"#,
        flow("c0", "c_start", "calc"),
        flow("c1", "calc", "c_job"),
        svc("c_job"),
        flow("c2", "c_job", "c_end"),
    ))
    .unwrap();
    let mut env = env();
    env.called.insert("pruefen".into(), called.clone());
    let (mut i, effects) = started(&main, json!({"antrag": {"betrag": 21}}), &env);
    let Some(Effect::Job { input, .. }) = effects.iter().find(|e| matches!(e, Effect::Job { .. })) else {
        panic!("{effects:?}")
    };
    assert_eq!(input, &json!({"betrag": 21, "ergebnis": 42}), "the called process sees only its inputs");
    assert!(!i.variables.contains_key("ergebnis"), "nothing leaks before the call ends");
    assert_eq!(finish(&mut i, &main, "c_job", json!({"intern": true}), &env), vec![Effect::Completed]);
    assert_eq!(i.variables["pruefung"], json!(42), "the output mapping");
    assert!(!i.variables.contains_key("intern"), "with output mappings only they are propagated");
}

fn multi(sequential: bool, completion: &str) -> Process {
    model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "ask"),
            format!(
                r#"<bpmn:serviceTask id="ask"><bpmn:extensionElements><zeebe:taskDefinition type="anhoerung"/></bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}"><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=stellen" inputElement="stelle" outputCollection="antworten" outputElement="=antwort"/></bpmn:extensionElements>{completion}</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>"#
            ),
            flow("f1", "ask", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    )
}

fn job_input(effects: &[Effect]) -> Vec<(u64, Json)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Job { token, input, .. } => Some((*token, input.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn parallel_multi_instance_collects_outputs_in_order() {
    let p = multi(false, "");
    let env = env();
    let (mut i, effects) = started(&p, json!({"stellen": ["IHK", "HWK", "FA"]}), &env);
    let jobs = job_input(&effects);
    assert_eq!(jobs.len(), 3, "all at once");
    assert_eq!(jobs[1].1["stelle"], json!("HWK"));
    assert_eq!(jobs[1].1["loopCounter"], json!(2));
    // Finish in reverse order: the collection keeps the order of the input.
    for (token, input) in jobs.iter().rev() {
        let answer = format!("ok {}", input["stelle"].as_str().unwrap());
        let mut e = i.complete(&p, *token, json!({"antwort": answer}).as_object().unwrap().clone(), &env).unwrap();
        e.extend(i.advance(&p, &env));
        assert_eq!(e.contains(&Effect::Completed), *token == jobs[0].0);
    }
    assert_eq!(i.variables["antworten"], json!(["ok IHK", "ok HWK", "ok FA"]));
    assert!(!i.variables.contains_key("antwort"), "results of an inner instance stay in it");
    assert!(!i.variables.contains_key("stelle"));
}

#[test]
fn sequential_multi_instance_runs_one_after_the_other() {
    let p = multi(true, "");
    let env = env();
    let (mut i, effects) = started(&p, json!({"stellen": ["IHK", "HWK"]}), &env);
    let first = job_input(&effects);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1["stelle"], json!("IHK"));
    let mut e = i.complete(&p, first[0].0, Map::new(), &env).unwrap();
    e.extend(i.advance(&p, &env));
    let second = job_input(&e);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1["stelle"], json!("HWK"));
    let mut e = i.complete(&p, second[0].0, Map::new(), &env).unwrap();
    e.extend(i.advance(&p, &env));
    assert!(e.contains(&Effect::Completed));
    assert_eq!(i.variables["antworten"], json!([null, null]));
}

#[test]
fn multi_instance_completion_condition_and_empty_collection() {
    let p = multi(false, "<bpmn:completionCondition>=numberOfCompletedInstances &gt;= 1</bpmn:completionCondition>");
    let env = env();
    let (mut i, effects) = started(&p, json!({"stellen": ["IHK", "HWK"]}), &env);
    let jobs = job_input(&effects);
    let mut e = i.complete(&p, jobs[1].0, json!({"antwort": "ja"}).as_object().unwrap().clone(), &env).unwrap();
    e.extend(i.advance(&p, &env));
    assert!(cancelled(&e).contains(&jobs[0].0), "the other consultation is withdrawn: {e:?}");
    assert!(e.contains(&Effect::Completed));
    assert_eq!(i.variables["antworten"], json!([null, "ja"]));

    let (i, effects) = started(&p, json!({"stellen": []}), &env);
    assert_eq!(effects, vec![Effect::Completed]);
    assert_eq!(i.variables["antworten"], json!([]));

    let (i, _) = started(&p, json!({"stellen": "IHK"}), &env);
    assert!(matches!(&i.status, InstanceStatus::Incident { message, .. } if message.contains("keine Liste")));
}

#[test]
fn receive_task_with_message_boundary_and_buffer_free_correlation() {
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "wait"),
            r#"<bpmn:receiveTask id="wait" messageRef="m_unterlagen"/>"#.into(),
            flow("f1", "wait", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
            r#"<bpmn:boundaryEvent id="withdrawn" attachedToRef="wait"><bpmn:messageEventDefinition messageRef="m_zahlung"/></bpmn:boundaryEvent>"#.into(),
            flow("fw", "withdrawn", "end2"),
            r#"<bpmn:endEvent id="end2"/>"#.into(),
        ]
        .concat(),
    );
    let env = env();
    let (mut i, effects) = started(&p, json!({}), &env);
    let names: Vec<&str> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::MessageWait { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["unterlagen", "zahlung"]);
    let mut e =
        i.correlate(&p, "unterlagen", json!({"datei": "x.pdf"}).as_object().unwrap().clone(), &env).unwrap().unwrap();
    e.extend(i.advance(&p, &env));
    assert!(e.contains(&Effect::Completed));
    assert_eq!(i.variables["datei"], json!("x.pdf"));
    assert_eq!(i.trail, ["start", "wait", "end"]);
}

#[test]
fn timer_start_event_delays_the_process_and_task_due_dates_count_working_days() {
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"><bpmn:timerEventDefinition><bpmn:timeDate>=antrag.beginn</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>"#.to_string(),
            flow("f0", "start", "task"),
            r#"<bpmn:userTask id="task" name="Prüfen"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="clerk" assignee="=antrag.zustaendig"/><zeebe:taskSchedule dueDate="P5D" followUpDate="P2D" rathaus:counting="arbeitstage"/></bpmn:extensionElements></bpmn:userTask>"#.into(),
            flow("f1", "task", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    );
    let (mut i, effects) = started(&p, json!({"antrag": {"beginn": "2026-12-01", "zustaendig": "mmuster"}}), &env());
    let [(timer, due)] = timers(&effects)[..] else { panic!("{effects:?}") };
    assert_eq!(due, Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap(), "midnight German time");
    let then = Env::at(due);
    let mut e = i.fire_timer(&p, timer, &then).unwrap();
    e.extend(i.advance(&p, &then));
    let Some(Effect::UserTask { due, follow_up, assignee, .. }) =
        e.iter().find(|x| matches!(x, Effect::UserTask { .. }))
    else {
        panic!("{e:?}")
    };
    // Tuesday 1 December 00:00 + 5 working days = Tuesday 8 December; + 2 = Thursday 3rd.
    assert_eq!(due.unwrap(), Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0).unwrap());
    assert_eq!(follow_up.unwrap(), Utc.with_ymd_and_hms(2026, 12, 2, 23, 0, 0).unwrap());
    assert_eq!(assignee.as_deref(), Some("mmuster"));
}

#[test]
fn implicit_split_and_conditional_flows_from_an_activity() {
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f0", "start", "t"),
            r#"<bpmn:task id="t" default="fd"/>"#.into(),
            cond("fa", "t", "a", "=x"),
            flow("fd", "t", "b"),
            svc("a"),
            svc("b"),
            flow("fa2", "a", "end"),
            flow("fb2", "b", "end"),
            r#"<bpmn:endEvent id="end"/>"#.into(),
        ]
        .concat(),
    );
    let (_, effects) = started(&p, json!({"x": true}), &env());
    assert_eq!(jobs(&effects).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["a"]);
    let (_, effects) = started(&p, json!({"x": false}), &env());
    assert_eq!(jobs(&effects).iter().map(|j| j.1.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn unsupported_constructs_are_reported_with_the_element() {
    let bad = |body: &str| {
        Process::parse(&format!(
            "{HEAD}<bpmn:process id=\"p\" isExecutable=\"true\">{body}</bpmn:process></bpmn:definitions>"
        ))
        .unwrap_err()
    };
    let problems = bad(
        r#"<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="c"/><bpmn:intermediateCatchEvent id="c"><bpmn:signalEventDefinition/></bpmn:intermediateCatchEvent>"#,
    );
    assert!(problems.iter().any(|p| p.element.as_deref() == Some("c") && p.message.contains("signalEventDefinition")));
    let problems = bad(
        r#"<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/><bpmn:userTask id="t"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="clerk"/></bpmn:extensionElements></bpmn:userTask><bpmn:sequenceFlow id="g" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/><bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition><bpmn:timeCycle>R/P1D</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:sequenceFlow id="h" sourceRef="b" targetRef="e"/>"#,
    );
    assert!(
        problems.iter().any(|p| p.element.as_deref() == Some("b") && p.message.contains("nicht unterbrechend")),
        "{problems:?}"
    );
    let problems = bad(
        r#"<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="c"/><bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition><bpmn:timeDuration>zehn Tage</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="g" sourceRef="c" targetRef="e"/><bpmn:endEvent id="e"/>"#,
    );
    assert!(
        problems.iter().any(|p| p.element.as_deref() == Some("c") && p.message.contains("zehn Tage")),
        "{problems:?}"
    );
}

#[test]
fn candidate_groups_may_come_from_an_expression() {
    let task = |groups: &str| {
        format!(
            r#"<bpmn:userTask id="task" name="task"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="{groups}"/></bpmn:extensionElements></bpmn:userTask>"#
        )
    };
    let p = model(
        &[
            r#"<bpmn:startEvent id="start"/>"#.to_string(),
            flow("f1", "start", "task"),
            task("=parameter.einheit"),
            flow("f2", "task", "end"),
            r#"<bpmn:endEvent id="end"/>"#.to_string(),
        ]
        .concat(),
    );
    let groups = |vars: Json| {
        let (_, effects) = started(&p, vars, &env());
        effects.into_iter().find_map(|e| match e {
            Effect::UserTask { candidate_groups, .. } => Some(candidate_groups),
            _ => None,
        })
    };
    assert_eq!(groups(json!({"parameter": {"einheit": "ordnungsamt"}})), Some(vec!["ordnungsamt".to_string()]));
    assert_eq!(
        groups(json!({"parameter": {"einheit": ["ordnungsamt", "gewerbeamt"]}})),
        Some(vec!["ordnungsamt".to_string(), "gewerbeamt".to_string()])
    );
    // Nobody could work on a task without a group: an incident, not a lost task.
    let (i, _) = started(&p, json!({"parameter": {"einheit": null}}), &env());
    assert!(matches!(i.status, InstanceStatus::Incident { .. }), "{:?}", i.status);
}
