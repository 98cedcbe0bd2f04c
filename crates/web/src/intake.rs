//! Entering an application that came by post, fax, e-mail, phone or in person
//! (Erfassung): the clerk names the service, the channel and the day of receipt and, for a
//! letter or fax, uploads the scan; then fills the same form pages as an applicant online,
//! with a banner saying whose application this is. Submitted, the case carries the channel,
//! the day and the scan, and runs like any other. The clerk gets the Aktenzeichen and the
//! access code to pass on.

use crate::attachments::{upload_key, PostedForm};
use crate::backoffice::{actor, case_worker};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html, redirect};
use crate::render::render;
use crate::session::Session;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::NaiveDate;
use minijinja::context;
use rathaus_domain::case::{check_received, ReceivedProblem, MAX_RECEIVED_DAYS_AGO};
use rathaus_domain::time::{german_today, parse_day};
use rathaus_domain::{Channel, Lang};
use rathaus_runtime::intake::{Intake, ScanRef, SCAN_MAX_BYTES};
use rathaus_runtime::{SubmitRequest, Submitted};
use rathaus_store::tenants::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// An entry in progress, as the clerk's session keeps it while the form is filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeSession {
    pub procedure: String,
    /// The channel's code.
    pub channel: String,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    pub scan: Option<ScanRef>,
}

impl IntakeSession {
    /// The channel and day, as the banner and the timeline name them.
    pub fn view(&self, lang: Lang) -> Json {
        let day = NaiveDate::parse_from_str(&self.received_on, "%Y-%m-%d")
            .map(|d| d.format("%d.%m.%Y").to_string())
            .unwrap_or_else(|_| self.received_on.clone());
        json!({"procedure": self.procedure, "channel": t(lang, &format!("channel.{}", self.channel)), "received": day,
            "scan": self.scan.as_ref().map(|s| s.file_name.clone())})
    }
}

/// The start form as posted, with its problems (field → message).
#[derive(Debug, Default)]
struct StartForm {
    procedure: String,
    channel: String,
    received: String,
    errors: Vec<(&'static str, String)>,
}

impl StartForm {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }
}

