//! When a case that waits for a clerk will probably be decided: from how long the
//! municipality's clerks took for the same procedure lately (the median), or, without enough
//! history, from the procedure's stated processing time in working days.

use crate::{tenant_calendar, Result, Runtime};
use chrono::{DateTime, Utc};
use rathaus_domain::calendar::{Counting, IsoDuration};
use rathaus_store::cases::{self, Case};
use rathaus_store::tenants::Tenant;

/// How many decided cases the statistic looks at, and how many it needs at least.
const SAMPLE: i64 = 200;
const MIN_CASES: usize = 5;
/// Decided within this many seconds of submission: decided by the machine, not a clerk.
const AUTOMATIC_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// The median of this many recent cases of the procedure that a clerk decided.
    Statistics { cases: usize },
    /// The procedure's processing time (`processing_days` in procedure.toml).
    Standard { working_days: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub by: DateTime<Utc>,
    pub basis: Basis,
}

impl Runtime {
    /// The expected decision of an undecided case; `None` once it is decided, or if the
    /// procedure states no processing time and there is no history yet.
    pub async fn expected_completion(&self, tenant: &Tenant, case: &Case) -> Result<Option<Expected>> {
        if case.decided_at.is_some() {
            return Ok(None);
        }
        let submitted = rathaus_store::parse_ts(&case.submitted_at)?;
        let times = {
            let mut conn = self.store.conn().await?;
            cases::decision_times(&mut conn, &tenant.tenant_id, &case.procedure_id, SAMPLE).await?
        };
        let durations: Vec<i64> = times
            .iter()
            .filter_map(|(s, d)| {
                Some((rathaus_store::parse_ts(d).ok()? - rathaus_store::parse_ts(s).ok()?).num_seconds())
            })
            .filter(|secs| *secs > AUTOMATIC_SECONDS)
            .collect();
        if durations.len() >= MIN_CASES {
            let cases = durations.len();
            let median = rathaus_domain::case::median_seconds(durations).unwrap_or_default();
            return Ok(Some(Expected {
                by: submitted + chrono::Duration::seconds(median),
                basis: Basis::Statistics { cases },
            }));
        }
        let procedure = self.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
        let Some(days) = procedure.manifest.processing_days else { return Ok(None) };
        let duration =
            IsoDuration::parse(&format!("P{days}D")).map_err(|e| crate::RuntimeError::Procedure(e.to_string()))?;
        let by = tenant_calendar(&tenant.settings)
            .add(submitted, &duration, Counting::Arbeitstage)
            .map_err(crate::RuntimeError::Procedure)?;
        Ok(Some(Expected { by, basis: Basis::Standard { working_days: days } }))
    }
}
