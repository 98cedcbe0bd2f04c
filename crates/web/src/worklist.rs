//! The clerk's worklist (Arbeitsliste): the open tasks one may see, in lists (my tasks,
//! unassigned, the team's), filtered by procedure, channel, overdue and words, sorted;
//! and taking, giving back and assigning tasks. Who may do what is the domain's
//! (`rathaus_domain::role::Worker`); a change is refused when someone else was faster.

use crate::backoffice::{actor, case_worker, require_staff, with_assignment, StaffCtx};
use crate::error::{AppError, AppResult};
use crate::formview::Posted;
use crate::i18n::{t, tf};
use crate::portal::{base, html};
use crate::render::render;
use crate::visit::Visit;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use rathaus_domain::role::{check_absence, AbsenceProblem, View, Worker, ABSENCE_MAX_DAYS};
use rathaus_domain::time::german_date_time;
use rathaus_domain::{Lang, Role};
use rathaus_runtime::Reassign;
use rathaus_store::tasks::{self, Task, WorklistRow};
use rathaus_store::tenants::Tenant;
use rathaus_store::{cases, staff};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// Open tasks read for one worklist page at most.
const MAX_OPEN_TASKS: i64 = 5000;

fn when(ts: &str) -> String {
    rathaus_store::parse_ts(ts).map(german_date_time).unwrap_or_default()
}

/// The worklist's query: which list, filters, order.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    liste: Option<String>,
    verfahren: Option<String>,
    eingang: Option<String>,
    ueberfaellig: Option<String>,
    suche: Option<String>,
    sortierung: Option<String>,
    /// Words to find in all of the tenant's cases (not only those with open tasks).
    vorgang: Option<String>,
    /// Only tasks whose case's deadline light is this (`rot`, `gelb`, `gruen`).
    ampel: Option<String>,
}

impl Filter {
    fn value(v: &Option<String>) -> &str {
        v.as_deref().map(str::trim).unwrap_or("")
    }
}

