//! Files of a tenant's appearance (its logo).

use crate::{sha256_hex, ts, Result};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Asset {
    pub content_type: String,
    pub content: Vec<u8>,
    pub sha256: String,
}

/// Stores or replaces an asset; returns its SHA-256 (for cache-busting links).
pub async fn put(
    conn: &mut AnyConnection,
    tenant_id: &str,
    name: &str,
    content_type: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> Result<String> {
    let sha = sha256_hex(content);
    sqlx::query(
        "INSERT INTO tenant_assets (tenant_id, name, content_type, content, sha256, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, name) DO UPDATE SET content_type = $3, content = $4, sha256 = $5, updated_at = $6",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(content_type)
    .bind(content.to_vec())
    .bind(&sha)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(sha)
}

pub async fn get(conn: &mut AnyConnection, tenant_id: &str, name: &str) -> Result<Option<Asset>> {
    Ok(sqlx::query_as("SELECT content_type, content, sha256 FROM tenant_assets WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?)
}
