//! Consultation (Anhörung, Beteiligung) in the portal: the clerk asks another body from the
//! case file, choosing which pages of the application and whether the attachments are
//! shared; the participant opens the link from the invitation and answers on a page of the
//! tenant's portal, seeing only what was shared.

use crate::backoffice::{actor, case_work, render_case_with, when, CaseForms};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, document_response, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::consultation::{Answer, AnswerProblem, Verdict, MAX_DAYS, MAX_NAME, MAX_TEXT};
use rathaus_domain::time::german_day;
use rathaus_domain::Lang;
use rathaus_engine::form::plausible_email;
use rathaus_engine::summary::summarize;
use rathaus_runtime::consultations::{Answered, Consultation, ConsultationState, Opened, Request};
use rathaus_store::documents;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

/// The clerk's consultation form as posted, with its problems (field id → message).
#[derive(Debug, Default)]
pub(crate) struct ConsultationForm {
    pub participant: String,
    pub email: String,
    pub question: String,
    pub due: String,
    pub pages: Vec<String>,
    pub documents: bool,
    pub errors: Vec<(&'static str, String)>,
}

impl ConsultationForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }
}

fn verdict_label(lang: Lang, code: Option<&str>) -> Option<String> {
    code.and_then(Verdict::parse).map(|v| t(lang, &format!("consultation.verdict_{}", v.code())))
}

/// The case's consultations for the case file: whom, by when, where they stand, the
/// answer, the participant's link while it waits, and the clerk's withdraw address.
pub(crate) fn consultation_views(
    app: &AppState,
    tenant: &Tenant,
    consultations: &[Consultation],
    lang: Lang,
    withdraw_base: &str,
) -> Vec<Json> {
    consultations
        .iter()
        .map(|c| {
            let state = c.state();
            let waiting = c.waiting();
            json!({"participant": c.participant, "email": c.email, "question": c.question, "due": german_day(&c.due_date),
                "state": t(lang, &format!("request.state_{}", state.code())), "code": state.code(),
                "verdict": verdict_label(lang, c.verdict.as_deref()), "verdict_code": c.verdict,
                "statement": c.statement, "conditions": c.conditions, "answered_by": c.answered_by,
                "answered": c.answered_at.as_deref().map(when), "by": c.requested_by,
                "link": waiting.then(|| app.runtime.consultation_link(tenant, &c.consultation_id)),
                "withdraw": waiting.then(|| format!("{withdraw_base}/{}/zuruecknehmen", c.consultation_id))})
        })
        .collect()
}

/// A clerk starts a consultation.
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
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let pages: Vec<String> = summarize(&procedure.form, &case.data_json()?, &procedure.catalogues, lang)
        .into_iter()
        .map(|s| s.page_id)
        .collect();
    let mut form = ConsultationForm {
        participant: posted.text("stelle"),
        email: posted.text("stelle_email").trim().to_string(),
        question: posted.text("frage"),
        due: posted.text("beteiligung_frist"),
        // Only pages the case has; anything else posted is ignored.
        pages: posted.all("teile").into_iter().filter(|p| pages.iter().any(|q| q == p)).map(String::from).collect(),
        documents: posted.get("anlagen") == Some("ja"),
        errors: Vec::new(),
    };
    if form.participant.is_empty() {
        form.errors.push(("stelle", t(lang, "consultation.participant_missing")));
    } else if form.participant.chars().count() > MAX_NAME {
        form.errors.push(("stelle", tf(lang, "consultation.too_long", &[("n", &MAX_NAME.to_string())])));
    }
    if form.email.is_empty() {
        form.errors.push(("stelle_email", t(lang, "consultation.email_missing")));
    } else if !plausible_email(&form.email) {
        form.errors.push(("stelle_email", t(lang, "consultation.email_invalid")));
    }
    if form.question.is_empty() {
        form.errors.push(("frage", t(lang, "consultation.question_missing")));
    } else if form.question.chars().count() > MAX_TEXT {
        form.errors.push(("frage", tf(lang, "consultation.too_long", &[("n", &MAX_TEXT.to_string())])));
    }
    let due = crate::requests::parse_due(&app, lang, &form.due, MAX_DAYS);
    if let Err(e) = &due {
        form.errors.push(("beteiligung_frist", e.clone()));
    }
    if form.pages.is_empty() && !form.documents {
        form.errors.push(("teile", t(lang, "consultation.parts_missing")));
    }
    let Some(due) = due.ok().filter(|_| form.errors.is_empty()) else {
        let forms = CaseForms { consultation: form, ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    };
    let request = Request {
        participant: &form.participant,
        email: &form.email,
        question: &form.question,
        shared_pages: &form.pages,
        share_documents: form.documents,
        due,
    };
    app.runtime.start_consultation(&tenant, &case, &actor(&ctx.staff), &ctx.staff.display_name, &request).await?;
    session.data.flash = Some(tf(
        lang,
        "consultation.started",
        &[("participant", &form.participant), ("date", &due.format("%d.%m.%Y").to_string())],
    ));
    session
        .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#beteiligungen")).into_response())
        .await
}