pub async fn page(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(filter): Query<Filter>,
    visit: Visit,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let ctx = match require_staff(&app, &tenant, &session).await {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    let worker = ctx.worker();
    let now = app.runtime.clock.now();
    let mut conn = app.runtime.store.conn().await?;
    let mut rows = tasks::open_with_cases(&mut conn, &tenant.tenant_id, MAX_OPEN_TASKS).await?;
    rows.retain(|r| ctx.covers(&r.procedure_id));
    let colleagues = staff::active(&mut conn, &tenant.tenant_id).await?;
    let case_words = cases::search_words(Filter::value(&filter.vorgang));
    let listed = if case_words.is_empty() {
        cases::list(&mut conn, &tenant.tenant_id, None, 50).await?
    } else {
        cases::search(&mut conn, &tenant.tenant_id, &case_words, 100).await?
    };
    let recent: Vec<Json> = listed
        .into_iter()
        .filter(|c| ctx.covers(&c.procedure_id))
        .map(|c| json!({"case_id": c.case_id, "reference": c.reference, "applicant": c.applicant, "status": c.status, "status_label": t(lang, &format!("case_status.{}", c.status)), "received": crate::backoffice::received_label(&c)}))
        .collect();
    drop(conn);
    // Consultations whose deadline passed without a statement: the clerk has to chase or
    // decide without them.
    let overdue = app.runtime.overdue_consultations(&tenant, 20).await?;
    let overdue_ids: Vec<&str> = overdue.iter().map(|(c, _)| c.case_id.as_str()).collect();
    let visible_ids = crate::backoffice::visible_case_ids(&app, &tenant, &ctx, &overdue_ids).await?;
    let overdue_consultations: Vec<Json> = overdue
        .into_iter()
        .filter(|(c, _)| visible_ids.contains(&c.case_id))
        .map(|(c, reference)| {
            let due = chrono::NaiveDate::parse_from_str(&c.due_date, "%Y-%m-%d")
                .map(|d| d.format("%d.%m.%Y").to_string())
                .unwrap_or_else(|_| c.due_date.clone());
            json!({"case_id": c.case_id, "reference": reference,
                "text": crate::i18n::tf(lang, "consultation.overdue_line", &[("participant", &c.participant), ("date", &due)])})
        })
        .collect();

    // Every visible task with its list; the counts are of the lists before filtering.
    let visible: Vec<(View, &WorklistRow)> =
        rows.iter().filter_map(|r| with_assignment(&r.task, |a| worker.view_of(a)).map(|v| (v, r))).collect();
    let count = |v: View| visible.iter().filter(|(view, _)| *view == v).count();
    let list = Filter::value(&filter.liste);
    let chosen = View::parse(list);
    let mut names: HashMap<String, String> = HashMap::new();
    for (_, r) in &visible {
        if !names.contains_key(&r.deployment_id) {
            let name = app
                .runtime
                .procedure_of_deployment(&tenant.tenant_id, &r.deployment_id)
                .await
                .map(|p| p.manifest.name.get(lang).to_string())
                .unwrap_or_else(|_| r.procedure_id.clone());
            names.insert(r.deployment_id.clone(), name);
        }
    }
    // The filters offer what the visible tasks have.
    let procedures: BTreeMap<String, String> =
        visible.iter().map(|(_, r)| (r.procedure_id.clone(), names[&r.deployment_id].clone())).collect();
    let channels: BTreeMap<String, String> =
        visible.iter().map(|(_, r)| (r.channel.clone(), t(lang, &format!("channel.{}", r.channel)))).collect();

    // The traffic light of each visible task's case: its worst open deadline.
    let mut case_ids: Vec<&str> = visible.iter().map(|(_, r)| r.task.case_id.as_str()).collect();
    case_ids.sort_unstable();
    case_ids.dedup();
    let deadlines = app.runtime.open_deadlines_of(&tenant, &case_ids).await?;
    let light_of = |case_id: &str| crate::deadlines::case_light(lang, deadlines.get(case_id));
    let light = rathaus_domain::deadline::Light::parse(Filter::value(&filter.ampel)).map(|l| l.code());
    let (red, _, _) = app.runtime.deadline_counts(&tenant, &ctx.within()).await?;
    let procedure = Filter::value(&filter.verfahren);
    let channel = Filter::value(&filter.eingang);
    let overdue_only = Filter::value(&filter.ueberfaellig) == "1";
    let words = Filter::value(&filter.suche).to_lowercase();
    let due_of = |task: &Task| task.due_at.as_deref().and_then(|d| rathaus_store::parse_ts(d).ok());
    let mut shown: Vec<&WorklistRow> = visible
        .iter()
        .filter(|(view, _)| chosen.is_none_or(|c| c == *view))
        .map(|(_, r)| *r)
        .filter(|r| procedure.is_empty() || r.procedure_id == procedure)
        .filter(|r| channel.is_empty() || r.channel == channel)
        .filter(|r| !overdue_only || due_of(&r.task).is_some_and(|d| d < now))
        .filter(|r| light.is_none_or(|l| light_of(&r.task.case_id).is_some_and(|j| j["light"].as_str() == Some(l))))
        .filter(|r| {
            words.is_empty()
                || r.reference.to_lowercase().contains(&words)
                || r.applicant.to_lowercase().contains(&words)
                || r.task.name.to_lowercase().contains(&words)
        })
        .collect();
    let sort = Filter::value(&filter.sortierung);
    match sort {
        "eingang" => shown.sort_by(|a, b| a.task.created_at.cmp(&b.task.created_at)),
        "aktenzeichen" => shown.sort_by(|a, b| a.reference.cmp(&b.reference)),
        // By due date, tasks without one last, then by age.
        _ => shown.sort_by(|a, b| {
            (a.task.due_at.is_none(), &a.task.due_at, &a.task.created_at).cmp(&(
                b.task.due_at.is_none(),
                &b.task.due_at,
                &b.task.created_at,
            ))
        }),
    }
    let task_rows: Vec<Json> = shown
        .iter()
        .map(|r| {
            let task = &r.task;
            let reasons: Vec<String> = rathaus_store::json_of(&r.findings, "Prüfergebnisse")
                .ok()
                .and_then(|f| f.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|b| b["grund"].as_str().map(String::from))
                .collect();
            let (claim, release) = with_assignment(task, |a| {
                (worker.may_claim(a) || worker.may_take_over(a), worker.may_release(a))
            });
            json!({"case_id": task.case_id, "task_id": task.task_id, "reference": r.reference, "name": task.name,
                "applicant": r.applicant, "reasons": reasons, "since": when(&task.created_at),
                "procedure_name": names.get(&r.deployment_id), "due": task.due_at.as_deref().map(when),
                "overdue": due_of(task).is_some_and(|d| d < now), "follow_up": task.follow_up_at.as_deref().map(when),
                "follow_up_due": task.follow_up_at.as_deref().and_then(|d| rathaus_store::parse_ts(d).ok()).is_some_and(|d| d <= now),
                "assignee": task.assignee, "claim": claim, "release": release, "deadline": light_of(&task.case_id)})
        })
        .collect();
    let lists: Vec<Json> =
        [("alle", None), ("meine", Some(View::Mine)), ("offen", Some(View::Unassigned)), ("team", Some(View::Team))]
            .into_iter()
            .chain([("vertretung", Some(View::Deputy))])
            // Clerks do not see their colleagues' tasks: no team list for them; the deputy's
            // list only while standing in for someone.
            .filter(|(_, v)| *v != Some(View::Team) || matches!(ctx.role, Role::TeamLead | Role::Auditor))
            .filter(|(_, v)| *v != Some(View::Deputy) || !ctx.deputy_for.is_empty())
            .map(|(code, v)| {
                let n = v.map(count).unwrap_or(visible.len());
                json!({"code": code, "label": t(lang, &format!("worklist.list_{code}")), "count": n,
                "current": v == chosen && (v.is_some() || list.is_empty() || list == "alle")})
            })
            .collect();
    let heading = match chosen {
        Some(v) => t(lang, &format!("worklist.list_{}", v.code())),
        None => t(lang, "worklist.list_alle"),
    };
    let filtered = !procedure.is_empty() || !channel.is_empty() || overdue_only || !words.is_empty() || light.is_some();
    let bulk_assignees: Vec<Json> = if ctx.role == Role::TeamLead {
        colleagues_of(&app, &tenant, &ctx)
            .await?
            .into_iter()
            .filter(|c| c.role.may_decide())
            .map(|c| json!({"username": c.username, "name": c.name}))
            .collect()
    } else {
        Vec::new()
    };
    // The town's own staff reach the Zahlungsabgleich, with what waits there.
    let payments_link = if ctx.own_staff() {
        let mut conn = app.runtime.store.conn().await?;
        let waiting = rathaus_store::bank::unmatched_count(&mut conn, &tenant.tenant_id).await?;
        Some(if waiting > 0 {
            tf(lang, "payments.link_waiting", &[("n", &waiting.to_string())])
        } else {
            t(lang, "payments.link")
        })
    } else {
        None
    };
    let body = render(
        "worklist.html",
        context! {
            tasks => task_rows, payments_link => payments_link, cases => recent, overdue_consultations => overdue_consultations,
            case_search => Filter::value(&filter.vorgang), case_searched => !case_words.is_empty(),
            bulk_assignees => bulk_assignees,
            may_bulk => ctx.role.may_decide(),
            absence => absence_view(&ctx, &colleagues, lang), standing_in => ctx.deputy_for.iter()
                .map(|(_, name, until)| tf(lang, "absence.standing_in_for", &[("name", name), ("date", &rathaus_domain::time::german_day(until))])).collect::<Vec<_>>(), lists => lists, heading => heading, filtered => filtered,
            list => if chosen.is_some() { list } else { "alle" },
            procedures => procedures, channels => channels, procedure => procedure, channel => channel,
            light => light.unwrap_or(""), lights => rathaus_domain::deadline::Light::ALL.map(|l| json!({"code": l.code(), "label": t(lang, &format!("deadline.light_{}", l.code()))})),
            deadlines_link => if red > 0 { tf(lang, "deadline.link_red", &[("n", &red.to_string())]) } else { t(lang, "deadline.link") },
            overdue_only => overdue_only, words => Filter::value(&filter.suche), sort => if sort.is_empty() { "frist" } else { sort },
            sorts => ["frist", "eingang", "aktenzeichen"].map(|code| json!({"code": code, "label": t(lang, &format!("worklist.sort_{code}"))})),
            role_label => t(lang, &format!("role.{}", ctx.role.code())), may_see_operations => ctx.role.may_see_operations(), may_enter => ctx.role.may_decide(),
            ..base(lang, Some(&tenant), Some(&mut session))
        },
    )?;
    session.finish(&app, &slug, html(body)).await
}

/// Where to go after an action: back to the page it came from (the worklist with its
/// filters, or the case file), never elsewhere.
fn back_to(posted: &Posted, slug: &str) -> String {
    let back = posted.text("zurueck");
    let prefix = format!("/{slug}/intern/");
    if back.starts_with(&prefix) && !back.contains("//") && !back.contains('\\') {
        back
    } else {
        prefix
    }
}

/// A resubmission date as typed (empty: none), after today and within
/// [`rathaus_runtime::tasks::FOLLOW_UP_MAX_DAYS`]; or what is wrong with it.
fn follow_up_date(app: &AppState, lang: Lang, typed: &str) -> Result<Option<chrono::NaiveDate>, String> {
    use rathaus_domain::request::{check_ahead, DueProblem};
    use rathaus_runtime::tasks::FOLLOW_UP_MAX_DAYS;
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let d = rathaus_domain::time::parse_day(typed).ok_or_else(|| t(lang, "case.follow_up_invalid"))?;
    match check_ahead(app.runtime.clock.now(), d, FOLLOW_UP_MAX_DAYS) {
        Ok(()) => Ok(Some(d)),
        Err(DueProblem::NotInFuture) => Err(t(lang, "case.follow_up_not_future")),
        Err(DueProblem::TooFar) => Err(tf(lang, "case.follow_up_too_far", &[("n", &FOLLOW_UP_MAX_DAYS.to_string())])),
    }
}

/// The most tasks one bulk action changes.
const MAX_BULK: usize = 200;

/// A bulk action on the chosen tasks of the worklist (Sammelbearbeitung): take, give back,
/// set a resubmission date, or (team leads) assign. Only what is safe to do in bulk: each
/// task is changed exactly as its own button would (same checks, compare-and-set, audit),
/// and a task the person may not change, or that changed meanwhile, is skipped and counted.
pub async fn bulk(
    State(app): State<AppState>,
    Path(slug): Path<String>,
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
    let back = Redirect::to(&back_to(&posted, &slug)).into_response();
    let chosen: Vec<String> = posted.all("aufgaben").into_iter().map(String::from).take(MAX_BULK).collect();
    let action = posted.text("aktion");
    let problem = if chosen.is_empty() {
        Some(t(lang, "worklist.bulk_none_chosen"))
    } else if !matches!(action.as_str(), "uebernehmen" | "freigeben" | "wiedervorlage" | "zuweisen") {
        Some(t(lang, "worklist.bulk_action_missing"))
    } else {
        None
    };
    let date = if action == "wiedervorlage" { follow_up_date(&app, lang, &posted.text("datum")) } else { Ok(None) };
    let problem = problem.or(date.as_ref().err().cloned());
    let to = posted.text("an");
    let target = if action == "zuweisen" {
        colleagues_of(&app, &tenant, &ctx).await?.into_iter().find(|c| c.username == to)
    } else {
        None
    };
    let problem = problem.or_else(|| match action.as_str() {
        "zuweisen" if ctx.role != Role::TeamLead => Some(t(lang, "worklist.bulk_assign_team_lead")),
        "zuweisen" if target.is_none() => Some(t(lang, "worklist.assignee_unknown")),
        _ => None,
    });
    if let Some(problem) = problem {
        session.data.flash = Some(problem);
        return session.finish(&app, &slug, back).await;
    }
    let date = date.unwrap_or(None);
    let target_worker = target.as_ref().map(Colleague::worker);
    let who = actor(&ctx.staff);
    let me = ctx.staff.username.as_str();
    let mut done = 0;
    for task_id in &chosen {
        let Ok(task) = task_for(&app, &tenant, &ctx, task_id).await else { continue };
        let worker = ctx.worker();
        let change = with_assignment(&task, |a| match action.as_str() {
            "uebernehmen" if worker.may_claim(a) => Some(Reassign::Claim { by: me }),
            "uebernehmen" if worker.may_take_over(a) => {
                task.assignee.as_deref().map(|from| Reassign::TakeOver { from, by: me })
            }
            "freigeben" if worker.may_release(a) => task.assignee.as_deref().map(|from| Reassign::Release { from }),
            "zuweisen" => target_worker
                .as_ref()
                .filter(|w| worker.may_assign(a, w) && a.assignee != Some(w.username))
                .map(|w| Reassign::Assign { from: task.assignee.as_deref(), to: w.username }),
            _ => None,
        });
        let changed = match (action.as_str(), change) {
            ("wiedervorlage", _) if crate::backoffice::may_work_on(&ctx, &task) => {
                app.runtime.set_follow_up(&tenant.tenant_id, &task.task_id, date, &who).await?
            }
            (_, Some(change)) => app.runtime.reassign_task(&tenant.tenant_id, &task.task_id, change, &who).await?,
            _ => false,
        };
        if changed {
            done += 1;
        }
    }
    let skipped = chosen.len() - done;
    let mut message = tf(
        lang,
        &format!("worklist.bulk_done_{action}"),
        &[("n", &done.to_string()), ("of", &chosen.len().to_string())],
    );
    if skipped > 0 {
        message.push(' ');
        message.push_str(&tf(lang, "worklist.bulk_skipped", &[("n", &skipped.to_string())]));
    }
    session.data.flash = Some(message);
    session.finish(&app, &slug, back).await
}

/// Loads an open task of a case this person may see.
async fn task_for(app: &AppState, tenant: &Tenant, ctx: &StaffCtx, task_id: &str) -> AppResult<Task> {
    let mut conn = app.runtime.store.conn().await?;
    let task = tasks::by_id(&mut conn, &tenant.tenant_id, task_id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    if task.status != "open" {
        return Err(AppError::NotFound);
    }
    crate::backoffice::visible_case(app, tenant, ctx, &task.case_id).await?;
    Ok(task)
}

/// Someone a team lead can give tasks to.
pub(crate) struct Colleague {
    pub username: String,
    pub name: String,
    pub role: Role,
    units: Vec<String>,
    every_group: bool,
}

impl Colleague {
    fn worker(&self) -> Worker<'_> {
        Worker {
            role: self.role,
            username: &self.username,
            org_units: &self.units,
            deputy_for: &[],
            every_group: self.every_group,
        }
    }
}

/// The people this person distributes work among: the town's active staff for the town's
/// own; the centre's staff under the same delegation for a centre's staff member (each side
/// distributes its own people).
pub(crate) async fn colleagues_of(app: &AppState, tenant: &Tenant, ctx: &StaffCtx) -> AppResult<Vec<Colleague>> {
    if let Some(d) = &ctx.delegation {
        return Ok(app
            .runtime
            .delegates_of(tenant, d)
            .await?
            .into_iter()
            .map(|d| Colleague {
                username: d.username(),
                name: d.display_name(),
                role: d.role,
                units: Vec::new(),
                every_group: true,
            })
            .collect());
    }
    let mut conn = app.runtime.store.conn().await?;
    Ok(staff::active(&mut conn, &tenant.tenant_id)
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(Colleague {
                role: Role::parse(&s.role)?,
                units: s.org_unit_list(),
                username: s.username,
                name: s.display_name,
                every_group: false,
            })
        })
        .collect())
}

