//! The administration of a procedure's table parameters (Mandantenlisten): the town's list
//! of pre-emption areas, say. Tenant admins import a CSV file (replacing the list), add a
//! row or remove one, and download the list; auditors read it.

use crate::admin::{admin_post, require_admin};
use crate::attachments::PostedForm;
use crate::backoffice::{actor, StaffCtx};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::session::Session;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::{Lang, Role};
use rathaus_engine::library::{ParameterDef, ParameterKind};
use rathaus_engine::table;
use rathaus_runtime::RuntimeError;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Map, Value as Json};

/// The table parameter `name` of the procedure, or 404.
fn definition(app: &AppState, procedure_id: &str, name: &str) -> AppResult<ParameterDef> {
    let p = app.runtime.library.get(procedure_id).ok_or(AppError::NotFound)?;
    p.manifest.parameters.get(name).filter(|d| d.kind == ParameterKind::Table).cloned().ok_or(AppError::NotFound)
}

fn page_url(slug: &str, procedure_id: &str, name: &str) -> String {
    format!("/{slug}/intern/verwaltung/verfahren/{procedure_id}/tabellen/{name}")
}

/// What the page shows again after a failed change: the problems, and the new row as typed.
#[derive(Default)]
struct Failed {
    problems: Vec<String>,
    row: Map<String, Json>,
}

