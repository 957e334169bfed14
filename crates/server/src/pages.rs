//! The triage pages: inbox, story, item; static files and the error page.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use threatdesk_model::{Finding, Item, ItemId, Role, SourceId, StoryId, Tlp};
use threatdesk_store::{
    Accounts, SearchQuery, SearchScope, Store, StoryFilter, StoryMark, StoryMember, StorySummary,
};

use crate::auth::CurrentUser;
use crate::render;
use crate::{AppError, AppState, DESK};

/// Renders a page template.
pub(crate) fn html(page: impl Template) -> Result<Html<String>, AppError> {
    page.render()
        .map(Html)
        .map_err(|e| AppError::Internal(format!("template: {e}")))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> String {
    ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
    }
    .render()
    .unwrap_or_else(|_| render::escape(message))
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.js"),
    )
        .into_response()
}

/// The inbox's filters, from the query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InboxQuery {
    /// Full-text search over the items.
    #[serde(default)]
    q: String,
    /// Time window in days (default 7; 0 for all time).
    days: Option<u32>,
    /// `newest` (default) or `hottest`.
    #[serde(default)]
    sort: String,
    /// `unread`, `read`, `important` or empty.
    #[serde(default)]
    show: String,
    /// Only stories mentioning this entity.
    #[serde(default)]
    entity: String,
    /// Only stories with an item from this source.
    #[serde(default)]
    source: String,
    /// Only stories with an item from a source with this tag.
    #[serde(default)]
    tag: String,
    /// Only stories with an item from this kind of source (`feed`, `web_page`, `file`, `manual`).
    #[serde(default)]
    kind: String,
}

/// One inbox row.
pub(crate) struct InboxRow {
    story: StorySummary,
    mark: StoryMark,
    sources: Vec<String>,
    tags: Vec<String>,
    kinds: Vec<&'static str>,
    entities: Vec<String>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    me: CurrentUser,
    query: InboxQuery,
    days: u32,
    rows: Vec<InboxRow>,
    entity_facets: Vec<(String, usize)>,
    source_facets: Vec<(String, usize)>,
    tag_facets: Vec<(String, usize)>,
    search_total: Option<u64>,
}

