//! Errors of HTML handlers, rendered as pages. (The API has its own JSON errors.)

use crate::i18n::t;
use crate::render::render;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use rathaus_domain::Lang;
use rathaus_runtime::RuntimeError;
use rathaus_store::StoreError;

#[derive(Debug)]
pub enum AppError {
    NotFound,
    Forbidden,
    Csrf,
    /// A request the browser should never send (a malformed form body).
    BadRequest(String),
    /// A posted page larger than it may be (files too large together).
    TooLarge,
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<RuntimeError> for AppError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::NotFound | RuntimeError::UnknownProcedure(_) | RuntimeError::NotActive(_) => {
                AppError::NotFound
            }
            RuntimeError::Forbidden => AppError::Forbidden,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> Self {
        AppError::Internal(format!("{e:#}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

pub fn error_page(status: StatusCode, heading_key: &str, message_key: &str, lang: Lang) -> Response {
    let ctx = minijinja::context! { lang => lang.code(), other_lang => if lang == Lang::De { "en" } else { "de" },
    heading => t(lang, heading_key), message => t(lang, message_key) };
    match render("error.html", ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, t(lang, message_key)).into_response(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => {
                error_page(StatusCode::NOT_FOUND, "error.not_found_heading", "error.not_found", Lang::De)
            }
            AppError::Forbidden => {
                error_page(StatusCode::FORBIDDEN, "error.forbidden_heading", "error.forbidden", Lang::De)
            }
            AppError::Csrf => error_page(StatusCode::FORBIDDEN, "error.csrf_heading", "error.csrf", Lang::De),
            AppError::BadRequest(detail) => {
                tracing::info!(detail, "bad request");
                error_page(StatusCode::BAD_REQUEST, "error.bad_request_heading", "error.bad_request", Lang::De)
            }
            AppError::TooLarge => {
                error_page(StatusCode::PAYLOAD_TOO_LARGE, "error.too_large_heading", "error.too_large", Lang::De)
            }
            AppError::Internal(msg) => {
                tracing::error!(error = %msg, "request failed");
                error_page(StatusCode::INTERNAL_SERVER_ERROR, "error.internal_heading", "error.internal", Lang::De)
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
