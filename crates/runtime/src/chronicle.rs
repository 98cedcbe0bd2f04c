//! The case file in time order (Chronik): what happened to a case from its receipt on,
//! across kinds, for the one-screen view of the case file and its PDF. The timeline's
//! entries are the backbone (every change of state writes one); the mailbox messages add
//! their text, and the documents no timeline entry announces (the applicant's attachments,
//! the receipt) add themselves with their file.

use crate::{Result, Runtime};
use rathaus_store::documents::DocumentMeta;
use rathaus_store::events;
use rathaus_store::events::Event;
use rathaus_store::mailbox::{self, CaseMessage};
use rathaus_store::tenants::Tenant;

/// What an entry is about; the case file filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Receipt, checks, tasks, decisions, status.
    Course,
    Document,
    Message,
    Request,
    Consultation,
    Fee,
    /// A clerk's note to the file (Vermerk).
    Note,
}

impl Kind {
    pub const ALL: [Kind; 7] =
        [Kind::Course, Kind::Document, Kind::Message, Kind::Request, Kind::Consultation, Kind::Fee, Kind::Note];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Course => "verlauf",
            Kind::Document => "dokumente",
            Kind::Message => "nachrichten",
            Kind::Request => "nachforderungen",
            Kind::Consultation => "beteiligungen",
            Kind::Fee => "gebuehren",
            Kind::Note => "vermerke",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind of a timeline entry of `kind`.
    fn of_event(kind: &str) -> Kind {
        match kind {
            "request" => Kind::Request,
            "consultation" => Kind::Consultation,
            "document" | "retrieved" => Kind::Document,
            "fee" | "payment" => Kind::Fee,
            NOTE => Kind::Note,
            _ => Kind::Course,
        }
    }
}

/// The timeline kind of a clerk's note.
pub(crate) const NOTE: &str = "note";
/// The longest note.
pub const MAX_NOTE: usize = 4000;

/// Which version of its document each of `docs` is, and of how many: generated documents
/// of the same kind and title (a notice made again) are versions of one document; the
/// applicant's files each stand alone.
pub fn document_versions(docs: &[DocumentMeta]) -> Vec<(usize, usize)> {
    let key = |d: &DocumentMeta| (d.kind != "anlage").then(|| (d.kind.clone(), d.title.clone()));
    docs.iter()
        .enumerate()
        .map(|(i, d)| match key(d) {
            None => (1, 1),
            Some(k) => {
                let same: Vec<usize> =
                    docs.iter().enumerate().filter(|(_, o)| key(o).as_ref() == Some(&k)).map(|(j, _)| j).collect();
                (same.iter().position(|j| *j == i).unwrap_or(0) + 1, same.len())
            }
        })
        .collect()
}

/// One entry of the chronicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// RFC 3339 (UTC), as stored.
    pub at: String,
    pub kind: Kind,
    pub text: String,
    /// Not shown to the applicant (internal timeline entries).
    pub internal: bool,
    /// The document the entry is about, to link to it.
    pub document_id: Option<String>,
}

/// Whether a document announces itself in the chronicle: the timeline already says when a
/// notice or letter was made, not when a file came in or the receipt was made.
fn unannounced(d: &DocumentMeta) -> bool {
    d.kind == "anlage" || d.kind == "eingangsbestaetigung"
}

/// The chronicle of a case from its sources, oldest first; entries of the same moment keep
/// the order timeline, documents, messages.
pub fn merge(timeline: &[Event], docs: &[DocumentMeta], messages: &[CaseMessage]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = timeline
        .iter()
        .map(|e| Entry {
            at: e.at.clone(),
            kind: Kind::of_event(&e.kind),
            text: e.message.clone(),
            internal: e.public == 0,
            document_id: None,
        })
        .collect();
    entries.extend(docs.iter().filter(|d| unannounced(d)).map(|d| {
        let text = if d.kind == "anlage" {
            format!("Datei eingegangen: {} ({})", d.file_name, d.title)
        } else {
            format!("Dokument erstellt: {}", d.title)
        };
        Entry {
            at: d.created_at.clone(),
            kind: Kind::Document,
            text,
            internal: false,
            document_id: Some(d.document_id.clone()),
        }
    }));
    entries.extend(messages.iter().map(|m| {
        let text = if m.direction == mailbox::IN {
            format!("Nachricht der antragstellenden Person: {}", m.body)
        } else {
            format!("Nachricht an die antragstellende Person ({}): {}", m.author, m.body)
        };
        Entry { at: m.created_at.clone(), kind: Kind::Message, text, internal: false, document_id: None }
    }));
    // A stable sort: the order of the sources decides within the same moment.
    entries.sort_by(|a, b| a.at.cmp(&b.at));
    entries
}