async fn finish_change(
    app: &AppState,
    ctx: &StaffCtx,
    tenant_id: &str,
    task: &Task,
    change: Reassign<'_>,
    lang: Lang,
    done_key: &str,
) -> AppResult<String> {
    Ok(if app.runtime.reassign_task(tenant_id, &task.task_id, change, &actor(&ctx.staff)).await? {
        t(lang, done_key)
    } else {
        t(lang, "worklist.changed_meanwhile")
    })
}

/// „Übernehmen“: the clerk takes an unassigned task.
pub async fn claim(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
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
    let task = task_for(&app, &tenant, &ctx, &task_id).await?;
    let message = match &task.assignee {
        // A deputy takes over the absent colleague's task.
        Some(who) if with_assignment(&task, |a| ctx.worker().may_take_over(a)) => {
            let change = Reassign::TakeOver { from: who, by: &ctx.staff.username };
            finish_change(&app, &ctx, &tenant.tenant_id, &task, change, lang, "worklist.claimed").await?
        }
        Some(who) if who != &ctx.staff.username => tf(lang, "worklist.taken_by", &[("name", who)]),
        Some(_) => t(lang, "worklist.claimed"),
        None => {
            if !with_assignment(&task, |a| ctx.worker().may_claim(a)) {
                return Err(AppError::Forbidden);
            }
            let change = Reassign::Claim { by: &ctx.staff.username };
            finish_change(&app, &ctx, &tenant.tenant_id, &task, change, lang, "worklist.claimed").await?
        }
    };
    session.data.flash = Some(message);
    let back = back_to(&posted, &slug);
    session.finish(&app, &slug, Redirect::to(&back).into_response()).await
}

