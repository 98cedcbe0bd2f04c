//! Withdrawing an application (Rücknahme) in the portal: the applicant confirms it on a page
//! of its own; a clerk records a withdrawal that came another way in the case file.

use crate::backoffice::{actor, case_work, render_case_with, CaseForms};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::t;
use crate::portal::{base, granted_case, html, redirect};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::{CaseStatus, Lang};
use rathaus_runtime::{RuntimeError, Withdrawal};
use rathaus_store::cases::Case;
use rathaus_store::tenants::Tenant;

/// The longest note a clerk gives with a recorded withdrawal.
pub const MAX_NOTE: usize = 500;

/// Whether the case can still be withdrawn.
pub(crate) fn withdrawable(case: &Case) -> bool {
    !CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final)
}

fn page(
    tenant: &Tenant,
    case: &Case,
    error: Option<String>,
    lang: Lang,
    session: &mut crate::session::Session,
) -> AppResult<String> {
    let errors: Vec<serde_json::Value> =
        error.iter().map(|e| serde_json::json!({"anchor": "bestaetigung", "message": e})).collect();
    Ok(render(
        "withdraw.html",
        context! {
            reference => case.reference, error => error, errors => errors,
            confirm_label => crate::i18n::tf(lang, "withdraw.confirm_label", &[("reference", &case.reference)]),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

/// The applicant's confirmation page.
pub async fn form(
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
    if !withdrawable(&case) {
        return session.finish(&app, &slug, redirect(&format!("/{slug}/vorgang/{reference}"))).await;
    }
    let body = page(&tenant, &case, None, lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

/// The applicant withdraws, having ticked the confirmation.
pub async fn withdraw(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let case = match granted_case(&app, &tenant, &session, &reference).await {
        Ok(c) => c,
        Err(AppError::Forbidden) => return session.finish(&app, &slug, redirect(&format!("/{slug}/status"))).await,
        Err(e) => return Err(e),
    };
    if posted.text("bestaetigung") != "ja" {
        let body = page(&tenant, &case, Some(t(lang, "withdraw.confirm_missing")), lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    session.data.flash = Some(match app.runtime.withdraw_case(&tenant, &case.case_id, &Withdrawal::Applicant).await {
        Ok(()) => t(lang, "withdraw.done"),
        Err(RuntimeError::Conflict(_)) => t(lang, "withdraw.too_late"),
        Err(e) => return Err(e.into()),
    });
    session.finish(&app, &slug, redirect(&format!("/{slug}/vorgang/{reference}"))).await
}

/// A clerk records a withdrawal that came by letter, e-mail or phone.
pub async fn record(
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
    let note = posted.text("vermerk");
    let problem = if note.is_empty() {
        Some(t(lang, "withdraw.note_missing"))
    } else if note.chars().count() > MAX_NOTE {
        Some(crate::i18n::tf(lang, "withdraw.note_too_long", &[("n", &MAX_NOTE.to_string())]))
    } else {
        None
    };
    if let Some(problem) = problem {
        let forms = CaseForms { withdraw: Some((note, problem)), ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let how = Withdrawal::Recorded { actor: actor(&ctx.staff), note };
    session.data.flash = Some(match app.runtime.withdraw_case(&tenant, &case.case_id, &how).await {
        Ok(()) => t(lang, "withdraw.recorded"),
        Err(RuntimeError::Conflict(_)) => t(lang, "withdraw.too_late_staff"),
        Err(e) => return Err(e.into()),
    });
    session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}")).into_response()).await
}
