//! Deadlines as the administration counts them: public holidays per Land, working days,
//! and ISO 8601 durations added in one of four calendars. Timers, task due dates and
//! reminders of a procedure use it, so "10 Arbeitstage" skips Easter Monday in every Land and
//! Reformation Day only where it is a holiday.

use crate::time::{german_offset, german_time};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The 16 Länder, by their official two-letter codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Land {
    BW,
    BY,
    BE,
    BB,
    HB,
    HH,
    HE,
    MV,
    NI,
    NW,
    RP,
    SL,
    SN,
    ST,
    SH,
    TH,
}

impl Land {
    pub const ALL: [Land; 16] = [
        Land::BW,
        Land::BY,
        Land::BE,
        Land::BB,
        Land::HB,
        Land::HH,
        Land::HE,
        Land::MV,
        Land::NI,
        Land::NW,
        Land::RP,
        Land::SL,
        Land::SN,
        Land::ST,
        Land::SH,
        Land::TH,
    ];

    pub fn parse(code: &str) -> Option<Land> {
        Land::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    pub fn code(self) -> &'static str {
        match self {
            Land::BW => "BW",
            Land::BY => "BY",
            Land::BE => "BE",
            Land::BB => "BB",
            Land::HB => "HB",
            Land::HH => "HH",
            Land::HE => "HE",
            Land::MV => "MV",
            Land::NI => "NI",
            Land::NW => "NW",
            Land::RP => "RP",
            Land::SL => "SL",
            Land::SN => "SN",
            Land::ST => "ST",
            Land::SH => "SH",
            Land::TH => "TH",
        }
    }
}

/// Easter Sunday (Gregorian calendar, anonymous algorithm of Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a valid date")
}

/// The statutory public holidays of a Land in a year (Land-wide ones only: holidays of
/// single municipalities, such as the Augsburger Friedensfest, are the tenant's own closing
/// days). Without a Land, only the nationwide holidays.
pub fn public_holidays(year: i32, land: Option<Land>) -> Vec<(NaiveDate, &'static str)> {
    use Land::*;
    let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(year, m, day).expect("valid date");
    let easter = easter_sunday(year);
    let e = |offset: i64| easter + Duration::days(offset);
    let is = |lands: &[Land]| land.is_some_and(|l| lands.contains(&l));
    let mut out = vec![(d(1, 1), "Neujahr")];
    if is(&[BW, BY, ST]) {
        out.push((d(1, 6), "Heilige Drei Könige"));
    }
    if (is(&[BE]) && year >= 2019) || (is(&[MV]) && year >= 2023) {
        out.push((d(3, 8), "Internationaler Frauentag"));
    }
    out.push((e(-2), "Karfreitag"));
    if is(&[BB]) {
        out.push((e(0), "Ostersonntag"));
    }
    out.push((e(1), "Ostermontag"));
    out.push((d(5, 1), "Tag der Arbeit"));
    out.push((e(39), "Christi Himmelfahrt"));
    if is(&[BB]) {
        out.push((e(49), "Pfingstsonntag"));
    }
    out.push((e(50), "Pfingstmontag"));
    if is(&[BW, BY, HE, NW, RP, SL]) {
        out.push((e(60), "Fronleichnam"));
    }
    if is(&[SL]) {
        out.push((d(8, 15), "Mariä Himmelfahrt"));
    }
    if is(&[TH]) && year >= 2019 {
        out.push((d(9, 20), "Weltkindertag"));
    }
    out.push((d(10, 3), "Tag der Deutschen Einheit"));
    if is(&[BB, MV, SN, ST, TH]) || (is(&[HB, HH, NI, SH]) && year >= 2018) || year == 2017 {
        out.push((d(10, 31), "Reformationstag"));
    }
    if is(&[BW, BY, NW, RP, SL]) {
        out.push((d(11, 1), "Allerheiligen"));
    }
    if is(&[SN]) {
        // Wednesday before 23 November.
        let mut b = d(11, 22);
        while b.weekday() != Weekday::Wed {
            b -= Duration::days(1);
        }
        out.push((b, "Buß- und Bettag"));
    }
    out.push((d(12, 25), "1. Weihnachtstag"));
    out.push((d(12, 26), "2. Weihnachtstag"));
    out.sort();
    out
}

