//! The citizen account (Bürgerkonto) in the portal: register with e-mail and password,
//! confirm the address by a link, sign in and out, reset a forgotten password, keep a
//! profile that fills in forms, and see one's cases and saved drafts in one place.
//!
//! Accounts need e-mail (the address is confirmed by a link): without a mail setting the
//! pages do not exist. Nobody learns from the pages whether an address has an account:
//! registering a known address and asking to reset an unknown one answer like any other.

use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html, redirect};
use crate::render::render;
use crate::session::{AccountSession, Session};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::german_date_time;
use rathaus_domain::Lang;
use rathaus_engine::form::{german_postcode, plausible_email};
use rathaus_engine::library::PROFILE_FIELDS;
use rathaus_runtime::accounts::{normalize_email, Registered, RESET_HOURS, VERIFY_HOURS};
use rathaus_store::accounts::Account;
use rathaus_store::tenants::Tenant;
use serde::Serialize;
use serde_json::{json, Value as Json};

/// The shortest password accepted (BSI: length matters more than character classes).
pub const MIN_PASSWORD: usize = 12;

/// The autocomplete token of a profile field (`rathaus_engine::library::PROFILE_FIELDS`).
fn autocomplete_of(field: &str) -> &'static str {
    match field {
        "familienname" => "family-name",
        "vornamen" => "given-name",
        "strasse" => "address-line1",
        "hausnummer" => "address-line2",
        "plz" => "postal-code",
        "ort" => "address-level2",
        "telefon" => "tel",
        _ => "email",
    }
}

/// One input of an account page.
#[derive(Serialize)]
struct Input {
    id: &'static str,
    label: String,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
    hint: Option<String>,
    error: Option<String>,
    width: &'static str,
}

fn input(id: &'static str, lang: Lang, kind: &'static str, autocomplete: &'static str, value: &str) -> Input {
    Input {
        id,
        label: t(lang, &format!("account.field_{id}")),
        kind,
        autocomplete,
        value: value.to_string(),
        hint: None,
        error: None,
        width: if kind == "password" || kind == "email" { "30" } else { "20" },
    }
}

/// A page with a form: heading, lead, inputs, a button, links under it.
struct FormPage<'a> {
    title_key: &'a str,
    lead: Option<String>,
    action: String,
    submit_key: &'a str,
    inputs: Vec<Input>,
    links: Vec<(String, String)>,
}

fn render_form(tenant: &Tenant, page: FormPage<'_>, lang: Lang, session: &mut Session) -> AppResult<String> {
    let errors: Vec<Json> =
        page.inputs.iter().filter_map(|i| i.error.as_ref().map(|e| json!({"anchor": i.id, "message": e}))).collect();
    let links: Vec<Json> = page.links.iter().map(|(href, text)| json!({"href": href, "text": text})).collect();
    Ok(render(
        "account_form.html",
        context! {
            title => t(lang, page.title_key), lead => page.lead, action => page.action,
            submit => t(lang, page.submit_key), inputs => page.inputs, errors => errors, links => links,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub(crate) fn message_page(
    tenant: &Tenant,
    heading: String,
    text: String,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    Ok(render(
        "account_message.html",
        context! { heading => heading, message => text, ..base(lang, Some(tenant), Some(session)) },
    )?)
}

pub(crate) fn enabled(app: &AppState) -> AppResult<&rathaus_runtime::mail::Mailer> {
    app.runtime.mail.as_ref().ok_or(AppError::NotFound)
}

async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || crate::backoffice::hash_password(&password)).await.expect("hashing runs")
}

async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || crate::backoffice::verify_password(&password, &hash)).await.unwrap_or(false)
}

pub(crate) fn link(app: &AppState, tenant: &Tenant, path: &str) -> String {
    format!("{}/{}/konto/{path}", app.public_url(), tenant.slug)
}

