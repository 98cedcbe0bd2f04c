//! Login with OpenID Connect, the way BundID and the Länder's Servicekonten are connected:
//! the authorization code flow with PKCE, `state` and `nonce`, the ID token's RS256
//! signature checked against the provider's published keys, and its issuer, audience,
//! expiry and nonce checked. A person who signs in this way gets (or finds again) a citizen
//! account of the tenant, keyed by the provider and its subject; their address counts as
//! confirmed when the provider says so.
//!
//! Each tenant configures its provider (`oidc` in the tenant settings: issuer, client id and
//! secret, the name on the button).

use crate::error::{AppError, AppResult};
use crate::i18n::t;
use crate::portal::{base, redirect};
use crate::render::render;
use crate::session::OidcLogin;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use minijinja::context;
use rathaus_domain::tenant::OidcSettings;
use rathaus_store::tenants::Tenant;
use serde::Deserialize;
use serde_json::Value as Json;
use sha2::Digest;

/// What the provider publishes about itself (OpenID Connect Discovery).
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

/// Why a login failed (logged; the person sees one general message).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("Anbieter nicht erreichbar: {0}")]
    Http(String),
    #[error("Antwort des Anbieters unbrauchbar: {0}")]
    Protocol(String),
    #[error("ID-Token ungültig: {0}")]
    Token(String),
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client builds")
}

async fn discover(settings: &OidcSettings) -> Result<Discovery, OidcError> {
    let url = format!("{}/.well-known/openid-configuration", settings.issuer.trim_end_matches('/'));
    let d: Discovery = client()
        .get(&url)
        .send()
        .await
        .map_err(|e| OidcError::Http(e.to_string()))?
        .error_for_status()
        .map_err(|e| OidcError::Http(e.to_string()))?
        .json()
        .await
        .map_err(|e| OidcError::Protocol(format!("Discovery: {e}")))?;
    if d.issuer.trim_end_matches('/') != settings.issuer.trim_end_matches('/') {
        return Err(OidcError::Protocol(format!("Discovery nennt den Aussteller „{}“", d.issuer)));
    }
    Ok(d)
}

fn random(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    B64.encode(v)
}

/// Who signs in: citizens (the tenant's `oidc`, e.g. BundID) or the tenant's staff (its
/// `staff_oidc`, e.g. the town's Keycloak).
#[derive(Clone, Copy, PartialEq)]
enum Purpose {
    Citizen,
    Staff,
}

fn callback_url(app: &AppState, tenant: &Tenant, purpose: Purpose) -> String {
    let path = match purpose {
        Purpose::Citizen => "konto/oidc/zurueck",
        Purpose::Staff => "intern/oidc/zurueck",
    };
    format!("{}/{}/{path}", app.public_url(), tenant.slug)
}

fn settings(tenant: &Tenant, purpose: Purpose) -> AppResult<&OidcSettings> {
    let s = match purpose {
        Purpose::Citizen => tenant.settings.oidc.as_ref(),
        Purpose::Staff => tenant.settings.staff_oidc.as_ref(),
    };
    s.filter(|o| !o.issuer.is_empty()).ok_or(AppError::NotFound)
}

/// Starts the login: to the provider, with `state`, `nonce` and a PKCE challenge kept in the
/// session.
pub async fn start(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    begin(app, slug, visit, Purpose::Citizen).await
}

/// Starts a staff member's login by the town's identity provider.
pub async fn staff_start(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    begin(app, slug, visit, Purpose::Staff).await
}

