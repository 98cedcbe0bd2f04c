//! Forwarding a case to the competent authority (Abgabe): the clerk's form in the case
//! file, and the authority's page behind the link it is mailed.

use crate::backoffice::{actor, case_work, render_case_with, when, CaseForms};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, document_response, file_type_label, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::consultation::{MAX_NAME, MAX_TEXT};
use rathaus_domain::Lang;
use rathaus_engine::form::plausible_email;
use rathaus_engine::summary::summarize;
use rathaus_runtime::forwarding::{ForwardTo, OpenedForwarding};
use rathaus_runtime::RuntimeError;
use rathaus_store::documents;
use rathaus_store::forwardings::Forwarding;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

/// The shortest reason for a forwarding.
const MIN_REASON: usize = 10;

/// The forwarding form as posted, with its problems (field id → message).
#[derive(Debug, Default)]
pub(crate) struct ForwardForm {
    pub authority: String,
    pub email: String,
    pub reason: String,
    pub documents: bool,
    pub errors: Vec<(&'static str, String)>,
}

impl ForwardForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    fn read(posted: &Posted, lang: Lang) -> ForwardForm {
        let mut form = ForwardForm {
            authority: posted.text("abgabe_stelle"),
            email: posted.text("abgabe_email").trim().to_string(),
            reason: posted.text("abgabe_grund"),
            documents: posted.get("abgabe_anlagen") == Some("ja"),
            errors: Vec::new(),
        };
        let too_long = |n: usize| tf(lang, "forwarding.too_long", &[("n", &n.to_string())]);
        if form.authority.trim().is_empty() {
            form.errors.push(("abgabe_stelle", t(lang, "forwarding.authority_missing")));
        } else if form.authority.chars().count() > MAX_NAME {
            form.errors.push(("abgabe_stelle", too_long(MAX_NAME)));
        }
        if form.email.is_empty() {
            form.errors.push(("abgabe_email", t(lang, "forwarding.email_missing")));
        } else if !plausible_email(&form.email) {
            form.errors.push(("abgabe_email", t(lang, "forwarding.email_invalid")));
        }
        if form.reason.trim().chars().count() < MIN_REASON {
            form.errors
                .push(("abgabe_grund", tf(lang, "forwarding.reason_missing", &[("n", &MIN_REASON.to_string())])));
        } else if form.reason.chars().count() > MAX_TEXT {
            form.errors.push(("abgabe_grund", too_long(MAX_TEXT)));
        }
        form
    }
}

/// The case's forwardings for the case file: to whom, why, the link while it works, when
/// mailed and retrieved.
pub(crate) fn forwarding_views(app: &AppState, tenant: &Tenant, forwardings: &[Forwarding], lang: Lang) -> Vec<Json> {
    let now = app.runtime.clock.now();
    forwardings
        .iter()
        .map(|f| {
            let valid = rathaus_store::parse_ts(&f.expires_at).is_ok_and(|e| e > now);
            json!({"authority": f.authority, "email": f.email, "reason": f.reason, "by": f.forwarded_by,
                "at": when(&f.created_at), "until": when(&f.expires_at), "documents": f.share_documents == 1,
                "mailed": f.mailed_at.as_deref().map(when), "retrieved": f.retrieved_at.as_deref().map(when),
                "state": if f.retrieved_at.is_some() { t(lang, "forwarding.retrieved") } else { t(lang, "forwarding.not_retrieved") },
                "link": valid.then(|| app.runtime.forwarding_link(tenant, &f.forwarding_id))})
        })
        .collect()
}

/// A clerk forwards the case.
pub async fn create(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let (ctx, case) = match case_work(&app, &tenant, &session, &case_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let form = ForwardForm::read(&posted, lang);
    if !form.errors.is_empty() {
        let forms = CaseForms { forward: form, ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case.case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let to = ForwardTo {
        authority: form.authority.trim(),
        email: &form.email,
        reason: form.reason.trim(),
        share_documents: form.documents,
    };
    let message = match app
        .runtime
        .forward_case(&tenant, &case.case_id, &to, &actor(&ctx.staff), &ctx.staff.display_name)
        .await
    {
        Ok(_) => tf(lang, "forwarding.done", &[("authority", to.authority)]),
        Err(RuntimeError::Conflict(m)) => m,
        Err(e) => return Err(e.into()),
    };
    session.data.flash = Some(message);
    let back = format!("/{slug}/intern/vorgaenge/{}#abgabe", case.case_id);
    session.finish(&app, &slug, Redirect::to(&back).into_response()).await
}

/// The authority's page: the forwarded application, its attachments if shared. The first
/// opening is recorded.
pub async fn page(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let opened = match app.runtime.open_forwarding(&tenant, &token).await? {
        Some(o) if !o.expired => o,
        other => {
            let gone = other.is_some().then_some(("forwarding.expired_heading", "forwarding.expired"));
            let response = crate::consultations::link_gone_page(&tenant, lang, &mut session, gone)?;
            return session.finish(&app, &slug, response.into_response()).await;
        }
    };
    app.runtime.record_forwarding_retrieval(&tenant, &opened).await?;
    let OpenedForwarding { forwarding: f, case, .. } = &opened;
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let sections = summarize(&procedure.form, &case.data_json()?, &procedure.catalogues, lang);
    let documents: Vec<Json> = if f.share_documents == 1 {
        let mut conn = app.runtime.store.conn().await?;
        let metas = documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?;
        metas
            .into_iter()
            .filter(|m| m.kind == "anlage")
            .map(|m| {
                json!({"title": m.title, "file_name": m.file_name, "type": file_type_label(&m.media_type),
                "url": format!("/{slug}/abgabe/{token}/dokumente/{}", m.document_id)})
            })
            .collect()
    } else {
        Vec::new()
    };
    let body = render(
        "forwarding.html",
        context! {
            reference => case.reference, procedure_name => procedure.manifest.name.get(lang), authority => f.authority,
            reason => f.reason, by => f.forwarded_by, at => when(&f.created_at), until => when(&f.expires_at),
            received => crate::backoffice::received_label(case), sections => sections, documents => documents,
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

/// An attachment of a forwarded application, if the clerk shared them.
pub async fn document(
    State(app): State<AppState>,
    Path((slug, token, document_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let opened = app.runtime.open_forwarding(&tenant, &token).await?.ok_or(AppError::NotFound)?;
    if opened.expired || opened.forwarding.share_documents != 1 {
        return Err(AppError::NotFound);
    }
    let mut conn = app.runtime.store.conn().await?;
    let (meta, bytes) = documents::content(&mut conn, &tenant.tenant_id, &opened.case.case_id, &document_id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    // Only the applicant's attachments go with the application, never this town's letters.
    if meta.kind != "anlage" {
        return Err(AppError::NotFound);
    }
    session.finish(&app, &slug, document_response(&meta, bytes)).await
}
