//! The complete case file (eAkte) for download, as one ZIP or one PDF. The ZIP: the application's data and
//! findings, every document with its original bytes, the messages, the requests to the
//! applicant, the consultations of other bodies with their statements, fees and payments, the messages sent to other authorities (as sent), the timeline and the audit trail of the case, metadata in the manner of XDOMEA (`xdomea.xml`), and a list
//! of SHA-256 checksums of every file in it (`sha256sum -c` checks them). Exporting is
//! audited.

use crate::chronicle::Kind;
use crate::docdata::{document_data, DocumentContext};
use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::attachment::safe_file_name;
use rathaus_domain::consultation::Verdict;
use rathaus_domain::time::{german_date_time, german_day};
use rathaus_domain::{CaseStatus, Channel, Money};
use rathaus_engine::Instance;
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{
    cases, consultations, documents, events, fees, instances, mailbox, payments, requests, sha256_hex,
};
use serde_json::{json, Value as Json};
use std::io::Write;

/// A finished archive: its file name and bytes.
pub struct CaseArchive {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

fn pretty(v: &Json) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("JSON serialises")
}

/// Text for XML content and attribute values.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The metadata of an archive package in the manner of XDOMEA (the German standard for
/// handing records to an archive or another records system): the file (Akte) with its
/// Aktenzeichen, subject, period and retention, and every file of the package with its kind
/// and SHA-256. Not validated against the XDOMEA schema: an archive's ingest maps it.
struct Package<'a> {
    tenant: &'a str,
    case: &'a cases::Case,
    procedure_name: &'a str,
    retention_years: u32,
    created_at: String,
}

impl Package<'_> {
    fn xml(
        &self,
        files: &[(String, Vec<u8>)],
        documents: &std::collections::HashMap<String, &documents::DocumentMeta>,
    ) -> String {
        let c = self.case;
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<Aussonderung xmlns=\"urn:rathaus:archivpaket:1\" stil=\"xdomea\">\n");
        out.push_str(&format!(
            "  <Kopf><Erstellungszeitpunkt>{}</Erstellungszeitpunkt><Absender>{}</Absender><SendendesSystem>Rathaus {}</SendendesSystem></Kopf>\n",
            xml_text(&self.created_at),
            xml_text(self.tenant),
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str("  <Akte>\n");
        out.push_str(&format!("    <Kennzeichen>{}</Kennzeichen>\n", xml_text(&c.reference)));
        out.push_str(&format!(
            "    <Betreff>{} – {}</Betreff>\n",
            xml_text(self.procedure_name),
            xml_text(&c.applicant)
        ));
        out.push_str(&format!("    <Verfahren>{}</Verfahren>\n", xml_text(&c.procedure_id)));
        out.push_str(&format!(
            "    <Laufzeit><Beginn>{}</Beginn><Ende>{}</Ende></Laufzeit>\n",
            xml_text(&c.submitted_at),
            xml_text(c.decided_at.as_deref().unwrap_or(""))
        ));
        out.push_str(&format!("    <Status>{}</Status>\n", xml_text(&c.status)));
        out.push_str(&format!(
            "    <Aufbewahrungsdauer einheit=\"Jahre\">{}</Aufbewahrungsdauer>\n",
            self.retention_years
        ));
        out.push_str("    <Vorgang>\n");
        for (path, bytes) in files {
            let (kind, title, date) = match documents.get(path) {
                Some(d) => (d.kind.as_str(), d.title.as_str(), d.created_at.as_str()),
                None if path.starts_with("uebermittlungen/") => ("uebermittlung", path.as_str(), ""),
                None => ("metadaten", path.as_str(), ""),
            };
            out.push_str(&format!(
                "      <Dokument><Dateiname>{}</Dateiname><Typ>{}</Typ><Titel>{}</Titel><Datum>{}</Datum><Hashwert algorithmus=\"SHA-256\">{}</Hashwert></Dokument>\n",
                xml_text(path),
                xml_text(kind),
                xml_text(title),
                xml_text(date),
                sha256_hex(bytes)
            ));
        }
        out.push_str("    </Vorgang>\n  </Akte>\n</Aussonderung>\n");
        out
    }
}