async fn begin(app: AppState, slug: String, visit: Visit, purpose: Purpose) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let oidc = settings(&tenant, purpose)?;
    let discovery = match discover(oidc).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(tenant = %tenant.slug, error = %e, "OpenID Connect login not possible");
            return failed(&app, &tenant, &slug, lang, session, StatusCode::BAD_GATEWAY, purpose).await;
        }
    };
    let login = OidcLogin { state: random(24), nonce: random(24), verifier: random(48) };
    let challenge = B64.encode(sha2::Sha256::digest(login.verifier.as_bytes()));
    let mut url = reqwest::Url::parse(&discovery.authorization_endpoint)
        .map_err(|e| AppError::Internal(format!("authorization_endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.client_id)
        .append_pair("redirect_uri", &callback_url(&app, &tenant, purpose))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &login.state)
        .append_pair("nonce", &login.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    session.data.oidc = Some(login);
    session.finish(&app, &slug, redirect(url.as_str())).await
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: the code is exchanged for tokens, the ID token checked, the
/// account found or created, and the person signed in.
pub async fn callback(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<CallbackQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let oidc = settings(&tenant, Purpose::Citizen)?.clone();
    let claims = match answer(&app, &tenant, &mut session, &oidc, &q, Purpose::Citizen).await {
        Ok(c) => c,
        Err(status) => return failed(&app, &tenant, &slug, lang, session, status, Purpose::Citizen).await,
    };
    let subject = claims["sub"].as_str().unwrap_or_default().to_string();
    let email = claims["email"].as_str().map(str::to_string);
    let verified = claims["email_verified"].as_bool().unwrap_or(false);
    let name = [claims["given_name"].as_str(), claims["family_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let account = match app
        .runtime
        .account_by_oidc(&tenant, &oidc.issuer, &subject, email.as_deref().filter(|_| verified), &name)
        .await
    {
        Ok(a) => a,
        Err(rathaus_runtime::RuntimeError::Invalid(why)) => {
            tracing::warn!(tenant = %tenant.slug, why = ?why, "OpenID Connect login without a confirmed e-mail address");
            return failed(&app, &tenant, &slug, lang, session, StatusCode::BAD_GATEWAY, Purpose::Citizen).await;
        }
        Err(e) => return Err(e.into()),
    };
    session.rotate(&app).await?;
    crate::accounts::sign_in(&mut session, &account);
    app.runtime.account_logged_in(&tenant, &account.account_id).await?;
    session.data.flash = Some(t(lang, "account.oidc_signed_in"));
    let next = crate::accounts::after_sign_in(&mut session, &slug);
    session.finish(&app, &slug, next).await
}

/// The provider's answer to a login this browser started: its `state` checked (it works
/// once), the code exchanged and the ID token checked; the claims, or the status to answer
/// with (the reason is logged, the person sees one general message).
async fn answer(
    app: &AppState,
    tenant: &Tenant,
    session: &mut crate::session::Session,
    oidc: &OidcSettings,
    q: &CallbackQuery,
    purpose: Purpose,
) -> Result<Json, StatusCode> {
    let Some(login) = session.data.oidc.take() else { return Err(StatusCode::BAD_REQUEST) };
    let state_ok =
        q.state.as_deref().is_some_and(|s| crate::access::constant_time_eq(s.as_bytes(), login.state.as_bytes()));
    if let Some(error) = &q.error {
        tracing::info!(tenant = %tenant.slug, error, "OpenID Connect login cancelled or refused by the provider");
    }
    let (Some(code), true) = (q.code.as_deref(), state_ok) else { return Err(StatusCode::BAD_REQUEST) };
    exchange(app, oidc, &callback_url(app, tenant, purpose), code, &login).await.map_err(|e| {
        tracing::warn!(tenant = %tenant.slug, error = %e, "OpenID Connect login refused");
        StatusCode::BAD_GATEWAY
    })
}

/// The answer of a staff member's login by the town's identity provider: the staff account
/// linked to the subject (or, the first time, named by `preferred_username`) is signed in.
pub async fn staff_callback(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<CallbackQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let oidc = settings(&tenant, Purpose::Staff)?.clone();
    let claims = match answer(&app, &tenant, &mut session, &oidc, &q, Purpose::Staff).await {
        Ok(c) => c,
        Err(status) => return failed(&app, &tenant, &slug, lang, session, status, Purpose::Staff).await,
    };
    let subject = claims["sub"].as_str().unwrap_or_default();
    let username = claims["preferred_username"].as_str();
    let Some(staff) = app.runtime.staff_by_oidc(&tenant, &oidc.issuer, subject, username).await? else {
        tracing::warn!(tenant = %tenant.slug, username, "OpenID Connect login of someone without an active staff account");
        return failed(&app, &tenant, &slug, lang, session, StatusCode::FORBIDDEN, Purpose::Staff).await;
    };
    crate::backoffice::sign_in_staff(&app, &tenant, &mut session, &staff, "oidc").await?;
    session.finish(&app, &slug, redirect(&format!("/{slug}/intern/"))).await
}

async fn failed(
    app: &AppState,
    tenant: &Tenant,
    slug: &str,
    lang: rathaus_domain::Lang,
    mut session: crate::session::Session,
    status: StatusCode,
    purpose: Purpose,
) -> AppResult<Response> {
    let message = match purpose {
        Purpose::Citizen => t(lang, "account.oidc_failed"),
        Purpose::Staff => t(lang, "staff.oidc_failed"),
    };
    let body = render(
        "account_message.html",
        context! { heading => t(lang, "account.oidc_failed_heading"), message => message,
        ..base(lang, Some(tenant), Some(&mut session)) },
    )?;
    session.finish(app, slug, (status, Html(body)).into_response()).await
}

/// Exchanges the code for tokens and returns the checked ID token's claims.
async fn exchange(
    app: &AppState,
    oidc: &OidcSettings,
    callback: &str,
    code: &str,
    login: &OidcLogin,
) -> Result<Json, OidcError> {
    let discovery = discover(oidc).await?;
    let response = client()
        .post(&discovery.token_endpoint)
        .basic_auth(&oidc.client_id, Some(&oidc.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", callback),
            ("code_verifier", &login.verifier),
        ])
        .send()
        .await
        .map_err(|e| OidcError::Http(e.to_string()))?;
    let status = response.status();
    let tokens: Json = response.json().await.map_err(|e| OidcError::Protocol(format!("Token-Antwort: {e}")))?;
    if !status.is_success() {
        return Err(OidcError::Protocol(format!("Token-Endpunkt antwortete {status}: {tokens}")));
    }
    let id_token = tokens["id_token"].as_str().ok_or_else(|| OidcError::Protocol("kein id_token".into()))?;
    let jwks: Json = client()
        .get(&discovery.jwks_uri)
        .send()
        .await
        .map_err(|e| OidcError::Http(e.to_string()))?
        .json()
        .await
        .map_err(|e| OidcError::Protocol(format!("JWKS: {e}")))?;
    let now = app.runtime.clock.now().timestamp();
    let mut claims = verify_id_token(id_token, &jwks, &discovery.issuer, &oidc.client_id, &login.nonce, now)?;
    // Many providers put the address and name only in the UserInfo answer, not in the ID
    // token; it counts only for the same subject.
    if claims.get("email").is_none() {
        if let (Some(endpoint), Some(access)) = (&discovery.userinfo_endpoint, tokens["access_token"].as_str()) {
            let info: Json = client()
                .get(endpoint)
                .bearer_auth(access)
                .send()
                .await
                .map_err(|e| OidcError::Http(e.to_string()))?
                .json()
                .await
                .map_err(|e| OidcError::Protocol(format!("UserInfo: {e}")))?;
            if info["sub"] != claims["sub"] {
                return Err(OidcError::Protocol("UserInfo für ein anderes Subjekt".into()));
            }
            if let (Some(c), Some(i)) = (claims.as_object_mut(), info.as_object()) {
                for (k, v) in i {
                    c.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Ok(claims)
}

/// Checks an ID token (RS256): signature by a key of `jwks`, issuer, audience, expiry (one
/// minute of clock skew allowed) and nonce; returns its claims.
pub fn verify_id_token(
    token: &str,
    jwks: &Json,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<Json, OidcError> {
    let bad = |m: &str| OidcError::Token(m.to_string());
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else { return Err(bad("kein JWS in kompakter Form")) };
    let decode = |s: &str| B64.decode(s.trim_end_matches('=')).map_err(|_| bad("kein Base64url"));
    let header: Json = serde_json::from_slice(&decode(header_b64)?).map_err(|_| bad("Kopf kein JSON"))?;
    if header["alg"] != "RS256" {
        return Err(OidcError::Token(format!("Algorithmus {} nicht zugelassen (nur RS256)", header["alg"])));
    }
    let kid = header["kid"].as_str();
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
        .find(|k| kid.is_none() || k["kid"].as_str() == kid)
        .ok_or_else(|| bad("kein passender Schlüssel in den JWKS"))?;
    let n = decode(key["n"].as_str().ok_or_else(|| bad("Schlüssel ohne n"))?)?;
    let e = decode(key["e"].as_str().ok_or_else(|| bad("Schlüssel ohne e"))?)?;
    let signed = format!("{header_b64}.{payload_b64}");
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &decode(signature_b64)?)
        .map_err(|_| bad("Signatur falsch"))?;
    let claims: Json = serde_json::from_slice(&decode(payload_b64)?).map_err(|_| bad("Inhalt kein JSON"))?;
    if claims["iss"].as_str().map(|s| s.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(bad("falscher Aussteller (iss)"));
    }
    let audience_ok = match &claims["aud"] {
        Json::String(a) => a == client_id,
        Json::Array(a) => a.iter().any(|x| x == client_id),
        _ => false,
    };
    if !audience_ok {
        return Err(bad("nicht für diesen Dienst ausgestellt (aud)"));
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp + 60 < now) {
        return Err(bad("abgelaufen (exp)"));
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(bad("falsche Nonce"));
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err(bad("ohne Subjekt (sub)"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A 2048-bit RSA key made for this test only (PKCS#1 DER, Base64).
    const TEST_KEY: &str = "MIIEpAIBAAKCAQEAszdKnhLWwoTlVGW/oH4t6DTKiQhQxKpe//kmOPXa/cS7SZvlfVeErB9R9SD8iLy3NGaVJ+hKmxjxltvoUzY+zg5qZbFjehZH9vudagJckVsqtsTtcnexXYJtJ1+Z4RXy8nytBGGaYuZjXk70p6kode/40KOiOtX0Y7iV+iJWjFlDBAAK0AQJUl25K8y/F+rKRmQG6kYF10o0Fj3OJKBvt/79H9CJEEU26OgJLK66zbU6xmNShxsUsa43HZwrecTPdP+MtNBhgsvZjbjOjVMkdeBTzpwrK3XqI7Sj7m49i7zEF9wJZ6z+zJhvXPIPrV9/PZ/DiHgg+VNwNusdAs1i/QIDAQABAoIBAA+jEidnOOZZjqH1y8nO4KYLXyWkPFngjK/0dwWOzBgKz5WdXOF6HqkfBXloMqiioLCZh8em4MWWIFQ7pVKHX+T+RIHRf77CDW7rJuG+SYHkTL6MQbSUZX0leW0vTf+h+OP4BWeltYEOHZr3tCih3ZYmxVS9BlVwYCXIUAu2bctKg8omTccpPkQSUreWcNw2/uKlhi8Vh+KgRq0YrsZ7SY/JGdPjG0KABP0pOsMq295jUm/r8/Zcj098QVPA6FNbkxisk8ZB3bmYzoCN5nkcIbL5qG1fmzdqHBtL25knFhI0zlc0C2ASqhhORcyw6x3nnD4x7ZhbUkW1W1DBhZdagWECgYEA9rDm4sBrNR0izJQGBxwoQo6at4koo85SxWZTwjbCtxRpqFatBuL3Maj/Wm4HkHLLXfHpRddevy8+Nfvys73pnQxNy73L+9Fm+27XpVECF0OoOhqxlBKUZvgbCDlri53ekO7QkdzqQqGLRIPuRM4cVP0vBsSJlskN5GF5GGwgQqECgYEAufqQQZ1HTtaeQ8Xv6I/cq7St0X7U7QCCWRphkCK8RAYZ7oXU4GCTOPu3Tk5MxnypKC0oYo/FCKw80cyUTLXOQr/rOmtU7/amcEOMtuUxCgNGLGR2EFd8osUrl+D83XQxBTGC4nTJ3j/25ru/oRDbLrzBjgCtAORfED57CNYFHt0CgYEAlxulUiAri01dk5LYXmKRBrPzcZlCm5Q2f1Q+2ihQ/XQzhDoTorREVtb+E5Zya7jleZZFHdLe5p05rje2YwNhpiFzRensmUOboUg0L79/WGDJG05emCUJYkl3xYHmro71VjHy8GYx2L67YCywNtVJ5YVw2ORqo0JkkBBk7ODOogECgYBLfMma6GTuOizJI4mKYwJV66N12j5A6Kj/07ZwE7lI/xT9fPL4FBsN0RYJQbzl/+mFNjcjMmnuaELTgW9cZ5sN+upWrwQt1naeMLzn68Vo5AVStYA6h9g+FTvpjNf2Z1gSXJNcqbzaaiokY2aX0Mi2gsUph1qxdwCjDklQP9aaPQKBgQDEgqI5xBhOVNtFE1zxhdUpdlF6wqRv8beSzelKc9UcbiK+XBErmwglRwhE+nf7dWu1zwcCzBBieK9i08aGR/x3JgO8fPw866Oh/BguXZBh00ZoW0B7rdp+RsZFO8SeikOSXH4YMQ6FwAtOzbJF0IOOwxyuvdxMESTirQnh+2sIBQ==";

    struct Signer {
        pair: ring::signature::RsaKeyPair,
    }

    impl Signer {
        fn new() -> Signer {
            let der = base64::engine::general_purpose::STANDARD.decode(TEST_KEY).unwrap();
            Signer { pair: ring::signature::RsaKeyPair::from_der(&der).unwrap() }
        }

        fn jwks(&self) -> Json {
            let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
            json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": B64.encode(&public.n), "e": B64.encode(&public.e)}]})
        }

        fn token(&self, header: Json, claims: Json) -> String {
            let signed = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
            let mut sig = vec![0; self.pair.public().modulus_len()];
            let rng = ring::rand::SystemRandom::new();
            self.pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut sig).unwrap();
            format!("{signed}.{}", B64.encode(sig))
        }
    }

    const NOW: i64 = 1_795_000_000;

    fn claims() -> Json {
        json!({"iss": "https://id.example", "aud": "rathaus", "sub": "s1", "nonce": "n1", "exp": NOW + 300, "iat": NOW})
    }

    fn check(token: &str, jwks: &Json) -> Result<Json, String> {
        verify_id_token(token, jwks, "https://id.example", "rathaus", "n1", NOW).map_err(|e| e.to_string())
    }

    #[test]
    fn a_signed_token_for_us_is_accepted() {
        let s = Signer::new();
        let token = s.token(json!({"alg": "RS256", "kid": "k1"}), claims());
        assert_eq!(check(&token, &s.jwks()).unwrap()["sub"], "s1");
        // An audience list that names us.
        let mut c = claims();
        c["aud"] = json!(["andere", "rathaus"]);
        assert!(check(&s.token(json!({"alg": "RS256", "kid": "k1"}), c), &s.jwks()).is_ok());
    }

    #[test]
    fn every_wrong_part_of_a_token_is_refused_with_the_reason() {
        let s = Signer::new();
        let header = json!({"alg": "RS256", "kid": "k1"});
        let with = |k: &str, v: Json| {
            let mut c = claims();
            c[k] = v;
            s.token(header.clone(), c)
        };
        let jwks = s.jwks();
        assert!(check(&with("iss", json!("https://evil.example")), &jwks).unwrap_err().contains("Aussteller"));
        assert!(check(&with("aud", json!("jemand-anderes")), &jwks).unwrap_err().contains("aud"));
        assert!(check(&with("exp", json!(NOW - 61)), &jwks).unwrap_err().contains("abgelaufen"));
        assert!(check(&with("exp", json!(NOW - 59)), &jwks).is_ok(), "a minute of clock skew");
        assert!(check(&with("nonce", json!("n2")), &jwks).unwrap_err().contains("Nonce"));
        assert!(check(&with("sub", json!("")), &jwks).unwrap_err().contains("sub"));
        // A changed payload breaks the signature.
        let token = s.token(header.clone(), claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged_claims = claims();
        forged_claims["sub"] = json!("admin");
        let forged = format!("{}.{}.{}", parts[0], B64.encode(forged_claims.to_string()), parts[2]);
        assert!(check(&forged, &jwks).unwrap_err().contains("Signatur"));
        // "none" and symmetric algorithms are never accepted.
        let unsigned =
            format!("{}.{}.", B64.encode(json!({"alg": "none"}).to_string()), B64.encode(claims().to_string()));
        assert!(check(&unsigned, &jwks).unwrap_err().contains("nicht zugelassen"));
        let hs = s.token(json!({"alg": "HS256", "kid": "k1"}), claims());
        assert!(check(&hs, &jwks).unwrap_err().contains("nicht zugelassen"));
        // A key id the provider does not publish.
        let other = s.token(json!({"alg": "RS256", "kid": "k9"}), claims());
        assert!(check(&other, &jwks).unwrap_err().contains("Schlüssel"));
        assert!(check("kein.token", &jwks).is_err());
    }
}
