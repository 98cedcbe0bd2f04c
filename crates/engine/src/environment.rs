//! The environment a procedure runs in: the variables an instance starts with and the inputs
//! its decisions see. One place, so that the runtime, the assistant and the tests build them
//! identically.

use crate::executor::DecisionService;
use crate::library::Procedure;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value as Json};

/// Facts about the tenant that decisions may use (`mandant.name`, `mandant.plz`).
pub fn tenant_facts(name: &str, postcodes: &[String]) -> Json {
    json!({ "name": name, "plz": postcodes })
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

/// Decisions of one procedure as the executor calls them: the procedure's catalogues
/// (`katalog`) and the date of evaluation (`heute`) are added to the task's input.
pub struct ProcedureDecisions<'a> {
    pub procedure: &'a Procedure,
    pub today: NaiveDate,
}

impl ProcedureDecisions<'_> {
    pub fn input(&self, variables: &Json) -> Json {
        let mut input = variables.as_object().cloned().unwrap_or_default();
        input.entry("katalog").or_insert_with(|| self.procedure.catalogue_json());
        input.entry("heute").or_insert_with(|| Json::String(self.today.format("%Y-%m-%d").to_string()));
        Json::Object(input)
    }
}

impl DecisionService for ProcedureDecisions<'_> {
    fn evaluate(&self, decision_id: &str, input: &Json) -> Result<Json, String> {
        self.procedure.decisions.evaluate(decision_id, &self.input(input))
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
    ProcedureDecisions { procedure, today }.evaluate(decision, &vars)
}
