//! Zahlungsabgleich: bank statements (camt.053) imported, their payments matched to the
//! fees by Kassenzeichen. A payment without doubt marks its fee paid and tells the case
//! (message `zahlung`, as an online payment does); every other transaction that concerns
//! the town waits for a clerk, who assigns it to a fee or closes it with a note. Each
//! transaction is recorded once per account and bank reference, so a statement imported
//! twice (or two overlapping statements) books nothing twice.

use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::camt::{self, Transaction};
use rathaus_domain::reconciliation::{judge, named_kassenzeichen, FeeFacts, Problem, Verdict};
use rathaus_domain::Money;
use rathaus_engine::FieldError;
use rathaus_store::audit::{self, Actor};
use rathaus_store::bank::{self, BankTransaction, NewTransaction};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, fees, new_id};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// What became of one transaction of an imported statement.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ImportedTransaction {
    /// The bank's reference of the transaction (within a collective entry: `…/n`).
    pub referenz: String,
    pub buchungstag: String,
    /// Euro with a decimal point and two places; money out is negative.
    pub betrag: String,
    /// `gebucht` (paid a fee), `ungeklaert` (waits for a clerk), `bereits_eingelesen`
    /// (recorded by an earlier import; nothing changed) or `nicht_betroffen` (money out).
    pub ergebnis: String,
    /// Why it waits for a clerk: `ohne_kassenzeichen`, `kassenzeichen_unbekannt`,
    /// `mehrere_forderungen`, `bereits_bezahlt`, `betrag_abweichend`, `rueckbuchung`.
    pub grund: Option<String>,
    /// The Kassenzeichen of the town's fee it names, if exactly one.
    pub kassenzeichen: Option<String>,
    /// The Aktenzeichen of the case whose fee it paid.
    pub aktenzeichen: Option<String>,
}

/// The result of importing a statement.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ImportReport {
    /// The statement's id as the bank gave it.
    pub kontoauszug: String,
    /// The IBAN of the account.
    pub konto: Option<String>,
    pub gebucht: usize,
    pub ungeklaert: usize,
    pub bereits_eingelesen: usize,
    pub nicht_betroffen: usize,
    pub umsaetze: Vec<ImportedTransaction>,
}

/// What a clerk does with a transaction that waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Books it to the fee with this Kassenzeichen (as typed; spaces and hyphens allowed).
    Assign { kassenzeichen: String },
    /// Closes it without a fee (refunded, not the town's, …).
    Close,
}

fn invalid(field: &str, message: impl Into<String>) -> RuntimeError {
    RuntimeError::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
}

fn signed(tx: &Transaction) -> i64 {
    if tx.credit {
        tx.amount.cents()
    } else {
        -tx.amount.cents()
    }
}

/// An IBAN as compared: without spaces, in capitals.
fn compact_iban(iban: &str) -> String {
    iban.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

/// A Kassenzeichen as typed: the digits, checked.
fn typed_kassenzeichen(input: &str) -> std::result::Result<String, String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '/')).collect();
    if digits.is_empty() {
        return Err("Bitte geben Sie das Kassenzeichen der Gebühr an.".into());
    }
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("„{}“ ist kein Kassenzeichen: es hat zwölf Ziffern.", input.trim()));
    }
    if !rathaus_domain::money::kassenzeichen_valid(&digits) {
        return Err(format!("Das Kassenzeichen {digits} ist falsch: die Prüfziffer stimmt nicht."));
    }
    Ok(digits)
}

impl Runtime {
    /// Imports a camt.053 statement of the town's account. A file that is not one, or of
    /// another account than the one the notices name, is refused as a whole (`Invalid`,
    /// field `kontoauszug`) and nothing is recorded.
    pub async fn import_statement(&self, tenant: &Tenant, xml: &str, actor: &Actor) -> Result<ImportReport> {
        let statement = camt::parse(xml).map_err(|e| invalid("kontoauszug", e.to_string()))?;
        let own = compact_iban(&tenant.settings.bank.iban);
        let account = statement.iban.as_deref().map(compact_iban).unwrap_or_default();
        if !own.is_empty() && !account.is_empty() && own != account {
            return Err(invalid(
                "kontoauszug",
                format!(
                    "Der Kontoauszug ist vom Konto {account}. Die Bescheide dieser Gemeinde nennen das Konto {own}; nur dessen Auszüge werden abgeglichen."
                ),
            ));
        }
        let mut report = ImportReport {
            kontoauszug: statement.id.clone(),
            konto: statement.iban.clone(),
            gebucht: 0,
            ungeklaert: 0,
            bereits_eingelesen: 0,
            nicht_betroffen: 0,
            umsaetze: Vec::with_capacity(statement.transactions.len()),
        };
        for tx in &statement.transactions {
            let line = self.import_transaction(tenant, &statement.id, &account, tx, actor).await?;
            match line.ergebnis.as_str() {
                "gebucht" => report.gebucht += 1,
                "ungeklaert" => report.ungeklaert += 1,
                "bereits_eingelesen" => report.bereits_eingelesen += 1,
                _ => report.nicht_betroffen += 1,
            }
            report.umsaetze.push(line);
        }
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        audit::append(
            &mut conn,
            &tenant.tenant_id,
            actor,
            "finance.statement_imported",
            "bank_statement",
            &statement.id,
            &json!({"account": account, "booked": report.gebucht, "unmatched": report.ungeklaert,
                "known": report.bereits_eingelesen, "not_concerned": report.nicht_betroffen}),
            now,
        )
        .await?;
        Ok(report)
    }

