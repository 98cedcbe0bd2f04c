//! The link of an Abschrift: the body it was mailed to (the police) opens the document
//! (PDF) without an account, while the link is valid.

use crate::error::{AppError, AppResult};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;

pub async fn open(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let (meta, bytes) = app.runtime.open_copy(&tenant, &token).await?.ok_or(AppError::NotFound)?;
    session.finish(&app, &slug, crate::portal::document_response(&meta, bytes)).await
}
