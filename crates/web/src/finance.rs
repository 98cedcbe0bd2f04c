//! The finance interface of the integration API: Sollstellung runs (receivables handed to
//! the municipal finance system), as JSON or CSV, and the run log; bank statements
//! (camt.053) imported for the Zahlungsabgleich. Fields: docs/finance-export.md.

use crate::api::{authorize, error, internal, lang};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rathaus_domain::Lang;
use rathaus_runtime::finance::{to_csv, FinanceRun, RunEntry};
use rathaus_runtime::reconciliation::ImportReport;
use rathaus_runtime::RuntimeError;

/// Start a Sollstellung run with every receivable not handed over yet.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/finance/runs",
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 201, body = FinanceRun, description = "The new run with its receivables"),
        (status = 204, description = "Nothing to hand over: every receivable is in a run already"),
        (status = 401, body = crate::api::ApiError),
        (status = 403, body = crate::api::ApiError),
    ),
    security(("api_key" = []))
)]
pub async fn create(State(app): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let (tenant, actor) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match app.runtime.create_finance_run(&tenant, &actor).await {
        Ok(Some(run)) => (StatusCode::CREATED, Json(run)).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(e),
    }
}

/// The run log: every run of the tenant, newest first, without its receivables.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/finance/runs",
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, body = [RunEntry]), (status = 401, body = crate::api::ApiError)),
    security(("api_key" = []))
)]
pub async fn list(State(app): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let (tenant, _) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match app.runtime.finance_runs(&tenant).await {
        Ok(runs) => Json(runs).into_response(),
        Err(e) => internal(e),
    }
}

async fn load(app: &AppState, slug: &str, run_id: &str, headers: &HeaderMap) -> Result<FinanceRun, Response> {
    let (tenant, _) = authorize(app, headers, slug).await?;
    match app.runtime.finance_run(&tenant, run_id).await {
        Ok(run) => Ok(run),
        Err(RuntimeError::NotFound) => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            if lang(headers) == Lang::De { "Diesen Lauf gibt es nicht." } else { "No such run." },
        )),
        Err(e) => Err(internal(e)),
    }
}

/// A run with its receivables, as JSON; the same every time it is fetched.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/finance/runs/{run}",
    params(("tenant" = String, Path, description = "Tenant slug"), ("run" = String, Path, description = "lauf_id")),
    responses((status = 200, body = FinanceRun), (status = 401, body = crate::api::ApiError), (status = 404, body = crate::api::ApiError)),
    security(("api_key" = []))
)]
pub async fn show(
    State(app): State<AppState>,
    Path((slug, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match load(&app, &slug, &run_id, &headers).await {
        Ok(run) => Json(run).into_response(),
        Err(r) => r,
    }
}

/// A run as CSV (`;`-separated, UTF-8, CRLF, a header line).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/finance/runs/{run}/csv",
    params(("tenant" = String, Path, description = "Tenant slug"), ("run" = String, Path, description = "lauf_id")),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 401, body = crate::api::ApiError),
        (status = 404, body = crate::api::ApiError),
    ),
    security(("api_key" = []))
)]
pub async fn csv(
    State(app): State<AppState>,
    Path((slug, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match load(&app, &slug, &run_id, &headers).await {
        Ok(run) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"sollstellung-{}.csv\"", run.lauf.nummer)),
            ],
            to_csv(&run),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// The largest bank statement accepted (a month of a town's account is far less).
pub const MAX_STATEMENT_BYTES: usize = 20 * 1024 * 1024;

/// Import a bank statement (camt.053, versions .02 to .08, UTF-8) of the account the
/// notices name: each payment whose Kassenzeichen and amount match an open fee marks it
/// paid and continues its case; every other transaction that concerns the town waits for a
/// clerk (`/{tenant}/intern/zahlungen`). Importing the same statement again books nothing
/// twice.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/finance/statements",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body(content = String, content_type = "application/xml", description = "camt.053 statement"),
    responses(
        (status = 200, body = ImportReport, description = "What became of each transaction"),
        (status = 401, body = crate::api::ApiError),
        (status = 403, body = crate::api::ApiError),
        (status = 422, body = crate::api::ApiError, description = "Not a camt.053 statement, or of another account"),
    ),
    security(("api_key" = []))
)]
pub async fn import_statement(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, actor) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(xml) = std::str::from_utf8(&body) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Der Kontoauszug ist nicht in UTF-8 kodiert.");
    };
    match app.runtime.import_statement(&tenant, xml, &actor).await {
        Ok(report) => Json(report).into_response(),
        Err(RuntimeError::Invalid(problems)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join(" "),
        ),
        Err(e) => internal(e),
    }
}
