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

    /// The candidate group names (as written in BPMN `candidateGroups`) this role belongs to.
    /// May see the operations page (deployments, failed jobs).
    pub fn may_see_operations(self) -> bool {
        matches!(self, Role::TenantAdmin | Role::Auditor)
    }

    /// May start a failed job again.
    pub fn may_retry_jobs(self) -> bool {
        matches!(self, Role::TenantAdmin)
    }

    pub fn candidate_groups(self) -> &'static [&'static str] {
        match self {
            Role::Clerk => &["clerk"],
            Role::TeamLead => &["clerk", "team_lead"],
            Role::TenantAdmin => &["tenant_admin"],
            Role::Auditor => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
