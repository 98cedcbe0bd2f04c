//! Aufbewahrung: how long a finished case is kept before its file goes to the archive and
//! its personal data are erased. As German records practice counts it (e.g. the
//! Aktenordnungen of the Länder, § 147 Abs. 4 AO for the finance side), the period runs
//! from the end of the year in which the case ended: a case decided in 2026 with five years
//! is due on 1 January 2032.

use chrono::{Datelike, NaiveDate};

/// The day from which a case that ended on `ended` with `years` of retention may be
/// archived and erased.
pub fn due_on(ended: NaiveDate, years: u32) -> NaiveDate {
    let year = ended.year() + years as i32 + 1;
    NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists")
}

/// The latest end of a case that is due on `today` with `years` of retention (the last day
/// of the year `years + 1` before): what a sweep asks the database for.
pub fn ended_by(today: NaiveDate, years: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(today.year() - years as i32 - 1, 12, 31).expect("31 December exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_period_runs_from_the_end_of_the_year_the_case_ended() {
        assert_eq!(due_on(day(2026, 1, 2), 5), day(2032, 1, 1));
        assert_eq!(due_on(day(2026, 12, 31), 5), day(2032, 1, 1));
        assert_eq!(due_on(day(2026, 6, 1), 0), day(2027, 1, 1));
        // The sweep's bound agrees: due on the day, not a day earlier.
        for ended in [day(2026, 1, 2), day(2026, 12, 31)] {
            let due = due_on(ended, 5);
            assert!(ended <= ended_by(due, 5));
            assert!(ended > ended_by(due.pred_opt().unwrap(), 5));
        }
    }
}
