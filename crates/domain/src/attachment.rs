//! Attachments (Anlagen) an applicant uploads with an application: which kinds of file are
//! accepted, what a file really is (by its content, not its name), and the reference an
//! application's data keeps for each file.
//!
//! A file's name and the type the browser claims are chosen by the uploader; only the first
//! bytes say what a clerk's viewer will actually open. So a file is accepted only if its
//! content is of an accepted kind *and* its name says the same kind: a PNG named
//! `bescheid.pdf` would mislead the clerk who opens it.

use serde::{Deserialize, Serialize};

/// A kind of file a form may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
}

impl FileType {
    pub const ALL: [FileType; 3] = [FileType::Pdf, FileType::Jpeg, FileType::Png];

    /// The code used in form schemas (`"accept": ["pdf", "jpeg"]`) and in data.
    pub fn code(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpeg => "jpeg",
            FileType::Png => "png",
        }
    }

    pub fn from_code(code: &str) -> Option<FileType> {
        FileType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
        }
    }

    /// File name endings of this kind, lower case, the usual one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileType::Pdf => &["pdf"],
            FileType::Jpeg => &["jpg", "jpeg"],
            FileType::Png => &["png"],
        }
    }

    /// What people call this kind of file (shown in hints and errors).
    pub fn label(self) -> &'static str {
        match self {
            FileType::Pdf => "PDF",
            FileType::Jpeg => "JPEG",
            FileType::Png => "PNG",
        }
    }

    /// The kind a file's content is, from its signature ("magic bytes").
    pub fn sniff(content: &[u8]) -> Option<FileType> {
        if content.starts_with(b"%PDF-") {
            Some(FileType::Pdf)
        } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileType::Jpeg)
        } else if content.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(FileType::Png)
        } else {
            None
        }
    }

    /// The kind a file name claims by its ending.
    pub fn of_name(name: &str) -> Option<FileType> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        FileType::ALL.into_iter().find(|t| t.extensions().contains(&ext.as_str()))
    }
}

/// The kinds of `accept`, as people read them: "PDF, JPEG oder PNG" / "PDF, JPEG or PNG".
pub fn kinds_label(accept: &[FileType], or: &str) -> String {
    let labels: Vec<&str> = accept.iter().map(|t| t.label()).collect();
    match labels.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} {or} {last}", rest.join(", ")),
    }
}

/// A file size as people read it: "340 KB", "1,2 MB" (German) / "1.2 MB" (English).
pub fn size_label(bytes: u64, lang: crate::Lang) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes < MB {
        return format!("{} KB", bytes.div_ceil(1024));
    }
    let tenths = (bytes * 10).div_ceil(MB);
    let text = format!("{}.{}", tenths / 10, tenths % 10);
    match lang {
        crate::Lang::De => format!("{} MB", text.replace('.', ",")),
        crate::Lang::En => format!("{text} MB"),
    }
}

/// Why a file is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    /// Larger than the field allows (the limit in bytes).
    TooLarge {
        max_bytes: u64,
    },
    /// Its content is none of the accepted kinds (`found` is what it is, if known).
    NotAccepted {
        found: Option<FileType>,
    },
    /// Its content is an accepted kind, but its name says another (or none).
    NameMismatch {
        content: FileType,
    },
}

/// Checks an uploaded file against a field's limits; returns what the file is.
pub fn check(name: &str, content: &[u8], accept: &[FileType], max_bytes: u64) -> Result<FileType, Rejection> {
    if content.is_empty() {
        return Err(Rejection::Empty);
    }
    if content.len() as u64 > max_bytes {
        return Err(Rejection::TooLarge { max_bytes });
    }
    let found = FileType::sniff(content);
    let Some(kind) = found.filter(|k| accept.contains(k)) else {
        return Err(Rejection::NotAccepted { found });
    };
    if FileType::of_name(name) != Some(kind) {
        return Err(Rejection::NameMismatch { content: kind });
    }
    Ok(kind)
}

/// A file name safe to store, show and offer for download: the last path component (some
/// browsers send `C:\fakepath\scan.pdf`), without control characters, quotes or slashes, at
/// most 120 characters with its ending kept. Never empty.
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| if c.is_control() || matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    let cleaned = if cleaned.is_empty() { "datei".to_string() } else { cleaned };
    if cleaned.chars().count() <= 120 {
        return cleaned;
    }
    match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => {
            let stem: String = stem.chars().take(119 - ext.chars().count()).collect();
            format!("{stem}.{ext}")
        }
        _ => cleaned.chars().take(120).collect(),
    }
}

