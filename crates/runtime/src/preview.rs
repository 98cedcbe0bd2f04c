//! Checks a procedure with its example applications (`beispiele/*.json` next to
//! procedure.toml): each example must be valid against the form, its decisions must evaluate,
//! and every document template must render with it. This moves template errors from run time
//! to `rathaus library validate`.

use crate::docdata::{document_data, DocumentContext};
use rathaus_domain::tenant::{BankAccount, Branding, Contact};
use rathaus_domain::{Lang, TenantSettings};
use rathaus_engine::environment::{decision_input, start_variables};
use rathaus_engine::Procedure;
use rathaus_store::cases::Case;
use rathaus_store::fees::Fee;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};
use std::path::Path;

pub const EXAMPLES_DIR: &str = "beispiele";

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn sample_tenant(postcodes: Vec<String>) -> Tenant {
    Tenant {
        tenant_id: "beispiel".into(),
        slug: "beispiel".into(),
        name: "Beispielstadt".into(),
        settings: TenantSettings {
            postcodes,
            branding: Branding {
                logo_text: "Stadt Beispielstadt".into(),
                primary_color: "#1d4e89".into(),
                ..Default::default()
            },
            contact: Contact {
                office: "Bürgeramt".into(),
                street: "Markt 1".into(),
                postcode: "09999".into(),
                city: "Beispielstadt".into(),
                ..Default::default()
            },
            bank: BankAccount {
                holder: "Stadtkasse".into(),
                iban: "DE02120300000000202051".into(),
                bic: "BYLADEM1001".into(),
                bank: "Bank".into(),
            },
            land: "SN".into(),
            ags: "14599000".into(),
            ..Default::default()
        },
    }
}

