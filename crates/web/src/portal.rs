//! The citizen portal: service list, service page, the multi-page form with check-your-answers,
//! submission, receipt, and status with documents (guest access with Aktenzeichen + access
//! code).

use crate::access::Unlock;
use crate::attachments::{self, FileAction, PostedForm};
use crate::error::{AppError, AppResult};
use crate::finder;
use crate::formview::{anchor_for, apply_repeat_action, page_fields, Applied, Apply, Posted, ViewContext};
use crate::i18n::{t, tf};
use crate::render::render;
use crate::session::Session;
use crate::visit::Visit;
use crate::{lang_of, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use rathaus_domain::time::{german_date_time, german_today};
use rathaus_domain::{AccessCode, Channel, Lang, Money, Reference};
use rathaus_engine::assistant::outlook;
use rathaus_engine::form::{FieldKind, Page};
use rathaus_engine::library::ParameterKind;
use rathaus_engine::summary::summarize;
use rathaus_engine::FieldError;
use rathaus_runtime::{ActiveProcedure, RuntimeError, SubmitRequest};
use rathaus_store::audit::Actor;
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, documents, events, fees};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

#[derive(Serialize)]
pub(crate) struct TenantView {
    slug: String,
    name: String,
    logo_text: String,
    tagline: String,
    contact: rathaus_domain::tenant::Contact,
    /// Address of the logo image, if the tenant has one.
    logo: Option<String>,
    service_centre: bool,
}

pub(crate) fn tenant_view(t: &Tenant) -> TenantView {
    let b = &t.settings.branding;
    TenantView {
        slug: t.slug.clone(),
        name: t.name.clone(),
        logo_text: if b.logo_text.is_empty() { t.name.clone() } else { b.logo_text.clone() },
        tagline: b.tagline.clone(),
        contact: t.settings.contact.clone(),
        logo: (!b.logo.is_empty()).then(|| format!("/{}/logo?v={}", t.slug, &b.logo[..b.logo.len().min(16)])),
        service_centre: t.settings.service_centre,
    }
}

/// What every page of a tenant needs.
pub(crate) fn base(lang: Lang, tenant: Option<&Tenant>, session: Option<&mut Session>) -> Value {
    let (csrf, staff, account, accounts, flash, intake) = match session {
        Some(s) => (
            s.csrf().to_string(),
            s.data.staff.clone(),
            s.data.account.clone(),
            s.accounts,
            s.take_flash(),
            s.data.intake.as_ref().map(|i| i.view(lang)),
        ),
        None => (String::new(), None, None, false, None, None),
    };
    context! {
        lang => lang.code(),
        other_lang => if lang == Lang::De { "en" } else { "de" },
        tenant => tenant.map(tenant_view),
        csrf => csrf,
        staff => staff,
        account => account,
        accounts => accounts,
        flash => flash,
        intake => intake,
    }
}

pub(crate) fn html(body: String) -> Response {
    Html(body).into_response()
}

pub(crate) fn size_label(bytes: i64, lang: Lang) -> String {
    rathaus_domain::attachment::size_label(bytes.max(0) as u64, lang)
}

pub(crate) fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub async fn landing(State(app): State<AppState>, headers: HeaderMap, uri: Uri) -> AppResult<Response> {
    let lang = lang_of(&headers, &uri);
    let mut conn = app.runtime.store.conn().await?;
    let tenants: Vec<Json> = rathaus_store::tenants::list(&mut conn)
        .await?
        .into_iter()
        .filter(|t| !t.settings.service_centre)
        .map(|t| serde_json::json!({"slug": t.slug, "name": t.name}))
        .collect();
    Ok(html(render("landing.html", context! { tenants => tenants, ..base(lang, None, None) })?))
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    /// What a person searched for in the service finder.
    suche: Option<String>,
}

