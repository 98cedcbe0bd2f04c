//! German legal time. Notices state dates and times as they are in Germany; the EU rule
//! (summer time from the last Sunday of March, 01:00 UTC, to the last Sunday of October,
//! 01:00 UTC) is simple enough to compute without a time zone database.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) }
            .expect("valid date");
    let mut d = first_next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// The offset of German time at a UTC instant: +02:00 in summer, +01:00 otherwise.
pub fn german_offset(t: DateTime<Utc>) -> FixedOffset {
    let y = t.year();
    let start = Utc.from_utc_datetime(&last_sunday(y, 3).and_hms_opt(1, 0, 0).expect("valid"));
    let end = Utc.from_utc_datetime(&last_sunday(y, 10).and_hms_opt(1, 0, 0).expect("valid"));
    let hours = if t >= start && t < end { 2 } else { 1 };
    FixedOffset::east_opt(hours * 3600).expect("valid offset")
}

pub fn german_time(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&german_offset(t))
}

/// "22.11.2026"
pub fn german_date(t: DateTime<Utc>) -> String {
    german_time(t).format("%d.%m.%Y").to_string()
}

/// "22.11.2026, 19:55 Uhr"
pub fn german_date_time(t: DateTime<Utc>) -> String {
    german_time(t).format("%d.%m.%Y, %H:%M Uhr").to_string()
}

/// A calendar day as Germans write it: "14.12.2026".
pub fn german_day_of(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// A stored calendar day (`YYYY-MM-DD`) as Germans write it; anything else as it is.
pub fn german_day(stored: &str) -> String {
    NaiveDate::parse_from_str(stored, "%Y-%m-%d").map(german_day_of).unwrap_or_else(|_| stored.to_string())
}

/// A calendar day as a person types it: `2026-12-14` (what a date input sends) or
/// `14.12.2026`; `None` for anything else.
pub fn parse_day(typed: &str) -> Option<NaiveDate> {
    let typed = typed.trim();
    NaiveDate::parse_from_str(typed, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(typed, "%d.%m.%Y")).ok()
}

/// The calendar day in Germany (what "today" means for deadlines and checks).
pub fn german_today(t: DateTime<Utc>) -> NaiveDate {
    german_time(t).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_typed_stored_and_written() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 14).unwrap();
        assert_eq!(parse_day(" 2026-12-14 "), Some(day));
        assert_eq!(parse_day("14.12.2026"), Some(day));
        assert_eq!(parse_day("morgen"), None);
        assert_eq!(german_day("2026-12-14"), "14.12.2026");
        assert_eq!(german_day("irgendwann"), "irgendwann");
        assert_eq!(german_day_of(day), "14.12.2026");
    }

    #[test]
    fn winter_and_summer_time() {
        let winter = Utc.with_ymd_and_hms(2026, 11, 22, 18, 55, 0).unwrap();
        assert_eq!(german_date_time(winter), "22.11.2026, 19:55 Uhr");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 22, 30, 0).unwrap();
        assert_eq!(german_date_time(summer), "02.07.2026, 00:30 Uhr");
        assert_eq!(german_today(summer), NaiveDate::from_ymd_opt(2026, 7, 2).unwrap());
        // 2026: summer time starts 29 March 01:00 UTC, ends 25 October 01:00 UTC.
        assert_eq!(german_offset(Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()).local_minus_utc(), 3600);
        assert_eq!(german_offset(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()).local_minus_utc(), 7200);
        assert_eq!(german_offset(Utc.with_ymd_and_hms(2026, 10, 25, 0, 59, 0).unwrap()).local_minus_utc(), 7200);
        assert_eq!(german_offset(Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap()).local_minus_utc(), 3600);
    }
}
