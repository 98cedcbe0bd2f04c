//! The built-in connectors. Each runs in two halves: `prepare` does the slow work outside any
//! transaction (rendering), `commit` writes the result inside the job's transaction. Writes
//! are keyed by the job id, so a retried job never produces a second document or fee.

use crate::consultations::CONSULTATION_JOB;
use crate::deadlines::DEADLINE_JOB;
use crate::docdata::{document_data, DocumentContext};
use crate::forwarding::FORWARDING_JOB;
use crate::notify::NOTIFY_JOB;
use crate::outbox::DELIVER_JOB;
use crate::requests::{Phase, REQUEST_JOB};
use crate::submit::RECEIPT_JOB;
use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::time::{german_time, german_today};
use rathaus_domain::{kassenzeichen, CaseStatus, Money};
use rathaus_engine::connectors::{CASE_STATUS, CONSULT, COPY, DOCUMENT, FEE, MESSAGE, NOTE};
use rathaus_engine::outbound::ResolvedRecipient;
use rathaus_engine::participants::ResolvedParticipant;
use rathaus_engine::Procedure;
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::Case;
use rathaus_store::jobs::Job;
use rathaus_store::outbox::{self, NewMessage};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, documents, events, fees, jobs, next_counter};
use serde_json::{json, Map, Value as Json};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

pub(crate) enum Prepared {
    Status {
        status: CaseStatus,
        note: Option<String>,
    },
    /// An entry for the case's timeline; `notify` tells the applicant's account.
    Note {
        text: String,
        public: bool,
        notify: bool,
    },
    /// Copies of a document, mailed to participants, to be recorded.
    Copies(crate::copies::Copies),
    /// Consultations to begin, with their ids and token hashes, until `due`.
    Consultations {
        due: chrono::NaiveDate,
        started: Vec<(String, String, ResolvedParticipant)>,
    },
    /// A notification mail was sent (to the account's address), or there was nobody to send
    /// it to any more.
    Notified {
        sent: bool,
    },
    /// A request to the applicant reached its reminder or its deadline.
    RequestDue {
        request_id: String,
        phase: Phase,
    },
    /// A consultation reached its invitation (mailed, if `mailed`), reminder or deadline.
    ConsultationDue {
        consultation_id: String,
        phase: crate::consultations::Phase,
        mailed: bool,
    },
    /// A deadline reached a reminder, its escalation or its end; `mailed` staff were told.
    DeadlineDue {
        deadline_id: String,
        moment: rathaus_domain::deadline::Moment,
        mailed: usize,
    },
    /// The authority a case was forwarded to was mailed its link (`Some(true)`), could not
    /// be (`Some(false)`: no mailer), or had been already (`None`).
    ForwardingMailed {
        forwarding_id: String,
        sent: Option<bool>,
    },
    Document {
        kind: String,
        template: String,
        title: String,
        bytes: Vec<u8>,
        visible: bool,
    },
    Fee {
        amount: Money,
        legal_basis: String,
        due_days: i64,
    },
    /// Messages rendered for their recipients, to go into the outbox.
    Messages(Vec<Outgoing>),
    /// A message of the outbox was delivered (`receipt`), or had been already (`None`).
    Delivered {
        message_id: String,
        recipient: String,
        receipt: Option<String>,
    },
}

pub(crate) struct Outgoing {
    message_id: String,
    title: String,
    recipient: ResolvedRecipient,
    content: String,
}

/// The participants the connector's input `key` names, resolved for the case.
fn participants_of(
    procedure: &Procedure,
    input: &Json,
    key: &str,
    variables: &Json,
) -> Result<Vec<ResolvedParticipant>, String> {
    rathaus_engine::connectors::input_ids(input.get(key), key, "Id")?
        .into_iter()
        .map(|id| {
            procedure
                .participants
                .get(&id)
                .ok_or_else(|| {
                    format!("Beteiligte Stelle „{id}“ ist in procedure.toml unter [participants] nicht beschrieben")
                })?
                .resolve(variables)
        })
        .collect()
}

