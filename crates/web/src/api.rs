//! Integration API v1 (JSON) for external online services: submit an application, read its
//! status, fetch its documents. Described by the OpenAPI document at `/api/openapi.json`.
//!
//! Authentication: `Authorization: Bearer <API key of the tenant>`. A key of one tenant is
//! refused for another (403). Reading a case additionally needs its access code, which only
//! the applicant (and the submitting service) knows.

use crate::access::Unlock;
use crate::portal::document_response;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rathaus_domain::{AccessCode, CaseStatus, Channel, Lang, Money, Reference};
use rathaus_runtime::{RuntimeError, SubmitRequest};
use rathaus_store::audit::Actor;
use rathaus_store::tenants::{self, Tenant};
use rathaus_store::{cases, documents, fees};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// An application to submit.
#[derive(Deserialize, ToSchema)]
pub struct SubmitBody {
    /// Id of the procedure, e.g. `gewerbeanmeldung`.
    #[schema(example = "gewerbeanmeldung")]
    pub procedure: String,
    /// The application in the procedure's canonical data model (see docs/procedures and the
    /// procedure's form.json): dotted keys are nested objects, dates are `YYYY-MM-DD`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Files for the procedure's file fields (attachments). Each is checked like an upload
    /// in the portal (kind by content, name ending, size) and listed with its SHA-256 on the
    /// receipt; the file field itself is left out of `data`.
    #[serde(default)]
    pub files: Vec<SubmitFile>,
}

/// A file attached to an application.
#[derive(Deserialize, ToSchema)]
pub struct SubmitFile {
    /// The file field's key in the procedure's form, e.g. `erlaubnis.kopie`.
    #[schema(example = "erlaubnis.kopie")]
    pub field: String,
    /// The file's name; its ending must match its content (`.pdf`, `.jpg`, `.png`).
    #[schema(example = "erlaubnis.pdf")]
    pub name: String,
    /// The file's content, Base64 (standard alphabet, with padding).
    pub content_base64: String,
}

/// The application was accepted for processing.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// Aktenzeichen.
    #[schema(example = "GEW-2026-000017")]
    pub reference: String,
    /// Secret that unlocks the case for its applicant. Shown only here.
    #[schema(example = "ACDE-FGHJ-KMNP")]
    pub access_code: String,
    /// `submitted` | `in_review` | `confirmed` | `rejected` | `closed`.
    pub status: String,
    /// `accepted` | `in_review` | `rejected` | `closed`.
    pub outcome: String,
    /// This case in the API (needs `access_code`).
    pub status_url: String,
    /// Where the applicant can follow the case in the portal.
    pub portal_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// Path of the field, e.g. `inhaber.anschrift.plz` or `vertretung[0].vornamen`.
    pub field: String,
    pub message: String,
}

/// The data is invalid; nothing was stored.
#[derive(Serialize, ToSchema)]
pub struct ValidationFailed {
    pub errors: Vec<FieldProblem>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `forbidden`, `not_found`, `unknown_procedure`,
    /// `procedure_not_active`, `bad_request`, `internal`.
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ApiError {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct Reason {
    pub code: String,
    pub text: String,
    pub legal_basis: String,
    /// `review` (a clerk must check) or `hinweis` (note).
    pub effect: String,
}

#[derive(Serialize, ToSchema)]
pub struct FeeInfo {
    #[schema(example = "26.00")]
    pub amount: String,
    #[schema(example = "EUR")]
    pub currency: String,
    pub kassenzeichen: String,
    pub due_date: String,
    pub legal_basis: String,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentInfo {
    pub id: String,
    /// `eingangsbestaetigung`, `bescheinigung`, `bescheid`, …; `anlage` for a file the
    /// applicant attached.
    pub kind: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: String,
    /// Download (needs the API key and `access_code`).
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationStatus {
    pub reference: String,
    pub procedure: String,
    pub status: String,
    pub outcome: String,
    pub reasons: Vec<Reason>,
    pub fee: Option<FeeInfo>,
    pub documents: Vec<DocumentInfo>,
    pub submitted_at: String,
    pub decided_at: Option<String>,
    /// When the case ended (Vorgang abgeschlossen); none while it is open, e.g. while a
    /// confirmed case waits for its fee.
    pub closed_at: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct AccessQuery {
    /// The access code returned on submission.
    pub access_code: Option<String>,
}

pub(crate) fn lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split([',', ';']).next())
        .and_then(Lang::parse)
        .unwrap_or_default()
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut res =
        (status, Json(ApiError { error: ErrorDetail { code: code.into(), message: message.into() } })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    res
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Interner Fehler; bitte später erneut versuchen.")
}

/// Authenticates the API key and checks it belongs to the tenant of the path.
pub(crate) async fn authorize(app: &AppState, headers: &HeaderMap, slug: &str) -> Result<(Tenant, Actor), Response> {
    let de = lang(headers) == Lang::De;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if de {
                "API-Schlüssel fehlt (Authorization: Bearer …)."
            } else {
                "API key missing (Authorization: Bearer …)."
            },
        ));
    };
    let mut conn = app.runtime.store.conn().await.map_err(internal)?;
    let owner =
        tenants::tenant_of_api_key(&mut conn, &app.runtime.secret_hash("api-key", token)).await.map_err(internal)?;
    let Some((tenant_id, key_id)) = owner else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if de { "Unbekannter oder widerrufener API-Schlüssel." } else { "Unknown or revoked API key." },
        ));
    };
    let tenant = tenants::by_slug(&mut conn, slug).await.map_err(internal)?;
    match tenant {
        Some(t) if t.tenant_id == tenant_id => Ok((t, Actor::ApiKey { key_id })),
        Some(_) => Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            if de {
                "Dieser API-Schlüssel gehört zu einem anderen Mandanten."
            } else {
                "This API key belongs to another tenant."
            },
        )),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            if de { "Diesen Mandanten gibt es nicht." } else { "No such tenant." },
        )),
    }
}

