//! A procedure described for people (docs/procedures.md): what the library says about it,
//! generated so that the documentation cannot drift from what runs. What the machine does
//! and what a clerk does is read from the process; the reasons for a clerk from the hints of
//! the check decision; deadlines, recipients and the town's settings from procedure.toml.
//! The narrative around it (why, what to verify) stays hand-written.

use crate::bpmn::{ElementKind, Process, TimeValue, Trigger};
use crate::connectors;
use crate::library::Procedure;
use rathaus_domain::Lang;

/// The marker lines between which [`update`] puts a procedure's generated description.
pub fn markers(id: &str) -> (String, String) {
    (format!("<!-- generated: {id} (rathaus library docs) -->"), format!("<!-- end generated: {id} -->"))
}

fn de(t: &rathaus_domain::Text) -> String {
    t.get(Lang::De).to_string()
}

/// One cell of a Markdown table: `|` and line breaks would break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn step(p: &Procedure, process: &Process, out: &mut Vec<String>) {
    for e in &process.elements {
        let name = if e.name.is_empty() { e.id.clone() } else { e.name.clone() };
        let line = match &e.kind {
            ElementKind::BusinessRuleTask { decision_id, .. } => {
                Some(format!("- machine: „{name}“ – decision `{decision_id}`"))
            }
            ElementKind::ServiceTask { job } => {
                let what = match job.task_type.as_str() {
                    connectors::DOCUMENT => {
                        let template = job.headers.get("template").cloned().unwrap_or_default();
                        let title = p.template_title(&template).map(de).unwrap_or(template);
                        format!("document „{title}“ (PDF/A)")
                    }
                    connectors::FEE => "fee with Kassenzeichen".to_string(),
                    connectors::CASE_STATUS => {
                        format!("status `{}`", job.headers.get("status").cloned().unwrap_or_default())
                    }
                    connectors::MESSAGE => {
                        let formats: Vec<String> = p.manifest.messages.values().map(|m| de(&m.title)).collect();
                        format!("messages to other authorities ({})", formats.join(", "))
                    }
                    connectors::CONSULT => {
                        "asks the participants the check names for a statement, with a deadline (`rathaus:consult`)"
                            .to_string()
                    }
                    connectors::COPY => {
                        let template = job.headers.get("template").cloned().unwrap_or_default();
                        let title = p.template_title(&template).map(de).unwrap_or(template);
                        format!("sends a copy of „{title}“ by link (`rathaus:copy`)")
                    }
                    connectors::NOTE => {
                        let who = if job.headers.get("public").is_some_and(|v| v == "false") {
                            "clerks"
                        } else {
                            "the applicant"
                        };
                        let mail =
                            if job.headers.get("notify").is_some_and(|v| v == "true") { ", by mail too" } else { "" };
                        format!("note in the timeline for {who}{mail}")
                    }
                    other if other.starts_with("rathaus:") => format!("`{other}`"),
                    other => format!("external worker `{other}`"),
                };
                Some(format!("- machine: „{name}“ – {what}"))
            }
            ElementKind::UserTask(u) => {
                let groups = match &u.candidate_groups_expr {
                    Some(e) => format!("`={}`", e.source()),
                    None => u.candidate_groups.join(", "),
                };
                let form = match u.form_key.as_deref() {
                    Some(connectors::DECISION_FORM) => ", decision form (confirm or reject with reasons)",
                    _ => "",
                };
                Some(format!("- clerk: „{name}“ – groups {groups}{form}"))
            }
            ElementKind::CallActivity { process_id, .. } => Some(format!("- calls the process `{process_id}`")),
            ElementKind::ReceiveTask { message } => Some(format!("- waits for the message `{message}`")),
            ElementKind::IntermediateCatch { trigger: Trigger::Message { name: message } } => {
                Some(format!("- waits: „{name}“ – message `{message}`"))
            }
            ElementKind::IntermediateCatch { trigger: Trigger::Timer(t) } => {
                let when = match &t.value {
                    TimeValue::Literal(v) => format!("`{v}`"),
                    TimeValue::Feel(e) => format!("`={}`", e.source()),
                };
                Some(format!("- waits: „{name}“ – timer {when}"))
            }
            _ => None,
        };
        out.extend(line);
    }
}

