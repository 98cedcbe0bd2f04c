//! What every HTML request of a tenant starts with: the language, the tenant of the path and
//! the visitor's session with that tenant.

use crate::error::AppError;
use crate::session::Session;
use crate::{lang_of, AppState};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use rathaus_domain::Lang;
use rathaus_store::tenants::Tenant;

pub(crate) struct Visit {
    pub lang: Lang,
    pub tenant: Tenant,
    pub session: Session,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Visit, AppError> {
        let params = RawPathParams::from_request_parts(parts, app).await.map_err(|_| AppError::NotFound)?;
        let slug = params.iter().find(|(k, _)| *k == "tenant").map(|(_, v)| v.to_string()).ok_or(AppError::NotFound)?;
        let lang = lang_of(&parts.headers, &parts.uri);
        let tenant = app.tenant(&slug).await?;
        let session = Session::load(app, &tenant.tenant_id, &parts.headers).await?;
        Ok(Visit { lang, tenant, session })
    }
}
