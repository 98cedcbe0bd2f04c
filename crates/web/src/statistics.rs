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
use rathaus_domain::statistics::{summarize, CaseFacts};
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

pub async fn page(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<Period>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    if let Err(r) = require_staff(&app, &tenant, &session).await {
        return session.finish(&app, &slug, r).await;
    }
    let chosen = PERIODS.iter().find(|(code, _)| Some(*code) == q.zeitraum.as_deref()).unwrap_or(&PERIODS[1]);
    let now = app.runtime.clock.now();
    // "Since the start": from 1970, well before any case (timestamps compare as text).
    let since = chosen.1.map(|d| now - chrono::Duration::days(d)).unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let mut conn = app.runtime.store.conn().await?;
    let rows = cases::statistics_rows(&mut conn, &tenant.tenant_id, since).await?;
    let overdue: BTreeMap<String, u64> = cases::overdue_tasks_by_procedure(&mut conn, &tenant.tenant_id, now)
        .await?
        .into_iter()
        .map(|(p, n)| (p, n.max(0) as u64))
        .collect();
    drop(conn);
    let facts: Vec<CaseFacts> = rows
        .into_iter()
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
    let stats = summarize(&facts, &overdue);
    let name_of = |id: &str| {
        app.runtime.library.get(id).map(|p| p.manifest.name.get(lang).to_string()).unwrap_or_else(|| id.to_string())
    };
    let none = t(lang, "statistics.none");
    let rows: Vec<Json> = stats
        .iter()
        .map(|s| {
            json!({"procedure": name_of(&s.procedure_id), "cases": s.cases, "decided": s.decided,
                "automatic": s.automatic_percent().map(|p| format!("{p} %")).unwrap_or_else(|| none.clone()),
                "median": s.median.map(|d| duration_text(lang, d)).unwrap_or_else(|| none.clone()),
                "p90": s.p90.map(|d| duration_text(lang, d)).unwrap_or_else(|| none.clone()),
                "open": s.open, "overdue": s.overdue_tasks})
        })
        .collect();
    let periods: Vec<Json> = PERIODS
        .iter()
        .map(|(code, _)| {
            json!({"code": code, "label": t(lang, &format!("statistics.period_{code}")), "current": code == &chosen.0})
        })
        .collect();
    let body = render(
        "statistics.html",
        context! {
            rows => rows, periods => periods,
            lead => tf(lang, "statistics.lead", &[("period", &t(lang, &format!("statistics.period_{}", chosen.0)))]),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}