/// The generated description of a procedure (Markdown, without the markers).
pub fn describe(p: &Procedure) -> String {
    let m = &p.manifest;
    let mut out = vec![
        "| | |".to_string(),
        "| --- | --- |".to_string(),
        format!("| procedure | {} (`{}`, version {}) |", cell(&de(&m.name)), m.id, cell(&m.version)),
        format!("| legal basis | {} |", cell(&m.legal_basis)),
    ];
    if !m.leika.is_empty() {
        let keys: Vec<String> = m.leika.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(format!("| LeiKa | {} |", keys.join(", ")));
    }
    out.push(format!("| Aktenzeichen | `{}-<year>-<number>` |", m.reference_prefix));
    out.push(format!("| office | {} |", cell(&de(&m.responsible_office))));
    if let Some(days) = m.processing_days {
        out.push(format!("| processing time with a clerk | {days} working days |"));
    }
    let note = m.retention_note.as_ref().map(|n| format!(" ({})", de(n))).unwrap_or_default();
    out.push(format!("| retention | {} years{} |", m.retention_years, cell(&note)));
    out.push(String::new());
    out.push("Steps of the process, in the order of the model:".into());
    out.push(String::new());
    step(p, &p.process, &mut out);
    for (id, called) in &p.called {
        if id != &p.process.id {
            out.push(format!("- in the called process `{id}`:"));
            let mut inner = Vec::new();
            step(p, called, &mut inner);
            out.extend(inner.into_iter().map(|l| format!("  {l}")));
        }
    }
    if !m.hints.is_empty() {
        out.push(String::new());
        out.push("Findings of the check decision, as the applicant is told (each sends the case to a clerk or notes it for them):".into());
        out.push(String::new());
        out.push("| finding | what the applicant reads |".into());
        out.push("| --- | --- |".into());
        for (code, hint) in &m.hints {
            out.push(format!("| `{code}` | {} |", cell(&de(&hint.text))));
        }
    }
    if !m.deadlines.is_empty() {
        out.push(String::new());
        out.push("| deadline | kind | legal basis | length |".into());
        out.push("| --- | --- | --- | --- |".into());
        for d in m.deadlines.values() {
            let length = match (&d.duration, &d.parameter) {
                (Some(duration), _) => format!("`{duration}`"),
                (None, Some(parameter)) => format!("parameter `{parameter}`"),
                _ => String::new(),
            };
            let counting = d.counting.map(|c| format!(" ({})", format!("{c:?}").to_lowercase())).unwrap_or_default();
            out.push(format!(
                "| {} | {} | {} | {length}{counting} |",
                cell(&de(&d.label)),
                d.kind.code(),
                cell(d.legal_basis.as_deref().unwrap_or("–"))
            ));
        }
    }
    if !m.recipients.is_empty() {
        out.push(String::new());
        out.push("| recipient of messages | id | format |".into());
        out.push("| --- | --- | --- |".into());
        for (id, r) in &m.recipients {
            let format = m.messages.get(&r.message).map(|f| de(&f.title)).unwrap_or_default();
            out.push(format!("| {} | `{id}` | {} |", cell(&de(&r.name)), cell(&format)));
        }
    }
    if !m.participants.is_empty() {
        out.push(String::new());
        out.push("| participant (consultation, copy) | id | address | sees of the application |".into());
        out.push("| --- | --- | --- | --- |".into());
        for (id, part) in &m.participants {
            let mut sees: Vec<String> = part
                .pages
                .iter()
                .map(|page| {
                    p.form.pages.iter().find(|fp| &fp.id == page).map(|fp| de(&fp.title)).unwrap_or(page.clone())
                })
                .collect();
            if part.documents {
                sees.push("attachments".into());
            }
            out.push(format!(
                "| {} | `{id}` | `{}` | {} |",
                cell(&de(&part.name)),
                cell(&part.email),
                cell(&sees.join(", "))
            ));
        }
    }
    if !m.parameters.is_empty() {
        out.push(String::new());
        out.push("| setting of the town (parameter) | default |".into());
        out.push("| --- | --- |".into());
        for (name, def) in &m.parameters {
            let default = match &def.default {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push(format!("| {} (`{name}`) | `{}` |", cell(&de(&def.label)), cell(&default)));
        }
    }
    out.join("\n")
}

/// `document` with the generated description of each procedure put between its markers;
/// a procedure without markers gets a section at the end. Returns the new text.
pub fn update(document: &str, procedures: &[&Procedure]) -> String {
    let mut text = document.to_string();
    for p in procedures {
        let (start, end) = markers(p.id());
        let block = format!("{start}\n{}\n{end}", describe(p));
        match (text.find(&start), text.find(&end)) {
            (Some(a), Some(b)) if b > a => text.replace_range(a..b + end.len(), &block),
            _ => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&format!("\n## {} (`library/{}`)\n\n{block}\n", de(&p.manifest.name), p.id()));
            }
        }
    }
    text
}
