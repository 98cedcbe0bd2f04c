//! Test databases on both backends, for the storage and end-to-end tests of every crate.
//!
//! SQLite always runs (a fresh file per test). PostgreSQL runs when
//! `RATHAUS_TEST_POSTGRES_URL` is set (each test gets its own schema); CI also sets
//! `RATHAUS_REQUIRE_POSTGRES=1`, which turns a missing or unreachable PostgreSQL into a test
//! failure instead of a skip.

use crate::{Backend, Store};
use std::path::PathBuf;

pub const POSTGRES_URL_VAR: &str = "RATHAUS_TEST_POSTGRES_URL";
pub const REQUIRE_POSTGRES_VAR: &str = "RATHAUS_REQUIRE_POSTGRES";

pub struct TestDatabase {
    pub store: Store,
    pub url: String,
    /// The SQL to run on each new connection (PostgreSQL: the test's schema).
    pub after_connect: Option<String>,
    dir: Option<PathBuf>,
    schema: Option<String>,
}

impl TestDatabase {
    /// The address another process (a `rathaus serve` started by a test) uses to reach this
    /// database: for PostgreSQL with the test's schema as search path.
    pub fn process_url(&self) -> String {
        match &self.schema {
            Some(schema) => {
                let sep = if self.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}options=-c%20search_path%3D{schema}", self.url)
            }
            None => self.url.clone(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Drops the PostgreSQL schema or deletes the SQLite file.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = &self.schema {
            if let Ok(admin) = Store::connect(&self.url, 1, None).await {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(admin.pool()).await;
                admin.close().await;
            }
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn random_suffix() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

pub async fn sqlite() -> TestDatabase {
    let dir = std::env::temp_dir().join(format!("rathaus-test-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite:{}", dir.join("rathaus.db").display());
    let store = Store::connect(&url, 4, None).await.expect("SQLite test database");
    store.migrate().await.expect("SQLite migrations");
    TestDatabase { store, url, after_connect: None, dir: Some(dir), schema: None }
}

/// A PostgreSQL test database in a fresh schema, or `None` when PostgreSQL is not
/// configured (and not required).
pub async fn postgres() -> Option<TestDatabase> {
    let required = std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1" || v == "true");
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(!required, "{REQUIRE_POSTGRES_VAR} is set but {POSTGRES_URL_VAR} is not: PostgreSQL tests must run");
        eprintln!("note: {POSTGRES_URL_VAR} not set, PostgreSQL variant skipped");
        return None;
    };
    let admin = match Store::connect(&url, 1, None).await {
        Ok(s) => s,
        Err(e) => panic!("PostgreSQL at {} not reachable: {e}", crate::redact(&url)),
    };
    let secs = chrono::Utc::now().timestamp();
    let schema = format!("rathaus_test_{secs}_{}", random_suffix());
    // Schemas of test runs that died more than an hour ago are removed on the way.
    let stale: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'rathaus\\_test\\_%'")
            .fetch_all(admin.pool())
            .await
            .unwrap_or_default();
    for (name,) in stale {
        let ts = name.split('_').nth(2).and_then(|t| t.parse::<i64>().ok()).unwrap_or(secs);
        if secs - ts > 3600 {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(admin.pool()).await;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(admin.pool()).await.expect("create test schema");
    admin.close().await;
    let after_connect = format!("SET search_path TO {schema}");
    let store = Store::connect(&url, 8, Some(after_connect.clone())).await.expect("PostgreSQL test database");
    store.migrate().await.expect("PostgreSQL migrations");
    Some(TestDatabase { store, url, after_connect: Some(after_connect), dir: None, schema: Some(schema) })
}

/// SQLite, and PostgreSQL when configured: run a test body on each.
pub async fn all() -> Vec<TestDatabase> {
    let mut dbs = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        dbs.push(pg);
    }
    dbs
}

/// The realistic test bank statement (testdata/camt053) of account `iban`, naming the
/// Kassenzeichen `kz1` (paid in full, later returned), `kz2` (paid in part) and `kzx` (never
/// issued).
pub fn camt_test_statement(iban: &str, kz1: &str, kz2: &str, kzx: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/camt053/stadtkasse-tagesauszug.xml");
    std::fs::read_to_string(file)
        .expect("testdata/camt053")
        .replace("{IBAN}", iban)
        .replace("{KZ1_A}", &kz1[..4])
        .replace("{KZ1_B}", &kz1[4..8])
        .replace("{KZ1_C}", &kz1[8..])
        .replace("{KZ1}", kz1)
        .replace("{KZ2}", kz2)
        .replace("{KZX}", kzx)
}

/// A day's camt.053 statement of account `iban` with one credit transfer per
/// `(Kassenzeichen, cents)`, each naming its Kassenzeichen as the remittance text; for tests
/// that pay fees in bulk.
pub fn camt_statement_paying(iban: &str, payments: &[(String, i64)]) -> String {
    let entries: String = payments
        .iter()
        .enumerate()
        .map(|(i, (kz, cents))| {
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            format!(
                "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
                 <BookgDt><Dt>2026-12-07</Dt></BookgDt><AcctSvcrRef>T{kz}</AcctSvcrRef>\
                 <NtryDtls><TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">{amount}</Amt></TxAmt></AmtDtls>\
                 <RltdPties><Dbtr><Pty><Nm>Zahler {i}</Nm></Pty></Dbtr></RltdPties>\
                 <RmtInf><Ustrd>Kassenzeichen {kz}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>test-{n}</MsgId><CreDtTm>2026-12-08T06:00:00+01:00</CreDtTm></GrpHdr>\
         <Stmt><Id>test-{n}</Id><CreDtTm>2026-12-08T06:00:00+01:00</CreDtTm>\
         <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}</Stmt></BkToCstmrStmt></Document>",
        n = payments.len()
    )
}
