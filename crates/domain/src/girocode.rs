//! The GiroCode: a credit transfer as a QR code that banking apps read (EPC069-12, "SEPA
//! Credit Transfer Quick Response Code", version 002). This module builds its text; the
//! portal draws it.

use crate::iban::Iban;
use crate::money::Money;

/// A credit transfer to the authority: who, where, how much, and the Kassenzeichen as the
/// remittance information, so that the payment can be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub name: String,
    pub iban: Iban,
    /// Optional in version 002 within the EEA.
    pub bic: String,
    pub amount: Money,
    pub remittance: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiroCodeError {
    #[error("Empfängername fehlt oder ist länger als 70 Zeichen")]
    Name,
    #[error("BIC „{0}“ hat nicht 8 oder 11 Zeichen")]
    Bic(String),
    #[error("Betrag muss zwischen 0,01 € und 999.999.999,99 € liegen")]
    Amount,
    #[error("Verwendungszweck ist länger als 140 Zeichen")]
    Remittance,
}

impl Transfer {
    /// The code's text: twelve lines separated by LF (the standard allows LF or CRLF), the
    /// optional trailing ones left out.
    pub fn payload(&self) -> Result<String, GiroCodeError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 70 {
            return Err(GiroCodeError::Name);
        }
        let bic = self.bic.trim().to_ascii_uppercase();
        if !bic.is_empty() && bic.len() != 8 && bic.len() != 11 {
            return Err(GiroCodeError::Bic(bic));
        }
        let cents = self.amount.cents();
        if !(1..=99_999_999_999).contains(&cents) {
            return Err(GiroCodeError::Amount);
        }
        let remittance = self.remittance.trim();
        if remittance.chars().count() > 140 {
            return Err(GiroCodeError::Remittance);
        }
        let lines = [
            "BCD".to_string(),
            "002".to_string(),
            // Character set 1: UTF-8.
            "1".to_string(),
            "SCT".to_string(),
            bic,
            name.to_string(),
            self.iban.electronic().to_string(),
            format!("EUR{}.{:02}", cents / 100, cents % 100),
            // Purpose code and structured creditor reference: not used.
            String::new(),
            String::new(),
            remittance.to_string(),
        ];
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> Transfer {
        Transfer {
            name: "Stadtkasse Musterstadt".into(),
            iban: Iban::parse("DE02 1203 0000 0000 2020 51").unwrap(),
            bic: "byladem1001".into(),
            amount: Money::from_cents(2600),
            remittance: "Kassenzeichen 2026-000017-3".into(),
        }
    }

    #[test]
    fn the_payload_follows_epc069_12_version_002() {
        assert_eq!(
            transfer().payload().unwrap(),
            "BCD\n002\n1\nSCT\nBYLADEM1001\nStadtkasse Musterstadt\nDE02120300000000202051\nEUR26.00\n\n\nKassenzeichen 2026-000017-3"
        );
        let no_bic = Transfer { bic: String::new(), amount: Money::from_cents(5), ..transfer() };
        assert!(no_bic.payload().unwrap().contains("\nSCT\n\nStadtkasse"), "BIC optional");
        assert!(no_bic.payload().unwrap().contains("\nEUR0.05\n"));
    }

    #[test]
    fn limits_of_the_standard_are_checked() {
        assert_eq!(Transfer { amount: Money::ZERO, ..transfer() }.payload(), Err(GiroCodeError::Amount));
        assert_eq!(Transfer { name: "x".repeat(71), ..transfer() }.payload(), Err(GiroCodeError::Name));
        assert_eq!(Transfer { bic: "BYLA".into(), ..transfer() }.payload(), Err(GiroCodeError::Bic("BYLA".into())));
        assert_eq!(Transfer { remittance: "x".repeat(141), ..transfer() }.payload(), Err(GiroCodeError::Remittance));
    }
}
