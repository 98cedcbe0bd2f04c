//! The environment a procedure runs in: the variables an instance starts with and the inputs
//! its decisions see. One place, so that the runtime, the assistant and the tests build them
//! identically.

use crate::bpmn::Process;
use crate::executor::Environment;
use crate::library::Procedure;
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::calendar::WorkCalendar;
use serde_json::{json, Map, Value as Json};

/// How far ahead `mandant.arbeitstage` reaches, in calendar days.
pub const WORKING_DAYS_AHEAD: i64 = 60;

/// Facts about the tenant that decisions may use: `mandant.name`, `mandant.plz` and
/// `mandant.arbeitstage`, the working days of the tenant's Land from `today` (inclusive) for
/// the next 60 days as `YYYY-MM-DD` (some 40 working days), so a rule counts lead times in working days with
/// public holidays (`count(mandant.arbeitstage[item < antrag.beginn])`).
pub fn tenant_facts(name: &str, postcodes: &[String], calendar: &WorkCalendar, today: NaiveDate) -> Json {
    let working_days: Vec<String> = (0..WORKING_DAYS_AHEAD)
        .map(|n| today + chrono::Duration::days(n))
        .filter(|d| calendar.is_working_day(*d))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    json!({ "name": name, "plz": postcodes, "arbeitstage": working_days })
}

/// The variables a process instance starts with.
pub fn start_variables(data: &Json, parameters: &Json, tenant: &Json, received_at: DateTime<Utc>) -> Map<String, Json> {
    let mut vars = Map::new();
    vars.insert("antrag".into(), data.clone());
    vars.insert("parameter".into(), parameters.clone());
    vars.insert("mandant".into(), tenant.clone());
    vars.insert(
        "eingang".into(),
        json!({
            "datum": received_at.date_naive().format("%Y-%m-%d").to_string(),
            "zeitpunkt": received_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    );
    vars
}

/// A procedure as the executor runs it: its decisions see the procedure's catalogues
/// (`katalog`) and the date of evaluation (`heute`) besides the task's input; its call
/// activities call the processes deployed with it; its timers count in the tenant's
/// working calendar.
pub struct ProcedureEnv<'a> {
    pub procedure: &'a Procedure,
    pub now: DateTime<Utc>,
    pub calendar: &'a WorkCalendar,
}

/// The input a decision of the procedure sees.
pub fn decision_input(procedure: &Procedure, variables: &Json, today: NaiveDate) -> Json {
    let mut input = variables.as_object().cloned().unwrap_or_default();
    input.entry("katalog").or_insert_with(|| procedure.catalogue_json());
    input.entry("heute").or_insert_with(|| Json::String(today.format("%Y-%m-%d").to_string()));
    Json::Object(input)
}

impl Environment for ProcedureEnv<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn decide(&self, decision_id: &str, input: &Json) -> Result<Json, String> {
        let today = rathaus_domain::time::german_today(self.now);
        self.procedure.decisions.evaluate(decision_id, &decision_input(self.procedure, input, today))
    }

    fn called_process(&self, process_id: &str) -> Option<&Process> {
        self.procedure.called.get(process_id)
    }

    fn calendar(&self) -> &WorkCalendar {
        self.calendar
    }
}

/// Runs the procedure's `check_decision` on application data as a submission would, without
/// starting anything: what the assistant and tests use to predict the outcome.
pub fn check(
    procedure: &Procedure,
    data: &Json,
    parameters: &Json,
    tenant: &Json,
    today: NaiveDate,
) -> Result<Json, String> {
    let decision = procedure
        .manifest
        .check_decision
        .as_deref()
        .ok_or_else(|| format!("Verfahren „{}“ hat keine check_decision", procedure.id()))?;
    let vars = json!({ "antrag": data, "parameter": parameters, "mandant": tenant });
    procedure.decisions.evaluate(decision, &decision_input(procedure, &vars, today))
}
