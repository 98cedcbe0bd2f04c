//! The deadlines of cases (Fristen) at work: written with the case when it is submitted,
//! watched by jobs (`rathaus:deadline`, one per moment of the plan) that remind the case's
//! clerks, tell the team lead and mark a deadline passed. A case that is finished meets its
//! deadlines (`cases::set_status`), so the jobs that come later do nothing.
//!
//! Mails to staff name the deadline, the Aktenzeichen and the last day, never the
//! applicant; what else there is to know is behind the back-office link.

use crate::{Result, Runtime};
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::calendar::WorkCalendar;
use rathaus_domain::deadline::{self, Light, Moment};
use rathaus_domain::time::{german_day, german_today};
use rathaus_domain::{Lang, Role, Text};
use rathaus_engine::Procedure;
use rathaus_store::audit::{self, Actor};
use rathaus_store::batch::Write;
use rathaus_store::cases::Case;
use rathaus_store::deadlines::{self, Deadline, Filter};
use rathaus_store::tenants::Tenant;
use rathaus_store::{events, jobs, new_id, staff, tasks};
use serde_json::{json, Value as Json};
use sqlx::AnyConnection;

pub(crate) const DEADLINE_JOB: &str = "rathaus:deadline";

/// The pseudo element deadline jobs stand for in a case's operations view.
const ELEMENT: &str = "_frist";

/// Where the deadlines of a new case come from.
pub(crate) struct NewCaseDeadlines<'a> {
    pub tenant_id: &'a str,
    pub case_id: &'a str,
    pub instance_id: &'a str,
    pub procedure: &'a Procedure,
    /// The town's resolved parameters (targets may be overridden).
    pub parameters: &'a Json,
    pub calendar: &'a WorkCalendar,
    pub received_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// The writes that give a new case its deadlines and the jobs that watch them.
pub(crate) fn writes(new: &NewCaseDeadlines<'_>) -> std::result::Result<Vec<Write>, String> {
    let mut out = Vec::new();
    for d in new.procedure.deadlines(new.parameters) {
        let plan = deadline::plan(new.calendar, new.received_at, &d.spec, new.now)
            .map_err(|e| format!("Frist „{}“: {e}", d.key))?;
        let deadline_id = new_id();
        let label = serde_json::to_string(&d.def.label).expect("texts serialise");
        out.push(deadlines::insert_write(&deadlines::NewDeadline {
            tenant_id: new.tenant_id,
            deadline_id: &deadline_id,
            case_id: new.case_id,
            key: d.key,
            kind: d.def.kind.code(),
            label: &label,
            legal_basis: d.def.legal_basis.as_deref(),
            warn_on: plan.warn_on,
            due_on: plan.due_on,
            now: new.now,
        }));
        for (moment, at) in plan.moments {
            out.push(jobs::insert_write(
                new.tenant_id,
                &format!("{deadline_id}-{}", moment.code()),
                new.instance_id,
                new.case_id,
                0,
                ELEMENT,
                DEADLINE_JOB,
                &json!({"deadline": deadline_id, "phase": moment.code()}),
                &json!({}),
                5,
                at,
                new.now,
            ));
        }
    }
    Ok(out)
}

/// A deadline with how it stands (the words are the web layer's).
#[derive(Debug, Clone)]
pub struct DeadlineView {
    pub deadline: Deadline,
    pub label: Text,
    pub light: Light,
    pub due_on: NaiveDate,
    /// Whole days to the last day (0: today is the last day; negative: passed).
    pub days_left: i64,
    /// The case is finished; `expired` tells whether only after the deadline had passed.
    pub met: bool,
    pub expired: bool,
}

fn label_text(d: &Deadline) -> Text {
    serde_json::from_str::<Text>(&d.label).unwrap_or_else(|_| Text::de(d.deadline_key.clone()))
}

fn label_of(d: &Deadline, lang: Lang) -> String {
    label_text(d).get(lang).to_string()
}

