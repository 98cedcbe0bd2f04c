//! Notification of documents made available online (Bekanntgabe durch Abruf, § 41 Abs. 2a
//! VwVfG): a notice that the applicant can retrieve counts as notified on the day after its
//! retrieval. The first retrieval of each document by the applicant is therefore recorded,
//! audited and shown to the clerk.

use crate::{Result, Runtime};
use rathaus_store::audit::{self, Actor};
use rathaus_store::documents::{self, DocumentMeta};
use rathaus_store::events;
use serde_json::json;

impl Runtime {
    /// Records that the applicant retrieved `doc` (through `channel`: `portal` or `api`);
    /// only the first retrieval counts. Files the applicant uploaded are not notices.
    pub async fn document_retrieved(&self, tenant_id: &str, doc: &DocumentMeta, channel: &str) -> Result<()> {
        if doc.kind == "anlage" || doc.retrieved_at.is_some() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if documents::mark_retrieved(&mut tx, tenant_id, &doc.document_id, now).await? {
            events::add(
                &mut tx,
                tenant_id,
                &doc.case_id,
                "retrieved",
                &format!("Dokument abgerufen: {}", doc.title),
                false,
                now,
            )
            .await?;
            audit::append(
                &mut tx,
                tenant_id,
                &Actor::Applicant,
                "document.retrieved",
                "case",
                &doc.case_id,
                &json!({"document": doc.document_id, "kind": doc.kind, "channel": channel}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
