//! Delegations to service centres, from both sides: the town's administration grants and
//! ends them (`/intern/verwaltung/delegationen`); the centre's staff see the towns that
//! delegate to them and enter a town's back office under a delegation (`/intern/mandanten`).
//! Entering gives a session of the town whose every request checks the delegation again
//! (see `backoffice::require_staff`).

use crate::admin::{admin_post, require_admin};
use crate::backoffice::{actor, require_staff, StaffCtx};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::session::{CentreSession, Session, StaffSession};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::delegation::Scope;
use rathaus_domain::time::{german_day, german_today, parse_day};
use rathaus_domain::{Lang, Role};
use rathaus_runtime::delegations::Grant;
use rathaus_runtime::RuntimeError;
use rathaus_store::delegations::Delegation;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// A delegation as both sides list it.
fn delegation_json(app: &AppState, lang: Lang, d: &Delegation, other: &Tenant) -> Json {
    let today = german_today(app.runtime.clock.now());
    let rules = d.rules();
    let procedures = if rules.procedures.is_empty() {
        t(lang, "delegation.all_procedures")
    } else {
        rules.procedures.iter().map(|id| app.runtime.procedure_name(id, lang)).collect::<Vec<_>>().join(", ")
    };
    let state = if let Some(at) = &d.revoked_at {
        tf(lang, "delegation.state_revoked", &[("date", &crate::backoffice::when(at))])
    } else if rules.in_force(today) {
        t(lang, "delegation.state_in_force")
    } else if rules.valid_from > today {
        tf(lang, "delegation.state_not_yet", &[("date", &german_day(&d.valid_from))])
    } else {
        t(lang, "delegation.state_over")
    };
    let period = match &d.valid_until {
        Some(u) => {
            tf(lang, "delegation.period_until", &[("from", &german_day(&d.valid_from)), ("until", &german_day(u))])
        }
        None => tf(lang, "delegation.period_open", &[("from", &german_day(&d.valid_from))]),
    };
    json!({"delegation_id": d.delegation_id, "other": other.name, "other_slug": other.slug, "procedures": procedures,
        "scope": t(lang, &format!("delegation.scope_{}", rules.scope.code())), "agreement": d.agreement, "period": period,
        "state": state, "active": d.revoked_at.is_none() && rules.valid_until.is_none_or(|u| u >= today),
        "granted": tf(lang, "delegation.granted_by", &[("who", &d.granted_by), ("date", &crate::backoffice::when(&d.granted_at))])})
}

/// The grant form as posted (or empty).
#[derive(Default)]
struct GrantForm {
    centre: String,
    procedures: Vec<String>,
    scope: String,
    agreement: String,
    from: String,
    until: String,
}

impl GrantForm {
    fn of(posted: &Posted) -> GrantForm {
        GrantForm {
            centre: posted.text("zentrum"),
            procedures: posted.all("verfahren").into_iter().map(String::from).collect(),
            scope: posted.text("umfang"),
            agreement: posted.text("vereinbarung"),
            from: posted.text("von"),
            until: posted.text("bis"),
        }
    }
}

async fn admin_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    form: &GrantForm,
    problems: &BTreeMap<String, String>,
    lang: Lang,
) -> AppResult<String> {
    let delegations: Vec<Json> = app
        .runtime
        .delegations_of(tenant)
        .await?
        .iter()
        .map(|(d, centre)| delegation_json(app, lang, d, centre))
        .collect();
    let centres: Vec<Json> = app
        .runtime
        .service_centres(tenant)
        .await?
        .into_iter()
        .map(|c| json!({"slug": c.slug, "name": c.name, "selected": c.slug == form.centre}))
        .collect();
    let procedures: Vec<Json> = app
        .runtime
        .active_procedures(tenant)
        .await?
        .iter()
        .map(|a| {
            let id = a.procedure.id().to_string();
            json!({"id": id, "name": a.procedure.manifest.name.get(lang), "checked": form.procedures.contains(&id)})
        })
        .collect();
    let scopes: Vec<Json> = Scope::ALL
        .iter()
        .map(|s| {
            json!({"code": s.code(), "label": t(lang, &format!("delegation.scope_{}", s.code())),
                "hint": t(lang, &format!("delegation.scope_{}_hint", s.code())),
                "checked": form.scope == s.code() || (form.scope.is_empty() && *s == Scope::Process)})
        })
        .collect();
    // Each problem links to its field (a group's first input has the group's name as id).
    let errors: Vec<Json> =
        problems.iter().map(|(field, message)| json!({"anchor": field, "message": message})).collect();
    Ok(render(
        "admin_delegations.html",
        context! { delegations => delegations, centres => centres, procedures => procedures, scopes => scopes,
        agreement => form.agreement, from => form.from, until => form.until, problems => problems, errors => errors,
        all_procedures => form.procedures.is_empty(), may_change => ctx.role == Role::TenantAdmin,
        ..base(lang, Some(tenant), Some(session)) },
    )?)
}

pub async fn admin(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = admin_page(&app, &tenant, &mut session, &ctx, &GrantForm::default(), &BTreeMap::new(), lang).await?;
    session.finish(&app, &slug, html(body)).await
}