/// „Freigeben“: the assignee (or a team lead) gives the task back to the team.
pub async fn release(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
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
    let task = task_for(&app, &tenant, &ctx, &task_id).await?;
    let Some(from) = task.assignee.clone() else {
        session.data.flash = Some(t(lang, "worklist.changed_meanwhile"));
        let back = back_to(&posted, &slug);
        return session.finish(&app, &slug, Redirect::to(&back).into_response()).await;
    };
    if !with_assignment(&task, |a| ctx.worker().may_release(a)) {
        return Err(AppError::Forbidden);
    }
    let change = Reassign::Release { from: &from };
    session.data.flash =
        Some(finish_change(&app, &ctx, &tenant.tenant_id, &task, change, lang, "worklist.released").await?);
    let back = back_to(&posted, &slug);
    session.finish(&app, &slug, Redirect::to(&back).into_response()).await
}

/// „Zuweisen“: a team lead gives the task to a colleague it is for.
pub async fn assign(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
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
    // Only team leads assign; the checks of whom to come after.
    if ctx.role != Role::TeamLead {
        return Err(AppError::Forbidden);
    }
    let task = task_for(&app, &tenant, &ctx, &task_id).await?;
    let typed = posted.text("an");
    let to = colleagues_of(&app, &tenant, &ctx).await?.into_iter().find(|c| c.username == typed);
    let Some(to) = to else {
        session.data.flash = Some(t(lang, "worklist.assignee_unknown"));
        let back = back_to(&posted, &slug);
        return session.finish(&app, &slug, Redirect::to(&back).into_response()).await;
    };
    let allowed = with_assignment(&task, |a| ctx.worker().may_assign(a, &to.worker()));
    if !allowed {
        session.data.flash = Some(tf(lang, "worklist.not_for", &[("name", &to.name)]));
        let back = back_to(&posted, &slug);
        return session.finish(&app, &slug, Redirect::to(&back).into_response()).await;
    }
    let change = Reassign::Assign { from: task.assignee.as_deref(), to: &to.username };
    let message = if app.runtime.reassign_task(&tenant.tenant_id, &task.task_id, change, &actor(&ctx.staff)).await? {
        tf(lang, "worklist.assigned", &[("name", &to.name)])
    } else {
        t(lang, "worklist.changed_meanwhile")
    };
    session.data.flash = Some(message);
    let back = back_to(&posted, &slug);
    session.finish(&app, &slug, Redirect::to(&back).into_response()).await
}