    async fn import_transaction(
        &self,
        tenant: &Tenant,
        statement_id: &str,
        account: &str,
        tx: &Transaction,
        actor: &Actor,
    ) -> Result<ImportedTransaction> {
        let t = &tenant.tenant_id;
        let named = named_kassenzeichen(tx);
        let mut line = ImportedTransaction {
            referenz: tx.reference.clone(),
            buchungstag: tx.booked_on.format("%Y-%m-%d").to_string(),
            betrag: Money::from_cents(signed(tx)).to_decimal_string(),
            ergebnis: "nicht_betroffen".into(),
            grund: None,
            kassenzeichen: None,
            aktenzeichen: None,
        };
        // Twice at most: a fee paid online between reading it and booking the transfer is
        // judged again (then paid already).
        for _ in 0..2 {
            let now = self.clock.now();
            let mut db = self.store.begin().await?;
            let known = fees::by_kassenzeichen(&mut db, t, &named).await?;
            let facts: Vec<FeeFacts> = known
                .iter()
                .map(|f| FeeFacts {
                    kassenzeichen: f.kassenzeichen.clone(),
                    amount: Money::from_cents(f.amount_cents),
                    paid: f.status == "paid",
                })
                .collect();
            let verdict = judge(tx, &named, &facts);
            let (status, problem, kassenzeichen) = match &verdict {
                Verdict::NotConcerned => return Ok(line),
                Verdict::Pays(k) => (bank::MATCHED, None, Some(k.clone())),
                Verdict::Unmatched { problem, kassenzeichen } => {
                    (bank::UNMATCHED, Some(*problem), kassenzeichen.clone())
                }
            };
            let fee = kassenzeichen.as_ref().and_then(|k| known.iter().find(|f| &f.kassenzeichen == k));
            let transaction_id = new_id();
            let recorded = bank::insert(
                &mut db,
                &NewTransaction {
                    tenant_id: t,
                    transaction_id: &transaction_id,
                    account,
                    bank_reference: &tx.reference,
                    statement_id,
                    booked_on: &line.buchungstag,
                    amount_cents: signed(tx),
                    reversal: tx.reversal,
                    payer: tx.payer.as_deref().unwrap_or(""),
                    payer_iban: tx.payer_iban.as_deref().unwrap_or(""),
                    remittance: &tx.remittance,
                    kassenzeichen: kassenzeichen.as_deref(),
                    fee_id: fee.map(|f| f.fee_id.as_str()),
                    status,
                    problem: problem.map(Problem::code),
                    imported_by: &actor.label(),
                    now,
                },
            )
            .await?;
            line.kassenzeichen = kassenzeichen.clone();
            if !recorded {
                db.rollback().await?;
                line.ergebnis = "bereits_eingelesen".into();
                return Ok(line);
            }
            let Some(fee) = fee.filter(|_| status == bank::MATCHED) else {
                db.commit().await?;
                line.ergebnis = "ungeklaert".into();
                line.grund = problem.map(|p| p.code().to_string());
                return Ok(line);
            };
            if !fees::mark_paid(&mut db, t, &fee.fee_id).await? {
                db.rollback().await?;
                continue;
            }
            let case = self.book_payment(&mut db, t, fee, &transaction_id, tx.amount, actor, now).await?;
            db.commit().await?;
            self.tell_paid(t, &case.reference, tx.amount.cents(), "ueberweisung").await;
            line.ergebnis = "gebucht".into();
            line.aktenzeichen = Some(case.reference);
            return Ok(line);
        }
        Err(RuntimeError::Conflict(format!("Umsatz {}: die Gebühr änderte sich während des Abgleichs", tx.reference)))
    }

