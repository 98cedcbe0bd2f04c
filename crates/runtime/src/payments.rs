//! Paying a fee online through a payment provider: the payment is registered with the
//! provider, the applicant is sent there, the provider sends them back, the provider's
//! answer (checked by the provider's adapter) marks the fee paid — once, however often it
//! arrives — and tells the case (message `zahlung`).
//!
//! The provider is an interface ([`PaymentProvider`]) shaped for the payment platforms of
//! German administrations: ePayBL's Paypage wants the payment registered server to server
//! first (Kassenzeichen, amount, purpose) and is asked for the outcome server to server
//! afterwards; simpler providers sign the answer they send along with the applicant. Both
//! fit: `start` may call the provider and returns where to send the applicant and the
//! provider's reference, `confirm` gets everything the provider sent back and decides.
//! Built in is the test provider „Testkasse“, which runs inside Rathaus, moves no money and
//! signs its answers like a real one (HMAC-SHA256 with the installation secret), so that
//! the whole flow can be tried and tested.

use crate::{Result, Runtime, RuntimeError};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use rathaus_store::audit::{self, Actor};
use rathaus_store::payments::{self, Payment};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, fees, new_id, ts};
use serde_json::{json, Map};
use std::collections::BTreeMap;

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

/// A payment to register with the provider.
pub struct Checkout<'a> {
    pub tenant: &'a Tenant,
    pub payment: &'a Payment,
    /// The case's Aktenzeichen and the fee's Kassenzeichen (the purpose of the payment).
    pub case_reference: &'a str,
    pub kassenzeichen: &'a str,
    /// Where the provider sends the applicant back (Rathaus's answer address).
    pub return_url: String,
    /// The installation's public address.
    pub public_url: &'a str,
}

/// A payment registered with the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Where to send the applicant to pay.
    pub redirect_url: String,
    /// The provider's reference of the payment, if it gives one (kept to ask it later).
    pub provider_reference: Option<String>,
}

/// A payment provider as Rathaus uses it. An error is a text for the log (the provider did
/// not answer, or answered something unexpected); the applicant is told to try again or to
/// pay by transfer.
pub trait PaymentProvider: Send + Sync {
    /// Its name, stored with each payment.
    fn name(&self) -> &'static str;
    /// Registers the payment with the provider where it needs that and says where to send
    /// the applicant.
    fn start<'a>(&'a self, checkout: &'a Checkout<'a>) -> BoxFuture<'a, std::result::Result<Started, String>>;
    /// The outcome of a payment once the applicant is back, from `answer` (the parameters
    /// the provider sent along): `None` if the answer is not the provider's (forged or
    /// altered). A provider that signs its answers checks the signature; one that does
    /// not asks its service about `payment` (its `provider_reference`).
    fn confirm<'a>(
        &'a self,
        tenant_id: &'a str,
        payment: &'a Payment,
        answer: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, std::result::Result<Option<Outcome>, String>>;
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

