//! Roles of staff members within one tenant.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sachbearbeiter:in: works on cases in the worklist.
    Clerk,
    /// Teamleitung: like a clerk, plus oversight of the team.
    TeamLead,
    /// Fachadministration des Mandanten: procedures, parameters, staff.
    TenantAdmin,
    /// Prüfer:in (Revision, Datenschutz): reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Clerk, Role::TeamLead, Role::TenantAdmin, Role::Auditor];

    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::TeamLead => "team_lead",
            Role::TenantAdmin => "tenant_admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the role may take decisions on cases (confirm, reject). Auditors may not;
    /// tenant admins administrate but do not decide cases.
    pub fn may_decide(self) -> bool {
        matches!(self, Role::Clerk | Role::TeamLead)
    }

    /// May see the operations page (deployments, failed jobs).
    pub fn may_see_operations(self) -> bool {
        matches!(self, Role::TenantAdmin | Role::Auditor)
    }

    /// May start a failed job again.
    pub fn may_retry_jobs(self) -> bool {
        matches!(self, Role::TenantAdmin)
    }

    /// The candidate group names (as written in BPMN `candidateGroups`) this role belongs to.
    pub fn candidate_groups(self) -> &'static [&'static str] {
        match self {
            Role::Clerk => &["clerk"],
            Role::TeamLead => &["clerk", "team_lead"],
            Role::TenantAdmin => &["tenant_admin"],
            Role::Auditor => &[],
        }
    }
}

/// How far ahead an absence may be recorded.
pub const ABSENCE_MAX_DAYS: i64 = 366;

/// Why the last day of an absence is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsenceProblem {
    /// Before today: nothing to stand in for.
    Past,
    /// More than [`ABSENCE_MAX_DAYS`] ahead.
    TooFar,
}

/// Checks the last day (inclusive) of an absence recorded on `today`.
pub fn check_absence(today: chrono::NaiveDate, until: chrono::NaiveDate) -> Result<(), AbsenceProblem> {
    if until < today {
        Err(AbsenceProblem::Past)
    } else if until > today + chrono::Duration::days(ABSENCE_MAX_DAYS) {
        Err(AbsenceProblem::TooFar)
    } else {
        Ok(())
    }
}

/// A staff member as task assignment sees them.
pub struct Worker<'a> {
    pub role: Role,
    pub username: &'a str,
    /// Organisational units (e.g. `ordnungsamt`), usable as candidate groups in models.
    pub org_units: &'a [String],
    /// The absent colleagues (usernames) this person stands in for today (Vertretung).
    pub deputy_for: &'a [String],
    /// Staff of a service centre acting under a delegation: the delegation, not the town's
    /// org units, decides which tasks are theirs (see `delegation`), so within the delegated
    /// procedures they count as members of every candidate group.
    pub every_group: bool,
}

/// Who a user task is for (`zeebe:assignmentDefinition`).
pub struct Assignment<'a> {
    pub candidate_groups: &'a [&'a str],
    pub candidate_users: &'a [&'a str],
    pub assignee: Option<&'a str>,
}

