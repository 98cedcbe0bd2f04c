//! Saving an application to finish it later: "Zwischenspeichern" on any form page saves the
//! answers as a draft and shows a link to resume it (and sends it by e-mail on request);
//! the link opens the draft in any browser until it expires.

use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{active, base, html, redirect};
use crate::render::render;
use crate::session::{SavedDraftLink, Session};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::{german_date, german_today};
use rathaus_domain::Lang;
use rathaus_runtime::DraftLookup;
use rathaus_store::tenants::Tenant;
use serde_json::Value as Json;

/// Saves the procedure's draft of this session in the database (a new draft, or the one
/// resumed or saved before) and remembers its new link for the confirmation page.
pub(crate) async fn save(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    procedure: &str,
    data: &Json,
) -> AppResult<()> {
    let draft_id = session.data.draft_ids.entry(procedure.to_string()).or_insert_with(rathaus_store::new_id).clone();
    let upload_key = session.data.upload_keys.get(procedure).cloned();
    let account = session.data.account.clone();
    let owner = account.as_ref().map(|a| rathaus_runtime::DraftOwner {
        account_id: &a.account_id,
        business_id: a.acting_for.as_ref().map(|b| b.business_id.as_str()),
    });
    let saved = app.runtime.save_draft(tenant, &draft_id, procedure, data, upload_key.as_deref(), owner).await?;
    session.data.saved_draft = Some(SavedDraftLink {
        procedure: procedure.to_string(),
        token: saved.token,
        expires: rathaus_store::ts(saved.expires),
    });
    Ok(())
}

fn resume_url(app: &AppState, tenant: &Tenant, token: &str) -> String {
    format!("{}/{}/entwurf/{token}", app.public_url(), tenant.slug)
}

/// The state of the page's e-mail form.
#[derive(Default)]
struct MailForm {
    error: Option<String>,
    /// The address as typed, shown again with its error.
    value: Option<String>,
    /// The address the link was just sent to.
    sent_to: Option<String>,
}

