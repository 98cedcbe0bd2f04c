//! PDF/A documents (receipts, notices) rendered with typst as a library.
//!
//! A template is a typst file; its data arrive as the JSON file `/daten.json`, which the
//! template reads with `json("/daten.json")`. User input therefore never becomes markup.
//! `/rathaus.typ` holds the shared letterhead, data tables, fee block and remedy notice.
//! Fonts are embedded in the binary (typst-assets), so rendering needs no files at run time.

pub mod text;

use std::collections::HashMap;
use std::sync::OnceLock;
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

/// The shared building blocks every template may import.
pub const PLATFORM_MODULE: &str = include_str!("../templates/rathaus.typ");
/// The receipt every submission gets, whatever the procedure.
pub const RECEIPT_TEMPLATE: &str = include_str!("../templates/eingangsbestaetigung.typ");
/// The complete case file as a PDF for staff, whatever the procedure.
pub const CASE_FILE_TEMPLATE: &str = include_str!("../templates/akte.typ");

/// A problem in a template, located in one of its files (`main.typ` is the template itself,
/// `rathaus.typ` the platform module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDiagnostic {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TemplateDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("Vorlage fehlerhaft: {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))]
    Template(Vec<TemplateDiagnostic>),
    #[error("PDF-Erzeugung fehlgeschlagen: {0}")]
    Pdf(String),
    #[error("Daten nicht serialisierbar: {0}")]
    Data(String),
}

struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))).collect();
        Shared { library: LazyHash::new(Library::default()), book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts }
    })
}

// File ids are interned for the life of the process (a bounded table), so every render uses
// the same three virtual paths; only their contents differ.
fn file_id(path: &str) -> FileId {
    RootedPath::new(VirtualRoot::Project, VirtualPath::new(path).expect("valid virtual path")).intern()
}