fn urls(app: &AppState, slug: &str, reference: &str) -> (String, String) {
    let base = app.public_url();
    (format!("{base}/api/v1/{slug}/applications/{reference}"), format!("{base}/{slug}/status"))
}

/// Submit an application.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/applications",
    params(("tenant" = String, Path, description = "Tenant slug, e.g. `musterstadt`")),
    request_body = SubmitBody,
    responses(
        (status = 201, description = "Stored and started; standard cases are already decided", body = Created),
        (status = 401, description = "No or unknown API key", body = ApiError),
        (status = 403, description = "API key of another tenant", body = ApiError),
        (status = 404, description = "Unknown tenant or procedure", body = ApiError),
        (status = 422, description = "Invalid data, nothing stored", body = ValidationFailed),
    ),
    security(("api_key" = []))
)]
pub async fn submit(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, actor) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let lang = lang(&headers);
    let body: SubmitBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("Ungültiges JSON: {e}. Erwartet: {{\"procedure\": \"…\", \"data\": {{…}}}}"),
            )
        }
    };
    let upload_key = rathaus_store::new_id();
    let mut data = body.data;
    if !body.files.is_empty() {
        if let Err(r) = store_files(&app, &tenant, &body.procedure, &upload_key, body.files, &mut data, lang).await {
            return r;
        }
    }
    let request = SubmitRequest {
        tenant: &tenant,
        procedure_id: &body.procedure,
        data: &data,
        channel: Channel::Api,
        lang,
        actor,
        upload_key: Some(&upload_key),
        account_id: None,
        business_id: None,
    };
    match app.runtime.submit(request).await {
        Ok(s) => {
            let (status_url, portal_url) = urls(&app, &slug, s.reference.as_str());
            let mut res = (
                StatusCode::CREATED,
                Json(Created {
                    reference: s.reference.to_string(),
                    access_code: s.access_code.as_str().to_string(),
                    status: s.status.code().into(),
                    outcome: s.status.outcome().code().into(),
                    status_url: status_url.clone(),
                    portal_url,
                }),
            )
                .into_response();
            if let Ok(v) = header::HeaderValue::from_str(&status_url) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        Err(RuntimeError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ValidationFailed {
                errors: errors.into_iter().map(|e| FieldProblem { field: e.field, message: e.message }).collect(),
            }),
        )
            .into_response(),
        Err(e) => runtime_error(e),
    }
}

/// The answer to a runtime error other than invalid data.
fn runtime_error(e: RuntimeError) -> Response {
    match e {
        RuntimeError::UnknownProcedure(p) => {
            error(StatusCode::NOT_FOUND, "unknown_procedure", format!("Das Verfahren „{p}“ gibt es nicht."))
        }
        RuntimeError::NotActive(p) => error(
            StatusCode::NOT_FOUND,
            "procedure_not_active",
            format!("Das Verfahren „{p}“ ist bei diesem Mandanten nicht freigeschaltet."),
        ),
        e => internal(e),
    }
}

