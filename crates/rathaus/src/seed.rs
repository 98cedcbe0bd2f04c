//! Demo data: two municipalities that look and charge differently, with staff of every role
//! and an API key each. Credentials are random per installation, printed at start and
//! written to `<data-dir>/demo-credentials.json`.

use crate::admin::{create_api_key, create_staff, create_tenant, random_text, NewStaff};
use anyhow::{Context, Result};
use rathaus_domain::tenant::{BankAccount, Branding, Contact, LegalTexts};
use rathaus_domain::{Role, TenantSettings};
use rathaus_runtime::Runtime;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StaffCredential {
    pub username: String,
    pub password: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantCredentials {
    pub api_key: String,
    pub staff: Vec<StaffCredential>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DemoCredentials {
    pub tenants: BTreeMap<String, TenantCredentials>,
}

pub const CREDENTIALS_FILE: &str = "demo-credentials.json";

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CREDENTIALS_FILE)
}

struct DemoTenant {
    slug: &'static str,
    name: &'static str,
    settings: TenantSettings,
    fees: serde_json::Value,
    /// Logo image (SVG), if the town has one.
    logo: Option<&'static str>,
}

/// Where people in Saxony turn when an authority does not answer their accessibility
/// feedback (Sächsisches Inklusionsgesetz).
const SACHSEN_ENFORCEMENT: &str =
    "der Beauftragte der Sächsischen Staatsregierung für die Belange von Menschen mit Behinderungen";

fn demo_tenants() -> Vec<DemoTenant> {
    vec![
        DemoTenant {
            slug: "musterstadt",
            name: "Musterstadt",
            settings: TenantSettings {
                postcodes: vec!["09999".into(), "09990".into()],
                branding: Branding {
                    logo_text: "Stadt Musterstadt".into(),
                    primary_color: "#1d4e89".into(),
                    accent_color: "#1d4e89".into(),
                    tagline: "Rathaus online – rund um die Uhr".into(),
                    font: "sans".into(),
                    logo: String::new(),
                },
                contact: Contact {
                    office: "Gewerbeamt".into(),
                    street: "Markt 1".into(),
                    postcode: "09999".into(),
                    city: "Musterstadt".into(),
                    phone: "03700 1234-0".into(),
                    email: "gewerbe@musterstadt.example".into(),
                    opening_hours: "Mo–Fr 8–12 Uhr, Di und Do 14–18 Uhr".into(),
                    representative: "Oberbürgermeisterin Dr. Erika Beispiel".into(),
                    data_protection_officer: "Datenschutzbeauftragter der Stadt Musterstadt, Markt 1, 09999 Musterstadt, datenschutz@musterstadt.example".into(),
                },
                bank: BankAccount {
                    holder: "Stadtkasse Musterstadt".into(),
                    iban: "DE02120300000000202051".into(),
                    bic: "BYLADEM1001".into(),
                    bank: "Deutsche Kreditbank".into(),
                },
                land: "SN".into(),
                // Fictitious: the Land key 14 (Sachsen), a district and town number nobody has.
                ags: "14599001".into(),
                legal: LegalTexts {
                    accessibility_enforcement: SACHSEN_ENFORCEMENT.into(),
                    ..Default::default()
                },
                // Browsers resolve *.localhost to this machine: the demo's own domain.
                domains: vec!["musterstadt.localhost".into()],
                drafts_kept_days: None,
                oidc: None,
                staff_oidc: None,
                service_centre: false,
            },
            fees: json!({}),
            logo: Some(include_str!("demo/musterstadt-logo.svg")),
        },
        DemoTenant {
            slug: "beispielgemeinde",
            name: "Beispielgemeinde",
            settings: TenantSettings {
                postcodes: vec!["09998".into()],
                branding: Branding {
                    logo_text: "Gemeinde Beispielgemeinde".into(),
                    primary_color: "#2f5d3a".into(),
                    accent_color: "#8a1c3f".into(),
                    tagline: "Bürgerservice der Gemeinde".into(),
                    font: "serif".into(),
                    logo: String::new(),
                },
                contact: Contact {
                    office: "Bürgerbüro".into(),
                    street: "Dorfstraße 5".into(),
                    postcode: "09998".into(),
                    city: "Beispielgemeinde".into(),
                    phone: "03700 5678-0".into(),
                    email: "buergerbuero@beispielgemeinde.example".into(),
                    opening_hours: "Mo, Mi, Fr 9–12 Uhr".into(),
                    representative: "Bürgermeister Max Mustermann".into(),
                    data_protection_officer: "Datenschutzbeauftragte der Verwaltungsgemeinschaft, Dorfstraße 5, 09998 Beispielgemeinde, datenschutz@beispielgemeinde.example".into(),
                },
                bank: BankAccount {
                    holder: "Gemeindekasse Beispielgemeinde".into(),
                    iban: "DE89370400440532013000".into(),
                    bic: "COBADEFFXXX".into(),
                    bank: "Commerzbank".into(),
                },
                land: "SN".into(),
                ags: "14599002".into(),
                legal: LegalTexts {
                    // A tenant that writes its own imprint: shown instead of the generated one.
                    imprint: "Herausgeberin dieser Seiten ist die Gemeinde Beispielgemeinde, vertreten durch den Bürgermeister Max Mustermann.\n\nGemeinde Beispielgemeinde\nDorfstraße 5\n09998 Beispielgemeinde\n\nDie Gemeinde ist eine Körperschaft des öffentlichen Rechts. Zuständige Aufsichtsbehörde ist das Landratsamt.".into(),
                    accessibility_enforcement: SACHSEN_ENFORCEMENT.into(),
                    ..Default::default()
                },
                domains: vec!["beispielgemeinde.localhost".into()],
                // A smaller town keeps unfinished applications only two weeks.
                drafts_kept_days: Some(14),
                oidc: None,
                staff_oidc: None,
                service_centre: false,
            },
            fees: json!({"gebuehr_anmeldung": "30.00", "gebuehr_ummeldung": "25.00", "gebuehr_abmeldung": "12.50"}),
            logo: None,
        },
    ]
}

