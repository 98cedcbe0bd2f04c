//! The tenant's administration pages (Verwaltung): the procedures the town offers with its
//! parameters, and its staff with their roles. Tenant admins change; auditors read; every
//! change goes through `rathaus_runtime::admin`, which checks and audits it.

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
use rathaus_domain::tenant::OidcSettings;
use rathaus_domain::{Lang, Role, TenantSettings};
use rathaus_engine::form::FieldError;
use rathaus_engine::library::ParameterKind;
use rathaus_runtime::admin::{parse_org_units, NewStaffMember, StaffChange};
use rathaus_runtime::RuntimeError;
use rathaus_store::staff::{self, Staff};
use rathaus_store::tenants::{self, Tenant};
use serde_json::{json, Map, Value as Json};

/// A first or reset password: long, random, shown once.
fn new_password() -> String {
    rathaus_runtime::admin::random_text(16)
}

/// The signed-in staff member if they may see (`write`: change) the administration.
pub(crate) async fn require_admin(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    write: bool,
) -> AppResult<Result<StaffCtx, Response>> {
    match require_staff(app, tenant, session).await {
        // A service centre's staff never administer the town, whatever their role.
        Ok(ctx) if ctx.own_staff() && (ctx.role == Role::TenantAdmin || (!write && ctx.role == Role::Auditor)) => {
            Ok(Ok(ctx))
        }
        Ok(_) => Err(AppError::Forbidden),
        Err(r) => Ok(Err(r)),
    }
}

/// A posted administration form: its CSRF token checked, a tenant admin signed in.
pub(crate) async fn admin_post(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    pairs: Vec<(String, String)>,
) -> AppResult<Result<(Posted, StaffCtx), Response>> {
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    Ok(require_admin(app, tenant, session, true).await?.map(|ctx| (posted, ctx)))
}

fn role_options(lang: Lang, chosen: &str) -> Vec<Json> {
    Role::ALL.iter().map(|r| json!({"code": r.code(), "label": t(lang, &format!("role.{}", r.code())), "selected": r.code() == chosen})).collect()
}

fn staff_row(lang: Lang, s: &Staff, slug: &str) -> Json {
    json!({"staff_id": s.staff_id, "name": s.display_name, "username": s.username, "role": t(lang, &format!("role.{}", s.role)),
        "units": s.org_unit_list().join(", "), "email": s.email, "active": s.active == 1,
        "url": format!("/{slug}/intern/verwaltung/mitarbeitende/{}", s.staff_id)})
}

/// The new-account form as posted.
#[derive(Default)]
struct NewForm {
    username: String,
    name: String,
    role: String,
    units: String,
    email: String,
    errors: Vec<FieldError>,
}

