//! Submission of an application: validate, store, start the process — one transaction.

use crate::intake::Intake;
use crate::procedures::ActiveProcedure;
use crate::{instance_status, persist_effects, tenant_calendar, EffectContext, Result, Runtime, RuntimeError, Step};
use chrono::Datelike;
use rathaus_domain::time::{german_time, german_today};
use rathaus_domain::{AccessCode, CaseStatus, Channel, Lang, Reference};
use rathaus_engine::environment::{start_variables, ProcedureEnv};
use rathaus_engine::executor::Instance;
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, events, instances, jobs, new_id, next_counter};
use serde_json::{json, Value as Json};
use std::time::Duration;

/// The job type of the receipt every submission gets (not part of any process model).
pub(crate) const RECEIPT_JOB: &str = "rathaus:receipt";

pub struct SubmitRequest<'a> {
    pub tenant: &'a Tenant,
    pub procedure_id: &'a str,
    pub data: &'a Json,
    pub channel: Channel,
    pub lang: Lang,
    pub actor: Actor,
    /// The key the application's uploads are stored under (see [`crate::uploads`]); the
    /// files its data refers to are attached to the case.
    pub upload_key: Option<&'a str>,
    /// The citizen account submitting, if signed in: the case is listed in its account.
    pub account_id: Option<&'a str>,
    /// The business the account acts for, if any: the case is listed for its members too
    /// (only if the account still belongs to it).
    pub business_id: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub case_id: String,
    pub reference: Reference,
    /// Shown once to the applicant; only its hash is stored.
    pub access_code: AccessCode,
    pub status: CaseStatus,
}

impl Runtime {
    /// Validates application data as a submission would, without storing anything. Returns
    /// the cleaned data (fields of hidden pages removed).
    pub async fn validate(
        &self,
        tenant: &Tenant,
        procedure_id: &str,
        data: &Json,
        lang: Lang,
    ) -> Result<(ActiveProcedure, Json)> {
        let active = self.active_procedure(tenant, procedure_id).await?;
        let today = german_today(self.clock.now());
        let p = &active.procedure;
        let validated = p.form.validate(data, &p.catalogues, today, lang);
        if !validated.errors.is_empty() {
            return Err(RuntimeError::Invalid(validated.errors));
        }
        Ok((active, validated.data))
    }

    /// Stores a valid application as a new case and starts its process. Standard cases are
    /// decided before this returns (the instance's jobs run inline, within a time budget);
    /// whatever is left is done by the worker.
    pub async fn submit(&self, req: SubmitRequest<'_>) -> Result<Submitted> {
        self.submit_with(req, None).await
    }