impl Runtime {
    /// The case file of `case_id` as ZIP, for a staff member (`actor`).
    pub async fn case_archive(&self, tenant: &Tenant, case_id: &str, actor: &Actor) -> Result<CaseArchive> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let case = cases::by_id(&mut conn, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        files.push((
            "antrag.json".into(),
            pretty(&json!({
                "aktenzeichen": case.reference, "verfahren": case.procedure_id, "bereitstellung": case.deployment_id,
                "status": case.status, "eingangsweg": case.channel, "sprache": case.lang, "antragsteller": case.applicant,
                "eingegangen": case.submitted_at, "entschieden": case.decided_at,
                "daten": case.data_json()?, "pruefergebnisse": case.findings_json()?,
            })),
        ));
        let metas = documents::for_case(&mut conn, t, case_id).await?;
        let mut listed = Vec::new();
        let mut document_of: std::collections::HashMap<String, &documents::DocumentMeta> = Default::default();
        for (i, meta) in metas.iter().enumerate() {
            let Some(bytes) = documents::bytes(&mut conn, t, case_id, &meta.document_id).await? else {
                continue;
            };
            let name = if meta.file_name.is_empty() { format!("{}.pdf", meta.title) } else { meta.file_name.clone() };
            let path = format!("dokumente/{:02}-{}", i + 1, safe_file_name(&name));
            listed.push(json!({"datei": path, "art": meta.kind, "titel": meta.title, "erstellt": meta.created_at,
                "sha256": meta.sha256, "virenpruefung": meta.scan, "abgerufen": meta.retrieved_at}));
            document_of.insert(path.clone(), meta);
            files.push((path, bytes));
        }
        files.push(("dokumente.json".into(), pretty(&Json::Array(listed))));
        let messages: Vec<Json> = mailbox::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|m| json!({"richtung": m.direction, "von": m.author, "text": m.body, "am": m.created_at, "gelesen": m.read_at}))
            .collect();
        files.push(("nachrichten.json".into(), pretty(&Json::Array(messages))));
        let requests: Vec<Json> = requests::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|r| {
                json!({"angefordert": r.body, "frist": r.due_date, "von": r.requested_by, "am": r.created_at,
                "stand": r.state().code(), "beantwortet": r.answered_at, "erinnert": r.reminded_at})
            })
            .collect();
        files.push(("nachforderungen.json".into(), pretty(&Json::Array(requests))));
        let consulted: Vec<Json> = consultations::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|c| {
                json!({"stelle": c.participant, "email": c.email, "frage": c.question, "freigegeben": {"seiten": c.pages(),
                "anlagen": c.share_documents == 1}, "frist": c.due_date, "von": c.requested_by, "am": c.created_at,
                "stand": c.state().code(), "ergebnis": c.verdict, "auflagen": c.conditions, "stellungnahme": c.statement,
                "abgegeben_von": c.answered_by, "beantwortet": c.answered_at, "erinnert": c.reminded_at})
            })
            .collect();
        files.push(("beteiligungen.json".into(), pretty(&Json::Array(consulted))));
        // Corrections of the data, each with the version it replaced.
        let corrected: Vec<Json> = rathaus_store::data_versions::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|v| {
                json!({"fassung": v.version, "am": v.created_at, "von": v.changed_by, "grund": v.reason,
                "aenderungen": serde_json::from_str::<Json>(&v.changes).unwrap_or(Json::Null),
                "vorherige_fassung": serde_json::from_str::<Json>(&v.previous).unwrap_or(Json::Null)})
            })
            .collect();
        files.push(("aenderungen.json".into(), pretty(&Json::Array(corrected))));
        let fee_rows: Vec<Json> = fees::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|f| json!({"kassenzeichen": f.kassenzeichen, "betrag_cent": f.amount_cents, "faellig": f.due_date, "stand": f.status}))
            .collect();
        let payment_rows: Vec<Json> = payments::for_case(&mut conn, t, case_id)
            .await?
            .into_iter()
            .map(|p| json!({"zahlungsdienst": p.provider, "betrag_cent": p.amount_cents, "stand": p.status, "begonnen": p.created_at, "referenz": p.provider_reference}))
            .collect();
        files.push(("gebuehren.json".into(), pretty(&json!({"gebuehren": fee_rows, "zahlungen": payment_rows}))));
        // Messages to other authorities, as sent, and their delivery.
        let mut sent = Vec::new();
        for m in rathaus_store::outbox::for_case(&mut conn, t, case_id).await? {
            let path = format!("uebermittlungen/{}-{}.xml", safe_file_name(&m.kind), safe_file_name(&m.recipient));
            sent.push(json!({"datei": path, "empfaenger": m.recipient_name, "art": m.kind, "adresse": m.address,
                "erstellt": m.created_at, "zugestellt": m.delivered_at, "quittung": m.receipt, "sha256": m.sha256}));
            files.push((path, m.content.into_bytes()));
        }
        if !sent.is_empty() {
            files.push(("uebermittlungen.json".into(), pretty(&Json::Array(sent))));
        }
        let timeline: Vec<Json> = events::for_case(&mut conn, t, case_id, false)
            .await?
            .into_iter()
            .map(|e| json!({"am": e.at, "art": e.kind, "text": e.message, "fuer_antragsteller": e.public == 1}))
            .collect();
        files.push(("verlauf.json".into(), pretty(&Json::Array(timeline))));
        let trail: Vec<Json> = audit::for_object(&mut conn, t, "case", case_id)
            .await?
            .into_iter()
            .map(|a| json!({"nr": a.seq, "am": a.at, "wer": a.actor, "was": a.action, "details": a.details, "hash": a.hash, "vorheriger_hash": a.prev_hash}))
            .collect();
        files.push(("protokoll.json".into(), pretty(&Json::Array(trail))));
        drop(conn);

        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        let metadata = Package {
            tenant: &tenant.name,
            case: &case,
            procedure_name: procedure.manifest.name.get(rathaus_domain::Lang::De),
            retention_years: procedure.manifest.retention_years,
            created_at: rathaus_store::ts(self.clock.now()),
        };
        let xml = metadata.xml(&files, &document_of);
        files.push(("xdomea.xml".into(), xml.into_bytes()));
        let sums: String = files.iter().map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes))).collect();
        files.push(("pruefsummen.sha256".into(), sums.into_bytes()));
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &files {
            zip.start_file(name.as_str(), options).map_err(|e| RuntimeError::Procedure(format!("ZIP: {e}")))?;
            zip.write_all(bytes).map_err(|e| RuntimeError::Procedure(format!("ZIP: {e}")))?;
        }
        let bytes = zip.finish().map_err(|e| RuntimeError::Procedure(format!("ZIP: {e}")))?.into_inner();

        let file_name = format!("Akte-{}.zip", case.reference);
        self.record_export(t, case_id, actor, json!({"format": "zip", "files": files.len()}), &bytes).await?;
        Ok(CaseArchive { file_name, bytes })
    }

    /// The case file of `case_id` as one PDF/A document, for a staff member (`actor`): the
    /// application's data, the findings, the documents with their checksums, the
    /// chronicle, requests, consultations, fees and the audit trail. Audited like the ZIP.
    pub async fn case_file_pdf(&self, tenant: &Tenant, case_id: &str, actor: &Actor) -> Result<CaseArchive> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let case = cases::by_id(&mut conn, t, case_id).await?.ok_or(RuntimeError::NotFound)?;
        let variables = instances::by_case(&mut conn, t, case_id)
            .await?
            .and_then(|row| serde_json::from_str::<Instance>(&row.state).ok())
            .map(|i| i.variables_json())
            .unwrap_or(Json::Null);
        let fee_rows = fees::for_case(&mut conn, t, case_id).await?;
        let metas = documents::for_case(&mut conn, t, case_id).await?;
        let asked = requests::for_case(&mut conn, t, case_id).await?;
        let consulted = consultations::for_case(&mut conn, t, case_id).await?;
        let corrected = rathaus_store::data_versions::for_case(&mut conn, t, case_id).await?;
        let trail = audit::for_object(&mut conn, t, "case", case_id).await?;
        drop(conn);
        let chronicle = self.chronicle(tenant, case_id, &metas).await?;
        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        let now = self.clock.now();
        let title = format!("Akte {}", case.reference);
        let mut data = document_data(&DocumentContext {
            tenant,
            case: &case,
            procedure: &procedure,
            variables: &variables,
            fee: fee_rows.last(),
            title: &title,
            now,
            public_url: &self.config.public_url,
        })
        .map_err(RuntimeError::Procedure)?;
        let day = german_day;
        let at = |ts: &str| rathaus_store::parse_ts(ts).map(german_date_time).unwrap_or_else(|_| ts.to_string());
        let findings: Vec<Json> = case
            .findings_json()?
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let effect = if f["ergebnis"] == "review" { "Prüfung durch die Sachbearbeitung" } else { "Hinweis" };
                json!({"grund": f["grund"], "rechtsgrundlage": f["rechtsgrundlage"], "folge": effect})
            })
            .collect();
        let extra = json!({
            "version": procedure.manifest.version,
            "status": CaseStatus::parse(&case.status).map(CaseStatus::label_de).unwrap_or(&case.status),
            "kanal": Channel::parse(&case.channel).map(Channel::label_de).unwrap_or(&case.channel),
            "antragsteller": case.applicant,
            "entschieden": case.decided_at.as_deref().map(at),
            "pruefergebnisse": findings,
            "dokumente": metas.iter().map(|m| json!({"titel": m.title, "datei": m.file_name, "art": m.kind,
                "erstellt": at(&m.created_at), "sha256": m.sha256})).collect::<Vec<_>>(),
            "chronik": chronicle.into_iter().map(|e| json!({"am": at(&e.at),
                "art": chronicle_label(e.kind), "text": e.text, "intern": e.internal})).collect::<Vec<_>>(),
            "nachforderungen": asked.iter().map(|r| json!({"text": r.body, "frist": day(&r.due_date),
                "stand": state_label(r.state())})).collect::<Vec<_>>(),
            "beteiligungen": consulted.iter().map(|c| json!({"stelle": c.participant, "frage": c.question,
                "frist": day(&c.due_date), "stand": state_label(c.state()),
                "ergebnis": c.verdict.as_deref().and_then(Verdict::parse).map(Verdict::label_de),
                "auflagen": c.conditions, "stellungnahme": c.statement, "abgegeben_von": c.answered_by,
                "beantwortet": c.answered_at.as_deref().map(at)})).collect::<Vec<_>>(),
            "aenderungen": corrected.iter().map(|v| json!({"fassung": v.version, "am": at(&v.created_at), "von": v.changed_by,
                "grund": v.reason, "felder": serde_json::from_str::<Vec<rathaus_engine::summary::Change>>(&v.changes)
                    .unwrap_or_default().into_iter().map(|c| json!({"feld": c.label, "alt": c.old, "neu": c.new})).collect::<Vec<_>>()}))
                .collect::<Vec<_>>(),
            "gebuehren": fee_rows.iter().map(|f| json!({"kassenzeichen": f.kassenzeichen,
                "betrag": Money::from_cents(f.amount_cents).to_german(), "faellig": day(&f.due_date),
                "stand": fee_label(&f.status)})).collect::<Vec<_>>(),
            "protokoll": trail.iter().map(|a| json!({"nr": a.seq, "am": at(&a.at), "wer": a.actor, "was": a.action}))
                .collect::<Vec<_>>(),
        });
        if let (Some(base), Json::Object(more)) = (data.as_object_mut(), extra) {
            base.extend(more);
        }
        let bytes = tokio::task::spawn_blocking(move || {
            rathaus_documents::render_pdf(rathaus_documents::CASE_FILE_TEMPLATE, &data)
        })
        .await
        .map_err(|e| RuntimeError::Procedure(format!("Akte als PDF: {e}")))?
        .map_err(|e| RuntimeError::Procedure(format!("Akte als PDF: {e}")))?;
        self.record_export(t, case_id, actor, json!({"format": "pdf"}), &bytes).await?;
        Ok(CaseArchive { file_name: format!("Akte-{}.pdf", case.reference), bytes })
    }

    /// Audits an export of the case file (`case.exported`), with the export's checksum.
    async fn record_export(
        &self,
        t: &str,
        case_id: &str,
        actor: &Actor,
        mut details: Json,
        bytes: &[u8],
    ) -> Result<()> {
        details["sha256"] = json!(sha256_hex(bytes));
        let mut tx = self.store.begin().await?;
        audit::append(&mut tx, t, actor, "case.exported", "case", case_id, &details, self.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn chronicle_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Course => "Verlauf",
        Kind::Document => "Dokument",
        Kind::Message => "Nachricht",
        Kind::Request => "Nachforderung",
        Kind::Consultation => "Beteiligung",
        Kind::Fee => "Gebühr",
        Kind::Note => "Vermerk",
    }
}

fn state_label(state: rathaus_store::requests::State) -> &'static str {
    use rathaus_store::requests::State;
    match state {
        State::Open => "offen",
        State::Overdue => "Frist abgelaufen",
        State::Answered => "beantwortet",
        State::Withdrawn => "zurückgenommen",
    }
}

fn fee_label(status: &str) -> &str {
    match status {
        "open" => "offen",
        "paid" => "bezahlt",
        "cancelled" => "storniert",
        other => other,
    }
}