/// The deadline of consultations the process starts: the header `due` (an ISO duration, or
/// `=FEEL` giving one) from today, counted as `counting` says (default: working days of the
/// tenant's Land), within what a consultation allows.
fn consultation_due(
    rt: &Runtime,
    tenant: &Tenant,
    h: &BTreeMap<String, String>,
    variables: &Json,
) -> Result<chrono::NaiveDate, String> {
    let source = h.get("due").ok_or("Header „due“ fehlt")?;
    let text = rathaus_engine::outbound::Value::parse(source, rathaus_engine::bpmn::PROCESS_VARIABLES)
        .and_then(|v| v.resolve(variables))
        .map_err(|e| format!("Header „due“: {e}"))?;
    let duration =
        rathaus_domain::calendar::IsoDuration::parse(&text).map_err(|e| format!("Header „due“ „{text}“: {e}"))?;
    let counting = match h.get("counting") {
        None => rathaus_domain::calendar::Counting::Arbeitstage,
        Some(c) => rathaus_domain::calendar::Counting::parse(c)
            .ok_or_else(|| format!("Header „counting“ „{c}“ ist unbekannt"))?,
    };
    let now = rt.clock.now();
    let at = crate::tenant_calendar(&tenant.settings).add(now, &duration, counting)?;
    let due = german_time(at).date_naive();
    rathaus_domain::consultation::check_due(now, due).map_err(|e| {
        let why = match e {
            rathaus_domain::request::DueProblem::NotInFuture => "liegt nicht in der Zukunft",
            rathaus_domain::request::DueProblem::TooFar => "liegt zu weit in der Zukunft",
        };
        format!("Frist der Beteiligung {} {why} (Header „due“)", due.format("%d.%m.%Y"))
    })?;
    Ok(due)
}

fn headers(job: &Job) -> BTreeMap<String, String> {
    serde_json::from_str(&job.headers).unwrap_or_default()
}

