//! The data a document template receives as `/daten.json`.

use chrono::{DateTime, Datelike, Utc};
use rathaus_domain::time::{german_date, german_date_time, german_time};
use rathaus_domain::{Lang, Money};
use rathaus_engine::summary::summarize;
use rathaus_engine::Procedure;
use rathaus_store::cases::Case;
use rathaus_store::fees::Fee;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

pub(crate) struct DocumentContext<'a> {
    pub tenant: &'a Tenant,
    pub case: &'a Case,
    pub procedure: &'a Procedure,
    pub variables: &'a Json,
    pub fee: Option<&'a Fee>,
    pub title: &'a str,
    pub now: DateTime<Utc>,
    pub public_url: &'a str,
}

pub(crate) fn document_data(c: &DocumentContext<'_>) -> Result<Json, String> {
    let data = c.case.data_json().map_err(|e| e.to_string())?;
    let p = c.procedure;
    let s = &c.tenant.settings;
    let local = german_time(c.now);
    let sections: Vec<Json> = summarize(&p.form, &data, &p.catalogues, Lang::De)
        .into_iter()
        .map(|sec| json!({"titel": sec.title, "zeilen": sec.rows.into_iter().map(|r| json!([r.label, r.value])).collect::<Vec<_>>()}))
        .collect();
    // The files received with the application, for the receipt (name, size, SHA-256).
    let anlagen: Vec<Json> = p
        .form
        .pages
        .iter()
        .flat_map(|page| page.fields.iter())
        .filter(|f| f.kind == rathaus_engine::form::FieldKind::File)
        .flat_map(|f| {
            let files = rathaus_engine::form::get_path(&data, &f.key)
                .and_then(rathaus_domain::attachment::FileRef::list_of)
                .unwrap_or_default();
            files.into_iter().map(move |r| {
                json!({"titel": f.label.get(Lang::De), "name": r.name, "sha256": r.sha256,
                    "groesse": rathaus_domain::attachment::size_label(r.size, Lang::De)})
            })
        })
        .collect();
    let submitted = rathaus_store::parse_ts(&c.case.submitted_at).map_err(|e| e.to_string())?;
    let decision = c.variables.get("entscheidung").cloned().unwrap_or(Json::Null);
    let clerk = decision.get("bearbeitet_von").and_then(Json::as_str).map(String::from);
    let fee = c.fee.filter(|f| f.status != "cancelled").map(|f| {
        let amount = Money::from_cents(f.amount_cents);
        // The GiroCode to pay it with a banking app, while it is to be paid.
        let girocode = rathaus_domain::girocode::Transfer::for_fee(&s.bank, amount, &f.kassenzeichen)
            .filter(|_| f.status != "paid" && !amount.is_zero())
            .and_then(|t| t.svg());
        json!({
            "girocode": girocode,
            "betrag": Money::from_cents(f.amount_cents).to_german(),
            "kassenzeichen": f.kassenzeichen,
            "faellig": rathaus_domain::time::german_day(&f.due_date),
            "rechtsgrundlage": f.legal_basis,
            "kontoinhaber": if s.bank.holder.is_empty() { c.tenant.name.clone() } else { s.bank.holder.clone() },
            "iban": s.bank.iban,
            "bic": s.bank.bic,
        })
    });
    let name = if s.branding.logo_text.is_empty() { c.tenant.name.clone() } else { s.branding.logo_text.clone() };
    Ok(json!({
        "titel": c.title,
        "datum": {"jahr": local.year(), "monat": local.month(), "tag": local.day(), "text": german_date(c.now)},
        "aktenzeichen": c.case.reference,
        "behoerde": {
            "name": name,
            "amt": if s.contact.office.is_empty() { p.manifest.responsible_office.get(Lang::De).to_string() } else { s.contact.office.clone() },
            "strasse": s.contact.street,
            "plz_ort": format!("{} {}", s.contact.postcode, s.contact.city).trim().to_string(),
            "telefon": s.contact.phone,
            "email": s.contact.email,
            "oeffnungszeiten": s.contact.opening_hours,
            "farbe": if rathaus_domain::tenant::parse_hex_color(&s.branding.primary_color).is_some() { s.branding.primary_color.clone() } else { "#1d4e89".into() },
        },
        "empfaenger": p.addressee_lines(&data),
        "verfahren": p.manifest.name.get(Lang::De),
        "eingang": german_date_time(submitted),
        "bearbeitungszeit": p.manifest.processing_days.map(|d| format!("{d} Arbeitstage, wenn eine Sachbearbeiterin oder ein Sachbearbeiter prüfen muss; sonst sofort")),
        "status_url": format!("{}/{}/status", c.public_url.trim_end_matches('/'), c.tenant.slug),
        "abschnitte": sections,
        "anlagen": anlagen,
        "automatisch": clerk.is_none(),
        "bearbeitung": clerk,
        "antrag": data,
        "pruefung": c.variables.get("pruefung").cloned().unwrap_or(Json::Null),
        "entscheidung": decision,
        "gebuehr": fee,
    }))
}
