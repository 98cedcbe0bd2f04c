//! Deadlines of a case (Fristen): statutory ones (§ 28 Abs. 2 BauGB: two months to exercise
//! the right of pre-emption; § 15 Abs. 1 GewO: three days for the receipt) and the town's own
//! processing targets (SLA). A procedure names them; each case gets its own from the day the
//! application was received. The plan says when the clerks are reminded, when the team lead is
//! told, and when the deadline has passed; the traffic light says how it stands today.
//!
//! A deadline is a calendar day and ends with it (§ 188 BGB): it has passed at midnight
//! after its last day, German time. Reminders and escalations come at 07:00 on their day, so
//! they are read at the start of a working day, not in the night.

use crate::calendar::{Counting, IsoDuration, WorkCalendar};
use crate::request::german_instant;
use crate::time::german_today;
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The hour (German time) at which reminders and escalations come.
pub const MORNING: u32 = 7;

/// What kind of deadline it is: the law's, or the town's own target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Gesetzliche Frist: missing it has legal consequences (a right lost, approval by
    /// fiction under § 42a VwVfG).
    Gesetzlich,
    /// Bearbeitungsziel (SLA): the town's own promise.
    Ziel,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Gesetzlich => "gesetzlich",
            Kind::Ziel => "ziel",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        [Kind::Gesetzlich, Kind::Ziel].into_iter().find(|k| k.code() == code)
    }
}

/// How a deadline stands: the traffic light of the dashboard and the worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Light {
    /// Grün: before the first reminder.
    Green,
    /// Gelb: reminded, the end is near.
    Amber,
    /// Rot: passed.
    Red,
}

impl Light {
    pub const ALL: [Light; 3] = [Light::Red, Light::Amber, Light::Green];

    pub fn code(self) -> &'static str {
        match self {
            Light::Green => "gruen",
            Light::Amber => "gelb",
            Light::Red => "rot",
        }
    }

    pub fn parse(code: &str) -> Option<Light> {
        Light::ALL.into_iter().find(|l| l.code() == code)
    }

    /// How the light stands at `now` for a deadline ending with `due_on` that warns from
    /// `warn_on` (both inclusive calendar days in Germany).
    pub fn at(now: DateTime<Utc>, warn_on: NaiveDate, due_on: NaiveDate) -> Light {
        let today = german_today(now);
        if today > due_on {
            Light::Red
        } else if today >= warn_on {
            Light::Amber
        } else {
            Light::Green
        }
    }
}

/// A deadline as a procedure defines it, with the town's parameters applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub duration: IsoDuration,
    pub counting: Counting,
    /// Reminders, each this long before the last day.
    pub remind: Vec<IsoDuration>,
    /// The team lead is told this long before the last day; `None`: when it has passed.
    pub escalate: Option<IsoDuration>,
}

/// Why a deadline definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    #[error("eine Frist wird in Tagen, Wochen, Monaten oder Jahren angegeben, nicht in Stunden („{0}“)")]
    ClockPart(String),
    #[error("die Frist ist null („{0}“)")]
    Zero(String),
    #[error("Arbeits- und Werktage werden in Tagen (D) oder Wochen (W) angegeben, nicht in Monaten oder Jahren")]
    MonthsInWorkingDays,
    #[error("Erinnerung oder Eskalation „{0}“ liegt nicht innerhalb der Frist „{1}“")]
    OutsideDuration(String, String),
}

fn days_only(d: &IsoDuration) -> Result<(), SpecProblem> {
    if d.hours + d.minutes + d.seconds > 0 {
        return Err(SpecProblem::ClockPart(d.to_string()));
    }
    if d.is_zero() {
        return Err(SpecProblem::Zero(d.to_string()));
    }
    Ok(())
}

/// A rough length in days, for checking that reminders fall within the deadline.
fn approx_days(d: &IsoDuration, counting: Counting) -> u32 {
    let per_week = match counting {
        Counting::Arbeitstage => 5,
        Counting::Werktage => 6,
        _ => 7,
    };
    d.years * 365 + d.months * 30 + d.weeks * per_week + d.days
}

impl Spec {
    /// Checks what a library author wrote: whole days, reminders and escalation shorter
    /// than the deadline itself.
    pub fn check(&self) -> Result<(), SpecProblem> {
        days_only(&self.duration)?;
        if matches!(self.counting, Counting::Arbeitstage | Counting::Werktage)
            && (self.duration.years > 0 || self.duration.months > 0)
        {
            return Err(SpecProblem::MonthsInWorkingDays);
        }
        let length = approx_days(&self.duration, self.counting);
        for before in self.remind.iter().chain(self.escalate.iter()) {
            days_only(before)?;
            if approx_days(before, Counting::Kalendertage) >= length.max(1) {
                return Err(SpecProblem::OutsideDuration(before.to_string(), self.duration.to_string()));
            }
        }
        Ok(())
    }
}

