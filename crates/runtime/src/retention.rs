//! Aussonderung: a finished case whose retention has run out (counted from the end of the
//! year it ended, `rathaus_domain::retention`, with the retention of the procedure version
//! it ran on) is handed to the archive as a package – the complete case file with its
//! metadata in the manner of XDOMEA and checksums – and then its personal data are erased
//! (`rathaus_store::retention::erase`), both audited and logged for the town's report.
//! Cases still running (a process waiting, a task open) wait. Every node may sweep: each
//! case is claimed by one, and a claim a crashed node left is taken over after an hour.

use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::retention::{due_on, ended_by};
use rathaus_domain::time::{german_time, german_today};
use rathaus_store::audit::{self, Actor};
use rathaus_store::retention::{self as log, Candidate};
use rathaus_store::tenants::{self, Tenant};
use rathaus_store::{instances, sha256_hex, tasks};
use serde_json::json;
use std::path::PathBuf;

/// How many cases of a procedure one sweep takes per tenant (the next sweep takes more).
const BATCH: i64 = 200;

/// A case handed to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub tenant: String,
    pub reference: String,
    /// The package as written into the archive directory.
    pub package: PathBuf,
}

impl Runtime {
    /// Where archive packages are written (`<dir>/<tenant>/<Aktenzeichen>.zip`), if set.
    pub fn archive_dir(&self) -> Option<&PathBuf> {
        self.archive_dir.get()
    }

    /// Hands every due case of every tenant to the archive and erases its personal data;
    /// returns what it archived.
    pub async fn archive_due(&self) -> Result<Vec<Archived>> {
        let dir = self.archive_dir.get().ok_or_else(|| {
            RuntimeError::Conflict("Kein Archivverzeichnis eingerichtet (--archive-dir / RATHAUS_ARCHIVE_DIR).".into())
        })?;
        let mut conn = self.store.conn().await?;
        let all = tenants::list(&mut conn).await?;
        drop(conn);
        let mut done = Vec::new();
        for tenant in &all {
            for (procedure_id, procedure) in &self.library.procedures {
                let today = german_today(self.clock.now());
                // The library's retention bounds the query; each case is then judged by the
                // version it ran on.
                let bound = ended_by(today, procedure.manifest.retention_years) + chrono::Duration::days(1);
                let mut conn = self.store.conn().await?;
                let found = log::candidates(
                    &mut conn,
                    &tenant.tenant_id,
                    procedure_id,
                    &bound.format("%Y-%m-%d").to_string(),
                    BATCH,
                )
                .await?;
                drop(conn);
                for c in found {
                    if let Some(a) = self.archive_case(tenant, &c, dir).await? {
                        done.push(a);
                    }
                }
            }
        }
        Ok(done)
    }

    async fn archive_case(&self, tenant: &Tenant, c: &Candidate, dir: &std::path::Path) -> Result<Option<Archived>> {
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let procedure = self.procedure_of_deployment(t, &c.deployment_id).await?;
        let ended = rathaus_store::parse_ts(&c.closed_at)
            .map(|at| german_time(at).date_naive())
            .map_err(|e| RuntimeError::Procedure(format!("{}: Abschlussdatum unlesbar: {e}", c.reference)))?;
        let due = due_on(ended, procedure.manifest.retention_years);
        if due > german_today(now) {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let running = instances::by_case(&mut conn, t, &c.case_id).await?.is_some_and(|i| i.status == "running");
        let open_task = tasks::for_case(&mut conn, t, &c.case_id).await?.iter().any(|task| task.status == "open");
        if running || open_task {
            return Ok(None);
        }
        let claimed = log::claim(
            &mut conn,
            t,
            c,
            &due.format("%Y-%m-%d").to_string(),
            &self.config.node_id,
            now,
            now - chrono::Duration::hours(1),
        )
        .await?;
        drop(conn);
        if !claimed {
            return Ok(None);
        }
        let package = self.case_archive(tenant, &c.case_id, &Actor::System).await?;
        let folder = dir.join(&tenant.slug);
        let path = folder.join(format!("{}.zip", c.reference));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&folder)?;
            // Written aside and renamed: the archive never sees half a package.
            let part = folder.join(format!(".{}.zip.part", c.reference));
            std::fs::write(&part, &package.bytes)?;
            std::fs::rename(&part, &path)
        };
        write().map_err(|e| RuntimeError::Conflict(format!("Archivpaket {}: {e}", path.display())))?;
        let sha256 = sha256_hex(&package.bytes);
        let name = format!("{}/{}.zip", tenant.slug, c.reference);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        audit::append(
            &mut tx,
            t,
            &Actor::System,
            "case.archived",
            "case",
            &c.case_id,
            &json!({"package": name, "sha256": sha256, "due_on": due.format("%Y-%m-%d").to_string(),
                "retention_years": procedure.manifest.retention_years}),
            now,
        )
        .await?;
        let mut erased = log::erase(&mut tx, t, &c.case_id).await?;
        // The audit trail keeps what was done, by whom and when; the free text of its
        // entries (reasons, notes, file names) goes, the archiving's own entry stays whole.
        let audit_texts = audit::erase_details(&mut tx, t, &c.case_id, &["case.archived"], now).await?;
        erased["protokolltexte"] = json!(audit_texts);
        audit::append(&mut tx, t, &Actor::System, "case.erased", "case", &c.case_id, &json!({"erased": erased}), now)
            .await?;
        log::finish(&mut tx, t, &c.case_id, &name, &sha256, &erased, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant.slug, case = %c.reference, package = %path.display(), "case archived and erased");
        Ok(Some(Archived { tenant: tenant.slug.clone(), reference: c.reference.clone(), package: path }))
    }

    /// The tenant's report of archived and erased cases, the latest first.
    pub async fn archive_log(&self, tenant: &Tenant, limit: i64) -> Result<Vec<log::Entry>> {
        let mut conn = self.store.conn().await?;
        Ok(log::log(&mut conn, &tenant.tenant_id, limit).await?)
    }
}
