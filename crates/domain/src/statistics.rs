//! Statistics of a tenant's procedures (issue: back office): how many cases, how many the
//! machine decided without a clerk, how long a decision took (median and 90th percentile),
//! how many are open and how many tasks are overdue. Pure: the facts come from the store.

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What the statistics need to know of one case.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub procedure_id: String,
    pub submitted: DateTime<Utc>,
    /// When it was decided (confirmed or rejected), if it was.
    pub decided: Option<DateTime<Utc>>,
    /// Not finished yet.
    pub open: bool,
    /// A clerk had a task in it.
    pub by_clerk: bool,
}

/// The figures of one procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureStats {
    pub procedure_id: String,
    pub cases: u64,
    pub decided: u64,
    /// Decided without any clerk's task.
    pub automatic: u64,
    pub open: u64,
    /// Open tasks past their due date.
    pub overdue_tasks: u64,
    /// Time from submission to decision, over the decided cases.
    pub median: Option<Duration>,
    pub p90: Option<Duration>,
}

impl ProcedureStats {
    /// The share of decided cases the machine decided alone, in whole percent.
    pub fn automatic_percent(&self) -> Option<u64> {
        (self.decided > 0).then(|| (self.automatic * 100 + self.decided / 2) / self.decided)
    }
}

/// The `p`-th percentile (0 < p ≤ 1) of sorted durations, by the nearest-rank method: the
/// smallest value with at least `p` of all values at or below it.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The figures per procedure, by procedure id; `overdue` counts open overdue tasks per
/// procedure (a procedure with overdue tasks but no case in the facts still shows).
pub fn summarize(facts: &[CaseFacts], overdue: &BTreeMap<String, u64>) -> Vec<ProcedureStats> {
    let mut by_procedure: BTreeMap<&str, Vec<&CaseFacts>> = BTreeMap::new();
    for f in facts {
        by_procedure.entry(f.procedure_id.as_str()).or_default().push(f);
    }
    for id in overdue.keys() {
        by_procedure.entry(id.as_str()).or_default();
    }
    by_procedure
        .into_iter()
        .map(|(id, cases)| {
            let mut times: Vec<Duration> =
                cases.iter().filter_map(|c| c.decided.map(|d| (d - c.submitted).max(Duration::zero()))).collect();
            times.sort();
            ProcedureStats {
                procedure_id: id.to_string(),
                cases: cases.len() as u64,
                decided: times.len() as u64,
                automatic: cases.iter().filter(|c| c.decided.is_some() && !c.by_clerk).count() as u64,
                open: cases.iter().filter(|c| c.open).count() as u64,
                overdue_tasks: overdue.get(id).copied().unwrap_or(0),
                median: percentile(&times, 0.5),
                p90: percentile(&times, 0.9),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
    }

    fn case(procedure: &str, hours: Option<i64>, by_clerk: bool) -> CaseFacts {
        CaseFacts {
            procedure_id: procedure.into(),
            submitted: t0(),
            decided: hours.map(|h| t0() + Duration::hours(h)),
            open: hours.is_none(),
            by_clerk,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let d: Vec<Duration> = (1..=10).map(Duration::hours).collect();
        assert_eq!(percentile(&d, 0.5), Some(Duration::hours(5)));
        assert_eq!(percentile(&d, 0.9), Some(Duration::hours(9)));
        assert_eq!(percentile(&d[..1], 0.9), Some(Duration::hours(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn figures_per_procedure() {
        let facts = vec![
            case("gewerbe", Some(0), false),
            case("gewerbe", Some(0), false),
            case("gewerbe", Some(72), true),
            case("gewerbe", None, true),
            case("vra", Some(240), true),
        ];
        let overdue = BTreeMap::from([("gewerbe".to_string(), 1), ("plakat".to_string(), 2)]);
        let stats = summarize(&facts, &overdue);
        assert_eq!(stats.iter().map(|s| s.procedure_id.as_str()).collect::<Vec<_>>(), ["gewerbe", "plakat", "vra"]);
        let g = &stats[0];
        assert_eq!((g.cases, g.decided, g.automatic, g.open, g.overdue_tasks), (4, 3, 2, 1, 1));
        assert_eq!(g.automatic_percent(), Some(67));
        assert_eq!(g.median, Some(Duration::zero()));
        assert_eq!(g.p90, Some(Duration::hours(72)));
        assert_eq!((stats[1].cases, stats[1].overdue_tasks, stats[1].automatic_percent()), (0, 2, None));
        assert_eq!(stats[2].automatic_percent(), Some(0));
    }
}
