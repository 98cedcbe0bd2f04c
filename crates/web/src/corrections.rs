//! Correcting a case's data (Angaben ändern): a clerk edits one page of the application in
//! the back office, with the form's own fields and rules, and gives a reason; the runtime
//! keeps the replaced version. Uploaded files are not edited here (new documents come
//! through the mailbox or a request); the page's state lives in the posted form only.

use crate::error::{AppError, AppResult};
use crate::formview::{anchor_for, apply_repeat_action, page_fields, Applied, Apply, Posted, ViewContext};
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::german_today;
use rathaus_domain::{CaseStatus, Lang};
use rathaus_engine::form::{Field, FieldError, FieldKind};
use rathaus_engine::Procedure;
use rathaus_runtime::corrections::{Corrected, MIN_REASON};
use rathaus_runtime::RuntimeError;
use rathaus_store::cases::Case;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// The fields of a page a clerk may change here: all but uploads.
fn editable(fields: &[Field]) -> Vec<Field> {
    fields.iter().filter(|f| f.kind != FieldKind::File).cloned().collect()
}

/// What the page shows again after a post.
#[derive(Default)]
struct Shown {
    errors: Vec<FieldError>,
    raw: HashMap<String, String>,
    reason: String,
    reason_error: Option<String>,
    /// A problem of the whole change (nothing changed).
    general: Option<String>,
}

struct Target {
    tenant: Tenant,
    case: Case,
    procedure: std::sync::Arc<Procedure>,
    /// Who corrects, for the audit trail.
    who: rathaus_store::audit::Actor,
}

fn render_page(
    t_: &Target,
    page_id: &str,
    data: &Json,
    shown: &Shown,
    lang: Lang,
    session: &mut crate::session::Session,
) -> AppResult<String> {
    let p = &t_.procedure;
    let page = p.form.page(page_id).ok_or(AppError::NotFound)?;
    let mut page_view = page.clone();
    page_view.fields = editable(&page.fields);
    let ctx = ViewContext { schema: &p.form, catalogues: &p.catalogues, errors: &shown.errors, raw: &shown.raw, lang };
    let fields = page_fields(&ctx, &page_view, data);
    let mut errors: Vec<Json> =
        shown.errors.iter().map(|e| json!({"anchor": anchor_for(&p.form, &e.field), "message": e.message})).collect();
    if let Some(e) = &shown.reason_error {
        errors.push(json!({"anchor": "aenderungsgrund", "message": e}));
    }
    if let Some(e) = &shown.general {
        errors.push(json!({"anchor": "aenderungsgrund", "message": e}));
    }
    let slug = &t_.tenant.slug;
    let case_id = &t_.case.case_id;
    let pages: Vec<Json> = p
        .form
        .visible_pages(data)
        .iter()
        .map(|pg| {
            json!({"id": pg.id, "title": pg.title.get(lang), "current": pg.id == page_id,
            "url": format!("/{slug}/intern/vorgaenge/{case_id}/angaben/{}", pg.id)})
        })
        .collect();
    Ok(render(
        "correction.html",
        context! {
            page => context! { id => page.id, title => page.title.get(lang) }, fields => fields, errors => errors,
            pages => pages, reference => t_.case.reference, case_id => case_id, procedure_name => p.manifest.name.get(lang),
            action_url => format!("/{slug}/intern/vorgaenge/{case_id}/angaben/{page_id}"),
            has_files => page.fields.iter().any(|f| f.kind == FieldKind::File),
            reason => shown.reason, reason_error => shown.reason_error, min_reason => MIN_REASON,
            ..base(lang, Some(&t_.tenant), Some(session))
        },
    )?)
}

