//! Entity pages (what the knowledge base knows, and where it was seen) and the sources
//! page (collection health, enable and disable).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use threatdesk_model::{
    Bulletin, BulletinId, BulletinStatus, Entity, EntityId, FindingKind, Role, Source, SourceHealth, SourceId,
};
use threatdesk_store::{
    Accounts, CollectionProblem, Newsletter, SearchQuery, SearchScope, Store, StorySummary,
};

use crate::auth::CurrentUser;
use crate::pages::html;
use crate::{AppError, AppState, DESK};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntityQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "entities.html")]
struct EntitiesPage {
    me: CurrentUser,
    q: String,
    found: Vec<(i64, String, &'static str, String)>,
}

/// Search the knowledge base by name or alias; a name that means exactly one entity goes
/// straight to its page.
pub(crate) async fn entities(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(query): Query<EntityQuery>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    let q = query.q.trim().to_owned();
    let kb = state.knowledge();
    if !q.is_empty() {
        let exact = kb.lookup(&q);
        if let [only] = exact.as_slice() {
            return Ok(Redirect::to(&format!("{DESK}/entities/{}", only.id.0)).into_response());
        }
    }
    let found = if q.is_empty() {
        Vec::new()
    } else {
        kb.search(&q, None)
            .into_iter()
            .take(50)
            .map(|e| {
                let aliases: Vec<&str> = e
                    .aliases
                    .iter()
                    .map(|a| a.name.as_str())
                    .filter(|n| *n != e.canonical_name)
                    .take(6)
                    .collect();
                (
                    e.id.0,
                    e.canonical_name.clone(),
                    e.kind.as_str(),
                    aliases.join(", "),
                )
            })
            .collect()
    };
    Ok(html(EntitiesPage { me, q, found })?.into_response())
}

#[derive(Template)]
#[template(path = "entity.html")]
struct EntityPage {
    me: CurrentUser,
    entity: Entity,
    aliases: Vec<(String, String)>,
    relations: Vec<(String, i64, String)>,
    stories: Vec<StorySummary>,
    bulletins: Vec<Bulletin>,
}

pub(crate) async fn entity(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let kb = state.knowledge();
    let entity = kb.get(EntityId(id)).cloned().ok_or(AppError::NotFound)?;
    let mut aliases: Vec<(String, String)> = entity
        .aliases
        .iter()
        .map(|a| (a.name.clone(), a.provenance.clone()))
        .collect();
    aliases.sort();
    aliases.dedup_by(|a, b| a.0 == b.0);
    let relations = entity
        .relations
        .iter()
        .filter_map(|r| {
            kb.get(r.target)
                .map(|t| (r.kind.as_str().to_owned(), t.id.0, t.canonical_name.clone()))
        })
        .collect();
    let name = entity.canonical_name.clone();
    let ceiling = me.user.tlp_ceiling;
    let (stories, bulletin_ids) = state
        .db(move |s| {
            let mut stories: Vec<StorySummary> = Vec::new();
            for item in s
                .items_with_finding(FindingKind::EntityMention, &name)?
                .into_iter()
                .take(500)
            {
                if let Some(story) = s.story_of_item(item)?
                    && !stories.iter().any(|known| known.id == story)
                    && let Some(summary) = s.story(story)?.filter(|st| st.tlp <= ceiling)
                {
                    stories.push(summary);
                }
            }
            stories.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
            stories.truncate(100);
            let phrase = format!("\"{}\"", name.replace('"', " "));
            let hits = s.search(&SearchQuery {
                text: phrase,
                scope: SearchScope::Bulletins,
                limit: Some(50),
                ..Default::default()
            });
            let bulletins = match hits {
                Ok(results) => results.hits.into_iter().map(|h| h.id).collect(),
                Err(_) => Vec::new(),
            };
            Ok((stories, bulletins))
        })
        .await?;
    let bulletins = state
        .db(move |s| {
            let mut found = Vec::new();
            for id in bulletin_ids {
                if let Some(b) = s.bulletin(BulletinId(id))? {
                    found.push(b);
                }
            }
            Ok(found)
        })
        .await?
        .into_iter()
        .filter(|b| {
            b.content.tlp <= me.user.tlp_ceiling
                && (me.user.role >= Role::Analyst || b.status == BulletinStatus::Published)
        })
        .collect();
    html(EntityPage {
        me,
        entity,
        aliases,
        relations,
        stories,
        bulletins,
    })
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    me: CurrentUser,
    sources: Vec<(Source, SourceHealth)>,
    problems: Vec<(String, CollectionProblem)>,
}

/// Every source with its collection health, and the latest problems.
pub(crate) async fn sources(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Html<String>, AppError> {
    me.require(Role::Admin)?;
    let (sources, problems) = state
        .db(|s| {
            let sources = s.list_source_health()?;
            let mut problems = Vec::new();
            for (source, _) in &sources {
                for problem in s.collection_problems(source.id, 5)? {
                    problems.push((source.spec.name.clone(), problem));
                }
            }
            problems.sort_by_key(|p| std::cmp::Reverse(p.1.at));
            problems.truncate(50);
            Ok((sources, problems))
        })
        .await?;
    html(SourcesPage {
        me,
        sources,
        problems,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnableForm {
    #[serde(default)]
    csrf: String,
    enabled: bool,
}

pub(crate) async fn set_source_enabled(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<EnableForm>,
) -> Result<Redirect, AppError> {
    me.require(Role::Admin)?;
    me.check_csrf(&form.csrf)?;
    state
        .db(move |s| {
            let Some(source) = s.source(SourceId(id))? else {
                return Err(threatdesk_store::StoreError::NotFound { what: "source", id });
            };
            let mut spec = source.spec;
            spec.enabled = form.enabled;
            s.update_source(source.id, &spec)
        })
        .await?;
    tracing::info!(source = id, enabled = form.enabled, by = %me.user.username, "source switched");
    Ok(Redirect::to(&format!("{DESK}/sources")))
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    me: CurrentUser,
    users: Vec<threatdesk_model::User>,
    /// A password just generated, with its account: shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
}

/// The accounts, with forms to add one, disable or enable one, and reset a password.
pub(crate) async fn users(State(state): State<AppState>, me: CurrentUser) -> Result<Html<String>, AppError> {
    me.require(Role::Admin)?;
    let users = state.db(|s| s.list_users()).await?;
    html(UsersPage {
        me,
        users,
        created: None,
        error: None,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    csrf: String,
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    tlp_ceiling: String,
}

/// Creates an account with a generated password, shown once on the page that answers.
pub(crate) async fn create_user(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<NewUserForm>,
) -> Result<Response, AppError> {
    me.require(Role::Admin)?;
    me.check_csrf(&form.csrf)?;
    let bad = |e: threatdesk_model::ParseError| AppError::BadRequest(e.to_string());
    let username = form.username.trim().to_owned();
    let role: Role = form.role.parse().map_err(bad)?;
    let tlp_ceiling: threatdesk_model::Tlp = form.tlp_ceiling.parse().map_err(bad)?;
    let password = crate::auth::generate_password()?;
    let hash = crate::auth::hash_password_off_thread(password.clone()).await?;
    let display_name = match form.display_name.trim() {
        "" => username.clone(),
        name => name.to_owned(),
    };
    let user = threatdesk_store::NewUser {
        username: username.clone(),
        display_name,
        role,
        tlp_ceiling,
    };
    // The store checks the name (form, uniqueness); its refusal is shown on the form.
    let outcome = match state.db(move |s| s.create_user(&user, &hash)).await {
        Ok(_) => Ok(()),
        Err(AppError::BadRequest(message)) => Err(message),
        Err(other) => return Err(other),
    };
    let users = state.db(|s| s.list_users()).await?;
    let (created, error, status) = match outcome {
        Ok(()) => {
            tracing::info!(%username, role = role.as_str(), by = %me.user.username, "account created");
            (Some((username, password)), None, axum::http::StatusCode::OK)
        }
        Err(message) => (None, Some(message), axum::http::StatusCode::UNPROCESSABLE_ENTITY),
    };
    let page = html(UsersPage {
        me,
        users,
        created,
        error,
    })?;
    Ok((status, page).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserActionForm {
    #[serde(default)]
    csrf: String,
    /// `disable`, `enable` or `reset`.
    action: String,
}

/// Disables or enables an account, or gives it a new generated password (shown once).
pub(crate) async fn user_action(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<UserActionForm>,
) -> Result<Response, AppError> {
    me.require(Role::Admin)?;
    me.check_csrf(&form.csrf)?;
    let user_id = threatdesk_model::UserId(id);
    let target = state
        .db(move |s| s.user(user_id))
        .await?
        .ok_or(AppError::NotFound)?;
    if target.id == me.user.id && form.action != "reset" {
        return Err(AppError::BadRequest("you cannot disable your own account".into()));
    }
    let mut created = None;
    match form.action.as_str() {
        "disable" | "enable" => {
            let disabled = form.action == "disable";
            state.db(move |s| s.set_user_disabled(user_id, disabled)).await?;
        }
        "reset" => {
            let password = crate::auth::generate_password()?;
            let hash = crate::auth::hash_password_off_thread(password.clone()).await?;
            state.db(move |s| s.set_password(user_id, &hash)).await?;
            created = Some((target.username.clone(), password));
        }
        other => return Err(AppError::BadRequest(format!("unknown action {other:?}"))),
    }
    tracing::info!(user = %target.username, action = %form.action, by = %me.user.username, "account changed");
    if created.is_none() {
        return Ok(Redirect::to(&format!("{DESK}/users")).into_response());
    }
    let users = state.db(|s| s.list_users()).await?;
    Ok(html(UsersPage {
        me,
        users,
        created,
        error: None,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "newsletter.html")]
struct NewsletterPage {
    me: CurrentUser,
    sending: bool,
    subscriptions: Vec<threatdesk_model::Subscription>,
    mail: Vec<threatdesk_store::Mail>,
    counts: Vec<(String, u64)>,
}

/// Subscriptions, the send log, and a form to add a partner address with a clearance.
pub(crate) async fn newsletter(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Html<String>, AppError> {
    me.require(Role::Admin)?;
    let (subscriptions, mail, counts) = state
        .db(|s| Ok((s.list_subscriptions()?, s.list_mail(100)?, s.mail_counts()?)))
        .await?;
    html(NewsletterPage {
        me,
        sending: state.config().mail_enabled,
        subscriptions,
        mail,
        counts: counts.into_iter().collect(),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscriptionForm {
    #[serde(default)]
    csrf: String,
    email: String,
    cadence: String,
    tlp_ceiling: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    confirmed: String,
}

/// Adds (or updates) an address with the clearance an admin gives it.
pub(crate) async fn add_subscription(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<SubscriptionForm>,
) -> Result<Response, AppError> {
    me.require(Role::Admin)?;
    me.check_csrf(&form.csrf)?;
    let bad = |e: threatdesk_model::ParseError| AppError::BadRequest(e.to_string());
    let email = form.email.trim().to_owned();
    if !crate::newsletter::valid_email(&email) {
        return Err(AppError::BadRequest(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    let request = threatdesk_store::NewSubscription {
        email,
        topics: threatdesk_model::Topics {
            tags: crate::newsletter::tag_list(&form.tags),
            ..threatdesk_model::Topics::default()
        },
        cadence: form.cadence.parse().map_err(bad)?,
        tlp_ceiling: Some(form.tlp_ceiling.parse().map_err(bad)?),
        confirmed: form.confirmed == "yes",
    };
    state.db(move |s| s.subscribe(&request)).await?;
    Ok(Redirect::to(&format!("{DESK}/newsletter")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Ends a subscription on an admin's word (its queued messages are cancelled).
pub(crate) async fn end_subscription(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    me.require(Role::Admin)?;
    me.check_csrf(&form.csrf)?;
    let found = state
        .db(move |s| s.unsubscribe(threatdesk_model::SubscriptionId(id)))
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("{DESK}/newsletter")).into_response())
}