/// Sends an account mail unless the limit per address or per browser is reached (the forms
/// are no relay for mail to strangers). A failed send is logged: the page says the same
/// either way, so that it tells nobody whether an address has an account.
pub(crate) async fn send_limited(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    to: &str,
    subject: String,
    text: String,
) {
    let Ok(mail) = enabled(app) else { return };
    if !app.limiter.mail_allowed("account", &tenant.tenant_id, session.csrf(), to) {
        tracing::warn!(tenant = %tenant.slug, "account mail not sent: limit reached");
        return;
    }
    if let Err(e) = mail.send(to, &subject, &text).await {
        tracing::warn!(error = %e, "account mail not sent");
    }
}

pub(crate) fn sign_in(session: &mut Session, a: &Account) {
    session.data.account = Some(AccountSession {
        account_id: a.account_id.clone(),
        email: a.email.clone(),
        display_name: a.display_name.clone(),
        acting_for: None,
    });
}

/// Where to go after signing in: the tenant's page that asked for it (an invitation link),
/// or the account's overview.
pub(crate) fn after_sign_in(session: &mut Session, slug: &str) -> Response {
    let home = format!("/{slug}/konto/");
    let next = session.data.return_to.take().filter(|p| p.starts_with(&format!("/{slug}/konto/")) && !p.contains("//"));
    redirect(&next.unwrap_or(home))
}

fn password_problem(password: &str, repeat: &str, lang: Lang) -> (Option<String>, Option<String>) {
    if password.chars().count() < MIN_PASSWORD {
        (Some(tf(lang, "account.password_short", &[("n", &MIN_PASSWORD.to_string())])), None)
    } else if password != repeat {
        (None, Some(t(lang, "account.password_mismatch")))
    } else {
        (None, None)
    }
}

/// "Sign in with BundID" when the tenant connected an OpenID Connect provider.
fn oidc_link(tenant: &Tenant, lang: Lang) -> Option<(String, String)> {
    let oidc = tenant.settings.oidc.as_ref().filter(|o| !o.issuer.is_empty())?;
    let label = if oidc.label.is_empty() { "OpenID Connect" } else { oidc.label.as_str() };
    Some((format!("/{}/konto/oidc", tenant.slug), tf(lang, "account.oidc_button", &[("label", label)])))
}

fn register_inputs(lang: Lang, name: &str, email: &str) -> Vec<Input> {
    let mut password = input("passwort", lang, "password", "new-password", "");
    password.hint = Some(tf(lang, "account.password_hint", &[("n", &MIN_PASSWORD.to_string())]));
    vec![
        input("name", lang, "text", "name", name),
        input("email", lang, "email", "email", email),
        password,
        input("passwort2", lang, "password", "new-password", ""),
    ]
}

fn register_page(tenant: &Tenant, inputs: Vec<Input>, lang: Lang, session: &mut Session) -> AppResult<String> {
    let slug = &tenant.slug;
    render_form(
        tenant,
        FormPage {
            title_key: "account.register_title",
            lead: Some(t(lang, "account.register_lead")),
            action: format!("/{slug}/konto/registrieren"),
            submit_key: "account.register_submit",
            inputs,
            links: oidc_link(tenant, lang)
                .into_iter()
                .chain([(format!("/{slug}/konto/anmelden"), t(lang, "account.have_account"))])
                .collect(),
        },
        lang,
        session,
    )
}

