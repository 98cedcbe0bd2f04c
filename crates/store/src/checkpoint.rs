//! Checkpoints of the SQLite write-ahead log, in the background.
//!
//! SQLite copies the WAL back into the database file ("checkpoint") by default inside the
//! commit that makes the WAL pass 1000 pages: that commit writes the pages and syncs both
//! files, and its caller waits. Process steps write a dozen pages each (instance, task,
//! timeline, audit entries and their indexes), so every few dozen instances one of them paid
//! for a checkpoint. Here a task of the store runs passive checkpoints from a reading
//! connection instead: they never block the writer, and readers and the writer go on while
//! the pages are copied. The writer's own automatic checkpoint stays on at a high mark as a
//! safety net, should this task fall behind (e.g. a reader holding an old snapshot).

use sqlx::AnyPool;
use std::sync::Weak;
use std::time::Duration;

/// The writer checkpoints by itself only when the WAL passes this many pages (about 40 MB):
/// normally the background task has done it long before.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// How often the task looks at the WAL when it is busy, and at most when it is idle.
const BUSY_INTERVAL: Duration = Duration::from_millis(50);
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the task. It ends when the store's last handle (`alive`) is gone, or the pool
/// closes.
pub(crate) fn spawn(pool: AnyPool, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut interval = BUSY_INTERVAL;
        let mut last = (0, 0);
        loop {
            tokio::time::sleep(interval).await;
            if alive.upgrade().is_none() || pool.is_closed() {
                return;
            }
            interval = match checkpoint(&pool).await {
                // The WAL changed since the last look: writes are going on.
                Ok(state) if state != last => {
                    last = state;
                    BUSY_INTERVAL
                }
                Ok(_) => (interval * 2).min(IDLE_INTERVAL),
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite: Checkpoint im Hintergrund fehlgeschlagen");
                    IDLE_INTERVAL
                }
            };
        }
    });
}

/// One passive checkpoint; returns the frames in the WAL and how many of them are now in
/// the database file (both -1 when the database is not in WAL mode).
pub(crate) async fn checkpoint(pool: &AnyPool) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    Ok((log, done))
}
