//! Bank statements in ISO 20022 camt.053 (Bank-to-Customer Statement, the format German
//! banks deliver under the DK's rules, versions .001.02 to .001.08), read for the payments
//! that came in, and the Kassenzeichen their payers wrote in the remittance information.
//!
//! Only what matching needs is read: each booked credit transaction with its amount, date,
//! payer, remittance text and the bank's reference. A collective entry (Sammelbuchung) with
//! several transactions gives one transaction each.

use crate::money::{kassenzeichen_valid, Money};
use chrono::NaiveDate;

/// A payment (or a return of one) on the statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// What identifies the transaction on this account for good: the bank's reference of
    /// the entry (`AcctSvcrRef`, else `NtryRef`, else statement id and position), with the
    /// transaction's position within a collective entry. Importing a statement twice finds
    /// its transactions again by it.
    pub reference: String,
    pub booked_on: NaiveDate,
    pub amount: Money,
    /// Money in (`CRDT`); out (`DBIT`) otherwise.
    pub credit: bool,
    /// A reversal (Storno) of an earlier booking.
    pub reversal: bool,
    pub payer: Option<String>,
    pub payer_iban: Option<String>,
    /// The remittance text (`Ustrd`, its parts joined with spaces).
    pub remittance: String,
    pub end_to_end_id: Option<String>,
}

/// A statement: the account it is of and its booked transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub id: String,
    pub iban: Option<String>,
    pub transactions: Vec<Transaction>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CamtError {
    #[error("Die Datei ist kein XML: {0}")]
    NotXml(String),
    #[error("Die Datei ist kein Kontoauszug im Format camt.053 (Wurzel „{0}“)")]
    NotCamt053(String),
    #[error("Buchung {entry}: {problem}")]
    Entry { entry: usize, problem: String },
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text at `path` below `node` (element names, namespaces ignored), trimmed.
fn text(node: roxmltree::Node, path: &[&str]) -> Option<String> {
    let mut n = node;
    for name in path {
        n = child(n, name)?;
    }
    n.text().map(str::trim).filter(|t| !t.is_empty()).map(String::from)
}

fn amount(node: roxmltree::Node) -> Result<Money, String> {
    let currency = node.attribute("Ccy").unwrap_or("EUR");
    if currency != "EUR" {
        return Err(format!("Betrag in {currency}; nur Euro wird verbucht"));
    }
    let text = node.text().unwrap_or("").trim();
    Money::parse(text).map_err(|_| format!("Betrag „{text}“ ist keine Zahl"))
}

/// Reads a camt.053 statement.
pub fn parse(xml: &str) -> Result<Statement, CamtError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| CamtError::NotXml(e.to_string()))?;
    let root = doc.root_element();
    let statement = child(root, "BkToCstmrStmt")
        .and_then(|s| child(s, "Stmt"))
        .filter(|_| root.tag_name().namespace().is_some_and(|ns| ns.contains("camt.053")))
        .ok_or_else(|| CamtError::NotCamt053(root.tag_name().name().to_string()))?;
    let id = text(statement, &["Id"]).unwrap_or_default();
    let iban = text(statement, &["Acct", "Id", "IBAN"]);
    let mut transactions = Vec::new();
    for (i, entry) in children(statement, "Ntry").enumerate() {
        let problem = |problem: String| CamtError::Entry { entry: i + 1, problem };
        // Only booked entries count (`BOOK`; in .08 inside `<Sts><Cd>`); pending ones come
        // again booked on a later statement.
        let status = text(entry, &["Sts", "Cd"]).or_else(|| text(entry, &["Sts"])).unwrap_or_else(|| "BOOK".into());
        if status != "BOOK" {
            continue;
        }
        let credit = text(entry, &["CdtDbtInd"]).as_deref() == Some("CRDT");
        let reversal = text(entry, &["RvslInd"]).as_deref() == Some("true");
        let day = text(entry, &["BookgDt", "Dt"])
            .or_else(|| text(entry, &["BookgDt", "DtTm"]).map(|t| t.chars().take(10).collect()))
            .ok_or_else(|| problem("ohne Buchungstag".into()))?;
        let booked_on = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map_err(|_| problem(format!("Buchungstag „{day}“ ist kein Datum")))?;
        let entry_amount =
            amount(child(entry, "Amt").ok_or_else(|| problem("ohne Betrag".into()))?).map_err(problem)?;
        let entry_ref = text(entry, &["AcctSvcrRef"])
            .or_else(|| text(entry, &["NtryRef"]))
            .unwrap_or_else(|| format!("{id}/{}", i + 1));
        let details: Vec<roxmltree::Node> =
            children(entry, "NtryDtls").flat_map(|d| children(d, "TxDtls").collect::<Vec<_>>()).collect();
        let several = details.len() > 1;
        if details.is_empty() {
            transactions.push(Transaction {
                reference: entry_ref,
                booked_on,
                amount: entry_amount,
                credit,
                reversal,
                payer: None,
                payer_iban: None,
                remittance: text(entry, &["AddtlNtryInf"]).unwrap_or_default(),
                end_to_end_id: None,
            });
            continue;
        }
        for (k, tx) in details.into_iter().enumerate() {
            // A collective entry's transactions each carry their own amount.
            let own = child(tx, "AmtDtls")
                .and_then(|a| child(a, "TxAmt"))
                .and_then(|a| child(a, "Amt"))
                .or_else(|| child(tx, "Amt"));
            let tx_amount = match own {
                Some(a) => amount(a).map_err(problem)?,
                None if several => return Err(problem(format!("Umsatz {} einer Sammelbuchung ohne Betrag", k + 1))),
                None => entry_amount,
            };
            // The payer of money in is the debtor; a return names the creditor.
            let party = if credit { "Dbtr" } else { "Cdtr" };
            let parties = child(tx, "RltdPties");
            let payer = parties.and_then(|p| {
                text(p, &[party, "Nm"])
                    .or_else(|| text(p, &[party, "Pty", "Nm"]))
                    .or_else(|| text(p, &["UltmtDbtr", "Nm"]))
            });
            let payer_iban = parties.and_then(|p| text(p, &[&format!("{party}Acct"), "Id", "IBAN"]));
            let remittance = child(tx, "RmtInf")
                .map(|r| children(r, "Ustrd").filter_map(|u| u.text()).map(str::trim).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let end_to_end_id = text(tx, &["Refs", "EndToEndId"]).filter(|e| e != "NOTPROVIDED");
            transactions.push(Transaction {
                reference: if several { format!("{entry_ref}/{}", k + 1) } else { entry_ref.clone() },
                booked_on,
                amount: tx_amount,
                credit,
                reversal,
                payer,
                payer_iban,
                remittance,
                end_to_end_id,
            });
        }
    }
    Ok(Statement { id, iban, transactions })
}