    /// The case's side of a transfer booked to its fee: timeline entry and audit.
    #[allow(clippy::too_many_arguments)]
    async fn book_payment(
        &self,
        db: &mut sqlx::AnyConnection,
        t: &str,
        fee: &fees::Fee,
        transaction_id: &str,
        amount: Money,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<cases::Case> {
        let case = cases::by_id(db, t, &fee.case_id).await?.ok_or(RuntimeError::NotFound)?;
        events::add_write(
            t,
            &case.case_id,
            "payment",
            &format!("Gebühr per Überweisung bezahlt ({amount})"),
            true,
            now,
        )
        .execute(&mut *db)
        .await?;
        audit::append(
            db,
            t,
            actor,
            "payment.transfer_booked",
            "case",
            &case.case_id,
            &json!({"fee": fee.fee_id, "kassenzeichen": fee.kassenzeichen, "bank_transaction": transaction_id,
                "amount_cents": amount.cents(), "fee_cents": fee.amount_cents}),
            now,
        )
        .await?;
        Ok(case)
    }

    /// The transactions that wait for a clerk (oldest first) and the latest resolved.
    pub async fn bank_transactions(&self, tenant: &Tenant) -> Result<(Vec<BankTransaction>, Vec<BankTransaction>)> {
        let mut conn = self.store.conn().await?;
        let open = bank::with_status(&mut conn, &tenant.tenant_id, bank::UNMATCHED, 500).await?;
        let done = bank::resolved(&mut conn, &tenant.tenant_id, 50).await?;
        Ok((open, done))
    }

    /// A clerk's decision on a transaction that waits. Assigning books it to the fee (a
    /// different amount needs a note saying why it is accepted); closing needs a note.
    /// Returns the Aktenzeichen of the case whose fee it paid, if assigned.
    pub async fn resolve_bank_transaction(
        &self,
        tenant: &Tenant,
        transaction_id: &str,
        resolution: &Resolution,
        note: &str,
        actor: &Actor,
    ) -> Result<Option<String>> {
        let t = &tenant.tenant_id;
        let note = note.trim();
        let now = self.clock.now();
        let mut db = self.store.begin().await?;
        let row = bank::by_id(&mut db, t, transaction_id).await?.ok_or(RuntimeError::NotFound)?;
        if row.status != bank::UNMATCHED {
            return Err(RuntimeError::Conflict("Dieser Umsatz ist bereits geklärt.".into()));
        }
        let by = actor.label();
        match resolution {
            Resolution::Close => {
                if note.is_empty() {
                    return Err(invalid("vermerk", "Bitte vermerken Sie, warum der Umsatz ohne Gebühr erledigt ist."));
                }
                if !bank::resolve(&mut db, t, transaction_id, bank::CLOSED, None, note, &by, now).await? {
                    return Err(RuntimeError::Conflict("Dieser Umsatz ist bereits geklärt.".into()));
                }
                audit::append(
                    &mut db,
                    t,
                    actor,
                    "bank.transaction_closed",
                    "bank_transaction",
                    transaction_id,
                    &json!({"bank_reference": row.bank_reference, "amount_cents": row.amount_cents, "note": note}),
                    now,
                )
                .await?;
                db.commit().await?;
                Ok(None)
            }
            Resolution::Assign { kassenzeichen } => {
                if row.amount_cents <= 0 {
                    return Err(invalid(
                        "kassenzeichen",
                        "Eine Rückbuchung bezahlt keine Gebühr. Klären Sie sie mit der Kasse und vermerken Sie das Ergebnis.",
                    ));
                }
                let k = typed_kassenzeichen(kassenzeichen).map_err(|m| invalid("kassenzeichen", m))?;
                let fee =
                    fees::by_kassenzeichen(&mut db, t, std::slice::from_ref(&k)).await?.pop().ok_or_else(|| {
                        invalid("kassenzeichen", format!("Eine Gebühr mit dem Kassenzeichen {k} gibt es hier nicht."))
                    })?;
                if fee.status == "paid" {
                    return Err(invalid(
                        "kassenzeichen",
                        format!("Die Gebühr mit dem Kassenzeichen {k} ist bereits bezahlt."),
                    ));
                }
                if fee.amount_cents != row.amount_cents && note.is_empty() {
                    return Err(invalid(
                        "vermerk",
                        format!(
                            "Der Umsatz ({}) weicht von der Gebühr ({}) ab. Bitte vermerken Sie, warum er sie begleicht.",
                            Money::from_cents(row.amount_cents),
                            Money::from_cents(fee.amount_cents)
                        ),
                    ));
                }
                let resolved =
                    bank::resolve(&mut db, t, transaction_id, bank::ASSIGNED, Some((&fee.fee_id, &k)), note, &by, now)
                        .await?;
                if !resolved || !fees::mark_paid(&mut db, t, &fee.fee_id).await? {
                    return Err(RuntimeError::Conflict("Umsatz oder Gebühr wurden gerade anders geklärt.".into()));
                }
                let amount = Money::from_cents(row.amount_cents);
                let case = self.book_payment(&mut db, t, &fee, transaction_id, amount, actor, now).await?;
                db.commit().await?;
                self.tell_paid(t, &case.reference, amount.cents(), "ueberweisung").await;
                Ok(Some(case.reference))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_kassenzeichen_is_read_as_written_and_checked() {
        let k = rathaus_domain::kassenzeichen(2026, 14);
        let grouped = format!("{} {}-{}", &k[..4], &k[4..11], &k[11..]);
        assert_eq!(typed_kassenzeichen(&grouped), Ok(k.clone()));
        assert!(typed_kassenzeichen("").unwrap_err().contains("Bitte geben Sie"));
        assert!(typed_kassenzeichen("GEW-2026-1").unwrap_err().contains("zwölf Ziffern"));
        let typo = format!("{}{}", &k[..11], (k.as_bytes()[11] - b'0' + 1) % 10);
        assert!(typed_kassenzeichen(&typo).unwrap_err().contains("Prüfziffer"));
    }
}
