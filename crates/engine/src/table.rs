//! Table parameters: lists a town maintains for a procedure (the parcels and areas where it
//! has a right of pre-emption, the streets of its fee zones). A parameter of type `table`
//! names its columns; its value is a list of rows (objects of texts), which decisions see as
//! `parameter.<name>` and filter like any list. Towns keep them in the administration, row
//! by row or by importing a CSV file as spreadsheets export it.

use rathaus_domain::Text;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// A column of a table parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// The key decisions use (`item.flurstueck`).
    pub key: String,
    pub label: Text,
    /// A row must give it.
    #[serde(default)]
    pub required: bool,
}

/// The most rows a table takes (a town's pre-emption areas are a few thousand parcels).
pub const MAX_ROWS: usize = 20_000;
const MAX_CELL: usize = 500;

/// A table's rows, checked: a list of objects with texts of the known columns, the required
/// ones given. Empty cells are left out of the row.
pub fn check_rows(columns: &[ColumnDef], value: &Json) -> Result<Json, String> {
    let rows = value.as_array().ok_or("Liste von Zeilen erwartet")?;
    if rows.len() > MAX_ROWS {
        return Err(format!("höchstens {MAX_ROWS} Zeilen"));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        let object = row.as_object().ok_or_else(|| format!("Zeile {n}: keine Zeile mit Spalten"))?;
        if let Some(unknown) = object.keys().find(|k| !columns.iter().any(|c| &c.key == *k)) {
            return Err(format!("Zeile {n}: Spalte „{unknown}“ gibt es nicht"));
        }
        let mut clean = Map::new();
        for c in columns {
            let cell = match object.get(&c.key) {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => s.trim().to_string(),
                Some(Json::Number(x)) => x.to_string(),
                Some(other) => return Err(format!("Zeile {n}, {}: Text erwartet, nicht {other}", label(c))),
            };
            if cell.chars().count() > MAX_CELL {
                return Err(format!("Zeile {n}, {}: höchstens {MAX_CELL} Zeichen", label(c)));
            }
            if cell.is_empty() {
                if c.required {
                    return Err(format!("Zeile {n}: {} fehlt", label(c)));
                }
                continue;
            }
            clean.insert(c.key.clone(), Json::String(cell));
        }
        out.push(Json::Object(clean));
    }
    Ok(Json::Array(out))
}

fn label(c: &ColumnDef) -> String {
    format!("„{}“", c.label.get(rathaus_domain::Lang::De))
}

/// A problem of an imported CSV file, with its line (1 = the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvProblem {
    pub line: usize,
    pub message: String,
}

