//! The HTTP layer: citizen portal, back office and the integration API (with OpenAPI),
//! server-rendered HTML that works without JavaScript.

mod access;
mod accounts;
mod admin;
mod api;
mod assets;
mod attachments;
mod backoffice;
mod businesses;
mod consultations;
mod copies;
mod corrections;
mod deadlines;
mod delegations;
mod domains;
mod drafts;
mod engine_api;
mod error;
mod finance;
mod finder;
mod formview;
mod forwarding;
pub mod i18n;
mod intake;
mod legal;
mod limiter;
mod mailbox;
mod oidc;
mod payment;
mod portal;
mod reconciliation;
mod render;
mod requests;
mod session;
mod statistics;
mod tables;
mod visit;
mod withdrawal;
mod worklist;

pub use api::openapi_json;
pub use backoffice::hash_password;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use error::{AppError, AppResult};
use rathaus_domain::Lang;
use rathaus_runtime::Runtime;
use rathaus_store::tenants::{self, Tenant};
use std::sync::Arc;

/// Slugs a tenant may not have: they are paths of the platform itself.
pub const RESERVED_SLUGS: &[&str] = &["api", "static", "healthz", "readyz", "favicon.ico", "robots.txt"];

pub struct App {
    pub runtime: Arc<Runtime>,
    limiter: limiter::Limiter,
    domains: domains::Domains,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(runtime: Arc<Runtime>) -> Arc<App> {
        Arc::new(App {
            runtime,
            limiter: limiter::Limiter::new(10, std::time::Duration::from_secs(15 * 60)),
            domains: domains::Domains::default(),
        })
    }

    /// The public base URL (links in API answers).
    pub(crate) fn public_url(&self) -> &str {
        self.runtime.config.public_url.trim_end_matches('/')
    }

    /// Cookies get the `Secure` flag when the installation is served over HTTPS.
    pub(crate) fn secure_cookies(&self) -> bool {
        self.runtime.config.public_url.starts_with("https://")
    }

    pub(crate) async fn tenant(&self, slug: &str) -> AppResult<Tenant> {
        let mut conn = self.runtime.store.conn().await?;
        tenants::by_slug(&mut conn, slug).await?.ok_or(AppError::NotFound)
    }
}

/// The language of a request: `?lang=` first, then the cookie, German by default.
pub(crate) fn lang_of(headers: &HeaderMap, uri: &Uri) -> Lang {
    if let Some(l) = query_lang(uri) {
        return l;
    }
    session::cookie_value(headers, "rathaus_lang").and_then(|v| Lang::parse(&v)).unwrap_or_default()
}