impl TestProvider {
    /// Whether `signature` is this provider's for the answer.
    fn verify(&self, tenant_id: &str, payment: &Payment, outcome: Outcome, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature.trim()) else { return false };
        // Constant time: the signature is not revealed byte by byte.
        self.mac(tenant_id, payment, outcome).verify_slice(&given).is_ok()
    }

    /// The parameters it sends the applicant back with (`ergebnis`, `signatur`).
    pub fn answer(&self, tenant_id: &str, payment: &Payment, outcome: Outcome) -> String {
        format!("ergebnis={}&signatur={}", outcome.as_str(), self.sign(tenant_id, payment, outcome))
    }
}

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "testkasse"
    }

    fn start<'a>(&'a self, checkout: &'a Checkout<'a>) -> BoxFuture<'a, std::result::Result<Started, String>> {
        // Its checkout page is part of the portal; nothing to register.
        let redirect_url =
            format!("{}/{}/testkasse/{}", checkout.public_url, checkout.tenant.slug, checkout.payment.payment_id);
        Box::pin(async move { Ok(Started { redirect_url, provider_reference: None }) })
    }

    fn confirm<'a>(
        &'a self,
        tenant_id: &'a str,
        payment: &'a Payment,
        answer: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, std::result::Result<Option<Outcome>, String>> {
        let outcome = answer.get("ergebnis").and_then(|o| Outcome::parse(o));
        let signature = answer.get("signatur").map(String::as_str).unwrap_or("");
        let checked = outcome.filter(|o| self.verify(tenant_id, payment, *o, signature));
        Box::pin(async move { Ok(checked) })
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
    /// Tells the case its fee is paid (`art`: `online`, `ueberweisung`): a process that
    /// waits for the payment continues; one that does not wait yet finds the message when
    /// it does (kept 90 days). The payment stays recorded if this fails.
    pub(crate) async fn tell_paid(&self, tenant_id: &str, reference: &str, cents: i64, art: &str) {
        let mut payload = Map::new();
        payload.insert("zahlung".into(), json!({"betrag_cent": cents, "art": art}));
        if let Err(e) = self
            .correlate_message(tenant_id, reference, "zahlung", payload, chrono::Duration::days(90), &Actor::System)
            .await
        {
            tracing::warn!(error = %e, case = %reference, "payment recorded, message to the case failed");
        }
    }

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
            provider_reference: None,
        };
        payments::insert(&mut tx, &payment).await?;
        let case = cases::by_id(&mut tx, &tenant.tenant_id, case_id).await?.ok_or(RuntimeError::NotFound)?;
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
        let public_url = self.config.public_url.trim_end_matches('/');
        let checkout = Checkout {
            tenant,
            payment: &payment,
            case_reference: &case.reference,
            kassenzeichen: &fee.kassenzeichen,
            return_url: format!("{public_url}/{}/zahlung/{}", tenant.slug, payment.payment_id),
            public_url,
        };
        match provider.start(&checkout).await {
            Ok(started) => {
                if let Some(reference) = &started.provider_reference {
                    let mut conn = self.store.conn().await?;
                    payments::set_reference(
                        &mut conn,
                        &tenant.tenant_id,
                        &payment.payment_id,
                        reference,
                        self.clock.now(),
                    )
                    .await?;
                }
                Ok(started.redirect_url)
            }
            Err(e) => {
                // Nothing was paid: the attempt ends here, the fee stays open.
                tracing::warn!(error = %e, provider = provider.name(), "payment provider refused or did not answer");
                let now = self.clock.now();
                let mut tx = self.store.begin().await?;
                payments::finish(&mut tx, &tenant.tenant_id, &payment.payment_id, payments::CANCELLED, now).await?;
                audit::append(
                    &mut tx,
                    &tenant.tenant_id,
                    &Actor::System,
                    "payment.provider_failed",
                    "case",
                    case_id,
                    &json!({"payment": payment.payment_id, "provider": payment.provider}),
                    now,
                )
                .await?;
                tx.commit().await?;
                Err(RuntimeError::Conflict(
                    "Der Zahlungsdienst ist gerade nicht erreichbar. Versuchen Sie es später erneut oder überweisen Sie den Betrag.".into(),
                ))
            }
        }
    }

    pub async fn payment(&self, tenant_id: &str, payment_id: &str) -> Result<Payment> {
        let mut conn = self.store.conn().await?;
        payments::by_id(&mut conn, tenant_id, payment_id).await?.ok_or(RuntimeError::NotFound)
    }

    /// Records the provider's answer (`answer`: what it sent along with the applicant), as
    /// its adapter confirms it. An answer the adapter does not confirm is refused
    /// (`Forbidden`); a repeated one changes nothing.
    pub async fn payment_answer(
        &self,
        tenant_id: &str,
        payment_id: &str,
        answer: &BTreeMap<String, String>,
    ) -> Result<PaymentAnswer> {
        let payment = self.payment(tenant_id, payment_id).await?;
        let provider = self.provider()?;
        if payment.provider != provider.name() {
            return Err(RuntimeError::Forbidden);
        }
        let outcome = match provider.confirm(tenant_id, &payment, answer).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => return Err(RuntimeError::Forbidden),
            Err(e) => {
                tracing::warn!(error = %e, payment = payment_id, "payment provider could not confirm the answer");
                return Err(RuntimeError::Conflict(
                    "Der Zahlungsdienst hat die Zahlung noch nicht bestätigt. Bitte rufen Sie den Antragsstatus später erneut auf.".into(),
                ));
            }
        };
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
            self.tell_paid(tenant_id, &case.reference, payment.amount_cents, "online").await;
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
            provider_reference: None,
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

    /// Through the interface: the parameters it sends back confirm the outcome they name,
    /// and nothing else.
    #[tokio::test]
    async fn the_test_provider_confirms_only_its_own_answers() {
        let p = TestProvider::new(b"secret");
        let parse = |query: &str| -> BTreeMap<String, String> {
            query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
        };
        let paid = parse(&p.answer("t", &payment(), Outcome::Paid));
        assert_eq!(p.confirm("t", &payment(), &paid).await.unwrap(), Some(Outcome::Paid));
        let cancelled = parse(&p.answer("t", &payment(), Outcome::Cancelled));
        assert_eq!(p.confirm("t", &payment(), &cancelled).await.unwrap(), Some(Outcome::Cancelled));
        let mut forged = paid.clone();
        forged.insert("ergebnis".into(), "cancelled".into());
        assert_eq!(p.confirm("t", &payment(), &forged).await.unwrap(), None);
        assert_eq!(p.confirm("t", &payment(), &BTreeMap::new()).await.unwrap(), None);
        let started = p
            .start(&Checkout {
                tenant: &Tenant {
                    tenant_id: "t".into(),
                    slug: "musterstadt".into(),
                    name: "Musterstadt".into(),
                    settings: Default::default(),
                },
                payment: &payment(),
                case_reference: "GEW-2026-000001",
                kassenzeichen: "5.0100.000001",
                return_url: "https://rathaus.example/musterstadt/zahlung/p1".into(),
                public_url: "https://rathaus.example",
            })
            .await
            .unwrap();
        assert_eq!(started.redirect_url, "https://rathaus.example/musterstadt/testkasse/p1");
    }
}
