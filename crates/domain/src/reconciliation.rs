//! Zahlungsabgleich: what a transaction of a bank statement means for the receivables — it
//! pays one fee, or it goes to a clerk with the reason. A payment is booked by the machine
//! only when there is no doubt: one known Kassenzeichen, the fee still open, the amount
//! exactly what it asks. Everything else (a partial or over payment, a fee paid already, a
//! number nobody issued, none at all, a return) is a person's decision.

use crate::camt::{kassenzeichen_in, Transaction};
use crate::Money;

/// What Rathaus knows of a fee named on a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeFacts {
    pub kassenzeichen: String,
    pub amount: Money,
    pub paid: bool,
}

/// Why a transaction was not booked by the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The remittance names no Kassenzeichen (or only mistyped ones).
    NoKassenzeichen,
    /// It names a well-formed Kassenzeichen that was never issued here.
    UnknownKassenzeichen,
    /// It names several fees of this town.
    SeveralFees,
    /// The fee is paid already (paid twice, or online and by transfer).
    AlreadyPaid,
    /// Less or more than the fee.
    AmountDiffers,
    /// A payment given back by the bank (Rücklastschrift, Storno).
    Reversal,
}

impl Problem {
    pub const ALL: [Problem; 6] = [
        Problem::NoKassenzeichen,
        Problem::UnknownKassenzeichen,
        Problem::SeveralFees,
        Problem::AlreadyPaid,
        Problem::AmountDiffers,
        Problem::Reversal,
    ];

    /// As stored and as the API names it.
    pub fn code(self) -> &'static str {
        match self {
            Problem::NoKassenzeichen => "ohne_kassenzeichen",
            Problem::UnknownKassenzeichen => "kassenzeichen_unbekannt",
            Problem::SeveralFees => "mehrere_forderungen",
            Problem::AlreadyPaid => "bereits_bezahlt",
            Problem::AmountDiffers => "betrag_abweichend",
            Problem::Reversal => "rueckbuchung",
        }
    }

    pub fn parse(code: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// What the machine does with a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Money that is not a payment to the town (an outgoing payment): not Rathaus's.
    NotConcerned,
    /// Pays the fee with this Kassenzeichen.
    Pays(String),
    /// For a clerk; with the Kassenzeichen it names, if exactly one fee of the town.
    Unmatched { problem: Problem, kassenzeichen: Option<String> },
}

/// The Kassenzeichen a transaction names: in the remittance text, else in the end-to-end
/// reference (where payment platforms put it).
pub fn named_kassenzeichen(tx: &Transaction) -> Vec<String> {
    let mut found = kassenzeichen_in(&tx.remittance);
    if let Some(e2e) = &tx.end_to_end_id {
        for k in kassenzeichen_in(e2e) {
            if !found.contains(&k) {
                found.push(k);
            }
        }
    }
    found
}