struct DocumentWorld {
    main: Source,
    files: HashMap<FileId, Bytes>,
    sources: HashMap<FileId, Source>,
    today: Datetime,
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        &shared().library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &shared().book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            return Ok(self.main.clone());
        }
        self.sources.get(&id).cloned().ok_or_else(|| FileError::NotFound(format!("{id:?}").into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.files.get(&id).cloned().ok_or_else(|| FileError::NotFound(format!("{id:?}").into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        shared().fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

/// Renders `template` (typst source) with `data` as `/daten.json` into a PDF/A-2b document.
/// `data` must contain `titel` and `datum` {jahr, monat, tag} (PDF/A needs title and date).
pub fn render_pdf(template: &str, data: &serde_json::Value) -> Result<Vec<u8>, RenderError> {
    let date = data.get("datum");
    let part = |k: &str| date.and_then(|d| d.get(k)).and_then(serde_json::Value::as_i64);
    let today = match (part("jahr"), part("monat"), part("tag")) {
        (Some(y), Some(m), Some(d)) => Datetime::from_ymd(y as i32, m as u8, d as u8)
            .ok_or_else(|| RenderError::Data(format!("ungültiges Datum {y}-{m}-{d}")))?,
        _ => return Err(RenderError::Data("datum {jahr, monat, tag} fehlt".into())),
    };
    let json = serde_json::to_vec(data).map_err(|e| RenderError::Data(e.to_string()))?;
    let main_id = file_id("/main.typ");
    let platform_id = file_id("/rathaus.typ");
    let world = DocumentWorld {
        main: Source::new(main_id, template.to_string()),
        files: HashMap::from([(file_id("/daten.json"), Bytes::new(json))]),
        sources: HashMap::from([(platform_id, Source::new(platform_id, PLATFORM_MODULE.to_string()))]),
        today,
    };
    let result = typst::compile::<PagedDocument>(&world);
    let document = result.output.map_err(|errs| RenderError::Template(describe(&world, &errs)))?;
    let options = PdfOptions {
        standards: PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| RenderError::Pdf(e.message().to_string()))?,
        ..PdfOptions::default()
    };
    let pdf = typst_pdf::pdf(&document, &options).map_err(|errs| {
        RenderError::Pdf(describe(&world, &errs).iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))
    })?;
    // typst memoises aggressively; drop cache entries unused for a few renders so a
    // long-running server does not grow without bound.
    comemo::evict(10);
    Ok(pdf)
}

fn describe(world: &DocumentWorld, diags: &[SourceDiagnostic]) -> Vec<TemplateDiagnostic> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let id = d.span.id();
            let file = id.map(|id| id.get().vpath().get_without_slash().to_string());
            let line = id
                .and_then(|id| Some((world.source(id).ok()?, world.range(d.span)?)))
                .and_then(|(source, range)| source.lines().byte_to_line(range.start))
                .map(|l| l + 1);
            TemplateDiagnostic { file, line, message: d.message.to_string() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn sample() -> serde_json::Value {
        json!({
            "titel": "Eingangsbestätigung",
            "datum": {"jahr": 2026, "monat": 11, "tag": 22, "text": "22.11.2026"},
            "aktenzeichen": "GEW-2026-000001",
            "behoerde": {"name": "Stadt Musterstadt", "amt": "Gewerbeamt", "strasse": "Markt 1", "plz_ort": "09999 Musterstadt",
                          "telefon": "03700 1234", "email": "gewerbe@musterstadt.example", "oeffnungszeiten": "Mo–Fr 8–12 Uhr", "farbe": "#1d4e89"},
            "empfaenger": ["Erika Muster", "Hauptstraße 1", "09999 Musterstadt"],
            "verfahren": "Gewerbeanzeige",
            "eingang": "22.11.2026, 18:55 Uhr",
            "status_url": "http://127.0.0.1:8080/musterstadt/status",
            "abschnitte": [{"titel": "Angaben zur Person", "zeilen": [["Familienname", "Muster #*_[]$ \\ <script>"], ["Vornamen", "Erika"]]}],
            "anlagen": [],
            "automatisch": true
        })
    }

    #[test]
    fn renders_the_receipt_as_pdf_a_with_hostile_text_as_plain_data() {
        let pdf = render_pdf(RECEIPT_TEMPLATE, &sample()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("pdfaid:part"), "PDF/A identification must be present");
    }

    /// What a notice prints can be read back: the applicant's hostile input as plain text.
    #[test]
    fn the_text_of_a_rendered_document_reads_back() {
        let pdf = render_pdf(RECEIPT_TEMPLATE, &sample()).unwrap();
        let text = text::squeeze(&text::pdf_text(&pdf).expect("readable PDF"));
        for words in ["GEW-2026-000001", "Stadt Musterstadt", "Muster #*_[]$ \\ <script>"] {
            assert!(text.contains(&text::squeeze(words)), "{words} missing in {text}");
        }
        assert!(!text.contains(&text::squeeze("Max Mustermann")));
        assert!(text::pdf_text(b"kein PDF").is_none());
    }

    /// The fee part of a notice with its GiroCode (an SVG drawn by the domain) renders.
    #[test]
    fn a_fee_with_its_girocode_renders() {
        let mut data = sample();
        let code = r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="200" height="200" viewBox="0 0 200 200"><rect width="200" height="200" fill="#fff"/><path fill="#000" d="M8 8h8v8H8z"/></svg>"##;
        data["gebuehr"] = json!({"betrag": "26,00 €", "kassenzeichen": "202600000014", "faellig": "22.12.2026",
            "rechtsgrundlage": "Satzung", "kontoinhaber": "Stadtkasse", "iban": "DE02120300000000202051", "bic": "BYLADEM1001",
            "girocode": code});
        let template =
            "#import \"/rathaus.typ\": *\n#let d = json(\"/daten.json\")\n#show: dokument.with(d)\n#gebuehr(d)";
        let with_code = render_pdf(template, &data).unwrap();
        data["gebuehr"]["girocode"] = serde_json::Value::Null;
        let without = render_pdf(template, &data).unwrap();
        assert!(with_code.starts_with(b"%PDF-") && without.starts_with(b"%PDF-"));
        assert!(with_code.len() > without.len(), "the code is in the PDF");
    }

    /// The case file as PDF, with every part filled and with the optional parts missing.
    #[test]
    fn the_case_file_renders_full_and_empty() {
        let mut data = sample();
        let full = json!({
            "titel": "Akte GEW-2026-000001", "version": "1.2.0", "status": "In Prüfung", "kanal": "Post (Brief)",
            "antragsteller": "Erika Muster", "entschieden": "01.12.2026, 10:00 Uhr",
            "pruefergebnisse": [{"grund": "Erlaubnis nach § 34a GewO nötig #*", "rechtsgrundlage": "§ 34a GewO", "folge": "Hinweis"}],
            "dokumente": [{"titel": "Eingang (Scan)", "datei": "brief.pdf", "art": "anlage", "erstellt": "22.11.2026, 18:55 Uhr", "sha256": "ab".repeat(32)},
                          {"titel": "Eingangsbestätigung", "datei": "", "art": "eingangsbestaetigung", "erstellt": "22.11.2026, 18:55 Uhr", "sha256": "cd".repeat(32)}],
            "chronik": [{"am": "22.11.2026, 18:55 Uhr", "art": "Verlauf", "text": "Antrag eingegangen", "intern": false},
                        {"am": "22.11.2026, 18:56 Uhr", "art": "Nachricht", "text": "Zeile 1\nZeile 2 $x$ <b>", "intern": true}],
            "aenderungen": [{"fassung": 2, "am": "23.11.2026, 09:00 Uhr", "von": "staff:sabine", "grund": "Schreibfehler #[x]",
                             "felder": [{"feld": "Familienname", "alt": "Muster", "neu": "Mustermann"}, {"feld": "Telefon", "alt": "", "neu": "0351 1"}]}],
            "nachforderungen": [{"text": "Mietvertrag", "frist": "10.12.2026", "stand": "offen"}],
            "beteiligungen": [{"stelle": "Polizei", "frage": "Bedenken?", "frist": "10.12.2026", "stand": "beantwortet",
                               "ergebnis": "Zustimmung mit Auflagen", "auflagen": "Absperrung", "stellungnahme": "", "abgegeben_von": "PHK Maier",
                               "beantwortet": "01.12.2026, 09:00 Uhr"},
                              {"stelle": "Feuerwehr", "frage": "Zufahrt?", "frist": "10.12.2026", "stand": "offen",
                               "ergebnis": null, "auflagen": null, "stellungnahme": null, "abgegeben_von": null, "beantwortet": null}],
            "gebuehren": [{"kassenzeichen": "202600000014", "betrag": "26,00 €", "faellig": "22.12.2026", "stand": "offen"}],
            "protokoll": [{"nr": 1, "am": "22.11.2026, 18:55 Uhr", "wer": "applicant", "was": "case.submitted"}]
        });
        for (k, v) in full.as_object().unwrap() {
            data[k] = v.clone();
        }
        let pdf = render_pdf(CASE_FILE_TEMPLATE, &data).unwrap();
        assert!(String::from_utf8_lossy(&pdf).contains("Akte GEW-2026-000001"), "the title is in the metadata");
        for key in [
            "pruefergebnisse",
            "dokumente",
            "chronik",
            "aenderungen",
            "nachforderungen",
            "beteiligungen",
            "gebuehren",
            "protokoll",
        ] {
            data[key] = json!([]);
        }
        data["entschieden"] = serde_json::Value::Null;
        data["abschnitte"] = json!([]);
        let empty = render_pdf(CASE_FILE_TEMPLATE, &data).unwrap();
        assert!(empty.starts_with(b"%PDF-") && empty.len() < pdf.len());
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let err = render_pdf("#let d = json(\"/daten.json\")\n#d.gibtsnicht.x", &sample()).unwrap_err();
        assert!(matches!(err, RenderError::Template(_)), "{err}");
        let err = render_pdf("hallo", &json!({})).unwrap_err();
        assert!(matches!(err, RenderError::Data(_)));
    }
}