/// Reads a CSV file into rows. The first line names the columns, by key or by German label
/// in any case; columns the table does not have are refused, so a misnamed column is not
/// silently dropped. The separator is `;` (as German spreadsheets write it), `,` or a tab,
/// whichever the header uses; fields may be quoted with `"` (doubled inside). Every problem
/// is reported with its line.
pub fn parse_csv(columns: &[ColumnDef], text: &str) -> Result<Json, Vec<CsvProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((h, header)) = lines.next() else {
        return Err(vec![CsvProblem { line: 1, message: "Die Datei ist leer.".into() }]);
    };
    let separator = [';', '\t', ','].into_iter().max_by_key(|s| header.matches(*s).count()).unwrap_or(';');
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    for name in split(header, separator) {
        let wanted = name.trim().to_lowercase();
        match columns
            .iter()
            .find(|c| c.key.to_lowercase() == wanted || c.label.get(rathaus_domain::Lang::De).to_lowercase() == wanted)
        {
            Some(c) => keys.push(c.key.clone()),
            None => problems.push(CsvProblem {
                line: h + 1,
                message: format!(
                    "Spalte „{}“ gibt es nicht; erwartet: {}",
                    name.trim(),
                    columns.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
    for c in columns.iter().filter(|c| c.required && !keys.contains(&c.key)) {
        problems.push(CsvProblem { line: h + 1, message: format!("Spalte {} fehlt", label(c)) });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let cells = split(line, separator);
        if cells.len() > keys.len() {
            problems.push(CsvProblem {
                line: i + 1,
                message: format!("{} Felder, die Kopfzeile hat {}", cells.len(), keys.len()),
            });
            continue;
        }
        let mut row = Map::new();
        for (key, cell) in keys.iter().zip(cells) {
            row.insert(key.clone(), Json::String(cell));
        }
        match check_rows(columns, &Json::Array(vec![Json::Object(row)])) {
            Ok(Json::Array(mut checked)) => rows.push(checked.remove(0)),
            Ok(_) => unreachable!("check_rows returns a list"),
            Err(e) => problems.push(CsvProblem { line: i + 1, message: e.replacen("Zeile 1", "Zeile", 1) }),
        }
    }
    if rows.len() > MAX_ROWS {
        problems.push(CsvProblem { line: 1, message: format!("höchstens {MAX_ROWS} Zeilen") });
    }
    if problems.is_empty() {
        Ok(Json::Array(rows))
    } else {
        Err(problems)
    }
}

/// The fields of one CSV line.
fn split(line: &str, separator: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => out.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    out.push(cell);
    out
}

/// The rows as CSV with `;`, the header by key: what the town downloads, edits and imports
/// again.
pub fn to_csv(columns: &[ColumnDef], rows: &Json) -> String {
    let quote = |s: &str| {
        if s.contains([';', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = columns.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(";");
    out.push('\n');
    for row in rows.as_array().into_iter().flatten() {
        let cells: Vec<String> =
            columns.iter().map(|c| quote(row.get(&c.key).and_then(Json::as_str).unwrap_or_default())).collect();
        out.push_str(&cells.join(";"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> Vec<ColumnDef> {
        let c =
            |key: &str, label: &str, required: bool| ColumnDef { key: key.into(), label: Text::de(label), required };
        vec![c("gemarkung", "Gemarkung", true), c("flurstueck", "Flurstück", false), c("gebiet", "Gebiet", true)]
    }

    #[test]
    fn a_spreadsheet_export_reads_with_labels_semicolons_quotes_and_a_byte_order_mark() {
        let csv = "\u{feff}Gemarkung;Flurstück;Gebiet\nMusterstadt;12/3;\"Sanierungsgebiet \"\"Altstadt\"\"; Teil 1\"\n\nOberdorf;;Satzung § 25\n";
        let rows = parse_csv(&columns(), csv).unwrap();
        assert_eq!(
            rows,
            json!([{"gemarkung": "Musterstadt", "flurstueck": "12/3", "gebiet": "Sanierungsgebiet \"Altstadt\"; Teil 1"},
                   {"gemarkung": "Oberdorf", "gebiet": "Satzung § 25"}])
        );
        assert_eq!(parse_csv(&columns(), &to_csv(&columns(), &rows)).unwrap(), rows, "export and import agree");
        let commas = parse_csv(&columns(), "gemarkung,gebiet\nMusterstadt,B-Plan 7").unwrap();
        assert_eq!(commas, json!([{"gemarkung": "Musterstadt", "gebiet": "B-Plan 7"}]));
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let e = parse_csv(&columns(), "Gemarkung;Flur\nA;1").unwrap_err();
        assert_eq!(e[0].line, 1);
        assert!(e.iter().any(|p| p.message.contains("„Flur“ gibt es nicht")), "{e:?}");
        assert!(e.iter().any(|p| p.message.contains("„Gebiet“ fehlt")), "{e:?}");
        let e = parse_csv(&columns(), "gemarkung;gebiet\nA;X\n;Y\nB;Z;zu viel").unwrap_err();
        assert_eq!(e.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4], "{e:?}");
        assert!(e[0].message.contains("„Gemarkung“ fehlt"), "{e:?}");
        assert!(parse_csv(&columns(), "").is_err());
    }

    #[test]
    fn rows_are_checked_when_stored() {
        assert!(check_rows(&columns(), &json!([{"gemarkung": "A", "gebiet": "B", "x": "1"}]))
            .unwrap_err()
            .contains("„x“"));
        assert!(check_rows(&columns(), &json!([{"gemarkung": "A"}])).unwrap_err().contains("Zeile 1: „Gebiet“ fehlt"));
        assert_eq!(
            check_rows(&columns(), &json!([{"gemarkung": " A ", "gebiet": "B", "flurstueck": ""}])).unwrap(),
            json!([{"gemarkung": "A", "gebiet": "B"}])
        );
        assert!(check_rows(&columns(), &json!("nein")).is_err());
    }
}
