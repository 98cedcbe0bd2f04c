//! Sollstellung: the receivables (fees with their Kassenzeichen) handed to the municipal
//! finance system in numbered runs, as JSON or CSV (docs/finance-export.md describes every
//! field). A run takes every fee not handed over yet; a fee is in exactly one run, so the
//! same run read again gives the same receivables and nothing is booked twice.

use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::Money;
use rathaus_store::audit::{self, Actor};
use rathaus_store::finance::{self, Item, Run};
use rathaus_store::tenants::Tenant;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 10] = [
    "lauf",
    "kassenzeichen",
    "aktenzeichen",
    "verfahren",
    "betrag",
    "faellig_am",
    "rechtsgrundlage",
    "schuldner",
    "anschrift",
    "forderung_vom",
];

/// One receivable as the finance system books it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Receivable {
    pub kassenzeichen: String,
    pub aktenzeichen: String,
    pub verfahren: String,
    /// Euro with a decimal point and two places, e.g. `26.00`.
    pub betrag: String,
    pub betrag_cent: i64,
    pub faellig_am: String,
    pub rechtsgrundlage: String,
    /// Who owes it: the case's applicant (a business or a person).
    pub schuldner: String,
    /// The address the notice went to, line by line.
    pub anschrift: Vec<String>,
    /// When the fee was fixed (RFC 3339).
    pub forderung_vom: String,
}

/// A run with its receivables: the run as the log lists it, and `forderungen`.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct FinanceRun {
    #[serde(flatten)]
    pub lauf: RunEntry,
    pub forderungen: Vec<Receivable>,
}

/// A run as the log lists it (without its receivables).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct RunEntry {
    pub lauf_id: String,
    pub nummer: i64,
    pub erstellt_am: String,
    /// Who started it (`api:…` for an integration's key, `staff:…`).
    pub erstellt_von: String,
    pub anzahl: i64,
    /// Euro with a decimal point and two places.
    pub summe: String,
    pub summe_cent: i64,
}

fn entry(r: &Run) -> RunEntry {
    RunEntry {
        lauf_id: r.run_id.clone(),
        nummer: r.number,
        erstellt_am: r.created_at.clone(),
        erstellt_von: r.created_by.clone(),
        anzahl: r.fee_count,
        summe: Money::from_cents(r.total_cents).to_decimal_string(),
        summe_cent: r.total_cents,
    }
}

impl Runtime {
    /// Starts a run with every receivable not handed over yet; `None` if there is none
    /// (nothing is recorded then). Audited with its number, count and sum.
    pub async fn create_finance_run(&self, tenant: &Tenant, actor: &Actor) -> Result<Option<FinanceRun>> {
        let now = self.clock.now();
        let run_id = rathaus_store::new_id();
        let mut tx = self.store.begin().await?;
        let Some(run) = finance::create_run(&mut tx, &tenant.tenant_id, &run_id, &actor.label(), now).await? else {
            return Ok(None);
        };
        audit::append(
            &mut tx,
            &tenant.tenant_id,
            actor,
            "finance.run_created",
            "finance_run",
            &run.run_id,
            &json!({"number": run.number, "count": run.fee_count, "total_cents": run.total_cents}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(self.finance_run(tenant, &run_id).await?))
    }

    /// The run log: the tenant's runs, newest first.
    pub async fn finance_runs(&self, tenant: &Tenant) -> Result<Vec<RunEntry>> {
        let mut conn = self.store.conn().await?;
        Ok(finance::runs(&mut conn, &tenant.tenant_id, 500).await?.iter().map(entry).collect())
    }

    /// A run with its receivables; `NotFound` for a run of another tenant.
    pub async fn finance_run(&self, tenant: &Tenant, run_id: &str) -> Result<FinanceRun> {
        let mut conn = self.store.conn().await?;
        let run = finance::run(&mut conn, &tenant.tenant_id, run_id).await?.ok_or(RuntimeError::NotFound)?;
        let items = finance::items(&mut conn, &tenant.tenant_id, run_id).await?;
        drop(conn);
        let mut receivables = Vec::with_capacity(items.len());
        for item in items {
            receivables.push(self.receivable(&tenant.tenant_id, item).await?);
        }
        Ok(FinanceRun { lauf: entry(&run), forderungen: receivables })
    }

    async fn receivable(&self, tenant_id: &str, item: Item) -> Result<Receivable> {
        // The address as the procedure (of the case's version) addresses its notices.
        let procedure = self.procedure_of_deployment(tenant_id, &item.deployment_id).await?;
        let data = rathaus_store::json_of(&item.data, "Antragsdaten")?;
        Ok(Receivable {
            kassenzeichen: item.kassenzeichen,
            aktenzeichen: item.reference,
            verfahren: item.procedure_id,
            betrag: Money::from_cents(item.amount_cents).to_decimal_string(),
            betrag_cent: item.amount_cents,
            faellig_am: item.due_date,
            rechtsgrundlage: item.legal_basis,
            schuldner: item.applicant,
            anschrift: procedure.addressee_lines(&data),
            forderung_vom: item.created_at,
        })
    }
}

/// One CSV field: quoted when it holds the separator, a quote or a line break (RFC 4180).
fn field(value: &str) -> String {
    if value.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The run as CSV: UTF-8, `;` between fields, CRLF between lines, a header line with
/// [`CSV_COLUMNS`]; the address lines joined with `, `.
pub fn to_csv(run: &FinanceRun) -> String {
    let mut out = CSV_COLUMNS.join(";");
    out.push_str("\r\n");
    for r in &run.forderungen {
        let number = run.lauf.nummer.to_string();
        let address = r.anschrift.join(", ");
        let fields = [
            number.as_str(),
            &r.kassenzeichen,
            &r.aktenzeichen,
            &r.verfahren,
            &r.betrag,
            &r.faellig_am,
            &r.rechtsgrundlage,
            &r.schuldner,
            &address,
            &r.forderung_vom,
        ];
        out.push_str(&fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(";"));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_header_and_quotes_what_needs_it() {
        let run = FinanceRun {
            lauf: RunEntry {
                lauf_id: "r1".into(),
                nummer: 7,
                erstellt_am: "2026-12-07T12:00:00.000Z".into(),
                erstellt_von: "api:k1".into(),
                anzahl: 1,
                summe: "26.00".into(),
                summe_cent: 2600,
            },
            forderungen: vec![Receivable {
                kassenzeichen: "2026000017".into(),
                aktenzeichen: "GEW-2026-000017".into(),
                verfahren: "gewerbeanmeldung".into(),
                betrag: "26.00".into(),
                betrag_cent: 2600,
                faellig_am: "2027-01-06".into(),
                rechtsgrundlage: "Satzung; Tarifstelle \"Gewerbe\"".into(),
                schuldner: "Erika Muster".into(),
                anschrift: vec!["Erika Muster".into(), "Hauptstraße 1".into(), "09999 Musterstadt".into()],
                forderung_vom: "2026-12-07T11:00:00.000Z".into(),
            }],
        };
        assert_eq!(
            to_csv(&run),
            "lauf;kassenzeichen;aktenzeichen;verfahren;betrag;faellig_am;rechtsgrundlage;schuldner;anschrift;forderung_vom\r\n\
             7;2026000017;GEW-2026-000017;gewerbeanmeldung;26.00;2027-01-06;\"Satzung; Tarifstelle \"\"Gewerbe\"\"\";Erika Muster;\
             Erika Muster, Hauptstraße 1, 09999 Musterstadt;2026-12-07T11:00:00.000Z\r\n"
        );
    }
}
