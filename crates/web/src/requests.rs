//! Requests for missing documents or information (Nachforderung) in the portal: the clerk
//! asks from the case file, with a deadline, and may withdraw the request; the applicant
//! sees what is asked on the status page and answers in the mailbox.

use crate::backoffice::{actor, case_work, render_case_with, CaseForms};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use rathaus_domain::request::{check_ahead, DueProblem};
use rathaus_domain::time::{german_day, parse_day};
use rathaus_domain::Lang;
use rathaus_runtime::requests::{DocumentRequest, RequestState, MAX_TEXT};
use serde_json::{json, Value as Json};

/// The request form as posted, with its problems.
#[derive(Debug, Default)]
pub(crate) struct RequestForm {
    pub what: String,
    pub due: String,
    pub what_error: Option<String>,
    pub due_error: Option<String>,
}

/// Requests for a page: what, by when, and where they stand; `withdraw_base` gives the
/// clerk's withdraw address (none for the applicant).
pub(crate) fn request_views(requests: &[DocumentRequest], lang: Lang, withdraw_base: Option<&str>) -> Vec<Json> {
    requests
        .iter()
        .map(|r| {
            let state = r.state();
            json!({"what": r.body, "due": german_day(&r.due_date), "state": t(lang, &format!("request.state_{}", state.code())),
                "code": state.code(), "waiting": r.waiting(), "by": r.requested_by,
                "withdraw": withdraw_base.filter(|_| r.waiting()).map(|b| format!("{b}/{}/zuruecknehmen", r.request_id))})
        })
        .collect()
}

/// The requests that wait for the applicant, for the status page.
pub(crate) fn waiting_views(requests: &[DocumentRequest], lang: Lang) -> Vec<Json> {
    requests
        .iter()
        .filter(|r| r.waiting())
        .map(|r| {
            let overdue = r.state() == RequestState::Overdue;
            json!({"what": r.body, "due": tf(lang, if overdue { "request.due_passed" } else { "request.due_by" }, &[("date", &german_day(&r.due_date))])})
        })
        .collect()
}

/// A deadline as a clerk typed it (`2026-12-14` from a date input, or `14.12.2026`),
/// after today and at most `max_days` ahead; or the message saying what is wrong.
pub(crate) fn parse_due(app: &AppState, lang: Lang, typed: &str, max_days: i64) -> Result<NaiveDate, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(t(lang, "request.due_missing"));
    }
    let due = parse_day(typed).ok_or_else(|| t(lang, "request.due_invalid"))?;
    match check_ahead(app.runtime.clock.now(), due, max_days) {
        Ok(()) => Ok(due),
        Err(DueProblem::NotInFuture) => Err(t(lang, "request.due_not_future")),
        Err(DueProblem::TooFar) => Err(tf(lang, "request.due_too_far", &[("n", &max_days.to_string())])),
    }
}

/// A clerk asks the applicant for documents or information.
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
    let mut form = RequestForm { what: posted.text("was"), due: posted.text("frist"), ..Default::default() };
    form.what_error = if form.what.is_empty() {
        Some(t(lang, "request.what_missing"))
    } else if form.what.chars().count() > MAX_TEXT {
        Some(tf(lang, "request.what_too_long", &[("n", &MAX_TEXT.to_string())]))
    } else {
        None
    };
    let due = parse_due(&app, lang, &form.due, rathaus_domain::request::MAX_DAYS);
    form.due_error = due.as_ref().err().cloned();
    let (Ok(due), None) = (due, &form.what_error) else {
        let forms = CaseForms { request: form, ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    };
    app.runtime.request_documents(&tenant, &case, &actor(&ctx.staff), &ctx.staff.display_name, &form.what, due).await?;
    session.data.flash = Some(tf(lang, "request.sent", &[("date", &due.format("%d.%m.%Y").to_string())]));
    session
        .finish(
            &app,
            &slug,
            Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#nachforderungen")).into_response(),
        )
        .await
}

/// A clerk withdraws a waiting request.
pub async fn withdraw(
    State(app): State<AppState>,
    Path((slug, case_id, request_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let (ctx, case) = match case_work(&app, &tenant, &session, &case_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    if !app.runtime.withdraw_request(&tenant, &case, &actor(&ctx.staff), &request_id).await? {
        return Err(AppError::NotFound);
    }
    session.data.flash = Some(t(lang, "request.withdrawn"));
    session
        .finish(
            &app,
            &slug,
            Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#nachforderungen")).into_response(),
        )
        .await
}
