//! The applicant's side of a case's mailbox: the messages with the authority and a form to
//! write, with a file if need be (`/{tenant}/vorgang/{reference}/nachrichten`). Open to whoever
//! may see the case: the browser it was submitted in, with the access code, or the account.

use crate::attachments::PostedForm;
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, granted_case, html, redirect};
use crate::render::render;
use crate::session::Session;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use rathaus_domain::Lang;
use rathaus_runtime::mailbox::{MessageFile, MESSAGE_FILE_MAX_BYTES, MESSAGE_MAX_CHARS};
use rathaus_store::cases::Case;
use rathaus_store::tenants::Tenant;
use serde_json::json;

struct FormState {
    text: String,
    text_error: Option<String>,
    file_error: Option<String>,
}

async fn render_mailbox(
    app: &AppState,
    tenant: &Tenant,
    case: &Case,
    form: FormState,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let documents_base = format!("/{}/vorgang/{}/dokumente", tenant.slug, case.reference);
    let files = {
        let mut conn = app.runtime.store.conn().await?;
        rathaus_store::documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?
    };
    let messages =
        crate::backoffice::message_views(app, tenant, &case.case_id, &files, lang, &documents_base, true).await?;
    let mut errors = Vec::new();
    if let Some(e) = &form.text_error {
        errors.push(json!({"anchor": "nachricht", "message": e}));
    }
    if let Some(e) = &form.file_error {
        errors.push(json!({"anchor": "datei", "message": e}));
    }
    Ok(render(
        "mailbox.html",
        context! {
            reference => case.reference, messages => messages, errors => errors,
            text => form.text, text_error => form.text_error, file_error => form.file_error,
            file_hint => tf(lang, "mailbox.file_hint", &[("mb", &(MESSAGE_FILE_MAX_BYTES / (1024 * 1024)).to_string())]),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn page(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let case = match granted_case(&app, &tenant, &session, &reference).await {
        Ok(c) => c,
        Err(AppError::Forbidden) => return session.finish(&app, &slug, redirect(&format!("/{slug}/status"))).await,
        Err(e) => return Err(e),
    };
    let form = FormState { text: String::new(), text_error: None, file_error: None };
    let body = render_mailbox(&app, &tenant, &case, form, lang, &mut session).await?;
    // Shown: the authority's messages are read.
    app.runtime.mark_messages_read(&tenant, &case.case_id, rathaus_store::mailbox::OUT).await?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn send(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    visit: Visit,
    form: PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let PostedForm { pairs, files } = form;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let case = granted_case(&app, &tenant, &session, &reference).await?;
    let text = posted.get("nachricht").unwrap_or("").trim().to_string();
    let file = files.iter().find(|f| f.field == "datei");
    let text_error = if text.is_empty() && file.is_none() {
        Some(t(lang, "mailbox.text_missing"))
    } else if text.chars().count() > MESSAGE_MAX_CHARS {
        Some(tf(lang, "mailbox.text_too_long", &[("n", &MESSAGE_MAX_CHARS.to_string())]))
    } else {
        None
    };
    let mut state = FormState { text, text_error, file_error: None };
    if state.text_error.is_none() {
        let label = t(lang, "mailbox.file_label");
        let message_file =
            file.map(|f| MessageFile { name: &f.file_name, content: &f.content, field: "datei", label: &label });
        match app.runtime.message_from_applicant(&tenant, &case, &state.text, message_file, lang).await? {
            Ok(_) => {
                session.data.flash = Some(t(lang, "mailbox.sent_to_authority"));
                let to = format!("/{slug}/vorgang/{}/nachrichten", case.reference);
                return session.finish(&app, &slug, redirect(&to)).await;
            }
            Err(refused) => state.file_error = Some(refused.message),
        }
    }
    let body = render_mailbox(&app, &tenant, &case, state, lang, &mut session).await?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}
