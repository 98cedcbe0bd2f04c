//! A tenant (Mandant) is one municipality with its own look, contact and area.

use serde::{Deserialize, Serialize};

/// What a municipality sets about itself. Stored as JSON on the tenant row so that new
/// settings do not need a migration of every installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TenantSettings {
    /// The postcodes of the municipality's area: a Betriebsstätte elsewhere is not ours.
    pub postcodes: Vec<String>,
    pub branding: Branding,
    pub contact: Contact,
    /// Bank account for fees.
    pub bank: BankAccount,
    /// Federal state (Land), e.g. "SN"; decides public holidays.
    pub land: String,
    /// Amtlicher Gemeindeschlüssel (eight digits, e.g. `14522180`): how messages to other
    /// authorities (XGewerbeanzeige) name the town.
    pub ags: String,
    /// The tenant's own texts of its imprint, privacy and accessibility statements; where
    /// empty, the portal shows a statement built from the tenant's data.
    pub legal: LegalTexts,
    /// Host names on which the tenant's portal is served besides `/{slug}/`, e.g.
    /// `service.musterstadt.de` (its DNS and TLS point to the installation).
    pub domains: Vec<String>,
    /// Days a saved draft (an application not yet submitted) is kept before it is deleted;
    /// [`TenantSettings::DRAFTS_KEPT_DAYS`] when not set.
    pub drafts_kept_days: Option<u32>,
    /// Login by OpenID Connect (BundID, a Land's Servicekonto, a test provider), if the
    /// tenant offers it besides its own citizen accounts.
    pub oidc: Option<OidcSettings>,
    /// Login of the tenant's staff by its own identity provider (Keycloak, Active Directory
    /// by OpenID Connect). Roles and units stay in Rathaus: the provider only proves who
    /// signs in (see `Runtime::staff_by_oidc`).
    pub staff_oidc: Option<OidcSettings>,
    /// A service centre (a Verwaltungsgemeinschaft, a regional IT centre's back office)
    /// processes cases of municipalities that delegate them to it (see `delegation`); it
    /// offers no services of its own and is not listed on the installation's start page.
    pub service_centre: bool,
}

/// The OpenID Connect provider a tenant's citizens can sign in with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct OidcSettings {
    /// The issuer, e.g. `https://id.bund.de/…`; its discovery document is read at login.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The name on the login button, e.g. „BundID“.
    pub label: String,
}

impl TenantSettings {
    pub const DRAFTS_KEPT_DAYS: u32 = 30;

    pub fn drafts_kept_days(&self) -> u32 {
        self.drafts_kept_days.unwrap_or(Self::DRAFTS_KEPT_DAYS)
    }
}

/// Texts of the statements every public authority's website must have. Plain text;
/// paragraphs are separated by blank lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LegalTexts {
    /// Impressum (§ 5 DDG).
    pub imprint: String,
    /// Datenschutzerklärung (Art. 13 DSGVO).
    pub privacy: String,
    /// Erklärung zur Barrierefreiheit (§ 12b BGG and the Länder's laws, EU 2016/2102).
    pub accessibility: String,
    /// The Land's arbitration body (Schlichtungsstelle / Durchsetzungsverfahren) for
    /// accessibility complaints, named in the accessibility statement.
    pub accessibility_enforcement: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Branding {
    /// Text shown as logo, e.g. "Stadt Musterstadt".
    pub logo_text: String,
    /// Main colour (header), as #rrggbb.
    pub primary_color: String,
    /// Accent colour (links, buttons), as #rrggbb.
    pub accent_color: String,
    /// Short motto under the logo.
    pub tagline: String,
    /// Typeface of the portal: `sans` (default), `humanist` or `serif` (system fonts only:
    /// nothing is loaded from elsewhere).
    pub font: String,
    /// SHA-256 of the logo image (stored apart, see `store::assets`); empty: no image, the
    /// name alone.
    pub logo: String,
}

/// The largest logo accepted: it is on every page.
pub const MAX_LOGO_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoProblem {
    #[error("Das Logo ist {0} KB groß; höchstens 200 KB sind möglich")]
    TooLarge(usize),
    #[error("Das Logo muss ein PNG-, JPEG- oder SVG-Bild sein; diese Datei ist keins")]
    NotAnImage,
    #[error("Das SVG-Logo enthält Skripte oder Verweise auf andere Seiten; solche Logos werden nicht angenommen")]
    ActiveSvg,
}

