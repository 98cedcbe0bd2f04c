//! The audit trail: append-only, one hash chain per tenant.

use crate::batch::{Batch, Write};
use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// Who did something: a staff member, the citizen (with the case reference), an API client,
/// or the system itself (process engine, connectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff {
        staff_id: String,
        username: String,
    },
    Applicant,
    ApiKey {
        key_id: String,
    },
    /// A body consulted about a case, answering through its link (named as the clerk named
    /// it).
    Participant {
        name: String,
    },
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Staff { username, .. } => format!("staff:{username}"),
            Actor::Applicant => "applicant".into(),
            Actor::ApiKey { key_id } => format!("api:{key_id}"),
            Actor::Participant { name } => format!("participant:{name}"),
            Actor::System => "system".into(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
    /// SHA-256 of the details, which the hash covers instead of them (entries since
    /// migration 0033): the details can be erased without breaking the chain.
    pub details_sha256: Option<String>,
    /// When the details were erased (the case's retention ended).
    pub erased_at: Option<String>,
}

impl Entry {
    /// What the entry's hash covers in place of the details: `sha256:<hex>` for erasable
    /// entries, the details themselves for older ones.
    fn hashed_details(&self) -> String {
        match &self.details_sha256 {
            Some(h) => format!("sha256:{h}"),
            None => self.details.clone(),
        }
    }
}

const ENTRY_COLUMNS: &str =
    "seq, at, actor, action, object_type, object_id, details, prev_hash, hash, details_sha256, erased_at";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: over the tenant, the sequence number, every field and the previous
/// hash, separated by a unit separator that cannot occur in the fields' JSON or text.
fn entry_hash(tenant_id: &str, seq: i64, fields: [&str; 7]) -> String {
    let seq = seq.to_string();
    let mut material = vec![tenant_id, seq.as_str()];
    material.extend(fields);
    sha256_hex(material.join("\u{1f}").as_bytes())
}

/// Appends an entry. Call it inside the transaction of the change it records, so that a
/// change without its audit entry cannot be committed.
#[allow(clippy::too_many_arguments)]
pub async fn append(
    conn: &mut AnyConnection,
    tenant_id: &str,
    actor: &Actor,
    action: &str,
    object_type: &str,
    object_id: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let entry = Pending {
        actor: actor.clone(),
        action: action.to_string(),
        object_type: object_type.to_string(),
        object_id: object_id.to_string(),
        details: details.clone(),
    };
    append_all(conn, tenant_id, &[entry], now).await
}

/// An entry to append later in the same transaction (see [`append_all`]).
#[derive(Debug, Clone)]
pub struct Pending {
    pub actor: Actor,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub details: serde_json::Value,
}

/// Appends several entries at once, as the last writes of a transaction. The tenant's
/// sequence is locked from here until the commit, so appending last keeps that lock short:
/// transactions of one tenant serialise only on this step, not on their whole work.
pub async fn append_all(
    conn: &mut AnyConnection,
    tenant_id: &str,
    entries: &[Pending],
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(write) = chain(conn, tenant_id, entries, now).await? {
        write.execute(conn).await?;
    }
    Ok(())
}

/// Links `entries` to the tenant's chain and returns their insert, to be sent (in a
/// [`crate::batch::Batch`]) before the transaction commits. As in [`append_all`], the
/// tenant's sequence stays locked from the insert to the commit: send it last.
///
/// On PostgreSQL the insert chains the entries itself (the function `audit_chain`, see
/// migration 0012), so this costs no round trip; on SQLite the sequence numbers are
/// reserved and the last hash read here.
pub async fn chain(
    conn: &mut AnyConnection,
    tenant_id: &str,
    entries: &[Pending],
    now: DateTime<Utc>,
) -> Result<Option<Write>> {
    if entries.is_empty() {
        return Ok(None);
    }
    if crate::Backend::of(conn) == crate::Backend::Postgres {
        return Ok(Some(chained_in_database(tenant_id, entries, now)));
    }
    let n = entries.len() as i64;
    let last = crate::reserve_counter(conn, tenant_id, "audit", n).await?;
    let first = last - n + 1;
    // Without the entry before (entries deleted) chain from the start, so verify reports
    // the gap.
    let prev: Option<(String,)> = sqlx::query_as("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2")
        .bind(tenant_id)
        .bind(first - 1)
        .fetch_optional(&mut *conn)
        .await?;
    let prev = prev.map(|p| p.0).unwrap_or_else(|| GENESIS.to_string());
    let linked = link(tenant_id, first, &prev, entries, now, false);
    remember(tenant_id, linked.head.clone());
    Ok(Some(linked.write))
}

