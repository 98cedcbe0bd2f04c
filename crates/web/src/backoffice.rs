//! The back office minimum: staff login, worklist of the tenant, case file, decision.
//! Every query is scoped to the tenant in the path; the session is bound to that tenant.

use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, document_response, html, size_label};
use crate::render::render;
use crate::session::{Session, StaffSession};
use crate::visit::Visit;
use crate::AppState;
use argon2::password_hash::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::time::german_date_time;
use rathaus_domain::{Lang, Money, Role};
use rathaus_engine::summary::summarize;
use rathaus_runtime::chronicle::Kind;
use rathaus_runtime::{Decision, RuntimeError};
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, documents, fees, staff, tasks};
use serde_json::{json, Value as Json};

/// Whether and when the applicant retrieved a document made available to them; for a notice
/// retrieved online, also the day it counts as notified (§ 41 Abs. 2a VwVfG: the day after).
fn retrieval_text(d: &documents::DocumentMeta, lang: Lang) -> Option<String> {
    if d.kind == "anlage" || d.visible_to_applicant != 1 {
        return None;
    }
    let Some(at) = d.retrieved_at.as_deref().and_then(|s| rathaus_store::parse_ts(s).ok()) else {
        return Some(t(lang, "case.not_retrieved"));
    };
    let day = rathaus_domain::time::german_time(at).date_naive();
    let notified = (day + chrono::Duration::days(1)).format("%d.%m.%Y").to_string();
    Some(crate::i18n::tf(
        lang,
        "case.retrieved",
        &[("at", &rathaus_domain::time::german_date_time(at)), ("notified", &notified)],
    ))
}

/// Hashes a password with Argon2id (default parameters of the argon2 crate, OWASP minimum).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing").to_string()
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// A fixed hash to verify against when the user does not exist, so that the response time
/// does not reveal which usernames exist.
pub(crate) fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("dummy password for timing"))
}

pub(crate) struct StaffCtx {
    pub staff: StaffSession,
    pub role: Role,
    pub(crate) org_units: Vec<String>,
    /// The absent colleagues this person stands in for today: (username, display name,
    /// last day away).
    pub deputy_for: Vec<(String, String, String)>,
    deputy_usernames: Vec<String>,
    /// This person's own absence: (last day, deputy's username), if recorded and not over.
    pub absence: Option<(String, String)>,
    /// The delegation a service centre's staff member works under here; `None` for the
    /// town's own staff.
    pub delegation: Option<rathaus_store::delegations::Delegation>,
}

impl StaffCtx {
    pub(crate) fn worker(&self) -> rathaus_domain::role::Worker<'_> {
        rathaus_domain::role::Worker {
            role: self.role,
            username: &self.staff.username,
            org_units: &self.org_units,
            deputy_for: &self.deputy_usernames,
            every_group: self.delegation.is_some(),
        }
    }

    /// Whether this person may see cases of `procedure` here: the town's staff all, a
    /// centre's staff those delegated.
    pub(crate) fn covers(&self, procedure: &str) -> bool {
        self.delegation.as_ref().is_none_or(|d| d.rules().covers(procedure))
    }

    /// The procedures this person is limited to (a centre's delegation); empty: all.
    pub(crate) fn within(&self) -> Vec<String> {
        self.delegation.as_ref().map(|d| d.procedure_list()).unwrap_or_default()
    }

    /// Whether this is the town's own staff member (administration, operations and
    /// absences are theirs alone).
    pub(crate) fn own_staff(&self) -> bool {
        self.delegation.is_none()
    }
}

/// The case `case_id` if this person may see it; `NotFound` for a case of another town or
/// of a procedure not delegated to their centre.
pub(crate) async fn visible_case(
    app: &AppState,
    tenant: &Tenant,
    ctx: &StaffCtx,
    case_id: &str,
) -> AppResult<cases::Case> {
    let mut conn = app.runtime.store.conn().await?;
    cases::by_id(&mut conn, &tenant.tenant_id, case_id)
        .await?
        .filter(|c| ctx.covers(&c.procedure_id))
        .ok_or(AppError::NotFound)
}

/// Of `case_ids`, those this person may see (all for the town's own staff).
pub(crate) async fn visible_case_ids(
    app: &AppState,
    tenant: &Tenant,
    ctx: &StaffCtx,
    case_ids: &[&str],
) -> AppResult<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    let mut conn = app.runtime.store.conn().await?;
    for &id in case_ids {
        if out.contains(id) {
            continue;
        }
        let visible = ctx.own_staff()
            || cases::by_id(&mut conn, &tenant.tenant_id, id).await?.is_some_and(|c| ctx.covers(&c.procedure_id));
        if visible {
            out.insert(id.to_string());
        }
    }
    Ok(out)
}

/// The task's assignment as the domain sees it (borrowing from `task`).
pub(crate) fn with_assignment<R>(task: &tasks::Task, f: impl FnOnce(&rathaus_domain::role::Assignment) -> R) -> R {
    let groups = task.groups();
    let users: Vec<&str> = task.candidate_users.split(',').filter(|s| !s.is_empty()).collect();
    f(&rathaus_domain::role::Assignment {
        candidate_groups: &groups,
        candidate_users: &users,
        assignee: task.assignee.as_deref(),
    })
}

pub(crate) fn may_work_on(ctx: &StaffCtx, task: &tasks::Task) -> bool {
    with_assignment(task, |a| ctx.worker().may_work_on(a))
}

