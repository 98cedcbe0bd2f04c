//! Tenants (Mandanten), their procedure activations and API keys.

use crate::{json_of, new_id, ts, Result, StoreError};
use chrono::{DateTime, Utc};
use rathaus_domain::TenantSettings;
use sqlx::AnyConnection;

#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub slug: String,
    pub name: String,
    pub settings: TenantSettings,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: String,
    slug: String,
    name: String,
    settings: String,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Tenant> {
        let settings = serde_json::from_str(&r.settings)
            .map_err(|e| StoreError::Corrupt { what: "Mandanteneinstellungen", message: e.to_string() })?;
        Ok(Tenant { tenant_id: r.tenant_id, slug: r.slug, name: r.name, settings })
    }
}

pub async fn create(
    conn: &mut AnyConnection,
    slug: &str,
    name: &str,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<Tenant> {
    let tenant_id = new_id();
    let settings_json = serde_json::to_string(settings).expect("settings serialise");
    sqlx::query("INSERT INTO tenants (tenant_id, slug, name, settings, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&tenant_id)
        .bind(slug)
        .bind(name)
        .bind(&settings_json)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(Tenant { tenant_id, slug: slug.into(), name: name.into(), settings: settings.clone() })
}

/// Replaces a tenant's settings. The caller checks them and records the change in the audit
/// trail in the same transaction.
pub async fn update_settings(conn: &mut AnyConnection, tenant_id: &str, settings: &TenantSettings) -> Result<()> {
    let settings_json = serde_json::to_string(settings).expect("settings serialise");
    sqlx::query("UPDATE tenants SET settings = $2 WHERE tenant_id = $1")
        .bind(tenant_id)
        .bind(&settings_json)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn by_slug(conn: &mut AnyConnection, slug: &str) -> Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as("SELECT tenant_id, slug, name, settings FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Tenant::try_from).transpose()
}

pub async fn by_id(conn: &mut AnyConnection, tenant_id: &str) -> Result<Option<Tenant>> {
    let row: Option<TenantRow> =
        sqlx::query_as("SELECT tenant_id, slug, name, settings FROM tenants WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(Tenant::try_from).transpose()
}

pub async fn list(conn: &mut AnyConnection) -> Result<Vec<Tenant>> {
    let rows: Vec<TenantRow> = sqlx::query_as("SELECT tenant_id, slug, name, settings FROM tenants ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Tenant::try_from).collect()
}

/// A procedure a tenant has switched on, with its parameter overrides.
#[derive(Debug, Clone)]
pub struct Activation {
    pub procedure_id: String,
    pub active: bool,
    pub parameters: serde_json::Value,
}

pub async fn activate_procedure(
    conn: &mut AnyConnection,
    tenant_id: &str,
    procedure_id: &str,
    parameters: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenant_procedures (tenant_id, procedure_id, active, parameters, updated_at) VALUES ($1, $2, 1, $3, $4)
         ON CONFLICT (tenant_id, procedure_id) DO UPDATE SET active = 1, parameters = excluded.parameters, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .bind(parameters.to_string())
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Switches a procedure on or off for the tenant with its parameter overrides.
pub async fn configure_procedure(
    conn: &mut AnyConnection,
    tenant_id: &str,
    procedure_id: &str,
    active: bool,
    parameters: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenant_procedures (tenant_id, procedure_id, active, parameters, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, procedure_id) DO UPDATE SET active = excluded.active, parameters = excluded.parameters, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(procedure_id)
    .bind(if active { 1i64 } else { 0 })
    .bind(parameters.to_string())
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn activations(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Activation>> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT procedure_id, active, parameters FROM tenant_procedures WHERE tenant_id = $1 ORDER BY procedure_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(procedure_id, active, parameters)| {
            Ok(Activation {
                procedure_id,
                active: active != 0,
                parameters: json_of(&parameters, "Verfahrensparameter")?,
            })
        })
        .collect()
}

/// The procedures the tenant offers (switched on), by id.
pub async fn offered(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<String>> {
    Ok(activations(conn, tenant_id).await?.into_iter().filter(|a| a.active).map(|a| a.procedure_id).collect())
}

pub async fn activation(conn: &mut AnyConnection, tenant_id: &str, procedure_id: &str) -> Result<Option<Activation>> {
    Ok(activations(conn, tenant_id).await?.into_iter().find(|a| a.procedure_id == procedure_id))
}

/// Stores the hash of a new API key (the key itself is shown once and never stored).
pub async fn add_api_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    key_hash: &str,
    label: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let key_id = new_id();
    sqlx::query("INSERT INTO api_keys (tenant_id, key_id, key_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id)
        .bind(&key_id)
        .bind(key_hash)
        .bind(label)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(key_id)
}

/// The tenant an (unrevoked) API key belongs to, looked up by the key's hash.
pub async fn tenant_of_api_key(conn: &mut AnyConnection, key_hash: &str) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as("SELECT tenant_id, key_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(key_hash)
        .fetch_optional(&mut *conn)
        .await?)
}

/// An API key as the administration lists it (never the key or its hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKey {
    pub key_id: String,
    pub label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

pub async fn api_keys(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<ApiKey>> {
    Ok(sqlx::query_as(
        "SELECT key_id, label, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Revokes a key; false if it is unknown or revoked already.
pub async fn revoke_api_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL")
        .bind(tenant_id)
        .bind(key_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Every table that holds rows of a tenant, children first.
const TENANT_TABLES: &[&str] = &[
    "delegations",
    "case_forwardings",
    "case_data_versions",
    "case_deadlines",
    "consultations",
    "document_requests",
    "case_messages",
    "account_cases",
    "business_invitations",
    "business_members",
    "businesses",
    "account_tokens",
    "citizen_accounts",
    "uploads",
    "messages",
    "sessions",
    "drafts",
    "payments",
    "audit_log",
    "tenant_assets",
    "case_events",
    "archive_log",
    "outbox",
    "bank_transactions",
    "finance_runs",
    "fees",
    "documents",
    "jobs",
    "tasks",
    "process_instances",
    "cases",
    "counters",
    "deployments",
    "tenant_procedures",
    "api_keys",
    "staff",
    "tenants",
];

/// Deletes a tenant and all its data, audit trail included. Only for tenants that never
/// held real cases (the benchmark's scratch tenant); real offboarding keeps the audit trail
/// for its retention period.
pub async fn delete_scratch_tenant(conn: &mut AnyConnection, tenant_id: &str) -> Result<()> {
    for table in TENANT_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1")).bind(tenant_id).execute(&mut *conn).await?;
    }
    Ok(())
}
