//! Delegations to service centres (see `rathaus_domain::delegation`): the municipality's
//! administration grants and ends them; the centre's staff enter the municipality's back
//! office under one, and every request there checks again that it is still in force.
//!
//! Recorded on both sides: granting, ending and every entry are written to the audit trail
//! of the municipality and of the centre.

use crate::{Result, Runtime, RuntimeError};
use chrono::NaiveDate;
use rathaus_domain::delegation::{self, GrantProblem, Scope};
use rathaus_domain::Role;
use rathaus_engine::form::FieldError;
use rathaus_store::audit::{self, Actor};
use rathaus_store::delegations::{self, Delegation, NewDelegation};
use rathaus_store::staff::{self, Staff};
use rathaus_store::tenants::{self, Tenant};
use serde_json::json;
use sqlx::AnyConnection;

/// What the administration asks for.
pub struct Grant<'a> {
    /// The centre's slug.
    pub centre: &'a str,
    /// Empty: all procedures.
    pub procedures: Vec<String>,
    pub scope: Scope,
    pub agreement: &'a str,
    /// `None`: from today.
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// A centre's staff member acting in a municipality under a delegation in force.
#[derive(Debug, Clone)]
pub struct Delegate {
    /// The staff member's row at the centre.
    pub staff: Staff,
    pub centre: Tenant,
    pub delegation: Delegation,
    /// Their role in the municipality (see `Delegation::role_for`).
    pub role: Role,
    /// The centre's colleagues away today whom they stand in for (recorded at the centre):
    /// (qualified name, display name, last day away).
    pub deputy_for: Vec<(String, String, String)>,
}

impl Delegate {
    /// The name they act under in the municipality.
    pub fn username(&self) -> String {
        delegation::qualified_username(&self.staff.username, &self.centre.slug)
    }

    pub fn display_name(&self) -> String {
        format!("{} ({})", self.staff.display_name, self.centre.name)
    }

    pub fn actor(&self) -> Actor {
        Actor::Staff { staff_id: self.staff.staff_id.clone(), username: self.username() }
    }
}

fn problem(field: &str, p: &GrantProblem) -> FieldError {
    FieldError { field: field.into(), message: p.to_string() }
}

impl Runtime {
    fn today(&self) -> NaiveDate {
        rathaus_domain::time::german_today(self.clock.now())
    }

    /// The service centres of this installation (other than `tenant`).
    pub async fn service_centres(&self, tenant: &Tenant) -> Result<Vec<Tenant>> {
        let mut conn = self.store.conn().await?;
        Ok(tenants::list(&mut conn)
            .await?
            .into_iter()
            .filter(|t| t.settings.service_centre && t.tenant_id != tenant.tenant_id)
            .collect())
    }

    /// Grants a delegation of `tenant`'s cases to a centre. `Invalid` with a problem per
    /// field (`zentrum`, `verfahren`, `vereinbarung`, `bis`).
    pub async fn grant_delegation(&self, tenant: &Tenant, grant: &Grant<'_>, actor: &Actor) -> Result<Delegation> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let centre = tenants::by_slug(&mut tx, grant.centre).await?;
        let active = tenants::offered(&mut tx, &tenant.tenant_id).await?;
        let rules = delegation::Delegation {
            procedures: grant.procedures.clone(),
            scope: grant.scope,
            valid_from: grant.valid_from.unwrap_or_else(|| self.today()),
            valid_until: grant.valid_until,
            revoked: false,
        };
        let known: Vec<&str> = active.iter().map(String::as_str).collect();
        let problems = match &centre {
            None => vec![FieldError {
                field: "zentrum".into(),
                message: format!("Ein Servicezentrum „{}“ gibt es in dieser Installation nicht", grant.centre),
            }],
            Some(c) => delegation::check_grant(
                &tenant.slug,
                &c.slug,
                c.settings.service_centre,
                grant.agreement,
                &rules,
                &known,
            )
            .iter()
            .map(|p| {
                let field = match p {
                    GrantProblem::ToItself | GrantProblem::NotACentre(_) => "zentrum",
                    GrantProblem::NoAgreement => "vereinbarung",
                    GrantProblem::UnknownProcedure(_) => "verfahren",
                    GrantProblem::EndsBeforeStart { .. } => "bis",
                };
                problem(field, p)
            })
            .collect(),
        };
        let Some(centre) = centre.filter(|_| problems.is_empty()) else {
            return Err(RuntimeError::Invalid(problems));
        };
        let id = rathaus_store::new_id();
        let granted_by = actor.label();
        delegations::insert(
            &mut tx,
            &NewDelegation {
                tenant_id: &tenant.tenant_id,
                delegation_id: &id,
                centre_tenant_id: &centre.tenant_id,
                procedures: &rules.procedures,
                scope: rules.scope,
                agreement: grant.agreement.trim(),
                valid_from: rules.valid_from,
                valid_until: rules.valid_until,
                granted_by: &granted_by,
                now,
            },
        )
        .await?;
        let details = json!({"procedures": rules.procedures, "scope": rules.scope.code(), "agreement": grant.agreement.trim(),
            "valid_from": rules.valid_from.to_string(), "valid_until": rules.valid_until.map(|u| u.to_string())});
        let mut here = details.clone();
        here["centre"] = json!(centre.slug);
        audit::append(&mut tx, &tenant.tenant_id, actor, "delegation.granted", "delegation", &id, &here, now).await?;
        let mut there = details;
        there["municipality"] = json!(tenant.slug);
        audit::append(&mut tx, &centre.tenant_id, actor, "delegation.received", "delegation", &id, &there, now).await?;
        let d = delegations::by_id(&mut tx, &tenant.tenant_id, &id).await?.ok_or(RuntimeError::NotFound)?;
        tx.commit().await?;
        Ok(d)
    }

