//! Administrative tasks shared by the CLI and the demo seed: tenants, staff, API keys.
//! Every change writes the audit trail.

use anyhow::{bail, Context, Result};
use rathaus_domain::{Role, TenantSettings};
use rathaus_runtime::Runtime;
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants;
use serde_json::json;

fn check_slug(slug: &str) -> Result<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !ok {
        bail!("Kennung „{slug}“: 2 bis 40 Kleinbuchstaben, Ziffern und Bindestriche (sie erscheint in der Adresse)");
    }
    if rathaus_web::RESERVED_SLUGS.contains(&slug) {
        bail!("Kennung „{slug}“ ist für die Plattform reserviert");
    }
    Ok(())
}

/// Replaces a tenant's settings after checking them, with a new logo image if given
/// (checked by its content); audited with what changed.
pub async fn update_settings(
    rt: &Runtime,
    tenant: &tenants::Tenant,
    settings: &TenantSettings,
    logo: Option<&[u8]>,
) -> Result<()> {
    match rt.update_tenant_settings(tenant, settings, logo, &Actor::System).await {
        Ok(()) => Ok(()),
        Err(rathaus_runtime::RuntimeError::Invalid(problems)) => {
            bail!("{}", problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join("; "))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create_tenant(
    rt: &Runtime,
    slug: &str,
    name: &str,
    settings: &TenantSettings,
    procedures: &[(&str, serde_json::Value)],
) -> Result<tenants::Tenant> {
    check_slug(slug)?;
    for code in &settings.postcodes {
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            bail!("Postleitzahl „{code}“ muss fünfstellig sein");
        }
    }
    let now = rt.clock.now();
    let mut tx = rt.store.begin().await?;
    if tenants::by_slug(&mut tx, slug).await?.is_some() {
        bail!("Einen Mandanten „{slug}“ gibt es schon");
    }
    let tenant = tenants::create(&mut tx, slug, name, settings, now).await?;
    audit::append(
        &mut tx,
        &tenant.tenant_id,
        &Actor::System,
        "tenant.created",
        "tenant",
        &tenant.tenant_id,
        &json!({"slug": slug, "name": name}),
        now,
    )
    .await?;
    for (procedure, parameters) in procedures {
        let p = rt
            .library
            .get(procedure)
            .with_context(|| format!("Verfahren „{procedure}“ gibt es in der Bibliothek nicht"))?;
        p.resolve_parameters(parameters)
            .map_err(|e| anyhow::anyhow!("Parameter für „{procedure}“: {}", e.join("; ")))?;
        tenants::activate_procedure(&mut tx, &tenant.tenant_id, procedure, parameters, now).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::System,
            "procedure.activated",
            "procedure",
            procedure,
            &json!({"parameters": parameters}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    for (procedure, _) in procedures {
        rt.deploy(&tenant.tenant_id, procedure).await?;
    }
    Ok(tenant)
}

/// A staff account to create.
#[derive(Clone, Copy)]
pub struct NewStaff<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: Role,
    /// Organisational units, usable as candidate groups of user tasks.
    pub org_units: &'a [String],
    /// Where reminders and escalations of deadlines go.
    pub email: Option<&'a str>,
}

pub async fn create_staff(rt: &Runtime, tenant: &tenants::Tenant, new: &NewStaff<'_>) -> Result<()> {
    let NewStaff { username, display_name, password, role, org_units, email } = *new;
    if password.chars().count() < rathaus_runtime::admin::MIN_PASSWORD {
        bail!("Das Passwort muss mindestens {} Zeichen lang sein", rathaus_runtime::admin::MIN_PASSWORD);
    }
    let hash = {
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || rathaus_web::hash_password(&pw)).await?
    };
    let member =
        rathaus_runtime::admin::NewStaffMember { username, display_name, password_hash: &hash, role, org_units, email };
    match rt.create_staff(tenant, &member, &Actor::System).await {
        Ok(_) => Ok(()),
        Err(rathaus_runtime::RuntimeError::Invalid(problems)) => {
            bail!("{}", problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join("; "))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates an API key and returns it; only its keyed hash is stored.
pub async fn create_api_key(rt: &Runtime, tenant: &tenants::Tenant, label: &str) -> Result<String> {
    Ok(rt.create_api_key(tenant, label, &Actor::System).await?)
}

pub use rathaus_runtime::admin::random_text;
