//! Which procedure version runs for a tenant: activations, deployments and their cache.

use crate::{Result, Runtime, RuntimeError};
use rathaus_engine::Procedure;
use rathaus_store::audit::{self, Actor};
use rathaus_store::deployments;
use rathaus_store::tenants::{self, Tenant};
use serde_json::{json, Value as Json};
use std::sync::Arc;

/// A procedure as a tenant runs it now: the deployment, the procedure and the tenant's
/// resolved parameters.
#[derive(Clone)]
pub struct ActiveProcedure {
    pub deployment_id: String,
    pub procedure: Arc<Procedure>,
    pub parameters: Json,
}

impl Runtime {
    /// Deploys the library's current version of `procedure_id` for a tenant, if it differs
    /// from the tenant's latest deployment. Returns the deployment id and whether it is new.
    pub async fn deploy(&self, tenant_id: &str, procedure_id: &str) -> Result<(String, bool)> {
        let procedure =
            self.library.get(procedure_id).ok_or_else(|| RuntimeError::UnknownProcedure(procedure_id.into()))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (id, created) = deployments::ensure(
            &mut tx,
            tenant_id,
            procedure_id,
            &procedure.manifest.version,
            &procedure.content_hash,
            &procedure.files,
            now,
        )
        .await?;
        if created {
            audit::append(
                &mut tx,
                tenant_id,
                &Actor::System,
                "procedure.deployed",
                "procedure",
                procedure_id,
                &json!({"deployment": id, "version": procedure.manifest.version, "hash": procedure.content_hash}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        self.deployments.lock().expect("cache lock").insert(id.clone(), procedure.clone());
        Ok((id, created))
    }

    /// Deploys the current library for every active procedure of every tenant. Returns
    /// (tenant slug, procedure id, deployment id, created).
    pub async fn sync_deployments(&self) -> Result<Vec<(String, String, String, bool)>> {
        let mut conn = self.store.conn().await?;
        let all = tenants::list(&mut conn).await?;
        let mut work = Vec::new();
        for t in all {
            for procedure_id in tenants::offered(&mut conn, &t.tenant_id).await? {
                work.push((t.clone(), procedure_id));
            }
        }
        drop(conn);
        let mut out = Vec::new();
        for (t, procedure_id) in work {
            if self.library.get(&procedure_id).is_none() {
                tracing::warn!(
                    tenant = t.slug,
                    procedure = procedure_id,
                    "activated procedure is not in the library; existing cases keep running on their deployment"
                );
                continue;
            }
            let (id, created) = self.deploy(&t.tenant_id, &procedure_id).await?;
            out.push((t.slug.clone(), procedure_id, id, created));
        }
        Ok(out)
    }

    /// The procedure of a deployment (the version a case runs on), from the cache or the
    /// stored files.
    pub async fn procedure_of_deployment(&self, tenant_id: &str, deployment_id: &str) -> Result<Arc<Procedure>> {
        if let Some(p) = self.deployments.lock().expect("cache lock").get(deployment_id) {
            return Ok(p.clone());
        }
        let mut conn = self.store.conn().await?;
        let files = deployments::files(&mut conn, tenant_id, deployment_id).await?;
        let procedure = Procedure::from_files(files)
            .map_err(|ps| RuntimeError::Procedure(ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")))?;
        let procedure = Arc::new(procedure);
        self.deployments.lock().expect("cache lock").insert(deployment_id.to_string(), procedure.clone());
        Ok(procedure)
    }

    /// A procedure's name as the library gives it, or its id for one the library no longer
    /// has.
    pub fn procedure_name(&self, id: &str, lang: rathaus_domain::Lang) -> String {
        self.library.get(id).map(|p| p.manifest.name.get(lang).to_string()).unwrap_or_else(|| id.to_string())
    }

    /// The procedure a new application of this tenant runs on.
    pub async fn active_procedure(&self, tenant: &Tenant, procedure_id: &str) -> Result<ActiveProcedure> {
        let mut conn = self.store.conn().await?;
        let activation = tenants::activation(&mut conn, &tenant.tenant_id, procedure_id).await?;
        let activation = match activation {
            Some(a) if a.active => a,
            _ => {
                return Err(if self.library.get(procedure_id).is_some() {
                    RuntimeError::NotActive(procedure_id.into())
                } else {
                    RuntimeError::UnknownProcedure(procedure_id.into())
                })
            }
        };
        let deployment = deployments::latest(&mut conn, &tenant.tenant_id, procedure_id).await?;
        drop(conn);
        let deployment_id = match deployment {
            Some(d) => d.deployment_id,
            None => self.deploy(&tenant.tenant_id, procedure_id).await?.0,
        };
        let procedure = self.procedure_of_deployment(&tenant.tenant_id, &deployment_id).await?;
        let parameters = resolve(&procedure, &activation.parameters)?;
        Ok(ActiveProcedure { deployment_id, procedure, parameters })
    }

    /// The tenant's parameters of `procedure` (a version a case runs on, not necessarily the
    /// latest): its overrides over the library's defaults.
    pub(crate) async fn parameters_for(&self, tenant: &Tenant, procedure: &Procedure) -> Result<Json> {
        let mut conn = self.store.conn().await?;
        let overrides = tenants::activation(&mut conn, &tenant.tenant_id, procedure.id()).await?.map(|a| a.parameters);
        drop(conn);
        resolve(procedure, &overrides.unwrap_or_else(|| Json::Object(Default::default())))
    }

    /// All procedures a tenant offers, in library order.
    pub async fn active_procedures(&self, tenant: &Tenant) -> Result<Vec<ActiveProcedure>> {
        let mut conn = self.store.conn().await?;
        let ids = tenants::offered(&mut conn, &tenant.tenant_id).await?;
        drop(conn);
        let mut out = Vec::new();
        for id in ids {
            match self.active_procedure(tenant, &id).await {
                Ok(p) => out.push(p),
                Err(RuntimeError::UnknownProcedure(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

fn resolve(procedure: &Procedure, overrides: &Json) -> Result<Json> {
    procedure
        .resolve_parameters(overrides)
        .map_err(|e| RuntimeError::Procedure(format!("Parameter des Mandanten: {}", e.join("; "))))
}
