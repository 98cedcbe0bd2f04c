//! Paying a fee online through a payment provider: the applicant is sent to the provider,
//! the provider sends them back with a signed answer, and the answer marks the fee paid —
//! once, however often it arrives — and tells the case (message `zahlung`).
//!
//! The provider is an interface ([`PaymentProvider`]); a municipality's ePayBL connection
//! implements it. Built in is the test provider „Testkasse“, which runs inside Rathaus,
//! moves no money and signs its answers like a real one (HMAC-SHA256 with the installation
//! secret), so that the whole flow can be tried and tested.

use crate::{Result, Runtime, RuntimeError};
use hmac::{Hmac, Mac};
use rathaus_store::audit::{self, Actor};
use rathaus_store::payments::{self, Payment};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, fees, new_id, ts};
use serde_json::{json, Map};

/// What the provider answers about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Paid,
    Cancelled,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "paid" => Some(Outcome::Paid),
            "cancelled" => Some(Outcome::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Paid => payments::PAID,
            Outcome::Cancelled => payments::CANCELLED,
        }
    }
}

/// A payment provider as Rathaus uses it.
pub trait PaymentProvider: Send + Sync {
    /// Its name, stored with each payment.
    fn name(&self) -> &'static str;
    /// Where to send the applicant to pay `payment`.
    fn checkout_url(&self, public_url: &str, tenant_slug: &str, payment: &Payment) -> String;
    /// Whether `signature` is the provider's for this answer.
    fn verify(&self, tenant_id: &str, payment: &Payment, outcome: Outcome, signature: &str) -> bool;
}

/// The built-in test provider: its pages are part of the portal (`/{tenant}/testkasse/…`).
pub struct TestProvider {
    secret: Vec<u8>,
}

impl TestProvider {
    pub fn new(secret: &[u8]) -> TestProvider {
        TestProvider { secret: secret.to_vec() }
    }

    /// The MAC of an answer: HMAC-SHA256 over tenant, payment, amount and outcome.
    fn mac(&self, tenant_id: &str, payment: &Payment, outcome: Outcome) -> Hmac<sha2::Sha256> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        for part in [tenant_id, &payment.payment_id, &payment.amount_cents.to_string(), outcome.as_str()] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    /// The signature of an answer, as the provider sends it back (hex).
    pub fn sign(&self, tenant_id: &str, payment: &Payment, outcome: Outcome) -> String {
        hex::encode(self.mac(tenant_id, payment, outcome).finalize().into_bytes())
    }
}

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "testkasse"
    }

    fn checkout_url(&self, public_url: &str, tenant_slug: &str, payment: &Payment) -> String {
        format!("{public_url}/{tenant_slug}/testkasse/{}", payment.payment_id)
    }

    fn verify(&self, tenant_id: &str, payment: &Payment, outcome: Outcome, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature.trim()) else { return false };
        // Constant time: the signature is not revealed byte by byte.
        self.mac(tenant_id, payment, outcome).verify_slice(&given).is_ok()
    }
}

/// What an answer of the provider did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentAnswer {
    /// The fee is now paid (or the attempt cancelled).
    Recorded { case_reference: String, outcome: Outcome },
    /// The answer came before and was recorded then; nothing changed.
    AlreadyRecorded { case_reference: String },
}

impl Runtime {
    fn provider(&self) -> Result<&dyn PaymentProvider> {
        self.payments.get().map(|p| p.as_ref()).ok_or_else(|| {
            RuntimeError::Conflict("Online-Zahlung ist hier nicht eingerichtet; bitte überweisen Sie.".into())
        })
    }

    /// Whether fees can be paid online here.
    pub fn online_payment(&self) -> bool {
        self.payments.get().is_some()
    }