/// The absence form of the worklist: the own absence, if any, and the colleagues who can
/// stand in (active, and doing case work); none for those who do no case work.
fn absence_view(ctx: &StaffCtx, colleagues: &[staff::Staff], lang: Lang) -> Option<Json> {
    if !ctx.role.may_decide() || !ctx.own_staff() {
        return None;
    }
    let deputies: Vec<Json> = colleagues
        .iter()
        .filter(|c| c.username != ctx.staff.username)
        .filter(|c| Role::parse(&c.role).is_some_and(Role::may_decide))
        .map(|c| json!({"username": c.username, "name": c.display_name}))
        .collect();
    let current = ctx.absence.as_ref().map(|(until, deputy)| {
        let name = colleagues.iter().find(|c| &c.username == deputy).map(|c| c.display_name.as_str()).unwrap_or(deputy);
        tf(lang, "absence.current", &[("date", &rathaus_domain::time::german_day(until)), ("name", name)])
    });
    // A team lead records and ends the absences of their team (someone falls ill and
    // cannot do it themselves).
    let today = rathaus_domain::time::german_today(chrono::Utc::now()).format("%Y-%m-%d").to_string();
    let team: Vec<Json> = team_of(ctx, colleagues)
        .map(|c| {
            let away = c.absent_until.as_deref().filter(|u| *u >= today.as_str()).zip(c.deputy.as_deref()).map(
                |(until, deputy)| {
                    let name = colleagues
                        .iter()
                        .find(|d| d.username == deputy)
                        .map(|d| d.display_name.as_str())
                        .unwrap_or(deputy);
                    tf(
                        lang,
                        "absence.current_of",
                        &[("who", &c.display_name), ("date", &rathaus_domain::time::german_day(until)), ("name", name)],
                    )
                },
            );
            json!({"username": c.username, "name": c.display_name, "away": away})
        })
        .collect();
    Some(json!({"deputies": deputies, "current": current, "team": team, "all": colleagues.iter()
        .filter(|c| Role::parse(&c.role).is_some_and(Role::may_decide))
        .map(|c| json!({"username": c.username, "name": c.display_name})).collect::<Vec<_>>()}))
}