fn render_saved(
    app: &AppState,
    tenant: &Tenant,
    procedure: &str,
    link: &SavedDraftLink,
    mail: MailForm,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let expires = rathaus_store::parse_ts(&link.expires)?;
    Ok(render(
        "draft_saved.html",
        context! {
            resume_url => resume_url(app, tenant, &link.token),
            expires => german_date(expires),
            email_error => mail.error,
            email_value => mail.value,
            sent_to => mail.sent_to,
            mail_enabled => app.runtime.mail.is_some(),
            action_url => format!("/{}/antrag/{procedure}/gespeichert", tenant.slug),
            continue_url => format!("/{}/antrag/{procedure}/pruefen", tenant.slug),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

/// The confirmation after saving: the link, its expiry, and the form to send it by e-mail.
pub async fn saved(
    State(app): State<AppState>,
    Path((slug, procedure)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    active(&app, &tenant, &procedure).await?;
    let Some(link) = session.data.saved_draft.clone().filter(|l| l.procedure == procedure) else {
        // Nothing saved in this browser: back to the application.
        return session.finish(&app, &slug, redirect(&format!("/{slug}/leistungen/{procedure}"))).await;
    };
    let body = render_saved(&app, &tenant, &procedure, &link, MailForm::default(), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

/// Sends the link of the draft just saved to an e-mail address. The mail holds the link
/// and the expiry, no answers of the application; the address is not stored.
pub async fn send_link(
    State(app): State<AppState>,
    Path((slug, procedure)): Path<(String, String)>,
    visit: Visit,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let form = Posted::new(form);
    session.verify_csrf(form.get("_csrf"))?;
    active(&app, &tenant, &procedure).await?;
    let Some(link) = session.data.saved_draft.clone().filter(|l| l.procedure == procedure) else {
        return session.finish(&app, &slug, redirect(&format!("/{slug}/leistungen/{procedure}"))).await;
    };
    // Without mail the page offers no e-mail form.
    let Some(mail) = app.runtime.mail.as_ref() else { return Err(AppError::NotFound) };
    let email = form.text("email");
    let problem = if email.is_empty() {
        Some(t(lang, "draft.email_missing"))
    } else if !rathaus_engine::form::plausible_email(&email) {
        Some(t(lang, "draft.email_invalid"))
    } else {
        None
    };
    if let Some(problem) = problem {
        let body = render_saved(
            &app,
            &tenant,
            &procedure,
            &link,
            MailForm { error: Some(problem), value: Some(email), sent_to: None },
            lang,
            &mut session,
        )?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    // Not a relay for mail to strangers: a limit per browser session and per address.
    if !app.limiter.mail_allowed("draft", &tenant.tenant_id, session.csrf(), &email) {
        let problem = Some(t(lang, "draft.mail_limit"));
        let body = render_saved(
            &app,
            &tenant,
            &procedure,
            &link,
            MailForm { error: problem, value: Some(email), sent_to: None },
            lang,
            &mut session,
        )?;
        return session.finish(&app, &slug, (StatusCode::TOO_MANY_REQUESTS, Html(body)).into_response()).await;
    }
    let expires = german_date(rathaus_store::parse_ts(&link.expires)?);
    let url = resume_url(&app, &tenant, &link.token);
    let subject = tf(lang, "draft.mail_subject", &[("tenant", &tenant.name)]);
    let text = tf(lang, "draft.mail_body", &[("tenant", &tenant.name), ("link", &url), ("expires", &expires)]);
    match mail.send(&email, &subject, &text).await {
        Ok(()) => {
            let body = render_saved(
                &app,
                &tenant,
                &procedure,
                &link,
                MailForm { sent_to: Some(email.clone()), ..Default::default() },
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, html(body)).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "resume link not sent");
            let problem = Some(t(lang, "draft.mail_failed"));
            let body = render_saved(
                &app,
                &tenant,
                &procedure,
                &link,
                MailForm { error: problem, value: Some(email), sent_to: None },
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, (StatusCode::BAD_GATEWAY, Html(body)).into_response()).await
        }
    }
}

/// Opens a saved draft in this browser and continues at the first page that still needs
/// an answer (or at the check page when none does).
pub async fn resume(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let row = match app.runtime.find_draft(&tenant.tenant_id, &token).await? {
        DraftLookup::Found(row) => row,
        other => {
            let (heading, message, status) = match other {
                DraftLookup::Expired => (
                    t(lang, "draft.expired_heading"),
                    tf(lang, "draft.expired", &[("days", &tenant.settings.drafts_kept_days().to_string())]),
                    StatusCode::GONE,
                ),
                _ => (t(lang, "draft.unknown_heading"), t(lang, "draft.unknown"), StatusCode::NOT_FOUND),
            };
            let body = render(
                "error.html",
                context! { heading => heading, message => message, ..base(lang, Some(&tenant), Some(&mut session)) },
            )?;
            return session.finish(&app, &slug, (status, Html(body)).into_response()).await;
        }
    };
    let next = open(&app, &tenant, &mut session, &row, lang).await?;
    session.finish(&app, &slug, redirect(&next)).await
}

/// Opens a saved draft in this session; returns the address to continue at: the first page
/// that still needs an answer, or the check page when none does.
pub(crate) async fn open(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    row: &rathaus_store::drafts::DraftRow,
    lang: Lang,
) -> AppResult<String> {
    let a = active(app, tenant, &row.procedure_id).await?;
    let data = row.data()?;
    let procedure = a.procedure.id().to_string();
    session.data.drafts.insert(procedure.clone(), data.clone());
    session.data.draft_ids.insert(procedure.clone(), row.draft_id.clone());
    match &row.upload_key {
        // The files uploaded before saving go on with the draft.
        Some(key) => session.data.upload_keys.insert(procedure.clone(), key.clone()),
        None => session.data.upload_keys.remove(&procedure),
    };
    let today = german_today(app.runtime.clock.now());
    let form = &a.procedure.form;
    let next = form
        .visible_pages(&data)
        .into_iter()
        .find(|p| !form.validate_page(&p.id, &data, &a.procedure.catalogues, today, lang).is_empty())
        .map(|p| p.id.clone())
        .unwrap_or_else(|| "pruefen".into());
    Ok(format!("/{}/antrag/{procedure}/{next}", tenant.slug))
}