async fn page(
    app: &AppState,
    tenant: &Tenant,
    ctx: &crate::backoffice::StaffCtx,
    form: &StartForm,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let procedures: Vec<Json> = app
        .runtime
        .active_procedures(tenant)
        .await?
        .iter()
        .filter(|a| ctx.covers(a.procedure.id()))
        .map(|a| json!({"id": a.procedure.id(), "name": a.procedure.manifest.name.get(lang), "checked": form.procedure == a.procedure.id()}))
        .collect();
    let channels: Vec<Json> = Channel::INTAKE
        .iter()
        .map(|c| json!({"code": c.code(), "label": t(lang, &format!("channel.{}", c.code())), "checked": form.channel == c.code()}))
        .collect();
    let anchors = [("verfahren", "verfahren-0"), ("kanal", "kanal-post"), ("eingang", "eingang"), ("scan", "scan")];
    let errors: Vec<Json> = form
        .errors
        .iter()
        .map(|(field, message)| {
            let anchor = anchors.iter().find(|(f, _)| f == field).map(|(_, a)| *a).unwrap_or(field);
            json!({"anchor": anchor, "message": message})
        })
        .collect();
    let today = german_today(app.runtime.clock.now()).format("%Y-%m-%d").to_string();
    Ok(render(
        "intake.html",
        context! {
            procedures => procedures, channels => channels,
            received => if form.received.is_empty() { today } else { form.received.clone() },
            procedure_error => form.error("verfahren"), channel_error => form.error("kanal"),
            received_error => form.error("eingang"), scan_error => form.error("scan"), errors => errors,
            scan_hint => tf(lang, "intake.scan_hint", &[("n", &(SCAN_MAX_BYTES / (1024 * 1024)).to_string())]),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

/// The start of an entry: service, channel, day of receipt, scan.
pub async fn form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match case_worker(&app, &tenant, &session).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = page(&app, &tenant, &ctx, &StartForm::default(), lang, &mut session).await?;
    session.finish(&app, &slug, html(body)).await
}

/// Starts an entry: checks what the clerk gave, stores the scan, and opens the service's
/// form with an empty application.
pub async fn start(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    posted: PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let PostedForm { pairs, files } = posted;
    let fields = Posted::new(pairs);
    session.verify_csrf(fields.get("_csrf"))?;
    let ctx = match case_worker(&app, &tenant, &session).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let mut form = StartForm {
        procedure: fields.text("verfahren"),
        channel: fields.text("kanal"),
        received: fields.text("eingang"),
        errors: Vec::new(),
    };
    let active = match form.procedure.as_str() {
        "" => None,
        id if ctx.covers(id) => app.runtime.active_procedure(&tenant, id).await.ok(),
        _ => None,
    };
    if active.is_none() {
        form.errors.push(("verfahren", t(lang, "intake.procedure_missing")));
    }
    let channel = Channel::parse(&form.channel).filter(|c| Channel::INTAKE.contains(c));
    if channel.is_none() {
        form.errors.push(("kanal", t(lang, "intake.channel_missing")));
    }
    let typed = form.received.trim().to_string();
    let received = parse_day(&typed).ok_or(());
    let today = german_today(app.runtime.clock.now());
    match received.as_ref().map(|d| check_received(today, *d)) {
        _ if typed.is_empty() => form.errors.push(("eingang", t(lang, "intake.received_missing"))),
        Err(_) => form.errors.push(("eingang", t(lang, "intake.received_invalid"))),
        Ok(Err(ReceivedProblem::InFuture)) => form.errors.push(("eingang", t(lang, "intake.received_future"))),
        Ok(Err(ReceivedProblem::TooOld)) => form
            .errors
            .push(("eingang", tf(lang, "intake.received_too_old", &[("n", &MAX_RECEIVED_DAYS_AGO.to_string())]))),
        Ok(Ok(())) => {}
    }
    let file = files.into_iter().find(|f| f.field == "scan");
    if file.is_none() && channel.is_some_and(Channel::needs_scan) {
        form.errors.push(("scan", t(lang, "intake.scan_missing")));
    }
    let (Some(active), Some(channel), Ok(received), true) = (active, channel, received, form.errors.is_empty()) else {
        let body = page(&app, &tenant, &ctx, &form, lang, &mut session).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    };
    let procedure = active.procedure.id().to_string();
    // A fresh application: whatever this browser had of the service before is set aside.
    discard_application(&mut session, &procedure);
    let scan = match file {
        None => None,
        Some(f) => {
            let key = upload_key(&mut session, &procedure);
            let keep_until = app.runtime.clock.now() + chrono::Duration::days(1);
            let stored = app
                .runtime
                .store_intake_scan(
                    &tenant,
                    &procedure,
                    &key,
                    &f.file_name,
                    &f.content,
                    keep_until,
                    &actor(&ctx.staff),
                    lang,
                )
                .await?;
            match stored {
                Ok(scan) => Some(scan),
                Err(refused) => {
                    form.errors.push(("scan", refused.message));
                    let body = page(&app, &tenant, &ctx, &form, lang, &mut session).await?;
                    return session
                        .finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
                        .await;
                }
            }
        }
    };
    session.data.intake = Some(IntakeSession {
        procedure: procedure.clone(),
        channel: channel.code().to_string(),
        received_on: received.format("%Y-%m-%d").to_string(),
        scan,
    });
    let first = active.procedure.form.visible_pages(&json!({})).first().map(|p| p.id.clone()).unwrap_or_default();
    session.finish(&app, &slug, redirect(&format!("/{slug}/antrag/{procedure}/{first}"))).await
}

/// Forgets the browser's application of `procedure` (answers, uploads, draft link).
fn discard_application(session: &mut Session, procedure: &str) {
    session.data.drafts.remove(procedure);
    session.data.upload_keys.remove(procedure);
    session.data.draft_ids.remove(procedure);
    session.data.saved_draft = None;
}

/// Cancels the entry in progress; nothing of it is kept.
pub async fn cancel(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, mut session, .. } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    if let Some(intake) = session.data.intake.take() {
        discard_application(&mut session, &intake.procedure);
        session.data.flash = Some(t(lang, "intake.cancelled"));
    }
    session.finish(&app, &slug, redirect(&format!("/{slug}/intern/"))).await
}

/// Whether the check page's submission is a clerk's entry of `procedure`.
pub(crate) fn entering(session: &Session, procedure: &str) -> bool {
    session.data.intake.as_ref().is_some_and(|i| i.procedure == procedure)
}

/// Submits the clerk's entry (the check page was confirmed): the case gets the entry's
/// channel, day and scan; the clerk is sent to the case file with the Aktenzeichen and the
/// access code to pass on. `Err(response)` when the clerk is no longer signed in.
pub(crate) async fn submit(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    data: &Json,
    lang: Lang,
) -> AppResult<Result<rathaus_runtime::Result<Submitted>, Response>> {
    let Some(intake) = session.data.intake.clone() else { return Err(AppError::NotFound) };
    let ctx = match case_worker(app, tenant, session).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    if !ctx.covers(&intake.procedure) {
        return Err(AppError::NotFound);
    }
    let channel = Channel::parse(&intake.channel).ok_or(AppError::NotFound)?;
    let received_on = NaiveDate::parse_from_str(&intake.received_on, "%Y-%m-%d").map_err(|_| AppError::NotFound)?;
    let key = session.data.upload_keys.get(&intake.procedure).cloned();
    let request = SubmitRequest {
        tenant,
        procedure_id: &intake.procedure,
        data,
        channel,
        lang,
        actor: actor(&ctx.staff),
        upload_key: key.as_deref(),
        account_id: None,
        business_id: None,
    };
    let entry = Intake { received_on, clerk_name: &ctx.staff.display_name, scan: intake.scan.as_ref() };
    let result = app.runtime.submit_intake(request, &entry).await;
    if let Ok(s) = &result {
        session.data.intake = None;
        discard_application(session, &intake.procedure);
        session.data.flash = Some(tf(
            lang,
            "intake.submitted",
            &[("reference", s.reference.as_str()), ("code", s.access_code.as_str())],
        ));
    }
    Ok(Ok(result))
}
