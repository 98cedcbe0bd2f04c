//! The outbox of messages to other authorities (XGewerbeanzeige and other XÖV messages):
//! the connector `rathaus:message` renders one message per recipient and records it here
//! together with a delivery job, in the job's transaction, so a message is neither lost nor
//! sent twice by a retried job. The delivery job hands it to a [`Transport`]; a failure is
//! retried with backoff and, when the retries are used up, shown on the operations page
//! like every failed job, where it can be started again.
//!
//! Transports by address: `https://…`/`http://…` posts the XML (a Verteilplattform or
//! intermediary); `ablage:<folder>` writes it into the installation's drop directory, for a
//! gateway that sends by OSCI/XTA. Both are idempotent by the message's id.

use crate::{Result, Runtime, RuntimeError};
use futures_util::future::BoxFuture;
use rathaus_domain::ids::uuid_of_hex;
use rathaus_engine::outbound::ResolvedRecipient;
use rathaus_store::outbox::{self, OutboxMessage};
use rathaus_store::tenants::Tenant;
use serde_json::{json, Map, Value as Json};
use std::path::PathBuf;

/// The job that delivers one message of the outbox.
pub(crate) const DELIVER_JOB: &str = "rathaus:deliver-message";

/// Delivers a message to its address; the answer is a short receipt for the case file
/// (the HTTP status, the file written), an error a text for the retry and the log.
pub trait Transport: Send + Sync {
    fn deliver<'a>(
        &'a self,
        tenant: &'a Tenant,
        message: &'a OutboxMessage,
    ) -> BoxFuture<'a, std::result::Result<String, String>>;
}

/// The built-in transports: HTTP and the drop directory.
pub struct Transports {
    /// Where `ablage:` addresses are written (`<dir>/<tenant>/<folder>/<id>.xml`); none:
    /// such addresses fail with a message saying so.
    pub drop_dir: Option<PathBuf>,
    pub http: reqwest::Client,
}

impl Transports {
    pub fn new(drop_dir: Option<PathBuf>) -> Transports {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client with a timeout");
        Transports { drop_dir, http }
    }
}

/// A folder name of an `ablage:` address: letters, digits, `-` and `_` only, so that an
/// address can never reach outside the drop directory.
fn folder_of(address: &str) -> std::result::Result<&str, String> {
    let folder = address.strip_prefix("ablage:").unwrap_or_default();
    if folder.is_empty() || !folder.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("Ablage „{folder}“: nur Buchstaben, Ziffern, - und _"));
    }
    Ok(folder)
}

impl Transport for Transports {
    fn deliver<'a>(
        &'a self,
        tenant: &'a Tenant,
        message: &'a OutboxMessage,
    ) -> BoxFuture<'a, std::result::Result<String, String>> {
        Box::pin(async move {
            let address = message.address.trim();
            if address.starts_with("https://") || address.starts_with("http://") {
                let res = self
                    .http
                    .post(address)
                    .header("content-type", "application/xml; charset=utf-8")
                    .header("x-rathaus-nachricht", &message.message_id)
                    .body(message.content.clone())
                    .send()
                    .await
                    .map_err(|e| format!("{address} nicht erreichbar: {e}"))?;
                let status = res.status();
                if status.is_success() {
                    Ok(format!("HTTP {}", status.as_u16()))
                } else {
                    Err(format!("{address} antwortete {status}"))
                }
            } else if address.starts_with("ablage:") {
                let folder = folder_of(address)?;
                let Some(dir) = &self.drop_dir else {
                    return Err("Für „ablage:“ ist kein Ablageverzeichnis eingerichtet (--outbox-dir)".into());
                };
                let dir = dir.join(&tenant.slug).join(folder);
                let name = format!("{}.xml", message.message_id);
                let write = || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    // Written aside and renamed, so a gateway never picks up half a file.
                    let part = dir.join(format!(".{name}.part"));
                    std::fs::write(&part, message.content.as_bytes())?;
                    std::fs::rename(&part, dir.join(&name))
                };
                write().map_err(|e| format!("Ablage {}: {e}", dir.display()))?;
                Ok(format!("{folder}/{name}"))
            } else {
                Err(format!("Zustelladresse „{address}“ ist weder https:// noch ablage:"))
            }
        })
    }
}