/// The colleagues a team lead answers for: active clerks and team leads (not the lead)
/// sharing one of the lead's organisational units, or all of them if the lead has none.
fn team_of<'a>(ctx: &'a StaffCtx, colleagues: &'a [staff::Staff]) -> impl Iterator<Item = &'a staff::Staff> + 'a {
    colleagues.iter().filter(move |c| {
        ctx.role == Role::TeamLead
            && c.username != ctx.staff.username
            && c.active == 1
            && Role::parse(&c.role).is_some_and(Role::may_decide)
            && (ctx.org_units.is_empty() || c.org_unit_list().iter().any(|u| ctx.org_units.contains(u)))
    })
}

/// Records or ends the own absence (Abwesenheit) with a deputy.
pub async fn absence(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    visit: Visit,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let Visit { lang, tenant, mut session } = visit;
    let posted = Posted::new(pairs);
    session.verify_csrf(posted.get("_csrf"))?;
    let ctx = match case_worker(&app, &tenant, &session).await? {
        Ok(c) => c,
        Err(r) => return session.finish(&app, &slug, r).await,
    };
    // A centre's staff record their absence at the centre.
    if !ctx.own_staff() {
        return Err(AppError::Forbidden);
    }
    let back = Redirect::to(&format!("/{slug}/intern/#abwesenheit")).into_response();
    // Whose absence: one's own, or (team leads) a team member's.
    let mut conn = app.runtime.store.conn().await?;
    let colleagues = staff::active(&mut conn, &tenant.tenant_id).await?;
    drop(conn);
    let whom = posted.text("fuer");
    let (absent_id, absent_username, absent_name) = if whom.is_empty() || whom == ctx.staff.username {
        (ctx.staff.staff_id.clone(), ctx.staff.username.clone(), None)
    } else {
        let Some(member) = team_of(&ctx, &colleagues).find(|c| c.username == whom) else {
            return Err(AppError::Forbidden);
        };
        (member.staff_id.clone(), member.username.clone(), Some(member.display_name.clone()))
    };
    if posted.get("_action") == Some("beenden") {
        app.runtime.set_absence(&tenant.tenant_id, &absent_id, None, &actor(&ctx.staff)).await?;
        session.data.flash = Some(match &absent_name {
            None => t(lang, "absence.ended"),
            Some(name) => tf(lang, "absence.ended_of", &[("who", name)]),
        });
        return session.finish(&app, &slug, back).await;
    }
    let typed = posted.text("bis");
    let today = rathaus_domain::time::german_today(app.runtime.clock.now());
    let until = rathaus_domain::time::parse_day(&typed).ok_or(());
    let chosen = posted.text("vertretung");
    let deputy = colleagues
        .iter()
        .find(|d| d.username == chosen && d.username != absent_username)
        .filter(|d| Role::parse(&d.role).is_some_and(Role::may_decide))
        .cloned();
    let problem = match (&until, &deputy) {
        _ if typed.is_empty() => Some(t(lang, "absence.until_missing")),
        (Err(_), _) => Some(t(lang, "absence.until_invalid")),
        (Ok(d), _) if check_absence(today, *d) == Err(AbsenceProblem::Past) => Some(t(lang, "absence.until_past")),
        (Ok(d), _) if check_absence(today, *d).is_err() => {
            Some(tf(lang, "absence.until_too_far", &[("n", &ABSENCE_MAX_DAYS.to_string())]))
        }
        (_, None) => Some(t(lang, "absence.deputy_missing")),
        _ => None,
    };
    if let Some(problem) = problem {
        session.data.flash = Some(problem);
        return session.finish(&app, &slug, back).await;
    }
    let (Ok(until), Some(deputy)) = (until, deputy) else { return Err(AppError::Forbidden) };
    app.runtime.set_absence(&tenant.tenant_id, &absent_id, Some((until, &deputy.username)), &actor(&ctx.staff)).await?;
    let date = until.format("%d.%m.%Y").to_string();
    session.data.flash = Some(match &absent_name {
        None => tf(lang, "absence.recorded", &[("date", &date), ("name", &deputy.display_name)]),
        Some(who) => tf(lang, "absence.recorded_of", &[("who", who), ("date", &date), ("name", &deputy.display_name)]),
    });
    session.finish(&app, &slug, back).await
}