/// The media type of a logo, judged by its content, not by its name.
pub fn logo_type(bytes: &[u8]) -> Result<&'static str, LogoProblem> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(LogoProblem::TooLarge(bytes.len().div_ceil(1024)));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok("image/png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Ok("image/jpeg");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| LogoProblem::NotAnImage)?;
    let head = text.trim_start_matches('\u{feff}').trim_start();
    let lower = text.to_ascii_lowercase();
    let is_svg =
        (head.starts_with("<svg") || head.starts_with("<?xml") || head.starts_with("<!--")) && lower.contains("<svg");
    if !is_svg {
        return Err(LogoProblem::NotAnImage);
    }
    // An image shown with <img> runs no scripts, but the file can be opened directly.
    let active = ["<script", "javascript:", " on", "<foreignobject", "href=\"http", "href='http"];
    if active.iter().any(|a| if *a == " on" { has_event_attribute(&lower) } else { lower.contains(a) }) {
        return Err(LogoProblem::ActiveSvg);
    }
    Ok("image/svg+xml")
}

/// An `on…=` attribute (onload, onclick …) anywhere in the markup.
fn has_event_attribute(lower: &str) -> bool {
    lower.match_indices(" on").any(|(i, _)| {
        let rest = &lower[i + 3..];
        let name_len = rest.bytes().take_while(|b| b.is_ascii_lowercase()).count();
        name_len > 0 && rest[name_len..].trim_start().starts_with('=')
    })
}

/// The font families a tenant can choose from, as CSS font stacks. Unknown names fall back
/// to the first.
pub const FONTS: &[(&str, &str)] = &[
    ("sans", "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif"),
    ("humanist", "\"Source Sans 3\", \"Source Sans Pro\", \"Fira Sans\", \"Gill Sans\", Calibri, Verdana, sans-serif"),
    ("serif", "Georgia, Cambria, \"Noto Serif\", \"Times New Roman\", serif"),
];

/// Why a tenant's branding cannot be used as it is (checked when it is set, so that a town
/// cannot make its portal unreadable).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrandingProblem {
    #[error("{field} „{value}“ ist keine Farbe im Format #rrggbb, z. B. #1d4e89")]
    NotAColour { field: &'static str, value: String },
    #[error("Die Hauptfarbe {colour} erreicht weder mit weißer noch mit schwarzer Schrift einen Kontrast von 4,5 : 1 (WCAG 2.1 AA), höchstens {best} : 1. Wählen Sie eine dunklere oder hellere Farbe.")]
    PrimaryContrast { colour: String, best: String },
    #[error("Die Akzentfarbe {colour} hat auf Weiß nur einen Kontrast von {ratio} : 1; Links und Schaltflächen brauchen mindestens 4,5 : 1 (WCAG 2.1 AA). Wählen Sie eine dunklere Farbe.")]
    AccentContrast { colour: String, ratio: String },
    #[error("Die Schrift „{0}“ gibt es nicht; möglich sind sans, humanist und serif")]
    UnknownFont(String),
}

/// The least contrast text must have against its background (WCAG 2.1 AA, 1.4.3).
pub const MIN_CONTRAST: f64 = 4.5;

const WHITE: (u8, u8, u8) = (255, 255, 255);
const TEXT_BLACK: (u8, u8, u8) = (11, 12, 12);

fn ratio_text(r: f64) -> String {
    format!("{:.1}", (r * 10.0).floor() / 10.0).replace('.', ",")
}

impl Branding {
    /// Everything that keeps this branding from being readable by everyone. Empty colours
    /// and font are fine (the defaults apply).
    pub fn problems(&self) -> Vec<BrandingProblem> {
        let mut problems = Vec::new();
        let mut colour = |field: &'static str, value: &str| {
            if value.is_empty() {
                return None;
            }
            let parsed = parse_hex_color(value);
            if parsed.is_none() {
                problems.push(BrandingProblem::NotAColour { field, value: value.to_string() });
            }
            parsed
        };
        let primary = colour("Hauptfarbe", &self.primary_color);
        let accent = colour("Akzentfarbe", &self.accent_color);
        if let Some(p) = primary {
            let best = contrast_ratio(p, WHITE).max(contrast_ratio(p, TEXT_BLACK));
            if best < MIN_CONTRAST {
                problems.push(BrandingProblem::PrimaryContrast {
                    colour: self.primary_color.clone(),
                    best: ratio_text(best),
                });
            }
        }
        if let Some(a) = accent {
            let ratio = contrast_ratio(a, WHITE);
            if ratio < MIN_CONTRAST {
                problems.push(BrandingProblem::AccentContrast {
                    colour: self.accent_color.clone(),
                    ratio: ratio_text(ratio),
                });
            }
        }
        if !self.font.is_empty() && !FONTS.iter().any(|(n, _)| *n == self.font) {
            problems.push(BrandingProblem::UnknownFont(self.font.clone()));
        }
        problems
    }
}