/// Problems found, as `file: message` lines (empty when all is well).
pub fn check_examples(procedure: &Procedure, folder: &Path) -> Vec<String> {
    let dir = folder.join(EXAMPLES_DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        return vec![format!(
            "{}: keine Beispielanträge (*.json) – ohne sie können die Dokumentvorlagen nicht geprüft werden",
            dir.display()
        )];
    }
    let mut problems = Vec::new();
    let now = chrono::Utc::now();
    let today = rathaus_domain::time::german_today(now);
    for file in files {
        let name = file.display().to_string();
        let example: Json = match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}: nicht lesbar: {e}"));
                continue;
            }
        };
        let Some(data) = example.get("daten") else {
            problems.push(format!("{name}: erwartet {{\"beschreibung\": \"…\", \"daten\": {{…}}}}"));
            continue;
        };
        let validated = procedure.form.validate(data, &procedure.catalogues, today, Lang::De);
        for e in &validated.errors {
            problems.push(format!("{name}: {}: {}", e.field, e.message));
        }
        if !validated.errors.is_empty() {
            continue;
        }
        let postcodes: Vec<String> = example
            .get("plz_des_mandanten")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_else(|| vec!["09999".into()]);
        let tenant = sample_tenant(postcodes);
        let parameters = match procedure.resolve_parameters(&json!({})) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{name}: Parameter: {}", e.join("; ")));
                continue;
            }
        };
        let mut vars =
            Json::Object(start_variables(&validated.data, &parameters, &crate::tenant_facts(&tenant, today), now));
        for (element, decision) in procedure.process.business_rule_decisions() {
            match procedure.decisions.evaluate(decision, &decision_input(procedure, &vars, today)) {
                Ok(result) => {
                    if let rathaus_engine::bpmn::ElementKind::BusinessRuleTask { result_variable, .. } = &element.kind {
                        vars[result_variable.as_str()] = result;
                    }
                }
                Err(e) => problems.push(format!("{name}: Entscheidung „{decision}“: {e}")),
            }
        }
        vars["entscheidung"] = json!({"ergebnis": "ablehnen", "begruendung": "Begründung der Sachbearbeitung (Beispiel).", "bearbeitet_von": "Max Mustermann"});
        let stamp = rathaus_store::ts(now);
        let case = Case {
            tenant_id: tenant.tenant_id.clone(),
            case_id: "beispiel".into(),
            reference: format!("{}-2026-000001", procedure.manifest.reference_prefix),
            procedure_id: procedure.id().into(),
            deployment_id: "beispiel".into(),
            status: "submitted".into(),
            channel: "portal".into(),
            lang: "de".into(),
            applicant: procedure.applicant_name(&validated.data),
            data: validated.data.to_string(),
            findings: "[]".into(),
            access_code_hash: String::new(),
            submitted_at: stamp.clone(),
            updated_at: stamp.clone(),
            decided_at: None,
            closed_at: None,
        };
        let fee = Fee {
            fee_id: "beispiel".into(),
            case_id: "beispiel".into(),
            kassenzeichen: rathaus_domain::kassenzeichen(2026, 1),
            amount_cents: 2600,
            legal_basis: "Verwaltungskostensatzung".into(),
            due_date: (today + chrono::Duration::days(30)).format("%Y-%m-%d").to_string(),
            status: "open".into(),
            created_at: stamp,
        };
        let mut templates: Vec<(String, String, String)> = procedure
            .templates
            .iter()
            .map(|(n, src)| {
                (
                    n.clone(),
                    src.clone(),
                    procedure.template_title(n).map(|t| t.get(Lang::De).to_string()).unwrap_or_default(),
                )
            })
            .collect();
        templates.push((
            "eingangsbestaetigung".into(),
            rathaus_documents::RECEIPT_TEMPLATE.into(),
            "Eingangsbestätigung".into(),
        ));
        for (template, source, title) in templates {
            let ctx = DocumentContext {
                tenant: &tenant,
                case: &case,
                procedure,
                variables: &vars,
                fee: Some(&fee),
                title: &title,
                now,
                public_url: "http://localhost",
            };
            let template_file = procedure
                .manifest
                .templates
                .get(&template)
                .map(|t| folder.join(&t.file).display().to_string())
                .unwrap_or_else(|| "(Plattformvorlage eingangsbestaetigung.typ)".into());
            let data = match document_data(&ctx) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{name}: Daten für „{template}“: {e}"));
                    continue;
                }
            };
            match rathaus_documents::render_pdf(&source, &data) {
                Ok(_) => {}
                Err(rathaus_documents::RenderError::Template(diags)) => {
                    for d in diags {
                        let file = match d.file.as_deref() {
                            Some("main.typ") | None => template_file.clone(),
                            Some(other) => format!("(Plattformmodul {other})"),
                        };
                        let line = d.line.map(|l| format!(":{l}")).unwrap_or_default();
                        let text = format!("{file}{line}: {} (mit Beispiel {})", d.message, file_name(&name));
                        // The same mistake shows with every example; report it once.
                        if !problems.iter().any(|p| p.starts_with(&format!("{file}{line}: {}", d.message))) {
                            problems.push(text);
                        }
                    }
                }
                Err(e) => problems.push(format!("{template_file}: {e} (mit Beispiel {})", file_name(&name))),
            }
        }
        // Every recipient's message, whether or not this example's decision names it.
        for (id, recipient) in &procedure.recipients {
            let resolved = match recipient.resolve(&vars) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("procedure.toml: {e} (mit Beispiel {})", file_name(&name)));
                    continue;
                }
            };
            // A loaded procedure has every recipient's message format (checked at load).
            let template = &procedure.manifest.messages[&resolved.message].template;
            let context = crate::outbox::message_context(
                &tenant,
                &case,
                procedure,
                &vars,
                &resolved,
                "00000000-0000-4000-8000-000000000000",
                now,
            );
            if let Err(e) = procedure.render_message(&resolved.message, &context) {
                let text = format!("{}: {e}", folder.join(template).display());
                if !problems.iter().any(|p| p.starts_with(&text)) {
                    problems.push(format!("{text} (Empfänger {id}, mit Beispiel {})", file_name(&name)));
                }
            }
        }
    }
    problems
}