/// The tenant's services; with `?suche=` only those that fit the words, best first.
pub async fn home(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<HomeQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let search = q.suche.unwrap_or_default().trim().chars().take(200).collect::<String>();
    let words = finder::query_words(&search);
    let mut services: Vec<(u32, Json)> = Vec::new();
    for a in app.runtime.active_procedures(&tenant).await? {
        let m = &a.procedure.manifest;
        let (name, summary) = (m.name.get(lang), m.summary.get(lang));
        let score = if search.is_empty() {
            Some(0)
        } else {
            // Both languages: a person may search in either, whatever the page shows.
            let description = m.description.as_ref().map(|d| format!("{} {}", d.get(Lang::De), d.get(Lang::En)));
            let body =
                format!("{} {} {}", m.summary.get(Lang::De), m.summary.get(Lang::En), description.unwrap_or_default());
            let names = format!("{} {}", m.name.get(Lang::De), m.name.get(Lang::En));
            finder::score(&words, &names, &m.keywords, &body)
        };
        if let Some(score) = score {
            services.push((score, serde_json::json!({"id": m.id, "name": name, "summary": summary})));
        }
    }
    services.sort_by_key(|s| std::cmp::Reverse(s.0));
    let services: Vec<Json> = services.into_iter().map(|(_, s)| s).collect();
    let body = render(
        "portal.html",
        context! { services => services, search => search, ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub(crate) async fn active(app: &AppState, tenant: &Tenant, procedure: &str) -> AppResult<ActiveProcedure> {
    app.runtime.active_procedure(tenant, procedure).await.map_err(AppError::from)
}

fn service_view(a: &ActiveProcedure, lang: Lang) -> Json {
    let m = &a.procedure.manifest;
    let fees: Vec<Json> = m
        .parameters
        .iter()
        .filter(|(_, p)| p.kind == ParameterKind::Money)
        .filter_map(|(name, p)| {
            let amount = a.parameters.get(name)?;
            let money = Money::from_json_euros(amount).ok()?;
            let text = if money.is_zero() { t(lang, "service.fee_free") } else { money.to_german() };
            Some(serde_json::json!({"label": p.label.get(lang).trim_end_matches(" (EUR)"), "amount": text}))
        })
        .collect();
    let first_page = a.procedure.form.pages.first().map(|p| p.id.clone()).unwrap_or_default();
    serde_json::json!({
        "id": m.id,
        "name": m.name.get(lang),
        "summary": m.summary.get(lang),
        "description": m.description.as_ref().map(|d| d.get(lang)),
        "you_need": m.you_need.iter().map(|n| n.get(lang)).collect::<Vec<_>>(),
        "fees": fees,
        "duration": tf(lang, "service.duration_immediate", &[("days", &m.processing_days.unwrap_or(5).to_string())]),
        "legal_basis": m.legal_basis,
        "office": m.responsible_office.get(lang),
        "first_page": first_page,
    })
}

pub async fn service(
    State(app): State<AppState>,
    Path((slug, procedure)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    let body = render(
        "service.html",
        context! { service => service_view(&a, lang), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    zurueck: Option<String>,
}

struct PageRender<'a> {
    tenant: &'a Tenant,
    active: &'a ActiveProcedure,
    page_id: &'a str,
    data: &'a Json,
    errors: &'a [FieldError],
    raw: &'a HashMap<String, String>,
    return_to_check: bool,
    /// The assistant's outlook on the answers so far ([`outlook_view`]).
    outlook: Option<Json>,
}

fn render_page(r: &PageRender<'_>, lang: Lang, session: &mut Session) -> AppResult<String> {
    let p = &r.active.procedure;
    let pages = p.form.visible_pages(r.data);
    let idx = pages.iter().position(|pg| pg.id == r.page_id).ok_or(AppError::NotFound)?;
    let page = pages[idx];
    let ctx = ViewContext { schema: &p.form, catalogues: &p.catalogues, errors: r.errors, raw: r.raw, lang };
    let fields = page_fields(&ctx, page, r.data);
    let slug = &r.tenant.slug;
    let id = p.id();
    let back_url = if r.return_to_check {
        format!("/{slug}/antrag/{id}/pruefen")
    } else if idx == 0 {
        format!("/{slug}/leistungen/{id}")
    } else {
        format!("/{slug}/antrag/{id}/{}", pages[idx - 1].id)
    };
    let action_url =
        format!("/{slug}/antrag/{id}/{}{}", page.id, if r.return_to_check { "?zurueck=pruefen" } else { "" });
    let errors: Vec<Json> = r
        .errors
        .iter()
        .map(|e| serde_json::json!({"anchor": anchor_for(&p.form, &e.field), "message": e.message}))
        .collect();
    Ok(render(
        "form_page.html",
        context! {
            service => service_view(r.active, lang),
            page => context! { id => page.id, title => page.title.get(lang), intro => page.intro.as_ref().map(|i| i.get(lang)) },
            fields => fields,
            errors => errors,
            step => idx + 1,
            steps => pages.len() + 1,
            back_url => back_url,
            live_url => format!("/{slug}/antrag/{id}/{}/live", page.id),
            has_files => page.fields.iter().any(|f| f.kind == FieldKind::File),
            outlook => r.outlook,
            action_url => action_url,
            return_to_check => r.return_to_check,
            ..base(lang, Some(r.tenant), Some(session))
        },
    )?)
}

fn draft_of(session: &Session, procedure: &str) -> Json {
    session.data.drafts.get(procedure).cloned().unwrap_or_else(|| Json::Object(Map::new()))
}

pub async fn page(
    State(app): State<AppState>,
    Path((slug, procedure, page_id)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    if !session.data.drafts.contains_key(&procedure) {
        // A new application of a signed-in applicant starts with what the account knows.
        if let Some(prefilled) = crate::accounts::prefill(&app, &tenant, &session, &a).await? {
            session.data.drafts.insert(procedure.clone(), prefilled);
        }
    }
    let data = draft_of(&session, &procedure);
    if !a.procedure.form.visible_pages(&data).iter().any(|p| p.id == page_id) {
        // A page that does not apply to the answers so far: continue where it makes sense.
        return session.finish(&app, &slug, redirect(&format!("/{slug}/antrag/{procedure}/pruefen"))).await;
    }
    let related = related_views(&app, &tenant, &a.procedure, &data, lang, None).await?;
    let body = render_page(
        &PageRender {
            tenant: &tenant,
            active: &a,
            page_id: &page_id,
            data: &data,
            errors: &[],
            raw: &HashMap::new(),
            return_to_check: q.zurueck.is_some(),
            outlook: with_related(outlook_view(&app, &tenant, &a, &data, lang), related),
        },
        lang,
        &mut session,
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn save_page(
    State(app): State<AppState>,
    Path((slug, procedure, page_id)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
    visit: Visit,
    form: PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    let p = &a.procedure;
    let PostedForm { pairs, files } = form;
    let (page, PostedPage { posted, before, mut data, applied }) =
        apply_posted(&mut session, &a, &page_id, pairs, lang)?;
    let Applied { raw, mut errors } = applied;
    let action = posted.get("_action").unwrap_or("continue").to_string();
    // Files are stored as soon as they arrive, whatever else the page says: an upload is
    // not lost because another answer still has an error.
    let stored =
        attachments::store_posted(&app, &tenant, &a, page, &mut session, files, &mut data, lang, &mut errors).await?;
    let file_action = match FileAction::parse(&action) {
        Some(fa) => {
            let e =
                attachments::apply_action(&app, &tenant, page, &mut session, &procedure, fa, stored, &mut data, lang)
                    .await?;
            errors.extend(e);
            true
        }
        None => false,
    };
    let repeat_action = apply_repeat_action(page, &action, &mut data);
    // What the person entered is kept in the draft even if the page still has errors:
    // nothing accepted is lost when they leave and come back.
    session.data.drafts.insert(procedure.clone(), data.clone());
    if action == "save_draft" {
        // Saved as it is, errors and all: a draft need not be valid yet.
        crate::drafts::save(&app, &tenant, &mut session, &procedure, &data).await?;
        let to = format!("/{slug}/antrag/{procedure}/gespeichert");
        return session.finish(&app, &slug, Redirect::to(&to).into_response()).await;
    }
    let return_to_check = q.zurueck.is_some();
    let related = related_views(&app, &tenant, &a.procedure, &data, lang, None).await?;
    let render_with = |errors: &[FieldError], raw: &HashMap<String, String>, session: &mut Session| {
        let outlook = with_related(outlook_view(&app, &tenant, &a, &data, lang), related.clone());
        render_page(
            &PageRender {
                tenant: &tenant,
                active: &a,
                page_id: &page_id,
                data: &data,
                errors,
                raw,
                return_to_check,
                outlook,
            },
            lang,
            session,
        )
    };
    if repeat_action {
        let body = render_with(&[], &HashMap::new(), &mut session)?;
        return session.finish(&app, &slug, html(body)).await;
    }
    if file_action {
        // "Hochladen" or "Entfernen": the page again, with the uploads' own errors only.
        let body = render_with(&errors, &raw, &mut session)?;
        let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
        return session.finish(&app, &slug, (status, Html(body)).into_response()).await;
    }
    let newly_visible: Vec<&str> = page
        .fields
        .iter()
        .filter(|f| p.form.field_visible(f, &data) && !p.form.field_visible(f, &before))
        .map(|f| f.key.as_str())
        .collect();
    // Fields this answer just revealed are shown without an error first.
    add_page_errors(&app, &a, &page_id, &data, &newly_visible, lang, &mut errors);
    if !errors.is_empty() || !newly_visible.is_empty() {
        let body = render_with(&errors, &raw, &mut session)?;
        let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
        return session.finish(&app, &slug, (status, Html(body)).into_response()).await;
    }
    let pages = p.form.visible_pages(&data);
    let next = pages.iter().position(|pg| pg.id == page_id).and_then(|i| pages.get(i + 1));
    let to = match next {
        Some(n) if !return_to_check => format!("/{slug}/antrag/{procedure}/{}", n.id),
        _ => format!("/{slug}/antrag/{procedure}/pruefen"),
    };
    session.finish(&app, &slug, Redirect::to(&to).into_response()).await
}

/// A form page as posted, applied to the procedure's draft.
struct PostedPage {
    posted: Posted,
    /// The draft before and after the page's answers.
    before: Json,
    data: Json,
    /// What was typed, and the answers that could not even be converted.
    applied: Applied,
}

/// Checks the form's CSRF token and applies the posted answers of the page to a copy of the
/// session's draft (the caller decides whether to keep it).
fn apply_posted<'a>(
    session: &mut Session,
    a: &'a ActiveProcedure,
    page_id: &str,
    pairs: Vec<(String, String)>,
    lang: Lang,
) -> AppResult<(&'a Page, PostedPage)> {
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let page = a.procedure.form.page(page_id).ok_or(AppError::NotFound)?;
    let before = draft_of(session, a.procedure.id());
    let mut data = before.clone();
    let mut applied = Applied::default();
    Apply { schema: &a.procedure.form, posted: &posted, lang }.apply_fields(
        &page.fields,
        "",
        &mut data,
        &before,
        &mut applied,
    );
    Ok((page, PostedPage { posted, before, data, applied }))
}

/// Adds the page's validation errors to the conversion errors already in `errors` (an answer
/// that could not be converted is reported once), leaving out the fields in `quiet`.
fn add_page_errors(
    app: &AppState,
    a: &ActiveProcedure,
    page_id: &str,
    data: &Json,
    quiet: &[&str],
    lang: Lang,
    errors: &mut Vec<FieldError>,
) {
    let p = &a.procedure;
    let today = german_today(app.runtime.clock.now());
    let converted: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
    for e in p.form.validate_page(page_id, data, &p.catalogues, today, lang) {
        let top = e.field.split('[').next().unwrap_or(&e.field);
        if !converted.contains(&e.field) && !quiet.contains(&top) {
            errors.push(e);
        }
    }
}

/// Live validation for the page's script: the posted page is applied to the draft (and
/// kept, like any answer) and validated exactly as on "continue"; the answer lists every
/// error with the id of the input it belongs to, and the assistant's outlook on the new
/// answers as HTML. The script shows the errors of the fields the person has already left
/// and replaces the outlook. Without JavaScript nothing calls this (the outlook is then
/// rendered with each page).
pub async fn live_check(
    State(app): State<AppState>,
    Path((_, procedure, page_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    let (_, PostedPage { data, applied, .. }) = apply_posted(&mut session, &a, &page_id, pairs, lang)?;
    let mut errors = applied.errors;
    add_page_errors(&app, &a, &page_id, &data, &[], lang, &mut errors);
    let related = related_views(&app, &tenant, &a.procedure, &data, lang, None).await?;
    let outlook = render(
        "assistant.html",
        context! { outlook => with_related(outlook_view(&app, &tenant, &a, &data, lang), related), ..base(lang, Some(&tenant), None) },
    )?;
    session.data.drafts.insert(procedure.clone(), data);
    let form = &a.procedure.form;
    let errors: Vec<Json> = errors
        .iter()
        .map(|e| serde_json::json!({"field": e.field, "anchor": anchor_for(form, &e.field), "message": e.message}))
        .collect();
    let body = serde_json::json!({ "errors": errors, "assistant": outlook.trim() });
    session.finish_draft_only(&app, &procedure, axum::Json(body).into_response()).await
}

/// The assistant's outlook for the templates (`assistant.html`): the procedure's check
/// decision on the answers so far, in the applicant's language. `None` before the first
/// answer, for a procedure without a check decision, and if the decision fails on these
/// answers (the form then simply shows no outlook; the submission checks again).
/// The related procedures the town offers whose condition holds for `data`: name, why, and
/// the address that starts one with the answers carried over (after submission).
pub(crate) async fn related_views(
    app: &AppState,
    tenant: &Tenant,
    procedure: &rathaus_engine::Procedure,
    data: &Json,
    lang: Lang,
    reference: Option<&str>,
) -> AppResult<Vec<Json>> {
    let applying: Vec<_> = procedure.related.iter().filter(|r| r.applies(data)).collect();
    if applying.is_empty() {
        return Ok(Vec::new());
    }
    // One look at what the town offers; this runs on every form page.
    let mut conn = app.runtime.store.conn().await?;
    let offered = rathaus_store::tenants::offered(&mut conn, &tenant.tenant_id).await?;
    drop(conn);
    Ok(applying
        .into_iter()
        .filter(|r| offered.contains(&r.id) && app.runtime.library.get(&r.id).is_some())
        .map(|r| {
            serde_json::json!({"id": r.id, "name": app.runtime.procedure_name(&r.id, lang),
                "reason": r.def.reason.get(lang),
                "start_url": reference.map(|rf| format!("/{}/vorgang/{rf}/weiter/{}", tenant.slug, r.id))})
        })
        .collect())
}

/// The assistant's outlook with the related procedures to mention.
fn with_related(outlook: Option<Json>, related: Vec<Json>) -> Option<Json> {
    outlook.map(|mut o| {
        if !related.is_empty() {
            o["related"] = Json::Array(related);
        }
        o
    })
}

/// Starts a related procedure from a submitted case: its draft gets the answers the
/// procedure carries over (answers already in a draft of it stay), then its first page.
pub async fn start_related(
    State(app): State<AppState>,
    Path((slug, reference, target)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { tenant, mut session, .. } = visit;
    session.verify_csrf(crate::formview::Posted::new(pairs).get("_csrf"))?;
    let case = granted_case(&app, &tenant, &session, &reference).await?;
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let data = case.data_json()?;
    let related = procedure.related.iter().find(|r| r.id == target && r.applies(&data)).ok_or(AppError::NotFound)?;
    let a = active(&app, &tenant, &target).await?;
    let carried = related.carried(&data);
    let draft = session.data.drafts.entry(target.clone()).or_insert_with(|| Json::Object(Map::new()));
    if let (Some(draft), Some(carried)) = (draft.as_object_mut(), carried.as_object()) {
        for (k, v) in carried {
            draft.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let data = draft_of(&session, &target);
    let first = a.procedure.form.visible_pages(&data).first().map(|p| p.id.clone()).ok_or(AppError::NotFound)?;
    session.finish(&app, &slug, redirect(&format!("/{slug}/antrag/{target}/{first}"))).await
}

fn outlook_view(app: &AppState, tenant: &Tenant, a: &ActiveProcedure, data: &Json, lang: Lang) -> Option<Json> {
    let today = german_today(app.runtime.clock.now());
    let facts = rathaus_runtime::tenant_facts(tenant, today);
    let o = match outlook(&a.procedure, data, &a.parameters, &facts, today, lang) {
        Ok(o) => o?,
        Err(e) => {
            tracing::debug!(procedure = a.procedure.id(), error = %e, "assistant: check failed on partial data");
            return None;
        }
    };
    let fee = o.fee.map(|f| if f.is_zero() { t(lang, "assistant.fee_none") } else { f.to_german() });
    let duration = match o.processing_days {
        Some(days) => tf(lang, "assistant.duration_days", &[("days", &days.to_string())]),
        None if o.review => t(lang, "assistant.duration_review"),
        None => t(lang, "assistant.duration_immediate"),
    };
    Some(serde_json::json!({
        "review": o.review,
        "hints": o.hints,
        "documents": o.documents,
        "fee": fee,
        "duration": duration,
    }))
}

struct CheckView {
    sections: Vec<Json>,
    errors: Vec<Json>,
    outlook: Option<Json>,
}

fn check_view(
    app: &AppState,
    tenant: &Tenant,
    a: &ActiveProcedure,
    data: &Json,
    extra_errors: &[FieldError],
    lang: Lang,
) -> CheckView {
    let p = &a.procedure;
    let slug = &tenant.slug;
    let today = german_today(app.runtime.clock.now());
    let validated = p.form.validate(data, &p.catalogues, today, lang);
    let page_of = |field: &str| -> String {
        let top = field.split('[').next().unwrap_or(field);
        p.form
            .pages
            .iter()
            .find(|pg| pg.fields.iter().any(|f| f.key == top))
            .map(|pg| pg.id.clone())
            .unwrap_or_default()
    };
    let errors: Vec<Json> = validated
        .errors
        .iter()
        .chain(extra_errors)
        .map(|e| {
            let page = page_of(&e.field);
            serde_json::json!({"message": e.message, "href": format!("/{slug}/antrag/{}/{page}?zurueck=pruefen#{}", p.id(), anchor_for(&p.form, &e.field))})
        })
        .collect();
    let sections: Vec<Json> = summarize(&p.form, &validated.data, &p.catalogues, lang)
        .into_iter()
        .map(|s| {
            let rows: Vec<Json> = s.rows.iter().map(|r| serde_json::json!({"label": r.label, "value": r.value, "anchor": anchor_for(&p.form, &r.key)})).collect();
            serde_json::json!({"title": s.title, "rows": rows, "change_url": format!("/{slug}/antrag/{}/{}?zurueck=pruefen", p.id(), s.page_id)})
        })
        .collect();
    // The assistant's outlook: the procedure's own checks on the answers, on the checked
    // data once it is complete.
    let outlook = outlook_view(app, tenant, a, if validated.errors.is_empty() { &validated.data } else { data }, lang);
    CheckView { sections, errors, outlook }
}

/// Problems to show on the check page besides those of the data itself.
#[derive(Default)]
struct CheckProblems<'a> {
    /// Errors the runtime reported on submission.
    fields: &'a [FieldError],
    declaration: Option<String>,
}

fn render_check(
    app: &AppState,
    tenant: &Tenant,
    a: &ActiveProcedure,
    data: &Json,
    problems: CheckProblems<'_>,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let declaration_error = problems.declaration;
    let v = check_view(app, tenant, a, data, problems.fields, lang);
    let first_page = a.procedure.form.visible_pages(data).last().map(|p| p.id.clone()).unwrap_or_default();
    // Error summary links of this page lead to the form page of the field.
    let mut summary_errors = v.errors;
    if let Some(d) = &declaration_error {
        summary_errors.push(serde_json::json!({"anchor": "erklaerung", "message": d}));
    }
    Ok(render(
        "check.html",
        context! {
            service => service_view(a, lang),
            sections => v.sections,
            errors => summary_errors,
            outlook => v.outlook,
            declaration_error => declaration_error,
            back_url => format!("/{}/antrag/{}/{}", tenant.slug, a.procedure.id(), first_page),
            action_url => format!("/{}/antrag/{}/pruefen", tenant.slug, a.procedure.id()),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn check(
    State(app): State<AppState>,
    Path((slug, procedure)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    let data = draft_of(&session, &procedure);
    if data.as_object().is_none_or(|o| o.is_empty()) {
        let first = a.procedure.form.pages.first().map(|p| p.id.clone()).unwrap_or_default();
        return session.finish(&app, &slug, redirect(&format!("/{slug}/antrag/{procedure}/{first}"))).await;
    }
    let body = render_check(&app, &tenant, &a, &data, CheckProblems::default(), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn submit(
    State(app): State<AppState>,
    Path((slug, procedure)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let a = active(&app, &tenant, &procedure).await?;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let data = draft_of(&session, &procedure);
    if posted.get("erklaerung") != Some("true") {
        let body = render_check(
            &app,
            &tenant,
            &a,
            &data,
            CheckProblems { declaration: Some(t(lang, "check.declaration_missing")), ..Default::default() },
            lang,
            &mut session,
        )?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    // A clerk entering an application that came by post, phone…: the same check page.
    let entering = crate::intake::entering(&session, &procedure);
    let result = if entering {
        match crate::intake::submit(&app, &tenant, &mut session, &data, lang).await? {
            Ok(result) => result,
            Err(to_login) => return session.finish(&app, &slug, to_login).await,
        }
    } else {
        app.runtime
            .submit(SubmitRequest {
                tenant: &tenant,
                procedure_id: &procedure,
                data: &data,
                channel: Channel::Portal,
                lang,
                actor: Actor::Applicant,
                upload_key: session.data.upload_keys.get(&procedure).map(String::as_str),
                account_id: session.data.account.as_ref().map(|a| a.account_id.as_str()),
                business_id: session
                    .data
                    .account
                    .as_ref()
                    .and_then(|a| a.acting_for.as_ref())
                    .map(|b| b.business_id.as_str()),
            })
            .await
    };
    match result {
        Ok(s) if entering => {
            session.finish(&app, &slug, redirect(&format!("/{slug}/intern/vorgaenge/{}", s.case_id))).await
        }
        Ok(s) => {
            session.data.drafts.remove(&procedure);
            session.data.upload_keys.remove(&procedure);
            if let Some(draft_id) = session.data.draft_ids.remove(&procedure) {
                app.runtime.delete_draft(&tenant.tenant_id, &draft_id, "submitted").await?;
            }
            session.data.saved_draft = None;
            session.data.grants.push(s.case_id.clone());
            session.data.fresh_access_code =
                Some((s.reference.as_str().to_string(), s.access_code.as_str().to_string()));
            session
                .finish(&app, &slug, Redirect::to(&format!("/{slug}/vorgang/{}/eingang", s.reference)).into_response())
                .await
        }
        Err(RuntimeError::Invalid(errors)) => {
            let body = render_check(
                &app,
                &tenant,
                &a,
                &data,
                CheckProblems { fields: &errors, declaration: None },
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn granted_case(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    reference: &str,
) -> AppResult<cases::Case> {
    let reference = Reference::parse(reference).ok_or(AppError::NotFound)?;
    let mut conn = app.runtime.store.conn().await?;
    let case =
        cases::by_reference(&mut conn, &tenant.tenant_id, reference.as_str()).await?.ok_or(AppError::NotFound)?;
    if session.data.grants.contains(&case.case_id) {
        return Ok(case);
    }
    // A signed-in account sees its own cases without the access code.
    if let Some(me) = &session.data.account {
        if app.runtime.account_owns_case(tenant, &me.account_id, &case.case_id).await? {
            return Ok(case);
        }
    }
    Err(AppError::Forbidden)
}

async fn applicant_documents(app: &AppState, tenant: &Tenant, case: &cases::Case, lang: Lang) -> AppResult<Vec<Json>> {
    let mut conn = app.runtime.store.conn().await?;
    Ok(documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
        .await?
        .into_iter()
        .filter(|d| d.visible_to_applicant == 1)
        .map(|d| {
            let created = rathaus_store::parse_ts(&d.created_at).map(german_date_time).unwrap_or_default();
            serde_json::json!({"title": d.title, "kind": d.kind, "size": size_label(d.size, lang), "created": created,
                "url": format!("/{}/vorgang/{}/dokumente/{}", tenant.slug, case.reference, d.document_id),
                "attachment": d.kind == "anlage", "file_name": d.file_name, "sha256": d.sha256,
                "type": file_type_label(&d.media_type)})
        })
        .collect())
}

/// "PDF", "JPEG", "PNG" for a document's media type.
pub(crate) fn file_type_label(media_type: &str) -> &'static str {
    rathaus_domain::attachment::FileType::ALL
        .into_iter()
        .find(|t| t.media_type() == media_type)
        .map(|t| t.label())
        .unwrap_or("Datei")
}

fn status_texts(status: &str, lang: Lang) -> (String, String) {
    (t(lang, &format!("case_status.{status}")), t(lang, &format!("case_status_text.{status}")))
}

pub async fn receipt(
    State(app): State<AppState>,
    Path((slug, reference)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let case = granted_case(&app, &tenant, &session, &reference).await?;
    let access_code = match session.data.fresh_access_code.take() {
        Some((r, code)) if r == case.reference => Some(code),
        other => {
            session.data.fresh_access_code = other;
            None
        }
    };
    let docs = applicant_documents(&app, &tenant, &case, lang).await?;
    let (_, text) = status_texts(&case.status, lang);
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let related = related_views(&app, &tenant, &procedure, &case.data_json()?, lang, Some(&case.reference)).await?;
    let body = render(
        "receipt.html",
        context! { case => context! { reference => case.reference }, access_code => access_code, status_text => text, documents => docs,
        related => related, ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn status(
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
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let docs = applicant_documents(&app, &tenant, &case, lang).await?;
    let mut conn = app.runtime.store.conn().await?;
    let evs: Vec<Json> = events::for_case(&mut conn, &tenant.tenant_id, &case.case_id, true)
        .await?
        .into_iter()
        .map(|e| serde_json::json!({"at": rathaus_store::parse_ts(&e.at).map(german_date_time).unwrap_or_default(), "message": e.message}))
        .collect();
    let fee = fees::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?.into_iter().last().map(|f| {
        let amount = Money::from_cents(f.amount_cents);
        let bank = &tenant.settings.bank;
        // To pay: the account written out and, while the fee is open, the GiroCode.
        let transfer = rathaus_domain::girocode::Transfer::for_fee(bank, amount, &f.kassenzeichen);
        let girocode = transfer.as_ref().filter(|_| f.status != "paid" && !amount.is_zero()).and_then(|t| t.svg());
        serde_json::json!({"amount": amount.to_german(), "kassenzeichen": f.kassenzeichen,
            "due": rathaus_domain::time::german_day(&f.due_date),
            "paid": f.status == "paid",
            "holder": bank.holder, "iban": transfer.as_ref().map(|t| t.iban.to_string()), "bic": bank.bic, "bank": bank.bank,
            "girocode_alt": tf(lang, "status.girocode_alt", &[("amount", &amount.to_german()), ("holder", &bank.holder)]),
            "girocode": girocode})
    });
    drop(conn);
    let reasons: Vec<String> = case
        .findings_json()?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["grund"].as_str().map(String::from))
        .collect();
    let (label, text) = status_texts(&case.status, lang);
    let new_messages = app
        .runtime
        .messages(&tenant, &case.case_id)
        .await?
        .iter()
        .filter(|m| m.direction == rathaus_store::mailbox::OUT && m.read_at.is_none())
        .count();
    let expected = app.runtime.expected_completion(&tenant, &case).await?.map(|e| {
        let basis = match e.basis {
            rathaus_runtime::expected::Basis::Statistics { cases } => {
                tf(lang, "status.expected_statistics", &[("n", &cases.to_string())])
            }
            rathaus_runtime::expected::Basis::Standard { working_days } => {
                tf(lang, "status.expected_standard", &[("days", &working_days.to_string())])
            }
        };
        serde_json::json!({"date": rathaus_domain::time::german_date(e.by), "basis": basis})
    });
    let body = render(
        "status.html",
        context! {
            case => context! { reference => case.reference, status => case.status, status_label => label, status_text => text, procedure_name => procedure.manifest.name.get(lang),
                closed => case.closed_at.as_deref().and_then(|c| rathaus_store::parse_ts(c).ok()).map(german_date_time),
                decided => case.decided_at.is_some() },
            reasons => reasons, fee => fee, documents => docs, events => evs, expected => expected,
            new_messages => new_messages, mailbox_url => format!("/{slug}/vorgang/{}/nachrichten", case.reference),
            requests => crate::requests::waiting_views(&app.runtime.document_requests(&tenant, &case.case_id).await?, lang),
            withdrawable => crate::withdrawal::withdrawable(&case),
            related => related_views(&app, &tenant, &procedure, &case.data_json()?, lang, Some(&case.reference)).await?,
            pay_online => app.runtime.online_payment(),
            pay_url => format!("/{slug}/vorgang/{}/bezahlen", case.reference),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

/// A stored document as a download: generated documents open in the browser; files an
/// applicant uploaded are offered as downloads and may run nothing (`sandbox`), since their
/// content comes from outside. The name is given as ASCII and as UTF-8 (RFC 6266).
pub(crate) fn document_response(meta: &documents::DocumentMeta, bytes: Vec<u8>) -> Response {
    let uploaded = meta.kind == "anlage";
    let ascii: String = meta
        .file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\') || c == ' ' { c } else { '_' })
        .collect();
    let disposition = format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if uploaded { "attachment" } else { "inline" },
        urlencoding::encode(&meta.file_name)
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, meta.media_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response();
    if uploaded {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static("sandbox"));
    }
    response
}

pub async fn document(
    State(app): State<AppState>,
    Path((slug, reference, document_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let case = granted_case(&app, &tenant, &session, &reference).await?;
    let mut conn = app.runtime.store.conn().await?;
    let (meta, bytes) = documents::content(&mut conn, &tenant.tenant_id, &case.case_id, &document_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if meta.visible_to_applicant != 1 {
        return Err(AppError::NotFound);
    }
    drop(conn);
    app.runtime.document_retrieved(&tenant.tenant_id, &meta, "portal").await?;
    session.finish(&app, &slug, document_response(&meta, bytes)).await
}

pub async fn status_login(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let body =
        render("status_login.html", context! { reference => "", ..base(lang, Some(&tenant), Some(&mut session)) })?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn status_lookup(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let reference_text = posted.text("aktenzeichen");
    let code_text = posted.text("zugangscode");
    let mut reference_error = None;
    let mut code_error = None;
    let reference = if reference_text.is_empty() {
        reference_error = Some(t(lang, "status.reference_missing"));
        None
    } else {
        let r = Reference::parse(&reference_text);
        if r.is_none() {
            reference_error = Some(t(lang, "status.reference_invalid"));
        }
        r
    };
    let code = if code_text.is_empty() {
        code_error = Some(t(lang, "status.code_missing"));
        None
    } else {
        let c = AccessCode::parse(&code_text);
        if c.is_none() {
            code_error = Some(t(lang, "status.code_invalid"));
        }
        c
    };
    if let (Some(reference), Some(code)) = (&reference, &code) {
        match app.unlock_case(&tenant, reference, code, "status").await? {
            Unlock::Granted(c) => {
                if !session.data.grants.contains(&c.case_id) {
                    session.data.grants.push(c.case_id.clone());
                }
                return session
                    .finish(&app, &slug, Redirect::to(&format!("/{slug}/vorgang/{}", c.reference)).into_response())
                    .await;
            }
            Unlock::Denied => code_error = Some(t(lang, "status.not_found")),
            Unlock::Limited => code_error = Some(t(lang, "status.too_many_attempts")),
        }
    }
    let mut errors = Vec::new();
    if let Some(e) = &reference_error {
        errors.push(serde_json::json!({"anchor": "aktenzeichen", "message": e}));
    }
    if let Some(e) = &code_error {
        errors.push(serde_json::json!({"anchor": "zugangscode", "message": e}));
    }
    let body = render(
        "status_login.html",
        context! { reference => reference_text, reference_error => reference_error, code_error => code_error, errors => errors, ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}
