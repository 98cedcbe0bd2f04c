//! Delegation (Aufgabenübertragung): a municipality lets a service centre (a Verwaltungs-
//! gemeinschaft, a regional IT centre's back office) process its cases. Nothing of one
//! tenant is visible to another except through such a delegation, which the municipality's
//! administration grants explicitly, names the agreement behind it, limits to procedures and
//! to reading or processing, and can end at any time.
//!
//! Inside the municipality's back office the centre's staff act under a qualified name
//! (`username@centre`): the town's own usernames cannot contain `@`, so the name says who
//! acted for which centre in every task, note and audit entry.

use crate::role::Role;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What the centre may do with the delegated cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Process: take tasks, write to applicants, decide (as the centre's clerks and team
    /// leads).
    Process,
    /// Read only (Fachaufsicht, Revision): see the cases and the statistics, change nothing.
    Read,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Process, Scope::Read];

    pub fn code(self) -> &'static str {
        match self {
            Scope::Process => "bearbeiten",
            Scope::Read => "lesen",
        }
    }

    pub fn parse(code: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// One delegation as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delegation {
    /// The delegated procedures; empty: every procedure of the municipality.
    pub procedures: Vec<String>,
    pub scope: Scope,
    /// First day (inclusive).
    pub valid_from: NaiveDate,
    /// Last day (inclusive); `None`: until revoked.
    pub valid_until: Option<NaiveDate>,
    /// Whether the municipality ended it.
    pub revoked: bool,
}

impl Delegation {
    /// Whether the delegation lets the centre act on `today`.
    pub fn in_force(&self, today: NaiveDate) -> bool {
        !self.revoked && self.valid_from <= today && self.valid_until.is_none_or(|u| today <= u)
    }

    /// Whether cases of `procedure` are delegated.
    pub fn covers(&self, procedure: &str) -> bool {
        self.procedures.is_empty() || self.procedures.iter().any(|p| p == procedure)
    }

    /// The role a staff member of the centre with role `own` has in the municipality's back
    /// office, or `None` if they may not act there at all. Never more than they have at the
    /// centre, never more than the delegation gives, and never administration: the
    /// municipality's procedures, staff and settings stay its own.
    pub fn role_for(&self, own: Role) -> Option<Role> {
        match (own, self.scope) {
            (Role::TenantAdmin, _) => None,
            (Role::Auditor, _) | (_, Scope::Read) => Some(Role::Auditor),
            (Role::Clerk | Role::TeamLead, Scope::Process) => Some(own),
        }
    }
}

/// Why a delegation cannot be granted as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantProblem {
    #[error("Ein Mandant kann sich nicht selbst Aufgaben übertragen")]
    ToItself,
    #[error("„{0}“ ist kein Servicezentrum")]
    NotACentre(String),
    #[error("Das Ende der Übertragung ({until}) liegt vor ihrem Beginn ({from})")]
    EndsBeforeStart { from: String, until: String },
    #[error("Bitte die Rechtsgrundlage oder Vereinbarung nennen (z. B. „Zweckvereinbarung vom 01.01.2027“)")]
    NoAgreement,
    #[error("Verfahren „{0}“ ist bei diesem Mandanten nicht freigeschaltet")]
    UnknownProcedure(String),
}

/// Checks a delegation before it is granted: to another tenant that is a service centre,
/// with the agreement named, procedures the municipality has, and a sensible period.
pub fn check_grant(
    own_tenant: &str,
    centre_tenant: &str,
    centre_is_centre: bool,
    agreement: &str,
    delegation: &Delegation,
    known_procedures: &[&str],
) -> Vec<GrantProblem> {
    let mut out = Vec::new();
    if own_tenant == centre_tenant {
        out.push(GrantProblem::ToItself);
    } else if !centre_is_centre {
        out.push(GrantProblem::NotACentre(centre_tenant.to_string()));
    }
    if agreement.trim().is_empty() {
        out.push(GrantProblem::NoAgreement);
    }
    for p in &delegation.procedures {
        if !known_procedures.contains(&p.as_str()) {
            out.push(GrantProblem::UnknownProcedure(p.clone()));
        }
    }
    if let Some(until) = delegation.valid_until.filter(|u| *u < delegation.valid_from) {
        out.push(GrantProblem::EndsBeforeStart {
            from: delegation.valid_from.format("%d.%m.%Y").to_string(),
            until: until.format("%d.%m.%Y").to_string(),
        });
    }
    out
}

