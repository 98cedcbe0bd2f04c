//! Several writes sent to the database in one round trip.
//!
//! Inside a transaction most of a process step's writes (timeline entries, tasks, jobs, the
//! audit entries) need no answer from the database. Each statement costs a round trip (on
//! SQLite a hand-over to the connection's thread and back), which is most of a step's
//! time, so such writes are collected in a [`Batch`] and sent together as one statement:
//! on SQLite as a statement list, on PostgreSQL as one statement whose writes are
//! data-modifying `WITH` parts. Every write of a batch must be independent of the others
//! (PostgreSQL runs the parts on one snapshot in no defined order): inserts, or updates of
//! rows no other part of the batch touches.

use crate::{Backend, Result};
use sqlx::AnyConnection;

/// A value bound to a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::OptText(v.clone())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// One write: an `INSERT`, `UPDATE` or `DELETE` with parameters `$1 … $n`.
#[derive(Debug, Clone)]
pub struct Write {
    sql: String,
    args: Vec<Arg>,
}

impl Write {
    pub fn new(sql: impl Into<String>) -> Write {
        Write { sql: sql.into(), args: Vec::new() }
    }

    pub fn bind(mut self, arg: impl Into<Arg>) -> Write {
        self.args.push(arg.into());
        self
    }

    /// Runs this write alone; returns the number of rows it changed.
    pub async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        Ok(bind_all(sqlx::query(&self.sql), self.args).execute(&mut *conn).await?.rows_affected())
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
        };
    }
    q
}

/// Writes collected to be sent together.
#[derive(Debug, Default)]
pub struct Batch {
    writes: Vec<Write>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Puts `write` before all others.
    pub fn push_first(&mut self, write: Write) {
        self.writes.insert(0, write);
    }

    /// Removes the first write (the one [`Batch::push_first`] put there).
    pub fn pop_first(&mut self) -> Option<Write> {
        (!self.writes.is_empty()).then(|| self.writes.remove(0))
    }

    /// Sends all writes in one statement and empties the batch. Returns the number of rows
    /// changed by the last write (the one to push last when its effect must be checked).
    pub async fn execute(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        let result = self.try_execute(conn).await.map_err(|failed| failed.error);
        self.writes.clear();
        result
    }

    /// Sends all writes in one statement and keeps them, so that the caller can change
    /// and resend them when the statement failed. On failure tells how many writes had
    /// completed before it (on SQLite, where they run one after the other and the
    /// transaction stays usable; on PostgreSQL the transaction is aborted and the count
    /// is 0).
    pub async fn try_execute(&self, conn: &mut AnyConnection) -> std::result::Result<u64, Failed> {
        use futures_util::TryStreamExt;
        if self.writes.is_empty() {
            return Ok(0);
        }
        let postgres = Backend::of(conn) == Backend::Postgres;
        let (sql, args) = combine(&self.writes, postgres);
        // On SQLite each statement of the list reports its own result; on PostgreSQL the
        // statement's result is its last (primary) part's.
        // sqlx marks statement lists as deprecated (launchbadge/sqlx#3108) but SQLite still runs
        // them as one prepared statement; the storage tests run every batch on both backends,
        // so a change there shows up as a failing test, not as lost writes.
        #[allow(deprecated)]
        let mut results = bind_all(sqlx::query(&sql), args).execute_many(&mut *conn).await;
        let mut last = 0;
        let mut completed = 0;
        loop {
            match results.try_next().await {
                Ok(Some(r)) => {
                    last = r.rows_affected();
                    completed += 1;
                }
                Ok(None) => return Ok(last),
                Err(e) => return Err(Failed { completed: if postgres { 0 } else { completed }, error: e.into() }),
            }
        }
    }
}

/// A batch that failed: the error, and how many of its writes had completed before it.
#[derive(Debug)]
pub struct Failed {
    pub completed: usize,
    pub error: crate::StoreError,
}

/// One statement text for the writes (parameters renumbered) and all their arguments.
fn combine(writes: &[Write], postgres: bool) -> (String, Vec<Arg>) {
    let count = writes.len();
    let mut parts = Vec::with_capacity(count);
    let mut args = Vec::new();
    for w in writes {
        parts.push(renumber(&w.sql, args.len()));
        args.extend(w.args.iter().cloned());
    }
    let sql = if count == 1 {
        parts.pop().unwrap_or_default()
    } else if postgres {
        let last = parts.pop().unwrap_or_default();
        let with: Vec<String> = parts.iter().enumerate().map(|(i, p)| format!("w{i} AS ({p})")).collect();
        format!("WITH {} {last}", with.join(", "))
    } else {
        parts.join(";\n")
    };
    (sql, args)
}

/// Shifts every parameter `$n` of `sql` by `offset`. Our statements have no `$` in literals.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(sql: &str, args: &[i64]) -> Write {
        args.iter().fold(Write::new(sql), |w, a| w.bind(*a))
    }

    #[test]
    fn parameters_are_renumbered_across_writes() {
        let writes = vec![w("INSERT INTO a VALUES ($1, $2)", &[1, 2]), w("UPDATE b SET x = $2 WHERE y = $1", &[3, 4])];
        let (sql, args) = combine(&writes, false);
        assert_eq!(sql, "INSERT INTO a VALUES ($1, $2);\nUPDATE b SET x = $4 WHERE y = $3");
        assert_eq!(args, vec![Arg::Int(1), Arg::Int(2), Arg::Int(3), Arg::Int(4)]);
        let (sql, _) = combine(&writes, true);
        assert_eq!(sql, "WITH w0 AS (INSERT INTO a VALUES ($1, $2)) UPDATE b SET x = $4 WHERE y = $3");
    }

    #[test]
    fn a_single_write_is_sent_as_it_is() {
        let (sql, args) = combine(&[w("INSERT INTO a VALUES ($1)", &[7])], true);
        assert_eq!(sql, "INSERT INTO a VALUES ($1)");
        assert_eq!(args, vec![Arg::Int(7)]);
    }

    #[test]
    fn two_digit_parameters_and_dollars_without_digits() {
        assert_eq!(renumber("VALUES ($9, $10, $)", 3), "VALUES ($12, $13, $)");
    }
}
