//! Attachments on form pages: a page with a file field is posted as `multipart/form-data`;
//! the files chosen are checked and stored at once (so that nothing uploaded is lost when
//! another answer on the page still has an error), listed on the page with a button to
//! remove each, and moved into the case on submission.

use crate::error::{AppError, AppResult};
use crate::session::Session;
use crate::AppState;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::Form;
use rathaus_domain::attachment::FileRef;
use rathaus_domain::Lang;
use rathaus_engine::form::{get_path, set_path, FieldKind, Page};
use rathaus_engine::messages::{msg, Msg};
use rathaus_engine::FieldError;
use rathaus_runtime::uploads::{NewUpload, MAX_BYTES_PER_APPLICATION};
use rathaus_runtime::ActiveProcedure;
use rathaus_store::tenants::Tenant;
use serde_json::Value as Json;

/// Most bytes one form page may post: all its files together (the per-application limit)
/// and the answers.
pub const MAX_PAGE_BYTES: usize = MAX_BYTES_PER_APPLICATION as usize + 1024 * 1024;

/// A file chosen in a file input.
pub struct PostedFile {
    /// The input's name (the field key).
    pub field: String,
    pub file_name: String,
    pub content: axum::body::Bytes,
}

/// A posted form page: its fields, and the files if it was sent as `multipart/form-data`.
pub struct PostedForm {
    pub pairs: Vec<(String, String)>,
    pub files: Vec<PostedFile>,
}

impl FromRequest<AppState> for PostedForm {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &AppState) -> Result<PostedForm, AppError> {
        let multipart = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, app)
                .await
                .map_err(|e| AppError::BadRequest(e.body_text()))?;
            return Ok(PostedForm { pairs, files: Vec::new() });
        }
        let mut form = Multipart::from_request(req, app).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
        let mut posted = PostedForm { pairs: Vec::new(), files: Vec::new() };
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::TooLarge),
                Err(e) => return Err(AppError::BadRequest(e.body_text())),
            };
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let content = match field.bytes().await {
                Ok(b) => b,
                Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::TooLarge),
                Err(e) => return Err(AppError::BadRequest(e.body_text())),
            };
            match file_name {
                // An input left empty is sent as a part without a file name and content.
                Some(file_name) if !file_name.is_empty() || !content.is_empty() => {
                    posted.files.push(PostedFile { field: name, file_name, content })
                }
                Some(_) => {}
                None => posted.pairs.push((name, String::from_utf8_lossy(&content).into_owned())),
            }
        }
        Ok(posted)
    }
}

/// The upload key of the session's application of `procedure` (created on first use).
pub fn upload_key(session: &mut Session, procedure: &str) -> String {
    session.data.upload_keys.entry(procedure.to_string()).or_insert_with(rathaus_store::new_id).clone()
}

/// The files of a file field in the data.
pub fn files_of(data: &Json, key: &str) -> Vec<FileRef> {
    get_path(data, key).and_then(FileRef::list_of).unwrap_or_default()
}

/// Stores the files posted with a page and adds them to `data`; a file that is refused adds
/// an error for its field instead. Files for fields that are not on this page, or not
/// shown for the answers, are ignored (nothing the procedure does not ask for is stored).
#[allow(clippy::too_many_arguments)]
pub async fn store_posted(
    app: &AppState,
    tenant: &Tenant,
    active: &ActiveProcedure,
    page: &Page,
    session: &mut Session,
    files: Vec<PostedFile>,
    data: &mut Json,
    lang: Lang,
    errors: &mut Vec<FieldError>,
) -> AppResult<usize> {
    let procedure = active.procedure.id();
    let mut stored = 0;
    for file in files {
        let Some(field) = page.fields.iter().find(|f| f.key == file.field && f.kind == FieldKind::File) else {
            continue;
        };
        if !active.procedure.form.field_visible(field, data) {
            continue;
        }
        let key = upload_key(session, procedure);
        let mut list = files_of(data, &field.key);
        let days = if session.data.draft_ids.contains_key(procedure) {
            i64::from(tenant.settings.drafts_kept_days())
        } else {
            1
        };
        let outcome = app
            .runtime
            .upload(NewUpload {
                tenant,
                procedure_id: procedure,
                field,
                upload_key: &key,
                file_name: &file.file_name,
                content: &file.content,
                existing: list.len(),
                keep_until: app.runtime.clock.now() + chrono::Duration::days(days),
                lang,
            })
            .await?;
        match outcome {
            Ok(r) => {
                list.push(r);
                set_path(data, &field.key, serde_json::to_value(&list).expect("file references serialise"));
                stored += 1;
            }
            Err(e) => {
                if !errors.iter().any(|x| x.field == e.field) {
                    errors.push(e);
                }
            }
        }
    }
    Ok(stored)
}

/// What a page's file buttons asked for.
pub enum FileAction {
    /// "Hochladen": stay on the page (with an error if no file was chosen).
    Upload { field: String },
    /// "Entfernen" beside a file.
    Remove { field: String, upload_id: String },
}

impl FileAction {
    pub fn parse(action: &str) -> Option<FileAction> {
        if let Some(field) = action.strip_prefix("upload:") {
            return Some(FileAction::Upload { field: field.to_string() });
        }
        let (field, id) = action.strip_prefix("remove_file:")?.rsplit_once(':')?;
        Some(FileAction::Remove { field: field.to_string(), upload_id: id.to_string() })
    }
}

/// Carries out a page's file button; returns an error for the field if "Hochladen" was
/// pressed without a file (and none was stored).
#[allow(clippy::too_many_arguments)]
pub async fn apply_action(
    app: &AppState,
    tenant: &Tenant,
    page: &Page,
    session: &mut Session,
    procedure: &str,
    action: FileAction,
    stored: usize,
    data: &mut Json,
    lang: Lang,
) -> AppResult<Option<FieldError>> {
    match action {
        FileAction::Upload { field } => {
            let Some(f) = page.fields.iter().find(|f| f.key == field && f.kind == FieldKind::File) else {
                return Ok(None);
            };
            if stored == 0 {
                return Ok(Some(FieldError {
                    field: f.key.clone(),
                    message: msg(lang, Msg::FileNotChosen, &[f.label.get(lang)]),
                }));
            }
            Ok(None)
        }
        FileAction::Remove { field, upload_id } => {
            let mut list = files_of(data, &field);
            let before = list.len();
            list.retain(|f| f.id != upload_id);
            if list.len() != before {
                if let Some(key) = session.data.upload_keys.get(procedure) {
                    app.runtime.remove_upload(&tenant.tenant_id, key, &upload_id).await?;
                }
                if list.is_empty() {
                    rathaus_engine::form::remove_path(data, &field);
                } else {
                    set_path(data, &field, serde_json::to_value(&list).expect("file references serialise"));
                }
            }
            Ok(None)
        }
    }
}