pub async fn register_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let body = register_page(&tenant, register_inputs(lang, "", ""), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn register(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let name = posted.text("name");
    let email = normalize_email(&posted.text("email"));
    let password = posted.get("passwort").unwrap_or("").to_string();
    let mut inputs = register_inputs(lang, &name, &email);
    if name.is_empty() {
        inputs[0].error = Some(t(lang, "account.name_missing"));
    }
    if email.is_empty() {
        inputs[1].error = Some(t(lang, "account.email_missing"));
    } else if !plausible_email(&email) {
        inputs[1].error = Some(t(lang, "account.email_invalid"));
    }
    let (short, mismatch) = password_problem(&password, posted.get("passwort2").unwrap_or(""), lang);
    inputs[2].error = short;
    inputs[3].error = mismatch;
    if inputs.iter().any(|i| i.error.is_some()) {
        let body = register_page(&tenant, inputs, lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let hashed = hash(password).await;
    let (subject, text) = match app.runtime.register_account(&tenant, &email, &name, &hashed).await? {
        Registered::Created { token, .. } => (
            tf(lang, "account.verify_subject", &[("tenant", &tenant.name)]),
            tf(
                lang,
                "account.verify_body",
                &[
                    ("tenant", &tenant.name),
                    ("link", &link(&app, &tenant, &format!("bestaetigen/{token}"))),
                    ("hours", &VERIFY_HOURS.to_string()),
                ],
            ),
        ),
        Registered::Exists(_) => (
            tf(lang, "account.exists_subject", &[("tenant", &tenant.name)]),
            tf(
                lang,
                "account.exists_body",
                &[("tenant", &tenant.name), ("link", &link(&app, &tenant, "passwort-vergessen"))],
            ),
        ),
    };
    send_limited(&app, &tenant, &session, &email, subject, text).await;
    let body = message_page(
        &tenant,
        t(lang, "account.check_mail_heading"),
        tf(lang, "account.check_mail", &[("email", &email), ("hours", &VERIFY_HOURS.to_string())]),
        lang,
        &mut session,
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn confirm(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    match app.runtime.verify_account(&tenant, &token).await? {
        Some(a) => {
            session.rotate(&app).await?;
            sign_in(&mut session, &a);
            app.runtime.account_logged_in(&tenant, &a.account_id).await?;
            session.data.flash = Some(t(lang, "account.verified"));
            let next = after_sign_in(&mut session, &slug);
            session.finish(&app, &slug, next).await
        }
        None => {
            let body = message_page(
                &tenant,
                t(lang, "account.link_invalid_heading"),
                t(lang, "account.verify_link_invalid"),
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, (StatusCode::NOT_FOUND, Html(body)).into_response()).await
        }
    }
}

fn login_page(
    tenant: &Tenant,
    email: &str,
    error: Option<String>,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let slug = &tenant.slug;
    let mut email_input = input("email", lang, "email", "username", email);
    email_input.error = error;
    render_form(
        tenant,
        FormPage {
            title_key: "account.login_title",
            lead: None,
            action: format!("/{slug}/konto/anmelden"),
            submit_key: "account.login_submit",
            inputs: vec![email_input, input("passwort", lang, "password", "current-password", "")],
            links: oidc_link(tenant, lang)
                .into_iter()
                .chain([
                    (format!("/{slug}/konto/passwort-vergessen"), t(lang, "account.forgot_link")),
                    (format!("/{slug}/konto/registrieren"), t(lang, "account.register_link")),
                ])
                .collect(),
        },
        lang,
        session,
    )
}

pub async fn login_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    if session.data.account.is_some() {
        return session.finish(&app, &slug, redirect(&format!("/{slug}/konto/"))).await;
    }
    let body = login_page(&tenant, "", None, lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn login(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let email = normalize_email(&posted.text("email"));
    let password = posted.get("passwort").unwrap_or("").to_string();
    let key = format!("account-login:{}:{email}", tenant.tenant_id);
    let problem = if email.is_empty() || password.is_empty() {
        t(lang, "account.login_missing")
    } else if !app.limiter.allowed(&key) {
        t(lang, "account.too_many_attempts")
    } else {
        let account = app.runtime.account_by_email(&tenant, &email).await?;
        let hash_to_check = account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| crate::backoffice::dummy_hash().to_string());
        let ok = verify(password, hash_to_check).await;
        match account.filter(|_| ok) {
            Some(a) if a.verified() => {
                app.limiter.succeeded(&key);
                session.rotate(&app).await?;
                sign_in(&mut session, &a);
                app.runtime.account_logged_in(&tenant, &a.account_id).await?;
                let next = after_sign_in(&mut session, &slug);
                return session.finish(&app, &slug, next).await;
            }
            Some(a) => {
                // The right password, the address not yet confirmed: a new link, since the
                // first one may have expired or got lost.
                let token = app.runtime.new_verification_token(&tenant, &a.account_id).await?;
                let subject = tf(lang, "account.verify_subject", &[("tenant", &tenant.name)]);
                let text = tf(
                    lang,
                    "account.verify_body",
                    &[
                        ("tenant", &tenant.name),
                        ("link", &link(&app, &tenant, &format!("bestaetigen/{token}"))),
                        ("hours", &VERIFY_HOURS.to_string()),
                    ],
                );
                send_limited(&app, &tenant, &session, &a.email, subject, text).await;
                t(lang, "account.not_verified")
            }
            None => {
                app.limiter.failed(&key);
                t(lang, "account.login_failed")
            }
        }
    };
    let body = login_page(&tenant, &email, Some(problem), lang, &mut session)?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}

pub async fn logout(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, mut session, .. } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    // Signing out ends the whole session: the drafts and case access of this browser go too.
    session.destroy(&app).await?;
    session.data.flash = Some(t(lang, "account.logged_out"));
    session.finish(&app, &slug, redirect(&format!("/{slug}/"))).await
}

fn forgot_page(
    tenant: &Tenant,
    email: &str,
    error: Option<String>,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let mut email_input = input("email", lang, "email", "email", email);
    email_input.error = error;
    render_form(
        tenant,
        FormPage {
            title_key: "account.forgot_title",
            lead: Some(t(lang, "account.forgot_lead")),
            action: format!("/{}/konto/passwort-vergessen", tenant.slug),
            submit_key: "account.forgot_submit",
            inputs: vec![email_input],
            links: vec![],
        },
        lang,
        session,
    )
}

pub async fn forgot_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let body = forgot_page(&tenant, "", None, lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn forgot(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let email = normalize_email(&posted.text("email"));
    if !plausible_email(&email) {
        let key = if email.is_empty() { "account.email_missing" } else { "account.email_invalid" };
        let body = forgot_page(&tenant, &email, Some(t(lang, key)), lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    if let Some((a, token)) = app.runtime.request_password_reset(&tenant, &email).await? {
        let subject = tf(lang, "account.reset_subject", &[("tenant", &tenant.name)]);
        let text = tf(
            lang,
            "account.reset_body",
            &[
                ("tenant", &tenant.name),
                ("link", &link(&app, &tenant, &format!("passwort-neu/{token}"))),
                ("hours", &RESET_HOURS.to_string()),
            ],
        );
        send_limited(&app, &tenant, &session, &a.email, subject, text).await;
    }
    let body = message_page(
        &tenant,
        t(lang, "account.check_mail_heading"),
        tf(lang, "account.reset_sent", &[("email", &email), ("hours", &RESET_HOURS.to_string())]),
        lang,
        &mut session,
    )?;
    session.finish(&app, &slug, html(body)).await
}

fn reset_page(
    tenant: &Tenant,
    token: &str,
    inputs: Vec<Input>,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    render_form(
        tenant,
        FormPage {
            title_key: "account.reset_title",
            lead: None,
            action: format!("/{}/konto/passwort-neu/{token}", tenant.slug),
            submit_key: "account.reset_submit",
            inputs,
            links: vec![],
        },
        lang,
        session,
    )
}

fn reset_inputs(lang: Lang) -> Vec<Input> {
    let mut password = input("passwort", lang, "password", "new-password", "");
    password.hint = Some(tf(lang, "account.password_hint", &[("n", &MIN_PASSWORD.to_string())]));
    vec![password, input("passwort2", lang, "password", "new-password", "")]
}

async fn reset_link_gone(
    app: &AppState,
    tenant: &Tenant,
    slug: &str,
    lang: Lang,
    mut session: Session,
) -> AppResult<Response> {
    let body = message_page(
        tenant,
        t(lang, "account.link_invalid_heading"),
        t(lang, "account.reset_link_invalid"),
        lang,
        &mut session,
    )?;
    session.finish(app, slug, (StatusCode::NOT_FOUND, Html(body)).into_response()).await
}

pub async fn reset_form(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    if !app.runtime.reset_link_valid(&tenant, &token).await? {
        return reset_link_gone(&app, &tenant, &slug, lang, session).await;
    }
    let body = reset_page(&tenant, &token, reset_inputs(lang), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn reset(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let password = posted.get("passwort").unwrap_or("").to_string();
    let (short, mismatch) = password_problem(&password, posted.get("passwort2").unwrap_or(""), lang);
    if short.is_some() || mismatch.is_some() {
        let mut inputs = reset_inputs(lang);
        inputs[0].error = short;
        inputs[1].error = mismatch;
        let body = reset_page(&tenant, &token, inputs, lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let hashed = hash(password).await;
    match app.runtime.reset_password(&tenant, &token, &hashed).await? {
        Some(a) => {
            session.rotate(&app).await?;
            sign_in(&mut session, &a);
            app.runtime.account_logged_in(&tenant, &a.account_id).await?;
            session.data.flash = Some(t(lang, "account.password_changed"));
            session.finish(&app, &slug, redirect(&format!("/{slug}/konto/"))).await
        }
        None => reset_link_gone(&app, &tenant, &slug, lang, session).await,
    }
}

pub(crate) fn to_login(slug: &str) -> Response {
    redirect(&format!("/{slug}/konto/anmelden"))
}

pub async fn home(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    let name_of = |procedure: &str| {
        app.runtime
            .library
            .get(procedure)
            .map(|p| p.manifest.name.get(lang).to_string())
            .unwrap_or_else(|| procedure.to_string())
    };
    let when = |s: &str| rathaus_store::parse_ts(s).map(german_date_time).unwrap_or_default();
    let cases: Vec<Json> = app
        .runtime
        .account_cases(&tenant, &me.account_id)
        .await?
        .into_iter()
        .map(|c| {
            json!({"reference": c.reference, "procedure": name_of(&c.procedure_id), "submitted": when(&c.submitted_at),
                "status": t(lang, &format!("case_status.{}", c.status)),
                "business": c.business.unwrap_or_else(|| t(lang, "account.for_me")),
                "url": format!("/{slug}/vorgang/{}", c.reference)})
        })
        .collect();
    let drafts: Vec<Json> = app
        .runtime
        .account_drafts(&tenant, &me.account_id)
        .await?
        .into_iter()
        .map(|d| {
            let procedure = name_of(&d.procedure_id);
            let mut text = tf(
                lang,
                "account.draft_item",
                &[("procedure", &procedure), ("updated", &when(&d.updated_at)), ("expires", &when(&d.expires_at))],
            );
            if let Some(b) = &d.business {
                text.push_str(&tf(lang, "account.draft_for", &[("name", b)]));
            }
            json!({"procedure": procedure, "text": text, "url": format!("/{slug}/konto/entwuerfe/{}", d.draft_id)})
        })
        .collect();
    let memberships = app.runtime.businesses_of(&tenant, &me.account_id).await?;
    // A business the applicant no longer belongs to is no longer acted for.
    let acting = me.acting_for.clone().filter(|b| memberships.iter().any(|m| m.business_id == b.business_id));
    if acting != me.acting_for {
        if let Some(a) = session.data.account.as_mut() {
            a.acting_for = acting.clone();
        }
    }
    let businesses: Vec<Json> = memberships
        .iter()
        .map(|m| {
            json!({"id": m.business_id, "name": m.name, "role": t(lang, &format!("business.role_{}", m.role)),
                "url": format!("/{slug}/konto/unternehmen/{}", m.business_id)})
        })
        .collect();
    let body = render(
        "account_home.html",
        context! {
            greeting => tf(lang, "account.home_greeting", &[("name", &me.display_name), ("email", &me.email)]),
            acting_note => acting.as_ref().map(|b| tf(lang, "account.acting_note", &[("name", &b.name)])),
            acting_id => acting.as_ref().map(|b| b.business_id.clone()).unwrap_or_default(),
            cases => cases, drafts => drafts, businesses => businesses,
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

fn profile_inputs(lang: Lang, profile: &Json, email: &str) -> Vec<Input> {
    PROFILE_FIELDS
        .iter()
        .filter(|id| **id != "email")
        .map(|id| {
            let kind = if *id == "telefon" { "tel" } else { "text" };
            let value = profile.get(*id).and_then(Json::as_str).unwrap_or("");
            let mut i = input(id, lang, kind, autocomplete_of(id), value);
            if matches!(*id, "hausnummer" | "plz") {
                i.width = "5";
            }
            i
        })
        .chain(std::iter::once({
            let mut i = input("email", lang, "email", "email", email);
            i.hint = Some(t(lang, "account.profile_email_hint"));
            i
        }))
        .collect()
}

fn profile_page(tenant: &Tenant, inputs: Vec<Input>, lang: Lang, session: &mut Session) -> AppResult<String> {
    render_form(
        tenant,
        FormPage {
            title_key: "account.profile_title",
            lead: Some(t(lang, "account.profile_lead")),
            action: format!("/{}/konto/profil", tenant.slug),
            submit_key: "account.profile_submit",
            inputs,
            links: vec![(format!("/{}/konto/", tenant.slug), t(lang, "account.back_home"))],
        },
        lang,
        session,
    )
}

pub async fn profile_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    let account = app.runtime.account(&tenant, &me.account_id).await?.ok_or(AppError::NotFound)?;
    let body = profile_page(&tenant, profile_inputs(lang, &account.profile()?, &account.email), lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn save_profile(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    let mut profile = serde_json::Map::new();
    for id in PROFILE_FIELDS.iter().filter(|id| **id != "email") {
        let v = posted.text(id);
        if !v.is_empty() {
            profile.insert(id.to_string(), Json::String(v.chars().take(100).collect()));
        }
    }
    let profile = Json::Object(profile);
    let mut inputs = profile_inputs(lang, &profile, &me.email);
    for i in inputs.iter_mut() {
        let v = i.value.as_str();
        i.error = match i.id {
            "plz" if !v.is_empty() && !german_postcode(v) => Some(t(lang, "account.postcode_invalid")),
            "familienname" if v.is_empty() => Some(t(lang, "account.family_name_missing")),
            _ => None,
        };
    }
    if inputs.iter().any(|i| i.error.is_some()) {
        let body = profile_page(&tenant, inputs, lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let given = profile.get("vornamen").and_then(Json::as_str).unwrap_or("");
    let family = profile.get("familienname").and_then(Json::as_str).unwrap_or("");
    let display_name = format!("{given} {family}").trim().to_string();
    app.runtime.save_profile(&tenant, &me.account_id, &display_name, &profile).await?;
    if let Some(a) = session.data.account.as_mut() {
        a.display_name = display_name;
    }
    session.data.flash = Some(t(lang, "account.profile_saved"));
    session.finish(&app, &slug, redirect(&format!("/{slug}/konto/"))).await
}

/// Opens one of the account's saved drafts in this browser.
pub async fn open_draft(
    State(app): State<AppState>,
    Path((slug, draft_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    let row = app.runtime.account_draft(&tenant, &me.account_id, &draft_id).await?.ok_or(AppError::NotFound)?;
    // A business's draft is continued for the business.
    if let Some(business_id) = &row.business_id {
        if let Some(m) = app.runtime.business_membership(&tenant, business_id, &me.account_id).await? {
            if let Some(a) = session.data.account.as_mut() {
                a.acting_for = Some(crate::session::ActingFor { business_id: m.business_id, name: m.name });
            }
        }
    }
    let next = crate::drafts::open(&app, &tenant, &mut session, &row, lang).await?;
    session.finish(&app, &slug, redirect(&next)).await
}

/// The answers an account fills into a new application of the procedure (its `[prefill]`).
pub async fn prefill(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    a: &rathaus_runtime::ActiveProcedure,
) -> AppResult<Option<Json>> {
    let Some(me) = &session.data.account else { return Ok(None) };
    if a.procedure.manifest.prefill.is_empty() {
        return Ok(None);
    }
    let Some(account) = app.runtime.account(tenant, &me.account_id).await? else { return Ok(None) };
    let mut profile = account.profile()?;
    if let Some(o) = profile.as_object_mut() {
        o.insert("email".into(), Json::String(account.email.clone()));
    }
    let mut data = Json::Object(serde_json::Map::new());
    for (key, source) in &a.procedure.manifest.prefill {
        if let Some(v) = profile.get(source).filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
            rathaus_engine::form::set_path(&mut data, key, v.clone());
        }
    }
    Ok(Some(data))
}
