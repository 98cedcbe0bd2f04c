//! Integration API v1 for the process engine: messages to waiting cases, external workers
//! (fetch-and-lock, complete, failure, BPMN error, extend lock, as Camunda's external tasks)
//! and the tenant's deployments. Same authentication as the rest of the API: the tenant's
//! API key; every call is scoped to that tenant.
#![allow(clippy::result_large_err)] // helpers hand back ready-made error responses, as axum handlers do

use crate::api::{authorize, error, internal, ApiError};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rathaus_runtime::external::ExternalJob;
use rathaus_runtime::{Correlated, RuntimeError};
use rathaus_store::audit::Actor;
use rathaus_store::deployments;
use rathaus_store::tenants::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Upper bounds that keep one request small and a lock from outliving a crashed worker for
/// long.
const MAX_JOBS: usize = 100;
const MAX_LOCK_SECONDS: i64 = 24 * 3600;

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(StatusCode::BAD_REQUEST, "bad_request", format!("Ungültiges JSON: {e}. Erwartet: {expected}"))
    })
}

/// The prologue of every engine endpoint with a body: the API key must belong to the
/// tenant of the path, and the body must be the expected JSON.
async fn authorized<T: serde::de::DeserializeOwned>(
    app: &AppState,
    headers: &HeaderMap,
    slug: &str,
    body: &[u8],
    expected: &str,
) -> Result<(Tenant, Actor, T), Response> {
    let (tenant, actor) = authorize(app, headers, slug).await?;
    let body = parse(body, expected)?;
    Ok((tenant, actor, body))
}

fn runtime_error(e: RuntimeError) -> Response {
    match e {
        RuntimeError::NotFound => error(StatusCode::NOT_FOUND, "not_found", "Nicht gefunden."),
        RuntimeError::Conflict(m) => error(StatusCode::CONFLICT, "conflict", m),
        other => internal(other),
    }
}