impl Worker<'_> {
    /// Whether this person may work on (and decide) a task: the assignee, or, for an
    /// unassigned task, anyone in a candidate group (by role or organisational unit) or
    /// named as candidate user. A team lead may also take over assigned tasks of the team.
    pub fn may_work_on(&self, a: &Assignment) -> bool {
        if !self.role.may_decide() {
            return false;
        }
        let in_group = self.every_group
            || a.candidate_groups
                .iter()
                .any(|g| self.role.candidate_groups().contains(g) || self.org_units.iter().any(|u| u == g));
        let for_me = in_group || a.candidate_users.contains(&self.username);
        match a.assignee {
            Some(assignee) => {
                assignee == self.username
                    || (self.role == Role::TeamLead && in_group)
                    || (self.stands_in_for(assignee) && for_me)
            }
            None => for_me,
        }
    }

    /// Whether this person stands in for `username` today.
    pub fn stands_in_for(&self, username: &str) -> bool {
        self.deputy_for.iter().any(|d| d == username)
    }

    /// May take over a task of an absent colleague they stand in for (it becomes theirs).
    pub fn may_take_over(&self, a: &Assignment) -> bool {
        a.assignee.is_some_and(|x| x != self.username && self.stands_in_for(x)) && self.may_work_on(a)
    }

    /// Whether the task shows in this person's worklist (auditors see every task, read only).
    pub fn sees(&self, a: &Assignment) -> bool {
        self.role == Role::Auditor || self.may_work_on(a)
    }

    /// Whether the task is for this person at all: they could work on it if nobody had it.
    pub fn eligible(&self, a: &Assignment) -> bool {
        self.may_work_on(&Assignment { assignee: None, ..*a })
    }

    /// May take an unassigned task („Übernehmen“).
    pub fn may_claim(&self, a: &Assignment) -> bool {
        a.assignee.is_none() && self.may_work_on(a)
    }

    /// May give an assigned task back to the team („Freigeben“): its assignee, or a team
    /// lead of the team.
    pub fn may_release(&self, a: &Assignment) -> bool {
        a.assignee.is_some() && self.may_work_on(a)
    }

    /// May give the task to `to`: a team lead of the team, to someone the task is for.
    pub fn may_assign(&self, a: &Assignment, to: &Worker) -> bool {
        self.role == Role::TeamLead && self.eligible(a) && to.eligible(a)
    }

    /// May approve a decision `proposed_by` someone else (four-eyes principle): a second
    /// person who could decide the task too, or a team lead of the team; never the
    /// proposer.
    pub fn may_approve(&self, a: &Assignment, proposed_by: &str) -> bool {
        proposed_by != self.username && self.role.may_decide() && self.eligible(a)
    }

    /// Which list of the worklist the task belongs to for this person.
    pub fn view_of(&self, a: &Assignment) -> Option<View> {
        match a.assignee {
            Some(assignee) if assignee == self.username => Some(View::Mine),
            Some(assignee) if self.stands_in_for(assignee) && self.sees(a) => Some(View::Deputy),
            None if self.sees(a) => Some(View::Unassigned),
            Some(_) if self.sees(a) => Some(View::Team),
            _ => None,
        }
    }
}

/// The lists of the worklist: one's own tasks, those nobody has taken yet, and those
/// colleagues have (what a team lead and an auditor see).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Mine,
    Unassigned,
    Team,
    /// Tasks of absent colleagues one stands in for (Vertretung).
    Deputy,
}

impl View {
    pub const ALL: [View; 4] = [View::Mine, View::Unassigned, View::Team, View::Deputy];