/// The demo towns' list of areas with a right of pre-emption (Negativzeugnis): a
/// redevelopment area over a whole field and one parcel for public use.
fn demo_pre_emption_areas() -> serde_json::Value {
    json!([
        {"gemarkung": "Musterstadt", "flur": "5", "gebiet": "Sanierungsgebiet Altstadt", "rechtsgrundlage": "§ 24 Abs. 1 Nr. 3 BauGB"},
        {"gemarkung": "Musterstadt", "flur": "3", "flurstueck": "12/3", "gebiet": "Fläche für den Gemeinbedarf (Bebauungsplan Nr. 7)", "rechtsgrundlage": "§ 24 Abs. 1 Nr. 1 BauGB"}
    ])
}

const DEMO_STAFF: &[(&str, &str, Role)] = &[
    ("sachbearbeitung", "Sabine Sachbearbeiterin", Role::Clerk),
    ("teamleitung", "Thomas Teamleiter", Role::TeamLead),
    ("admin", "Anna Administratorin", Role::TenantAdmin),
    ("pruefung", "Paul Prüfer", Role::Auditor),
];

/// Seeds the demo municipalities if the database has no tenant yet. Returns the new
/// credentials, or `None` if tenants existed already.
pub async fn seed_demo(rt: &Runtime) -> Result<Option<DemoCredentials>> {
    let mut conn = rt.store.conn().await?;
    if !rathaus_store::tenants::list(&mut conn).await?.is_empty() {
        return Ok(None);
    }
    drop(conn);
    let mut creds = DemoCredentials::default();
    for d in demo_tenants() {
        let tenant = create_tenant(
            rt,
            d.slug,
            d.name,
            &d.settings,
            &[
                ("gewerbeanmeldung", d.fees),
                ("verkehrsrechtliche-anordnung", json!({})),
                ("plakatierung", json!({})),
                ("negativzeugnis-vorkaufsrecht", json!({"vorkaufsrechte": demo_pre_emption_areas()})),
                ("gaststaettengestattung", json!({})),
                ("aufgrabung", json!({})),
                (
                    "sondernutzung",
                    json!({"zonen": [{"strasse": "Markt", "zone": "A"}, {"strasse": "Hauptstraße", "zone": "A"}]}),
                ),
            ],
        )
        .await
        .with_context(|| format!("Demo-Mandant {}", d.slug))?;
        if let Some(svg) = d.logo {
            crate::admin::update_settings(rt, &tenant, &tenant.settings, Some(svg.as_bytes())).await?;
        }
        let mut staff = Vec::new();
        for (username, display, role) in DEMO_STAFF {
            let password = random_text(16);
            // Clerks and team leads belong to the trade office: models can address it as a
            // candidate group (`candidateGroups="gewerbeamt"`).
            let units: Vec<String> = if role.may_decide() { vec!["gewerbeamt".to_string()] } else { Vec::new() };
            // Mails of the demo go into its mail folder; the addresses only have to look real.
            let email = format!("{username}@{}.example", d.slug);
            let new = NewStaff {
                username,
                display_name: display,
                password: &password,
                role: *role,
                org_units: &units,
                email: Some(&email),
            };
            create_staff(rt, &tenant, &new).await?;
            staff.push(StaffCredential { username: username.to_string(), password, role: role.code().into() });
        }
        let api_key = create_api_key(rt, &tenant, "Demo-Schlüssel").await?;
        creds.tenants.insert(d.slug.to_string(), TenantCredentials { api_key, staff });
    }
    seed_centre(rt, &mut creds).await?;
    Ok(Some(creds))
}