/// A clerk withdraws a waiting consultation.
pub async fn withdraw(
    State(app): State<AppState>,
    Path((slug, case_id, consultation_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let (ctx, case) = match case_work(&app, &tenant, &session, &case_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    if !app.runtime.withdraw_consultation(&tenant, &case, &actor(&ctx.staff), &consultation_id).await? {
        return Err(AppError::NotFound);
    }
    session.data.flash = Some(t(lang, "consultation.withdrawn"));
    session
        .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#beteiligungen")).into_response())
        .await
}

/// The participant's page: the question, what was shared, and the answer form (or the
/// answer given).
async fn participant_page(
    app: &AppState,
    tenant: &Tenant,
    token: &str,
    opened: &Opened,
    posted: Option<(&Answer, &[AnswerProblem])>,
    lang: Lang,
    session: &mut crate::session::Session,
) -> AppResult<String> {
    let fresh = Answer::default();
    let (answer, problems) = posted.unwrap_or((&fresh, &[]));
    let c = &opened.consultation;
    let case = &opened.case;
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let shared = c.pages();
    let sections: Vec<_> = summarize(&procedure.form, &case.data_json()?, &procedure.catalogues, lang)
        .into_iter()
        .filter(|s| shared.contains(&s.page_id))
        .collect();
    let docs: Vec<Json> = if c.share_documents == 1 {
        let mut conn = app.runtime.store.conn().await?;
        documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
            .await?
            .into_iter()
            .filter(|d| d.kind == "anlage")
            .map(|d| {
                json!({"title": d.title, "file_name": d.file_name, "type": crate::portal::file_type_label(&d.media_type),
                    "url": format!("/{}/beteiligung/{token}/dokumente/{}", tenant.slug, d.document_id)})
            })
            .collect()
    } else {
        Vec::new()
    };
    let message = |p: &AnswerProblem| t(lang, &format!("consultation.{}", p.code()));
    let field_error = |field: &str| problems.iter().find(|p| p.field() == field).map(message);
    let errors: Vec<Json> = problems
        .iter()
        .map(|p| {
            let anchor = if p.field() == "votum" { "votum-zustimmung" } else { p.field() };
            json!({"anchor": anchor, "message": message(p)})
        })
        .collect();
    let verdicts: Vec<Json> = Verdict::ALL
        .iter()
        .map(|v| {
            json!({"code": v.code(), "label": t(lang, &format!("consultation.verdict_{}", v.code())),
            "checked": answer.verdict == v.code()})
        })
        .collect();
    Ok(render(
        "consultation.html",
        context! {
            token => token, reference => case.reference, procedure_name => procedure.manifest.name.get(lang),
            participant => c.participant, question => c.question, due => german_day(&c.due_date), requested_by => c.requested_by,
            overdue => c.state() == ConsultationState::Overdue, sections => sections, documents => docs,
            answered => c.answered_at.as_deref().map(when),
            given_verdict => verdict_label(lang, c.verdict.as_deref()), given_statement => c.statement, given_conditions => c.conditions,
            given_by => c.answered_by,
            verdicts => verdicts, statement => answer.statement, conditions => answer.conditions, name => answer.answered_by,
            verdict_error => field_error("votum"), conditions_error => field_error("auflagen"),
            statement_error => field_error("stellungnahme"), name_error => field_error("name"), errors => errors,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

/// The page for a link sent to another body that no longer opens anything (`gone`: the
/// i18n keys of its heading and message; answered 410) or never did (404).
pub(crate) fn link_gone_page(
    tenant: &Tenant,
    lang: Lang,
    session: &mut crate::session::Session,
    gone: Option<(&str, &str)>,
) -> AppResult<(StatusCode, Html<String>)> {
    let ((heading, message), status) = match gone {
        Some(keys) => (keys, StatusCode::GONE),
        None => (("consultation.unknown_heading", "consultation.unknown"), StatusCode::NOT_FOUND),
    };
    let body = render(
        "error.html",
        context! { heading => t(lang, heading), message => t(lang, message), ..base(lang, Some(tenant), Some(session)) },
    )?;
    Ok((status, Html(body)))
}

/// A consultation's link that opens nothing to answer (withdrawn, case closed), or never did.
fn closed_page(
    tenant: &Tenant,
    lang: Lang,
    session: &mut crate::session::Session,
    known: bool,
) -> AppResult<(StatusCode, Html<String>)> {
    link_gone_page(tenant, lang, session, known.then_some(("consultation.closed_heading", "consultation.closed")))
}

/// Whether the participant's link still shows the case: while waiting, and once answered
/// (to read the answer back) as long as the case runs.
fn shows_case(opened: &Opened) -> bool {
    !opened.case_closed && opened.consultation.state() != ConsultationState::Withdrawn
}

pub async fn page(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let opened = match app.runtime.open_consultation(&tenant, &token).await? {
        Some(o) if shows_case(&o) => o,
        other => {
            let response = closed_page(&tenant, lang, &mut session, other.is_some())?;
            return session.finish(&app, &slug, response.into_response()).await;
        }
    };
    let body = participant_page(&app, &tenant, &token, &opened, None, lang, &mut session).await?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn answer(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let answer = Answer {
        verdict: posted.text("votum"),
        statement: posted.text("stellungnahme"),
        conditions: posted.text("auflagen"),
        answered_by: posted.text("name"),
    };
    let Some(opened) = app.runtime.open_consultation(&tenant, &token).await? else {
        let response = closed_page(&tenant, lang, &mut session, false)?;
        return session.finish(&app, &slug, response.into_response()).await;
    };
    match app.runtime.answer_consultation(&tenant, &token, &answer).await? {
        Answered::Recorded(_) => {
            session.data.flash = Some(t(lang, "consultation.thanks"));
            session.finish(&app, &slug, Redirect::to(&format!("/{slug}/beteiligung/{token}")).into_response()).await
        }
        Answered::Invalid(problems) => {
            let body = participant_page(&app, &tenant, &token, &opened, Some((&answer, &problems)), lang, &mut session)
                .await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Answered::Closed if shows_case(&opened) => {
            // Answered meanwhile (another person of the same body): show what was recorded.
            session.data.flash = Some(t(lang, "consultation.already_answered"));
            session.finish(&app, &slug, Redirect::to(&format!("/{slug}/beteiligung/{token}")).into_response()).await
        }
        Answered::Closed => {
            let response = closed_page(&tenant, lang, &mut session, true)?;
            session.finish(&app, &slug, response.into_response()).await
        }
    }
}

/// An attachment shared with the participant.
pub async fn document(
    State(app): State<AppState>,
    Path((slug, token, document_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let opened = app.runtime.open_consultation(&tenant, &token).await?.ok_or(AppError::NotFound)?;
    if !shows_case(&opened) || opened.consultation.share_documents != 1 {
        return Err(AppError::NotFound);
    }
    let mut conn = app.runtime.store.conn().await?;
    let (meta, bytes) = documents::content(&mut conn, &tenant.tenant_id, &opened.case.case_id, &document_id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    // Only the applicant's attachments are shared, never generated letters or notices.
    if meta.kind != "anlage" {
        return Err(AppError::NotFound);
    }
    session.finish(&app, &slug, document_response(&meta, bytes)).await
}