/// The case and its procedure version, if the staff member may correct it; otherwise the
/// answer to give.
async fn target(
    app: &AppState,
    tenant: &Tenant,
    session: &mut crate::session::Session,
    case_id: &str,
    lang: Lang,
) -> AppResult<Result<Target, Response>> {
    let (ctx, case) = match crate::backoffice::case_work(app, tenant, session, case_id).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    if CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final) {
        session.data.flash = Some(t(lang, "correction.case_closed"));
        let to = format!("/{}/intern/vorgaenge/{case_id}", tenant.slug);
        return Ok(Err(Redirect::to(&to).into_response()));
    }
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    Ok(Ok(Target { tenant: tenant.clone(), case, procedure, who: crate::backoffice::actor(&ctx.staff) }))
}

pub async fn form(
    State(app): State<AppState>,
    Path((slug, case_id, page_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let target = match target(&app, &tenant, &mut session, &case_id, lang).await? {
        Ok(t) => t,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let data = target.case.data_json()?;
    if !target.procedure.form.visible_pages(&data).iter().any(|p| p.id == page_id) {
        return Err(AppError::NotFound);
    }
    let body = render_page(&target, &page_id, &data, &Shown::default(), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn save(
    State(app): State<AppState>,
    Path((slug, case_id, page_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let target = match target(&app, &tenant, &mut session, &case_id, lang).await? {
        Ok(t) => t,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let p = target.procedure.clone();
    let page = p.form.page(&page_id).ok_or(AppError::NotFound)?;
    let before = target.case.data_json()?;
    let mut data = before.clone();
    let mut applied = Applied::default();
    Apply { schema: &p.form, posted: &posted, lang }.apply_fields(
        &editable(&page.fields),
        "",
        &mut data,
        &before,
        &mut applied,
    );
    let reason = posted.text("aenderungsgrund");
    let mut shown = Shown { raw: applied.raw, reason: reason.clone(), ..Default::default() };
    if apply_repeat_action(page, &posted.text("_action"), &mut data) {
        let body = render_page(&target, &page_id, &data, &shown, lang, &mut session)?;
        return session.finish(&app, &slug, html(body)).await;
    }
    let converted: Vec<String> = applied.errors.iter().map(|e| e.field.clone()).collect();
    shown.errors = applied.errors;
    let today = german_today(app.runtime.clock.now());
    shown.errors.extend(
        p.form
            .validate_page(&page_id, &data, &p.catalogues, today, lang)
            .into_iter()
            .filter(|e| !converted.contains(&e.field)),
    );
    if reason.trim().chars().count() < MIN_REASON {
        shown.reason_error = Some(tf(lang, "correction.reason_missing", &[("n", &MIN_REASON.to_string())]));
    }
    let unprocessable = |shown: &Shown, data: &Json, session: &mut crate::session::Session| {
        render_page(&target, &page_id, data, shown, lang, session)
            .map(|body| (StatusCode::UNPROCESSABLE_ENTITY, axum::response::Html(body)).into_response())
    };
    if !shown.errors.is_empty() || shown.reason_error.is_some() {
        let r = unprocessable(&shown, &data, &mut session)?;
        return session.finish(&app, &slug, r).await;
    }
    let case_url = format!("/{slug}/intern/vorgaenge/{case_id}");
    match app.runtime.correct_case_data(&tenant, &target.case, &data, &reason, &target.who, lang).await {
        Ok(Corrected::Saved { version, changes }) => {
            session.data.flash = Some(tf(
                lang,
                "correction.saved",
                &[("version", &version.to_string()), ("n", &changes.len().to_string())],
            ));
            session.finish(&app, &slug, Redirect::to(&format!("{case_url}#aenderungen")).into_response()).await
        }
        Ok(Corrected::Unchanged) => {
            shown.general = Some(t(lang, "correction.unchanged"));
            let r = unprocessable(&shown, &data, &mut session)?;
            session.finish(&app, &slug, r).await
        }
        Ok(Corrected::Invalid(errors)) => {
            // The change breaks a rule that involves another page: named with that field.
            shown.errors = errors;
            let r = unprocessable(&shown, &data, &mut session)?;
            session.finish(&app, &slug, r).await
        }
        Err(RuntimeError::Conflict(message)) => {
            session.data.flash = Some(message);
            session.finish(&app, &slug, Redirect::to(&case_url).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}