/// Something that happens on a deadline's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Moment {
    /// The n-th reminder (0-based, in time order) to the clerks of the case.
    Reminder(u32),
    /// The team lead is told (before the end, if the procedure says so).
    Escalation,
    /// The deadline has passed (and, without an earlier escalation, the team lead is told).
    Expiry,
}

impl Moment {
    pub fn code(self) -> String {
        match self {
            Moment::Reminder(n) => format!("reminder-{n}"),
            Moment::Escalation => "escalation".into(),
            Moment::Expiry => "expiry".into(),
        }
    }

    pub fn parse(code: &str) -> Option<Moment> {
        match code {
            "escalation" => Some(Moment::Escalation),
            "expiry" => Some(Moment::Expiry),
            _ => code.strip_prefix("reminder-")?.parse().ok().map(Moment::Reminder),
        }
    }
}

/// A case's deadline, worked out from the day its application was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The last day (inclusive).
    pub due_on: NaiveDate,
    /// From this day on the light is amber: the first reminder's day (or, without
    /// reminders, the last fifth of the deadline).
    pub warn_on: NaiveDate,
    /// What happens when, in time order; moments already past when the plan is made are
    /// left out, except the escalation and the expiry, which then come at once.
    pub moments: Vec<(Moment, DateTime<Utc>)>,
}

/// The day `before` ahead of `day`, counted in calendar time.
fn day_before(day: NaiveDate, before: &IsoDuration) -> NaiveDate {
    let months = before.years * 12 + before.months;
    day.checked_sub_months(Months::new(months)).unwrap_or(day) - Duration::days((before.weeks * 7 + before.days) as i64)
}

/// The instant a deadline ending with `due_on` has passed: midnight after it.
pub fn passed_at(due_on: NaiveDate) -> DateTime<Utc> {
    german_instant(due_on + Duration::days(1), 0)
}

/// Plans a deadline that starts with the receipt at `received_at`, as of `now`.
pub fn plan(
    calendar: &WorkCalendar,
    received_at: DateTime<Utc>,
    spec: &Spec,
    now: DateTime<Utc>,
) -> Result<Plan, String> {
    let end = calendar.add(received_at, &spec.duration, spec.counting)?;
    let due_on = crate::time::german_time(end).date_naive();
    let mut reminders: Vec<NaiveDate> = spec.remind.iter().map(|b| day_before(due_on, b)).collect();
    reminders.sort();
    reminders.dedup();
    let start = german_today(received_at);
    let warn_on = reminders.first().copied().unwrap_or_else(|| {
        let length = (due_on - start).num_days();
        due_on - Duration::days(length / 5)
    });
    let mut moments: Vec<(Moment, DateTime<Utc>)> = reminders
        .iter()
        .enumerate()
        .map(|(i, day)| (Moment::Reminder(i as u32), german_instant(*day, MORNING)))
        .filter(|(_, at)| *at > now)
        .collect();
    let expiry = passed_at(due_on).max(now);
    if let Some(before) = &spec.escalate {
        let at = german_instant(day_before(due_on, before), MORNING).max(now);
        moments.push((Moment::Escalation, at.min(expiry)));
    }
    moments.push((Moment::Expiry, expiry));
    moments.sort_by_key(|(m, at)| (*at, *m));
    Ok(Plan { due_on, warn_on: warn_on.min(due_on), moments })
}

