//! Consultation (Anhörung, Beteiligung): a clerk asks another body (police, road authority,
//! another office) a question about a case, with a deadline, and shares only the parts of
//! the case the body needs. The participant answers through a link: agreement, agreement
//! with conditions (Auflagen), or objection, with a statement. What may be asked, by when,
//! and what makes an answer complete is decided here.

use crate::request::{check_ahead, DueProblem};
use chrono::{DateTime, NaiveDate, Utc};

/// The longest question, statement or list of conditions.
pub const MAX_TEXT: usize = 4000;
/// The longest name of a participant or of the person answering.
pub const MAX_NAME: usize = 200;
/// The latest deadline a consultation may set, in days from today (statutory consultation
/// periods are usually two weeks to a month; three months leaves room for exceptions).
pub const MAX_DAYS: i64 = 92;

/// Checks a consultation's deadline set at `now`: after today, at most [`MAX_DAYS`] ahead.
pub fn check_due(now: DateTime<Utc>, due: NaiveDate) -> Result<(), DueProblem> {
    check_ahead(now, due, MAX_DAYS)
}

/// What the participant says to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No objection (Zustimmung).
    Agree,
    /// Agreement if the conditions are imposed (Zustimmung mit Auflagen).
    AgreeWithConditions,
    /// Objection (Bedenken, Ablehnung).
    Object,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Agree, Verdict::AgreeWithConditions, Verdict::Object];

    pub fn code(self) -> &'static str {
        match self {
            Verdict::Agree => "zustimmung",
            Verdict::AgreeWithConditions => "auflagen",
            Verdict::Object => "bedenken",
        }
    }

    pub fn parse(code: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.code() == code)
    }

    /// The German label, as the case file and the timeline show it.
    pub fn label_de(self) -> &'static str {
        match self {
            Verdict::Agree => "Zustimmung",
            Verdict::AgreeWithConditions => "Zustimmung mit Auflagen",
            Verdict::Object => "Bedenken",
        }
    }
}

/// A participant's answer as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub verdict: String,
    pub statement: String,
    pub conditions: String,
    pub answered_by: String,
}

/// Why an answer is not accepted; each names its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerProblem {
    VerdictMissing,
    /// Agreement with conditions needs the conditions.
    ConditionsMissing,
    /// Conditions given, but the verdict is not "with conditions".
    ConditionsWithoutVerdict,
    ConditionsTooLong,
    /// An objection needs its reasons.
    StatementMissing,
    TextTooLong,
    NameMissing,
    NameTooLong,
}

impl AnswerProblem {
    /// The form field the problem belongs to.
    pub fn field(self) -> &'static str {
        match self {
            AnswerProblem::VerdictMissing | AnswerProblem::ConditionsWithoutVerdict => "votum",
            AnswerProblem::ConditionsMissing | AnswerProblem::ConditionsTooLong => "auflagen",
            AnswerProblem::StatementMissing | AnswerProblem::TextTooLong => "stellungnahme",
            AnswerProblem::NameMissing | AnswerProblem::NameTooLong => "name",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AnswerProblem::VerdictMissing => "verdict_missing",
            AnswerProblem::ConditionsMissing => "conditions_missing",
            AnswerProblem::ConditionsWithoutVerdict => "conditions_without_verdict",
            AnswerProblem::ConditionsTooLong => "conditions_too_long",
            AnswerProblem::StatementMissing => "statement_missing",
            AnswerProblem::TextTooLong => "text_too_long",
            AnswerProblem::NameMissing => "name_missing",
            AnswerProblem::NameTooLong => "name_too_long",
        }
    }
}

/// Checks an answer; returns its verdict or every problem found (one per field).
pub fn check_answer(answer: &Answer) -> Result<Verdict, Vec<AnswerProblem>> {
    let mut problems = Vec::new();
    let verdict = Verdict::parse(answer.verdict.trim());
    let conditions = answer.conditions.trim();
    let statement = answer.statement.trim();
    match verdict {
        None => problems.push(AnswerProblem::VerdictMissing),
        Some(Verdict::AgreeWithConditions) if conditions.is_empty() => problems.push(AnswerProblem::ConditionsMissing),
        Some(Verdict::Agree | Verdict::Object) if !conditions.is_empty() => {
            problems.push(AnswerProblem::ConditionsWithoutVerdict)
        }
        _ => {}
    }
    if conditions.chars().count() > MAX_TEXT {
        problems.push(AnswerProblem::ConditionsTooLong);
    }
    if verdict == Some(Verdict::Object) && statement.is_empty() {
        problems.push(AnswerProblem::StatementMissing);
    } else if statement.chars().count() > MAX_TEXT {
        problems.push(AnswerProblem::TextTooLong);
    }
    let name = answer.answered_by.trim();
    if name.is_empty() {
        problems.push(AnswerProblem::NameMissing);
    } else if name.chars().count() > MAX_NAME {
        problems.push(AnswerProblem::NameTooLong);
    }
    match verdict {
        Some(v) if problems.is_empty() => Ok(v),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn answer(verdict: &str, statement: &str, conditions: &str) -> Answer {
        Answer {
            verdict: verdict.into(),
            statement: statement.into(),
            conditions: conditions.into(),
            answered_by: "PHK Maier, PI Nord".into(),
        }
    }

    #[test]
    fn agreement_needs_nothing_more_but_a_name() {
        assert_eq!(check_answer(&answer("zustimmung", "", "")), Ok(Verdict::Agree));
        let nameless = Answer { answered_by: " ".into(), ..answer("zustimmung", "", "") };
        assert_eq!(check_answer(&nameless), Err(vec![AnswerProblem::NameMissing]));
    }

    #[test]
    fn conditions_belong_to_agreement_with_conditions_only() {
        assert_eq!(check_answer(&answer("auflagen", "", "Absperrung ab 7 Uhr")), Ok(Verdict::AgreeWithConditions));
        assert_eq!(check_answer(&answer("auflagen", "passt", " ")), Err(vec![AnswerProblem::ConditionsMissing]));
        assert_eq!(
            check_answer(&answer("zustimmung", "", "Absperrung")),
            Err(vec![AnswerProblem::ConditionsWithoutVerdict])
        );
    }

    #[test]
    fn an_objection_gives_its_reasons() {
        assert_eq!(check_answer(&answer("bedenken", "", "")), Err(vec![AnswerProblem::StatementMissing]));
        assert_eq!(check_answer(&answer("bedenken", "Rettungsweg blockiert", "")), Ok(Verdict::Object));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let empty = Answer::default();
        let problems = check_answer(&empty).unwrap_err();
        assert_eq!(problems, vec![AnswerProblem::VerdictMissing, AnswerProblem::NameMissing]);
        assert_eq!(problems.iter().map(|p| p.field()).collect::<Vec<_>>(), vec!["votum", "name"]);
        let long = answer("zustimmung", &"x".repeat(MAX_TEXT + 1), "");
        assert_eq!(check_answer(&long), Err(vec![AnswerProblem::TextTooLong]));
        assert_eq!(Verdict::parse("unbekannt"), None);
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.code()), Some(v));
        }
    }

    #[test]
    fn the_deadline_is_within_three_months() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        assert_eq!(check_due(now, NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()), Err(DueProblem::NotInFuture));
        assert_eq!(check_due(now, NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()), Ok(()));
        assert_eq!(check_due(now, NaiveDate::from_ymd_opt(2027, 3, 10).unwrap()), Err(DueProblem::TooFar));
    }
}