/// A one-line street as the town's contact has it (`Markt 1`, `Am Ring 12a`): street and
/// house number, where the last word starts with a digit.
fn split_street(street: &str) -> (String, String) {
    let street = street.trim();
    match street.rsplit_once(' ') {
        Some((name, number)) if number.starts_with(|c: char| c.is_ascii_digit()) => (name.into(), number.into()),
        _ => (street.into(), String::new()),
    }
}

/// What a message template sees (docs/library-format.md, „Nachrichten an Behörden“): the
/// message, its recipient, the town as author, the case, the application, the parameters
/// and the catalogues by entry id.
pub(crate) fn message_context(
    tenant: &Tenant,
    case: &rathaus_store::cases::Case,
    procedure: &rathaus_engine::Procedure,
    variables: &Json,
    recipient: &ResolvedRecipient,
    message_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Json {
    let contact = &tenant.settings.contact;
    let (street, number) = split_street(&contact.street);
    let mut empfaenger = recipient.facts.clone();
    empfaenger.insert("id".into(), json!(recipient.id));
    empfaenger.insert("name".into(), json!(recipient.name));
    empfaenger.insert("adresse".into(), json!(recipient.address));
    let katalog: Map<String, Json> = procedure
        .catalogues
        .iter()
        .map(|(name, c)| {
            let by_id: Map<String, Json> = c
                .entries
                .iter()
                .filter_map(|e| e.get("id").and_then(Json::as_str).map(|id| (id.to_string(), e.clone())))
                .collect();
            (name.clone(), Json::Object(by_id))
        })
        .collect();
    let received = case.submitted_at.get(..10).unwrap_or_default();
    json!({
        "nachricht": {"uuid": message_id,
            "erstellt": rathaus_domain::time::german_time(now).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)},
        "empfaenger": empfaenger,
        "autor": {"name": tenant.name, "behoerde": format!("{} {}", contact.office, tenant.name).trim(),
            "praefix": "MELDID", "kennung": tenant.settings.ags, "ags": tenant.settings.ags,
            "email": contact.email, "telefon": contact.phone,
            "anschrift": {"strasse": street, "hausnummer": number, "plz": contact.postcode, "ort": contact.city}},
        "fall": {"aktenzeichen": case.reference, "uuid": uuid_of_hex(&case.case_id).unwrap_or_else(|| case.case_id.clone()),
            "eingang": received},
        "antrag": variables.get("antrag").cloned().unwrap_or(Json::Null),
        "parameter": variables.get("parameter").cloned().unwrap_or(Json::Null),
        "katalog": katalog,
        "produktversion": env!("CARGO_PKG_VERSION"),
    })
}

impl Runtime {
    /// Where messages go: the transport set at start, else HTTP only.
    pub(crate) fn transport(&self) -> &dyn Transport {
        self.transport.get_or_init(|| Box::new(Transports::new(None))).as_ref()
    }

    /// The messages of a case (for the case file), the oldest first.
    pub async fn case_messages_out(&self, tenant_id: &str, case_id: &str) -> Result<Vec<OutboxMessage>> {
        let mut conn = self.store.conn().await?;
        Ok(outbox::for_case(&mut conn, tenant_id, case_id).await?)
    }

    /// One message of a case, with its content; `NotFound` for another case's.
    pub async fn case_message_out(&self, tenant_id: &str, case_id: &str, message_id: &str) -> Result<OutboxMessage> {
        let mut conn = self.store.conn().await?;
        outbox::by_id(&mut conn, tenant_id, message_id)
            .await?
            .filter(|m| m.case_id == case_id)
            .ok_or(RuntimeError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_towns_street_is_split_into_name_and_number() {
        assert_eq!(split_street("Markt 1"), ("Markt".to_string(), "1".to_string()));
        assert_eq!(split_street("Am Ring 12a"), ("Am Ring".to_string(), "12a".to_string()));
        assert_eq!(split_street("Marktplatz"), ("Marktplatz".to_string(), String::new()));
    }

    #[test]
    fn a_drop_address_names_a_plain_folder() {
        assert_eq!(folder_of("ablage:finanzamt"), Ok("finanzamt"));
        assert!(folder_of("ablage:../etc").is_err());
        assert!(folder_of("ablage:").is_err());
        assert!(folder_of("ablage:a/b").is_err());
    }
}