/// The signed-in staff member of this tenant, or a redirect to the login page.
pub(crate) async fn require_staff(app: &AppState, tenant: &Tenant, session: &Session) -> Result<StaffCtx, Response> {
    let Some(s) = session.data.staff.clone() else {
        return Err(Redirect::to(&format!("/{}/intern/anmelden", tenant.slug)).into_response());
    };
    if let Some(centre) = &s.centre {
        // A centre's staff member: as long as the delegation is in force and their account
        // at the centre active; their role here is what the delegation gives.
        let d = app.runtime.delegate(tenant, &centre.delegation_id, &centre.centre_tenant_id, &s.staff_id).await;
        return match d {
            Ok(Some(d)) => Ok(StaffCtx {
                staff: s,
                role: d.role,
                org_units: Vec::new(),
                deputy_usernames: d.deputy_for.iter().map(|(u, _, _)| u.clone()).collect(),
                deputy_for: d.deputy_for,
                absence: None,
                delegation: Some(d.delegation),
            }),
            _ => Err(Redirect::to(&format!("/{}/intern/anmelden", tenant.slug)).into_response()),
        };
    }
    let today = rathaus_domain::time::german_today(app.runtime.clock.now()).format("%Y-%m-%d").to_string();
    let current = async {
        let mut conn = app.runtime.store.conn().await.ok()?;
        let me = staff::by_id(&mut conn, &tenant.tenant_id, &s.staff_id).await.ok().flatten()?;
        let away = staff::deputised_by(&mut conn, &tenant.tenant_id, &me.username, &today).await.ok()?;
        Some((me, away))
    }
    .await;
    match current {
        Some((st, away)) if st.active == 1 => match Role::parse(&st.role) {
            Some(role) => {
                let absence = match (&st.absent_until, &st.deputy) {
                    (Some(until), Some(deputy)) if until.as_str() >= today.as_str() => {
                        Some((until.clone(), deputy.clone()))
                    }
                    _ => None,
                };
                Ok(StaffCtx {
                    org_units: st.org_unit_list(),
                    staff: s,
                    role,
                    deputy_usernames: away.iter().map(|a| a.username.clone()).collect(),
                    deputy_for: away
                        .into_iter()
                        .map(|a| (a.username, a.display_name, a.absent_until.unwrap_or_default()))
                        .collect(),
                    absence,
                    delegation: None,
                })
            }
            None => Err(AppError::Forbidden.into_response()),
        },
        _ => Err(Redirect::to(&format!("/{}/intern/anmelden", tenant.slug)).into_response()),
    }
}

/// The staff member doing case work on `case_id` and the case. Case work (writing to the
/// applicant, requesting documents, recording a withdrawal) is for clerks and team leads:
/// auditors read, tenant admins administrate (`Forbidden`). A case of another tenant is
/// `NotFound`; `Ok(Err(_))` is the way to the login page for someone not signed in here.
pub(crate) async fn case_work(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    case_id: &str,
) -> AppResult<Result<(StaffCtx, cases::Case), Response>> {
    let ctx = match case_worker(app, tenant, session).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let case = visible_case(app, tenant, &ctx, case_id).await?;
    Ok(Ok((ctx, case)))
}

/// The staff member doing case work (clerks and team leads; `Forbidden` for others);
/// `Ok(Err(_))` is the way to the login page for someone not signed in here.
pub(crate) async fn case_worker(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
) -> AppResult<Result<StaffCtx, Response>> {
    match require_staff(app, tenant, session).await {
        Ok(ctx) if ctx.role.may_decide() => Ok(Ok(ctx)),
        Ok(_) => Err(AppError::Forbidden),
        Err(r) => Ok(Err(r)),
    }
}