    /// Ends a delegation at once: the centre's staff lose access with their next request.
    /// `false` if it had ended already.
    pub async fn revoke_delegation(&self, tenant: &Tenant, delegation_id: &str, actor: &Actor) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let d = delegations::by_id(&mut tx, &tenant.tenant_id, delegation_id).await?.ok_or(RuntimeError::NotFound)?;
        if !delegations::revoke(&mut tx, &tenant.tenant_id, delegation_id, &actor.label(), now).await? {
            return Ok(false);
        }
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            actor,
            "delegation.revoked",
            "delegation",
            delegation_id,
            &json!({}),
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            &d.centre_tenant_id,
            actor,
            "delegation.revoked",
            "delegation",
            delegation_id,
            &json!({"municipality": tenant.slug}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The municipality's delegations (ended ones too), each with its centre.
    pub async fn delegations_of(&self, tenant: &Tenant) -> Result<Vec<(Delegation, Tenant)>> {
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for d in delegations::of_tenant(&mut conn, &tenant.tenant_id).await? {
            if let Some(c) = tenants::by_id(&mut conn, &d.centre_tenant_id).await? {
                out.push((d, c));
            }
        }
        Ok(out)
    }

    /// The delegations in force today to the centre `centre`, each with its municipality.
    pub async fn delegations_to(&self, centre: &Tenant) -> Result<Vec<(Delegation, Tenant)>> {
        let today = self.today();
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for d in delegations::to_centre(&mut conn, &centre.tenant_id).await? {
            if !d.rules().in_force(today) {
                continue;
            }
            if let Some(t) = tenants::by_id(&mut conn, &d.tenant_id).await? {
                out.push((d, t));
            }
        }
        Ok(out)
    }

    /// The centre's staff member `staff_id` acting in `tenant` under `delegation_id`, if the
    /// delegation is in force today, their account is active and their role lets them act
    /// there. Checked on every request, so that ending the delegation or locking the account
    /// takes effect at once.
    pub async fn delegate(
        &self,
        tenant: &Tenant,
        delegation_id: &str,
        centre_tenant_id: &str,
        staff_id: &str,
    ) -> Result<Option<Delegate>> {
        let mut conn = self.store.conn().await?;
        delegate_in(&mut conn, tenant, delegation_id, centre_tenant_id, staff_id, self.today()).await
    }

    /// A centre's staff member enters `tenant`'s back office under `delegation_id`: checked
    /// like every later request and recorded in both audit trails.
    pub async fn enter_delegation(
        &self,
        centre: &Tenant,
        tenant_slug: &str,
        delegation_id: &str,
        staff_id: &str,
    ) -> Result<(Tenant, Delegate)> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let tenant = tenants::by_slug(&mut tx, tenant_slug).await?.ok_or(RuntimeError::NotFound)?;
        let d = delegate_in(&mut tx, &tenant, delegation_id, &centre.tenant_id, staff_id, self.today())
            .await?
            .ok_or(RuntimeError::Forbidden)?;
        let actor = d.actor();
        for (t, details) in [
            (&tenant.tenant_id, json!({"centre": centre.slug, "role": d.role.code()})),
            (&centre.tenant_id, json!({"municipality": tenant.slug, "role": d.role.code()})),
        ] {
            audit::append(&mut tx, t, &actor, "delegation.entered", "delegation", delegation_id, &details, now).await?;
        }
        tx.commit().await?;
        Ok((tenant, d))
    }

