//! Business accounts (Unternehmenskonto) in the portal: create one, see and manage its
//! members, invite colleagues by e-mail, accept an invitation, and choose for whom one
//! acts (oneself or a business). Acting for a business, drafts are saved and applications
//! submitted on its behalf, and every member sees them under „Mein Konto“.

use crate::accounts::{enabled, message_page, send_limited, to_login};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html, redirect};
use crate::render::render;
use crate::session::{ActingFor, Session};
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::german_date_time;
use rathaus_domain::Lang;
use rathaus_engine::form::plausible_email;
use rathaus_runtime::accounts::normalize_email;
use rathaus_runtime::businesses::{Accepted, Invited, Removed, Role, INVITATION_DAYS, MAX_NAME};
use rathaus_runtime::RuntimeError;
use rathaus_store::tenants::Tenant;
use serde_json::{json, Value as Json};

fn role_text(lang: Lang, role: &str) -> String {
    t(lang, &format!("business.role_{role}"))
}

fn create_page(
    tenant: &Tenant,
    name: &str,
    error: Option<String>,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let errors: Vec<Json> = error.iter().map(|e| json!({"anchor": "name", "message": e})).collect();
    Ok(render(
        "business_new.html",
        context! {
            name => name, error => error, errors => errors,
            name_hint => tf(lang, "business.name_hint", &[("n", &MAX_NAME.to_string())]),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn new_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    if session.data.account.is_none() {
        return session.finish(&app, &slug, to_login(&slug)).await;
    }
    let body = create_page(&tenant, "", None, lang, &mut session)?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn create(
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
    let name = posted.text("name");
    let problem = if name.is_empty() {
        Some(t(lang, "business.name_missing"))
    } else if name.chars().count() > MAX_NAME {
        Some(tf(lang, "business.name_too_long", &[("n", &MAX_NAME.to_string())]))
    } else {
        None
    };
    if let Some(problem) = problem {
        let body = create_page(&tenant, &name, Some(problem), lang, &mut session)?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    let business_id = app.runtime.create_business(&tenant, &me.account_id, &name).await?;
    session.data.flash = Some(tf(lang, "business.created", &[("name", &name)]));
    session.finish(&app, &slug, redirect(&format!("/{slug}/konto/unternehmen/{business_id}"))).await
}

/// What the business page shows besides the members: the invite form's state.
#[derive(Default)]
struct InviteForm {
    email: String,
    role: String,
    error: Option<String>,
}

async fn business_page(
    app: &AppState,
    tenant: &Tenant,
    business_id: &str,
    invite: InviteForm,
    lang: Lang,
    session: &mut Session,
) -> AppResult<String> {
    let me = session.data.account.clone().ok_or(AppError::NotFound)?;
    let (membership, members, invitations) =
        match app.runtime.business_people(tenant, business_id, &me.account_id).await {
            Ok(people) => people,
            Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
            Err(e) => return Err(e.into()),
        };
    let slug = &tenant.slug;
    let admin = membership.is_admin();
    let base_path = format!("/{slug}/konto/unternehmen/{business_id}");
    let members: Vec<Json> = members
        .iter()
        .map(|m| {
            let myself = m.account_id == me.account_id;
            let remove = (admin || myself).then(|| format!("{base_path}/mitglieder/{}/entfernen", m.account_id));
            let remove_text = t(lang, if myself { "business.leave" } else { "business.remove" });
            let name = if m.display_name.is_empty() { m.email.clone() } else { m.display_name.clone() };
            json!({"name": name, "email": m.email, "role": role_text(lang, &m.role), "remove": remove,
                "remove_text": remove_text, "myself": myself})
        })
        .collect();
    let invitations: Vec<Json> = invitations
        .iter()
        .map(|i| {
            let expires = rathaus_store::parse_ts(&i.expires_at).map(german_date_time).unwrap_or_default();
            let text = tf(
                lang,
                "business.invitation_item",
                &[("email", &i.email), ("role", &role_text(lang, &i.role)), ("expires", &expires)],
            );
            json!({"email": i.email, "text": text,
                "withdraw": format!("{base_path}/einladungen/{}/zurueckziehen", i.invitation_id)})
        })
        .collect();
    let errors: Vec<Json> = invite.error.iter().map(|e| json!({"anchor": "email", "message": e})).collect();
    let acting =
        session.data.account.as_ref().and_then(|a| a.acting_for.as_ref()).is_some_and(|b| b.business_id == business_id);
    Ok(render(
        "business.html",
        context! {
            your_role => tf(lang, "business.your_role", &[("role", &role_text(lang, &membership.role))]),
            act_for_button => tf(lang, "business.act_for_button", &[("name", &membership.name)]),
            invite_lead => tf(lang, "business.invite_lead", &[("days", &INVITATION_DAYS.to_string())]),
            name => membership.name, admin => admin,
            members => members, invitations => invitations, invite_action => format!("{base_path}/einladen"),
            invite_email => invite.email, invite_role => if invite.role.is_empty() { "member".to_string() } else { invite.role },
            invite_error => invite.error, errors => errors, acting => acting, business_id => business_id,
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

pub async fn show(
    State(app): State<AppState>,
    Path((slug, business_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    if session.data.account.is_none() {
        return session.finish(&app, &slug, to_login(&slug)).await;
    }
    let body = business_page(&app, &tenant, &business_id, InviteForm::default(), lang, &mut session).await?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn invite(
    State(app): State<AppState>,
    Path((slug, business_id)): Path<(String, String)>,
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
    let email = normalize_email(&posted.text("email"));
    let role_code = posted.text("rolle");
    let role = Role::parse(&role_code);
    let error = if email.is_empty() {
        Some(t(lang, "account.email_missing"))
    } else if !plausible_email(&email) {
        Some(t(lang, "account.email_invalid"))
    } else if role.is_none() {
        Some(t(lang, "business.role_missing"))
    } else {
        None
    };
    let invited = match (error, role) {
        (None, Some(role)) => {
            match app.runtime.invite_to_business(&tenant, &business_id, &me.account_id, &email, role).await {
                Ok(invited) => Ok(invited),
                Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
                Err(RuntimeError::Forbidden) => return Err(AppError::Forbidden),
                Err(e) => return Err(e.into()),
            }
        }
        (error, _) => Err(error.unwrap_or_default()),
    };
    let error = match invited {
        Ok(Invited::Sent { token }) => {
            let name = app
                .runtime
                .business_membership(&tenant, &business_id, &me.account_id)
                .await?
                .map(|m| m.name)
                .unwrap_or_default();
            let subject = tf(lang, "business.invite_subject", &[("tenant", &tenant.name)]);
            let text = tf(
                lang,
                "business.invite_body",
                &[
                    ("tenant", &tenant.name),
                    ("business", &name),
                    ("link", &crate::accounts::link(&app, &tenant, &format!("einladung/{token}"))),
                    ("days", &INVITATION_DAYS.to_string()),
                ],
            );
            send_limited(&app, &tenant, &session, &email, subject, text).await;
            session.data.flash = Some(tf(lang, "business.invited", &[("email", &email)]));
            return session.finish(&app, &slug, redirect(&format!("/{slug}/konto/unternehmen/{business_id}"))).await;
        }
        Ok(Invited::AlreadyMember) => tf(lang, "business.already_member", &[("email", &email)]),
        Err(error) => error,
    };
    let form = InviteForm { email, role: role_code, error: Some(error) };
    let body = business_page(&app, &tenant, &business_id, form, lang, &mut session).await?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}

pub async fn withdraw(
    State(app): State<AppState>,
    Path((slug, business_id, invitation_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    match app.runtime.withdraw_business_invitation(&tenant, &business_id, &me.account_id, &invitation_id).await {
        Ok(true) => session.data.flash = Some(t(lang, "business.withdrawn")),
        Ok(false) | Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
        Err(RuntimeError::Forbidden) => return Err(AppError::Forbidden),
        Err(e) => return Err(e.into()),
    }
    session.finish(&app, &slug, redirect(&format!("/{slug}/konto/unternehmen/{business_id}"))).await
}

pub async fn remove_member(
    State(app): State<AppState>,
    Path((slug, business_id, account_id)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let Some(me) = session.data.account.clone() else {
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    let myself = me.account_id == account_id;
    let next = match app.runtime.remove_business_member(&tenant, &business_id, &me.account_id, &account_id).await {
        Ok(Removed::Removed) if myself => {
            if let Some(a) = session.data.account.as_mut() {
                if a.acting_for.as_ref().is_some_and(|b| b.business_id == business_id) {
                    a.acting_for = None;
                }
            }
            session.data.flash = Some(t(lang, "business.left"));
            format!("/{slug}/konto/")
        }
        Ok(Removed::Removed) => {
            session.data.flash = Some(t(lang, "business.removed"));
            format!("/{slug}/konto/unternehmen/{business_id}")
        }
        Ok(Removed::LastAdmin) => {
            session.data.flash = Some(t(lang, "business.last_admin"));
            format!("/{slug}/konto/unternehmen/{business_id}")
        }
        Ok(Removed::NotAMember) | Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
        Err(RuntimeError::Forbidden) => return Err(AppError::Forbidden),
        Err(e) => return Err(e.into()),
    };
    session.finish(&app, &slug, redirect(&next)).await
}

fn invitation_path(slug: &str, token: &str) -> String {
    format!("/{slug}/konto/einladung/{token}")
}

/// The page behind an invitation link: what it is for and, signed in with the invited
/// address, the button that accepts it.
pub async fn invitation(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    let view = app.runtime.business_invitation(&tenant, &token).await?;
    let Some(view) = view.filter(|v| !v.expired) else {
        let body = message_page(
            &tenant,
            t(lang, "account.link_invalid_heading"),
            t(lang, "business.invitation_gone"),
            lang,
            &mut session,
        )?;
        return session.finish(&app, &slug, (StatusCode::NOT_FOUND, Html(body)).into_response()).await;
    };
    let signed_in = session.data.account.clone();
    if signed_in.is_none() {
        // After signing in (or confirming a new account) the applicant comes back here.
        session.data.return_to = Some(invitation_path(&slug, &token));
    }
    let other_address = signed_in.as_ref().is_some_and(|a| a.email != view.invitation.email);
    let body = render(
        "business_invitation.html",
        context! {
            invitation_text => tf(
                lang,
                "business.invitation_text",
                &[
                    ("business", &view.business_name),
                    ("email", &view.invitation.email),
                    ("role", &role_text(lang, &view.invitation.role)),
                ],
            ),
            other_address_text => signed_in.as_ref().map(|a| {
                tf(lang, "business.other_address", &[("email", &view.invitation.email), ("mine", &a.email)])
            }),
            signed_in => signed_in.is_some(), other_address => other_address,
            action => invitation_path(&slug, &token),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn accept(
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    enabled(&app)?;
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    let Some(me) = session.data.account.clone() else {
        session.data.return_to = Some(invitation_path(&slug, &token));
        return session.finish(&app, &slug, to_login(&slug)).await;
    };
    match app.runtime.accept_business_invitation(&tenant, &token, &me.account_id).await? {
        Accepted::Joined { business_id } => {
            session.data.flash = Some(t(lang, "business.joined"));
            session.finish(&app, &slug, redirect(&format!("/{slug}/konto/unternehmen/{business_id}"))).await
        }
        Accepted::OtherAddress(email) => {
            let body = message_page(
                &tenant,
                t(lang, "business.invitation_heading"),
                tf(lang, "business.other_address", &[("email", &email), ("mine", &me.email)]),
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, (StatusCode::FORBIDDEN, Html(body)).into_response()).await
        }
        Accepted::Gone | Accepted::Expired => {
            let body = message_page(
                &tenant,
                t(lang, "account.link_invalid_heading"),
                t(lang, "business.invitation_gone"),
                lang,
                &mut session,
            )?;
            session.finish(&app, &slug, (StatusCode::NOT_FOUND, Html(body)).into_response()).await
        }
    }
}

/// Chooses for whom the signed-in applicant acts: themselves (empty) or one of their
/// businesses.
pub async fn act_as(
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
    let chosen = posted.text("fuer");
    let acting_for = if chosen.is_empty() {
        None
    } else {
        let m = app.runtime.business_membership(&tenant, &chosen, &me.account_id).await?.ok_or(AppError::NotFound)?;
        Some(ActingFor { business_id: m.business_id, name: m.name })
    };
    session.data.flash = Some(match &acting_for {
        Some(b) => tf(lang, "business.acting_for", &[("name", &b.name)]),
        None => t(lang, "business.acting_private"),
    });
    if let Some(a) = session.data.account.as_mut() {
        a.acting_for = acting_for;
    }
    session.finish(&app, &slug, redirect(&format!("/{slug}/konto/"))).await
}