fn query_lang(uri: &Uri) -> Option<Lang> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// Remembers a language chosen with `?lang=` in a cookie.
async fn remember_lang(req: Request, next: Next) -> Response {
    let chosen = query_lang(req.uri());
    let mut res = next.run(req).await;
    if let Some(l) = chosen {
        if let Ok(v) =
            HeaderValue::from_str(&format!("rathaus_lang={}; Path=/; SameSite=Lax; Max-Age=31536000", l.code()))
        {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Security headers on every response: no framing, no sniffing, a strict content security
/// policy (no inline script or style anywhere in the product).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "permissions-policy", "camera=(), microphone=(), geolocation=()");
    res
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(app): State<AppState>) -> Response {
    match app.runtime.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn tenant_root(axum::extract::Path(slug): axum::extract::Path<String>) -> Redirect {
    Redirect::permanent(&format!("/{slug}/"))
}

async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    error::error_page(StatusCode::NOT_FOUND, "error.not_found_heading", "error.not_found", lang_of(&headers, &uri))
}

pub fn router(app: AppState) -> Router {
    // A tenant's own domain is resolved before routing: the inner router is the fallback of
    // an outer one whose middleware rewrites the path.
    Router::new().fallback_service(routes(app.clone())).layer(middleware::from_fn_with_state(app, domains::by_domain))
}

fn routes(app: AppState) -> Router {
    // Form pages may carry files (up to the per-application limit); every other request is
    // small and limited to 2 MB.
    let form_pages = Router::new()
        .route(
            "/{tenant}/antrag/{procedure}/{page}",
            get(portal::page)
                .post(portal::save_page)
                .layer(axum::extract::DefaultBodyLimit::max(attachments::MAX_PAGE_BYTES)),
        )
        .route(
            "/{tenant}/vorgang/{reference}/nachrichten",
            get(mailbox::page)
                .post(mailbox::send)
                .layer(axum::extract::DefaultBodyLimit::max(attachments::MAX_PAGE_BYTES)),
        )
        .route(
            "/{tenant}/intern/erfassung",
            get(intake::form)
                .post(intake::start)
                .layer(axum::extract::DefaultBodyLimit::max(attachments::MAX_PAGE_BYTES)),
        )
        .route(
            "/api/v1/{tenant}/finance/statements",
            post(finance::import_statement).layer(axum::extract::DefaultBodyLimit::max(finance::MAX_STATEMENT_BYTES)),
        )
        .route(
            "/{tenant}/intern/zahlungen/kontoauszug",
            post(reconciliation::upload).layer(axum::extract::DefaultBodyLimit::max(finance::MAX_STATEMENT_BYTES)),
        )
        // Files come Base64-encoded in the JSON: a third larger.
        .route(
            "/api/v1/{tenant}/applications",
            post(api::submit).layer(axum::extract::DefaultBodyLimit::max(attachments::MAX_PAGE_BYTES / 3 * 4)),
        );
    Router::new()
        .route("/", get(portal::landing))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/rathaus.css", get(assets::css))
        .route("/static/rathaus.js", get(assets::js))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/v1/{tenant}/applications/{reference}", get(api::status))
        .route("/api/v1/{tenant}/applications/{reference}/documents/{document_id}", get(api::document))
        .route("/api/v1/{tenant}/cases/{reference}/messages", post(engine_api::message))
        .route("/api/v1/{tenant}/jobs/fetch-and-lock", post(engine_api::fetch_and_lock))
        .route("/api/v1/{tenant}/jobs/{job}/complete", post(engine_api::complete))
        .route("/api/v1/{tenant}/jobs/{job}/failure", post(engine_api::failure))
        .route("/api/v1/{tenant}/jobs/{job}/bpmn-error", post(engine_api::bpmn_error))
        .route("/api/v1/{tenant}/jobs/{job}/extend-lock", post(engine_api::extend_lock))
        .route("/api/v1/{tenant}/deployments", get(engine_api::deployments))
        .route("/api/v1/{tenant}/finance/runs", get(finance::list).post(finance::create))
        .route("/api/v1/{tenant}/finance/runs/{run}", get(finance::show))
        .route("/api/v1/{tenant}/finance/runs/{run}/csv", get(finance::csv))
        .route("/{tenant}", get(tenant_root))
        .route("/{tenant}/", get(portal::home))
        .route("/{tenant}/theme.css", get(assets::theme))
        .route("/{tenant}/logo", get(assets::logo))
        .route("/{tenant}/leistungen/{procedure}", get(portal::service))
        .route("/{tenant}/antrag/{procedure}/pruefen", get(portal::check).post(portal::submit))
        .route("/{tenant}/antrag/{procedure}/gespeichert", get(drafts::saved).post(drafts::send_link))
        .route("/{tenant}/entwurf/{token}", get(drafts::resume))
        .route("/{tenant}/antrag/{procedure}/{page}/live", post(portal::live_check))
        .route("/{tenant}/vorgang/{reference}/eingang", get(portal::receipt))
        .route("/{tenant}/vorgang/{reference}", get(portal::status))
        .route("/{tenant}/vorgang/{reference}/zuruecknehmen", get(withdrawal::form).post(withdrawal::withdraw))
        .route("/{tenant}/vorgang/{reference}/bezahlen", post(payment::start))
        .route("/{tenant}/testkasse/{payment}", get(payment::testkasse).post(payment::testkasse_decide))
        .route("/{tenant}/zahlung/{payment}", get(payment::answer))
        .route("/{tenant}/vorgang/{reference}/dokumente/{document_id}", get(portal::document))
        .route("/{tenant}/status", get(portal::status_login).post(portal::status_lookup))
        .route("/{tenant}/konto/", get(accounts::home))
        .route("/{tenant}/konto/registrieren", get(accounts::register_form).post(accounts::register))
        .route("/{tenant}/konto/bestaetigen/{token}", get(accounts::confirm))
        .route("/{tenant}/konto/anmelden", get(accounts::login_form).post(accounts::login))
        .route("/{tenant}/konto/abmelden", post(accounts::logout))
        .route("/{tenant}/konto/passwort-vergessen", get(accounts::forgot_form).post(accounts::forgot))
        .route("/{tenant}/konto/passwort-neu/{token}", get(accounts::reset_form).post(accounts::reset))
        .route("/{tenant}/konto/profil", get(accounts::profile_form).post(accounts::save_profile))
        .route("/{tenant}/konto/entwuerfe/{draft_id}", get(accounts::open_draft))
        .route("/{tenant}/konto/handeln-als", post(businesses::act_as))
        .route("/{tenant}/konto/unternehmen/neu", get(businesses::new_form).post(businesses::create))
        .route("/{tenant}/konto/unternehmen/{business_id}", get(businesses::show))
        .route("/{tenant}/konto/unternehmen/{business_id}/einladen", post(businesses::invite))
        .route(
            "/{tenant}/konto/unternehmen/{business_id}/einladungen/{invitation_id}/zurueckziehen",
            post(businesses::withdraw),
        )
        .route(
            "/{tenant}/konto/unternehmen/{business_id}/mitglieder/{account_id}/entfernen",
            post(businesses::remove_member),
        )
        .route("/{tenant}/konto/einladung/{token}", get(businesses::invitation).post(businesses::accept))
        .route("/{tenant}/konto/oidc", get(oidc::start))
        .route("/{tenant}/konto/oidc/zurueck", get(oidc::callback))
        .route("/{tenant}/beteiligung/{token}", get(consultations::page).post(consultations::answer))
        .route("/{tenant}/beteiligung/{token}/dokumente/{document_id}", get(consultations::document))
        .route("/{tenant}/abschrift/{token}", get(copies::open))
        .route("/{tenant}/vorgang/{reference}/weiter/{procedure}", post(portal::start_related))
        .route("/{tenant}/abgabe/{token}", get(forwarding::page))
        .route("/{tenant}/abgabe/{token}/dokumente/{document_id}", get(forwarding::document))
        .route("/{tenant}/impressum", get(legal::imprint))
        .route("/{tenant}/datenschutz", get(legal::privacy))
        .route("/{tenant}/barrierefreiheit", get(legal::accessibility))
        .route("/{tenant}/intern/anmelden", get(backoffice::login_form).post(backoffice::login))
        .route("/{tenant}/intern/abmelden", post(backoffice::logout))
        .route("/{tenant}/intern/oidc", get(oidc::staff_start))
        .route("/{tenant}/intern/oidc/zurueck", get(oidc::staff_callback))
        .route("/{tenant}/intern/", get(worklist::page))
        .route("/{tenant}/intern/statistik", get(statistics::page))
        .route("/{tenant}/intern/fristen", get(deadlines::page))
        .route("/{tenant}/intern/zahlungen", get(reconciliation::page))
        .route("/{tenant}/intern/zahlungen/{transaction_id}", post(reconciliation::resolve))
        .route("/{tenant}/intern/verwaltung", get(admin::page))
        .route("/{tenant}/intern/verwaltung/mitarbeitende", post(admin::create_staff))
        .route("/{tenant}/intern/verwaltung/auftritt", get(admin::settings).post(admin::save_settings))
        .route("/{tenant}/intern/verwaltung/schluessel", get(admin::keys).post(admin::create_key))
        .route("/{tenant}/intern/verwaltung/schluessel/{key_id}/widerrufen", post(admin::revoke_key))
        .route("/{tenant}/intern/verwaltung/mitarbeitende/{staff_id}", get(admin::staff_form).post(admin::staff_save))
        .route(
            "/{tenant}/intern/verwaltung/verfahren/{procedure}",
            get(admin::procedure_form).post(admin::procedure_save),
        )
        .route("/{tenant}/intern/verwaltung/delegationen", get(delegations::admin).post(delegations::grant))
        .route("/{tenant}/intern/verwaltung/aussonderung", get(admin::archive_log))
        .route("/{tenant}/intern/verwaltung/verfahren/{procedure}/tabellen/{name}", get(tables::page))
        .route("/{tenant}/intern/verwaltung/verfahren/{procedure}/tabellen/{name}/csv", get(tables::download))
        .route("/{tenant}/intern/verwaltung/verfahren/{procedure}/tabellen/{name}/import", post(tables::import))
        .route("/{tenant}/intern/verwaltung/verfahren/{procedure}/tabellen/{name}/zeilen", post(tables::add_row))
        .route(
            "/{tenant}/intern/verwaltung/verfahren/{procedure}/tabellen/{name}/zeilen/{index}/entfernen",
            post(tables::remove_row),
        )
        .route("/{tenant}/intern/verwaltung/delegationen/{delegation_id}/beenden", post(delegations::revoke))
        .route("/{tenant}/intern/mandanten", get(delegations::towns))
        .route("/{tenant}/intern/mandanten/{town}/{delegation_id}", post(delegations::enter))
        .route("/{tenant}/intern/abwesenheit", post(worklist::absence))
        .route("/{tenant}/intern/erfassung/abbrechen", post(intake::cancel))
        .route("/{tenant}/intern/aufgaben/sammelaktion", post(worklist::bulk))
        .route("/{tenant}/intern/aufgaben/{task_id}/uebernehmen", post(worklist::claim))
        .route("/{tenant}/intern/aufgaben/{task_id}/freigeben", post(worklist::release))
        .route("/{tenant}/intern/aufgaben/{task_id}/zuweisen", post(worklist::assign))
        .route("/{tenant}/intern/aufgaben/{task_id}/wiedervorlage", post(worklist::follow_up))
        .route("/{tenant}/intern/vorgaenge/{case_id}", get(backoffice::case))
        .route("/{tenant}/intern/vorgaenge/{case_id}/dokumente/{document_id}", get(backoffice::document))
        .route("/{tenant}/intern/vorgaenge/{case_id}/akte.zip", get(backoffice::archive))
        .route("/{tenant}/intern/vorgaenge/{case_id}/uebermittlungen/{message_id}", get(backoffice::transmission))
        .route("/{tenant}/intern/vorgaenge/{case_id}/akte.pdf", get(backoffice::archive_pdf))
        .route("/{tenant}/intern/vorgaenge/{case_id}/nachrichten", post(backoffice::send_message))
        .route("/{tenant}/intern/vorgaenge/{case_id}/nachforderungen", post(requests::create))
        .route("/{tenant}/intern/vorgaenge/{case_id}/ruecknahme", post(withdrawal::record))
        .route("/{tenant}/intern/vorgaenge/{case_id}/beteiligungen", post(consultations::create))
        .route("/{tenant}/intern/vorgaenge/{case_id}/vermerke", post(backoffice::add_note))
        .route("/{tenant}/intern/vorgaenge/{case_id}/abgabe", post(forwarding::create))
        .route("/{tenant}/intern/vorgaenge/{case_id}/angaben/{page_id}", get(corrections::form).post(corrections::save))
        .route(
            "/{tenant}/intern/vorgaenge/{case_id}/beteiligungen/{consultation_id}/zuruecknehmen",
            post(consultations::withdraw),
        )
        .route(
            "/{tenant}/intern/vorgaenge/{case_id}/nachforderungen/{request_id}/zuruecknehmen",
            post(requests::withdraw),
        )
        .route("/{tenant}/intern/aufgaben/{task_id}/entscheidung", post(backoffice::decide))
        .route("/{tenant}/intern/aufgaben/{task_id}/vorschau", post(backoffice::preview))
        .route("/{tenant}/intern/aufgaben/{task_id}/vorschlag/{verdict}", post(backoffice::review_proposal))
        .route("/{tenant}/intern/betrieb", get(backoffice::operations))
        .route("/{tenant}/intern/auftraege/{job_id}/wiederholen", post(backoffice::retry_job))
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(2 * 1024 * 1024))
        .merge(form_pages)
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(app)
}
