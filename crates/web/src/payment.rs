//! Paying a fee online: the button on the case status, the built-in test provider's pages
//! („Testkasse“, demo only) and the provider's signed answer coming back.

use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::t;
use crate::portal::{base, html, redirect};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::Money;
use rathaus_runtime::payments::{Outcome, PaymentAnswer, TestProvider};
use rathaus_runtime::RuntimeError;
use std::collections::BTreeMap;

/// „Jetzt online bezahlen“ on the case status: starts the payment and sends the applicant
/// to the provider.
pub async fn start(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    visit: Visit,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    session.verify_csrf(Posted::new(form).get("_csrf"))?;
    let case = crate::portal::granted_case(&app, &tenant, &session, &reference).await?;
    let url = app.runtime.start_payment(&tenant, &case.case_id).await?;
    session.finish(&app, &slug, redirect(&url)).await
}

fn test_provider(app: &AppState) -> AppResult<TestProvider> {
    match app.runtime.payments.get().map(|p| p.name()) {
        Some("testkasse") => Ok(TestProvider::new(&app.runtime.config.secret)),
        _ => Err(AppError::NotFound),
    }
}

/// The test provider's checkout page: what a real provider would show, without moving money.
pub async fn testkasse(
    State(app): State<AppState>,
    Path((slug, payment_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    test_provider(&app)?;
    let payment = app.runtime.payment(&tenant.tenant_id, &payment_id).await?;
    let body = render(
        "testkasse.html",
        context! {
            amount => Money::from_cents(payment.amount_cents).to_german(),
            open => payment.status == "started",
            action_url => format!("/{slug}/testkasse/{payment_id}"),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

/// The test provider's decision: sends the browser back with the signed answer, as a real
/// provider's redirect does.
pub async fn testkasse_decide(
    State(app): State<AppState>,
    Path((slug, payment_id)): Path<(String, String)>,
    visit: Visit,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let form = Posted::new(form);
    session.verify_csrf(form.get("_csrf"))?;
    let provider = test_provider(&app)?;
    let outcome = form.get("_action").and_then(Outcome::parse).ok_or(AppError::NotFound)?;
    let payment = app.runtime.payment(&tenant.tenant_id, &payment_id).await?;
    let back = format!("/{slug}/zahlung/{payment_id}?{}", provider.answer(&tenant.tenant_id, &payment, outcome));
    session.finish(&app, &slug, redirect(&back)).await
}

/// The provider's answer: recorded once, then back to the case status.
pub async fn answer(
    State(app): State<AppState>,
    Path((slug, payment_id)): Path<(String, String)>,
    Query(answer): Query<BTreeMap<String, String>>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let refused = |session: &mut crate::session::Session| -> AppResult<Response> {
        let body = render(
            "error.html",
            context! { heading => t(lang, "payment.invalid_heading"), message => t(lang, "payment.invalid"), ..base(lang, Some(&tenant), Some(session)) },
        )?;
        Ok((StatusCode::BAD_REQUEST, Html(body)).into_response())
    };
    match app.runtime.payment_answer(&tenant.tenant_id, &payment_id, &answer).await {
        Ok(PaymentAnswer::Recorded { case_reference, outcome }) => {
            session.data.flash =
                Some(t(lang, if outcome == Outcome::Paid { "payment.paid" } else { "payment.cancelled" }));
            session.finish(&app, &slug, redirect(&format!("/{slug}/vorgang/{case_reference}"))).await
        }
        Ok(PaymentAnswer::AlreadyRecorded { case_reference }) => {
            session.finish(&app, &slug, redirect(&format!("/{slug}/vorgang/{case_reference}"))).await
        }
        Err(RuntimeError::Forbidden) => {
            tracing::warn!(payment = %payment_id, "payment answer not confirmed by the provider, refused");
            let r = refused(&mut session)?;
            session.finish(&app, &slug, r).await
        }
        Err(e) => Err(e.into()),
    }
}