/// The CSS font stack of a font name.
pub fn font_stack(name: &str) -> &'static str {
    FONTS.iter().find(|(n, _)| *n == name).unwrap_or(&FONTS[0]).1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Contact {
    pub office: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
    pub opening_hours: String,
    /// Who represents the authority (Bürgermeisterin, Bürgermeister), for the imprint.
    pub representative: String,
    /// How to reach the data protection officer (Art. 37 DSGVO), for the privacy statement.
    pub data_protection_officer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct BankAccount {
    pub holder: String,
    pub iban: String,
    pub bic: String,
    pub bank: String,
}

impl TenantSettings {
    pub fn covers_postcode(&self, postcode: &str) -> bool {
        self.postcodes.iter().any(|p| p == postcode.trim())
    }
}

/// Checks a colour given as `#rrggbb`.
pub fn parse_hex_color(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let p = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((p(0)?, p(2)?, p(4)?))
}

/// WCAG 2.1 contrast ratio between two colours (1.0 ..= 21.0).
pub fn contrast_ratio(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn channel(c: u8) -> f64 {
        let c = c as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_judged_by_their_content() {
        assert_eq!(logo_type(b"\x89PNG\r\n\x1a\n...."), Ok("image/png"));
        assert_eq!(logo_type(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]), Ok("image/jpeg"));
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="navy"/></svg>"#;
        assert_eq!(logo_type(svg), Ok("image/svg+xml"));
        assert_eq!(logo_type(b"%PDF-1.7 not a logo"), Err(LogoProblem::NotAnImage));
        assert_eq!(logo_type(b"<html><body>hi</body></html>"), Err(LogoProblem::NotAnImage));
        assert_eq!(logo_type(br#"<svg><script>alert(1)</script></svg>"#), Err(LogoProblem::ActiveSvg));
        assert_eq!(logo_type(br#"<svg onload = "alert(1)"></svg>"#), Err(LogoProblem::ActiveSvg));
        assert_eq!(logo_type(br#"<svg><a href="https://evil.example">x</a></svg>"#), Err(LogoProblem::ActiveSvg));
        assert_eq!(
            logo_type(br#"<svg><text font-family="Arial">Stadt Neustadt</text></svg>"#),
            Ok("image/svg+xml"),
            "words with 'on' inside are fine"
        );
        assert_eq!(logo_type(&vec![0u8; MAX_LOGO_BYTES + 1]), Err(LogoProblem::TooLarge(201)));
    }

    #[test]
    fn branding_that_would_be_unreadable_is_refused_with_the_reason() {
        let ok = Branding {
            primary_color: "#1d4e89".into(),
            accent_color: "#8a1c3f".into(),
            font: "serif".into(),
            ..Default::default()
        };
        assert_eq!(ok.problems(), []);
        assert_eq!(Branding::default().problems(), [], "defaults");
        // A light header is fine: it gets black text.
        assert_eq!(Branding { primary_color: "#ffeb3b".into(), ..Default::default() }.problems(), []);
        let bad = Branding {
            primary_color: "#787878".into(),
            accent_color: "#ffcc00".into(),
            font: "comic".into(),
            ..Default::default()
        };
        let problems = bad.problems();
        assert!(
            matches!(&problems[0], BrandingProblem::PrimaryContrast { best, .. } if best.starts_with("4,")),
            "{problems:?}"
        );
        assert!(
            matches!(&problems[1], BrandingProblem::AccentContrast { ratio, .. } if ratio == "1,5"),
            "{problems:?}"
        );
        assert_eq!(problems[2], BrandingProblem::UnknownFont("comic".into()));
        assert!(problems[1].to_string().contains("mindestens 4,5 : 1"));
        let typo = Branding { accent_color: "1d4e89".into(), ..Default::default() };
        assert_eq!(typo.problems(), [BrandingProblem::NotAColour { field: "Akzentfarbe", value: "1d4e89".into() }]);
    }

    #[test]
    fn contrast_of_black_on_white_is_21() {
        let r = contrast_ratio((0, 0, 0), (255, 255, 255));
        assert!((r - 21.0).abs() < 0.01);
        assert!(contrast_ratio(parse_hex_color("#767676").unwrap(), (255, 255, 255)) >= 4.5);
        assert!(parse_hex_color("#12345").is_none());
        assert!(parse_hex_color("123456").is_none());
    }

    #[test]
    fn postcode_area() {
        let s = TenantSettings { postcodes: vec!["09999".into(), "09990".into()], ..Default::default() };
        assert!(s.covers_postcode(" 09990"));
        assert!(!s.covers_postcode("09998"));
    }
}