/// Stores the files of an API submission as uploads under `upload_key` and adds their
/// references to `data`; a file that is refused (or names no file field) answers 422 with
/// every problem, and nothing is submitted.
async fn store_files(
    app: &AppState,
    tenant: &Tenant,
    procedure: &str,
    upload_key: &str,
    files: Vec<SubmitFile>,
    data: &mut Value,
    lang: Lang,
) -> Result<(), Response> {
    use base64::Engine;
    use rathaus_engine::form::{set_path, FieldKind};
    let active = match app.runtime.active_procedure(tenant, procedure).await {
        Ok(a) => a,
        Err(e) => return Err(runtime_error(e)),
    };
    let mut problems = Vec::new();
    let mut added: std::collections::BTreeMap<String, Vec<rathaus_domain::attachment::FileRef>> = Default::default();
    for (i, file) in files.into_iter().enumerate() {
        let Some(field) = active.procedure.form.field(&file.field).filter(|f| f.kind == FieldKind::File) else {
            problems.push(FieldProblem {
                field: format!("files[{i}].field"),
                message: match lang {
                    Lang::De => format!("„{}“ ist kein Dateifeld dieses Verfahrens.", file.field),
                    Lang::En => format!("“{}” is not a file field of this procedure.", file.field),
                },
            });
            continue;
        };
        let Ok(content) = base64::engine::general_purpose::STANDARD.decode(file.content_base64.trim()) else {
            problems.push(FieldProblem {
                field: format!("files[{i}].content_base64"),
                message: match lang {
                    Lang::De => format!("Der Inhalt der Datei „{}“ ist kein gültiges Base64.", file.name),
                    Lang::En => format!("The content of the file “{}” is not valid Base64.", file.name),
                },
            });
            continue;
        };
        let list = added.entry(field.key.clone()).or_default();
        let outcome = app
            .runtime
            .upload(rathaus_runtime::uploads::NewUpload {
                tenant,
                procedure_id: procedure,
                field,
                upload_key,
                file_name: &file.name,
                content: &content,
                existing: list.len(),
                keep_until: app.runtime.clock.now() + chrono::Duration::hours(1),
                lang,
            })
            .await;
        match outcome {
            Ok(Ok(r)) => list.push(r),
            Ok(Err(e)) => problems.push(FieldProblem { field: format!("files[{i}]"), message: e.message }),
            Err(e) => return Err(runtime_error(e)),
        }
    }
    if !problems.is_empty() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(ValidationFailed { errors: problems })).into_response());
    }
    for (key, list) in added {
        set_path(data, &key, serde_json::to_value(list).expect("file references serialise"));
    }
    Ok(())
}

async fn unlocked_case(
    app: &AppState,
    tenant: &Tenant,
    reference: &str,
    code: Option<&str>,
    headers: &HeaderMap,
) -> Result<cases::Case, Response> {
    let de = lang(headers) == Lang::De;
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            if de {
                "Kein Antrag mit diesem Aktenzeichen und Zugangscode."
            } else {
                "No application with this reference and access code."
            },
        )
    };
    let reference = Reference::parse(reference).ok_or_else(not_found)?;
    let Some(code) = code.and_then(AccessCode::parse) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if de {
                "Parameter access_code fehlt oder hat ein falsches Format."
            } else {
                "Parameter access_code missing or malformed."
            },
        ));
    };
    match app.unlock_case(tenant, &reference, &code, "api-status").await.map_err(internal)? {
        Unlock::Granted(c) => Ok(*c),
        Unlock::Denied => Err(not_found()),
        Unlock::Limited => Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            if de { "Zu viele Versuche; bitte 15 Minuten warten." } else { "Too many attempts; wait 15 minutes." },
        )),
    }
}