/// The Kassenzeichen a payer wrote in `text`: twelve digits with a valid check digit, also
/// when written in groups (`2026 0000014 7`, `2026-0000014-7`) or split by the bank's line
/// breaks. Each one once, in the order written.
///
/// Digits separated only by spaces, hyphens, dots, slashes or line breaks form groups of one
/// run; a candidate is whole consecutive groups of twelve digits together, so a longer
/// number (an IBAN, an amount written next to it) is not cut into one.
pub fn kassenzeichen_in(text: &str) -> Vec<String> {
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut group = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            group.push(c);
        } else if matches!(c, ' ' | '-' | '.' | '/' | '\n' | '\r' | '\t') {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
            if !groups.is_empty() {
                runs.push(std::mem::take(&mut groups));
            }
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    if !groups.is_empty() {
        runs.push(groups);
    }
    let mut out: Vec<String> = Vec::new();
    for run in &runs {
        for start in 0..run.len() {
            let mut candidate = String::new();
            for g in &run[start..] {
                candidate.push_str(g);
                if candidate.len() >= 12 {
                    break;
                }
            }
            let fits = candidate.len() == 12 && candidate.starts_with("20") && kassenzeichen_valid(&candidate);
            if fits && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::kassenzeichen;

    /// A statement as a German savings bank delivers it (camt.053.001.08, DK rules): a
    /// single credit with the Kassenzeichen in groups, a collective entry of two, a debit, a
    /// pending entry and a reversal.
    fn statement() -> String {
        let k1 = kassenzeichen(2026, 14);
        let k2 = kassenzeichen(2026, 15);
        let k3 = kassenzeichen(2026, 16);
        let k3h = format!("{}-{}-{}", &k3[..4], &k3[4..11], &k3[11..]);
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>camt53-20261207-001</MsgId><CreDtTm>2026-12-08T06:12:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>2026-12-07-0001</Id>
      <ElctrncSeqNb>231</ElctrncSeqNb>
      <CreDtTm>2026-12-08T06:12:00+01:00</CreDtTm>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy><Ownr><Nm>Stadtkasse Musterstadt</Nm></Ownr></Acct>
      <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-06</Dt></Dt></Bal>
      <Ntry>
        <Amt Ccy="EUR">26.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-07</Dt></BookgDt>
        <ValDt><Dt>2026-12-07</Dt></ValDt>
        <AcctSvcrRef>2026120700001</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <AmtDtls><TxAmt><Amt Ccy="EUR">26.00</Amt></TxAmt></AmtDtls>
          <RltdPties><Dbtr><Pty><Nm>Erika Muster</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct></RltdPties>
          <RmtInf><Ustrd>Gewerbeanmeldung GEW-2026-000001 KZ {g1} {g2}</Ustrd><Ustrd>{g3} vielen Dank</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">46.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-07</Dt></BookgDt>
        <AcctSvcrRef>2026120700002</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-4711</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">26.00</Amt></TxAmt></AmtDtls>
            <RltdPties><Dbtr><Nm>Max Weber</Nm></Dbtr></RltdPties>
            <RmtInf><Ustrd>Kassenzeichen {k2}</Ustrd></RmtInf>
          </TxDtls>
          <TxDtls>
            <AmtDtls><TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt></AmtDtls>
            <RltdPties><Dbtr><Nm>Blumen Koch GmbH</Nm></Dbtr></RltdPties>
            <RmtInf><Ustrd>Ummeldung {k3h}</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">12.50</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-07</Dt></BookgDt>
        <AcctSvcrRef>2026120700003</AcctSvcrRef>
        <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Bürobedarf GmbH</Nm></Cdtr></RltdPties><RmtInf><Ustrd>Rechnung 9981</Ustrd></RmtInf></TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">30.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>PDNG</Cd></Sts>
        <BookgDt><Dt>2026-12-08</Dt></BookgDt>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">26.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <RvslInd>true</RvslInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-07</Dt></BookgDt>
        <NtryRef>R-77</NtryRef>
        <AddtlNtryInf>Rücklastschrift {k1}</AddtlNtryInf>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>"#,
            g1 = &k1[..4],
            g2 = &k1[4..8],
            g3 = &k1[8..],
            k2 = k2,
            k3h = k3h,
            k1 = k1,
        )
    }

    #[test]
    fn a_statement_gives_its_booked_transactions_with_payer_and_remittance() {
        let s = parse(&statement()).unwrap();
        assert_eq!((s.id.as_str(), s.iban.as_deref()), ("2026-12-07-0001", Some("DE89370400440532013000")));
        let refs: Vec<&str> = s.transactions.iter().map(|t| t.reference.as_str()).collect();
        // The pending entry is left for the statement that books it.
        assert_eq!(refs, ["2026120700001", "2026120700002/1", "2026120700002/2", "2026120700003", "R-77"]);
        let first = &s.transactions[0];
        assert_eq!(first.amount, Money::from_cents(2600));
        assert!(first.credit && !first.reversal);
        assert_eq!(first.booked_on, NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        assert_eq!(
            (first.payer.as_deref(), first.payer_iban.as_deref()),
            (Some("Erika Muster"), Some("DE02120300000000202051"))
        );
        assert_eq!(first.end_to_end_id, None, "NOTPROVIDED is no reference");
        let collective: Vec<i64> = s.transactions[1..3].iter().map(|t| t.amount.cents()).collect();
        assert_eq!(collective, [2600, 2000]);
        assert_eq!(s.transactions[1].end_to_end_id.as_deref(), Some("E2E-4711"));
        assert_eq!(s.transactions[2].payer.as_deref(), Some("Blumen Koch GmbH"));
        let debit = &s.transactions[3];
        assert!(!debit.credit && debit.payer.as_deref() == Some("Bürobedarf GmbH"));
        assert!(s.transactions[4].reversal && s.transactions[4].remittance.starts_with("Rücklastschrift"));
    }

    #[test]
    fn kassenzeichen_are_found_as_written_grouped_or_split_and_checked() {
        let s = parse(&statement()).unwrap();
        let found: Vec<Vec<String>> = s.transactions.iter().map(|t| kassenzeichen_in(&t.remittance)).collect();
        assert_eq!(found[0], [kassenzeichen(2026, 14)], "in groups over two lines");
        assert_eq!(found[1], [kassenzeichen(2026, 15)]);
        assert_eq!(found[2], [kassenzeichen(2026, 16)], "with hyphens");
        assert!(found[3].is_empty());
        // A mistyped number fails its check digit; an Aktenzeichen or an IBAN is none.
        let k = kassenzeichen(2026, 14);
        let typo = format!("{}{}", &k[..11], (k.as_bytes()[11] - b'0' + 1) % 10);
        assert!(kassenzeichen_in(&format!("KZ {typo}")).is_empty());
        assert!(kassenzeichen_in("GEW-2026-000001 DE02120300000000202051").is_empty());
        assert_eq!(kassenzeichen_in(&format!("{k} und nochmal {k}")), std::slice::from_ref(&k));
    }

    #[test]
    fn other_files_are_refused_with_the_reason() {
        assert!(matches!(parse("kein xml"), Err(CamtError::NotXml(_))));
        let camt052 =
            r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"><BkToCstmrAcctRpt/></Document>"#;
        assert_eq!(parse(camt052), Err(CamtError::NotCamt053("Document".into())));
        let dollars = statement().replacen(r#"<Amt Ccy="EUR">26.00</Amt>"#, r#"<Amt Ccy="USD">26.00</Amt>"#, 1);
        assert_eq!(parse(&dollars).unwrap_err().to_string(), "Buchung 1: Betrag in USD; nur Euro wird verbucht");
    }

    #[test]
    fn the_older_version_of_the_format_reads_the_same() {
        // camt.053.001.02: the status is the code itself.
        let old = statement()
            .replace("camt.053.001.08", "camt.053.001.02")
            .replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts>BOOK</Sts>")
            .replace("<Sts><Cd>PDNG</Cd></Sts>", "<Sts>PDNG</Sts>");
        assert_eq!(parse(&old).unwrap().transactions, parse(&statement()).unwrap().transactions);
    }
}