/// The name a centre's staff member acts under in a municipality: `username@centre`.
pub fn qualified_username(username: &str, centre_slug: &str) -> String {
    format!("{username}@{centre_slug}")
}

/// Splits a qualified name into username and centre; `None` for a municipality's own
/// staff.
pub fn split_qualified(name: &str) -> Option<(&str, &str)> {
    name.split_once('@').filter(|(u, c)| !u.is_empty() && !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn gewerbe(scope: Scope) -> Delegation {
        Delegation {
            procedures: vec!["gewerbeanmeldung".into()],
            scope,
            valid_from: day("2027-01-01"),
            valid_until: Some(day("2027-12-31")),
            revoked: false,
        }
    }

    #[test]
    fn a_delegation_is_in_force_from_its_first_to_its_last_day_unless_revoked() {
        let d = gewerbe(Scope::Process);
        assert!(!d.in_force(day("2026-12-31")));
        assert!(d.in_force(day("2027-01-01")));
        assert!(d.in_force(day("2027-12-31")));
        assert!(!d.in_force(day("2028-01-01")));
        assert!(!Delegation { revoked: true, ..d.clone() }.in_force(day("2027-06-01")));
        assert!(Delegation { valid_until: None, ..d }.in_force(day("2040-06-01")));
    }

    #[test]
    fn it_covers_the_named_procedures_or_all_when_none_are_named() {
        let d = gewerbe(Scope::Process);
        assert!(d.covers("gewerbeanmeldung"));
        assert!(!d.covers("vorkaufsrecht"));
        assert!(Delegation { procedures: vec![], ..d }.covers("vorkaufsrecht"));
    }

    #[test]
    fn the_role_in_the_town_is_capped_by_the_scope_and_never_administration() {
        let process = gewerbe(Scope::Process);
        let read = gewerbe(Scope::Read);
        assert_eq!(process.role_for(Role::Clerk), Some(Role::Clerk));
        assert_eq!(process.role_for(Role::TeamLead), Some(Role::TeamLead));
        assert_eq!(process.role_for(Role::Auditor), Some(Role::Auditor));
        assert_eq!(process.role_for(Role::TenantAdmin), None);
        assert_eq!(read.role_for(Role::Clerk), Some(Role::Auditor));
        assert_eq!(read.role_for(Role::TeamLead), Some(Role::Auditor));
        assert_eq!(read.role_for(Role::TenantAdmin), None);
    }

    #[test]
    fn a_grant_needs_another_tenant_that_is_a_centre_an_agreement_known_procedures_and_a_period() {
        let d = gewerbe(Scope::Process);
        assert!(check_grant("a", "kdz", true, "Zweckvereinbarung", &d, &["gewerbeanmeldung"]).is_empty());
        assert_eq!(check_grant("a", "a", true, "Z", &d, &["gewerbeanmeldung"]), vec![GrantProblem::ToItself]);
        assert_eq!(
            check_grant("a", "b", false, "Z", &d, &["gewerbeanmeldung"]),
            vec![GrantProblem::NotACentre("b".into())]
        );
        assert_eq!(check_grant("a", "kdz", true, " ", &d, &["gewerbeanmeldung"]), vec![GrantProblem::NoAgreement]);
        assert_eq!(
            check_grant("a", "kdz", true, "Z", &d, &["vorkaufsrecht"]),
            vec![GrantProblem::UnknownProcedure("gewerbeanmeldung".into())]
        );
        let backwards = Delegation { valid_until: Some(day("2026-06-30")), ..d };
        assert_eq!(
            check_grant("a", "kdz", true, "Z", &backwards, &["gewerbeanmeldung"])[0].to_string(),
            "Das Ende der Übertragung (30.06.2026) liegt vor ihrem Beginn (01.01.2027)"
        );
    }

    #[test]
    fn qualified_names_say_who_acted_for_which_centre() {
        assert_eq!(qualified_username("m.muster", "kdz"), "m.muster@kdz");
        assert_eq!(split_qualified("m.muster@kdz"), Some(("m.muster", "kdz")));
        assert_eq!(split_qualified("m.muster"), None);
        assert_eq!(split_qualified("@kdz"), None);
    }
}