/// Grants a delegation; each problem is shown at its field.
pub async fn grant(
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
    let form = GrantForm::of(&posted);
    let mut problems: BTreeMap<String, String> = BTreeMap::new();
    let mut day = |field: &str, typed: &str| {
        if typed.trim().is_empty() {
            return None;
        }
        let d = parse_day(typed);
        if d.is_none() {
            problems.insert(field.into(), tf(lang, &format!("delegation.{field}_invalid"), &[("typed", typed.trim())]));
        }
        d
    };
    let from = day("von", &form.from);
    let until = day("bis", &form.until);
    let scope = Scope::parse(&form.scope);
    if scope.is_none() {
        problems.insert("umfang".into(), t(lang, "delegation.scope_missing"));
    }
    if form.centre.is_empty() {
        problems.insert("zentrum".into(), t(lang, "delegation.centre_missing"));
    }
    if problems.is_empty() {
        let grant = Grant {
            centre: &form.centre,
            procedures: form.procedures.clone(),
            scope: scope.unwrap_or(Scope::Read),
            agreement: &form.agreement,
            valid_from: from,
            valid_until: until,
        };
        match app.runtime.grant_delegation(&tenant, &grant, &actor(&ctx.staff)).await {
            Ok(_) => {
                let centre = app
                    .runtime
                    .service_centres(&tenant)
                    .await?
                    .into_iter()
                    .find(|c| c.slug == form.centre)
                    .map(|c| c.name)
                    .unwrap_or_default();
                session.data.flash = Some(tf(lang, "delegation.granted", &[("centre", &centre)]));
                let to = format!("/{slug}/intern/verwaltung/delegationen");
                return session.finish(&app, &slug, Redirect::to(&to).into_response()).await;
            }
            Err(RuntimeError::Invalid(found)) => {
                for p in found {
                    problems.entry(p.field).or_insert(p.message);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let body = admin_page(&app, &tenant, &mut session, &ctx, &form, &problems, lang).await?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}

/// Ends a delegation at once.
pub async fn revoke(
    State(app): State<AppState>,
    Path((slug, delegation_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (_, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let key = match app.runtime.revoke_delegation(&tenant, &delegation_id, &actor(&ctx.staff)).await {
        Ok(true) => "delegation.revoked",
        Ok(false) => "delegation.revoked_already",
        Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    session.data.flash = Some(t(lang, key));
    session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/verwaltung/delegationen")).into_response()).await
}

/// The centre's page: the towns that delegate cases to it, with a way in for those whose
/// role the delegation accepts.
pub async fn towns(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    // Only a service centre has towns to work for.
    if !tenant.settings.service_centre {
        return Err(AppError::NotFound);
    }
    if !ctx.own_staff() {
        return Err(AppError::Forbidden);
    }
    let mut towns: Vec<Json> = Vec::new();
    for (d, town) in app.runtime.delegations_to(&tenant).await? {
        let mut j = delegation_json(&app, lang, &d, &town);
        let role = d.rules().role_for(ctx.role);
        j["may_enter"] = json!(role.is_some());
        j["role"] = json!(role.map(|r| t(lang, &format!("role.{}", r.code()))));
        let (open, unassigned) = app.runtime.delegated_work(&d).await?;
        j["work"] =
            json!(tf(lang, "delegation.work", &[("open", &open.to_string()), ("unassigned", &unassigned.to_string())]));
        towns.push(j);
    }
    let body =
        render("centre_towns.html", context! { towns => towns, ..base(lang, Some(&tenant), Some(&mut session)) })?;
    session.finish(&app, &slug, html(body)).await
}

/// A centre's staff member enters a town's back office under a delegation: a new session of
/// the town (its cookie on the town's path) with the qualified name, recorded on both
/// sides. The centre's own session stays as it is.
pub async fn enter(
    State(app): State<AppState>,
    Path((slug, town, delegation_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    if !ctx.own_staff() {
        return Err(AppError::Forbidden);
    }
    let (town, delegate) = match app.runtime.enter_delegation(&tenant, &town, &delegation_id, &ctx.staff.staff_id).await
    {
        Ok(entered) => entered,
        Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
        Err(RuntimeError::Forbidden) => return Err(AppError::Forbidden),
        Err(e) => return Err(e.into()),
    };
    let mut there = Session::fresh(&app, &town.tenant_id);
    there.data.staff = Some(StaffSession {
        staff_id: delegate.staff.staff_id.clone(),
        username: delegate.username(),
        display_name: delegate.display_name(),
        role: delegate.role.code().into(),
        centre: Some(CentreSession {
            centre_tenant_id: tenant.tenant_id.clone(),
            centre_slug: tenant.slug.clone(),
            centre_name: tenant.name.clone(),
            delegation_id: delegation_id.clone(),
        }),
    });
    let to = Redirect::to(&format!("/{}/intern/", town.slug)).into_response();
    let response = there.finish(&app, &town.slug, to).await?;
    session.finish(&app, &slug, response).await
}