    /// The open tasks of the town's delegated cases, and how many nobody has taken yet.
    pub async fn delegated_work(&self, d: &Delegation) -> Result<(i64, i64)> {
        let mut conn = self.store.conn().await?;
        Ok(rathaus_store::tasks::open_counts(&mut conn, &d.tenant_id, &d.procedure_list()).await?)
    }

    /// The centre's staff who may process `tenant`'s cases under `d` (to give tasks to).
    pub async fn delegates_of(&self, tenant: &Tenant, d: &Delegation) -> Result<Vec<Delegate>> {
        let mut conn = self.store.conn().await?;
        let Some(centre) = tenants::by_id(&mut conn, &d.centre_tenant_id).await? else { return Ok(Vec::new()) };
        if d.tenant_id != tenant.tenant_id || !d.rules().in_force(self.today()) {
            return Ok(Vec::new());
        }
        Ok(staff::active(&mut conn, &centre.tenant_id)
            .await?
            .into_iter()
            .filter_map(|s| {
                let role = d.rules().role_for(Role::parse(&s.role)?)?;
                Some(Delegate { staff: s, centre: centre.clone(), delegation: d.clone(), role, deputy_for: Vec::new() })
            })
            .collect())
    }
}

async fn delegate_in(
    conn: &mut AnyConnection,
    tenant: &Tenant,
    delegation_id: &str,
    centre_tenant_id: &str,
    staff_id: &str,
    today: NaiveDate,
) -> Result<Option<Delegate>> {
    let Some(d) = delegations::by_id(conn, &tenant.tenant_id, delegation_id).await? else { return Ok(None) };
    if d.centre_tenant_id != centre_tenant_id || !d.rules().in_force(today) {
        return Ok(None);
    }
    let Some(centre) = tenants::by_id(conn, centre_tenant_id).await? else { return Ok(None) };
    let Some(s) = staff::by_id(conn, centre_tenant_id, staff_id).await?.filter(|s| s.active == 1) else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&s.role).and_then(|own| d.rules().role_for(own)) else { return Ok(None) };
    // Standing in for an absent colleague goes with them into the towns: the colleague's
    // tasks there are under the colleague's qualified name.
    let away = staff::deputised_by(conn, centre_tenant_id, &s.username, &today.format("%Y-%m-%d").to_string()).await?;
    let deputy_for = away
        .into_iter()
        .map(|a| {
            (
                delegation::qualified_username(&a.username, &centre.slug),
                a.display_name,
                a.absent_until.unwrap_or_default(),
            )
        })
        .collect();
    Ok(Some(Delegate { staff: s, centre, delegation: d, role, deputy_for }))
}

/// The staff member behind a username of `tenant`'s tasks: the town's own, or a centre's
/// staff member under a qualified name (`username@centre`) while a delegation to that centre
/// is in force. For mail about a case to reach whoever has it.
pub async fn staff_behind(
    conn: &mut AnyConnection,
    tenant_id: &str,
    username: &str,
    today: NaiveDate,
) -> Result<Option<Staff>> {
    let Some((user, centre_slug)) = delegation::split_qualified(username) else {
        return Ok(staff::by_username(conn, tenant_id, username).await?.filter(|s| s.active == 1));
    };
    let Some(centre) = tenants::by_slug(conn, centre_slug).await? else { return Ok(None) };
    let in_force =
        delegations::between(conn, tenant_id, &centre.tenant_id).await?.iter().any(|d| d.rules().in_force(today));
    if !in_force {
        return Ok(None);
    }
    Ok(staff::by_username(conn, &centre.tenant_id, user).await?.filter(|s| s.active == 1))
}
