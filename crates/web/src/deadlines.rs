//! The deadlines dashboard (Fristenübersicht): every open deadline of the tenant's cases with
//! its traffic light, the nearest first, filtered by light, kind, procedure or one's own
//! cases; below, what applicants and consulted bodies owe by a day. The same light is shown
//! per case in the worklist and the case file.

use crate::backoffice::require_staff;
use crate::error::AppResult;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use rathaus_domain::deadline::{days_left, Light};
use rathaus_domain::time::{german_day, german_day_of, german_today, parse_day};
use rathaus_domain::Lang;
use rathaus_runtime::deadlines::DeadlineView;
use rathaus_store::deadlines::Filter;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// Rows the dashboard lists at most (the counts are of all).
const MAX_ROWS: i64 = 500;

/// How many days are left, in words.
pub fn remaining(lang: Lang, days: i64) -> String {
    match days {
        0 => t(lang, "deadline.last_day"),
        1 => t(lang, "deadline.one_day_left"),
        n if n > 1 => tf(lang, "deadline.days_left", &[("n", &n.to_string())]),
        -1 => t(lang, "deadline.one_day_over"),
        n => tf(lang, "deadline.days_over", &[("n", &(-n).to_string())]),
    }
}

/// A deadline for a template: label, kind, light (code and words), last day, what is left.
pub fn view_json(lang: Lang, v: &DeadlineView) -> Json {
    let d = &v.deadline;
    let state = match (v.met, v.expired) {
        (true, true) => t(lang, "deadline.met_late"),
        (true, false) => t(lang, "deadline.met"),
        _ => remaining(lang, v.days_left),
    };
    json!({"key": d.deadline_key, "label": v.label.get(lang), "kind": d.kind, "kind_label": t(lang, &format!("deadline.kind_{}", d.kind)),
        "legal_basis": d.legal_basis, "light": v.light.code(), "light_label": t(lang, &format!("deadline.light_{}", v.light.code())),
        "due": german_day(&d.due_on), "state": state, "reminders": d.reminders,
        "reminders_text": tf(lang, "deadline.reminders", &[("n", &d.reminders.to_string())]), "escalated": d.escalated_at.is_some(),
        "met": v.met})
}

/// The light of a case: its worst open deadline (then the nearest), if it has any.
pub fn case_light(lang: Lang, views: Option<&Vec<DeadlineView>>) -> Option<Json> {
    views?.iter().filter(|v| !v.met).max_by_key(|v| (v.light, -v.days_left)).map(|v| view_json(lang, v))
}

#[derive(Debug, Default, Deserialize)]
pub struct DeadlineQuery {
    ampel: Option<String>,
    art: Option<String>,
    verfahren: Option<String>,
    meine: Option<String>,
}

fn value(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or("")
}

/// The light of something owed by a calendar day (a request's or consultation's deadline):
/// amber from [`rathaus_domain::request::REMIND_DAYS_BEFORE`] days ahead, red once passed.
fn owed_light(now: chrono::DateTime<chrono::Utc>, due: &str) -> Light {
    match parse_day(due) {
        Some(day) => {
            let warn = day - chrono::Duration::days(rathaus_domain::request::REMIND_DAYS_BEFORE);
            Light::at(now, warn, day)
        }
        None => Light::Green,
    }
}

pub async fn page(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<DeadlineQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let light = Light::parse(value(&q.ampel)).map(Light::code);
    let kind = rathaus_domain::deadline::Kind::parse(value(&q.art)).map(|k| k.code());
    let procedure = Some(value(&q.verfahren)).filter(|p| !p.is_empty());
    let mine = value(&q.meine) == "1";
    let within = ctx.within();
    let filter =
        Filter { kind, light, procedure, assignee: mine.then_some(ctx.staff.username.as_str()), within: &within };
    let (rows, counts) = app.runtime.deadline_dashboard(&tenant, filter, MAX_ROWS).await?;
    let now = app.runtime.clock.now();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for active in app.runtime.active_procedures(&tenant).await?.into_iter().filter(|a| ctx.covers(a.procedure.id())) {
        let p = &active.procedure;
        names.insert(p.id().to_string(), p.manifest.name.get(lang).to_string());
    }
    let listed: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut j = view_json(lang, &row.view);
            j["case_id"] = json!(row.view.deadline.case_id);
            j["reference"] = json!(row.reference);
            j["applicant"] = json!(row.applicant);
            j["procedure"] = json!(names.get(&row.procedure_id).unwrap_or(&row.procedure_id));
            j["status"] = json!(t(lang, &format!("case_status.{}", row.status)));
            j
        })
        .collect();
    // What others owe: the applicant's answers and the participants' statements.
    let mut conn = app.runtime.store.conn().await?;
    let requests = rathaus_store::requests::waiting(&mut conn, &tenant.tenant_id, 100).await?;
    let consultations = rathaus_store::consultations::waiting(&mut conn, &tenant.tenant_id, 100).await?;
    drop(conn);
    let owed_ids: Vec<&str> = requests
        .iter()
        .map(|(r, _)| r.case_id.as_str())
        .chain(consultations.iter().map(|(c, _)| c.case_id.as_str()))
        .collect();
    let visible = crate::backoffice::visible_case_ids(&app, &tenant, &ctx, &owed_ids).await?;
    let owed_row = |case_id: &str, reference: &str, who: String, due: &str| {
        let light = owed_light(now, due);
        let left = parse_day(due).map(|d| days_left(now, d)).unwrap_or(0);
        json!({"case_id": case_id, "reference": reference, "who": who, "due": german_day(due), "light": light.code(),
            "light_label": t(lang, &format!("deadline.light_{}", light.code())), "state": remaining(lang, left), "sort": due})
    };
    let mut owed: Vec<Json> = requests
        .iter()
        .filter(|(r, _)| visible.contains(&r.case_id))
        .map(|(r, reference)| owed_row(&r.case_id, reference, t(lang, "deadline.owed_applicant"), &r.due_date))
        .chain(consultations.iter().filter(|(c, _)| visible.contains(&c.case_id)).map(|(c, reference)| {
            owed_row(
                &c.case_id,
                reference,
                tf(lang, "deadline.owed_participant", &[("name", &c.participant)]),
                &c.due_date,
            )
        }))
        .collect();
    owed.sort_by(|a, b| a["sort"].as_str().cmp(&b["sort"].as_str()));
    let lights: Vec<Json> = [("", counts.red + counts.amber + counts.green)]
        .into_iter()
        .chain([("rot", counts.red), ("gelb", counts.amber), ("gruen", counts.green)])
        .map(|(code, n)| {
            let label =
                if code.is_empty() { t(lang, "deadline.all") } else { t(lang, &format!("deadline.light_{code}")) };
            json!({"code": code, "label": label, "count": n, "current": light.unwrap_or("") == code})
        })
        .collect();
    let body = render(
        "deadlines.html",
        context! {
            rows => listed, owed => owed, lights => lights, light => light.unwrap_or(""),
            kind => kind.unwrap_or(""), procedure => procedure.unwrap_or(""), mine => mine, procedures => names,
            kinds => ["gesetzlich", "ziel"].map(|k| json!({"code": k, "label": t(lang, &format!("deadline.kind_{k}"))})),
            capped => listed_capped(rows.len()), today => german_day_of(german_today(now)),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

fn listed_capped(n: usize) -> bool {
    n as i64 >= MAX_ROWS
}
