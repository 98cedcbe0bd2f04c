//! Requests to the applicant for missing documents or information (Nachforderung): what a
//! clerk may ask for, by when, and when the applicant is reminded and the deadline has
//! passed. Deadlines are calendar days in Germany: a request due on the 10th may be
//! answered until the end of the 10th, German time.

use crate::time::{german_offset, german_today};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// The longest text of a request.
pub const MAX_TEXT: usize = 2000;
/// The latest deadline a request may set, in days from today.
pub const MAX_DAYS: i64 = 92;
/// How many days before the deadline the applicant is reminded.
pub const REMIND_DAYS_BEFORE: i64 = 3;
/// The hour (German time) at which reminders are sent.
const REMIND_HOUR: u32 = 8;

/// Why a deadline is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueProblem {
    /// Today or earlier: the applicant needs at least a day.
    NotInFuture,
    /// More than [`MAX_DAYS`] ahead.
    TooFar,
}

/// Checks a deadline set at `now`.
pub fn check_due(now: DateTime<Utc>, due: NaiveDate) -> Result<(), DueProblem> {
    check_ahead(now, due, MAX_DAYS)
}

/// Checks that `date` lies after today (German calendar) and at most `max_days` ahead.
pub fn check_ahead(now: DateTime<Utc>, date: NaiveDate, max_days: i64) -> Result<(), DueProblem> {
    let today = german_today(now);
    if date <= today {
        Err(DueProblem::NotInFuture)
    } else if date > today + Duration::days(max_days) {
        Err(DueProblem::TooFar)
    } else {
        Ok(())
    }
}

/// The UTC instant of `hour`:00 German time on `date`.
pub fn german_instant(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let local = date.and_hms_opt(hour, 0, 0).expect("valid hour");
    // The offset of the instant itself: guessed from an hour before (summer time changes
    // at 01:00 UTC, so the guess is off only within the changing hour).
    let guess = Utc.from_utc_datetime(&(local - Duration::hours(1)));
    let offset = german_offset(guess);
    Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset.local_minus_utc()))))
}

/// When the applicant is reminded: [`REMIND_DAYS_BEFORE`] days before the deadline, in the
/// morning; `None` if that moment is not after `now` (a short deadline needs no reminder).
pub fn reminder_at(now: DateTime<Utc>, due: NaiveDate) -> Option<DateTime<Utc>> {
    let at = german_instant(due - Duration::days(REMIND_DAYS_BEFORE), REMIND_HOUR);
    (at > now).then_some(at)
}

/// When the deadline has passed: the start of the day after it, German time.
pub fn deadline_passed_at(due: NaiveDate) -> DateTime<Utc> {
    german_instant(due + Duration::days(1), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_deadline_lies_between_tomorrow_and_three_months() {
        // Monday 23 November 2026, 23:30 German time (22:30 UTC).
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 22, 30, 0).unwrap();
        assert_eq!(check_due(now, d(2026, 11, 23)), Err(DueProblem::NotInFuture));
        assert_eq!(check_due(now, d(2026, 11, 24)), Ok(()));
        assert_eq!(check_due(now, d(2027, 2, 23)), Ok(()));
        assert_eq!(check_due(now, d(2027, 2, 24)), Err(DueProblem::TooFar));
        // 23:30 UTC is already Tuesday in Germany.
        let later = Utc.with_ymd_and_hms(2026, 11, 23, 23, 30, 0).unwrap();
        assert_eq!(check_due(later, d(2026, 11, 24)), Err(DueProblem::NotInFuture));
    }

    #[test]
    fn reminder_and_deadline_in_german_time() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        // Winter: 08:00 German time is 07:00 UTC; the deadline passes at midnight.
        assert_eq!(reminder_at(now, d(2026, 12, 7)), Some(Utc.with_ymd_and_hms(2026, 12, 4, 7, 0, 0).unwrap()));
        assert_eq!(deadline_passed_at(d(2026, 12, 7)), Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0).unwrap());
        // Summer: 08:00 is 06:00 UTC, midnight 22:00 UTC the day before.
        let spring = Utc.with_ymd_and_hms(2027, 5, 3, 9, 0, 0).unwrap();
        assert_eq!(reminder_at(spring, d(2027, 6, 10)), Some(Utc.with_ymd_and_hms(2027, 6, 7, 6, 0, 0).unwrap()));
        assert_eq!(deadline_passed_at(d(2027, 6, 10)), Utc.with_ymd_and_hms(2027, 6, 10, 22, 0, 0).unwrap());
        // A deadline in two days has no reminder.
        assert_eq!(reminder_at(now, d(2026, 11, 25)), None);
    }
}
