//! The lifecycle vocabulary of a case (Vorgang).

use serde::{Deserialize, Serialize};

/// Where the case stands, as shown to citizen and clerk. Set by the procedure's process
/// (service task `rathaus:case-status`), never by handlers directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Eingegangen: stored, checks not yet finished.
    Submitted,
    /// In Prüfung: a clerk has to look at it.
    InReview,
    /// Bestätigt: confirmed or granted.
    Confirmed,
    /// Abgelehnt: refused.
    Rejected,
    /// Abgeschlossen: finished without a decision of its own (e.g. withdrawn, forwarded).
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] =
        [CaseStatus::Submitted, CaseStatus::InReview, CaseStatus::Confirmed, CaseStatus::Rejected, CaseStatus::Closed];

    pub fn code(self) -> &'static str {
        match self {
            CaseStatus::Submitted => "submitted",
            CaseStatus::InReview => "in_review",
            CaseStatus::Confirmed => "confirmed",
            CaseStatus::Rejected => "rejected",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn parse(code: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The outcome an integrating system sees (API v1).
    pub fn outcome(self) -> Outcome {
        match self {
            CaseStatus::Submitted | CaseStatus::InReview => Outcome::InReview,
            CaseStatus::Confirmed => Outcome::Accepted,
            CaseStatus::Rejected => Outcome::Rejected,
            CaseStatus::Closed => Outcome::Closed,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, CaseStatus::Confirmed | CaseStatus::Rejected | CaseStatus::Closed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    InReview,
    Rejected,
    Closed,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::InReview => "in_review",
            Outcome::Rejected => "rejected",
            Outcome::Closed => "closed",
        }
    }
}

/// How an application reached the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Online-Antrag über das Portal.
    Portal,
    /// Über die Schnittstelle (API) eines externen Onlinedienstes.
    Api,
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Api => "api",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_and_map_to_outcomes() {
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(s.code()), Some(s));
        }
        assert_eq!(CaseStatus::Submitted.outcome(), Outcome::InReview);
        assert_eq!(CaseStatus::Confirmed.outcome().code(), "accepted");
        assert!(CaseStatus::Rejected.is_final());
        assert!(!CaseStatus::InReview.is_final());
    }
}

/// The median of processing times in seconds (the lower middle for an even count); `None`
/// without any.
pub fn median_seconds(mut durations: Vec<i64>) -> Option<i64> {
    if durations.is_empty() {
        return None;
    }
    durations.sort_unstable();
    Some(durations[(durations.len() - 1) / 2])
}

#[cfg(test)]
mod median_tests {
    use super::median_seconds;

    #[test]
    fn the_median_is_robust_against_a_few_long_cases() {
        assert_eq!(median_seconds(vec![]), None);
        assert_eq!(median_seconds(vec![5]), Some(5));
        assert_eq!(median_seconds(vec![3600, 7200, 90 * 86400]), Some(7200));
        assert_eq!(median_seconds(vec![40, 10, 30, 20]), Some(20));
    }
}
