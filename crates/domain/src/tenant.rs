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
    /// The tenant's own texts of its imprint, privacy and accessibility statements; where
    /// empty, the portal shows a statement built from the tenant's data.
    pub legal: LegalTexts,
    /// Host names on which the tenant's portal is served besides `/{slug}/`, e.g.
    /// `service.musterstadt.de` (its DNS and TLS point to the installation).
    pub domains: Vec<String>,
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
}

/// The font families a tenant can choose from, as CSS font stacks. Unknown names fall back
/// to the first.
pub const FONTS: &[(&str, &str)] = &[
    ("sans", "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif"),
    ("humanist", "\"Source Sans 3\", \"Source Sans Pro\", \"Fira Sans\", \"Gill Sans\", Calibri, Verdana, sans-serif"),
    ("serif", "Georgia, Cambria, \"Noto Serif\", \"Times New Roman\", serif"),
];

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
