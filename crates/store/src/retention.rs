//! Aussonderung: finished cases past their retention, claimed once, their personal data
//! erased, and the log of what was deleted when.

use crate::{ts, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};
use sqlx::AnyConnection;

/// A finished case that may be due.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub case_id: String,
    pub reference: String,
    pub procedure_id: String,
    pub deployment_id: String,
    /// When the case ended (`cases.closed_at`).
    pub closed_at: String,
}

/// An entry of the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub case_id: String,
    pub reference: String,
    pub procedure_id: String,
    pub ended_at: String,
    pub due_on: String,
    pub status: String,
    pub package: Option<String>,
    pub package_sha256: Option<String>,
    pub erased: Option<String>,
    pub done_at: Option<String>,
}

/// The tenant's finished cases of `procedure_id` that ended before `ended_before` and are
/// not archived yet, the oldest first; at most `limit`.
pub async fn candidates(
    conn: &mut AnyConnection,
    tenant_id: &str,
    procedure_id: &str,
    ended_before: &str,
    limit: i64,
) -> Result<Vec<Candidate>> {
    Ok(sqlx::query_as(
        "SELECT c.case_id, c.reference, c.procedure_id, c.deployment_id, c.closed_at FROM cases c
         WHERE c.tenant_id = $1 AND c.procedure_id = $2 AND c.status IN ('confirmed', 'rejected', 'closed')
           AND c.closed_at IS NOT NULL AND c.closed_at < $3
           AND NOT EXISTS (SELECT 1 FROM archive_log a WHERE a.tenant_id = c.tenant_id AND a.case_id = c.case_id AND a.status = 'done')
         ORDER BY c.closed_at LIMIT $4",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .bind(ended_before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Claims a case for this node: true if it is ours now (new, or another node's claim older
/// than `stale_before`, which that node did not finish).
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    conn: &mut AnyConnection,
    tenant_id: &str,
    c: &Candidate,
    due_on: &str,
    node: &str,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO archive_log (tenant_id, case_id, reference, procedure_id, ended_at, due_on, status, claimed_at, claimed_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'claimed', $7, $8) ON CONFLICT (tenant_id, case_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&c.case_id)
    .bind(&c.reference)
    .bind(&c.procedure_id)
    .bind(&c.closed_at)
    .bind(due_on)
    .bind(ts(now))
    .bind(node)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(true);
    }
    let taken = sqlx::query(
        "UPDATE archive_log SET claimed_at = $3, claimed_by = $4
         WHERE tenant_id = $1 AND case_id = $2 AND status = 'claimed' AND claimed_at < $5",
    )
    .bind(tenant_id)
    .bind(&c.case_id)
    .bind(ts(now))
    .bind(node)
    .bind(ts(stale_before))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

async fn run(conn: &mut AnyConnection, sql: &str, tenant_id: &str, case_id: &str) -> Result<u64> {
    Ok(sqlx::query(sql).bind(tenant_id).bind(case_id).execute(&mut *conn).await?.rows_affected())
}

/// Erases the personal data of a case: what the applicant entered and uploaded, the
/// documents, messages, requests, consultations, copies, forwardings, corrections, notes, the
/// messages to other authorities, the process state and its jobs, the link to a citizen
/// account, and the payer data of bank transactions for its fees. What remains is what
/// statistics, the finance records and the audit trail need: Aktenzeichen, procedure,
/// status, dates, fees and payments, deadlines, the neutral timeline. Returns what was
/// erased, by kind.
pub async fn erase(conn: &mut AnyConnection, tenant_id: &str, case_id: &str) -> Result<Json> {
    let mut counts = serde_json::Map::new();
    let deletes = [
        ("dokumente", "DELETE FROM documents WHERE tenant_id = $1 AND case_id = $2"),
        ("nachrichten", "DELETE FROM case_messages WHERE tenant_id = $1 AND case_id = $2"),
        ("nachforderungen", "DELETE FROM document_requests WHERE tenant_id = $1 AND case_id = $2"),
        ("beteiligungen", "DELETE FROM consultations WHERE tenant_id = $1 AND case_id = $2"),
        ("abschriften", "DELETE FROM copies WHERE tenant_id = $1 AND case_id = $2"),
        ("abgaben", "DELETE FROM case_forwardings WHERE tenant_id = $1 AND case_id = $2"),
        ("aenderungen", "DELETE FROM case_data_versions WHERE tenant_id = $1 AND case_id = $2"),
        ("vermerke", "DELETE FROM case_events WHERE tenant_id = $1 AND case_id = $2 AND kind = 'note'"),
        ("uebermittlungen", "DELETE FROM outbox WHERE tenant_id = $1 AND case_id = $2"),
        ("prozessnachrichten", "DELETE FROM messages WHERE tenant_id = $1 AND case_id = $2"),
        ("auftraege", "DELETE FROM jobs WHERE tenant_id = $1 AND case_id = $2"),
        ("prozess", "DELETE FROM process_instances WHERE tenant_id = $1 AND case_id = $2"),
        ("kontoverknuepfung", "DELETE FROM account_cases WHERE tenant_id = $1 AND case_id = $2"),
    ];
    for (kind, sql) in deletes {
        counts.insert(kind.into(), json!(run(conn, sql, tenant_id, case_id).await?));
    }
    let updates = [
        (
            "entscheidungstexte",
            "UPDATE tasks SET result = NULL WHERE tenant_id = $1 AND case_id = $2 AND result IS NOT NULL",
        ),
        (
            "zahlerdaten",
            "UPDATE bank_transactions SET payer = '', payer_iban = '', remittance = ''
             WHERE tenant_id = $1 AND fee_id IN (SELECT fee_id FROM fees WHERE tenant_id = $1 AND case_id = $2)",
        ),
        (
            "antrag",
            "UPDATE cases SET data = '{}', findings = '[]', applicant = '', access_code_hash = ''
             WHERE tenant_id = $1 AND case_id = $2",
        ),
    ];
    for (kind, sql) in updates {
        counts.insert(kind.into(), json!(run(conn, sql, tenant_id, case_id).await?));
    }
    Ok(Json::Object(counts))
}

/// Marks a claimed case done: its package and what was erased.
pub async fn finish(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    package: &str,
    package_sha256: &str,
    erased: &Json,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE archive_log SET status = 'done', package = $3, package_sha256 = $4, erased = $5, done_at = $6
         WHERE tenant_id = $1 AND case_id = $2",
    )
    .bind(tenant_id)
    .bind(case_id)
    .bind(package)
    .bind(package_sha256)
    .bind(erased.to_string())
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The tenant's log, the latest first; at most `limit`.
pub async fn log(conn: &mut AnyConnection, tenant_id: &str, limit: i64) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as(
        "SELECT case_id, reference, procedure_id, ended_at, due_on, status, package, package_sha256, erased, done_at
         FROM archive_log WHERE tenant_id = $1 ORDER BY COALESCE(done_at, claimed_at) DESC, reference LIMIT $2",
    )
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
