//! Server-side sessions bound to one tenant (the cookie's path is the tenant's path, the row
//! carries the tenant id). Only the hash of the id is stored. Each session has a CSRF token
//! that every form posts back.

use crate::access::constant_time_eq;
use crate::error::{AppError, AppResult};
use crate::App;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use rand::RngCore;
use rathaus_store::sessions;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub const COOKIE: &str = "rathaus_sid";
const LIFETIME_HOURS: i64 = 8;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StaffSession {
    pub staff_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// Set for a service centre's staff member working in this town under a delegation:
    /// `staff_id` is then their id at the centre, `username` the qualified name.
    #[serde(default)]
    pub centre: Option<CentreSession>,
}

/// The service centre and delegation a centre's staff member acts under (checked again on
/// every request, see `Runtime::delegate`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CentreSession {
    pub centre_tenant_id: String,
    pub centre_slug: String,
    pub centre_name: String,
    pub delegation_id: String,
}

/// A login by OpenID Connect under way: what the provider's answer must match.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OidcLogin {
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
}

/// The citizen account signed in with this session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountSession {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    /// The business account the applicant acts for (see `businesses`); `None`: themselves.
    #[serde(default)]
    pub acting_for: Option<ActingFor>,
}

/// The business an applicant acts for: new drafts and applications belong to it too.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActingFor {
    pub business_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct SessionData {
    pub csrf: String,
    pub staff: Option<StaffSession>,
    pub account: Option<AccountSession>,
    pub oidc: Option<OidcLogin>,
    /// Unfinished applications by procedure id.
    pub drafts: BTreeMap<String, Json>,
    /// Cases (by id) this browser may see: submitted here or unlocked with the access code.
    pub grants: Vec<String>,
    pub flash: Option<String>,
    /// The access code of the case just submitted, shown once on the receipt page.
    pub fresh_access_code: Option<(String, String)>,
    /// The saved draft (database) behind each procedure's draft, by procedure id.
    pub draft_ids: BTreeMap<String, String>,
    /// The link of the draft saved last, for its confirmation page and the e-mail with it.
    pub saved_draft: Option<SavedDraftLink>,
    /// The key of each procedure's uploads (see `attachments`), by procedure id.
    pub upload_keys: BTreeMap<String, String>,
    /// Where to go after signing in (a page of the tenant that asked for it, e.g. an
    /// invitation link).
    pub return_to: Option<String>,
    /// A clerk's entry of an application that came by post, phone… (see `intake`).
    pub intake: Option<crate::intake::IntakeSession>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedDraftLink {
    pub procedure: String,
    pub token: String,
    /// RFC 3339.
    pub expires: String,
}

pub struct Session {
    id: String,
    tenant_id: String,
    pub data: SessionData,
    loaded: Option<SessionData>,
    /// Whether citizen accounts are offered (they need e-mail); not stored.
    pub accounts: bool,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl Session {
    pub async fn load(app: &App, tenant_id: &str, headers: &HeaderMap) -> AppResult<Session> {
        let now = app.runtime.clock.now();
        if let Some(id) = cookie_value(headers, COOKIE).filter(|id| id.len() >= 32 && id.len() <= 64) {
            let mut conn = app.runtime.store.conn().await?;
            if let Some(json) = sessions::load(&mut conn, tenant_id, &id, now).await? {
                let data: SessionData = serde_json::from_value(json).unwrap_or_default();
                return Ok(Session {
                    id,
                    tenant_id: tenant_id.into(),
                    loaded: Some(data.clone()),
                    data,
                    accounts: app.runtime.mail.is_some(),
                });
            }
        }
        Ok(Session::fresh(app, tenant_id))
    }

    /// A fresh session of `tenant_id` (not yet stored), for a service centre's staff member
    /// entering a town's back office.
    pub fn fresh(app: &App, tenant_id: &str) -> Session {
        Session {
            id: random_token(),
            tenant_id: tenant_id.into(),
            data: SessionData { csrf: random_token(), ..Default::default() },
            loaded: None,
            accounts: app.runtime.mail.is_some(),
        }
    }

    /// A new id after login, so that an id planted before login is worthless (session
    /// fixation). The old row is removed.
    pub async fn rotate(&mut self, app: &App) -> AppResult<()> {
        if self.loaded.is_some() {
            let mut conn = app.runtime.store.conn().await?;
            sessions::delete(&mut conn, &self.tenant_id, &self.id).await?;
        }
        self.id = random_token();
        self.data.csrf = random_token();
        self.loaded = None;
        Ok(())
    }

    pub async fn destroy(&mut self, app: &App) -> AppResult<()> {
        let mut conn = app.runtime.store.conn().await?;
        sessions::delete(&mut conn, &self.tenant_id, &self.id).await?;
        self.data = SessionData { csrf: random_token(), ..Default::default() };
        self.id = random_token();
        self.loaded = None;
        Ok(())
    }

    pub fn csrf(&self) -> &str {
        &self.data.csrf
    }

    /// Checks the token a form posted. Compared in constant time.
    pub fn verify_csrf(&self, posted: Option<&str>) -> AppResult<()> {
        let expected = self.data.csrf.as_bytes();
        let Some(given) = posted.map(str::as_bytes) else { return Err(AppError::Csrf) };
        if self.loaded.is_none() || expected.is_empty() || !constant_time_eq(given, expected) {
            return Err(AppError::Csrf);
        }
        Ok(())
    }

    pub fn take_flash(&mut self) -> Option<String> {
        self.data.flash.take()
    }

    /// For requests a page's script sends in the background while the person goes on
    /// (live validation): saves only the draft of `procedure` into the session as it is now
    /// in the database, so that a form sent meanwhile (say „Zwischenspeichern“) does not lose
    /// what it stored in the session to this request's older copy.
    pub async fn finish_draft_only(self, app: &App, procedure: &str, response: Response) -> AppResult<Response> {
        if self.loaded.is_none() {
            // No session yet: nothing else can be in it.
            return Err(AppError::Csrf);
        }
        let now = app.runtime.clock.now();
        let mut tx = app.runtime.store.begin().await?;
        let current = sessions::load(&mut tx, &self.tenant_id, &self.id, now).await?;
        let mut data: SessionData = current.and_then(|j| serde_json::from_value(j).ok()).unwrap_or_default();
        match self.data.drafts.get(procedure) {
            Some(draft) => data.drafts.insert(procedure.to_string(), draft.clone()),
            None => data.drafts.remove(procedure),
        };
        sessions::save(
            &mut tx,
            &self.tenant_id,
            &self.id,
            &serde_json::to_value(&data).expect("session serialises"),
            now,
            now + chrono::Duration::hours(LIFETIME_HOURS),
        )
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Saves the session (which also slides its expiry) and sets the cookie on `response`.
    pub async fn finish(self, app: &App, slug: &str, mut response: Response) -> AppResult<Response> {
        let now = app.runtime.clock.now();
        let mut conn = app.runtime.store.conn().await?;
        sessions::save(
            &mut conn,
            &self.tenant_id,
            &self.id,
            &serde_json::to_value(&self.data).expect("session serialises"),
            now,
            now + chrono::Duration::hours(LIFETIME_HOURS),
        )
        .await?;
        let secure = if app.secure_cookies() { "; Secure" } else { "" };
        let cookie = format!("{COOKIE}={}; Path=/{slug}; HttpOnly; SameSite=Lax{secure}", self.id);
        response
            .headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.to_string()))?);
        Ok(response)
    }
}
