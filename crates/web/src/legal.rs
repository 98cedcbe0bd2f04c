//! The statements every authority's website must have: imprint, privacy statement and
//! accessibility statement. A tenant's own text is shown where it wrote one; otherwise the
//! statement is built from the tenant's contact data, in the visitor's language.

use crate::error::AppResult;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;
use rathaus_domain::Lang;
use rathaus_store::tenants::Tenant;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    Imprint,
    Privacy,
    Accessibility,
}

impl Statement {
    fn key(self) -> &'static str {
        match self {
            Statement::Imprint => "imprint",
            Statement::Privacy => "privacy",
            Statement::Accessibility => "accessibility",
        }
    }
}

/// A part of a statement: an optional heading and paragraphs of lines.
#[derive(Debug, Serialize, PartialEq)]
pub struct Section {
    pub heading: Option<String>,
    pub paragraphs: Vec<Vec<String>>,
}

fn section(heading: Option<String>, paragraphs: Vec<Vec<String>>) -> Section {
    Section { heading, paragraphs: paragraphs.into_iter().filter(|p| p.iter().any(|l| !l.is_empty())).collect() }
}

/// The tenant's own text: paragraphs at blank lines, lines kept.
fn own_text(text: &str) -> Vec<Section> {
    let paragraphs = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .collect();
    vec![section(None, paragraphs)]
}

/// The statement of a tenant: its own text, or one built from its data.
pub fn sections(tenant: &Tenant, which: Statement, lang: Lang) -> Vec<Section> {
    let s = &tenant.settings;
    let own = match which {
        Statement::Imprint => &s.legal.imprint,
        Statement::Privacy => &s.legal.privacy,
        Statement::Accessibility => &s.legal.accessibility,
    };
    if !own.trim().is_empty() {
        return own_text(own);
    }
    let c = &s.contact;
    let name = if s.branding.logo_text.is_empty() { tenant.name.clone() } else { s.branding.logo_text.clone() };
    let address =
        vec![name.clone(), c.office.clone(), c.street.clone(), format!("{} {}", c.postcode, c.city).trim().to_string()];
    let mut reach = Vec::new();
    if !c.phone.is_empty() {
        reach.push(format!("{}: {}", t(lang, "footer.phone"), c.phone));
    }
    if !c.email.is_empty() {
        reach.push(format!("{}: {}", t(lang, "footer.email"), c.email));
    }
    let h = |key: &str| Some(t(lang, &format!("legal.{key}")));
    let p = |key: &str| vec![t(lang, &format!("legal.{key}"))];
    let name_arg = [("name", name.as_str())];
    match which {
        Statement::Imprint => {
            let mut publisher = vec![address];
            if !c.representative.is_empty() {
                publisher.push(vec![tf(lang, "legal.imprint_represented_by", &[("who", &c.representative)])]);
            }
            let mut responsible = Vec::new();
            if !c.representative.is_empty() {
                responsible.push(vec![tf(lang, "legal.imprint_responsible_text", &[("who", &c.representative)])]);
            }
            vec![
                section(h("imprint_publisher"), publisher),
                section(h("imprint_contact"), vec![reach]),
                section(h("imprint_responsible"), responsible),
                section(h("imprint_software"), vec![p("imprint_software_text")]),
            ]
        }
        Statement::Privacy => {
            let mut controller = vec![address];
            controller.push(reach);
            vec![
                section(None, vec![vec![tf(lang, "legal.privacy_intro", &name_arg)]]),
                section(h("privacy_controller"), controller),
                section(h("privacy_officer"), vec![vec![c.data_protection_officer.clone()]]),
                section(h("privacy_purpose"), vec![p("privacy_purpose_text"), p("privacy_data_text")]),
                section(h("privacy_recipients"), vec![p("privacy_recipients_text")]),
                section(h("privacy_retention"), vec![p("privacy_retention_text")]),
                section(h("privacy_cookies"), vec![p("privacy_cookies_text")]),
                section(h("privacy_rights"), vec![p("privacy_rights_text"), p("privacy_complaint_text")]),
            ]
        }
        Statement::Accessibility => {
            let enforcement = if s.legal.accessibility_enforcement.is_empty() {
                t(lang, "legal.accessibility_enforcement_generic")
            } else {
                tf(lang, "legal.accessibility_enforcement_text", &[("body", &s.legal.accessibility_enforcement)])
            };
            vec![
                section(None, vec![vec![tf(lang, "legal.accessibility_intro", &name_arg)]]),
                section(h("accessibility_status"), vec![p("accessibility_status_text")]),
                section(h("accessibility_limits"), vec![p("accessibility_limits_text")]),
                section(h("accessibility_feedback"), vec![p("accessibility_feedback_text"), reach]),
                section(h("accessibility_enforcement"), vec![vec![enforcement]]),
            ]
        }
    }
    .into_iter()
    .filter(|s| !s.paragraphs.is_empty())
    .collect()
}

async fn show(app: AppState, slug: String, visit: Visit, which: Statement) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let title = t(lang, &format!("legal.{}_title", which.key()));
    let body = render(
        "legal.html",
        context! { title => title, sections => sections(&tenant, which, lang), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn imprint(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    show(app, slug, visit, Statement::Imprint).await
}

pub async fn privacy(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    show(app, slug, visit, Statement::Privacy).await
}

pub async fn accessibility(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    show(app, slug, visit, Statement::Accessibility).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rathaus_domain::tenant::{Contact, TenantSettings};

    fn tenant(imprint: &str) -> Tenant {
        let mut settings = TenantSettings {
            contact: Contact {
                office: "Bürgerbüro".into(),
                street: "Dorfstraße 5".into(),
                postcode: "09998".into(),
                city: "Beispielgemeinde".into(),
                email: "info@beispiel.example".into(),
                representative: "Bürgermeister Max Mustermann".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        settings.legal.imprint = imprint.into();
        Tenant { tenant_id: "t".into(), slug: "beispiel".into(), name: "Beispielgemeinde".into(), settings }
    }

    #[test]
    fn a_tenant_without_its_own_text_gets_one_built_from_its_data() {
        let s = sections(&tenant(""), Statement::Imprint, Lang::De);
        assert_eq!(s[0].heading.as_deref(), Some("Herausgeberin"));
        assert_eq!(s[0].paragraphs[0], ["Beispielgemeinde", "Bürgerbüro", "Dorfstraße 5", "09998 Beispielgemeinde"]);
        assert_eq!(s[0].paragraphs[1], ["Vertreten durch Bürgermeister Max Mustermann"]);
        assert!(s.iter().any(|x| x.paragraphs.iter().flatten().any(|l| l == "E-Mail: info@beispiel.example")));
        // Nothing to say about the data protection officer: that section is left out, not empty.
        let privacy = sections(&tenant(""), Statement::Privacy, Lang::En);
        assert!(privacy.iter().all(|x| x.heading.as_deref() != Some("Data protection officer")));
        assert!(privacy.iter().all(|x| !x.paragraphs.is_empty()));
    }

    #[test]
    fn a_tenants_own_text_replaces_the_built_one_paragraph_by_paragraph() {
        let s = sections(
            &tenant("Herausgeberin ist die Gemeinde.\r\n\r\nDorfstraße 5\n09998 Beispielgemeinde\n\n\n"),
            Statement::Imprint,
            Lang::De,
        );
        assert_eq!(
            s,
            [Section {
                heading: None,
                paragraphs: vec![
                    vec!["Herausgeberin ist die Gemeinde.".to_string()],
                    vec!["Dorfstraße 5".to_string(), "09998 Beispielgemeinde".to_string()]
                ]
            }]
        );
    }
}
