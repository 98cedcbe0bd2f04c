//! The GiroCode: a credit transfer as a QR code that banking apps read (EPC069-12, "SEPA
//! Credit Transfer Quick Response Code", version 002): its text, and the code drawn as SVG
//! for the portal's status page and the fee notice.

use crate::iban::Iban;
use crate::money::Money;
use crate::tenant::BankAccount;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

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
    /// The transfer of a fee to the authority's account, if the account is set and valid.
    pub fn for_fee(bank: &BankAccount, amount: Money, kassenzeichen: &str) -> Option<Transfer> {
        Some(Transfer {
            name: bank.holder.clone(),
            iban: Iban::parse(&bank.iban).ok()?,
            bic: bank.bic.clone(),
            amount,
            remittance: kassenzeichen.to_string(),
        })
    }

    /// The code drawn as an SVG element; `None` if the transfer breaks a limit of the
    /// standard.
    pub fn svg(&self) -> Option<String> {
        qr_svg(&self.payload().ok()?)
    }

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

/// The QR code of `payload` as an SVG element (error correction level M, as EPC069-12
/// requires), with its quiet zone; `None` if the text is too long for a QR code.
pub fn qr_svg(payload: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // The renderer writes an XML declaration first; inline in HTML only the element counts.
    Some(svg[svg.find("<svg")?..].to_string())
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

    /// Reads the drawn code back (as a banking app's camera would) and finds the text.
    fn decode(svg: &str) -> String {
        // Dark modules are `<path d="M{x} {y}h{w}v{h}H{x}V{y}z…"` rectangles of one module;
        // the size of a module is the width of the image divided by the module count.
        let width: usize = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut dark = std::collections::HashSet::new();
        let mut module = usize::MAX;
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let nums: Vec<usize> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let (x, y, w) = (nums[0], nums[1], nums[2]);
            module = module.min(w);
            dark.insert((x, y));
        }
        let scale = 4;
        let mut img =
            rqrr::PreparedImage::prepare_from_bitmap(width / module * scale, width / module * scale, |x, y| {
                dark.contains(&((x / scale) * module, (y / scale) * module))
            });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_drawn_code_reads_back_as_the_transfer() {
        let bank = BankAccount {
            holder: "Stadtkasse Musterstadt".into(),
            iban: "DE02 1203 0000 0000 2020 51".into(),
            bic: "BYLADEM1001".into(),
            bank: "Sparkasse".into(),
        };
        let t = Transfer::for_fee(&bank, Money::from_cents(2600), "2026-000017-3").unwrap();
        let svg = t.svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(decode(&svg), t.payload().unwrap());
        let broken = BankAccount { iban: "DE00 1234".into(), ..bank };
        assert!(Transfer::for_fee(&broken, Money::from_cents(2600), "x").is_none(), "no code for an invalid account");
    }
}