/// How a duration is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Counting {
    /// Plain calendar time.
    #[default]
    Kalendertage,
    /// A statutory deadline (§ 31 Abs. 3 VwVfG, § 193 BGB): calendar time, but a deadline
    /// ending on a Saturday, Sunday or public holiday ends on the next working day.
    Frist,
    /// Monday to Friday without public holidays; a week is five working days.
    Arbeitstage,
    /// Monday to Saturday without public holidays; a week is six.
    Werktage,
}

impl Counting {
    pub fn parse(s: &str) -> Option<Counting> {
        match s.trim().to_lowercase().as_str() {
            "kalendertage" | "calendar-days" => Some(Counting::Kalendertage),
            "frist" | "deadline" => Some(Counting::Frist),
            "arbeitstage" | "working-days" => Some(Counting::Arbeitstage),
            "werktage" | "business-days" => Some(Counting::Werktage),
            _ => None,
        }
    }
}

/// The working calendar of a tenant: its Land and its own closing days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    pub land: Option<Land>,
    pub closing_days: Vec<NaiveDate>,
}

impl WorkCalendar {
    pub fn new(land: Option<Land>) -> WorkCalendar {
        WorkCalendar { land, closing_days: Vec::new() }
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.closing_days.contains(&date) || public_holidays(date.year(), self.land).iter().any(|(d, _)| *d == date)
    }

    /// Monday to Friday and not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date)
    }

    fn is_werktag(&self, date: NaiveDate) -> bool {
        date.weekday() != Weekday::Sun && !self.is_holiday(date)
    }

    /// The instant `duration` after `from`, counted as `counting` says, in German time.
    pub fn add(
        &self,
        from: DateTime<Utc>,
        duration: &IsoDuration,
        counting: Counting,
    ) -> Result<DateTime<Utc>, String> {
        let local = german_time(from).naive_local();
        let result = match counting {
            Counting::Kalendertage | Counting::Frist => {
                // Years, months and days move the calendar date (a day stays a day across
                // the change to summer time); hours and less are exact elapsed time.
                let months = duration.years * 12 + duration.months;
                let date =
                    local.date().checked_add_months(Months::new(months)).ok_or("Datum außerhalb des Kalenders")?
                        + Duration::days((duration.weeks * 7 + duration.days) as i64);
                let mut end = from_german_local(date.and_time(local.time())) + duration.clock();
                if counting == Counting::Frist {
                    let mut day = german_time(end).date_naive();
                    while !self.is_working_day(day) {
                        day += Duration::days(1);
                    }
                    let time = german_time(end).time();
                    end = from_german_local(day.and_time(time));
                }
                return Ok(end);
            }
            Counting::Arbeitstage | Counting::Werktage => {
                if duration.years != 0 || duration.months != 0 {
                    return Err(
                        "Arbeits- und Werktage werden in Tagen (D) oder Wochen (W) angegeben, nicht in Monaten oder Jahren"
                            .into(),
                    );
                }
                let (per_week, counts): (u32, &dyn Fn(NaiveDate) -> bool) = if counting == Counting::Arbeitstage {
                    (5, &|d| self.is_working_day(d))
                } else {
                    (6, &|d| self.is_werktag(d))
                };
                let mut remaining = duration.weeks * per_week + duration.days;
                let mut date = local.date();
                while remaining > 0 {
                    date += Duration::days(1);
                    if counts(date) {
                        remaining -= 1;
                    }
                }
                date.and_time(local.time())
            }
        };
        Ok(from_german_local(result) + duration.clock())
    }
}

/// The UTC instant of a German wall-clock time (in the hour skipped in spring, the time
/// after the change).
pub fn from_german_local(local: NaiveDateTime) -> DateTime<Utc> {
    for hours in [1, 2] {
        let candidate = Utc.from_utc_datetime(&(local - Duration::hours(hours)));
        if german_offset(candidate).local_minus_utc() as i64 == hours * 3600 {
            return candidate;
        }
    }
    Utc.from_utc_datetime(&(local - Duration::hours(2)))
}

/// An ISO 8601 duration (`P10D`, `P2W`, `P1M`, `PT36H`, `P1DT12H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IsoDuration {
    pub years: u32,
    pub months: u32,
    pub weeks: u32,
    pub days: u32,
    pub hours: u32,
    pub minutes: u32,
    pub seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("„{0}“ ist keine Dauer nach ISO 8601 (z. B. P10D, P2W, PT4H, P1M)")]