pub(crate) async fn inbox(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(query): Query<InboxQuery>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let days = query.days.unwrap_or(7);
    let since = (days > 0).then(|| Utc::now() - Duration::days(i64::from(days)));
    let ceiling = me.user.tlp_ceiling;
    let user_id = me.user.id;
    let by_hotness = query.sort == "hottest";
    let text = query.q.trim().to_owned();
    let (stories, search_total) = state
        .db(move |s| {
            if text.is_empty() {
                let stories = s.list_stories(&StoryFilter {
                    since,
                    by_hotness,
                    tlp_ceiling: Some(ceiling),
                    limit: Some(200),
                })?;
                return Ok((stories, None));
            }
            let results = s.search(&SearchQuery {
                text,
                scope: SearchScope::Items,
                documents: threatdesk_store::DocumentFilter {
                    since,
                    tlp_ceiling: Some(ceiling),
                    ..Default::default()
                },
                limit: Some(200),
                ..Default::default()
            })?;
            let mut seen = Vec::new();
            let mut stories = Vec::new();
            for hit in &results.hits {
                if let Some(story) = s.story_of_item(ItemId(hit.id))?
                    && !seen.contains(&story)
                {
                    seen.push(story);
                    if let Some(summary) = s.story(story)?.filter(|st| st.tlp <= ceiling) {
                        stories.push(summary);
                    }
                }
            }
            Ok((stories, Some(results.total)))
        })
        .await?;
    let ids: Vec<StoryId> = stories.iter().map(|s| s.id).collect();
    let details = state
        .db(move |s| {
            let marks = s.story_marks(user_id, &ids)?;
            // Each source's name, tags and kind, by id.
            let known_sources: HashMap<SourceId, (String, Vec<String>, &'static str)> = s
                .list_sources()?
                .into_iter()
                .map(|src| (src.id, (src.spec.name, src.spec.tags, src.spec.kind.as_str())))
                .collect();
            let mut details = HashMap::new();
            for (id, facets) in s.story_facets(&ids)? {
                let of_story: Vec<&(String, Vec<String>, &'static str)> = facets
                    .sources
                    .iter()
                    .filter_map(|source| known_sources.get(source))
                    .collect();
                let mut sources: Vec<String> = of_story.iter().map(|(name, _, _)| name.clone()).collect();
                sources.sort();
                sources.dedup();
                let mut tags: Vec<String> = of_story.iter().flat_map(|(_, tags, _)| tags.clone()).collect();
                tags.sort();
                tags.dedup();
                let mut kinds: Vec<&'static str> = of_story.iter().map(|(_, _, kind)| *kind).collect();
                kinds.sort_unstable();
                kinds.dedup();
                details.insert(id, (sources, tags, kinds, facets.entities));
            }
            Ok((marks, details))
        })
        .await?;
    let (marks, mut details) = details;
    let mut rows: Vec<InboxRow> = stories
        .into_iter()
        .map(|story| {
            let (sources, tags, kinds, entities) = details.remove(&story.id).unwrap_or_default();
            InboxRow {
                mark: marks.get(&story.id).copied().unwrap_or_default(),
                story,
                sources,
                tags,
                kinds,
                entities,
            }
        })
        .filter(|row| match query.show.as_str() {
            "unread" => !row.mark.read,
            "read" => row.mark.read,
            "important" => row.mark.important,
            _ => true,
        })
        .collect();
    // Facets count what the other filters left, so that picking one narrows the list.
    let mut entity_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut source_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut tag_counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        for tag in &row.tags {
            *tag_counts.entry(tag.clone()).or_default() += 1;
        }
        for entity in &row.entities {
            *entity_counts.entry(entity.clone()).or_default() += 1;
        }
        for source in &row.sources {
            *source_counts.entry(source.clone()).or_default() += 1;
        }
    }
    let top = |counts: BTreeMap<String, usize>| {
        let mut list: Vec<(String, usize)> = counts.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(15);
        list
    };
    if !query.entity.is_empty() {
        rows.retain(|row| row.entities.iter().any(|e| e == &query.entity));
    }
    if !query.source.is_empty() {
        rows.retain(|row| row.sources.iter().any(|s| s == &query.source));
    }
    if !query.tag.is_empty() {
        rows.retain(|row| row.tags.iter().any(|t| t == &query.tag));
    }
    if !query.kind.is_empty() {
        rows.retain(|row| row.kinds.contains(&query.kind.as_str()));
    }
    rows.truncate(100);
    html(InboxPage {
        me,
        days,
        rows,
        entity_facets: top(entity_counts),
        source_facets: top(source_counts),
        tag_facets: top(tag_counts),
        search_total,
        query,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct MarkForm {
    #[serde(default)]
    csrf: String,
    read: Option<bool>,
    important: Option<bool>,
    back: Option<String>,
}

pub(crate) async fn mark_story(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<MarkForm>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    let story = visible_story(&state, &me, StoryId(id)).await?;
    let user = me.user.id;
    state
        .db(move |s| s.mark_story(user, story.id, form.read, form.important))
        .await?;
    let back = match form.back {
        Some(back) => crate::auth::safe_next(Some(&back)),
        None => format!("{DESK}/stories/{id}"),
    };
    Ok(Redirect::to(&back).into_response())
}

/// A story the user may see, else "not found".
pub(crate) async fn visible_story(
    state: &AppState,
    me: &CurrentUser,
    id: StoryId,
) -> Result<StorySummary, AppError> {
    let ceiling = me.user.tlp_ceiling;
    state
        .db(move |s| s.story(id))
        .await?
        .filter(|story| story.tlp <= ceiling)
        .ok_or(AppError::NotFound)
}

/// An indicator or entity rolled up over a story's items.
pub(crate) struct RolledUp {
    kind: String,
    value: String,
    class: &'static str,
    benign: bool,
    items: usize,
}

fn roll_up(findings: &[Finding]) -> Vec<RolledUp> {
    let mut map: BTreeMap<(String, String), RolledUp> = BTreeMap::new();
    for finding in findings {
        let key = (finding.kind.as_str().to_owned(), finding.value.clone());
        let entry = map.entry(key).or_insert_with(|| RolledUp {
            kind: finding.kind.as_str().to_owned(),
            value: finding.value.clone(),
            class: render::finding_class(finding.kind),
            benign: finding.is_benign(),
            items: 0,
        });
        entry.items += 1;
    }
    let mut list: Vec<RolledUp> = map.into_values().collect();
    list.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.value.cmp(&b.value)));
    list
}

#[derive(Template)]
#[template(path = "story.html")]
struct StoryPage {
    me: CurrentUser,
    story: StorySummary,
    mark: StoryMark,
    members: Vec<StoryMember>,
    entities: Vec<RolledUp>,
    indicators: Vec<RolledUp>,
}

pub(crate) async fn story(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let story = visible_story(&state, &me, StoryId(id)).await?;
    let user = me.user.id;
    let story_id = story.id;
    let (members, findings, mark) = state
        .db(move |s| {
            let members = s.story_members(story_id)?;
            let mut findings = Vec::new();
            for member in &members {
                findings.extend(s.item_findings(member.item)?);
            }
            s.mark_story(user, story_id, Some(true), None)?;
            let mark = s
                .story_marks(user, &[story_id])?
                .remove(&story_id)
                .unwrap_or_default();
            Ok((members, findings, mark))
        })
        .await?;
    let (entities, indicators): (Vec<RolledUp>, Vec<RolledUp>) =
        roll_up(&findings).into_iter().partition(|r| r.class != "ioc");
    html(StoryPage {
        me,
        story,
        mark,
        members,
        entities,
        indicators,
    })
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    me: CurrentUser,
    item: Item,
    source: String,
    story: Option<StoryId>,
    body: String,
    findings: Vec<RolledUp>,
    date: DateTime<Utc>,
}

pub(crate) async fn item(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let ceiling: Tlp = me.user.tlp_ceiling;
    let item_id = ItemId(id);
    let (item, findings, source, story) = state
        .db(move |s| {
            let Some(item) = s.item(item_id)?.filter(|i| i.content.tlp <= ceiling) else {
                return Err(threatdesk_store::StoreError::NotFound { what: "item", id });
            };
            let findings = s.item_findings(item_id)?;
            let source = s
                .source(item.content.source_id)?
                .map(|src| src.spec.name)
                .unwrap_or_default();
            let story = s.story_of_item(item_id)?;
            Ok((item, findings, source, story))
        })
        .await?;
    let body = render::highlight(&item.content.text, &findings);
    let date = item.content.published_at.unwrap_or(item.content.fetched_at);
    html(ItemPage {
        me,
        source,
        story,
        body,
        findings: roll_up(&findings),
        date,
        item,
    })
}