/// Whole days from today to the last day: positive ahead, 0 on the last day, negative once
/// it has passed.
pub fn days_left(now: DateTime<Utc>, due_on: NaiveDate) -> i64 {
    (due_on - german_today(now)).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Land;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn dur(s: &str) -> IsoDuration {
        IsoDuration::parse(s).unwrap()
    }

    fn vorkaufsrecht() -> Spec {
        Spec {
            duration: dur("P2M"),
            counting: Counting::Frist,
            remind: vec![dur("P4W"), dur("P2W")],
            escalate: Some(dur("P2W")),
        }
    }

    #[test]
    fn two_months_of_section_28_baugb_with_reminders_at_four_and_two_weeks() {
        let cal = WorkCalendar::new(Some(Land::SN));
        // Received Tuesday 6 October 2026, 10:00 German time.
        let received = Utc.with_ymd_and_hms(2026, 10, 6, 8, 0, 0).unwrap();
        let p = plan(&cal, received, &vorkaufsrecht(), received).unwrap();
        // 6 December 2026 is a Sunday: the deadline ends on Monday the 7th (§ 193 BGB).
        assert_eq!(p.due_on, day(2026, 12, 7));
        assert_eq!(p.warn_on, day(2026, 11, 9));
        let codes: Vec<(String, DateTime<Utc>)> = p.moments.iter().map(|(m, at)| (m.code(), *at)).collect();
        assert_eq!(
            codes,
            vec![
                ("reminder-0".to_string(), german_instant(day(2026, 11, 9), 7)),
                ("reminder-1".to_string(), german_instant(day(2026, 11, 23), 7)),
                ("escalation".to_string(), german_instant(day(2026, 11, 23), 7)),
                ("expiry".to_string(), german_instant(day(2026, 12, 8), 0)),
            ]
        );
    }

    #[test]
    fn working_days_skip_holidays_of_the_land() {
        // Reformation Day (31 October) is a holiday in Saxony, not in Bavaria.
        let received = Utc.with_ymd_and_hms(2025, 10, 30, 8, 0, 0).unwrap();
        let spec = Spec { duration: dur("P2D"), counting: Counting::Arbeitstage, remind: vec![], escalate: None };
        let sn = plan(&WorkCalendar::new(Some(Land::SN)), received, &spec, received).unwrap();
        let by = plan(&WorkCalendar::new(Some(Land::BY)), received, &spec, received).unwrap();
        assert_eq!(sn.due_on, day(2025, 11, 4));
        assert_eq!(by.due_on, day(2025, 11, 3));
        // Without reminders the light turns amber in the last fifth.
        assert_eq!(sn.warn_on, day(2025, 11, 3));
        assert_eq!(sn.moments, vec![(Moment::Expiry, passed_at(day(2025, 11, 4)))]);
    }

    #[test]
    fn a_letter_entered_late_escalates_at_once_and_drops_past_reminders() {
        let cal = WorkCalendar::new(Some(Land::SN));
        let received = Utc.with_ymd_and_hms(2026, 10, 6, 8, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        let p = plan(&cal, received, &vorkaufsrecht(), now).unwrap();
        assert_eq!(p.moments, vec![(Moment::Escalation, now), (Moment::Expiry, passed_at(day(2026, 12, 7)))]);
        let later = Utc.with_ymd_and_hms(2026, 12, 20, 9, 0, 0).unwrap();
        let p = plan(&cal, received, &vorkaufsrecht(), later).unwrap();
        assert_eq!(p.moments, vec![(Moment::Escalation, later), (Moment::Expiry, later)]);
    }

    #[test]
    fn the_light_turns_amber_on_the_warning_day_and_red_after_the_last_day() {
        let warn = day(2026, 11, 9);
        let due = day(2026, 12, 7);
        let at = |d: NaiveDate, h: u32| german_instant(d, h);
        assert_eq!(Light::at(at(day(2026, 11, 8), 23), warn, due), Light::Green);
        assert_eq!(Light::at(at(warn, 0), warn, due), Light::Amber);
        assert_eq!(Light::at(at(due, 23), warn, due), Light::Amber);
        assert_eq!(Light::at(at(day(2026, 12, 8), 0), warn, due), Light::Red);
        assert_eq!(days_left(at(day(2026, 12, 5), 12), due), 2);
        assert_eq!(days_left(at(day(2026, 12, 9), 12), due), -2);
    }

    #[test]
    fn definitions_are_checked() {
        let mut s = vorkaufsrecht();
        assert_eq!(s.check(), Ok(()));
        s.remind.push(dur("P3M"));
        assert!(matches!(s.check(), Err(SpecProblem::OutsideDuration(..))));
        let s = Spec { duration: dur("PT36H"), counting: Counting::Frist, remind: vec![], escalate: None };
        assert!(matches!(s.check(), Err(SpecProblem::ClockPart(_))));
        let s = Spec { duration: dur("P1M"), counting: Counting::Arbeitstage, remind: vec![], escalate: None };
        assert_eq!(s.check(), Err(SpecProblem::MonthsInWorkingDays));
        for m in [Moment::Reminder(3), Moment::Escalation, Moment::Expiry] {
            assert_eq!(Moment::parse(&m.code()), Some(m));
        }
        assert_eq!(Moment::parse("reminder-x"), None);
    }
}
