//! The Zahlungsabgleich page of the back office: the payments of imported bank statements
//! that the machine could not book, each with why, to assign to a fee or to close with a
//! note; a bank statement can be uploaded here as well as through the API. The town's own
//! clerks and team leads work here; its tenant admins and auditors read. A service centre's
//! staff do not: payments belong to no delegated procedure.

use crate::attachments::PostedForm;
use crate::backoffice::{actor, require_staff, StaffCtx};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::session::Session;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::german_day;
use rathaus_domain::{Lang, Money};
use rathaus_engine::FieldError;
use rathaus_runtime::reconciliation::Resolution;
use rathaus_runtime::RuntimeError;
use rathaus_store::bank::{self, BankTransaction};
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

/// The town's own staff member, if they may see the page (`write`: act on it).
async fn require_desk(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    write: bool,
) -> AppResult<Result<StaffCtx, Response>> {
    match require_staff(app, tenant, session).await {
        Ok(ctx) if ctx.own_staff() && (!write || ctx.role.may_decide()) => Ok(Ok(ctx)),
        Ok(_) => Err(AppError::Forbidden),
        Err(r) => Ok(Err(r)),
    }
}

/// What a clerk typed into one transaction's form, kept when it comes back with an error.
struct Typed<'a> {
    transaction_id: &'a str,
    kassenzeichen: &'a str,
    note: &'a str,
    errors: &'a [FieldError],
}

fn row(lang: Lang, slug: &str, b: &BankTransaction, typed: Option<&Typed>) -> Json {
    let problem = b.problem.as_deref().unwrap_or("");
    let resolution = match b.status.as_str() {
        bank::ASSIGNED => tf(lang, "payments.assigned_to", &[("kz", b.kassenzeichen.as_deref().unwrap_or(""))]),
        bank::CLOSED => t(lang, "payments.closed"),
        _ => String::new(),
    };
    let error =
        |field: &str| typed.and_then(|ty| ty.errors.iter().find(|e| e.field == field)).map(|e| e.message.clone());
    json!({
        "id": b.transaction_id,
        "booked_on": german_day(&b.booked_on),
        "amount": Money::from_cents(b.amount_cents).to_string(),
        "payer": b.payer, "payer_iban": b.payer_iban, "remittance": b.remittance,
        "reference": b.bank_reference, "statement": b.statement_id,
        "problem": if problem.is_empty() { String::new() } else { t(lang, &format!("payments.problem_{problem}")) },
        "reversal": b.reversal == 1,
        "kassenzeichen": typed.map(|ty| ty.kassenzeichen).or(b.kassenzeichen.as_deref()).unwrap_or(""),
        "note": typed.map(|ty| ty.note).or(b.note.as_deref()).unwrap_or(""),
        "kz_error": error("kassenzeichen"), "note_error": error("vermerk"),
        "resolution": resolution, "resolved_by": b.resolved_by.as_deref().unwrap_or("").trim_start_matches("staff:"),
        "resolved_at": b.resolved_at.as_deref().map(crate::backoffice::when),
        "url": format!("/{slug}/intern/zahlungen/{}", b.transaction_id),
    })
}

async fn desk_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    lang: Lang,
    typed: Option<Typed<'_>>,
    upload_error: Option<String>,
) -> AppResult<String> {
    let (open, done) = app.runtime.bank_transactions(tenant).await?;
    let slug = &tenant.slug;
    let open: Vec<Json> = open
        .iter()
        .map(|b| row(lang, slug, b, typed.as_ref().filter(|ty| ty.transaction_id == b.transaction_id)))
        .collect();
    let done: Vec<Json> = done.iter().map(|b| row(lang, slug, b, None)).collect();
    let mut errors: Vec<Json> = Vec::new();
    if let Some(message) = &upload_error {
        errors.push(json!({"anchor": "kontoauszug", "message": message}));
    }
    if let Some(ty) = &typed {
        for e in ty.errors {
            let anchor = if e.field == "vermerk" { "vermerk" } else { "kz" };
            errors.push(json!({"anchor": format!("{anchor}-{}", ty.transaction_id), "message": e.message}));
        }
    }
    Ok(render(
        "payments.html",
        context! { open => open, done => done, errors => errors, upload_error => upload_error,
        may_change => ctx.role.may_decide(), ..base(lang, Some(tenant), Some(session)) },
    )?)
}

pub async fn page(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_desk(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = desk_page(&app, &tenant, &mut session, &ctx, lang, None, None).await?;
    session.finish(&app, &slug, html(body)).await
}

fn back(slug: &str) -> Response {
    Redirect::to(&format!("/{slug}/intern/zahlungen")).into_response()
}

/// A bank statement uploaded by a clerk: imported as through the API.
pub async fn upload(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    form: PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let PostedForm { pairs, files } = form;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let ctx = match require_desk(&app, &tenant, &session, true).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let problem = match files.iter().find(|f| f.field == "kontoauszug") {
        None => Some(t(lang, "payments.upload_missing")),
        Some(file) => match std::str::from_utf8(&file.content) {
            Err(_) => Some(t(lang, "payments.upload_not_utf8")),
            Ok(xml) => match app.runtime.import_statement(&tenant, xml, &actor(&ctx.staff)).await {
                Ok(r) => {
                    let counts = [
                        ("id", r.kontoauszug.clone()),
                        ("booked", r.gebucht.to_string()),
                        ("unmatched", r.ungeklaert.to_string()),
                        ("known", r.bereits_eingelesen.to_string()),
                        ("other", r.nicht_betroffen.to_string()),
                    ];
                    let counts: Vec<(&str, &str)> = counts.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    session.data.flash = Some(tf(lang, "payments.imported", &counts));
                    return session.finish(&app, &slug, back(&slug)).await;
                }
                Err(RuntimeError::Invalid(problems)) => {
                    Some(problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join(" "))
                }
                Err(e) => return Err(e.into()),
            },
        },
    };
    let body = desk_page(&app, &tenant, &mut session, &ctx, lang, None, problem).await?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}

/// A clerk's decision on one transaction: assign it to a fee (`aktion=zuordnen`) or close
/// it (`aktion=erledigen`), with a note.
pub async fn resolve(
    State(app): State<AppState>,
    Path((slug, transaction_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let ctx = match require_desk(&app, &tenant, &session, true).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let kassenzeichen = posted.text("kassenzeichen");
    let note = posted.text("vermerk");
    let resolution = match posted.text("aktion").as_str() {
        "zuordnen" => Resolution::Assign { kassenzeichen: kassenzeichen.clone() },
        "erledigen" => Resolution::Close,
        _ => return Err(AppError::BadRequest(t(lang, "payments.no_action"))),
    };
    let result =
        app.runtime.resolve_bank_transaction(&tenant, &transaction_id, &resolution, &note, &actor(&ctx.staff)).await;
    match result {
        Ok(reference) => {
            session.data.flash = Some(match reference {
                Some(r) => tf(lang, "payments.assigned_flash", &[("reference", &r)]),
                None => t(lang, "payments.closed_flash"),
            });
            session.finish(&app, &slug, back(&slug)).await
        }
        Err(RuntimeError::Invalid(errors)) => {
            let typed =
                Typed { transaction_id: &transaction_id, kassenzeichen: &kassenzeichen, note: &note, errors: &errors };
            let body = desk_page(&app, &tenant, &mut session, &ctx, lang, Some(typed), None).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}