/// PostgreSQL: the insert of `entries`, chained by the database in the same statement.
fn chained_in_database(tenant_id: &str, entries: &[Pending], now: DateTime<Utc>) -> Write {
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "actor": e.actor.label(),
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details.to_string(),
            })
        })
        .collect();
    Write::new("INSERT INTO audit_log SELECT * FROM audit_chain($1, $2, $3)")
        .bind(tenant_id)
        .bind(ts(now))
        .bind(serde_json::Value::Array(entries).to_string())
}

/// The insert of `entries` as the chain's entries `first …`, after an entry with hash
/// `prev`. With `guarded`, the first entry's `prev_hash` is read from the entry `first - 1`
/// if that entry has the hash `prev`, and is NULL otherwise, which the schema refuses: the
/// insert fails instead of forking the chain from a stale head.
struct Linked {
    write: Write,
    head: (i64, String),
}

fn link(tenant_id: &str, first: i64, prev: &str, entries: &[Pending], now: DateTime<Utc>, guarded: bool) -> Linked {
    let at = ts(now);
    let mut prev = prev.to_string();
    let mut rows = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let seq = first + i as i64;
        let actor = e.actor.label();
        let details = e.details.to_string();
        let details_sha256 = sha256_hex(details.as_bytes());
        let hashed = format!("sha256:{details_sha256}");
        let hash = entry_hash(tenant_id, seq, [&at, &actor, &e.action, &e.object_type, &e.object_id, &hashed, &prev]);
        rows.push((seq, actor, details, details_sha256, prev.clone(), hash.clone()));
        prev = hash;
    }
    let guard_param = rows.len() * 10 + 2;
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = i * 10 + 2;
            let prev_hash = if guarded && i == 0 {
                format!(
                    "(SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = ${guard_param} AND hash = ${})",
                    b + 7
                )
            } else {
                format!("${}", b + 7)
            };
            format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, {prev_hash}, ${}, ${})",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 8,
                b + 9
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit_log (tenant_id, seq, at, actor, action, object_type, object_id, details, prev_hash, hash, details_sha256) VALUES {}",
        values.join(", ")
    );
    let mut w = Write::new(sql).bind(tenant_id);
    for (e, (seq, actor, details, details_sha256, prev, hash)) in entries.iter().zip(rows) {
        w = w
            .bind(seq)
            .bind(at.clone())
            .bind(actor)
            .bind(&e.action)
            .bind(&e.object_type)
            .bind(&e.object_id)
            .bind(details)
            .bind(prev)
            .bind(hash)
            .bind(details_sha256);
    }
    if guarded {
        w = w.bind(first - 1);
    }
    Linked { write: w, head: (first + entries.len() as i64 - 1, prev) }
}

/// The head of each tenant's chain (sequence number and hash of its last entry) as this
/// process last wrote it. On SQLite, where this process's one writer connection does
/// nearly all appends, it saves reading the head inside the transaction. It is only a
/// guess: the guarded insert ([`link`]) checks it against the database, so an entry
/// written by another process, or a transaction rolled back after it set the head, makes
/// the insert fail and the head is read from the database.
fn heads() -> &'static std::sync::Mutex<std::collections::HashMap<String, (i64, String)>> {
    static HEADS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, (i64, String)>>> =
        std::sync::OnceLock::new();
    HEADS.get_or_init(Default::default)
}

fn remember(tenant_id: &str, head: (i64, String)) {
    heads().lock().unwrap_or_else(|p| p.into_inner()).insert(tenant_id.to_string(), head);
}

fn forget(tenant_id: &str) {
    heads().lock().unwrap_or_else(|p| p.into_inner()).remove(tenant_id);
}

fn remembered(tenant_id: &str) -> Option<(i64, String)> {
    heads().lock().unwrap_or_else(|p| p.into_inner()).get(tenant_id).cloned()
}

