//! A clerk corrects a case's submitted data (Berichtigung), with a reason: the data is
//! checked by the form of the procedure version the case runs on, the replaced version is
//! kept (`case_data_versions`), the process sees the new data from its next step, the
//! automatic check runs again on it, and the applicant's timeline says which answers the
//! authority corrected (Art. 16 DSGVO: rectification is visible to the person).

use crate::{Result, Runtime, RuntimeError};
use rathaus_domain::time::german_today;
use rathaus_domain::{CaseStatus, Lang};
use rathaus_engine::environment::check;
use rathaus_engine::form::FieldError;
use rathaus_engine::summary::{changes, summarize, Change};
use rathaus_store::audit::{self, Actor};
use rathaus_store::cases::{self, Case};
use rathaus_store::data_versions::{self, DataVersion, NewVersion};
use rathaus_store::tenants::Tenant;
use rathaus_store::{events, instances};
use serde_json::{json, Value as Json};

/// The shortest reason for a correction.
pub const MIN_REASON: usize = 10;

/// What came of a correction.
#[derive(Debug, Clone, PartialEq)]
pub enum Corrected {
    /// Stored as `version` with these changes.
    Saved { version: i64, changes: Vec<Change> },
    /// The data is as it was: nothing stored.
    Unchanged,
    /// The data breaks the form's rules: nothing stored.
    Invalid(Vec<FieldError>),
}

/// A correction as the case file lists it.
#[derive(Debug, Clone)]
pub struct CorrectionView {
    pub version: DataVersion,
    pub changes: Vec<Change>,
}

impl Runtime {
    /// Replaces the case's data with `data` (all of it, as the form's pages give it) for
    /// `reason`. `Conflict` if the case is finished or its process moved meanwhile (the
    /// clerk tries again).
    pub async fn correct_case_data(
        &self,
        tenant: &Tenant,
        case: &Case,
        data: &Json,
        reason: &str,
        actor: &Actor,
        lang: Lang,
    ) -> Result<Corrected> {
        if CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_final) {
            return Err(RuntimeError::Conflict("Der Vorgang ist abgeschlossen.".into()));
        }
        if reason.trim().chars().count() < MIN_REASON {
            return Err(RuntimeError::Conflict("Die Begründung fehlt.".into()));
        }
        let t = &tenant.tenant_id;
        let now = self.clock.now();
        let today = german_today(now);
        let procedure = self.procedure_of_deployment(t, &case.deployment_id).await?;
        let p = &procedure;
        let validated = p.form.validate(data, &p.catalogues, today, lang);
        if !validated.errors.is_empty() {
            return Ok(Corrected::Invalid(validated.errors));
        }
        let new = validated.data;
        let old = case.data_json()?;
        let changed = changes(
            &summarize(&p.form, &old, &p.catalogues, Lang::De),
            &summarize(&p.form, &new, &p.catalogues, Lang::De),
        );
        if changed.is_empty() {
            return Ok(Corrected::Unchanged);
        }
        // The automatic check again, on the corrected data, with the town's parameters.
        let parameters = self.parameters_for(tenant, p).await?;
        let findings = match &p.manifest.check_decision {
            Some(_) => check(p, &new, &parameters, &crate::tenant_facts(tenant, today), today)
                .ok()
                .and_then(|r| r.get("befunde").cloned()),
            None => None,
        };

        let mut tx = self.store.begin().await?;
        let version = data_versions::current(&mut tx, t, &case.case_id).await? + 1;
        let changes_json = serde_json::to_value(&changed).expect("changes serialise");
        data_versions::insert(
            &mut tx,
            &NewVersion {
                tenant_id: t,
                case_id: &case.case_id,
                version,
                previous: &old,
                changes: &changes_json,
                reason: reason.trim(),
                changed_by: &actor.label(),
                now,
            },
        )
        .await?;
        cases::set_data(&mut tx, t, &case.case_id, &new, &p.applicant_name(&new), now).await?;
        if let Some(f) = &findings {
            cases::set_findings(&mut tx, t, &case.case_id, f, now).await?;
        }
        // The process's next steps (decisions, gateways) see the corrected data.
        if let Some(row) = instances::by_case(&mut tx, t, &case.case_id).await? {
            let mut instance: rathaus_engine::executor::Instance = serde_json::from_str(&row.state)
                .map_err(|e| RuntimeError::Procedure(format!("Prozesszustand unlesbar: {e}")))?;
            instance.variables.insert("antrag".into(), new.clone());
            let state = serde_json::to_string(&instance).expect("instance serialises");
            let saved = instances::save_write(t, &row.instance_id, &row.status, &state, row.revision, now)
                .execute(&mut tx)
                .await?;
            if saved == 0 {
                tx.rollback().await?;
                return Err(RuntimeError::Conflict("Der Vorgang wurde gerade weiterbearbeitet.".into()));
            }
        }
        let labels: Vec<&str> = changed.iter().map(|c| c.label.as_str()).collect();
        let internal =
            format!("Angaben geändert (Version {version}): {} – Grund: {}", labels.join(", "), reason.trim());
        events::add(&mut tx, t, &case.case_id, "correction", &internal, false, now).await?;
        let public = format!("Die Behörde hat Ihre Angaben berichtigt: {}", labels.join(", "));
        events::add(&mut tx, t, &case.case_id, "correction", &public, true, now).await?;
        let keys: Vec<&str> = changed.iter().map(|c| c.key.as_str()).collect();
        audit::append(
            &mut tx,
            t,
            actor,
            "case.data_changed",
            "case",
            &case.case_id,
            &json!({"version": version, "fields": keys, "reason": reason.trim(), "findings_checked": findings.is_some()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Corrected::Saved { version, changes: changed })
    }

    /// The case's corrections, oldest first.
    pub async fn corrections(&self, tenant: &Tenant, case_id: &str) -> Result<Vec<CorrectionView>> {
        let mut conn = self.store.conn().await?;
        let rows = data_versions::for_case(&mut conn, &tenant.tenant_id, case_id).await?;
        Ok(rows
            .into_iter()
            .map(|v| {
                let changes = serde_json::from_str(&v.changes).unwrap_or_default();
                CorrectionView { version: v, changes }
            })
            .collect())
    }
}