impl DeadlineView {
    pub fn of(d: Deadline, now: DateTime<Utc>) -> DeadlineView {
        let due_on = d.due_day().unwrap_or_else(|| german_today(now));
        let warn = d.warn_day().unwrap_or(due_on);
        let met = d.met_at.is_some();
        // Late if the deadline job saw it pass, or if the case was finished after its last
        // day (the job may not have run yet).
        let finished_late =
            d.met_at.as_deref().and_then(|m| rathaus_store::parse_ts(m).ok()).is_some_and(|m| german_today(m) > due_on);
        let expired = d.expired_at.is_some() || finished_late;
        let light = match (met, expired) {
            // A finished case's deadline stands as it ended: red if it had passed.
            (true, true) => Light::Red,
            (true, false) => Light::Green,
            _ => Light::at(now, warn, due_on),
        };
        DeadlineView {
            label: label_text(&d),
            light,
            due_on,
            days_left: deadline::days_left(now, due_on),
            met,
            expired,
            deadline: d,
        }
    }
}

/// The dashboard's counts as of now: open deadlines at red, amber and green.
#[derive(Debug, Clone, Copy, Default)]
pub struct LightCounts {
    pub red: i64,
    pub amber: i64,
    pub green: i64,
}

impl Runtime {
    /// A case's deadlines, the nearest first.
    pub async fn case_deadlines(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<DeadlineView>> {
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        Ok(deadlines::for_case(&mut conn, &tenant.tenant_id, case_id)
            .await?
            .into_iter()
            .map(|d| DeadlineView::of(d, now))
            .collect())
    }

    /// The open deadlines of the listed cases, by case (the worklist's traffic lights).
    pub async fn open_deadlines_of(
        &self,
        tenant: &Tenant,
        case_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<DeadlineView>>> {
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        let mut out: std::collections::HashMap<String, Vec<DeadlineView>> = std::collections::HashMap::new();
        for d in deadlines::open_for_cases(&mut conn, &tenant.tenant_id, case_ids).await? {
            out.entry(d.case_id.clone()).or_default().push(DeadlineView::of(d, now));
        }
        Ok(out)
    }

    /// How many of the tenant's open deadlines stand at red, amber and green today.
    pub async fn deadline_counts(&self, tenant: &Tenant, within: &[String]) -> Result<(i64, i64, i64)> {
        let mut conn = self.store.conn().await?;
        Ok(deadlines::counts(&mut conn, &tenant.tenant_id, german_today(self.clock.now()), within).await?)
    }

    /// The tenant's open deadlines for the dashboard, the nearest first, and the counts.
    pub async fn deadline_dashboard(
        &self,
        tenant: &Tenant,
        filter: Filter<'_>,
        limit: i64,
    ) -> Result<(Vec<DashboardEntry>, LightCounts)> {
        let now = self.clock.now();
        let today = german_today(now);
        let mut conn = self.store.conn().await?;
        let (red, amber, green) = deadlines::counts(&mut conn, &tenant.tenant_id, today, filter.within).await?;
        let rows = deadlines::open(&mut conn, &tenant.tenant_id, today, filter, limit).await?;
        let entries = rows
            .into_iter()
            .map(|r| DashboardEntry {
                view: DeadlineView::of(r.deadline, now),
                reference: r.reference,
                applicant: r.applicant,
                procedure_id: r.procedure_id,
                status: r.status,
            })
            .collect();
        Ok((entries, LightCounts { red, amber, green }))
    }
}

/// A line of the deadlines dashboard: the deadline as seen now, and its case.
pub struct DashboardEntry {
    pub view: DeadlineView,
    pub reference: String,
    pub applicant: String,
    pub procedure_id: String,
    pub status: String,
}

/// Whom a moment concerns.
fn addressees(moment: Moment, escalated_before: bool) -> (bool, bool) {
    // (the case's clerks, the team leads)
    match moment {
        Moment::Reminder(_) => (true, false),
        Moment::Escalation => (false, true),
        Moment::Expiry => (true, !escalated_before),
    }
}

/// The staff to mail about a case: the assignees of its open tasks (and their deputies
/// while they are away), and, for `leads`, the team leads of the tasks' groups (all team
/// leads if none of them is in such a group). Clerks of a case nobody has taken yet are its
/// team leads. Only those with an e-mail address.
async fn recipients(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    clerks: bool,
    leads: bool,
    today: NaiveDate,
) -> Result<Vec<String>> {
    let open: Vec<_> =
        tasks::for_case(conn, tenant_id, case_id).await?.into_iter().filter(|t| t.status == "open").collect();
    let everyone = staff::active(conn, tenant_id).await?;
    let mut out: Vec<String> = Vec::new();
    let add = |s: &staff::Staff, out: &mut Vec<String>| {
        if let Some(e) = s.email.as_deref().filter(|e| !e.is_empty()) {
            if !out.iter().any(|o| o == e) {
                out.push(e.to_string());
            }
        }
    };
    let assignees: Vec<&str> = open.iter().filter_map(|t| t.assignee.as_deref()).collect();
    if clerks {
        // A service centre's staff member has the task under a qualified name; their
        // address is at the centre.
        for a in assignees.iter().filter(|a| rathaus_domain::delegation::split_qualified(a).is_some()) {
            if let Some(s) = crate::delegations::staff_behind(conn, tenant_id, a, today).await? {
                add(&s, &mut out);
            }
        }
        let today = today.format("%Y-%m-%d").to_string();
        for s in everyone.iter().filter(|s| assignees.contains(&s.username.as_str())) {
            add(s, &mut out);
            if s.absent_until.as_deref().is_some_and(|u| u >= today.as_str()) {
                if let Some(deputy) = everyone.iter().find(|d| Some(d.username.as_str()) == s.deputy.as_deref()) {
                    add(deputy, &mut out);
                }
            }
        }
    }
    if leads || (clerks && assignees.is_empty()) {
        let team_leads: Vec<&staff::Staff> =
            everyone.iter().filter(|s| Role::parse(&s.role) == Some(Role::TeamLead)).collect();
        let groups: Vec<&str> = open.iter().flat_map(|t| t.groups()).collect();
        let of_group: Vec<&&staff::Staff> =
            team_leads.iter().filter(|s| s.org_unit_list().iter().any(|u| groups.contains(&u.as_str()))).collect();
        if of_group.is_empty() {
            team_leads.iter().for_each(|s| add(s, &mut out));
        } else {
            of_group.into_iter().for_each(|s| add(s, &mut out));
        }
    }
    Ok(out)
}

fn mail_text(moment: Moment, town: &str, label: &str, reference: &str, due: &str, link: &str) -> (String, String) {
    let (subject, lead) = match moment {
        Moment::Reminder(_) => (
            format!("Erinnerung: Frist „{label}“ im Vorgang {reference} endet am {due}"),
            format!("die Frist „{label}“ im Vorgang {reference} endet am {due}."),
        ),
        Moment::Escalation => (
            format!("Frist in Gefahr: „{label}“ im Vorgang {reference} (letzter Tag {due})"),
            format!("die Frist „{label}“ im Vorgang {reference} endet am {due}, und der Vorgang ist noch offen. Bitte sorgen Sie dafür, dass er rechtzeitig entschieden wird."),
        ),
        Moment::Expiry => (
            format!("Frist abgelaufen: „{label}“ im Vorgang {reference}"),
            format!("die Frist „{label}“ im Vorgang {reference} ist am {due} abgelaufen, ohne dass der Vorgang abgeschlossen wurde."),
        ),
    };
    (subject, format!("Guten Tag,\n\n{lead}\n\nZum Vorgang: {link}\n\n-- \n{town} · Rathaus\n"))
}

/// The slow half of a deadline's job, outside any transaction: mails whom the moment
/// concerns. Returns how many were mailed (0 if the deadline is met or the moment was
/// recorded before).
pub(crate) async fn prepare(
    rt: &Runtime,
    tenant: &Tenant,
    case: &Case,
    deadline_id: &str,
    moment: Moment,
) -> std::result::Result<usize, String> {
    let t = &tenant.tenant_id;
    let now = rt.clock.now();
    let mut conn = rt.store.conn().await.map_err(|e| e.to_string())?;
    let Some(d) = deadlines::by_id(&mut conn, t, deadline_id).await.map_err(|e| e.to_string())? else { return Ok(0) };
    if !pending(&d, moment) {
        return Ok(0);
    }
    let Some(mail) = rt.mail.as_ref() else { return Ok(0) };
    let (clerks, leads) = addressees(moment, d.escalated_at.is_some());
    let to =
        recipients(&mut conn, t, &case.case_id, clerks, leads, german_today(now)).await.map_err(|e| e.to_string())?;
    drop(conn);
    let link =
        format!("{}/{}/intern/vorgaenge/{}", rt.config.public_url.trim_end_matches('/'), tenant.slug, case.case_id);
    let (subject, text) =
        mail_text(moment, &tenant.name, &label_of(&d, Lang::De), &case.reference, &german_day(&d.due_on), &link);
    for address in &to {
        mail.send(address, &subject, &text).await.map_err(|e| format!("Fristmeldung nicht versandt: {e}"))?;
    }
    Ok(to.len())
}

/// Whether a moment of the deadline is still to be recorded.
fn pending(d: &Deadline, moment: Moment) -> bool {
    d.met_at.is_none()
        && match moment {
            Moment::Reminder(n) => d.reminders <= i64::from(n),
            Moment::Escalation => d.escalated_at.is_none(),
            Moment::Expiry => d.expired_at.is_none(),
        }
}

/// A deadline's job in its transaction: records the reminder, the escalation or the expiry
/// (the case's open tasks then come up for resubmission at once), in the case's timeline
/// for staff and in the audit trail. Nothing if the deadline is met or the moment recorded.
pub(crate) async fn due(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    deadline_id: &str,
    moment: Moment,
    mailed: usize,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(d) = deadlines::by_id(conn, tenant_id, deadline_id).await? else { return Ok(()) };
    let label = label_of(&d, Lang::De);
    let due = german_day(&d.due_on);
    let escalated_before = d.escalated_at.is_some();
    let recorded = match moment {
        Moment::Reminder(n) => deadlines::mark_reminded(conn, tenant_id, deadline_id, i64::from(n) + 1).await?,
        Moment::Escalation => deadlines::mark_escalated(conn, tenant_id, deadline_id, now).await?,
        Moment::Expiry => deadlines::mark_expired(conn, tenant_id, deadline_id, now).await?,
    };
    if !recorded {
        return Ok(());
    }
    let (action, text) = match moment {
        Moment::Reminder(_) => ("deadline.reminded", format!("Erinnerung: Frist „{label}“ endet am {due}")),
        Moment::Escalation => {
            ("deadline.escalated", format!("Frist „{label}“ (letzter Tag {due}) an die Teamleitung gemeldet"))
        }
        Moment::Expiry => ("deadline.expired", format!("Frist „{label}“ am {due} abgelaufen – zur Wiedervorlage")),
    };
    events::add(conn, tenant_id, case_id, "deadline", &text, false, now).await?;
    audit::append(
        conn,
        tenant_id,
        &Actor::System,
        action,
        "case",
        case_id,
        &json!({"deadline": deadline_id, "key": d.deadline_key, "due": d.due_on, "mailed": mailed}),
        now,
    )
    .await?;
    if moment == Moment::Expiry {
        tasks::follow_up_now(conn, tenant_id, case_id, now).await?;
        if !escalated_before && deadlines::mark_escalated(conn, tenant_id, deadline_id, now).await? {
            audit::append(
                conn,
                tenant_id,
                &Actor::System,
                "deadline.escalated",
                "case",
                case_id,
                &json!({"deadline": deadline_id, "key": d.deadline_key, "due": d.due_on, "with": "expiry"}),
                now,
            )
            .await?;
        }
    }
    Ok(())
}