/// The colleagues a team lead can give `task` to (for the case file's assign form).
pub(crate) async fn assignable(app: &AppState, tenant: &Tenant, ctx: &StaffCtx, task: &Task) -> AppResult<Vec<Json>> {
    if ctx.role != Role::TeamLead {
        return Ok(Vec::new());
    }
    Ok(colleagues_of(app, tenant, ctx)
        .await?
        .iter()
        .filter(|c| Some(c.username.as_str()) != task.assignee.as_deref())
        .filter(|c| with_assignment(task, |a| ctx.worker().may_assign(a, &c.worker())))
        .map(|c| json!({"username": c.username, "name": c.name}))
        .collect())
}

/// „Wiedervorlage“: whoever may work on the task puts it for resubmission on a date, or
/// clears the date.
pub async fn follow_up(
    State(app): State<AppState>,
    Path((slug, task_id)): Path<(String, String)>,
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
    let task = task_for(&app, &tenant, &ctx, &task_id).await?;
    if !crate::backoffice::may_work_on(&ctx, &task) {
        return Err(AppError::Forbidden);
    }
    let typed = posted.text("datum");
    let date = follow_up_date(&app, lang, &typed);
    let case_path = format!("/{slug}/intern/vorgaenge/{}", task.case_id);
    let date = match date {
        Ok(d) => d,
        Err(problem) => {
            let forms = crate::backoffice::CaseForms {
                follow_up: Some((task_id.clone(), typed, problem)),
                ..Default::default()
            };
            let body =
                crate::backoffice::render_case_with(&app, &tenant, &mut session, &ctx, &task.case_id, lang, forms)
                    .await?;
            return session
                .finish(
                    &app,
                    &slug,
                    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, axum::response::Html(body)).into_response(),
                )
                .await;
        }
    };
    session.data.flash =
        Some(if app.runtime.set_follow_up(&tenant.tenant_id, &task_id, date, &actor(&ctx.staff)).await? {
            match date {
                Some(d) => tf(lang, "case.follow_up_set", &[("date", &d.format("%d.%m.%Y").to_string())]),
                None => t(lang, "case.follow_up_cleared"),
            }
        } else {
            t(lang, "worklist.changed_meanwhile")
        });
    session.finish(&app, &slug, Redirect::to(&case_path).into_response()).await
}
