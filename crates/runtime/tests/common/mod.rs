//! What the runtime's tests share: a standard Gewerbeanmeldung and submitting through the API
//! channel.
#![allow(dead_code)]

use rathaus_domain::{Channel, Lang};
use rathaus_runtime::{Runtime, RuntimeError, SubmitRequest, Submitted};
use rathaus_store::audit::Actor;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value};

/// A Gewerbeanmeldung of a sole trader in Musterstadt (09999) starting in five days.
pub fn application(activity: &str) -> Value {
    let beginn = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d").to_string();
    json!({
        "meldungsart": "anmeldung",
        "inhaber": {"familienname": "Muster", "vornamen": "Erika", "geburtsdatum": "1985-04-12", "geburtsort": "Chemnitz",
                    "staatsangehoerigkeit": ["DE"], "anschrift": {"strasse": "Hauptstraße", "hausnummer": "1", "plz": "09999", "ort": "Musterstadt"}},
        "rechtsform": "einzelunternehmen",
        "betrieb": {"anschrift": {"strasse": "Marktplatz", "hausnummer": "3", "plz": "09999", "ort": "Musterstadt"}, "niederlassung": "hauptniederlassung"},
        "grund": "neugruendung",
        "taetigkeiten": [activity],
        "taetigkeit_beschreibung": "Entwicklung und Vertrieb von Software",
        "betriebsart": ["sonstiges"],
        "beginn": beginn,
        "nebenerwerb": false,
        "beschaeftigte": {"vollzeit": 0, "teilzeit": 0}
    })
}

/// Submits `data` to the Gewerbeanmeldung as an applicant through the API, then runs the
/// jobs that are due.
pub async fn submit(rt: &Runtime, t: &Tenant, data: &Value) -> Submitted {
    submit_to(rt, t, "gewerbeanmeldung", data, None).await
}

/// Submits `data` to `procedure` as an applicant through the API (with the files uploaded
/// under `upload_key`), then runs the jobs that are due.
pub async fn submit_to(rt: &Runtime, t: &Tenant, procedure: &str, data: &Value, upload_key: Option<&str>) -> Submitted {
    let s = try_submit(rt, t, procedure, data, upload_key)
        .await
        .unwrap_or_else(|e| panic!("{procedure}: submission refused: {e:?}"));
    rt.run_due_jobs().await.unwrap();
    s
}

/// Submits `data` to `procedure` as an applicant through the API and runs nothing after:
/// what the submission itself answers.
pub async fn try_submit(
    rt: &Runtime,
    t: &Tenant,
    procedure: &str,
    data: &Value,
    upload_key: Option<&str>,
) -> Result<Submitted, RuntimeError> {
    rt.submit(SubmitRequest {
        tenant: t,
        procedure_id: procedure,
        data,
        channel: Channel::Api,
        lang: Lang::De,
        actor: Actor::Applicant,
        upload_key,
        account_id: None,
        business_id: None,
    })
    .await
}

/// A clerk's decision as the decision form gives it.
pub fn decision(outcome: &str, reason: &str, conditions: &str) -> rathaus_runtime::Decision {
    rathaus_runtime::Decision {
        outcome: outcome.into(),
        reason: reason.into(),
        clerk_name: "Sabine Sachbearbeiterin".into(),
        conditions: conditions.into(),
    }
}