pub(crate) async fn prepare(
    rt: &Runtime,
    job: &Job,
    tenant: &Tenant,
    case: &Case,
    procedure: &Procedure,
    variables: &Json,
) -> Result<Prepared, String> {
    let h = headers(job);
    let input: Json = serde_json::from_str(&job.input).map_err(|e| format!("Eingabe unlesbar: {e}"))?;
    match job.job_type.as_str() {
        CASE_STATUS => {
            let status =
                h.get("status").and_then(|s| CaseStatus::parse(s)).ok_or("Header „status“ fehlt oder ist ungültig")?;
            Ok(Prepared::Status { status, note: h.get("note").cloned() })
        }
        NOTE => {
            let text = h.get("note").map(|n| n.trim()).filter(|n| !n.is_empty()).ok_or("Header „note“ fehlt")?;
            Ok(Prepared::Note {
                text: text.to_string(),
                public: h.get("public").map(|p| p != "false").unwrap_or(true),
                notify: h.get("notify").is_some_and(|n| n == "true"),
            })
        }
        COPY => {
            let template = h.get("template").ok_or("Header „template“ fehlt")?;
            let participants = participants_of(procedure, &input, "an", variables)?;
            Ok(Prepared::Copies(rt.prepare_copies(job, tenant, case, template, participants).await?))
        }
        CONSULT => {
            let participants = participants_of(procedure, &input, "beteiligte", variables)?;
            let due = consultation_due(rt, tenant, &h, variables)?;
            let started = participants
                .into_iter()
                .map(|p| {
                    let (consultation_id, token_hash) = rt.new_consultation();
                    (consultation_id, token_hash, p)
                })
                .collect();
            Ok(Prepared::Consultations { due, started })
        }
        FEE => {
            let amount = match input.get("betrag") {
                Some(Json::Null) | None => Money::ZERO,
                Some(v) => Money::from_json_euros(v).map_err(|e| format!("Eingabe „betrag“: {e}"))?,
            };
            let legal_basis = input
                .get("rechtsgrundlage")
                .and_then(Json::as_str)
                .map(String::from)
                .or_else(|| h.get("legal_basis").cloned())
                .unwrap_or_default();
            let due_days = h.get("due_days").and_then(|d| d.parse().ok()).unwrap_or(30);
            Ok(Prepared::Fee { amount, legal_basis, due_days })
        }
        DOCUMENT | RECEIPT_JOB => {
            let (template_name, kind, source, title) = if job.job_type == RECEIPT_JOB {
                (
                    "eingangsbestaetigung".to_string(),
                    "eingangsbestaetigung".to_string(),
                    rathaus_documents::RECEIPT_TEMPLATE.to_string(),
                    "Eingangsbestätigung".to_string(),
                )
            } else {
                let name = h.get("template").cloned().ok_or("Header „template“ fehlt")?;
                let source = procedure
                    .templates
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| format!("Vorlage „{name}“ fehlt im Verfahren"))?;
                let title = procedure
                    .template_title(&name)
                    .map(|t| t.get(rathaus_domain::Lang::De).to_string())
                    .unwrap_or_else(|| name.clone());
                (name, h.get("kind").cloned().unwrap_or_else(|| "schreiben".into()), source, title)
            };
            let mut conn = rt.store.conn().await.map_err(|e| e.to_string())?;
            let fee = fees::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .last();
            drop(conn);
            let now = rt.clock.now();
            let data = document_data(&DocumentContext {
                tenant,
                case,
                procedure,
                variables,
                fee: fee.as_ref(),
                title: &title,
                now,
                public_url: &rt.config.public_url,
            })?;
            let bytes = rathaus_documents::render_pdf(&source, &data)
                .map_err(|e| format!("Dokument „{template_name}“: {e}"))?;
            let visible = h.get("deliver").map(|d| d != "false").unwrap_or(true);
            Ok(Prepared::Document { kind, template: template_name, title, bytes, visible })
        }
        NOTIFY_JOB => {
            let Some(mail) = rt.mail.as_ref() else { return Ok(Prepared::Notified { sent: false }) };
            let mut conn = rt.store.conn().await.map_err(|e| e.to_string())?;
            let to = rathaus_store::accounts::notify_address(&mut conn, &tenant.tenant_id, &case.case_id)
                .await
                .map_err(|e| e.to_string())?;
            drop(conn);
            // The account may have gone since the job was queued.
            let Some(to) = to else { return Ok(Prepared::Notified { sent: false }) };
            let lang = rathaus_domain::Lang::parse(&case.lang).unwrap_or_default();
            let link = format!("{}/{}/konto/", rt.config.public_url.trim_end_matches('/'), tenant.slug);
            let (subject, text) = crate::notify::mail_text(lang, &tenant.name, &link);
            mail.send(&to, &subject, &text).await.map_err(|e| format!("Benachrichtigung nicht gesendet: {e}"))?;
            Ok(Prepared::Notified { sent: true })
        }
        REQUEST_JOB => {
            let request_id = h.get("request").cloned().ok_or("Header „request“ fehlt")?;
            let phase = h.get("phase").and_then(|p| Phase::parse(p)).ok_or("Header „phase“ fehlt oder ist ungültig")?;
            Ok(Prepared::RequestDue { request_id, phase })
        }
        CONSULTATION_JOB => {
            let consultation_id = h.get("consultation").cloned().ok_or("Header „consultation“ fehlt")?;
            let phase = h
                .get("phase")
                .and_then(|p| crate::consultations::Phase::parse(p))
                .ok_or("Header „phase“ fehlt oder ist ungültig")?;
            let mailed = crate::consultations::prepare(rt, tenant, case, &consultation_id, phase).await?;
            Ok(Prepared::ConsultationDue { consultation_id, phase, mailed })
        }
        DEADLINE_JOB => {
            let deadline_id = h.get("deadline").cloned().ok_or("Header „deadline“ fehlt")?;
            let moment = h
                .get("phase")
                .and_then(|p| rathaus_domain::deadline::Moment::parse(p))
                .ok_or("Header „phase“ fehlt oder ist ungültig")?;
            let mailed = crate::deadlines::prepare(rt, tenant, case, &deadline_id, moment).await?;
            Ok(Prepared::DeadlineDue { deadline_id, moment, mailed })
        }
        FORWARDING_JOB => {
            let forwarding_id = h.get("forwarding").cloned().ok_or("Header „forwarding“ fehlt")?;
            let sent = crate::forwarding::prepare(rt, tenant, case, &forwarding_id).await?;
            Ok(Prepared::ForwardingMailed { forwarding_id, sent })
        }
        MESSAGE => {
            let now = rt.clock.now();
            let mut out = Vec::new();
            for id in rathaus_engine::connectors::input_ids(input.get("empfaenger"), "empfaenger", "Empfänger-Id")? {
                let recipient = procedure.recipients.get(&id).ok_or_else(|| {
                    format!("Empfänger „{id}“ ist in procedure.toml unter [recipients] nicht beschrieben")
                })?;
                let resolved = recipient.resolve(variables)?;
                let message_id = rathaus_domain::ids::uuid_v4(rand::random());
                let context =
                    crate::outbox::message_context(tenant, case, procedure, variables, &resolved, &message_id, now);
                let content = procedure
                    .render_message(&resolved.message, &context)
                    .map_err(|e| format!("Nachricht an {}: {e}", resolved.name))?;
                let title =
                    procedure.manifest.messages[&resolved.message].title.get(rathaus_domain::Lang::De).to_string();
                out.push(Outgoing { message_id, title, recipient: resolved, content });
            }
            Ok(Prepared::Messages(out))
        }
        DELIVER_JOB => {
            let message_id = h.get("message").cloned().ok_or("Header „message“ fehlt")?;
            let message = rt
                .case_message_out(&tenant.tenant_id, &case.case_id, &message_id)
                .await
                .map_err(|e| format!("Nachricht {message_id}: {e}"))?;
            let recipient = message.recipient_name.clone();
            if message.status == outbox::DELIVERED {
                return Ok(Prepared::Delivered { message_id, recipient, receipt: None });
            }
            let receipt = rt
                .transport()
                .deliver(tenant, &message)
                .await
                .map_err(|e| format!("Zustellung an {recipient}: {e}"))?;
            Ok(Prepared::Delivered { message_id, recipient, receipt: Some(receipt) })
        }
        other => Err(format!("unbekannter Konnektor „{other}“")),
    }
}