impl Runtime {
    /// A clerk's note to the case file (Vermerk): internal, in the chronicle, audited.
    pub async fn add_note(
        &self,
        tenant: &Tenant,
        case_id: &str,
        author: &rathaus_store::audit::Actor,
        author_name: &str,
        text: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        events::add(
            &mut tx,
            &tenant.tenant_id,
            case_id,
            NOTE,
            &format!("Vermerk von {author_name}: {text}"),
            false,
            now,
        )
        .await?;
        rathaus_store::audit::append(
            &mut tx,
            &tenant.tenant_id,
            author,
            "case.note",
            "case",
            case_id,
            &serde_json::json!({"chars": text.chars().count()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chronicle of the tenant's case, oldest first; `docs` are the case's documents,
    /// which every caller has read already.
    pub async fn chronicle(&self, tenant: &Tenant, case_id: &str, docs: &[DocumentMeta]) -> Result<Vec<Entry>> {
        let t = &tenant.tenant_id;
        let mut conn = self.store.conn().await?;
        let timeline = events::for_case(&mut conn, t, case_id, false).await?;
        let messages = mailbox::for_case(&mut conn, t, case_id).await?;
        Ok(merge(&timeline, docs, &messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: &str, kind: &str, message: &str, public: i64) -> Event {
        Event { seq: 0, at: at.into(), kind: kind.into(), message: message.into(), public }
    }

    fn doc(at: &str, kind: &str, title: &str, file: &str) -> DocumentMeta {
        DocumentMeta {
            document_id: format!("d-{title}"),
            case_id: "c".into(),
            kind: kind.into(),
            template: String::new(),
            title: title.into(),
            file_name: file.into(),
            media_type: "application/pdf".into(),
            sha256: String::new(),
            size: 1,
            visible_to_applicant: 1,
            created_at: at.into(),
            scan: String::new(),
            retrieved_at: None,
            message_id: None,
        }
    }

    #[test]
    fn entries_of_all_kinds_in_time_order() {
        let timeline = [
            event("2026-12-07T09:00:00.000Z", "submitted", "Antrag eingegangen", 1),
            event("2026-12-07T09:00:01.000Z", "task", "Aufgabe angelegt", 0),
            event("2026-12-08T10:00:00.000Z", "request", "Unterlagen nachgefordert", 1),
            event("2026-12-09T10:00:00.000Z", "document", "Dokument erstellt: Bescheid", 1),
        ];
        let docs = [
            doc("2026-12-07T09:00:00.000Z", "anlage", "Erlaubnis", "erlaubnis.pdf"),
            doc("2026-12-07T09:00:02.000Z", "eingangsbestaetigung", "Eingangsbestätigung", ""),
            // Announced by the timeline: not twice.
            doc("2026-12-09T10:00:00.000Z", "bescheid", "Bescheid", ""),
        ];
        let messages = [CaseMessage {
            message_id: "m".into(),
            case_id: "c".into(),
            direction: mailbox::IN.into(),
            author: "Erika Muster".into(),
            body: "Anbei die Erlaubnis.".into(),
            created_at: "2026-12-08T12:00:00.000Z".into(),
            read_at: None,
        }];
        let entries = merge(&timeline, &docs, &messages);
        let lines: Vec<(Kind, &str)> = entries.iter().map(|e| (e.kind, e.text.as_str())).collect();
        assert_eq!(
            lines,
            [
                (Kind::Course, "Antrag eingegangen"),
                (Kind::Document, "Datei eingegangen: erlaubnis.pdf (Erlaubnis)"),
                (Kind::Course, "Aufgabe angelegt"),
                (Kind::Document, "Dokument erstellt: Eingangsbestätigung"),
                (Kind::Request, "Unterlagen nachgefordert"),
                (Kind::Message, "Nachricht der antragstellenden Person: Anbei die Erlaubnis."),
                (Kind::Document, "Dokument erstellt: Bescheid"),
            ]
        );
        assert!(entries[2].internal && !entries[0].internal);
        assert_eq!(entries[1].document_id.as_deref(), Some("d-Erlaubnis"));
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.code()), Some(k));
        }
    }

    #[test]
    fn a_notice_made_again_is_its_second_version() {
        let docs = [
            doc("2026-12-07T09:00:00.000Z", "bescheid", "Bescheid", ""),
            doc("2026-12-07T09:00:01.000Z", "anlage", "Erlaubnis", "a.pdf"),
            doc("2026-12-07T09:00:02.000Z", "anlage", "Erlaubnis", "b.pdf"),
            doc("2026-12-08T09:00:00.000Z", "bescheid", "Bescheid", ""),
            doc("2026-12-08T09:00:00.000Z", "eingangsbestaetigung", "Eingangsbestätigung", ""),
        ];
        assert_eq!(document_versions(&docs), [(1, 2), (1, 1), (1, 1), (2, 2), (1, 1)]);
        let notes = [event("2026-12-07T09:00:00.000Z", NOTE, "Vermerk von Sabine: Rückruf", 0)];
        assert_eq!(merge(&notes, &[], &[])[0].kind, Kind::Note);
    }
}