    /// [`Runtime::submit`], for an application a clerk entered with what they say of it.
    pub(crate) async fn submit_with(&self, req: SubmitRequest<'_>, intake: Option<&Intake<'_>>) -> Result<Submitted> {
        let (active, data) = self.validate(req.tenant, req.procedure_id, req.data, req.lang).await?;
        let procedure = &active.procedure;
        let tenant = req.tenant;
        let now = self.clock.now();
        let received_at = intake.map(|i| crate::intake::received_at(now, i.received_on)).unwrap_or(now);
        let year = german_time(now).year();
        let code = AccessCode::from_random(&rand::random::<[u8; 16]>());
        let case_id = new_id();
        let instance_id = new_id();

        let mut tx = self.store.begin().await?;
        let prefix = &procedure.manifest.reference_prefix;
        let number = next_counter(&mut tx, &tenant.tenant_id, &format!("aktenzeichen:{prefix}:{year}")).await?;
        let reference = Reference::new(prefix, year, number);
        cases::insert(
            &mut tx,
            cases::NewCase {
                tenant_id: &tenant.tenant_id,
                case_id: &case_id,
                reference: reference.as_str(),
                procedure_id: procedure.id(),
                deployment_id: &active.deployment_id,
                status: CaseStatus::Submitted.code(),
                channel: req.channel.code(),
                lang: req.lang.code(),
                applicant: &procedure.applicant_name(&data),
                data: &data,
                access_code_hash: &self.secret_hash("access-code", code.as_str()),
                received_at,
                now,
            },
        )
        .await?;
        if let Some(account_id) = req.account_id {
            let business = match req.business_id {
                Some(b) => rathaus_store::businesses::membership(&mut tx, &tenant.tenant_id, b, account_id).await?,
                None => None,
            };
            let business_id = business.as_ref().map(|m| m.business_id.as_str());
            rathaus_store::accounts::link_case(&mut tx, &tenant.tenant_id, account_id, business_id, &case_id).await?;
        }
        let missing =
            attach_uploads(&mut tx, procedure, &tenant.tenant_id, &case_id, req.upload_key, &data, req.lang, now)
                .await?;
        if !missing.is_empty() {
            // Nothing of the case is kept: the applicant uploads the files again and submits.
            tx.rollback().await?;
            return Err(RuntimeError::Invalid(missing));
        }
        if let Some(scan) = intake.and_then(|i| i.scan) {
            let attach = rathaus_store::uploads::Attach {
                tenant_id: &tenant.tenant_id,
                upload_key: req.upload_key.unwrap_or_default(),
                upload_id: &scan.upload_id,
                sha256: &scan.sha256,
                case_id: &case_id,
                title: "Eingang (Scan)",
                now,
            };
            if !rathaus_store::uploads::attach(&mut tx, &attach).await? {
                tx.rollback().await?;
                let message = match req.lang {
                    Lang::De => {
                        format!("Der Scan „{}“ ist nicht mehr vorhanden. Laden Sie ihn erneut hoch.", scan.file_name)
                    }
                    Lang::En => format!("The scan “{}” is no longer there. Upload it again.", scan.file_name),
                };
                return Err(RuntimeError::Invalid(vec![rathaus_engine::form::FieldError {
                    field: crate::intake::SCAN_FIELD.into(),
                    message,
                }]));
            }
        }
        // The case row is written at once (the check decision's findings update it); the rest
        // of the submission goes out with the process step's batch.
        let mut step = Step::recording(vec![audit::Pending {
            actor: req.actor.clone(),
            action: "case.submitted".into(),
            object_type: "case".into(),
            object_id: case_id.clone(),
            details: match intake {
                None => {
                    json!({"reference": reference.as_str(), "procedure": procedure.id(), "deployment": active.deployment_id, "channel": req.channel.code()})
                }
                Some(i) => {
                    json!({"reference": reference.as_str(), "procedure": procedure.id(), "deployment": active.deployment_id, "channel": req.channel.code(),
                    "received_on": i.received_on.to_string(), "scan": i.scan.map(|s| &s.sha256)})
                }
            },
        }]);
        let received = match intake {
            None => "Antrag eingegangen".to_string(),
            Some(i) => format!(
                "Antrag eingegangen ({}) am {}, erfasst von {}",
                channel_de(req.channel),
                i.received_on.format("%d.%m.%Y"),
                i.clerk_name
            ),
        };
        step.writes.push(events::add_write(&tenant.tenant_id, &case_id, "submitted", &received, true, now));

        let facts = crate::tenant_facts(tenant, rathaus_domain::time::german_today(received_at));
        let mut instance = Instance::start(&procedure.process, start_variables(&data, &active.parameters, &facts, now));
        let calendar = tenant_calendar(&tenant.settings);
        let effects = instance.advance(&procedure.process, &ProcedureEnv { procedure, now, calendar: &calendar });
        let ctx = EffectContext {
            tenant_id: &tenant.tenant_id,
            case_id: &case_id,
            instance_id: &instance_id,
            procedure,
            calendar: &calendar,
            now,
        };
        persist_effects(&mut tx, &ctx, &mut instance, effects, &mut step).await?;
        let deadlines = crate::deadlines::writes(&crate::deadlines::NewCaseDeadlines {
            tenant_id: &tenant.tenant_id,
            case_id: &case_id,
            instance_id: &instance_id,
            procedure,
            parameters: &active.parameters,
            calendar: &calendar,
            received_at,
            now,
        })
        .map_err(RuntimeError::Conflict)?;
        for write in deadlines {
            step.writes.push(write);
        }
        step.writes.push(jobs::insert_write(
            &tenant.tenant_id,
            &new_id(),
            &instance_id,
            &case_id,
            0,
            "_eingangsbestaetigung",
            RECEIPT_JOB,
            &json!({}),
            &json!({}),
            5,
            now,
            now,
        ));
        let instance_row = instances::insert_write(
            &instances::InstanceRow {
                tenant_id: tenant.tenant_id.clone(),
                instance_id: instance_id.clone(),
                case_id: case_id.clone(),
                deployment_id: active.deployment_id.clone(),
                status: instance_status(&instance).into(),
                state: serde_json::to_string(&instance).expect("instance serialises"),
                revision: 0,
            },
            now,
        );
        step.finish(&mut tx, &tenant.tenant_id, now, instance_row).await?;
        tx.commit().await?;
        tracing::info!(tenant = tenant.slug, reference = reference.as_str(), "application submitted");

        self.notify_work();
        self.drive(&tenant.tenant_id, &instance_id, Duration::from_secs(10)).await;
        let mut conn = self.store.conn().await?;
        let status = cases::by_id(&mut conn, &tenant.tenant_id, &case_id)
            .await?
            .and_then(|c| CaseStatus::parse(&c.status))
            .unwrap_or(CaseStatus::Submitted);
        Ok(Submitted { case_id, reference, access_code: code, status })
    }
}

/// How the timeline names a channel.
fn channel_de(channel: Channel) -> &'static str {
    match channel {
        Channel::Portal => "online",
        Channel::Api => "über einen Onlinedienst",
        Channel::Post => "per Post",
        Channel::Fax => "per Fax",
        Channel::Email => "per E-Mail",
        Channel::Phone => "telefonisch",
        Channel::InPerson => "persönlich",
    }
}

/// Moves the uploads the application's file fields refer to into the case's documents.
/// Returns an error per file that is not (or no longer) among the key's uploads.
#[allow(clippy::too_many_arguments)]
async fn attach_uploads(
    tx: &mut sqlx::AnyConnection,
    procedure: &rathaus_engine::Procedure,
    tenant_id: &str,
    case_id: &str,
    upload_key: Option<&str>,
    data: &Json,
    lang: Lang,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<rathaus_engine::form::FieldError>> {
    use rathaus_engine::form::{get_path, FieldKind};
    use rathaus_engine::messages::{msg, Msg};
    let mut missing = Vec::new();
    let fields = procedure.form.pages.iter().flat_map(|p| p.fields.iter()).filter(|f| f.kind == FieldKind::File);
    for field in fields {
        let files =
            get_path(data, &field.key).and_then(rathaus_domain::attachment::FileRef::list_of).unwrap_or_default();
        for file in files {
            let attached = match upload_key {
                Some(key) => {
                    rathaus_store::uploads::attach(
                        tx,
                        &rathaus_store::uploads::Attach {
                            tenant_id,
                            upload_key: key,
                            upload_id: &file.id,
                            sha256: &file.sha256,
                            case_id,
                            title: field.label.get(Lang::De),
                            now,
                        },
                    )
                    .await?
                }
                None => false,
            };
            if !attached {
                missing.push(rathaus_engine::form::FieldError {
                    field: field.key.clone(),
                    message: msg(lang, Msg::FileGone, &[field.label.get(lang), &file.name]),
                });
            }
        }
    }
    Ok(missing)
}