/// How an application's data refers to an uploaded file (the value of a `file` field is a
/// list of these). The content itself is stored once, apart from the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The upload's id; after submission also the id of the case document.
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FileType,
    pub size: u64,
    /// SHA-256 of the content, lower-case hex (printed on the receipt).
    pub sha256: String,
}

impl FileRef {
    /// The file references of a `file` field's value; `None` if the value is not a list of
    /// well-formed references.
    pub fn list_of(value: &serde_json::Value) -> Option<Vec<FileRef>> {
        serde_json::from_value(value.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];
    const ALL: &[FileType] = &FileType::ALL;

    #[test]
    fn the_content_decides_what_a_file_is() {
        assert_eq!(FileType::sniff(PDF), Some(FileType::Pdf));
        assert_eq!(FileType::sniff(PNG), Some(FileType::Png));
        assert_eq!(FileType::sniff(JPEG), Some(FileType::Jpeg));
        assert_eq!(FileType::sniff(b"MZ\x90\0 an executable"), None);
        assert_eq!(FileType::sniff(b"<html>%PDF-"), None);
        assert_eq!(check("Erlaubnis.PDF", PDF, ALL, 1000), Ok(FileType::Pdf));
        assert_eq!(check("foto.jpeg", JPEG, ALL, 1000), Ok(FileType::Jpeg));
        assert_eq!(check("foto.JPG", JPEG, ALL, 1000), Ok(FileType::Jpeg));
    }

    #[test]
    fn a_file_whose_name_or_content_is_wrong_is_rejected_with_the_reason() {
        // A program renamed to .pdf.
        assert_eq!(check("erlaubnis.pdf", b"MZ\x90\0", ALL, 1000), Err(Rejection::NotAccepted { found: None }));
        // An image where only PDFs are accepted.
        assert_eq!(
            check("scan.png", PNG, &[FileType::Pdf], 1000),
            Err(Rejection::NotAccepted { found: Some(FileType::Png) })
        );
        // An image named .pdf.
        assert_eq!(check("scan.pdf", PNG, ALL, 1000), Err(Rejection::NameMismatch { content: FileType::Png }));
        assert_eq!(check("scan", PDF, ALL, 1000), Err(Rejection::NameMismatch { content: FileType::Pdf }));
        assert_eq!(check("leer.pdf", b"", ALL, 1000), Err(Rejection::Empty));
        assert_eq!(check("gross.pdf", PDF, ALL, 10), Err(Rejection::TooLarge { max_bytes: 10 }));
        assert_eq!(check("genau.pdf", PDF, ALL, PDF.len() as u64), Ok(FileType::Pdf));
    }

    #[test]
    fn file_names_are_made_safe_to_store_and_offer() {
        assert_eq!(safe_file_name("C:\\fakepath\\Erlaubnis 34a.pdf"), "Erlaubnis 34a.pdf");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\"b<c>\n.pdf"), "a_b_c__.pdf");
        assert_eq!(safe_file_name(".hidden.pdf"), "hidden.pdf");
        assert_eq!(safe_file_name("/"), "datei");
        let long = format!("{}.pdf", "x".repeat(300));
        let safe = safe_file_name(&long);
        assert_eq!(safe.chars().count(), 120);
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn sizes_read_in_kilobytes_or_megabytes() {
        assert_eq!(size_label(1, crate::Lang::De), "1 KB");
        assert_eq!(size_label(340 * 1024, crate::Lang::De), "340 KB");
        assert_eq!(size_label(1024 * 1024 + 200 * 1024, crate::Lang::De), "1,2 MB");
        assert_eq!(size_label(10 * 1024 * 1024, crate::Lang::En), "10.0 MB");
    }

    #[test]
    fn the_accepted_kinds_read_as_a_list() {
        assert_eq!(kinds_label(ALL, "oder"), "PDF, JPEG oder PNG");
        assert_eq!(kinds_label(&[FileType::Pdf], "or"), "PDF");
        assert_eq!(kinds_label(&[FileType::Pdf, FileType::Png], "or"), "PDF or PNG");
    }

    #[test]
    fn a_reference_reads_back_from_data() {
        let v = serde_json::json!([{"id": "u1", "name": "a.pdf", "type": "pdf", "size": 3, "sha256": "ab"}]);
        let refs = FileRef::list_of(&v).unwrap();
        assert_eq!(refs[0].kind, FileType::Pdf);
        assert_eq!(serde_json::to_value(&refs).unwrap(), v);
        assert!(FileRef::list_of(&serde_json::json!(["a.pdf"])).is_none());
        assert!(FileRef::list_of(
            &serde_json::json!([{"id": "u1", "name": "a.exe", "type": "exe", "size": 3, "sha256": "ab"}])
        )
        .is_none());
    }
}