async fn overview(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    lang: Lang,
    form: NewForm,
) -> AppResult<String> {
    let mut conn = app.runtime.store.conn().await?;
    let people = staff::all(&mut conn, &tenant.tenant_id).await?;
    let activations = tenants::activations(&mut conn, &tenant.tenant_id).await?;
    drop(conn);
    let slug = &tenant.slug;
    let procedures: Vec<Json> = app
        .runtime
        .library
        .procedures
        .values()
        .map(|p| {
            let active = activations.iter().any(|a| a.procedure_id == p.id() && a.active);
            json!({"id": p.id(), "name": p.manifest.name.get(lang), "version": p.manifest.version, "active": active,
                "url": format!("/{slug}/intern/verwaltung/verfahren/{}", p.id())})
        })
        .collect();
    let errors: Vec<Json> =
        form.errors.iter().map(|e| json!({"anchor": format!("neu-{}", e.field), "message": e.message})).collect();
    let error_of = |f: &str| form.errors.iter().find(|e| e.field == f).map(|e| e.message.clone());
    Ok(render(
        "admin.html",
        context! {
            procedures => procedures, people => people.iter().map(|s| staff_row(lang, s, slug)).collect::<Vec<_>>(),
            may_change => ctx.role == Role::TenantAdmin, errors => errors,
            new => context! { username => form.username, name => form.name, units => form.units, email => form.email,
                roles => role_options(lang, if form.role.is_empty() { "clerk" } else { &form.role }),
                username_error => error_of("benutzername"), name_error => error_of("name"),
                units_error => error_of("einheiten"), email_error => error_of("email") },
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn page(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = overview(&app, &tenant, &mut session, &ctx, lang, NewForm::default()).await?;
    session.finish(&app, &slug, html(body)).await
}

fn optional(text: String) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// A tenant admin creates a staff account; its first password is shown once.
pub async fn create_staff(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let mut form = NewForm {
        username: posted.text("benutzername").trim().to_string(),
        name: posted.text("name"),
        role: posted.text("rolle"),
        units: posted.text("einheiten"),
        email: posted.text("email"),
        errors: Vec::new(),
    };
    let role = Role::parse(&form.role);
    if role.is_none() {
        form.errors.push(FieldError { field: "rolle".into(), message: t(lang, "admin.role_missing") });
    }
    let password = new_password();
    let hash = {
        let pw = password.clone();
        tokio::task::spawn_blocking(move || crate::hash_password(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    };
    let units = parse_org_units(&form.units);
    let email = optional(form.email.clone());
    let result = match role {
        Some(role) if form.errors.is_empty() => {
            let member = NewStaffMember {
                username: &form.username,
                display_name: &form.name,
                password_hash: &hash,
                role,
                org_units: &units,
                email: email.as_deref(),
            };
            app.runtime.create_staff(&tenant, &member, &actor(&ctx.staff)).await.map(|_| ())
        }
        _ => Err(RuntimeError::Invalid(Vec::new())),
    };
    match result {
        Ok(()) => {
            session.data.flash =
                Some(tf(lang, "admin.created", &[("username", &form.username), ("password", &password)]));
            session
                .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/verwaltung#mitarbeitende")).into_response())
                .await
        }
        Err(RuntimeError::Invalid(problems)) => {
            form.errors.extend(problems);
            let body = overview(&app, &tenant, &mut session, &ctx, lang, form).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(RuntimeError::Conflict(message)) => {
            form.errors.push(FieldError { field: "benutzername".into(), message });
            let body = overview(&app, &tenant, &mut session, &ctx, lang, form).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn staff_page(
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    person: &Staff,
    change: Option<&StaffChange>,
    errors: &[FieldError],
    lang: Lang,
) -> AppResult<String> {
    let (name, role, units, email, active) = match change {
        Some(c) => (
            c.display_name.clone(),
            c.role.code().to_string(),
            c.org_units.join(", "),
            c.email.clone().unwrap_or_default(),
            c.active,
        ),
        None => (
            person.display_name.clone(),
            person.role.clone(),
            person.org_unit_list().join(", "),
            person.email.clone().unwrap_or_default(),
            person.active == 1,
        ),
    };
    let error_of = |f: &str| errors.iter().find(|e| e.field == f).map(|e| e.message.clone());
    let summary: Vec<Json> = errors.iter().map(|e| json!({"anchor": e.field, "message": e.message})).collect();
    Ok(render(
        "admin_staff.html",
        context! {
            person => context! { staff_id => person.staff_id, username => person.username, name => name, units => units, email => email,
                active => active, roles => role_options(lang, &role) },
            errors => summary, name_error => error_of("name"), units_error => error_of("einheiten"), email_error => error_of("email"),
            may_change => ctx.role == Role::TenantAdmin,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

async fn person_of(app: &AppState, tenant: &Tenant, staff_id: &str) -> AppResult<Staff> {
    let mut conn = app.runtime.store.conn().await?;
    staff::by_id(&mut conn, &tenant.tenant_id, staff_id).await?.ok_or(AppError::NotFound)
}

pub async fn staff_form(
    State(app): State<AppState>,
    Path((slug, staff_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let person = person_of(&app, &tenant, &staff_id).await?;
    let body = staff_page(&tenant, &mut session, &ctx, &person, None, &[], lang).await?;
    session.finish(&app, &slug, html(body)).await
}

/// Saves a staff account's name, role, units, address and status, or sets a new password.
pub async fn staff_save(
    State(app): State<AppState>,
    Path((slug, staff_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let person = person_of(&app, &tenant, &staff_id).await?;
    let who = actor(&ctx.staff);
    let back = format!("/{slug}/intern/verwaltung/mitarbeitende/{staff_id}");
    if posted.text("_aktion") == "passwort" {
        let password = new_password();
        let hash = {
            let pw = password.clone();
            tokio::task::spawn_blocking(move || crate::hash_password(&pw))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
        };
        app.runtime.reset_staff_password(&tenant, &staff_id, &hash, &who).await?;
        session.data.flash =
            Some(tf(lang, "admin.password_reset", &[("username", &person.username), ("password", &password)]));
        return session.finish(&app, &slug, Redirect::to(&back).into_response()).await;
    }
    let Some(role) = Role::parse(&posted.text("rolle")) else {
        return Err(AppError::BadRequest(t(lang, "admin.role_missing")));
    };
    let change = StaffChange {
        display_name: posted.text("name"),
        role,
        org_units: parse_org_units(&posted.text("einheiten")),
        email: optional(posted.text("email")),
        active: posted.get("aktiv") == Some("ja"),
    };
    match app.runtime.update_staff(&tenant, &staff_id, &change, &who).await {
        Ok(()) => {
            session.data.flash = Some(tf(lang, "admin.saved", &[("username", &person.username)]));
            session.finish(&app, &slug, Redirect::to(&back).into_response()).await
        }
        Err(RuntimeError::Invalid(problems)) => {
            let body = staff_page(&tenant, &mut session, &ctx, &person, Some(&change), &problems, lang).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(RuntimeError::Conflict(message)) => {
            session.data.flash = Some(message);
            session.finish(&app, &slug, Redirect::to(&back).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A parameter's value as the form shows it: money with a decimal comma, lists one per line.
fn shown_value(kind: ParameterKind, value: &Json, lang: Lang) -> String {
    match (kind, value) {
        (ParameterKind::Money, v) => rathaus_domain::Money::from_json_euros(v)
            .map(|m| if lang == Lang::De { m.to_decimal_string().replace('.', ",") } else { m.to_decimal_string() })
            .unwrap_or_default(),
        (ParameterKind::List, Json::Array(items)) => {
            items.iter().filter_map(Json::as_str).collect::<Vec<_>>().join("\n")
        }
        (ParameterKind::Table, Json::Array(rows)) => tf(lang, "admin.table_rows", &[("n", &rows.len().to_string())]),
        (_, Json::String(s)) => s.clone(),
        (_, Json::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

/// A parameter as typed, as JSON for the overrides; `None` for an empty field (the default).
fn typed_value(kind: ParameterKind, typed: &str) -> Option<Json> {
    let typed = typed.trim();
    match kind {
        ParameterKind::Boolean => Some(Json::Bool(typed == "ja")),
        // Tables are kept on their own page, never through this form.
        ParameterKind::Table => None,
        _ if typed.is_empty() => None,
        ParameterKind::Money => Some(Json::String(
            rathaus_domain::Money::parse_input(typed).map(|m| m.to_decimal_string()).unwrap_or_else(|_| typed.into()),
        )),
        ParameterKind::Integer => {
            Some(typed.parse::<i64>().map(Json::from).unwrap_or_else(|_| Json::String(typed.into())))
        }
        ParameterKind::List => Some(Json::Array(
            typed.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Json::String(l.into())).collect(),
        )),
        ParameterKind::Text | ParameterKind::Duration | ParameterKind::OrgUnit => Some(Json::String(typed.into())),
    }
}

/// A procedure's settings page: as stored, or as posted (`posted`: the overrides and
/// whether offered) with the problems found.
struct ProcedureView<'a> {
    id: &'a str,
    posted: Option<(&'a Map<String, Json>, bool)>,
    errors: &'a [FieldError],
}

async fn procedure_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    view: ProcedureView<'_>,
    lang: Lang,
) -> AppResult<String> {
    let ProcedureView { id: procedure_id, posted, errors } = view;
    let p = app.runtime.library.get(procedure_id).ok_or(AppError::NotFound)?;
    let mut conn = app.runtime.store.conn().await?;
    let activation = tenants::activation(&mut conn, &tenant.tenant_id, procedure_id).await?;
    drop(conn);
    let (overrides, active) = match posted {
        Some((o, a)) => (Json::Object(o.clone()), a),
        None => (
            activation.as_ref().map(|a| a.parameters.clone()).unwrap_or_else(|| json!({})),
            activation.as_ref().is_some_and(|a| a.active),
        ),
    };
    let fields: Vec<Json> = p
        .manifest
        .parameters
        .iter()
        .map(|(name, def)| {
            let default = serde_json::to_value(&def.default).unwrap_or(Json::Null);
            let current = overrides.get(name);
            let error = errors.iter().find(|e| e.field == format!("p.{name}")).map(|e| e.message.clone());
            json!({"name": name, "id": format!("p-{name}"), "kind": format!("{:?}", def.kind).to_lowercase(),
                "label": def.label.get(lang), "help": def.help.as_ref().map(|h| h.get(lang)),
                "value": current.map(|v| shown_value(def.kind, v, lang)).unwrap_or_default(),
                "checked": current.or(Some(&default)).and_then(Json::as_bool).unwrap_or(false),
                "default": shown_value(def.kind, &default, lang), "error": error,
                "table_url": (def.kind == ParameterKind::Table).then(|| format!("/{}/intern/verwaltung/verfahren/{}/tabellen/{name}", tenant.slug, p.id())),
                "rows": current.or(Some(&default)).and_then(Json::as_array).map(Vec::len)})
        })
        .collect();
    let summary: Vec<Json> =
        errors.iter().map(|e| json!({"anchor": e.field.replace('.', "-"), "message": e.message})).collect();
    let deadlines: Vec<Json> = p
        .manifest
        .deadlines
        .values()
        .map(|d| json!({"label": d.label.get(lang), "kind": t(lang, &format!("deadline.kind_{}", d.kind.code())),
            "legal_basis": d.legal_basis, "length": d.duration.clone().or_else(|| d.parameter.as_ref().map(|n| tf(lang, "admin.deadline_parameter", &[("name", n)])))}))
        .collect();
    Ok(render(
        "admin_procedure.html",
        context! {
            procedure => context! { id => p.id(), name => p.manifest.name.get(lang), version => p.manifest.version, summary => p.manifest.summary.get(lang) },
            active => active, fields => fields, errors => summary, deadlines => deadlines, may_change => ctx.role == Role::TenantAdmin,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn procedure_form(
    State(app): State<AppState>,
    Path((slug, procedure_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let view = ProcedureView { id: &procedure_id, posted: None, errors: &[] };
    let body = procedure_page(&app, &tenant, &mut session, &ctx, view, lang).await?;
    session.finish(&app, &slug, html(body)).await
}

/// Saves whether the town offers the procedure and its parameter overrides; a field left
/// empty (or set to the library's value) uses the library's default.
pub async fn procedure_save(
    State(app): State<AppState>,
    Path((slug, procedure_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let p = app.runtime.library.get(&procedure_id).ok_or(AppError::NotFound)?.clone();
    let active = posted.get("aktiv") == Some("ja");
    let mut overrides = Map::new();
    // Tables are kept on their own page: what the town has stays.
    let mut conn = app.runtime.store.conn().await?;
    let stored = tenants::activation(&mut conn, &tenant.tenant_id, &procedure_id).await?;
    drop(conn);
    for (name, _) in p.manifest.parameters.iter().filter(|(_, d)| d.kind == ParameterKind::Table) {
        if let Some(rows) = stored.as_ref().and_then(|a| a.parameters.get(name)) {
            overrides.insert(name.clone(), rows.clone());
        }
    }
    for (name, def) in &p.manifest.parameters {
        let default = serde_json::to_value(&def.default).unwrap_or(Json::Null);
        let typed = if def.kind == ParameterKind::Boolean {
            if posted.get(&format!("p.{name}")) == Some("ja") {
                "ja".to_string()
            } else {
                String::new()
            }
        } else {
            posted.text(&format!("p.{name}"))
        };
        let Some(value) = typed_value(def.kind, &typed) else { continue };
        // What equals the library's value is no override: the town follows the library.
        let same = match def.kind {
            ParameterKind::Money => {
                rathaus_domain::Money::from_json_euros(&default).ok().map(|m| m.to_decimal_string())
                    == value.as_str().and_then(|v| rathaus_domain::Money::parse(v).ok()).map(|m| m.to_decimal_string())
            }
            _ => value == default,
        };
        if !same {
            overrides.insert(name.clone(), value);
        }
    }
    match app.runtime.configure_procedure(&tenant, &procedure_id, active, &overrides, &actor(&ctx.staff)).await {
        Ok(()) => {
            session.data.flash = Some(tf(lang, "admin.procedure_saved", &[("name", p.manifest.name.get(lang))]));
            let back = format!("/{slug}/intern/verwaltung/verfahren/{procedure_id}");
            session.finish(&app, &slug, Redirect::to(&back).into_response()).await
        }
        Err(RuntimeError::Invalid(problems)) => {
            let view = ProcedureView { id: &procedure_id, posted: Some((&overrides, active)), errors: &problems };
            let body = procedure_page(&app, &tenant, &mut session, &ctx, view, lang).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn keys_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    label: &str,
    error: Option<String>,
    lang: Lang,
) -> AppResult<String> {
    let keys: Vec<Json> = app
        .runtime
        .api_keys(tenant)
        .await?
        .into_iter()
        .map(|k| {
            json!({"key_id": k.key_id, "label": k.label, "created": crate::backoffice::when(&k.created_at),
            "revoked": k.revoked_at.as_deref().map(crate::backoffice::when)})
        })
        .collect();
    let errors: Vec<Json> = error.iter().map(|e| json!({"anchor": "bezeichnung", "message": e})).collect();
    Ok(render(
        "admin_keys.html",
        context! { keys => keys, label => label, label_error => error, errors => errors, may_change => ctx.role == Role::TenantAdmin,
        ..base(lang, Some(tenant), Some(session)) },
    )?)
}

pub async fn keys(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = keys_page(&app, &tenant, &mut session, &ctx, "", None, lang).await?;
    session.finish(&app, &slug, html(body)).await
}

/// Creates an API key; the key is shown once, in the flash.
pub async fn create_key(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let label = posted.text("bezeichnung");
    match app.runtime.create_api_key(&tenant, &label, &actor(&ctx.staff)).await {
        Ok(key) => {
            session.data.flash = Some(tf(lang, "admin.key_created", &[("label", label.trim()), ("key", &key)]));
            session
                .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/verwaltung/schluessel")).into_response())
                .await
        }
        Err(RuntimeError::Invalid(problems)) => {
            let error = problems.into_iter().next().map(|p| p.message);
            let body = keys_page(&app, &tenant, &mut session, &ctx, &label, error, lang).await?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes an API key at once.
pub async fn revoke_key(
    State(app): State<AppState>,
    Path((slug, key_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (_, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let key = if app.runtime.revoke_api_key(&tenant, &key_id, &actor(&ctx.staff)).await? {
        "admin.key_revoked"
    } else {
        "admin.key_not_revoked"
    };
    session.data.flash = Some(t(lang, key));
    session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/verwaltung/schluessel")).into_response()).await
}

/// How a setting is edited.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    /// Several paragraphs.
    Long,
    /// A list, one entry per line (host names).
    Lines,
    /// A choice of the options the page offers for it (typeface, Land).
    Choice,
    /// Written, never shown: empty keeps what is stored (a provider's client secret).
    Secret,
}

/// One field of the settings form: its form name (also its label's key
/// `admin.setting_{name}` and its error's field), section, kind, and where it lives in the
/// tenant's settings, read and written.
struct Setting {
    name: &'static str,
    section: &'static str,
    kind: Kind,
    get: fn(&TenantSettings) -> String,
    set: fn(&mut TenantSettings, String),
}

/// The provider settings of `s`, created empty on first write.
fn provider(s: &mut Option<OidcSettings>) -> &mut OidcSettings {
    s.get_or_insert_with(OidcSettings::default)
}

fn read(s: &Option<OidcSettings>, f: fn(&OidcSettings) -> &String) -> String {
    s.as_ref().map(|p| f(p).clone()).unwrap_or_default()
}

const SETTINGS: &[Setting] = &[
    Setting {
        name: "logo_text",
        section: "look",
        kind: Kind::Text,
        get: |s| s.branding.logo_text.clone(),
        set: |s, v| s.branding.logo_text = v,
    },
    Setting {
        name: "tagline",
        section: "look",
        kind: Kind::Text,
        get: |s| s.branding.tagline.clone(),
        set: |s, v| s.branding.tagline = v,
    },
    Setting {
        name: "farbe",
        section: "look",
        kind: Kind::Text,
        get: |s| s.branding.primary_color.clone(),
        set: |s, v| s.branding.primary_color = v,
    },
    Setting {
        name: "akzent",
        section: "look",
        kind: Kind::Text,
        get: |s| s.branding.accent_color.clone(),
        set: |s, v| s.branding.accent_color = v,
    },
    Setting {
        name: "schrift",
        section: "look",
        kind: Kind::Choice,
        get: |s| s.branding.font.clone(),
        set: |s, v| s.branding.font = v,
    },
    Setting {
        name: "amt",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.office.clone(),
        set: |s, v| s.contact.office = v,
    },
    Setting {
        name: "strasse",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.street.clone(),
        set: |s, v| s.contact.street = v,
    },
    Setting {
        name: "plz",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.postcode.clone(),
        set: |s, v| s.contact.postcode = v,
    },
    Setting {
        name: "ort",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.city.clone(),
        set: |s, v| s.contact.city = v,
    },
    Setting {
        name: "telefon",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.phone.clone(),
        set: |s, v| s.contact.phone = v,
    },
    Setting {
        name: "email",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.email.clone(),
        set: |s, v| s.contact.email = v,
    },
    Setting {
        name: "sprechzeiten",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.opening_hours.clone(),
        set: |s, v| s.contact.opening_hours = v,
    },
    Setting {
        name: "vertretung",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.representative.clone(),
        set: |s, v| s.contact.representative = v,
    },
    Setting {
        name: "datenschutz",
        section: "contact",
        kind: Kind::Text,
        get: |s| s.contact.data_protection_officer.clone(),
        set: |s, v| s.contact.data_protection_officer = v,
    },
    Setting {
        name: "kontoinhaber",
        section: "bank",
        kind: Kind::Text,
        get: |s| s.bank.holder.clone(),
        set: |s, v| s.bank.holder = v,
    },
    Setting {
        name: "iban",
        section: "bank",
        kind: Kind::Text,
        get: |s| s.bank.iban.clone(),
        set: |s, v| s.bank.iban = v.replace(' ', ""),
    },
    Setting { name: "bic", section: "bank", kind: Kind::Text, get: |s| s.bank.bic.clone(), set: |s, v| s.bank.bic = v },
    Setting {
        name: "bankname",
        section: "bank",
        kind: Kind::Text,
        get: |s| s.bank.bank.clone(),
        set: |s, v| s.bank.bank = v,
    },
    Setting {
        name: "gebiet_plz",
        section: "area",
        kind: Kind::Text,
        get: |s| s.postcodes.join(", "),
        set: |s, v| {
            s.postcodes = v.split([',', ' ', '\n']).map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
        },
    },
    Setting {
        name: "land",
        section: "area",
        kind: Kind::Choice,
        get: |s| s.land.clone(),
        set: |s, v| s.land = v.to_uppercase(),
    },
    Setting {
        name: "ags",
        section: "area",
        kind: Kind::Text,
        get: |s| s.ags.clone(),
        set: |s, v| s.ags = v.trim().to_string(),
    },
    Setting {
        name: "domains",
        section: "area",
        kind: Kind::Lines,
        get: |s| s.domains.join("\n"),
        set: |s, v| {
            s.domains = v
                .split([',', ' ', '\n', '\r'])
                .map(|d| d.trim().trim_end_matches('.').to_lowercase())
                .filter(|d| !d.is_empty())
                .collect()
        },
    },
    // A number that does not parse is kept as 0, which the check refuses with the range.
    Setting {
        name: "entwuerfe_tage",
        section: "area",
        kind: Kind::Text,
        get: |s| s.drafts_kept_days.map(|n| n.to_string()).unwrap_or_default(),
        set: |s, v| s.drafts_kept_days = (!v.is_empty()).then(|| v.parse().unwrap_or(0)),
    },
    Setting {
        name: "oidc_aussteller",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.oidc, |p| &p.issuer),
        set: |s, v| provider(&mut s.oidc).issuer = v.trim_end_matches('/').to_string(),
    },
    Setting {
        name: "oidc_client",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.oidc, |p| &p.client_id),
        set: |s, v| provider(&mut s.oidc).client_id = v,
    },
    Setting {
        name: "oidc_geheimnis",
        section: "login",
        kind: Kind::Secret,
        get: |_| String::new(),
        set: |s, v| provider(&mut s.oidc).client_secret = v,
    },
    Setting {
        name: "oidc_name",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.oidc, |p| &p.label),
        set: |s, v| provider(&mut s.oidc).label = v,
    },
    Setting {
        name: "personal_oidc_aussteller",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.staff_oidc, |p| &p.issuer),
        set: |s, v| provider(&mut s.staff_oidc).issuer = v.trim_end_matches('/').to_string(),
    },
    Setting {
        name: "personal_oidc_client",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.staff_oidc, |p| &p.client_id),
        set: |s, v| provider(&mut s.staff_oidc).client_id = v,
    },
    Setting {
        name: "personal_oidc_geheimnis",
        section: "login",
        kind: Kind::Secret,
        get: |_| String::new(),
        set: |s, v| provider(&mut s.staff_oidc).client_secret = v,
    },
    Setting {
        name: "personal_oidc_name",
        section: "login",
        kind: Kind::Text,
        get: |s| read(&s.staff_oidc, |p| &p.label),
        set: |s, v| provider(&mut s.staff_oidc).label = v,
    },
    Setting {
        name: "impressum",
        section: "legal",
        kind: Kind::Long,
        get: |s| s.legal.imprint.clone(),
        set: |s, v| s.legal.imprint = v,
    },
    Setting {
        name: "datenschutzerklaerung",
        section: "legal",
        kind: Kind::Long,
        get: |s| s.legal.privacy.clone(),
        set: |s, v| s.legal.privacy = v,
    },
    Setting {
        name: "barrierefreiheit",
        section: "legal",
        kind: Kind::Long,
        get: |s| s.legal.accessibility.clone(),
        set: |s, v| s.legal.accessibility = v,
    },
    Setting {
        name: "schlichtungsstelle",
        section: "legal",
        kind: Kind::Text,
        get: |s| s.legal.accessibility_enforcement.clone(),
        set: |s, v| s.legal.accessibility_enforcement = v,
    },
];

const SECTIONS: [&str; 6] = ["look", "contact", "bank", "area", "login", "legal"];

/// The tenant's settings with the posted values put in. A provider whose issuer is left
/// empty is disconnected; a secret left empty keeps the stored one.
fn posted_settings(current: &TenantSettings, posted: &Posted) -> TenantSettings {
    let mut s = current.clone();
    // A field the form did not send keeps its value.
    for f in SETTINGS.iter().filter(|f| posted.get(f.name).is_some()) {
        let typed = posted.text(f.name);
        let value = if f.kind == Kind::Long { typed } else { typed.trim().to_string() };
        if f.kind == Kind::Secret && value.is_empty() {
            continue;
        }
        (f.set)(&mut s, value);
    }
    for (p, before) in [(&mut s.oidc, &current.oidc), (&mut s.staff_oidc, &current.staff_oidc)] {
        if p.as_ref().is_some_and(|o| o.issuer.is_empty()) {
            *p = None;
        } else if let (Some(now), Some(was)) = (p.as_mut(), before) {
            if now.client_secret.is_empty() {
                now.client_secret = was.client_secret.clone();
            }
        }
    }
    if posted.text("logo_entfernen") == "1" {
        s.branding.logo = String::new();
    }
    s
}

fn settings_page(
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    settings: &TenantSettings,
    errors: &[FieldError],
    lang: Lang,
) -> AppResult<String> {
    let options = |name: &str, chosen: &str| -> Vec<Json> {
        match name {
            "schrift" => rathaus_domain::tenant::FONTS
                .iter()
                .map(|(code, _)| json!({"code": code, "label": t(lang, &format!("admin.font_{code}")), "selected": chosen == *code || (chosen.is_empty() && *code == "sans")}))
                .collect(),
            _ => rathaus_domain::calendar::Land::ALL
                .iter()
                .map(|l| json!({"code": l.code(), "label": t(lang, &format!("land.{}", l.code())), "selected": chosen == l.code()}))
                .collect(),
        }
    };
    let sections: Vec<Json> = SECTIONS
        .iter()
        .map(|key| {
            let fields: Vec<Json> = SETTINGS
                .iter()
                .filter(|f| f.section == *key)
                .map(|f| {
                    let value = (f.get)(settings);
                    let kind = match f.kind {
                        Kind::Text => "text",
                        Kind::Long => "long",
                        Kind::Lines => "lines",
                        Kind::Choice => "choice",
                        Kind::Secret => "secret",
                    };
                    let hint_key = format!("admin.setting_{}_hint", f.name);
                    json!({"name": f.name, "label": t(lang, &format!("admin.setting_{}", f.name)), "kind": kind,
                        "hint": crate::i18n::has(&hint_key).then(|| t(lang, &hint_key)),
                        "options": if f.kind == Kind::Choice { options(f.name, &value) } else { Vec::new() }, "value": value,
                        "error": errors.iter().find(|e| e.field == f.name).map(|e| e.message.clone())})
                })
                .collect();
            json!({"key": key, "title": t(lang, &format!("admin.settings_{key}")), "fields": fields})
        })
        .collect();
    let summary: Vec<Json> = errors.iter().map(|e| json!({"anchor": e.field, "message": e.message})).collect();
    Ok(render(
        "admin_settings.html",
        context! { sections => sections, errors => summary, logo_error => errors.iter().find(|e| e.field == "logo").map(|e| e.message.clone()),
        has_logo => !settings.branding.logo.is_empty(), may_change => ctx.role == Role::TenantAdmin, ..base(lang, Some(tenant), Some(session)) },
    )?)
}

pub async fn settings(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = settings_page(&tenant, &mut session, &ctx, &tenant.settings, &[], lang)?;
    session.finish(&app, &slug, html(body)).await
}

/// Saves the town's look (with a new logo image if one was chosen), contact, bank account,
/// area, login providers and legal texts.
pub async fn save_settings(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    form: crate::attachments::PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let crate::attachments::PostedForm { pairs, files } = form;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let settings = posted_settings(&tenant.settings, &posted);
    let logo = files.iter().find(|f| f.field == "logo").map(|f| f.content.as_ref());
    match app.runtime.update_tenant_settings(&tenant, &settings, logo, &actor(&ctx.staff)).await {
        Ok(()) => {
            session.data.flash = Some(t(lang, "admin.settings_saved"));
            session
                .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/verwaltung/auftritt")).into_response())
                .await
        }
        Err(RuntimeError::Invalid(problems)) => {
            let body = settings_page(&tenant, &mut session, &ctx, &settings, &problems, lang)?;
            session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The report of cases handed to the archive and erased (Aussonderung): when, which
/// package, what was deleted. Tenant admins and auditors.
pub async fn archive_log(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    if let Err(r) = require_admin(&app, &tenant, &session, false).await? {
        return session.finish(&app, &slug, r).await;
    }
    let when = crate::backoffice::when;
    let rows: Vec<Json> = app
        .runtime
        .archive_log(&tenant, 500)
        .await?
        .into_iter()
        .map(|e| {
            let erased: Map<String, Json> =
                e.erased.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
            let what: Vec<String> = erased
                .iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(kind, n)| format!("{} {}", n, t(lang, &format!("archive.kind_{kind}"))))
                .collect();
            json!({"reference": e.reference, "procedure": app.runtime.procedure_name(&e.procedure_id, lang),
                "ended": when(&e.ended_at), "due": rathaus_domain::time::german_day(&e.due_on),
                "done": e.done_at.as_deref().map(when), "package": e.package, "sha256_short": e.package_sha256.as_deref().and_then(|s| s.get(..12)),
                "erased": what.join(", ")})
        })
        .collect();
    let body = render(
        "admin_archive.html",
        context! { rows => rows, archive_dir => app.runtime.archive_dir().is_some(), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}
