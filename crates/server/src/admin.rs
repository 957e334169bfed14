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
use threatdesk_store::{CollectionProblem, SearchQuery, SearchScope, Store, StorySummary};

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