pub struct DurationError(pub String);

impl IsoDuration {
    pub fn parse(text: &str) -> Result<IsoDuration, DurationError> {
        let err = || DurationError(text.to_string());
        let s = text.trim();
        let rest = s.strip_prefix('P').ok_or_else(err)?;
        if rest.is_empty() {
            return Err(err());
        }
        let mut d = IsoDuration::default();
        let mut in_time = false;
        let mut number = String::new();
        let mut any = false;
        let mut time_parts = 0;
        for c in rest.chars() {
            match c {
                '0'..='9' => number.push(c),
                'T' if !in_time && number.is_empty() => in_time = true,
                _ => {
                    let n: u32 = number.parse().map_err(|_| err())?;
                    number.clear();
                    any = true;
                    let slot = match (in_time, c) {
                        (false, 'Y') => &mut d.years,
                        (false, 'M') => &mut d.months,
                        (false, 'W') => &mut d.weeks,
                        (false, 'D') => &mut d.days,
                        (true, 'H') => &mut d.hours,
                        (true, 'M') => &mut d.minutes,
                        (true, 'S') => &mut d.seconds,
                        _ => return Err(err()),
                    };
                    *slot = n;
                    if in_time {
                        time_parts += 1;
                    }
                }
            }
        }
        if !number.is_empty() || !any || (in_time && time_parts == 0) {
            return Err(err());
        }
        Ok(d)
    }

    /// The hours, minutes and seconds part as elapsed time.
    pub fn clock(&self) -> Duration {
        Duration::hours(self.hours as i64)
            + Duration::minutes(self.minutes as i64)
            + Duration::seconds(self.seconds as i64)
    }

    pub fn is_zero(&self) -> bool {
        *self == IsoDuration::default()
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (n, u) in [(self.years, 'Y'), (self.months, 'M'), (self.weeks, 'W'), (self.days, 'D')] {
            if n > 0 {
                write!(f, "{n}{u}")?;
            }
        }
        if self.hours + self.minutes + self.seconds > 0 {
            f.write_str("T")?;
            for (n, u) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')] {
                if n > 0 {
                    write!(f, "{n}{u}")?;
                }
            }
        }
        if self.is_zero() {
            f.write_str("T0S")?;
        }
        Ok(())
    }
}