/// The demo's service centre, to which Beispielgemeinde delegates its Gewerbeanzeigen.
const DEMO_CENTRE: (&str, &str) = ("kdz", "KDZ Musterland (Servicezentrum)");

const DEMO_CENTRE_STAFF: &[(&str, &str, Role)] = &[
    ("sachbearbeitung", "Kim Zentrumsmitarbeiterin", Role::Clerk),
    ("teamleitung", "Konrad Zentrumsleiter", Role::TeamLead),
    ("admin", "Zoe Zentrumsadministratorin", Role::TenantAdmin),
];

async fn seed_centre(rt: &Runtime, creds: &mut DemoCredentials) -> Result<()> {
    let (slug, name) = DEMO_CENTRE;
    let settings = TenantSettings {
        branding: Branding {
            logo_text: name.into(),
            primary_color: "#3b3b6d".into(),
            accent_color: "#3b3b6d".into(),
            ..Default::default()
        },
        land: "SN".into(),
        service_centre: true,
        ..Default::default()
    };
    let centre = create_tenant(rt, slug, name, &settings, &[]).await.context("Demo-Servicezentrum")?;
    let mut staff = Vec::new();
    for (username, display, role) in DEMO_CENTRE_STAFF {
        let password = random_text(16);
        let email = format!("{username}@{slug}.example");
        let new = NewStaff {
            username,
            display_name: display,
            password: &password,
            role: *role,
            org_units: &[],
            email: Some(&email),
        };
        create_staff(rt, &centre, &new).await?;
        staff.push(StaffCredential { username: username.to_string(), password, role: role.code().into() });
    }
    let mut conn = rt.store.conn().await?;
    let town = rathaus_store::tenants::by_slug(&mut conn, "beispielgemeinde").await?.context("Beispielgemeinde")?;
    drop(conn);
    let grant = rathaus_runtime::delegations::Grant {
        centre: slug,
        procedures: vec!["gewerbeanmeldung".into()],
        scope: rathaus_domain::delegation::Scope::Process,
        agreement: "Zweckvereinbarung über die Gewerbeangelegenheiten (Demo)",
        valid_from: None,
        valid_until: None,
    };
    rt.grant_delegation(&town, &grant, &rathaus_store::audit::Actor::System).await?;
    creds.tenants.insert(slug.to_string(), TenantCredentials { api_key: String::new(), staff });
    Ok(())
}

pub fn write_credentials(data_dir: &Path, creds: &DemoCredentials) -> Result<()> {
    let path = credentials_path(data_dir);
    std::fs::write(&path, serde_json::to_string_pretty(creds)?)
        .with_context(|| format!("{} schreiben", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

pub fn read_credentials(data_dir: &Path) -> Option<DemoCredentials> {
    serde_json::from_str(&std::fs::read_to_string(credentials_path(data_dir)).ok()?).ok()
}
