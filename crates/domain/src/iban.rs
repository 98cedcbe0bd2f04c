//! IBAN (ISO 13616): the account number citizens give for refunds and direct debits.
//! Checked by its country's length and the mod-97 check digits, so that a mistyped number
//! is caught while the citizen still fills the form, not when the payment bounces.

use std::fmt;

/// An IBAN in its electronic form: upper case, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("Eine IBAN beginnt mit dem Ländercode aus zwei Buchstaben, z. B. DE")]
    Country,
    #[error("Eine IBAN aus {country} hat {expected} Zeichen, diese hat {actual}")]
    Length { country: String, expected: usize, actual: usize },
    #[error("Die IBAN enthält Zeichen, die in einer IBAN nicht vorkommen")]
    Characters,
    #[error("Die Prüfziffern der IBAN stimmen nicht – bitte vergleichen Sie sie mit Ihren Kontounterlagen")]
    Checksum,
}

/// Lengths of the IBANs of the SEPA countries (EPC409, version 2024), which are the
/// accounts a German authority pays to or collects from.
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("VA", 22),
];

impl Iban {
    /// Reads an IBAN as people write it: with or without spaces, in any case.
    pub fn parse(input: &str) -> Result<Iban, IbanError> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let country = s.get(..2).filter(|c| c.bytes().all(|b| b.is_ascii_uppercase())).ok_or(IbanError::Country)?;
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IbanError::Characters);
        }
        match LENGTHS.iter().find(|(c, _)| *c == country) {
            Some((_, expected)) if *expected != s.len() => {
                return Err(IbanError::Length { country: country.to_string(), expected: *expected, actual: s.len() })
            }
            Some(_) => {}
            // Outside SEPA: the general bounds of ISO 13616.
            None if !(15..=34).contains(&s.len()) => {
                return Err(IbanError::Length { country: country.to_string(), expected: 34, actual: s.len() })
            }
            None => {}
        }
        if !s[2..4].bytes().all(|b| b.is_ascii_digit()) {
            return Err(IbanError::Checksum);
        }
        if mod97(&s) != 1 {
            return Err(IbanError::Checksum);
        }
        Ok(Iban(s))
    }

    /// "DE89370400440532013000"
    pub fn electronic(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

/// "DE89 3704 0044 0532 0130 00": the paper form, in groups of four.
impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// The IBAN moved by four characters, letters as 10…35, taken modulo 97 piece by piece.
fn mod97(s: &str) -> u32 {
    let rearranged = s[4..].bytes().chain(s[..4].bytes());
    let mut rest: u32 = 0;
    for b in rearranged {
        let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        rest = if v >= 10 { (rest * 100 + v) % 97 } else { (rest * 10 + v) % 97 };
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ibans_in_any_spelling() {
        let i = Iban::parse("de89 3704 0044 0532 0130 00").unwrap();
        assert_eq!(i.electronic(), "DE89370400440532013000");
        assert_eq!(i.to_string(), "DE89 3704 0044 0532 0130 00");
        assert_eq!(i.country(), "DE");
        for ok in [
            "GB82 WEST 1234 5698 7654 32",
            "AT61 1904 3002 3457 3201",
            "NL91ABNA0417164300",
            "FR1420041010050500013M02606",
        ] {
            assert!(Iban::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_mistyped_digit_or_swapped_digits_are_caught() {
        assert_eq!(Iban::parse("DE89 3704 0044 0532 0130 01"), Err(IbanError::Checksum));
        assert_eq!(Iban::parse("DE89 3704 0044 0532 0103 00"), Err(IbanError::Checksum));
        assert_eq!(Iban::parse("DE98 3704 0044 0532 0130 00"), Err(IbanError::Checksum));
    }

    #[test]
    fn wrong_length_country_and_characters_are_named() {
        assert_eq!(
            Iban::parse("DE89 3704 0044 0532 0130"),
            Err(IbanError::Length { country: "DE".into(), expected: 22, actual: 20 })
        );
        assert_eq!(Iban::parse("1289370400440532013000"), Err(IbanError::Country));
        assert_eq!(Iban::parse("DE89-3704-0044-0532-0130-00"), Err(IbanError::Characters));
        assert_eq!(Iban::parse(""), Err(IbanError::Country));
        assert!(Iban::parse("DE89 3704 0044 0532 0130 00 ").is_ok(), "trailing blank");
    }
}