/// A message for a waiting case.
#[derive(Deserialize, ToSchema)]
pub struct MessageBody {
    /// Message name as in the BPMN model (`bpmn:message name="…"`), e.g. `zahlung`.
    #[schema(example = "zahlung")]
    pub name: String,
    /// Variables the message brings into the case.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// How long to keep the message if the case does not wait for it yet (seconds;
    /// default 7 days; 0 refuses such a message with 409).
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResult {
    /// True: a waiting event took the message and the case moved on. False: buffered.
    pub delivered: bool,
    /// Until when a buffered message waits for the case.
    pub expires_at: Option<String>,
}

/// Deliver a message to a case (payment received, documents handed in, answer of a consulted
/// authority).
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/cases/{reference}/messages",
    params(("tenant" = String, Path), ("reference" = String, Path, description = "Aktenzeichen")),
    request_body = MessageBody,
    responses(
        (status = 200, description = "Delivered or buffered", body = MessageResult),
        (status = 404, description = "No such case", body = ApiError),
        (status = 409, description = "Not waited for and `ttl_seconds` = 0", body = ApiError),
    ),
    security(("api_key" = []))
)]
pub async fn message(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, actor, body): (_, _, MessageBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"name": "…", "variables": {…}}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if body.name.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", "Feld „name“: Nachrichtenname fehlt.");
    }
    if let Err(r) = check_variables(&body.variables) {
        return r;
    }
    let ttl = chrono::Duration::seconds(body.ttl_seconds.unwrap_or(7 * 24 * 3600).clamp(0, 365 * 24 * 3600));
    match app.runtime.correlate_message(&tenant.tenant_id, &reference, &body.name, body.variables, ttl, &actor).await {
        Ok(Correlated::Delivered) => Json(MessageResult { delivered: true, expires_at: None }).into_response(),
        Ok(Correlated::Buffered { expires_at }) => {
            Json(MessageResult { delivered: false, expires_at: Some(rathaus_store::ts(expires_at)) }).into_response()
        }
        Err(e) => runtime_error(e),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct FetchBody {
    /// Name of the worker; only it may complete the jobs it locked.
    #[schema(example = "fachverfahren-1")]
    pub worker: String,
    /// Job types (`zeebe:taskDefinition type`) the worker performs; declared by the
    /// procedure in `external_task_types`.
    pub types: Vec<String>,
    /// At most this many jobs (1–100, default 10).
    #[serde(default)]
    pub max_jobs: Option<usize>,
    /// Lock duration in seconds (default 300).
    #[serde(default)]
    pub lock_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LockedJob {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub element: String,
    /// Aktenzeichen of the case.
    pub reference: String,
    #[schema(value_type = Object)]
    pub variables: Value,
    #[schema(value_type = Object)]
    pub headers: Value,
    /// Attempts left including this one.
    pub retries: i64,
    pub locked_until: String,
}

impl From<ExternalJob> for LockedJob {
    fn from(j: ExternalJob) -> Self {
        LockedJob {
            id: j.id,
            job_type: j.job_type,
            element: j.element,
            reference: j.reference,
            variables: j.variables,
            headers: j.headers,
            retries: j.retries,
            locked_until: j.locked_until,
        }
    }
}

/// Variables from outside may not replace what the process started with (the application,
/// the tenant's parameters, the receipt, the clerk's decision): documents and decisions rely
/// on them.
fn check_variables(variables: &Map<String, Value>) -> Result<(), Response> {
    if let Some(name) = variables.keys().find(|k| rathaus_engine::bpmn::PROCESS_VARIABLES.contains(&k.as_str())) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            format!(
                "Feld „variables.{name}“: diese Prozessvariable ist reserviert ({}) und kann nicht von außen gesetzt werden.",
                rathaus_engine::bpmn::PROCESS_VARIABLES.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_worker(worker: &str) -> Result<(), Response> {
    if worker.trim().is_empty() || worker.len() > 200 {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", "Feld „worker“: Name des Dienstes fehlt."));
    }
    Ok(())
}

fn lock(seconds: Option<i64>, default: i64) -> Result<chrono::Duration, Response> {
    let s = seconds.unwrap_or(default);
    if !(1..=MAX_LOCK_SECONDS).contains(&s) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            format!("Feld „lock_seconds“: zwischen 1 und {MAX_LOCK_SECONDS} Sekunden."),
        ));
    }
    Ok(chrono::Duration::seconds(s))
}

/// Fetch and lock jobs of external workers.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/jobs/fetch-and-lock",
    params(("tenant" = String, Path)),
    request_body = FetchBody,
    responses((status = 200, description = "Locked jobs (maybe none)", body = [LockedJob]), (status = 409, description = "A built-in type was asked for", body = ApiError)),
    security(("api_key" = []))
)]
pub async fn fetch_and_lock(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, _, body): (_, _, FetchBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"worker": "…", "types": ["…"]}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if let Err(r) = check_worker(&body.worker) {
        return r;
    }
    if body.types.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            "Feld „types“: mindestens einen Auftragstyp angeben.",
        );
    }
    let lock = match lock(body.lock_seconds, 300) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let max = body.max_jobs.unwrap_or(10).clamp(1, MAX_JOBS);
    match app.runtime.fetch_and_lock(&tenant.tenant_id, &body.worker, &body.types, max, lock).await {
        Ok(jobs) => Json(jobs.into_iter().map(LockedJob::from).collect::<Vec<_>>()).into_response(),
        Err(e) => runtime_error(e),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CompleteBody {
    pub worker: String,
    /// Result variables, set in the case (or passed to the task's output mappings).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct FailureBody {
    pub worker: String,
    /// What went wrong (shown to administrators).
    pub message: String,
    /// Attempts still allowed; 0 dead-letters the job with an incident in the case.
    pub retries: i64,
    /// Wait before the next attempt, in seconds (default 60).
    #[serde(default)]
    pub retry_seconds: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct BpmnErrorBody {
    pub worker: String,
    /// Error code as in the model (`bpmn:error errorCode`), caught by an error boundary event.
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ExtendBody {
    pub worker: String,
    pub lock_seconds: i64,
}

/// The outcome of a job operation.
#[derive(Serialize, ToSchema)]
pub struct JobOutcome {
    /// `completed`, `retry`, `failed`, `bpmn_error`, `locked`.
    pub result: String,
}

fn outcome(result: &str) -> Response {
    Json(JobOutcome { result: result.into() }).into_response()
}

/// Complete a locked job; the case moves on.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/jobs/{job}/complete",
    params(("tenant" = String, Path), ("job" = String, Path)),
    request_body = CompleteBody,
    responses((status = 200, body = JobOutcome), (status = 404, body = ApiError), (status = 409, description = "Not locked by this worker", body = ApiError)),
    security(("api_key" = []))
)]
pub async fn complete(
    State(app): State<AppState>,
    Path((slug, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, _, body): (_, _, CompleteBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"worker": "…", "variables": {…}}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if let Err(r) = check_variables(&body.variables) {
        return r;
    }
    match app.runtime.complete_external(&tenant.tenant_id, &job, &body.worker, body.variables).await {
        Ok(()) => outcome("completed"),
        Err(e) => runtime_error(e),
    }
}

/// Report that a locked job failed: retried later or dead-lettered.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/jobs/{job}/failure",
    params(("tenant" = String, Path), ("job" = String, Path)),
    request_body = FailureBody,
    responses((status = 200, body = JobOutcome), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("api_key" = []))
)]
pub async fn failure(
    State(app): State<AppState>,
    Path((slug, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, _, body): (_, _, FailureBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"worker": "…", "message": "…", "retries": 2}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let retry_in = chrono::Duration::seconds(body.retry_seconds.unwrap_or(60).clamp(0, MAX_LOCK_SECONDS));
    match app.runtime.fail_external(&tenant.tenant_id, &job, &body.worker, &body.message, body.retries, retry_in).await
    {
        Ok(true) => outcome("failed"),
        Ok(false) => outcome("retry"),
        Err(e) => runtime_error(e),
    }
}

/// End a locked job with a BPMN error, caught by an error boundary event in the model.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/jobs/{job}/bpmn-error",
    params(("tenant" = String, Path), ("job" = String, Path)),
    request_body = BpmnErrorBody,
    responses((status = 200, body = JobOutcome), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("api_key" = []))
)]
pub async fn bpmn_error(
    State(app): State<AppState>,
    Path((slug, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, _, body): (_, _, BpmnErrorBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"worker": "…", "code": "…"}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if body.code.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", "Feld „code“: Fehlercode fehlt.");
    }
    match app.runtime.bpmn_error_external(&tenant.tenant_id, &job, &body.worker, body.code.trim(), &body.message).await
    {
        Ok(()) => outcome("bpmn_error"),
        Err(e) => runtime_error(e),
    }
}