#[allow(clippy::too_many_arguments)]
async fn table_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    procedure_id: &str,
    name: &str,
    failed: Failed,
    lang: Lang,
) -> AppResult<String> {
    let def = definition(app, procedure_id, name)?;
    let procedure = app.runtime.library.get(procedure_id).ok_or(AppError::NotFound)?;
    let rows = app.runtime.table_rows(tenant, procedure_id, name).await?;
    let columns: Vec<Json> = def
        .columns
        .iter()
        .map(|c| {
            json!({"key": c.key, "label": c.label.get(lang), "required": c.required,
            "value": failed.row.get(&c.key).and_then(Json::as_str).unwrap_or_default()})
        })
        .collect();
    let rows: Vec<Json> = rows
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let cells: Vec<&str> =
                def.columns.iter().map(|c| r.get(&c.key).and_then(Json::as_str).unwrap_or_default()).collect();
            json!({"index": i, "cells": cells})
        })
        .collect();
    let errors: Vec<Json> = failed.problems.iter().map(|m| json!({"anchor": "tabelle-import", "message": m})).collect();
    Ok(render(
        "admin_table.html",
        context! {
            procedure => context! { id => procedure_id, name => procedure.manifest.name.get(lang) },
            table => context! { name => name, label => def.label.get(lang), help => def.help.as_ref().map(|h| h.get(lang)),
                url => page_url(&tenant.slug, procedure_id, name) },
            columns => columns, rows => rows, errors => errors, problems => failed.problems,
            may_change => ctx.role == Role::TenantAdmin,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn page(
    State(app): State<AppState>,
    Path((slug, procedure_id, name)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_admin(&app, &tenant, &session, false).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let body = table_page(&app, &tenant, &mut session, &ctx, &procedure_id, &name, Failed::default(), lang).await?;
    session.finish(&app, &slug, html(body)).await
}

/// The list as CSV (`;`, UTF-8 with byte order mark so spreadsheets read the umlauts).
pub async fn download(
    State(app): State<AppState>,
    Path((slug, procedure_id, name)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    if let Err(r) = require_admin(&app, &tenant, &session, false).await? {
        return session.finish(&app, &slug, r).await;
    }
    let def = definition(&app, &procedure_id, &name)?;
    let rows = app.runtime.table_rows(&tenant, &procedure_id, &name).await?;
    let body = format!("\u{feff}{}", table::to_csv(&def.columns, &rows));
    let response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{procedure_id}-{name}.csv\"")),
        ],
        body,
    )
        .into_response();
    session.finish(&app, &slug, response).await
}

/// Stores the rows, or shows the page again with the problems.
#[allow(clippy::too_many_arguments)]
async fn store(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    procedure_id: &str,
    name: &str,
    rows: Json,
    done: String,
    failed_row: Map<String, Json>,
    lang: Lang,
) -> AppResult<Response> {
    match app.runtime.set_table_rows(tenant, procedure_id, name, rows, &actor(&ctx.staff)).await {
        Ok(()) => {
            session.data.flash = Some(done);
            Ok(Redirect::to(&page_url(&tenant.slug, procedure_id, name)).into_response())
        }
        Err(RuntimeError::Invalid(problems)) => {
            let failed = Failed { problems: problems.into_iter().map(|p| p.message).collect(), row: failed_row };
            let body = table_page(app, tenant, session, ctx, procedure_id, name, failed, lang).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Replaces the list with an uploaded CSV file (field `datei`) or pasted CSV (`csv`).
pub async fn import(
    State(app): State<AppState>,
    Path((slug, procedure_id, name)): Path<(String, String, String)>,
    visit: Visit,
    form: PostedForm,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let PostedForm { pairs, files } = form;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let ctx = match require_admin(&app, &tenant, &session, true).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let def = definition(&app, &procedure_id, &name)?;
    let text = match files.iter().find(|f| f.field == "datei" && !f.content.is_empty()) {
        Some(f) => match std::str::from_utf8(&f.content) {
            Ok(s) => s.to_string(),
            // Older spreadsheets write Windows-1252; its umlauts are the Latin-1 ones.
            Err(_) => f.content.iter().map(|b| *b as char).collect(),
        },
        None => posted.text("csv"),
    };
    let failed = |problems: Vec<String>| Failed { problems, row: Map::new() };
    let response = if text.trim().is_empty() {
        let body = table_page(
            &app,
            &tenant,
            &mut session,
            &ctx,
            &procedure_id,
            &name,
            failed(vec![t(lang, "admin.table_import_missing")]),
            lang,
        )
        .await?;
        (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()
    } else {
        match table::parse_csv(&def.columns, &text) {
            Ok(rows) => {
                let n = rows.as_array().map(Vec::len).unwrap_or(0);
                let done = tf(lang, "admin.table_imported", &[("n", &n.to_string())]);
                store(&app, &tenant, &mut session, &ctx, &procedure_id, &name, rows, done, Map::new(), lang).await?
            }
            Err(problems) => {
                let problems = problems
                    .into_iter()
                    .map(|p| tf(lang, "admin.table_line", &[("line", &p.line.to_string()), ("message", &p.message)]))
                    .collect();
                let body =
                    table_page(&app, &tenant, &mut session, &ctx, &procedure_id, &name, failed(problems), lang).await?;
                (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()
            }
        }
    };
    session.finish(&app, &slug, response).await
}

/// Adds one row (fields `c.<column>`).
pub async fn add_row(
    State(app): State<AppState>,
    Path((slug, procedure_id, name)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (posted, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let def = definition(&app, &procedure_id, &name)?;
    let mut row = Map::new();
    for c in &def.columns {
        row.insert(c.key.clone(), Json::String(posted.text(&format!("c.{}", c.key))));
    }
    let mut rows = app.runtime.table_rows(&tenant, &procedure_id, &name).await?;
    if let Some(list) = rows.as_array_mut() {
        list.push(Json::Object(row.clone()));
    }
    let done = t(lang, "admin.table_row_added");
    let response = store(&app, &tenant, &mut session, &ctx, &procedure_id, &name, rows, done, row, lang).await?;
    session.finish(&app, &slug, response).await
}

/// Removes the row at `index` (as the page listed it).
pub async fn remove_row(
    State(app): State<AppState>,
    Path((slug, procedure_id, name, index)): Path<(String, String, String, usize)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let (_, ctx) = match admin_post(&app, &tenant, &session, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    definition(&app, &procedure_id, &name)?;
    let mut rows = app.runtime.table_rows(&tenant, &procedure_id, &name).await?;
    match rows.as_array_mut() {
        Some(list) if index < list.len() => {
            list.remove(index);
        }
        _ => return Err(AppError::NotFound),
    }
    let done = t(lang, "admin.table_row_removed");
    let response = store(&app, &tenant, &mut session, &ctx, &procedure_id, &name, rows, done, Map::new(), lang).await?;
    session.finish(&app, &slug, response).await
}
