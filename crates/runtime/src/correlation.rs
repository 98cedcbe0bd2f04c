//! Messages to waiting cases: an outside event (payment received, documents handed in, a
//! consulted authority answered) is delivered by case and message name. A message nothing
//! waits for yet is kept until it expires, and taken by the first wait for it.

use crate::{resume, tenant_calendar, EffectContext, Result, Resume, Resumed, Runtime, RuntimeError, Step};
use chrono::{DateTime, Utc};
use rathaus_store::audit::{self, Actor};
use rathaus_store::{cases, events, instances, messages, new_id, tenants};
use serde_json::{json, Map, Value as Json};
use std::time::Duration;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlated {
    /// A waiting event or task took it; the case moved on.
    Delivered,
    /// Nothing waits for it yet; it is kept until `expires_at`.
    Buffered { expires_at: DateTime<Utc> },
}

impl Runtime {
    /// Delivers the message `name` with `payload` (process variables) to the case with
    /// `reference`. Without a waiting subscription the message is buffered for `ttl`; a zero
    /// `ttl` refuses it instead (`Conflict`).
    pub async fn correlate_message(
        &self,
        tenant_id: &str,
        reference: &str,
        name: &str,
        payload: Map<String, Json>,
        ttl: chrono::Duration,
        actor: &Actor,
    ) -> Result<Correlated> {
        let name = name.trim();
        if name.is_empty() {
            return Err(RuntimeError::Conflict("Nachrichtenname fehlt".into()));
        }
        crate::check_outside_variables(&payload)?;
        let mut conn = self.store.conn().await?;
        let tenant = tenants::by_id(&mut conn, tenant_id).await?.ok_or(RuntimeError::NotFound)?;
        let case = cases::by_reference(&mut conn, tenant_id, reference).await?.ok_or(RuntimeError::NotFound)?;
        let row = instances::by_case(&mut conn, tenant_id, &case.case_id).await?.ok_or(RuntimeError::NotFound)?;
        drop(conn);
        let procedure = self.procedure_of_deployment(tenant_id, &case.deployment_id).await?;
        let calendar = tenant_calendar(&tenant.settings);
        for _ in 0..8 {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let ctx = EffectContext {
                tenant_id,
                case_id: &case.case_id,
                instance_id: &row.instance_id,
                procedure: &procedure,
                calendar: &calendar,
                now,
            };
            let entry = |delivered: bool| audit::Pending {
                actor: actor.clone(),
                action: "message.received".into(),
                object_type: "case".into(),
                object_id: case.case_id.clone(),
                details: json!({"name": name, "delivered": delivered}),
            };
            let how = Resume::Message { name: name.to_string(), payload: payload.clone() };
            let mut step = Step::recording(vec![entry(true)]);
            step.writes.push(events::add_write(
                tenant_id,
                &case.case_id,
                "message",
                &format!("Nachricht „{name}“ eingegangen"),
                false,
                now,
            ));
            let outcome = resume(&mut tx, &ctx, how, step).await?;
            let result = match outcome {
                Resumed::Done { .. } => Correlated::Delivered,
                Resumed::Conflict => {
                    tx.rollback().await?;
                    continue;
                }
                Resumed::Stale(_) | Resumed::NotDue(_) => {
                    tx.rollback().await?;
                    return Err(RuntimeError::Conflict(format!(
                        "Der Vorgang {reference} ist abgeschlossen; die Nachricht „{name}“ wird nicht mehr angenommen"
                    )));
                }
                Resumed::NoSubscriber => {
                    if ttl <= chrono::Duration::zero() {
                        tx.rollback().await?;
                        return Err(RuntimeError::Conflict(format!(
                            "Der Vorgang wartet derzeit nicht auf die Nachricht „{name}“"
                        )));
                    }
                    let expires_at = now + ttl;
                    messages::buffer(
                        &mut tx,
                        tenant_id,
                        &new_id(),
                        &case.case_id,
                        name,
                        &Json::Object(payload.clone()),
                        now,
                        expires_at,
                    )
                    .await?;
                    audit::append_all(&mut tx, tenant_id, &[entry(false)], now).await?;
                    Correlated::Buffered { expires_at }
                }
            };
            tx.commit().await?;
            self.notify_work();
            self.drive(tenant_id, &row.instance_id, Duration::from_secs(10)).await;
            return Ok(result);
        }
        Err(RuntimeError::Conflict("Der Vorgang wird gerade anderweitig bearbeitet; bitte erneut versuchen.".into()))
    }
}