/// The staff member doing case work on the tenant's task `task_id`, the task and its case;
/// as [`case_work`].
pub(crate) async fn task_work(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    task_id: &str,
) -> AppResult<Result<(StaffCtx, tasks::Task, cases::Case), Response>> {
    let ctx = match case_worker(app, tenant, session).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let mut conn = app.runtime.store.conn().await?;
    let task = tasks::by_id(&mut conn, &tenant.tenant_id, task_id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    let case = visible_case(app, tenant, &ctx, &task.case_id).await?;
    Ok(Ok((ctx, task, case)))
}

pub(crate) fn actor(s: &StaffSession) -> Actor {
    Actor::Staff { staff_id: s.staff_id.clone(), username: s.username.clone() }
}

/// Signs `staff` in with this session (a new session id against fixation), audited with
/// how they proved who they are (`password`, `oidc`).
pub(crate) async fn sign_in_staff(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    staff: &staff::Staff,
    method: &str,
) -> AppResult<()> {
    session.rotate(app).await?;
    session.data.staff = Some(StaffSession {
        staff_id: staff.staff_id.clone(),
        username: staff.username.clone(),
        display_name: staff.display_name.clone(),
        role: staff.role.clone(),
        centre: None,
    });
    let mut conn = app.runtime.store.conn().await?;
    audit::append(
        &mut conn,
        &tenant.tenant_id,
        &Actor::Staff { staff_id: staff.staff_id.clone(), username: staff.username.clone() },
        "staff.login",
        "staff",
        &staff.staff_id,
        &json!({"method": method}),
        app.runtime.clock.now(),
    )
    .await?;
    Ok(())
}

/// The provider button of the staff login page, if the town connected one.
fn staff_oidc_button(tenant: &Tenant, lang: Lang) -> Option<(String, String)> {
    let oidc = tenant.settings.staff_oidc.as_ref().filter(|o| !o.issuer.is_empty())?;
    let label = if oidc.label.is_empty() { "OpenID Connect" } else { oidc.label.as_str() };
    Some((format!("/{}/intern/oidc", tenant.slug), crate::i18n::tf(lang, "staff.oidc_button", &[("label", label)])))
}

pub async fn login_form(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    if session.data.staff.is_some() {
        // Still allowed in: on to the worklist. An account locked (or removed) since it
        // signed in is signed out here, or the two pages would send it back and forth.
        if require_staff(&app, &tenant, &session).await.is_ok() {
            return session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/")).into_response()).await;
        }
        session.data.staff = None;
    }
    let body = render(
        "staff_login.html",
        context! { username => "", provider => staff_oidc_button(&tenant, lang), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn login(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let username = posted.text("benutzername").to_lowercase();
    let password = posted.get("passwort").unwrap_or("").to_string();
    let key = format!("login:{}:{}", tenant.tenant_id, username);
    let message = if username.is_empty() || password.is_empty() {
        t(lang, "staff.login_missing")
    } else if !app.limiter.allowed(&key) {
        t(lang, "staff.too_many_attempts")
    } else {
        let mut conn = app.runtime.store.conn().await?;
        let account = staff::by_username(&mut conn, &tenant.tenant_id, &username).await?;
        drop(conn);
        let hash = account
            .as_ref()
            .filter(|a| a.active == 1)
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
        match account.filter(|a| ok && a.active == 1) {
            Some(a) => {
                app.limiter.succeeded(&key);
                sign_in_staff(&app, &tenant, &mut session, &a, "password").await?;
                return session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/")).into_response()).await;
            }
            None => {
                app.limiter.failed(&key);
                t(lang, "staff.login_failed")
            }
        }
    };
    let errors = vec![json!({"anchor": "benutzername", "message": message})];
    let body = render(
        "staff_login.html",
        context! { username => username, errors => errors, provider => staff_oidc_button(&tenant, lang), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await
}

pub async fn logout(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    session.verify_csrf(Posted::new(pairs).get("_csrf"))?;
    if let Some(s) = session.data.staff.clone() {
        let mut conn = app.runtime.store.conn().await?;
        audit::append(
            &mut conn,
            &tenant.tenant_id,
            &actor(&s),
            "staff.logout",
            "staff",
            &s.staff_id,
            &json!({}),
            app.runtime.clock.now(),
        )
        .await?;
    }
    session.destroy(&app).await?;
    session.data.flash = Some(t(lang, "staff.logged_out"));
    session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/anmelden")).into_response()).await
}

fn status_label(status: &str, lang: Lang) -> String {
    t(lang, &format!("case_status.{status}"))
}

/// When a case was received: date and time online; only the day for an application a
/// clerk entered (of a letter, only the day of receipt is known).
pub(crate) fn received_label(case: &cases::Case) -> String {
    let entered =
        rathaus_domain::Channel::parse(&case.channel).is_some_and(|c| rathaus_domain::Channel::INTAKE.contains(&c));
    match rathaus_store::parse_ts(&case.submitted_at) {
        Ok(at) if entered => rathaus_domain::time::german_date(at),
        _ => when(&case.submitted_at),
    }
}

pub(crate) fn when(ts: &str) -> String {
    rathaus_store::parse_ts(ts).map(german_date_time).unwrap_or_default()
}

/// The decision form as posted: what was chosen and typed, and what is wrong with it.
#[derive(Default)]
pub(crate) struct DecisionErrors {
    outcome: Option<String>,
    reason: Option<String>,
    conditions: Option<String>,
    /// `bestaetigen`, `bestaetigen_auflagen` or `ablehnen`, as chosen.
    choice: String,
    reason_text: String,
    conditions_text: String,
}

impl DecisionErrors {
    fn any(&self) -> bool {
        self.outcome.is_some() || self.reason.is_some() || self.conditions.is_some()
    }
}

/// Reads the decision form. `Ok` with the decision, or `Err` with the form to show again.
fn decision_form(
    posted: &Posted,
    lang: Lang,
    offers_conditions: bool,
    clerk_name: &str,
) -> Result<Decision, Box<DecisionErrors>> {
    let choice = posted.text("ergebnis");
    let reason = posted.text("begruendung");
    let conditions = posted.text("auflagen");
    let with_conditions = choice == "bestaetigen_auflagen" && offers_conditions;
    let outcome = if with_conditions { "bestaetigen" } else { choice.as_str() };
    let mut form = DecisionErrors {
        outcome: (!matches!(outcome, "bestaetigen" | "ablehnen")).then(|| t(lang, "case.outcome_missing")),
        reason: (outcome == "ablehnen" && reason.trim().chars().count() < 10).then(|| t(lang, "case.reason_missing")),
        conditions: (with_conditions && conditions.trim().chars().count() < 10)
            .then(|| t(lang, "case.conditions_missing")),
        choice: choice.clone(),
        reason_text: reason.clone(),
        conditions_text: conditions.clone(),
    };
    if form.any() {
        return Err(Box::new(form));
    }
    form.choice.clear();
    Ok(Decision {
        outcome: outcome.to_string(),
        reason,
        clerk_name: clerk_name.to_string(),
        // Conditions typed but then another outcome chosen are not part of the decision.
        conditions: if with_conditions { conditions } else { String::new() },
    })
}

/// A participant's conditions, offered as a text block of the decision: taken into the
/// order with one click (key `beteiligung-<consultation id>`).
pub(crate) struct ParticipantBlock {
    key: String,
    title: String,
    text: String,
}

/// The conditions participants asked for in their answers, if the procedure decides with
/// conditions.
async fn participant_blocks(
    app: &AppState,
    tenant: &Tenant,
    procedure: &rathaus_engine::Procedure,
    case_id: &str,
    lang: Lang,
) -> AppResult<Vec<ParticipantBlock>> {
    if !procedure.manifest.decision.conditions {
        return Ok(Vec::new());
    }
    Ok(app
        .runtime
        .consultations(tenant, case_id)
        .await?
        .into_iter()
        .filter_map(|c| {
            let text = c.conditions.clone().filter(|t| !t.trim().is_empty())?;
            let answered = c.answered_at.as_deref().map(when).unwrap_or_default();
            Some(ParticipantBlock {
                key: format!("beteiligung-{}", c.consultation_id),
                title: tf(lang, "case.block_participant", &[("participant", &c.participant), ("answered", &answered)]),
                text,
            })
        })
        .collect())
}

/// Appends the chosen text blocks of the procedure, and the conditions of participants, to
/// the reason or the conditions, each as a paragraph, for the clerk to edit before deciding.
fn insert_text_blocks(
    procedure: &rathaus_engine::Procedure,
    participants: &[ParticipantBlock],
    posted: &Posted,
    lang: Lang,
) -> DecisionErrors {
    let mut reason = posted.text("begruendung");
    let mut conditions = posted.text("auflagen");
    for key in posted.all("baustein") {
        let (field, text) = match procedure.manifest.text_blocks.get(key) {
            Some(block) => (block.field.as_str(), block.text.get(lang)),
            None => match participants.iter().find(|p| p.key == key) {
                Some(p) => ("auflagen", p.text.as_str()),
                None => continue,
            },
        };
        let target = if field == "auflagen" { &mut conditions } else { &mut reason };
        if !target.trim().is_empty() {
            target.push_str("\n\n");
        }
        target.push_str(text);
    }
    DecisionErrors {
        choice: posted.text("ergebnis"),
        reason_text: reason,
        conditions_text: conditions,
        ..Default::default()
    }
}

/// The forms of the case file as posted, with their errors: what to show again.
#[derive(Default)]
pub(crate) struct CaseForms {
    pub decision: DecisionErrors,
    pub message_error: Option<String>,
    pub message_text: String,
    pub request: crate::requests::RequestForm,
    /// The resubmission form of one task: (task id, the date as typed, the problem).
    pub follow_up: Option<(String, String, String)>,
    /// The form that records a withdrawal: (the note as typed, the problem).
    pub withdraw: Option<(String, String)>,
    pub consultation: crate::consultations::ConsultationForm,
    /// The kind of entries the chronicle shows; all if none.
    pub chronicle: Option<Kind>,
    /// The note form: (the text as typed, the problem).
    pub note: Option<(String, String)>,
    /// The form that forwards the case to the competent authority.
    pub forward: crate::forwarding::ForwardForm,
}

/// The case file; `forms` holds a posted form to show again with its errors.
pub(crate) async fn render_case_with(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    ctx: &StaffCtx,
    case_id: &str,
    lang: Lang,
    forms: CaseForms,
) -> AppResult<String> {
    let case = visible_case(app, tenant, ctx, case_id).await?;
    let mut conn = app.runtime.store.conn().await?;
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    let data = case.data_json()?;
    let sections = summarize(&procedure.form, &data, &procedure.catalogues, lang);
    let findings: Vec<Json> = case
        .findings_json()?
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            let effect =
                if b["ergebnis"] == "review" { t(lang, "case.effect_review") } else { t(lang, "case.effect_hint") };
            json!({"grund": b["grund"], "rechtsgrundlage": b["rechtsgrundlage"], "effect": effect})
        })
        .collect();
    let metas = documents::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?;
    let versions = rathaus_runtime::chronicle::document_versions(&metas);
    let docs: Vec<Json> = metas
        .iter()
        .zip(versions)
        .map(|(d, (version, of))| {
            let scan = match d.scan.as_str() {
                "clean" => Some(t(lang, "case.scan_clean")),
                "unscanned" => Some(t(lang, "case.scan_unscanned")),
                _ => None,
            };
            json!({"title": d.title, "kind": d.kind, "size": size_label(d.size, lang), "created": when(&d.created_at), "sha256_short": &d.sha256[..12],
                "url": format!("/{}/intern/vorgaenge/{}/dokumente/{}", tenant.slug, case.case_id, d.document_id),
                "attachment": d.kind == "anlage", "file_name": d.file_name, "type": crate::portal::file_type_label(&d.media_type), "scan": scan,
                "retrieval": retrieval_text(d, lang),
                "version": (of > 1).then(|| tf(lang, "case.doc_version", &[("n", &version.to_string()), ("of", &of.to_string())]))})
        })
        .collect();
    let case_fees = fees::for_case(&mut conn, &tenant.tenant_id, &case.case_id).await?;
    let fee_open = case_fees.iter().any(|f| f.status != "paid" && f.status != "cancelled" && f.amount_cents > 0);
    let fee_rows: Vec<Json> = case_fees
        .into_iter()
        .map(|f| {
            let due = chrono::NaiveDate::parse_from_str(&f.due_date, "%Y-%m-%d")
                .map(|d| d.format("%d.%m.%Y").to_string())
                .unwrap_or_else(|_| f.due_date.clone());
            json!({"amount": Money::from_cents(f.amount_cents).to_german(), "kassenzeichen": f.kassenzeichen, "due": due,
                "status": t(lang, &format!("case.fee_status_{}", f.status))})
        })
        .collect();
    let payment_rows: Vec<Json> = rathaus_store::payments::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
        .await?
        .into_iter()
        .map(|p| {
            json!({"amount": Money::from_cents(p.amount_cents).to_german(), "provider": p.provider,
                "status": t(lang, &format!("case.payment_status_{}", p.status)), "started": when(&p.created_at), "updated": when(&p.updated_at)})
        })
        .collect();
    // Messages to other authorities (XGewerbeanzeige …) with their delivery.
    let transmissions: Vec<Json> = rathaus_store::outbox::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
        .await?
        .into_iter()
        .map(|m| {
            let status = match (&m.delivered_at, &m.receipt) {
                (Some(at), Some(receipt)) => {
                    tf(lang, "case.transmission_delivered", &[("at", &when(at)), ("receipt", receipt)])
                }
                _ => t(lang, "case.transmission_pending"),
            };
            json!({"recipient": m.recipient_name, "kind": m.kind, "created": when(&m.created_at), "status": status,
                "delivered": m.delivered_at.is_some(), "sha256_short": m.sha256.get(..12).unwrap_or_default(),
                "url": format!("/{}/intern/vorgaenge/{}/uebermittlungen/{}", tenant.slug, case.case_id, m.message_id)})
        })
        .collect();
    // Copies of documents to other bodies (the police), with the link to pass on.
    let copy_rows: Vec<Json> = rathaus_store::copies::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
        .await?
        .into_iter()
        .map(|c| {
            let status = match c.status.as_str() {
                rathaus_store::copies::SENT => t(lang, "case.copy_sent"),
                rathaus_store::copies::FAILED => {
                    tf(lang, "case.copy_failed", &[("error", c.error.as_deref().unwrap_or_default())])
                }
                _ => t(lang, "case.copy_unsent"),
            };
            json!({"recipient": c.recipient, "email": c.email, "created": when(&c.created_at), "status": status,
                "opened": c.opened_at.as_deref().map(when), "expires": when(&c.expires_at),
                "link": app.runtime.copy_link(tenant, &c.copy_id)})
        })
        .collect();
    let open: Vec<tasks::Task> = tasks::for_case(&mut conn, &tenant.tenant_id, &case.case_id)
        .await?
        .into_iter()
        .filter(|t| t.status == "open")
        .collect();
    let mut open_tasks: Vec<Json> = Vec::new();
    let mut follow_up_errors: Vec<Json> = Vec::new();
    for t in &open {
        let (claim, release) = with_assignment(t, |a| (ctx.worker().may_claim(a), ctx.worker().may_release(a)));
        let assignable = crate::worklist::assignable(app, tenant, ctx, t).await?;
        let (follow_up_value, follow_up_error) = match &forms.follow_up {
            Some((id, value, error)) if id == &t.task_id => (value.clone(), Some(error.clone())),
            _ => {
                let current = t.follow_up_at.as_deref().and_then(|f| rathaus_store::parse_ts(f).ok());
                (current.map(|c| rathaus_domain::time::german_today(c).to_string()).unwrap_or_default(), None)
            }
        };
        if let Some(e) = &follow_up_error {
            follow_up_errors.push(json!({"anchor": format!("wiedervorlage-{}", t.task_id), "message": e}));
        }
        let proposal = t.proposal.as_deref().and_then(|p| serde_json::from_str::<Json>(p).ok()).map(|p| {
            let outcome = if p["ergebnis"] == "ablehnen" {
                crate::i18n::t(lang, "case.reject")
            } else {
                crate::i18n::t(lang, "case.confirm")
            };
            json!({"outcome": outcome, "reason": p["begruendung"], "by": p["bearbeitet_von"]})
        });
        let may_approve =
            t.proposed_by.as_deref().is_some_and(|by| with_assignment(t, |a| ctx.worker().may_approve(a, by)));
        open_tasks.push(json!({"task_id": t.task_id, "name": t.name, "may_work": may_work_on(ctx, t) && proposal.is_none(),
            "proposal": proposal, "may_approve": may_approve,
            "follow_up_value": follow_up_value, "follow_up_error": follow_up_error,
            "due": t.due_at.as_deref().map(when), "follow_up": t.follow_up_at.as_deref().map(when), "assignee": t.assignee,
            "claim": claim, "release": release, "assignable": assignable}));
    }
    let trail: Vec<Json> = audit::for_object(&mut conn, &tenant.tenant_id, "case", &case.case_id)
        .await?
        .into_iter()
        .map(|a| json!({"seq": a.seq, "at": when(&a.at), "actor": a.actor, "action": a.action}))
        .collect();
    drop(conn);
    let documents_base = format!("/{}/intern/vorgaenge/{}/dokumente", tenant.slug, case.case_id);
    let messages = message_views(app, tenant, &case.case_id, &metas, lang, &documents_base, false).await?;
    // Opening the case file is reading the applicant's messages.
    app.runtime.mark_messages_read(tenant, &case.case_id, rathaus_store::mailbox::IN).await?;
    let requests = app.runtime.document_requests(tenant, &case.case_id).await?;
    let withdraw_base = format!("/{}/intern/vorgaenge/{}/nachforderungen", tenant.slug, case.case_id);
    let requests = crate::requests::request_views(&requests, lang, Some(&withdraw_base));
    let corrections: Vec<Json> = app
        .runtime
        .corrections(tenant, &case.case_id)
        .await?
        .into_iter()
        .map(|c| {
            json!({"version": c.version.version, "at": when(&c.version.created_at), "by": c.version.changed_by,
            "reason": c.version.reason, "changes": c.changes})
        })
        .collect();
    let deadline_rows: Vec<Json> = app
        .runtime
        .case_deadlines(tenant, &case.case_id)
        .await?
        .iter()
        .map(|v| crate::deadlines::view_json(lang, v))
        .collect();
    let consultations = app.runtime.consultations(tenant, &case.case_id).await?;
    let consultations_base = format!("/{}/intern/vorgaenge/{}/beteiligungen", tenant.slug, case.case_id);
    let consultation_rows =
        crate::consultations::consultation_views(app, tenant, &consultations, lang, &consultations_base);
    let CaseForms {
        decision: errs,
        message_error,
        message_text,
        request,
        withdraw,
        consultation,
        chronicle,
        note,
        forward,
        ..
    } = forms;
    let forwardings =
        crate::forwarding::forwarding_views(app, tenant, &app.runtime.forwardings(tenant, &case.case_id).await?, lang);
    let (note_text, note_error) = note.map(|(n, e)| (n, Some(e))).unwrap_or_default();
    let case_base = format!("/{}/intern/vorgaenge/{}", tenant.slug, case.case_id);
    let entries: Vec<Json> = app
        .runtime
        .chronicle(tenant, &case.case_id, &metas)
        .await?
        .into_iter()
        .filter(|e| chronicle.is_none_or(|k| e.kind == k))
        .map(|e| {
            json!({"at": when(&e.at), "kind": t(lang, &format!("chronicle.{}", e.kind.code())), "code": e.kind.code(),
                "text": e.text, "internal": e.internal,
                "url": e.document_id.map(|d| format!("{case_base}/dokumente/{d}"))})
        })
        .collect();
    let chronicle_kinds: Vec<Json> =
        std::iter::once(("alle".to_string(), t(lang, "chronicle.alle"), chronicle.is_none()))
            .chain(
                Kind::ALL.iter().map(|k| {
                    (k.code().to_string(), t(lang, &format!("chronicle.{}", k.code())), chronicle == Some(*k))
                }),
            )
            .map(|(code, label, current)| json!({"code": code, "label": label, "current": current}))
            .collect();
    // The pages the clerk may share, ticked as posted (all of them on a fresh form).
    let posted_consultation = !consultation.errors.is_empty();
    let share_pages: Vec<Json> = sections
        .iter()
        .map(|s| {
            json!({"page_id": s.page_id, "title": s.title,
            "checked": !posted_consultation || consultation.pages.contains(&s.page_id)})
        })
        .collect();
    let mut error_list = follow_up_errors;
    let (withdraw_note, withdraw_error) = withdraw.map(|(n, e)| (n, Some(e))).unwrap_or_default();
    if let Some(e) = &withdraw_error {
        error_list.push(json!({"anchor": "vermerk", "message": e}));
    }
    if let Some(e) = &errs.outcome {
        error_list.push(json!({"anchor": "ergebnis-bestaetigen", "message": e}));
    }
    if let Some(e) = &errs.reason {
        error_list.push(json!({"anchor": "begruendung", "message": e}));
    }
    for (field, message) in &forward.errors {
        error_list.push(json!({"anchor": field.replace('_', "-"), "message": message}));
    }
    if let Some(e) = &errs.conditions {
        error_list.push(json!({"anchor": "auflagen", "message": e}));
    }
    if let Some(e) = &request.what_error {
        error_list.push(json!({"anchor": "was", "message": e}));
    }
    if let Some(e) = &request.due_error {
        error_list.push(json!({"anchor": "frist", "message": e}));
    }
    if let Some(e) = &note_error {
        error_list.push(json!({"anchor": "vermerk-text", "message": e}));
    }
    for (field, message) in &consultation.errors {
        let anchor = match *field {
            "teile" => share_pages
                .first()
                .map(|p| format!("teil-{}", p["page_id"].as_str().unwrap_or_default()))
                .unwrap_or_else(|| "anlagen".into()),
            "beteiligung_frist" => "beteiligung-frist".into(),
            "stelle_email" => "stelle-email".into(),
            other => other.to_string(),
        };
        error_list.push(json!({"anchor": anchor, "message": message}));
    }
    Ok(render(
        "case.html",
        context! {
            case => context! { reference => case.reference, status => case.status, status_label => status_label(&case.status, lang), received => received_label(&case),
                closed => case.closed_at.as_deref().and_then(|c| rathaus_store::parse_ts(c).ok()).map(german_date_time),
                waits_for_fee => case.closed_at.is_none() && case.decided_at.is_some() && fee_open,
                channel => t(lang, &format!("channel.{}", case.channel)), procedure_name => procedure.manifest.name.get(lang), version => procedure.manifest.version },
            forwardings => forwardings, forward => context! { authority => forward.authority, email => forward.email, reason => forward.reason,
                documents => forward.documents, authority_error => forward.error("abgabe_stelle"), email_error => forward.error("abgabe_email"),
                reason_error => forward.error("abgabe_grund"), open => !forward.errors.is_empty() },
            corrections => corrections, may_correct => ctx.role.may_decide() && !rathaus_domain::CaseStatus::parse(&case.status).is_some_and(rathaus_domain::CaseStatus::is_final),
            deadlines => deadline_rows, findings => findings, sections => sections, documents => docs, fees => fee_rows, payments => payment_rows, transmissions => transmissions, copies => copy_rows, open_tasks => open_tasks, audit => trail,
            chronicle => entries, chronicle_kinds => chronicle_kinds,
            note_text => note_text, note_error => note_error, note_action => format!("{case_base}/vermerke"),
            messages => messages, message_error => message_error, message_text => message_text,
            requests => requests, request_what => request.what, request_due => request.due,
            consultations => consultation_rows, share_pages => share_pages, consultation_action => consultations_base,
            consultation => context! { participant => consultation.participant, email => consultation.email, question => consultation.question,
                due => consultation.due, documents => !posted_consultation || consultation.documents,
                participant_error => consultation.error("stelle"), email_error => consultation.error("stelle_email"),
                question_error => consultation.error("frage"), due_error => consultation.error("beteiligung_frist"),
                parts_error => consultation.error("teile") },
            withdrawable => crate::withdrawal::withdrawable(&case) && ctx.role.may_decide(),
            withdraw_note => withdraw_note, withdraw_error => withdraw_error,
            request_what_error => request.what_error, request_due_error => request.due_error,
            request_action => format!("/{}/intern/vorgaenge/{}/nachforderungen", tenant.slug, case.case_id),
            may_write => ctx.role.may_decide(), case_id => case.case_id,
            may_decide => ctx.role.may_decide(), errors => error_list, outcome_error => errs.outcome, reason_error => errs.reason, reason => errs.reason_text,
            conditions_error => errs.conditions, conditions => errs.conditions_text, outcome_choice => errs.choice,
            offers_conditions => procedure.manifest.decision.conditions, offers_preview => !procedure.manifest.decision.templates.is_empty(),
            text_blocks => participant_blocks(app, tenant, &procedure, &case.case_id, lang).await?.into_iter()
                .map(|p| json!({"key": p.key, "title": p.title, "text": p.text, "field": t(lang, "case.block_field_auflagen")}))
                .chain(procedure.manifest.text_blocks.iter().map(|(key, b)| json!({"key": key, "title": b.title.get(lang), "text": b.text.get(lang),
                "field": t(lang, &format!("case.block_field_{}", b.field))}))).collect::<Vec<_>>(),
            ..base(lang, Some(tenant), Some(session))
        },
    )?)
}

/// The case file's query: which kind of entries the chronicle shows (`art`, all if none).
#[derive(serde::Deserialize, Default)]
pub struct CaseQuery {
    art: Option<String>,
}

pub async fn case(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<CaseQuery>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let forms = CaseForms { chronicle: query.art.as_deref().and_then(Kind::parse), ..Default::default() };
    let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
    session.finish(&app, &slug, html(body)).await
}

/// A clerk's note to the file (Vermerk), for the case's staff who work on cases.
pub async fn add_note(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let (ctx, case) = match case_work(&app, &tenant, &session, &case_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let text = posted.text("vermerk_text");
    let max = rathaus_runtime::chronicle::MAX_NOTE;
    let problem = if text.is_empty() {
        Some(t(lang, "chronicle.note_missing"))
    } else if text.chars().count() > max {
        Some(tf(lang, "chronicle.note_too_long", &[("n", &max.to_string())]))
    } else {
        None
    };
    if let Some(problem) = problem {
        let forms = CaseForms { note: Some((text, problem)), ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    app.runtime.add_note(&tenant, &case.case_id, &actor(&ctx.staff), &ctx.staff.display_name, &text).await?;
    session.data.flash = Some(t(lang, "chronicle.note_added"));
    session
        .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#chronik")).into_response())
        .await
}

/// The case's messages for a page: who wrote, when, the text, the file sent with it (among
/// the case's documents `files`; the download address under `documents_base`: the clerk's
/// or the applicant's).
pub(crate) async fn message_views(
    app: &AppState,
    tenant: &Tenant,
    case_id: &str,
    files: &[documents::DocumentMeta],
    lang: Lang,
    documents_base: &str,
    applicant_view: bool,
) -> AppResult<Vec<Json>> {
    Ok(app
        .runtime
        .messages(tenant, case_id)
        .await?
        .into_iter()
        .map(|m| {
            let from = if m.direction == rathaus_store::mailbox::IN {
                t(lang, "mailbox.from_applicant")
            } else {
                crate::i18n::tf(lang, "mailbox.from_authority", &[("tenant", &tenant.name), ("name", &m.author)])
            };
            let attached: Vec<Json> = files
                .iter()
                .filter(|d| d.message_id.as_deref() == Some(m.message_id.as_str()))
                .map(|d| json!({"name": d.file_name, "size": size_label(d.size, lang), "url": format!("{documents_base}/{}", d.document_id)}))
                .collect();
            let incoming = m.direction == rathaus_store::mailbox::IN;
            // What the reader needs to know: news for them, or that the other side has not
            // read what they wrote.
            let state = match (m.read_at.is_none(), incoming == applicant_view) {
                (false, _) => None,
                (true, true) => Some(t(lang, "mailbox.not_read_yet")),
                (true, false) => Some(t(lang, "mailbox.new")),
            };
            json!({"incoming": incoming, "from": from, "at": when(&m.created_at), "body": m.body, "state": state, "files": attached})
        })
        .collect())
}

/// A clerk writes to the applicant from the case file.
pub async fn send_message(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let (ctx, case) = match case_work(&app, &tenant, &session, &case_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let text = posted.get("nachricht").unwrap_or("").trim().to_string();
    let problem = if text.is_empty() {
        Some(t(lang, "mailbox.text_missing"))
    } else if text.chars().count() > rathaus_runtime::mailbox::MESSAGE_MAX_CHARS {
        Some(crate::i18n::tf(
            lang,
            "mailbox.text_too_long",
            &[("n", &rathaus_runtime::mailbox::MESSAGE_MAX_CHARS.to_string())],
        ))
    } else {
        None
    };
    if problem.is_some() {
        let forms = CaseForms { message_error: problem, message_text: text, ..Default::default() };
        let body = render_case_with(&app, &tenant, &mut session, &ctx, &case_id, lang, forms).await?;
        return session.finish(&app, &slug, (StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response()).await;
    }
    app.runtime.message_to_applicant(&tenant, &case, &actor(&ctx.staff), &ctx.staff.display_name, &text).await?;
    session.data.flash = Some(t(lang, "mailbox.sent_to_applicant"));
    session
        .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{case_id}#nachrichten")).into_response())
        .await
}

pub async fn document(
    State(app): State<AppState>,
    Path((slug, case_id, document_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    visible_case(&app, &tenant, &ctx, &case_id).await?;
    let mut conn = app.runtime.store.conn().await?;
    let (meta, bytes) =
        documents::content(&mut conn, &tenant.tenant_id, &case_id, &document_id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    session.finish(&app, &slug, document_response(&meta, bytes)).await
}

/// A message the case sent to another authority, as sent (XML).
pub async fn transmission(
    State(app): State<AppState>,
    Path((slug, case_id, message_id)): Path<(String, String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    visible_case(&app, &tenant, &ctx, &case_id).await?;
    let message = app.runtime.case_message_out(&tenant.tenant_id, &case_id, &message_id).await?;
    let file_name = format!("{}-{}.xml", message.kind, message.recipient);
    let response = (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        message.content,
    )
        .into_response();
    session.finish(&app, &slug, response).await
}

/// A posted decision form of a task the staff member may work on: the form, who, the
/// task, its case and the procedure version the case runs on.
struct DecisionPost {
    posted: Posted,
    ctx: StaffCtx,
    task: rathaus_store::tasks::Task,
    case: cases::Case,
    procedure: std::sync::Arc<rathaus_engine::Procedure>,
}

async fn decision_post(
    app: &AppState,
    tenant: &Tenant,
    session: &Session,
    task_id: &str,
    pairs: Vec<(String, String)>,
) -> AppResult<Result<DecisionPost, Response>> {
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let (ctx, task, case) = match task_work(app, tenant, session, task_id).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    if !may_work_on(&ctx, &task) {
        return Err(AppError::Forbidden);
    }
    let procedure = app.runtime.procedure_of_deployment(&tenant.tenant_id, &case.deployment_id).await?;
    Ok(Ok(DecisionPost { posted, ctx, task, case, procedure }))
}

/// The case file again with the decision form as posted (`status`: 422 for its problems).
async fn decision_page(
    app: &AppState,
    tenant: &Tenant,
    session: &mut Session,
    post: &DecisionPost,
    decision: DecisionErrors,
    status: StatusCode,
    lang: Lang,
) -> AppResult<Response> {
    let forms = CaseForms { decision, ..Default::default() };
    let body = render_case_with(app, tenant, session, &post.ctx, &post.task.case_id, lang, forms).await?;
    Ok((status, Html(body)).into_response())
}

pub async fn decide(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let post = match decision_post(&app, &tenant, &session, &task_id, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let (posted, ctx, procedure) = (&post.posted, &post.ctx, &post.procedure);
    if posted.text("_aktion") == "bausteine" {
        // Only the text changes; nothing is decided yet.
        let participants = participant_blocks(&app, &tenant, procedure, &post.case.case_id, lang).await?;
        let form = insert_text_blocks(procedure, &participants, posted, lang);
        let response = decision_page(&app, &tenant, &mut session, &post, form, StatusCode::OK, lang).await?;
        return session.finish(&app, &slug, response).await;
    }
    let decision = match decision_form(posted, lang, procedure.manifest.decision.conditions, &ctx.staff.display_name) {
        Ok(d) => d,
        Err(form) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let response = decision_page(&app, &tenant, &mut session, &post, *form, status, lang).await?;
            return session.finish(&app, &slug, response).await;
        }
    };
    let who = actor(&ctx.staff);
    let outcome = if needs_four_eyes(&app, &tenant, &post.case).await? {
        app.runtime.propose_decision(&tenant.tenant_id, &task_id, &decision, &who).await.map(|()| "case.proposed")
    } else {
        app.runtime.complete_task(&tenant.tenant_id, &task_id, &decision, &who).await.map(|()| "case.decided")
    };
    match outcome {
        Ok(key) => session.data.flash = Some(t(lang, key)),
        Err(RuntimeError::Conflict(_)) => session.data.flash = Some(t(lang, "case.already_decided")),
        Err(e) => return Err(e.into()),
    }
    session
        .finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/vorgaenge/{}", post.case.case_id)).into_response())
        .await
}

/// „Vorschau“: the notice the decision as drafted would produce, as PDF; nothing is decided
/// or stored. The form's problems are shown as for deciding.
pub async fn preview(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let post = match decision_post(&app, &tenant, &session, &task_id, pairs).await? {
        Ok(p) => p,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let conditions = post.procedure.manifest.decision.conditions;
    let decision = match decision_form(&post.posted, lang, conditions, &post.ctx.staff.display_name) {
        Ok(d) => d,
        Err(form) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let response = decision_page(&app, &tenant, &mut session, &post, *form, status, lang).await?;
            return session.finish(&app, &slug, response).await;
        }
    };
    let pdf = app.runtime.preview_decision(&tenant, &task_id, &decision).await?;
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_string()),
        (header::CONTENT_DISPOSITION, "inline; filename=\"Vorschau.pdf\"".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ];
    session.finish(&app, &slug, (headers, pdf).into_response()).await
}

/// Whether decisions of the case's procedure need a second person (the procedure's
/// parameter `vier_augen`, as the tenant set it). A procedure the tenant no longer offers
/// keeps its cases running; they are then decided without.
async fn needs_four_eyes(app: &AppState, tenant: &Tenant, case: &cases::Case) -> AppResult<bool> {
    Ok(match app.runtime.active_procedure(tenant, &case.procedure_id).await {
        Ok(active) => active.parameters.get("vier_augen").and_then(Json::as_bool).unwrap_or(false),
        Err(RuntimeError::NotActive(_)) => false,
        Err(e) => return Err(e.into()),
    })
}

/// The second person approves the decision proposed for a task, or sends it back with a
/// reason (four-eyes principle).
pub async fn review_proposal(
    State(app): State<AppState>,
    Path((slug, task_id, verdict)): Path<(String, String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let (ctx, task, _) = match task_work(&app, &tenant, &session, &task_id).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let Some(by) = task.proposed_by.as_deref() else { return Err(AppError::NotFound) };
    if !with_assignment(&task, |a| ctx.worker().may_approve(a, by)) {
        return Err(AppError::Forbidden);
    }
    let who = actor(&ctx.staff);
    let back = format!("/{slug}/intern/vorgaenge/{}", task.case_id);
    let done = match verdict.as_str() {
        "annehmen" => {
            app.runtime.approve_proposal(&tenant.tenant_id, &task_id, &who).await.map(|()| "case.proposal_approved")
        }
        "zurueckweisen" => {
            let reason = posted.text("grund");
            if reason.chars().count() < 10 {
                session.data.flash = Some(t(lang, "case.proposal_reason_missing"));
                return session.finish(&app, &slug, Redirect::to(&back).into_response()).await;
            }
            app.runtime
                .reject_proposal(&tenant.tenant_id, &task_id, &reason, &who)
                .await
                .map(|()| "case.proposal_rejected")
        }
        _ => return Err(AppError::NotFound),
    };
    session.data.flash = Some(match done {
        Ok(key) => t(lang, key),
        Err(RuntimeError::Conflict(_)) => t(lang, "worklist.changed_meanwhile"),
        Err(e) => return Err(e.into()),
    });
    session.finish(&app, &slug, Redirect::to(&back).into_response()).await
}

/// The operations page: deployments with their running cases, and dead-lettered jobs.
pub async fn operations(State(app): State<AppState>, Path(slug): Path<String>, visit: Visit) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    if !ctx.role.may_see_operations() || !ctx.own_staff() {
        return Err(AppError::Forbidden);
    }
    let mut conn = app.runtime.store.conn().await?;
    let mut failed = Vec::new();
    for job in rathaus_store::jobs::failed(&mut conn, &tenant.tenant_id, 200).await? {
        let reference =
            cases::by_id(&mut conn, &tenant.tenant_id, &job.case_id).await?.map(|c| c.reference).unwrap_or_default();
        failed.push(
            json!({"job_id": job.job_id, "case_id": job.case_id, "reference": reference, "element": job.element_id,
            "job_type": job.job_type, "error": job.last_error.unwrap_or_default(), "attempts": job.attempts}),
        );
    }
    let running = rathaus_store::deployments::running_instances(&mut conn, &tenant.tenant_id).await?;
    let deployments: Vec<Json> = rathaus_store::deployments::list(&mut conn, &tenant.tenant_id)
        .await?
        .into_iter()
        .map(|d| json!({"procedure": d.procedure_id, "version": d.version, "deployed_at": when(&d.deployed_at),
            "running": running.get(&d.deployment_id).copied().unwrap_or(0), "hash": d.content_hash.chars().take(12).collect::<String>()}))
        .collect();
    drop(conn);
    let body = render(
        "operations.html",
        context! { failed => failed, deployments => deployments, may_retry => ctx.role.may_retry_jobs(), ..base(lang, Some(&tenant), Some(&mut session)) },
    )?;
    session.finish(&app, &slug, html(body)).await
}

pub async fn retry_job(
    State(app): State<AppState>,
    Path((slug, job_id)): Path<(String, String)>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    if !ctx.role.may_retry_jobs() || !ctx.own_staff() {
        return Err(AppError::Forbidden);
    }
    match app.runtime.retry_failed_job(&tenant.tenant_id, &job_id, &actor(&ctx.staff)).await {
        Ok(()) => session.data.flash = Some(t(lang, "operations.retried")),
        Err(RuntimeError::Conflict(_)) => session.data.flash = Some(t(lang, "operations.already_retried")),
        Err(e) => return Err(e.into()),
    }
    session.finish(&app, &slug, Redirect::to(&format!("/{slug}/intern/betrieb")).into_response()).await
}

/// The complete case file as ZIP (documents, data, messages, timeline, audit trail and
/// checksums), for every staff role of the tenant.
pub async fn archive(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    export(app, slug, case_id, visit, Export::Zip).await
}

/// The complete case file as one PDF.
pub async fn archive_pdf(
    State(app): State<AppState>,
    Path((slug, case_id)): Path<(String, String)>,
    visit: Visit,
) -> AppResult<Response> {
    export(app, slug, case_id, visit, Export::Pdf).await
}

/// The forms a case file is downloaded in.
enum Export {
    Zip,
    Pdf,
}

/// A case file for download, for any staff member of the tenant (audited).
async fn export(app: AppState, slug: String, case_id: String, visit: Visit, format: Export) -> AppResult<Response> {
    let Visit { tenant, session, .. } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    visible_case(&app, &tenant, &ctx, &case_id).await?;
    let who = actor(&ctx.staff);
    let (made, media_type) = match format {
        Export::Zip => (app.runtime.case_archive(&tenant, &case_id, &who).await, "application/zip"),
        Export::Pdf => (app.runtime.case_file_pdf(&tenant, &case_id, &who).await, "application/pdf"),
    };
    let archive = match made {
        Ok(a) => a,
        Err(RuntimeError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let response = (
        [
            (axum::http::header::CONTENT_TYPE, media_type.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", archive.file_name)),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        archive.bytes,
    )
        .into_response();
    session.finish(&app, &slug, response).await
}
