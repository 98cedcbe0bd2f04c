//! Amounts of money in euro cents. Fees are never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Money {
    cents: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("„{0}“ ist kein Geldbetrag (erwartet z. B. 26,00 oder 26.00)")]
pub struct MoneyParseError(pub String);

impl Money {
    pub const ZERO: Money = Money { cents: 0 };

    pub fn from_cents(cents: i64) -> Money {
        Money { cents }
    }

    pub fn cents(self) -> i64 {
        self.cents
    }

    pub fn is_zero(self) -> bool {
        self.cents == 0
    }

    /// Parses "26", "26.0", "26.00" and the German "26,00". At most two decimals.
    pub fn parse(input: &str) -> Result<Money, MoneyParseError> {
        let err = || MoneyParseError(input.to_string());
        let s = input.trim().replace(',', ".");
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, s),
        };
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s.as_str(), ""),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let whole: i64 = whole.parse().map_err(|_| err())?;
        let frac_cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| err())? * 10,
            _ => frac.parse::<i64>().map_err(|_| err())?,
        };
        let cents = whole.checked_mul(100).and_then(|c| c.checked_add(frac_cents)).ok_or_else(err)?;
        Ok(Money { cents: if negative { -cents } else { cents } })
    }

    /// Parses what people type into a form field, German conventions first: "26,50",
    /// "1.234,56", "1 234,56", "1.234" (thousands), "26.50", with a trailing "€" or "EUR".
    /// Machine input (JSON, CSV, decisions) goes through [`Money::parse`], where "1.234" is
    /// refused rather than read as a thousand.
    pub fn parse_input(input: &str) -> Result<Money, MoneyParseError> {
        let err = || MoneyParseError(input.to_string());
        let mut s = input.trim();
        for unit in ["€", "EUR", "Euro"] {
            s = s.strip_suffix(unit).unwrap_or(s).trim_end();
        }
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let (sign, digits) = match s.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", s.as_str()),
        };
        // With a comma, the comma is the decimal mark and dots group thousands; without one,
        // dots group thousands if there are several or one is followed by three digits.
        let (whole, frac) = match digits.split_once(',') {
            Some((w, f)) => (w, Some(f)),
            None if digits.matches('.').count() > 1 || digits.split_once('.').is_some_and(|(_, f)| f.len() == 3) => {
                (digits, None)
            }
            None => return Money::parse(&s),
        };
        let groups: Vec<&str> = whole.split('.').collect();
        let grouped = groups.len() == 1
            || (!groups[0].is_empty() && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
        if !grouped {
            return Err(err());
        }
        let whole = whole.replace('.', "");
        let normal = match frac {
            Some(f) => format!("{sign}{whole}.{f}"),
            None => format!("{sign}{whole}"),
        };
        Money::parse(&normal).map_err(|_| err())
    }

    /// An amount of euros as decisions and parameters carry it in JSON: a number (`26`,
    /// `12.5`) or a text (`"26.00"`).
    pub fn from_json_euros(value: &serde_json::Value) -> Result<Money, MoneyParseError> {
        match value {
            serde_json::Value::Number(n) => Money::parse(&n.to_string()),
            serde_json::Value::String(s) => Money::parse(s),
            other => Err(MoneyParseError(other.to_string())),
        }
    }

    /// "26.00" — the machine format used in JSON and CSV exports.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// "26,00 €" — German display format with thousands separators.
    pub fn to_german(self) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(ch);
        }
        format!("{sign}{grouped},{:02} €", abs % 100)
    }
}

/// A Kassenzeichen: the number under which the finance office books a receivable and
/// matches the payment. Year, a number counted per tenant, and a check digit (Luhn), so that
/// a mistyped reference on a bank transfer is recognised.
pub fn kassenzeichen(year: i32, number: i64) -> String {
    let body = format!("{year}{number:07}");
    let check = luhn_check_digit(&body);
    format!("{body}{check}")
}

/// Whether a Kassenzeichen has a valid check digit.
pub fn kassenzeichen_valid(k: &str) -> bool {
    k.len() >= 2
        && k.bytes().all(|b| b.is_ascii_digit())
        && luhn_check_digit(&k[..k.len() - 1]) == (k.as_bytes()[k.len() - 1] - b'0') as u32
}

fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i.is_multiple_of(2) {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_german())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(Money::parse("26").unwrap().cents(), 2600);
        assert_eq!(Money::parse("26,5").unwrap().cents(), 2650);
        assert_eq!(Money::parse("26.05").unwrap().cents(), 2605);
        assert_eq!(Money::parse("1234567.89").unwrap().to_german(), "1.234.567,89 €");
        assert_eq!(Money::parse("0").unwrap().to_decimal_string(), "0.00");
        assert_eq!(Money::parse("-3.1").unwrap().to_decimal_string(), "-3.10");
    }

    #[test]
    fn kassenzeichen_has_a_check_digit() {
        let k = kassenzeichen(2026, 17);
        assert_eq!(k.len(), 12);
        assert!(k.starts_with("20260000017"));
        assert!(kassenzeichen_valid(&k));
        let mut wrong = k.clone().into_bytes();
        wrong[6] = if wrong[6] == b'9' { b'8' } else { wrong[6] + 1 };
        assert!(!kassenzeichen_valid(&String::from_utf8(wrong).unwrap()));
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }

    #[test]
    fn reads_euros_from_json() {
        assert_eq!(Money::from_json_euros(&serde_json::json!(26)).unwrap().cents(), 2600);
        assert_eq!(Money::from_json_euros(&serde_json::json!(12.5)).unwrap().cents(), 1250);
        assert_eq!(Money::from_json_euros(&serde_json::json!("3,10")).unwrap().cents(), 310);
        assert!(Money::from_json_euros(&serde_json::json!(true)).is_err());
        assert!(Money::from_json_euros(&serde_json::json!(1.005)).is_err(), "more than cents is refused");
    }

    #[test]
    fn reads_what_people_type() {
        for (input, cents) in [
            ("26", 2600),
            ("26,5", 2650),
            ("26.50", 2650),
            ("1.234,56", 123456),
            ("1 234,56 €", 123456),
            ("1.234", 123400),
            ("1.234.567", 123456700),
            ("12 EUR", 1200),
            ("-3,10", -310),
        ] {
            assert_eq!(Money::parse_input(input).map(Money::cents), Ok(cents), "{input}");
        }
        for bad in ["", "abc", "1,2,3", "12.34.5", "1.23,4", "1,234.56", "26,505", "€"] {
            assert!(Money::parse_input(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Money::parse("1.234").is_err(), "machine input stays strict");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1.234", "1,2,3", ".5", "1e3", "--1"] {
            assert!(Money::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
