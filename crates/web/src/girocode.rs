//! The GiroCode on the case status page: the fee as a credit transfer a banking app reads
//! from the screen (text per EPC069-12 from `rathaus_domain::girocode`), next to the same
//! details written out for those who type them.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rathaus_domain::girocode::Transfer;
use rathaus_domain::iban::Iban;
use rathaus_domain::tenant::BankAccount;
use rathaus_domain::Money;

/// The QR code of `payload` as an SVG element (error correction level M, as EPC069-12
/// requires), with its quiet zone; `None` if the text is too long for a QR code.
pub(crate) fn qr_svg(payload: &str) -> Option<String> {
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

/// The transfer of a fee to the tenant's account, if the account is set and valid.
pub(crate) fn transfer(bank: &BankAccount, amount: Money, kassenzeichen: &str) -> Option<Transfer> {
    let iban = Iban::parse(&bank.iban).ok()?;
    Some(Transfer {
        name: bank.holder.clone(),
        iban,
        bic: bank.bic.clone(),
        amount,
        remittance: kassenzeichen.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = transfer(&bank, Money::from_cents(2600), "2026-000017-3").unwrap();
        let payload = t.payload().unwrap();
        let svg = qr_svg(&payload).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(decode(&svg), payload);
        let broken = BankAccount { iban: "DE00 1234".into(), ..bank };
        assert!(transfer(&broken, Money::from_cents(2600), "x").is_none(), "no code for an invalid account");
    }
}
