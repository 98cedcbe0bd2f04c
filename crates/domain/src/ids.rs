//! Identifiers citizens see: the Aktenzeichen (case reference) and the access code.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The Aktenzeichen of a case, e.g. `GEW-2026-000017`: procedure prefix, year of receipt and
/// a number counted per tenant, procedure prefix and year. Unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reference(String);

impl Reference {
    pub fn new(prefix: &str, year: i32, number: i64) -> Reference {
        Reference(format!("{prefix}-{year}-{number:06}"))
    }

    /// Accepts what a citizen types: any case, surrounding blanks. Returns `None` when the
    /// text cannot be an Aktenzeichen at all, so lookups never see arbitrary input.
    pub fn parse(input: &str) -> Option<Reference> {
        let s = input.trim().to_ascii_uppercase();
        let mut parts = s.split('-');
        let prefix = parts.next()?;
        let year = parts.next()?;
        let number = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let ok = (2..=8).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_uppercase())
            && year.len() == 4
            && year.bytes().all(|b| b.is_ascii_digit())
            && (1..=12).contains(&number.len())
            && number.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(Reference(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Letters and digits that cannot be confused when read aloud or typed from paper
/// (no 0/O, 1/I/L, 5/S, 2/Z, 8/B).
const ALPHABET: &[u8; 25] = b"ACDEFGHJKMNPQRTUVWXY34679";
const CODE_GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

/// The access code that lets a person without an account see their case: 12 symbols from a
/// 25-symbol alphabet (~55 bits), shown as `XXXX-XXXX-XXXX`. Only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode(String);

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(****)")
    }
}

impl AccessCode {
    const SYMBOLS: usize = 25;

    /// Builds a code from random bytes supplied by the caller (the domain does no IO).
    pub fn from_random(random: &[u8; 16]) -> AccessCode {
        let mut out = String::with_capacity(CODE_GROUPS * (GROUP_LEN + 1));
        for (i, b) in random.iter().take(CODE_GROUPS * GROUP_LEN).enumerate() {
            if i > 0 && i % GROUP_LEN == 0 {
                out.push('-');
            }
            // 256 is not a multiple of 25; the bias (6 of 256 values) costs well under one bit.
            out.push(ALPHABET[(*b as usize) % Self::SYMBOLS] as char);
        }
        AccessCode(out)
    }

    /// Normalises user input: upper case, blanks and dashes ignored, then regrouped.
    pub fn parse(input: &str) -> Option<AccessCode> {
        let compact: String =
            input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        if compact.len() != CODE_GROUPS * GROUP_LEN || !compact.bytes().all(|b| ALPHABET[..].contains(&b)) {
            return None;
        }
        let grouped: Vec<&str> = (0..CODE_GROUPS).map(|g| &compact[g * GROUP_LEN..(g + 1) * GROUP_LEN]).collect();
        Some(AccessCode(grouped.join("-")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_round_trip() {
        let r = Reference::new("GEW", 2026, 17);
        assert_eq!(r.as_str(), "GEW-2026-000017");
        assert_eq!(Reference::parse(" gew-2026-000017 ").unwrap(), r);
        assert!(Reference::parse("GEW-2026").is_none());
        assert!(Reference::parse("GEW-26-1").is_none());
        assert!(Reference::parse("'; DROP TABLE--").is_none());
    }

    #[test]
    fn access_code_is_grouped_and_parsable() {
        let code = AccessCode::from_random(&[7u8; 16]);
        assert_eq!(code.as_str().len(), 14);
        let typed = code.as_str().to_lowercase().replace('-', " ");
        assert_eq!(AccessCode::parse(&typed).unwrap(), code);
        assert!(AccessCode::parse("0000-0000-0000").is_none(), "ambiguous symbols are not in the alphabet");
        assert!(AccessCode::parse("ACDE").is_none());
    }

    #[test]
    fn different_random_gives_different_codes() {
        let a = AccessCode::from_random(&[1u8; 16]);
        let mut r = [1u8; 16];
        r[3] = 2;
        assert_ne!(a, AccessCode::from_random(&r));
    }
}

/// A UUID (version 4, RFC 9562) from 16 random bytes, as XÖV messages identify themselves.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_text(&bytes)
}

/// The UUID form of a 32-digit hex id (the ids Rathaus gives its records), so that a case
/// keeps one UUID in every message about it; `None` for another id.
pub fn uuid_of_hex(id: &str) -> Option<String> {
    let bytes: Vec<u8> = (0..id.len())
        .step_by(2)
        .map(|i| id.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(uuid_v4(bytes))
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod uuid_tests {
    use super::*;

    #[test]
    fn uuids_have_version_4_and_a_case_keeps_its_own() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(uuid_of_hex(id).as_deref(), Some("01234567-89ab-4def-8123-456789abcdef"));
        assert_eq!(uuid_of_hex(id), uuid_of_hex(id));
        assert_eq!(uuid_of_hex("kein-hex"), None);
        assert_eq!(uuid_of_hex("0123"), None);
    }
}