/// A point in time written as ISO 8601 date-time with offset (`2026-12-01T09:00:00+01:00`) or
/// as a date (`2026-12-01`, meaning 00:00 German time).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    // FEEL prints date-times with a zone id or without seconds in some forms.
    if let Ok(d) = chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M%:z") {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S") {
        return Some(from_german_local(n));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(from_german_local(d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// 10:00 German time on the given day.
    fn at10(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        from_german_local(date(y, m, d).and_hms_opt(10, 0, 0).unwrap())
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter_sunday(2024), date(2024, 3, 31));
        assert_eq!(easter_sunday(2025), date(2025, 4, 20));
        assert_eq!(easter_sunday(2026), date(2026, 4, 5));
        assert_eq!(easter_sunday(2027), date(2027, 3, 28));
        assert_eq!(easter_sunday(2038), date(2038, 4, 25));
    }

    #[test]
    fn holidays_depend_on_the_land() {
        let sn = WorkCalendar::new(Land::parse("sn"));
        let by = WorkCalendar::new(Some(Land::BY));
        let nw = WorkCalendar::new(Some(Land::NW));
        // Buß- und Bettag 2026 is Wednesday, 18 November: only in Saxony.
        assert!(sn.is_holiday(date(2026, 11, 18)));
        assert!(!by.is_holiday(date(2026, 11, 18)));
        // Reformation Day in Saxony, All Saints' Day in Bavaria and NRW.
        assert!(sn.is_holiday(date(2026, 10, 31)) && !nw.is_holiday(date(2026, 10, 31)));
        assert!(by.is_holiday(date(2026, 11, 1)) && !sn.is_holiday(date(2026, 11, 1)));
        // Corpus Christi 2026 (4 June) in NRW, not in Saxony; Easter Monday everywhere.
        assert!(nw.is_holiday(date(2026, 6, 4)) && !sn.is_holiday(date(2026, 6, 4)));
        assert!(WorkCalendar::default().is_holiday(date(2026, 4, 6)));
        assert_eq!(public_holidays(2026, None).len(), 9, "nine nationwide holidays");
        assert_eq!(public_holidays(2026, Some(Land::BY)).len(), 12);
        assert_eq!(Land::parse("XX"), None);
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let sn = WorkCalendar::new(Some(Land::SN));
        let ten = IsoDuration::parse("P10D").unwrap();
        // Friday 13 November 2026 + 10 working days in Saxony: Buß- und Bettag (18th) is
        // skipped, so Monday 30 November, not Friday 27th.
        assert_eq!(sn.add(at10(2026, 11, 13), &ten, Counting::Arbeitstage).unwrap(), at10(2026, 11, 30));
        let by = WorkCalendar::new(Some(Land::BY));
        assert_eq!(by.add(at10(2026, 11, 13), &ten, Counting::Arbeitstage).unwrap(), at10(2026, 11, 27));
        // Over Easter 2026 (Good Friday 3 April, Easter Monday 6 April): Thursday 2 April
        // + 2 working days = Wednesday 8 April.
        let two = IsoDuration::parse("P2D").unwrap();
        assert_eq!(by.add(at10(2026, 4, 2), &two, Counting::Arbeitstage).unwrap(), at10(2026, 4, 8));
        // Werktage count Saturdays: Saturday 4 April and Tuesday 7 April.
        assert_eq!(by.add(at10(2026, 4, 2), &two, Counting::Werktage).unwrap(), at10(2026, 4, 7));
        // A week of working days is five of them.
        let week = IsoDuration::parse("P1W").unwrap();
        assert_eq!(by.add(at10(2026, 11, 23), &week, Counting::Arbeitstage).unwrap(), at10(2026, 11, 30));
        assert!(by.add(at10(2026, 1, 1), &IsoDuration::parse("P1M").unwrap(), Counting::Arbeitstage).is_err());
    }

    #[test]
    fn statutory_deadlines_roll_over_to_the_next_working_day() {
        let by = WorkCalendar::new(Some(Land::BY));
        let month = IsoDuration::parse("P1M").unwrap();
        // 4 April 2026 + 1 month = Monday 4 May: a working day, stays.
        assert_eq!(by.add(at10(2026, 4, 4), &month, Counting::Frist).unwrap(), at10(2026, 5, 4));
        // 1 April 2026 + 1 month = 1 May (holiday, Friday) → Monday 4 May.
        assert_eq!(by.add(at10(2026, 4, 1), &month, Counting::Frist).unwrap(), at10(2026, 5, 4));
        // Plain calendar time does not roll over.
        assert_eq!(by.add(at10(2026, 4, 1), &month, Counting::Kalendertage).unwrap(), at10(2026, 5, 1));
    }

    #[test]
    fn days_keep_the_wall_clock_across_summer_time() {
        let cal = WorkCalendar::default();
        let day = IsoDuration::parse("P1D").unwrap();
        // 28 March 2026 10:00 (CET) + 1 day = 29 March 10:00 (CEST): 23 hours later.
        let from = at10(2026, 3, 28);
        let to = cal.add(from, &day, Counting::Kalendertage).unwrap();
        assert_eq!(to, at10(2026, 3, 29));
        assert_eq!(to - from, Duration::hours(23));
        let hours = IsoDuration::parse("PT24H").unwrap();
        assert_eq!(cal.add(from, &hours, Counting::Kalendertage).unwrap() - from, Duration::hours(24));
    }

    #[test]
    fn iso_durations() {
        let d = IsoDuration::parse("P1Y2M3W4DT5H6M7S").unwrap();
        assert_eq!((d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds), (1, 2, 3, 4, 5, 6, 7));
        assert_eq!(d.to_string(), "P1Y2M3W4DT5H6M7S");
        assert_eq!(IsoDuration::parse("PT30M").unwrap().clock(), Duration::minutes(30));
        for bad in ["", "P", "10D", "P10", "PT", "P1H", "PxD", "P1DT"] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_instant("2026-12-01"), Some(at10(2026, 12, 1) - Duration::hours(10)));
        assert_eq!(parse_instant("2026-12-01T10:00:00+01:00"), Some(at10(2026, 12, 1)));
        assert_eq!(parse_instant("morgen"), None);
    }
}
