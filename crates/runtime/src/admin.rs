//! Tenant administration (Fachadministration): staff and their roles, and the procedures a
//! town offers with its parameters. Shared by the CLI, the demo seed and the admin pages;
//! every change is checked here and written to the audit trail with who made it.

use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::Role;
use rathaus_engine::form::{plausible_email, FieldError};
use rathaus_store::audit::{self, Actor};
use rathaus_store::staff::{self, Staff};
use rathaus_store::tenants::{self, Tenant};
use serde_json::{json, Map, Value as Json};

/// The shortest password a staff account may have.
pub const MIN_PASSWORD: usize = 12;

/// A staff account to create. The password arrives hashed (argon2, by the caller).
#[derive(Debug, Clone, Copy)]
pub struct NewStaffMember<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    /// Organisational units, usable as candidate groups of user tasks.
    pub org_units: &'a [String],
    /// Where reminders and escalations of deadlines go.
    pub email: Option<&'a str>,
}

/// What an administrator may change of a staff account.
#[derive(Debug, Clone)]
pub struct StaffChange {
    pub display_name: String,
    pub role: Role,
    pub org_units: Vec<String>,
    pub email: Option<String>,
    pub active: bool,
}

fn problem(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// Organisational units as typed: separated by commas or blanks.
pub fn parse_org_units(typed: &str) -> Vec<String> {
    let mut units: Vec<String> =
        typed.split([',', ' ', '\n']).map(str::trim).filter(|u| !u.is_empty()).map(String::from).collect();
    units.dedup();
    units
}

fn check_units(units: &[String], out: &mut Vec<FieldError>) {
    for unit in units {
        if !unit.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
            out.push(problem(
                "einheiten",
                format!("Organisationseinheit „{unit}“: nur Kleinbuchstaben, Ziffern, Binde- und Unterstrich (so wie in candidateGroups im Modell)"),
            ));
        }
    }
}

fn check_email(email: Option<&str>, out: &mut Vec<FieldError>) {
    if let Some(e) = email {
        if !plausible_email(e) {
            out.push(problem("email", format!("E-Mail-Adresse „{e}“ ist ungültig (erwartet name@beispiel.de)")));
        }
    }
}

fn check_name(name: &str, out: &mut Vec<FieldError>) {
    if name.trim().is_empty() {
        out.push(problem("name", "Geben Sie den Namen an, wie er in Bescheiden und im Protokoll erscheint."));
    } else if name.chars().count() > 200 {
        out.push(problem("name", "Der Name darf höchstens 200 Zeichen haben."));
    }
}

/// Whether a username is well-formed: lower-case letters, digits, dot, hyphen, underscore.
pub fn username_ok(username: &str) -> bool {
    !username.is_empty()
        && username.len() <= 64
        && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_')
}