/// Status, outcome, reasons, fee and documents of an application.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/applications/{reference}",
    params(("tenant" = String, Path, description = "Tenant slug"), ("reference" = String, Path, description = "Aktenzeichen"), AccessQuery),
    responses(
        (status = 200, body = ApplicationStatus),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError),
        (status = 404, body = ApiError),
    ),
    security(("api_key" = []))
)]
pub async fn status(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    Query(q): Query<AccessQuery>,
    headers: HeaderMap,
) -> Response {
    let (tenant, _) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let case = match unlocked_case(&app, &tenant, &reference, q.access_code.as_deref(), &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result: Result<ApplicationStatus, rathaus_store::StoreError> = async {
        let mut conn = app.runtime.store.conn().await?;
        let status = CaseStatus::parse(&case.status).unwrap_or(CaseStatus::Submitted);
        let reasons = case
            .findings_json()?
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| Reason {
                code: b["code"].as_str().unwrap_or_default().into(),
                text: b["grund"].as_str().unwrap_or_default().into(),
                legal_basis: b["rechtsgrundlage"].as_str().unwrap_or_default().into(),
                effect: b["ergebnis"].as_str().unwrap_or_default().into(),
            })
            .collect();
        let fee =
            fees::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?.into_iter().last().map(|f| FeeInfo {
                amount: Money::from_cents(f.amount_cents).to_decimal_string(),
                currency: "EUR".into(),
                kassenzeichen: f.kassenzeichen,
                due_date: f.due_date,
                legal_basis: f.legal_basis,
            });
        let (status_url, _) = urls(&app, &slug, &case.reference);
        let documents = documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
            .await?
            .into_iter()
            .filter(|d| d.visible_to_applicant == 1)
            .map(|d| DocumentInfo {
                url: format!("{status_url}/documents/{}", d.document_id),
                id: d.document_id,
                kind: d.kind,
                title: d.title,
                file_name: d.file_name,
                media_type: d.media_type,
                size: d.size,
                sha256: d.sha256,
                created_at: d.created_at,
            })
            .collect();
        Ok(ApplicationStatus {
            reference: case.reference.clone(),
            procedure: case.procedure_id.clone(),
            status: status.code().into(),
            outcome: status.outcome().code().into(),
            reasons,
            fee,
            documents,
            submitted_at: case.submitted_at.clone(),
            decided_at: case.decided_at.clone(),
            closed_at: case.closed_at.clone(),
        })
    }
    .await;
    match result {
        Ok(s) => Json(s).into_response(),
        Err(e) => internal(e),
    }
}

/// A document of the application as PDF.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/applications/{reference}/documents/{document_id}",
    params(("tenant" = String, Path), ("reference" = String, Path), ("document_id" = String, Path), AccessQuery),
    responses(
        (status = 200, content_type = "application/pdf", description = "The PDF/A document"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError),
        (status = 404, body = ApiError),
    ),
    security(("api_key" = []))
)]
pub async fn document(
    State(app): State<AppState>,
    Path((slug, reference, document_id)): Path<(String, String, String)>,
    Query(q): Query<AccessQuery>,
    headers: HeaderMap,
) -> Response {
    let (tenant, _) = match authorize(&app, &headers, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let case = match unlocked_case(&app, &tenant, &reference, q.access_code.as_deref(), &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found = async {
        let mut conn = app.runtime.store.conn().await?;
        documents::content(&mut conn, &tenant.tenant_id, &case.case_id, &document_id).await
    }
    .await;
    match found {
        Ok(Some((meta, bytes))) if meta.visible_to_applicant == 1 => {
            match app.runtime.document_retrieved(&tenant.tenant_id, &meta, "api").await {
                Ok(()) => document_response(&meta, bytes),
                Err(e) => internal(e),
            }
        }
        Ok(_) => error(StatusCode::NOT_FOUND, "not_found", "Dokument nicht gefunden."),
        Err(e) => internal(e),
    }
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "API key of the tenant (one per tenant; the demo keys are in <data-dir>/demo-credentials.json)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rathaus Integration API", version = "1.0.0", description = "Submit applications to a municipality's procedures and follow them. Errors are JSON; messages are German unless `Accept-Language: en`.", license(name = "EUPL-1.2")),
    paths(
        submit,
        status,
        document,
        crate::engine_api::message,
        crate::engine_api::fetch_and_lock,
        crate::engine_api::complete,
        crate::engine_api::failure,
        crate::engine_api::bpmn_error,
        crate::engine_api::extend_lock,
        crate::engine_api::deployments,
        crate::finance::create,
        crate::finance::list,
        crate::finance::show,
        crate::finance::csv,
        crate::finance::import_statement
    ),
    components(schemas(
        SubmitBody,
        SubmitFile,
        Created,
        ValidationFailed,
        FieldProblem,
        ApiError,
        ErrorDetail,
        ApplicationStatus,
        Reason,
        FeeInfo,
        DocumentInfo,
        crate::engine_api::MessageBody,
        crate::engine_api::MessageResult,
        crate::engine_api::FetchBody,
        crate::engine_api::LockedJob,
        crate::engine_api::CompleteBody,
        crate::engine_api::FailureBody,
        crate::engine_api::BpmnErrorBody,
        crate::engine_api::ExtendBody,
        crate::engine_api::JobOutcome,
        crate::engine_api::DeploymentInfo,
        rathaus_runtime::finance::FinanceRun,
        rathaus_runtime::finance::Receivable,
        rathaus_runtime::finance::RunEntry,
        rathaus_runtime::reconciliation::ImportReport,
        rathaus_runtime::reconciliation::ImportedTransaction
    )),
    modifiers(&SecurityAddon)
)]
struct ApiDoc;

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().expect("OpenAPI serialises")
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}
