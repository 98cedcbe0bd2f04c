//! The statistics page of the back office: per procedure, how many cases, how many the
//! machine decided alone, how long decisions took (median, 90th percentile), how many are
//! open and how many tasks are overdue, over a chosen period.

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
use rathaus_domain::statistics::{summarize, CaseFacts, ProcedureStats};
use rathaus_domain::CaseStatus;
use rathaus_domain::Lang;
use rathaus_store::cases;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The periods offered, in days (`None`: since the start).
const PERIODS: [(&str, Option<i64>); 3] = [("30", Some(30)), ("365", Some(365)), ("alle", None)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_minutes_hours_or_days() {
        let d = chrono::Duration::minutes;
        assert_eq!(duration_text(Lang::De, chrono::Duration::seconds(20)), "unter 1 Minute");
        assert_eq!(duration_text(Lang::De, d(90)), "90 Min.");
        assert_eq!(duration_text(Lang::De, d(30 * 60)), "30 Std.");
        assert_eq!(duration_text(Lang::De, d(84 * 60)), "3,5 Tage");
        assert_eq!(duration_text(Lang::En, d(84 * 60)), "3.5 days");
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Period {
    zeitraum: Option<String>,
}

/// A duration as people read it: minutes, hours or days.
fn duration_text(lang: Lang, d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    if minutes < 1 {
        t(lang, "statistics.under_a_minute")
    } else if minutes < 120 {
        tf(lang, "statistics.minutes", &[("n", &minutes.to_string())])
    } else if d.num_hours() < 48 {
        tf(lang, "statistics.hours", &[("n", &d.num_hours().to_string())])
    } else {
        let days = format!("{:.1}", minutes as f64 / (24.0 * 60.0));
        let days = if lang == Lang::De { days.replace('.', ",") } else { days };
        tf(lang, "statistics.days", &[("n", &days)])
    }
}

/// The facts of `tenant_id`'s cases received since `since` and its overdue tasks, both by
/// procedure, limited to the procedures `within` (all if empty).
async fn facts_of(
    app: &AppState,
    tenant_id: &str,
    since: chrono::DateTime<chrono::Utc>,
    within: &[String],
) -> AppResult<(Vec<CaseFacts>, BTreeMap<String, u64>)> {
    let now = app.runtime.clock.now();
    let covered = |p: &str| within.is_empty() || within.iter().any(|w| w == p);
    let mut conn = app.runtime.store.conn().await?;
    let rows = cases::statistics_rows(&mut conn, tenant_id, since).await?;
    let overdue: BTreeMap<String, u64> = cases::overdue_tasks_by_procedure(&mut conn, tenant_id, now)
        .await?
        .into_iter()
        .filter(|(p, _)| covered(p))
        .map(|(p, n)| (p, n.max(0) as u64))
        .collect();
    drop(conn);
    let facts = rows
        .into_iter()
        .filter(|r| covered(&r.procedure_id))
        .filter_map(|r| {
            Some(CaseFacts {
                submitted: rathaus_store::parse_ts(&r.submitted_at).ok()?,
                decided: r.decided_at.as_deref().and_then(|d| rathaus_store::parse_ts(d).ok()),
                open: !CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_final),
                by_clerk: r.tasks > 0,
                procedure_id: r.procedure_id,
            })
        })
        .collect();
    Ok((facts, overdue))
}

/// One row of a statistics table.
fn row_json(lang: Lang, s: &ProcedureStats, procedure: String) -> Json {
    let none = t(lang, "statistics.none");
    json!({"procedure": procedure, "cases": s.cases, "decided": s.decided,
        "automatic": s.automatic_percent().map(|p| format!("{p} %")).unwrap_or_else(|| none.clone()),
        "median": s.median.map(|d| duration_text(lang, d)).unwrap_or_else(|| none.clone()),
        "p90": s.p90.map(|d| duration_text(lang, d)).unwrap_or_else(|| none.clone()),
        "open": s.open, "overdue": s.overdue_tasks})
}

pub async fn page(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<Period>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let chosen = PERIODS.iter().find(|(code, _)| Some(*code) == q.zeitraum.as_deref()).unwrap_or(&PERIODS[1]);
    let now = app.runtime.clock.now();
    // "Since the start": from 1970, well before any case (timestamps compare as text).
    let since = chosen.1.map(|d| now - chrono::Duration::days(d)).unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let name_of = |id: &str| app.runtime.procedure_name(id, lang);
    let (facts, overdue) = facts_of(&app, &tenant.tenant_id, since, &ctx.within()).await?;
    let rows: Vec<Json> =
        summarize(&facts, &overdue).iter().map(|s| row_json(lang, s, name_of(&s.procedure_id))).collect();

    // A service centre sees the figures of the towns that delegate to it, each town's
    // delegated procedures, and all of them together (for its own staff only, not for a
    // centre's staff visiting a town).
    let mut centre_rows = Vec::new();
    let mut all_facts = Vec::new();
    let mut all_overdue: BTreeMap<String, u64> = BTreeMap::new();
    let delegations = if ctx.own_staff() { app.runtime.delegations_to(&tenant).await? } else { Vec::new() };
    for (d, town) in &delegations {
        let (facts, overdue) = facts_of(&app, &town.tenant_id, since, &d.procedure_list()).await?;
        for s in summarize(&facts, &overdue) {
            let mut row = row_json(lang, &s, name_of(&s.procedure_id));
            row["town"] = json!(town.name);
            centre_rows.push(row);
        }
        for (p, n) in overdue {
            *all_overdue.entry(p).or_default() += n;
        }
        all_facts.extend(facts);
    }
    let centre_totals: Vec<Json> = if delegations.is_empty() {
        Vec::new()
    } else {
        summarize(&all_facts, &all_overdue).iter().map(|s| row_json(lang, s, name_of(&s.procedure_id))).collect()
    };
    let periods: Vec<Json> = PERIODS
        .iter()
        .map(|(code, _)| {
            json!({"code": code, "label": t(lang, &format!("statistics.period_{code}")), "current": code == &chosen.0})
        })
        .collect();
    let body = render(
        "statistics.html",
        context! {
            rows => rows, periods => periods, centre => !delegations.is_empty(),
            centre_rows => centre_rows, centre_totals => centre_totals,
            towns => delegations.iter().map(|(_, t)| t.name.clone()).collect::<std::collections::BTreeSet<_>>(),
            lead => tf(lang, "statistics.lead", &[("period", &t(lang, &format!("statistics.period_{}", chosen.0)))]),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}