/// Decides a transaction. `known` are the fees of the town among [`named_kassenzeichen`]
/// (a well-formed number may still be one nobody issued: a check digit passes by chance
/// one time in ten).
pub fn judge(tx: &Transaction, named: &[String], known: &[FeeFacts]) -> Verdict {
    let one = (known.len() == 1).then(|| known[0].kassenzeichen.clone());
    if tx.reversal {
        // A returned credit concerns the town; a reversed outgoing payment does not.
        return if tx.credit {
            Verdict::NotConcerned
        } else {
            Verdict::Unmatched { problem: Problem::Reversal, kassenzeichen: one }
        };
    }
    if !tx.credit {
        return Verdict::NotConcerned;
    }
    let problem = match known {
        [] if named.is_empty() => Problem::NoKassenzeichen,
        [] => Problem::UnknownKassenzeichen,
        [fee] if fee.paid => Problem::AlreadyPaid,
        [fee] if fee.amount != tx.amount => Problem::AmountDiffers,
        [fee] => return Verdict::Pays(fee.kassenzeichen.clone()),
        _ => Problem::SeveralFees,
    };
    Verdict::Unmatched { problem, kassenzeichen: one }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kassenzeichen;
    use chrono::NaiveDate;

    fn tx(cents: i64, remittance: &str) -> Transaction {
        Transaction {
            reference: "r1".into(),
            booked_on: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            amount: Money::from_cents(cents),
            credit: true,
            reversal: false,
            payer: Some("Erika Muster".into()),
            payer_iban: None,
            remittance: remittance.into(),
            end_to_end_id: None,
        }
    }

    fn fee(number: i64, cents: i64, paid: bool) -> FeeFacts {
        FeeFacts { kassenzeichen: kassenzeichen(2026, number), amount: Money::from_cents(cents), paid }
    }

    fn verdict(t: &Transaction, known: &[FeeFacts]) -> Verdict {
        judge(t, &named_kassenzeichen(t), known)
    }

    #[test]
    fn the_exact_amount_for_one_open_fee_pays_it() {
        let k = kassenzeichen(2026, 14);
        let t = tx(2600, &format!("KZ {k}"));
        assert_eq!(named_kassenzeichen(&t), std::slice::from_ref(&k));
        assert_eq!(verdict(&t, &[fee(14, 2600, false)]), Verdict::Pays(k));
    }

    #[test]
    fn everything_in_doubt_goes_to_a_clerk_with_the_reason() {
        let k = kassenzeichen(2026, 14);
        let unmatched = |problem, kz: Option<&str>| Verdict::Unmatched { problem, kassenzeichen: kz.map(String::from) };
        let t = tx(2000, &format!("KZ {k}"));
        assert_eq!(verdict(&t, &[fee(14, 2600, false)]), unmatched(Problem::AmountDiffers, Some(&k)), "partial");
        let t = tx(2600, &format!("KZ {k}"));
        assert_eq!(verdict(&t, &[fee(14, 2600, true)]), unmatched(Problem::AlreadyPaid, Some(&k)), "twice");
        assert_eq!(verdict(&t, &[]), unmatched(Problem::UnknownKassenzeichen, None), "never issued here");
        assert_eq!(verdict(&tx(2600, "Gewerbe Muster"), &[]), unmatched(Problem::NoKassenzeichen, None));
        let k2 = kassenzeichen(2026, 15);
        let both = tx(5200, &format!("{k} {k2}"));
        assert_eq!(
            verdict(&both, &[fee(14, 2600, false), fee(15, 2600, false)]),
            unmatched(Problem::SeveralFees, None),
            "one transfer for two notices: the clerk splits it"
        );
    }

    #[test]
    fn returns_concern_the_town_outgoing_payments_do_not() {
        let k = kassenzeichen(2026, 14);
        let returned = Transaction { credit: false, reversal: true, ..tx(2600, &format!("Rücklastschrift {k}")) };
        assert_eq!(
            verdict(&returned, &[fee(14, 2600, true)]),
            Verdict::Unmatched { problem: Problem::Reversal, kassenzeichen: Some(k.clone()) }
        );
        let outgoing = Transaction { credit: false, ..tx(1250, "Rechnung 9981") };
        assert_eq!(verdict(&outgoing, &[]), Verdict::NotConcerned);
        let reversed_outgoing = Transaction { reversal: true, ..tx(1250, "Storno Rechnung 9981") };
        assert_eq!(verdict(&reversed_outgoing, &[]), Verdict::NotConcerned);
    }

    #[test]
    fn a_payment_platform_may_carry_the_kassenzeichen_in_the_end_to_end_reference() {
        let k = kassenzeichen(2026, 14);
        let t = Transaction { end_to_end_id: Some(format!("EPAYBL-{k}")), ..tx(2600, "Gebühr Stadt") };
        assert_eq!(verdict(&t, &[fee(14, 2600, false)]), Verdict::Pays(k));
    }

    #[test]
    fn problem_codes_read_back() {
        for p in Problem::ALL {
            assert_eq!(Problem::parse(p.code()), Some(p));
        }
        assert_eq!(Problem::parse("x"), None);
    }
}