/// Extend the lock of a job the worker holds.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/jobs/{job}/extend-lock",
    params(("tenant" = String, Path), ("job" = String, Path)),
    request_body = ExtendBody,
    responses((status = 200, body = JobOutcome), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("api_key" = []))
)]
pub async fn extend_lock(
    State(app): State<AppState>,
    Path((slug, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, _, body): (_, _, ExtendBody) =
        match authorized(&app, &headers, &slug, &body, r#"{"worker": "…", "lock_seconds": 300}"#).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let lock = match lock(Some(body.lock_seconds), 300) {
        Ok(l) => l,
        Err(r) => return r,
    };
    match app.runtime.extend_external_lock(&tenant.tenant_id, &job, &body.worker, lock).await {
        Ok(()) => outcome("locked"),
        Err(e) => runtime_error(e),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeploymentInfo {
    pub id: String,
    pub procedure: String,
    pub version: String,
    /// SHA-256 over all files of the version.
    pub content_hash: String,
    pub deployed_at: String,
    /// Cases whose process still runs on this deployment.
    pub running_instances: i64,
}

/// The tenant's deployments: every version of every procedure it has run, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/deployments",
    params(("tenant" = String, Path)),
    responses((status = 200, body = [DeploymentInfo])),
    security(("api_key" = []))
)]
pub async fn deployments(State(app): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let (tenant, _) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = async {
        let mut conn = app.runtime.store.conn().await?;
        let list = deployments::list(&mut conn, &tenant.tenant_id).await?;
        let running = deployments::running_instances(&mut conn, &tenant.tenant_id).await?;
        Ok::<_, rathaus_store::StoreError>(
            list.into_iter()
                .map(|d| DeploymentInfo {
                    running_instances: running.get(&d.deployment_id).copied().unwrap_or(0),
                    id: d.deployment_id,
                    procedure: d.procedure_id,
                    version: d.version,
                    content_hash: d.content_hash,
                    deployed_at: d.deployed_at,
                })
                .collect::<Vec<_>>(),
        )
    }
    .await;
    match result {
        Ok(list) => Json(list).into_response(),
        Err(e) => internal(e),
    }
}