/// Writes the prepared result; returns the output merged into the process variables.
pub(crate) async fn commit(
    conn: &mut AnyConnection,
    job: &Job,
    tenant: &Tenant,
    case: &Case,
    prepared: &Prepared,
    now: chrono::DateTime<chrono::Utc>,
    mail: bool,
) -> Result<Map<String, Json>> {
    let t = &tenant.tenant_id;
    let mut out = Map::new();
    match prepared {
        Prepared::Status { status, note } => {
            cases::set_status(conn, t, &case.case_id, status.code(), status.is_final(), now).await?;
            let text = note.clone().unwrap_or_else(|| format!("Status: {}", status.code()));
            events::add(conn, t, &case.case_id, "status", &text, true, now).await?;
            audit::append(
                conn,
                t,
                &Actor::System,
                "case.status",
                "case",
                &case.case_id,
                &json!({"from": case.status, "to": status.code(), "job": job.job_id}),
                now,
            )
            .await?;
            if mail && case.status != status.code() {
                crate::notify::queue(conn, job, case, "status", now).await?;
            }
        }
        Prepared::Copies(c) => crate::copies::record(conn, job, t, case, c, now).await?,
        Prepared::Consultations { due, started } => {
            for (consultation_id, token_hash, p) in started {
                let request = crate::consultations::Request {
                    participant: &p.name,
                    email: &p.email,
                    question: &p.question,
                    shared_pages: &p.pages,
                    share_documents: p.documents,
                    due: *due,
                };
                let start = crate::consultations::Start {
                    consultation_id,
                    token_hash,
                    instance_id: &job.instance_id,
                    author: &Actor::System,
                    author_name: "Verfahren (automatisch)",
                    request: &request,
                };
                crate::consultations::begin(conn, t, &case.case_id, &start, now).await?;
            }
        }
        Prepared::Note { text, public, notify } => {
            events::add(conn, t, &case.case_id, "note", text, *public, now).await?;
            if *notify && mail {
                crate::notify::queue(conn, job, case, "status", now).await?;
            }
            audit::append(
                conn,
                t,
                &Actor::System,
                "case.noted",
                "case",
                &case.case_id,
                &json!({"note": text, "public": public, "job": job.job_id}),
                now,
            )
            .await?;
        }
        Prepared::RequestDue { request_id, phase } => {
            if crate::requests::due(conn, t, &case.case_id, request_id, *phase, now).await? && mail {
                crate::notify::queue(conn, job, case, "request", now).await?;
            }
        }
        Prepared::ConsultationDue { consultation_id, phase, mailed } => {
            crate::consultations::due(conn, t, &case.case_id, consultation_id, *phase, *mailed, now).await?;
        }
        Prepared::DeadlineDue { deadline_id, moment, mailed } => {
            crate::deadlines::due(conn, t, &case.case_id, deadline_id, *moment, *mailed, now).await?;
        }
        Prepared::ForwardingMailed { forwarding_id, sent } => {
            if let Some(sent) = sent {
                crate::forwarding::mailed(conn, t, &case.case_id, forwarding_id, *sent, now).await?;
            }
        }
        Prepared::Notified { sent } => {
            if *sent {
                audit::append(
                    conn,
                    t,
                    &Actor::System,
                    "case.notified",
                    "case",
                    &case.case_id,
                    &json!({"job": job.job_id}),
                    now,
                )
                .await?;
            }
        }
        Prepared::Fee { amount, legal_basis, due_days } => {
            if amount.is_zero() {
                events::add(
                    conn,
                    t,
                    &case.case_id,
                    "fee",
                    "Für diese Amtshandlung wird keine Gebühr erhoben.",
                    true,
                    now,
                )
                .await?;
                out.insert("gebuehr".into(), Json::Null);
            } else {
                let year = chrono::Datelike::year(&german_time(now));
                let number = next_counter(conn, t, &format!("kassenzeichen:{year}")).await?;
                let kz = kassenzeichen(year, number);
                let due = (german_today(now) + chrono::Duration::days(*due_days)).format("%Y-%m-%d").to_string();
                fees::insert(conn, t, &job.job_id, &case.case_id, &kz, amount.cents(), legal_basis, &due, now).await?;
                // A retried job finds its fee already there: report the stored one.
                let fee = fees::by_id(conn, t, &job.job_id).await?.ok_or(RuntimeError::NotFound)?;
                events::add(
                    conn,
                    t,
                    &case.case_id,
                    "fee",
                    &format!(
                        "Gebühr festgesetzt: {} (Kassenzeichen {})",
                        Money::from_cents(fee.amount_cents),
                        fee.kassenzeichen
                    ),
                    true,
                    now,
                )
                .await?;
                audit::append(
                    conn,
                    t,
                    &Actor::System,
                    "fee.created",
                    "case",
                    &case.case_id,
                    &json!({"fee": fee.fee_id, "kassenzeichen": fee.kassenzeichen, "cents": fee.amount_cents}),
                    now,
                )
                .await?;
                out.insert("gebuehr".into(), json!({"betrag": Money::from_cents(fee.amount_cents).to_decimal_string(), "kassenzeichen": fee.kassenzeichen, "faellig": fee.due_date}));
            }
        }
        Prepared::Messages(list) => {
            let mut sent = Vec::new();
            for m in list {
                let r = &m.recipient;
                let recorded = outbox::insert(
                    conn,
                    &NewMessage {
                        tenant_id: t,
                        message_id: &m.message_id,
                        case_id: &case.case_id,
                        job_id: &job.job_id,
                        recipient: &r.id,
                        recipient_name: &r.name,
                        kind: &r.message,
                        address: &r.address,
                        content: &m.content,
                        now,
                    },
                )
                .await?;
                if recorded {
                    jobs::insert_write(
                        t,
                        &format!("{}-zustellung", m.message_id),
                        &job.instance_id,
                        &case.case_id,
                        0,
                        "_zustellung",
                        DELIVER_JOB,
                        &json!({"message": m.message_id}),
                        &json!({}),
                        10,
                        now,
                        now,
                    )
                    .execute(&mut *conn)
                    .await?;
                    audit::append(
                        conn,
                        t,
                        &Actor::System,
                        "message.queued",
                        "case",
                        &case.case_id,
                        &json!({"message": m.message_id, "recipient": r.id, "kind": r.message, "address": r.address, "job": job.job_id}),
                        now,
                    )
                    .await?;
                    events::add(
                        conn,
                        t,
                        &case.case_id,
                        "transmission",
                        &format!("Übermittlung an {} vorbereitet ({})", r.name, m.title),
                        false,
                        now,
                    )
                    .await?;
                }
                sent.push(json!({"empfaenger": r.id, "nachricht": m.message_id}));
            }
            out.insert("nachrichten".into(), Json::Array(sent));
        }
        Prepared::Delivered { message_id, recipient, receipt } => {
            if let Some(receipt) = receipt {
                if outbox::delivered(conn, t, message_id, receipt, now).await? {
                    audit::append(
                        conn,
                        t,
                        &Actor::System,
                        "message.delivered",
                        "case",
                        &case.case_id,
                        &json!({"message": message_id, "receipt": receipt}),
                        now,
                    )
                    .await?;
                    events::add(
                        conn,
                        t,
                        &case.case_id,
                        "transmission",
                        &format!("Übermittlung an {recipient} zugestellt"),
                        false,
                        now,
                    )
                    .await?;
                }
            }
        }
        Prepared::Document { kind, template, title, bytes, visible } => {
            let file_name = format!("{}-{}.pdf", case.reference, template);
            documents::insert(
                conn,
                documents::NewDocument {
                    tenant_id: t,
                    document_id: &job.job_id,
                    case_id: &case.case_id,
                    kind,
                    template,
                    title,
                    file_name: &file_name,
                    media_type: "application/pdf",
                    content: bytes,
                    visible_to_applicant: *visible,
                    now,
                },
            )
            .await?;
            if job.job_type != RECEIPT_JOB {
                events::add(conn, t, &case.case_id, "document", &format!("Dokument erstellt: {title}"), *visible, now)
                    .await?;
                if mail && *visible {
                    crate::notify::queue(conn, job, case, "document", now).await?;
                }
            }
            audit::append(
                conn,
                t,
                &Actor::System,
                "document.created",
                "case",
                &case.case_id,
                &json!({"document": job.job_id, "template": template, "sha256": rathaus_store::sha256_hex(bytes)}),
                now,
            )
            .await?;
            out.insert("dokument".into(), json!({"id": job.job_id, "titel": title}));
        }
    }
    Ok(out)
}
