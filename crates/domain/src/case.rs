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

    /// The German name, as documents (German only) write it; the portal's texts are in
    /// its catalogues.
    pub fn label_de(self) -> &'static str {
        match self {
            CaseStatus::Submitted => "Eingegangen",
            CaseStatus::InReview => "In Prüfung",
            CaseStatus::Confirmed => "Bestätigt",
            CaseStatus::Rejected => "Abgelehnt",
            CaseStatus::Closed => "Abgeschlossen",
        }
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
    /// Per Brief; von der Sachbearbeitung erfasst.
    Post,
    Fax,
    /// Per E-Mail (ohne Onlinedienst); von der Sachbearbeitung erfasst.
    Email,
    /// Telefonisch aufgenommen.
    Phone,
    /// Persönlich vorgesprochen.
    InPerson,
}

impl Channel {
    /// The channels a clerk enters applications from (Erfassung).
    pub const INTAKE: [Channel; 5] = [Channel::Post, Channel::Fax, Channel::Email, Channel::Phone, Channel::InPerson];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Api => "api",
            Channel::Post => "post",
            Channel::Fax => "fax",
            Channel::Email => "email",
            Channel::Phone => "telefon",
            Channel::InPerson => "vor_ort",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        [Channel::Portal, Channel::Api].into_iter().chain(Channel::INTAKE).find(|c| c.code() == code)
    }

    /// The German name, as documents write it.
    pub fn label_de(self) -> &'static str {
        match self {
            Channel::Portal => "Online-Portal",
            Channel::Api => "Schnittstelle (API)",
            Channel::Post => "Post (Brief)",
            Channel::Fax => "Fax",
            Channel::Email => "E-Mail",
            Channel::Phone => "Telefon",
            Channel::InPerson => "Persönlich vor Ort",
        }
    }

    /// Whether what came in is a document that belongs in the file: a letter or fax is
    /// scanned and attached when it is entered.
    pub fn needs_scan(self) -> bool {
        matches!(self, Channel::Post | Channel::Fax)
    }
}

/// Why a clerk's date of receipt is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedProblem {
    /// After today: nothing is received in the future.
    InFuture,
    /// More than [`MAX_RECEIVED_DAYS_AGO`] days ago: an old letter is a case for the
    /// file, not for entering.
    TooOld,
}

/// How far back the date of receipt of an entered application may lie.
pub const MAX_RECEIVED_DAYS_AGO: i64 = 366;

/// Checks the date of receipt a clerk gives, `today` being the German calendar day.
pub fn check_received(today: chrono::NaiveDate, received: chrono::NaiveDate) -> Result<(), ReceivedProblem> {
    if received > today {
        Err(ReceivedProblem::InFuture)
    } else if received < today - chrono::Duration::days(MAX_RECEIVED_DAYS_AGO) {
        Err(ReceivedProblem::TooOld)
    } else {
        Ok(())
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

    #[test]
    fn channels_round_trip_and_letters_are_scanned() {
        for c in [Channel::Portal, Channel::Api].into_iter().chain(Channel::INTAKE) {
            assert_eq!(Channel::parse(c.code()), Some(c));
        }
        assert_eq!(Channel::parse("brieftaube"), None);
        assert!(Channel::Post.needs_scan() && Channel::Fax.needs_scan());
        assert!(!Channel::Phone.needs_scan() && !Channel::Email.needs_scan() && !Channel::Portal.needs_scan());
    }

    #[test]
    fn the_date_of_receipt_is_today_or_up_to_a_year_back() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(check_received(today, today), Ok(()));
        assert_eq!(check_received(today, today.succ_opt().unwrap()), Err(ReceivedProblem::InFuture));
        assert_eq!(check_received(today, chrono::NaiveDate::from_ymd_opt(2025, 12, 6).unwrap()), Ok(()));
        assert_eq!(
            check_received(today, chrono::NaiveDate::from_ymd_opt(2025, 12, 5).unwrap()),
            Err(ReceivedProblem::TooOld)
        );
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