impl Runtime {
    /// Creates a staff account. `Invalid` with a problem per field; `Conflict` if the
    /// username is taken.
    pub async fn create_staff(&self, tenant: &Tenant, new: &NewStaffMember<'_>, actor: &Actor) -> Result<Staff> {
        let mut problems = Vec::new();
        if !username_ok(new.username) {
            problems.push(problem(
                "benutzername",
                format!("Benutzername „{}“: nur Kleinbuchstaben, Ziffern, Punkt, Binde- und Unterstrich", new.username),
            ));
        }
        check_name(new.display_name, &mut problems);
        check_units(new.org_units, &mut problems);
        check_email(new.email, &mut problems);
        if !problems.is_empty() {
            return Err(RuntimeError::Invalid(problems));
        }
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if staff::by_username(&mut tx, t, new.username).await?.is_some() {
            return Err(RuntimeError::Conflict(format!(
                "Den Benutzer „{}“ gibt es bei „{}“ schon",
                new.username, tenant.slug
            )));
        }
        let mut s =
            staff::create(&mut tx, t, new.username, new.display_name.trim(), new.password_hash, new.role.code(), now)
                .await?;
        if !new.org_units.is_empty() {
            staff::set_org_units(&mut tx, t, &s.staff_id, new.org_units).await?;
            s.org_units = new.org_units.join(",");
        }
        if new.email.is_some() {
            staff::set_email(&mut tx, t, &s.staff_id, new.email).await?;
            s.email = new.email.map(String::from);
        }
        audit::append(
            &mut tx,
            t,
            actor,
            "staff.created",
            "staff",
            &s.staff_id,
            &json!({"username": new.username, "role": new.role.code(), "org_units": new.org_units, "email": new.email.is_some()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Changes a staff account. An administrator cannot take their own administration
    /// away (role or account), so a town is never left without one by accident.
    pub async fn update_staff(
        &self,
        tenant: &Tenant,
        staff_id: &str,
        change: &StaffChange,
        actor: &Actor,
    ) -> Result<()> {
        let mut problems = Vec::new();
        check_name(&change.display_name, &mut problems);
        check_units(&change.org_units, &mut problems);
        check_email(change.email.as_deref(), &mut problems);
        if !problems.is_empty() {
            return Err(RuntimeError::Invalid(problems));
        }
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let before = staff::by_id(&mut tx, t, staff_id).await?.ok_or(RuntimeError::NotFound)?;
        let own = matches!(actor, Actor::Staff { staff_id: me, .. } if me == staff_id);
        if own && (change.role != Role::TenantAdmin || !change.active) {
            return Err(RuntimeError::Conflict(
                "Sie können sich die Fachadministration nicht selbst entziehen; das muss eine andere Administratorin oder ein anderer Administrator tun.".into(),
            ));
        }
        let mut changed = Map::new();
        if before.display_name != change.display_name.trim() {
            changed.insert("display_name".into(), json!(change.display_name.trim()));
        }
        if before.role != change.role.code() {
            changed.insert("role".into(), json!({"from": before.role, "to": change.role.code()}));
        }
        if before.org_unit_list() != change.org_units {
            changed.insert("org_units".into(), json!(change.org_units));
        }
        if before.email.as_deref().filter(|e| !e.is_empty()) != change.email.as_deref() {
            // That an address changed, not which (it is personal data).
            changed.insert("email".into(), json!(change.email.is_some()));
        }
        if (before.active == 1) != change.active {
            changed.insert("active".into(), json!(change.active));
        }
        if changed.is_empty() {
            return Ok(());
        }
        staff::update(&mut tx, t, staff_id, change.display_name.trim(), change.role.code(), change.active).await?;
        staff::set_org_units(&mut tx, t, staff_id, &change.org_units).await?;
        staff::set_email(&mut tx, t, staff_id, change.email.as_deref()).await?;
        audit::append(
            &mut tx,
            t,
            actor,
            "staff.changed",
            "staff",
            staff_id,
            &json!({"username": before.username, "changed": changed}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password (hashed by the caller) for a staff account.
    pub async fn reset_staff_password(&self, tenant: &Tenant, staff_id: &str, hash: &str, actor: &Actor) -> Result<()> {
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let s = staff::by_id(&mut tx, t, staff_id).await?.ok_or(RuntimeError::NotFound)?;
        staff::set_password(&mut tx, t, staff_id, hash).await?;
        audit::append(
            &mut tx,
            t,
            actor,
            "staff.password_reset",
            "staff",
            staff_id,
            &json!({"username": s.username}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Switches a procedure on or off for the town and sets its parameter overrides
    /// (`overrides`: name → value, only those that differ from the library's default).
    /// `Invalid` with a problem per parameter (field `p.<name>`), or on the parameter a
    /// deadline takes its length from.
    pub async fn configure_procedure(
        &self,
        tenant: &Tenant,
        procedure_id: &str,
        active: bool,
        overrides: &Map<String, Json>,
        actor: &Actor,
    ) -> Result<()> {
        self.change_procedure(tenant, procedure_id, actor, |_| (active, overrides.clone())).await
    }

    /// Changes the town's activation of a procedure: `change` gives whether it is on and its
    /// overrides from the activation as it is, read in the same transaction as the write, so
    /// that two changes at once cannot undo each other. Checked and audited as
    /// [`Runtime::configure_procedure`] says.
    async fn change_procedure(
        &self,
        tenant: &Tenant,
        procedure_id: &str,
        actor: &Actor,
        change: impl FnOnce(Option<&tenants::Activation>) -> (bool, Map<String, Json>),
    ) -> Result<()> {
        let procedure =
            self.library.get(procedure_id).ok_or_else(|| RuntimeError::UnknownProcedure(procedure_id.into()))?;
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let before = tenants::activation(&mut tx, t, procedure_id).await?;
        let (active, overrides) = change(before.as_ref());
        let overrides = Json::Object(overrides);
        if let Err(problems) = procedure.check_parameters(&overrides) {
            let problems = problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.parameter.map(|k| format!("p.{k}")).unwrap_or_else(|| "parameter".into()),
                    message: p.message,
                })
                .collect();
            return Err(RuntimeError::Invalid(problems));
        }
        let was_active = before.as_ref().is_some_and(|a| a.active);
        let old = before.map(|a| a.parameters).unwrap_or_else(|| json!({}));
        tenants::configure_procedure(&mut tx, t, procedure_id, active, &overrides, now).await?;
        let changed: Vec<&String> = overrides
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| old.get(k.as_str()) != Some(*v))
            .map(|(k, _)| k)
            .chain(
                old.as_object().into_iter().flatten().map(|(k, _)| k).filter(|k| overrides.get(k.as_str()).is_none()),
            )
            .collect();
        let action = match (was_active, active) {
            (false, true) => "procedure.activated",
            (true, false) => "procedure.deactivated",
            _ => "procedure.parameters_changed",
        };
        audit::append(
            &mut tx,
            t,
            actor,
            action,
            "procedure",
            procedure_id,
            &json!({"parameters": overrides, "changed": changed}),
            now,
        )
        .await?;
        tx.commit().await?;
        if active {
            self.deploy(t, procedure_id).await?;
        }
        Ok(())
    }
}

impl Runtime {
    /// The rows of a table parameter of the procedure as the town keeps them (the default
    /// while it has none).
    pub async fn table_rows(&self, tenant: &Tenant, procedure_id: &str, name: &str) -> Result<Json> {
        let procedure =
            self.library.get(procedure_id).ok_or_else(|| RuntimeError::UnknownProcedure(procedure_id.into()))?;
        let mut conn = self.store.conn().await?;
        let overrides = tenants::activation(&mut conn, &tenant.tenant_id, procedure_id)
            .await?
            .map(|a| a.parameters)
            .unwrap_or_else(|| json!({}));
        let resolved = procedure.resolve_parameters(&overrides).map_err(|e| RuntimeError::Procedure(e.join("; ")))?;
        Ok(resolved.get(name).cloned().unwrap_or_else(|| json!([])))
    }

    /// Replaces the rows of a table parameter (an import, a row added or removed), keeping
    /// the town's other settings: checked, stored and audited like any parameter change.
    pub async fn set_table_rows(
        &self,
        tenant: &Tenant,
        procedure_id: &str,
        name: &str,
        rows: Json,
        actor: &Actor,
    ) -> Result<()> {
        self.change_procedure(tenant, procedure_id, actor, |before| {
            let active = before.is_some_and(|a| a.active);
            let mut overrides = before.and_then(|a| a.parameters.as_object().cloned()).unwrap_or_default();
            overrides.insert(name.to_string(), rows);
            (active, overrides)
        })
        .await
    }
}

/// Random text from an alphabet without look-alike characters (0/O, 1/l/I).
pub fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..len).map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char).collect()
}

impl Runtime {
    /// Creates an API key for the tenant's integrations and returns it; only its keyed hash
    /// is stored, so it is shown this once.
    pub async fn create_api_key(&self, tenant: &Tenant, label: &str, actor: &Actor) -> Result<String> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(RuntimeError::Invalid(vec![problem(
                "bezeichnung",
                "Geben Sie eine Bezeichnung an (höchstens 100 Zeichen), zum Beispiel den Onlinedienst, der den Schlüssel nutzt.",
            )]));
        }
        let key = format!("rh_{}", random_text(40));
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let id =
            tenants::add_api_key(&mut tx, &tenant.tenant_id, &self.secret_hash("api-key", &key), label, now).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            actor,
            "api_key.created",
            "api_key",
            &id,
            &json!({"label": label}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// Revokes an API key at once; false if it was unknown or revoked already.
    pub async fn revoke_api_key(&self, tenant: &Tenant, key_id: &str, actor: &Actor) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenants::revoke_api_key(&mut tx, &tenant.tenant_id, key_id, now).await? {
            return Ok(false);
        }
        audit::append(&mut tx, &tenant.tenant_id, actor, "api_key.revoked", "api_key", key_id, &json!({}), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The tenant's API keys, revoked ones included.
    pub async fn api_keys(&self, tenant: &Tenant) -> Result<Vec<tenants::ApiKey>> {
        let mut conn = self.store.conn().await?;
        Ok(tenants::api_keys(&mut conn, &tenant.tenant_id).await?)
    }
}

/// Longest time a saved draft may be kept (a year), in days.
pub const DRAFTS_KEPT_MAX_DAYS: u32 = 365;

/// The area, Land, host names and draft retention of `settings`.
fn check_area(settings: &rathaus_domain::TenantSettings, problems: &mut Vec<FieldError>) {
    for code in settings.postcodes.iter().filter(|c| !rathaus_engine::form::german_postcode(c)) {
        problems.push(problem("gebiet_plz", format!("Postleitzahl „{code}“ des Gebiets muss fünfstellig sein")));
    }
    if !settings.land.is_empty() && rathaus_domain::calendar::Land::parse(&settings.land).is_none() {
        problems.push(problem(
            "land",
            format!("Land „{}“ ist unbekannt (erwartet das Kürzel, z. B. SN für Sachsen)", settings.land),
        ));
    }
    let ags_ok = settings.ags.len() == 8 && settings.ags.bytes().all(|b| b.is_ascii_digit());
    if !settings.ags.is_empty() && !ags_ok {
        problems.push(problem(
            "ags",
            format!("Gemeindeschlüssel „{}“ muss acht Ziffern haben (z. B. 14522180)", settings.ags),
        ));
    }
    for d in settings.domains.iter().filter(|d| !host_name_ok(d)) {
        problems.push(problem("domains", format!("„{d}“ ist kein Rechnername (z. B. service.musterstadt.de)")));
    }
    if settings.drafts_kept_days.is_some_and(|n| n == 0 || n > DRAFTS_KEPT_MAX_DAYS) {
        problems.push(problem("entwuerfe_tage", format!("Entwürfe aufbewahren: 1 bis {DRAFTS_KEPT_MAX_DAYS} Tage")));
    }
}

/// Whether `name` is a host name with at least two labels of letters, digits and inner
/// hyphens (lower case).
pub fn host_name_ok(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// An OpenID Connect provider: its issuer (https, or http on this machine) and client id.
fn check_provider(key: &str, p: &rathaus_domain::tenant::OidcSettings, problems: &mut Vec<FieldError>) {
    let local = p.issuer.starts_with("http://127.0.0.1") || p.issuer.starts_with("http://localhost");
    if !p.issuer.starts_with("https://") && !local {
        problems.push(problem(
            &format!("{key}_aussteller"),
            format!("Der Aussteller „{}“ muss mit https:// beginnen (http nur für 127.0.0.1 oder localhost)", p.issuer),
        ));
    }
    if p.client_id.trim().is_empty() {
        problems.push(problem(&format!("{key}_client"), "Bitte die Client-ID angeben, die der Anbieter vergeben hat"));
    }
    if p.client_secret.is_empty() {
        problems.push(problem(
            &format!("{key}_geheimnis"),
            "Bitte das Client-Geheimnis angeben, das der Anbieter vergeben hat",
        ));
    }
}

impl Runtime {
    /// Replaces the tenant's settings (look, contact, bank account, area, Land, host names,
    /// draft retention, login providers, legal texts), with a new logo image if given
    /// (checked by its content). `Invalid` with a problem per field (`farbe`, `akzent`,
    /// `schrift`, `logo`, `plz`, `email`, `iban`, `gebiet_plz`, `land`, `domains`,
    /// `entwuerfe_tage`, `oidc_…`, `personal_oidc_…`); audited with what changed (a
    /// provider's client secret only as changed).
    pub async fn update_tenant_settings(
        &self,
        tenant: &Tenant,
        settings: &rathaus_domain::TenantSettings,
        logo: Option<&[u8]>,
        actor: &Actor,
    ) -> Result<()> {
        use rathaus_domain::tenant::BrandingProblem;
        let mut settings = settings.clone();
        let mut problems = Vec::new();
        let logo = match logo {
            Some(bytes) => match rathaus_domain::tenant::logo_type(bytes) {
                Ok(kind) => Some((kind, bytes)),
                Err(e) => {
                    problems.push(problem("logo", e.to_string()));
                    None
                }
            },
            None => None,
        };
        if let Some((_, bytes)) = logo {
            settings.branding.logo = rathaus_store::sha256_hex(bytes);
        }
        for p in settings.branding.problems() {
            let field = match &p {
                BrandingProblem::NotAColour { field, .. } if *field == "Akzentfarbe" => "akzent",
                BrandingProblem::AccentContrast { .. } => "akzent",
                BrandingProblem::UnknownFont(_) => "schrift",
                _ => "farbe",
            };
            problems.push(problem(field, p.to_string()));
        }
        check_area(&settings, &mut problems);
        for (key, provider) in [("oidc", &settings.oidc), ("personal_oidc", &settings.staff_oidc)] {
            if let Some(p) = provider {
                check_provider(key, p, &mut problems);
            }
        }
        // A host name serves one tenant only.
        let mut conn = self.store.conn().await?;
        for other in tenants::list(&mut conn).await?.into_iter().filter(|t| t.tenant_id != tenant.tenant_id) {
            if let Some(d) = settings.domains.iter().find(|d| other.settings.domains.contains(d)) {
                problems.push(problem("domains", format!("Die Adresse „{d}“ gehört schon zu „{}“", other.name)));
            }
        }
        drop(conn);
        let c = &settings.contact;
        if !c.postcode.is_empty() && !rathaus_engine::form::german_postcode(&c.postcode) {
            problems.push(problem("plz", format!("Postleitzahl „{}“ muss fünfstellig sein", c.postcode)));
        }
        if !c.email.is_empty() && !plausible_email(&c.email) {
            problems.push(problem(
                "email",
                format!("E-Mail-Adresse „{}“ ist ungültig (erwartet name@beispiel.de)", c.email),
            ));
        }
        if !settings.bank.iban.is_empty() {
            match rathaus_domain::iban::Iban::parse(&settings.bank.iban) {
                Ok(iban) => settings.bank.iban = iban.electronic().to_string(),
                Err(e) => problems.push(problem("iban", e.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(RuntimeError::Invalid(problems));
        }
        let before = serde_json::to_value(&tenant.settings).expect("settings serialise");
        let after = serde_json::to_value(&settings).expect("settings serialise");
        let mut changed: Map<String, Json> = after
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| before.get(k.as_str()) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The providers' client secrets are credentials: the trail records that they changed.
        for key in ["oidc", "staff_oidc"] {
            if let Some(secret) = changed.get_mut(key).and_then(|o| o.get_mut("client_secret")) {
                *secret = Json::String("***".into());
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some((content_type, bytes)) = logo {
            rathaus_store::assets::put(&mut tx, &tenant.tenant_id, "logo", content_type, bytes, now).await?;
        }
        tenants::update_settings(&mut tx, &tenant.tenant_id, &settings).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            actor,
            "tenant.settings_changed",
            "tenant",
            &tenant.tenant_id,
            &json!({"changed": changed}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Runtime {
    /// The staff account a login by the tenant's identity provider stands for: the one linked
    /// to the provider's subject; at the first such login, the account whose username is the
    /// provider's `preferred_username` (lower case), which is linked then (audited). `None`
    /// if there is none or it is locked: the provider proves who someone is, Rathaus decides
    /// whether they work here and in which role.
    pub async fn staff_by_oidc(
        &self,
        tenant: &Tenant,
        issuer: &str,
        subject: &str,
        username: Option<&str>,
    ) -> Result<Option<Staff>> {
        let t = &tenant.tenant_id;
        let mut tx = self.store.begin().await?;
        if let Some(s) = staff::by_oidc(&mut tx, t, issuer, subject).await? {
            return Ok(Some(s).filter(|s| s.active == 1));
        }
        let Some(username) = username.map(str::to_lowercase).filter(|u| username_ok(u)) else { return Ok(None) };
        let Some(s) = staff::by_username(&mut tx, t, &username).await?.filter(|s| s.active == 1) else {
            return Ok(None);
        };
        // An account linked to another subject stays with it: a second identity at the
        // provider with the same name does not take it over.
        if !staff::link_oidc(&mut tx, t, &s.staff_id, issuer, subject).await? {
            return Ok(None);
        }
        let actor = Actor::Staff { staff_id: s.staff_id.clone(), username: s.username.clone() };
        audit::append(
            &mut tx,
            t,
            &actor,
            "staff.oidc_linked",
            "staff",
            &s.staff_id,
            &json!({"issuer": issuer}),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(s))
    }
}