/// Sends a transaction's last writes, `writes` (whose last write is the one whose row
/// count matters, e.g. the instance saved against its revision), together with `entries`
/// appended to the tenant's audit trail. Returns the row count of the last write; if it
/// is 0 (a conflict), the caller must roll back: the entries may have been written.
///
/// The tenant's chain stays locked from here to the commit, so this is the last thing
/// before it. On PostgreSQL the entries are chained by the database in the same statement
/// as the writes (see [`chain`]): one round trip. On SQLite the transaction holds the
/// database's only write lock since `BEGIN IMMEDIATE` anyway; the entries go first in the
/// same batch, chained to the remembered head without reading it, and only if that head
/// turns out stale is it read and the batch sent again.
pub async fn write_with_entries(
    conn: &mut AnyConnection,
    tenant_id: &str,
    entries: &[Pending],
    now: DateTime<Utc>,
    mut writes: Batch,
) -> Result<u64> {
    if entries.is_empty() {
        return writes.execute(conn).await;
    }
    if crate::Backend::of(conn) == crate::Backend::Postgres {
        writes.push_first(chained_in_database(tenant_id, entries, now));
        return writes.execute(conn).await;
    }
    if let Some((seq, hash)) = remembered(tenant_id) {
        let linked = link(tenant_id, seq + 1, &hash, entries, now, true);
        writes.push_first(
            Write::new("UPDATE counters SET value = $2 WHERE tenant_id = $1 AND name = 'audit'")
                .bind(tenant_id)
                .bind(linked.head.0),
        );
        writes.push_first(linked.write);
        match writes.try_execute(conn).await {
            Ok(changed) => {
                remember(tenant_id, linked.head);
                return Ok(changed);
            }
            // The guarded insert, the first write, refused the head: nothing of the batch
            // ran; read the head and send again.
            Err(crate::batch::Failed { completed: 0, error: crate::StoreError::Db(sqlx::Error::Database(_)) }) => {
                forget(tenant_id);
                writes.pop_first();
                writes.pop_first();
            }
            Err(failed) => return Err(failed.error),
        }
    }
    if let Some(entries) = chain(conn, tenant_id, entries, now).await? {
        writes.push_first(entries);
    }
    writes.execute(conn).await
}

/// Entries about one object (e.g. a case), oldest first.
pub async fn for_object(
    conn: &mut AnyConnection,
    tenant_id: &str,
    object_type: &str,
    object_id: &str,
) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE tenant_id = $1 AND object_type = $2 AND object_id = $3 ORDER BY seq"
    ))
    .bind(tenant_id)
    .bind(object_type)
    .bind(object_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn count(conn: &mut AnyConnection, tenant_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}

/// Recomputes the chain of a tenant. Returns the first broken sequence number, if any.
pub async fn verify(conn: &mut AnyConnection, tenant_id: &str) -> Result<Option<i64>> {
    let entries: Vec<Entry> =
        sqlx::query_as(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE tenant_id = $1 ORDER BY seq"))
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let hashed = e.hashed_details();
        let expected =
            entry_hash(tenant_id, e.seq, [&e.at, &e.actor, &e.action, &e.object_type, &e.object_id, &hashed, &prev]);
        // Details not erased must still be the ones hashed.
        let details_intact = match (&e.details_sha256, &e.erased_at) {
            (Some(h), None) => sha256_hex(e.details.as_bytes()) == *h,
            _ => true,
        };
        if e.seq != i as i64 + 1 || e.prev_hash != prev || e.hash != expected || !details_intact {
            return Ok(Some(e.seq));
        }
        prev = e.hash.clone();
    }
    Ok(None)
}

/// Erases the details of the entries about a case (and about its fees' bank transactions)
/// when its retention ends, except those of the actions in `keep` (the archiving itself).
/// The entries stay, with action, actor and time; their hashes cover the details' SHA-256,
/// so the chain still verifies. Entries older than migration 0033 cannot be erased this way
/// and keep their details. Returns how many entries were erased.
pub async fn erase_details(
    conn: &mut AnyConnection,
    tenant_id: &str,
    case_id: &str,
    keep: &[&str],
    now: DateTime<Utc>,
) -> Result<u64> {
    let keep: Vec<String> = keep.iter().map(|k| format!("'{}'", k.replace('\'', ""))).collect();
    let keep = if keep.is_empty() { "''".to_string() } else { keep.join(", ") };
    Ok(sqlx::query(&format!(
        "UPDATE audit_log SET details = '{{}}', erased_at = $3
         WHERE tenant_id = $1 AND details_sha256 IS NOT NULL AND erased_at IS NULL AND action NOT IN ({keep})
           AND ((object_type = 'case' AND object_id = $2)
             OR (object_type = 'bank_transaction' AND object_id IN (
                   SELECT b.transaction_id FROM bank_transactions b
                   WHERE b.tenant_id = $1 AND b.fee_id IN (SELECT f.fee_id FROM fees f WHERE f.tenant_id = $1 AND f.case_id = $2))))"
    ))
    .bind(tenant_id)
    .bind(case_id)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