    pub fn code(self) -> &'static str {
        match self {
            View::Mine => "meine",
            View::Unassigned => "offen",
            View::Team => "team",
            View::Deputy => "vertretung",
        }
    }

    pub fn parse(code: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_by_role_org_unit_user_and_assignee() {
        let units = vec!["ordnungsamt".to_string()];
        let erika =
            Worker { role: Role::Clerk, username: "erika", org_units: &units, deputy_for: &[], every_group: false };
        let max = Worker { role: Role::Clerk, username: "max", org_units: &[], deputy_for: &[], every_group: false };
        let lead =
            Worker { role: Role::TeamLead, username: "lea", org_units: &[], deputy_for: &[], every_group: false };
        let auditor =
            Worker { role: Role::Auditor, username: "pia", org_units: &[], deputy_for: &[], every_group: false };
        let by_role = Assignment { candidate_groups: &["clerk"], candidate_users: &[], assignee: None };
        assert!(erika.may_work_on(&by_role) && max.may_work_on(&by_role));
        let by_unit = Assignment { candidate_groups: &["ordnungsamt"], candidate_users: &[], assignee: None };
        assert!(erika.may_work_on(&by_unit) && !max.may_work_on(&by_unit));
        let by_user = Assignment { candidate_groups: &[], candidate_users: &["max"], assignee: None };
        assert!(max.may_work_on(&by_user) && !erika.may_work_on(&by_user));
        let assigned = Assignment { candidate_groups: &["clerk"], candidate_users: &[], assignee: Some("erika") };
        assert!(erika.may_work_on(&assigned) && !max.may_work_on(&assigned));
        assert!(lead.may_work_on(&assigned), "the team lead can take over");
        assert!(!auditor.may_work_on(&by_role) && auditor.sees(&by_role));
    }

    #[test]
    fn a_centre_clerk_under_a_delegation_is_in_every_group_but_not_everyone() {
        let centre =
            Worker { role: Role::Clerk, username: "kim@kdz", org_units: &[], deputy_for: &[], every_group: true };
        let by_unit = Assignment { candidate_groups: &["ordnungsamt"], candidate_users: &[], assignee: None };
        assert!(centre.may_claim(&by_unit));
        let taken = Assignment { candidate_groups: &["ordnungsamt"], candidate_users: &[], assignee: Some("erika") };
        assert!(
            !centre.may_work_on(&taken) && centre.eligible(&taken),
            "a clerk does not take over a colleague's task"
        );
        let lead = Worker { role: Role::TeamLead, username: "lea@kdz", ..centre };
        assert!(lead.may_work_on(&taken));
    }

    #[test]
    fn an_absence_ends_today_or_within_a_year() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(check_absence(today, today), Ok(()));
        assert_eq!(check_absence(today, today.pred_opt().unwrap()), Err(AbsenceProblem::Past));
        assert_eq!(check_absence(today, today + chrono::Duration::days(366)), Ok(()));
        assert_eq!(check_absence(today, today + chrono::Duration::days(367)), Err(AbsenceProblem::TooFar));
    }

    #[test]
    fn claim_release_assign_and_the_lists() {
        let units = vec!["gewerbeamt".to_string()];
        let erika =
            Worker { role: Role::Clerk, username: "erika", org_units: &units, deputy_for: &[], every_group: false };
        let max = Worker { role: Role::Clerk, username: "max", org_units: &units, deputy_for: &[], every_group: false };
        let outsider =
            Worker { role: Role::Clerk, username: "olga", org_units: &[], deputy_for: &[], every_group: false };
        let lead =
            Worker { role: Role::TeamLead, username: "lea", org_units: &units, deputy_for: &[], every_group: false };
        let auditor =
            Worker { role: Role::Auditor, username: "pia", org_units: &[], deputy_for: &[], every_group: false };
        let open = Assignment { candidate_groups: &["gewerbeamt"], candidate_users: &[], assignee: None };
        let erikas = Assignment { assignee: Some("erika"), ..open };
        assert!(erika.may_claim(&open) && !outsider.may_claim(&open) && !auditor.may_claim(&open));
        assert!(!max.may_claim(&erikas), "taken");
        assert!(erika.may_release(&erikas) && lead.may_release(&erikas) && !max.may_release(&erikas));
        assert!(!erika.may_release(&open), "nothing to give back");
        assert!(lead.may_assign(&erikas, &max) && lead.may_assign(&open, &erika));
        assert!(!lead.may_assign(&open, &outsider), "not for her");
        assert!(!erika.may_assign(&open, &max), "clerks take, team leads assign");
        assert_eq!(erika.view_of(&erikas), Some(View::Mine));
        assert_eq!(max.view_of(&erikas), None, "a colleague's task is not in a clerk's lists");
        assert_eq!(max.view_of(&open), Some(View::Unassigned));
        assert_eq!(lead.view_of(&erikas), Some(View::Team));
        assert_eq!(auditor.view_of(&erikas), Some(View::Team));
        // Erika is away; Max stands in for her: he sees her tasks apart and may take them over.
        let away = vec!["erika".to_string()];
        let deputy =
            Worker { role: Role::Clerk, username: "max", org_units: &units, deputy_for: &away, every_group: false };
        assert_eq!(deputy.view_of(&erikas), Some(View::Deputy));
        assert!(deputy.may_work_on(&erikas) && deputy.may_take_over(&erikas) && deputy.may_release(&erikas));
        assert!(!deputy.may_take_over(&open), "unassigned: taken the usual way");
        let leas = Assignment { assignee: Some("lea"), ..open };
        assert!(!deputy.may_work_on(&leas) && deputy.view_of(&leas).is_none(), "only for whom he stands in");
        // Four eyes: not the proposer; a colleague the task is for, or the team lead.
        assert!(!erika.may_approve(&erikas, "erika") && max.may_approve(&erikas, "erika"));
        assert!(lead.may_approve(&erikas, "erika") && !auditor.may_approve(&erikas, "erika"));
        assert!(!outsider.may_approve(&erikas, "erika"), "not for her");
        // Standing in does not widen what a task is for.
        let elsewhere =
            Worker { role: Role::Clerk, username: "olga", org_units: &[], deputy_for: &away, every_group: false };
        assert!(!elsewhere.may_work_on(&erikas) && !elsewhere.may_take_over(&erikas));
        assert_eq!(outsider.view_of(&open), None);
        for v in View::ALL {
            assert_eq!(View::parse(v.code()), Some(v));
        }
    }

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn auditors_never_decide() {
        assert!(!Role::Auditor.may_decide());
        assert!(Role::Clerk.may_decide());
    }
}