    /// Starts the online payment of an open fee of the case; returns the provider's address
    /// to send the applicant to.
    pub async fn start_payment(&self, tenant: &Tenant, case_id: &str) -> Result<String> {
        let provider = self.provider()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let fee = fees::for_case(&mut tx, &tenant.tenant_id, case_id)
            .await?
            .into_iter()
            .rev()
            .find(|f| f.status != "paid" && f.amount_cents > 0)
            .ok_or_else(|| RuntimeError::Conflict("Für diesen Antrag ist keine Gebühr offen.".into()))?;
        let payment = Payment {
            tenant_id: tenant.tenant_id.clone(),
            payment_id: new_id(),
            fee_id: fee.fee_id.clone(),
            case_id: case_id.to_string(),
            provider: provider.name().to_string(),
            amount_cents: fee.amount_cents,
            status: payments::STARTED.into(),
            created_at: ts(now),
            updated_at: ts(now),
        };
        payments::insert(&mut tx, &payment).await?;
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            &Actor::Applicant,
            "payment.started",
            "case",
            case_id,
            &json!({"payment": payment.payment_id, "fee": fee.fee_id, "amount_cents": fee.amount_cents, "provider": payment.provider}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(provider.checkout_url(self.config.public_url.trim_end_matches('/'), &tenant.slug, &payment))
    }

    pub async fn payment(&self, tenant_id: &str, payment_id: &str) -> Result<Payment> {
        let mut conn = self.store.conn().await?;
        payments::by_id(&mut conn, tenant_id, payment_id).await?.ok_or(RuntimeError::NotFound)
    }

    /// Records the provider's signed answer. A forged or altered answer is refused
    /// (`Forbidden`); a repeated one changes nothing.
    pub async fn payment_answer(
        &self,
        tenant_id: &str,
        payment_id: &str,
        outcome: Outcome,
        signature: &str,
    ) -> Result<PaymentAnswer> {
        let payment = self.payment(tenant_id, payment_id).await?;
        if !self.provider()?.verify(tenant_id, &payment, outcome, signature) {
            return Err(RuntimeError::Forbidden);
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let case = cases::by_id(&mut tx, tenant_id, &payment.case_id).await?.ok_or(RuntimeError::NotFound)?;
        if !payments::finish(&mut tx, tenant_id, payment_id, outcome.as_str(), now).await? {
            tx.rollback().await?;
            return Ok(PaymentAnswer::AlreadyRecorded { case_reference: case.reference });
        }
        let details = json!({"payment": payment_id, "fee": payment.fee_id, "amount_cents": payment.amount_cents});
        match outcome {
            Outcome::Paid => {
                fees::mark_paid(&mut tx, tenant_id, &payment.fee_id).await?;
                events::add_write(tenant_id, &case.case_id, "payment", "Gebühr online bezahlt", true, now)
                    .execute(&mut tx)
                    .await?;
                audit::append(&mut tx, tenant_id, &Actor::System, "payment.paid", "case", &case.case_id, &details, now)
                    .await?;
            }
            Outcome::Cancelled => {
                audit::append(
                    &mut tx,
                    tenant_id,
                    &Actor::Applicant,
                    "payment.cancelled",
                    "case",
                    &case.case_id,
                    &details,
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        if outcome == Outcome::Paid {
            // A process that waits for the payment continues; one that does not yet wait
            // finds the message when it does (kept 90 days).
            let mut payload = Map::new();
            payload.insert("zahlung".into(), json!({"betrag_cent": payment.amount_cents, "art": "online"}));
            if let Err(e) = self
                .correlate_message(
                    tenant_id,
                    &case.reference,
                    "zahlung",
                    payload,
                    chrono::Duration::days(90),
                    &Actor::System,
                )
                .await
            {
                tracing::warn!(error = %e, case = %case.reference, "payment recorded, message to the case failed");
            }
        }
        Ok(PaymentAnswer::Recorded { case_reference: case.reference, outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> Payment {
        Payment {
            tenant_id: "t".into(),
            payment_id: "p1".into(),
            fee_id: "f".into(),
            case_id: "c".into(),
            provider: "testkasse".into(),
            amount_cents: 2600,
            status: "started".into(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn answers_are_signed_and_a_changed_answer_is_refused() {
        let p = TestProvider::new(b"secret");
        let sig = p.sign("t", &payment(), Outcome::Paid);
        assert!(p.verify("t", &payment(), Outcome::Paid, &sig));
        assert!(!p.verify("t", &payment(), Outcome::Cancelled, &sig), "another outcome");
        assert!(!p.verify("other", &payment(), Outcome::Paid, &sig), "another tenant");
        assert!(!p.verify("t", &Payment { amount_cents: 1, ..payment() }, Outcome::Paid, &sig), "another amount");
        assert!(!TestProvider::new(b"other").verify("t", &payment(), Outcome::Paid, &sig), "another key");
        assert!(!p.verify("t", &payment(), Outcome::Paid, "zz"), "not hex");
    }
}
