//! The bulletin editor: drafts from stories or blank, versions, review and publishing.
//!
//! Who may do what: analysts create and edit drafts and send them to review; editors also
//! publish, send back with a comment, and reopen published bulletins for a correction;
//! readers see published bulletins only. Everyone sees nothing above their TLP ceiling.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use threatdesk_kb::KnowledgeBase;
use threatdesk_model::{
    Bulletin, BulletinId, BulletinKind, BulletinStatus, EntityId, FindingKind, ItemId, NewBulletin, Role,
    Severity, Slug, StoryId, Tlp,
};
use threatdesk_store::{Accounts, BulletinComment, BulletinFilter, Store};

use crate::auth::CurrentUser;
use crate::pages::{html, visible_story};
use crate::{AppError, AppState, DESK};
use crate::{exports, render};

/// Whether `me` may see `bulletin` at all.
/// Readers see published bulletins, and unpublished ones an editor shared with them.
fn may_see(me: &CurrentUser, bulletin: &Bulletin, shared_with_readers: bool) -> bool {
    bulletin.content.tlp <= me.user.tlp_ceiling
        && (me.user.role >= Role::Analyst
            || bulletin.status == BulletinStatus::Published
            || shared_with_readers)
}

async fn visible_bulletin(state: &AppState, me: &CurrentUser, id: i64) -> Result<(Bulletin, bool), AppError> {
    let found = state
        .db(move |s| {
            let bulletin = s.bulletin(BulletinId(id))?;
            let shared = s.bulletin_shared_with_readers(BulletinId(id))?;
            Ok(bulletin.map(|b| (b, shared)))
        })
        .await?;
    found
        .filter(|(b, shared)| may_see(me, b, *shared))
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: String,
}

#[derive(Template)]
#[template(path = "bulletins.html")]
struct ListPage {
    me: CurrentUser,
    status: String,
    bulletins: Vec<Bulletin>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, AppError> {
    let status = if query.status.is_empty() {
        None
    } else {
        Some(
            query
                .status
                .parse::<BulletinStatus>()
                .map_err(|e| AppError::BadRequest(e.to_string()))?,
        )
    };
    let ceiling = me.user.tlp_ceiling;
    let bulletins = state
        .db(move |s| {
            let mut listed = Vec::new();
            for bulletin in s.list_bulletins(&BulletinFilter {
                status,
                tlp_ceiling: Some(ceiling),
                limit: Some(200),
            })? {
                let shared = s.bulletin_shared_with_readers(bulletin.id)?;
                listed.push((bulletin, shared));
            }
            Ok(listed)
        })
        .await?
        .into_iter()
        .filter(|(b, shared)| may_see(&me, b, *shared))
        .map(|(b, _)| b)
        .collect();
    html(ListPage {
        me,
        status: query.status,
        bulletins,
    })
}

/// The editor's fields, as the form posts them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BulletinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    analyst_notes: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    severity: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
    /// Story ids, comma-separated.
    #[serde(default)]
    stories: String,
    /// Item ids cited as references, comma-separated.
    #[serde(default)]
    references: String,
    /// Entity names (any alias), comma-separated.
    #[serde(default)]
    entities: String,
    /// The version the editor started from (edits only; empty for a new bulletin).
    #[serde(default)]
    version: String,
}

fn ids<T>(list: &str, wrap: impl Fn(i64) -> T) -> Result<Vec<T>, AppError> {
    list.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(&wrap)
                .ok_or_else(|| AppError::BadRequest(format!("{s:?} is not an id")))
        })
        .collect()
}

/// Entity names as typed (any alias) to knowledge-base ids: a name that means nothing, or
/// several things, is refused with the candidates.
pub(crate) fn entity_ids(list: &str, kb: &KnowledgeBase) -> Result<Vec<EntityId>, AppError> {
    let mut ids = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let mut found = kb.lookup(name);
        // A canonical name wins over the same words used as another entity's alias, so
        // that the names the editor pre-fills always resolve.
        if found.len() > 1 {
            let canonical: Vec<_> = found
                .iter()
                .copied()
                .filter(|e| e.canonical_name.eq_ignore_ascii_case(name))
                .collect();
            if canonical.len() == 1 {
                found = canonical;
            }
        }
        match found.as_slice() {
            [] => return Err(AppError::BadRequest(format!("no entity is called {name:?}"))),
            [one] => {
                if !ids.contains(&one.id) {
                    ids.push(one.id);
                }
            }
            many => {
                let options: Vec<String> = many
                    .iter()
                    .map(|e| format!("{} ({})", e.canonical_name, e.kind.as_str()))
                    .collect();
                return Err(AppError::BadRequest(format!(
                    "{name:?} may mean {}; write the name you mean",
                    options.join(" or ")
                )));
            }
        }
    }
    Ok(ids)
}

/// Ids with their canonical names, for showing (unknown ids are left out).
pub(crate) fn entity_names(ids: &[EntityId], kb: &KnowledgeBase) -> Vec<(i64, String)> {
    ids.iter()
        .filter_map(|id| kb.get(*id).map(|e| (id.0, e.canonical_name.clone())))
        .collect()
}

impl BulletinForm {
    /// The bulletin the form describes; every field checked, every problem named.
    fn to_bulletin(&self, me: &CurrentUser, kb: &KnowledgeBase) -> Result<NewBulletin, AppError> {
        let bad = |e: threatdesk_model::ParseError| AppError::BadRequest(e.to_string());
        let title = self.title.trim().to_owned();
        if title.is_empty() {
            return Err(AppError::BadRequest("the bulletin needs a title".into()));
        }
        let slug = if self.slug.trim().is_empty() {
            Slug::from_title(&title)
                .ok_or_else(|| AppError::BadRequest("the title gives no usable slug".into()))?
        } else {
            Slug::parse(self.slug.trim()).map_err(bad)?
        };
        let tlp: Tlp = if self.tlp.is_empty() {
            Tlp::Amber
        } else {
            self.tlp.parse().map_err(bad)?
        };
        if tlp > me.user.tlp_ceiling {
            return Err(AppError::BadRequest(format!(
                "you are cleared up to TLP:{}, so you cannot mark a bulletin TLP:{}",
                me.user.tlp_ceiling.as_str(),
                tlp.as_str()
            )));
        }
        Ok(NewBulletin {
            kind: if self.kind.is_empty() {
                BulletinKind::News
            } else {
                self.kind.parse().map_err(bad)?
            },
            title,
            slug,
            summary: self.summary.clone(),
            analyst_notes: self.analyst_notes.clone(),
            tlp,
            severity: if self.severity.is_empty() {
                Severity::Info
            } else {
                self.severity.parse().map_err(bad)?
            },
            tags: self
                .tags
                .split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            story_ids: ids(&self.stories, StoryId)?,
            item_ids: ids(&self.references, ItemId)?,
            entity_ids: entity_ids(&self.entities, kb)?,
            authors: vec![me.user.username.clone()],
        })
    }

    fn from_bulletin(csrf: &str, b: &NewBulletin, version: Option<u32>, kb: &KnowledgeBase) -> Self {
        let join = |v: Vec<String>| v.join(", ");
        Self {
            csrf: csrf.to_owned(),
            kind: b.kind.as_str().to_owned(),
            title: b.title.clone(),
            slug: b.slug.as_str().to_owned(),
            summary: b.summary.clone(),
            analyst_notes: b.analyst_notes.clone(),
            tlp: b.tlp.as_str().to_owned(),
            severity: b.severity.as_str().to_owned(),
            tags: b.tags.join(", "),
            stories: join(b.story_ids.iter().map(|s| s.0.to_string()).collect()),
            references: join(b.item_ids.iter().map(|s| s.0.to_string()).collect()),
            entities: entity_names(&b.entity_ids, kb)
                .into_iter()
                .map(|(_, name)| name)
                .collect::<Vec<_>>()
                .join(", "),
            version: version.map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "bulletin_edit.html")]
struct EditPage {
    me: CurrentUser,
    id: Option<i64>,
    form: BulletinForm,
    error: Option<String>,
    references: Vec<(i64, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewQuery {
    story: Option<i64>,
}

/// A blank draft, or one pre-filled from a story: its title, its summary as a first
/// draft, its items as references.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(query): Query<NewQuery>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let mut form = BulletinForm {
        csrf: me.csrf.clone(),
        tlp: Tlp::Amber.min(me.user.tlp_ceiling).as_str().to_owned(),
        severity: Severity::Info.as_str().to_owned(),
        kind: BulletinKind::News.as_str().to_owned(),
        ..BulletinForm::default()
    };
    let mut references = Vec::new();
    if let Some(id) = query.story {
        let story = visible_story(&state, &me, StoryId(id)).await?;
        let story_id = story.id;
        let (members, entity_ids) = state
            .db(move |s| {
                let members = s.story_members(story_id)?;
                let mut ids: Vec<EntityId> = Vec::new();
                for member in &members {
                    for finding in s.item_findings(member.item)? {
                        if finding.kind == FindingKind::EntityMention {
                            for id in finding.entity_ids {
                                if !ids.contains(&id) {
                                    ids.push(id);
                                }
                            }
                        }
                    }
                }
                Ok((members, ids))
            })
            .await?;
        form.entities = entity_names(&entity_ids, state.knowledge())
            .into_iter()
            .map(|(_, name)| name)
            .collect::<Vec<_>>()
            .join(", ");
        form.title = story.title.clone();
        form.summary = story.summary.clone();
        form.tlp = story.tlp.max(Tlp::Clear).as_str().to_owned();
        form.stories = story.id.0.to_string();
        form.references = members
            .iter()
            .map(|m| m.item.0.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        references = members
            .into_iter()
            .map(|m| (m.item.0, m.title, m.canonical_url))
            .collect();
    }
    html(EditPage {
        me,
        id: None,
        form,
        error: None,
        references,
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<BulletinForm>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    let bulletin = match form.to_bulletin(&me, state.knowledge()) {
        Ok(b) => b,
        Err(AppError::BadRequest(message)) => return form_again(me, None, form, message),
        Err(other) => return Err(other),
    };
    match state.db(move |s| s.create_bulletin(&bulletin)).await {
        Ok(created) => Ok(Redirect::to(&format!("{DESK}/bulletins/{}", created.id.0)).into_response()),
        Err(AppError::BadRequest(message)) => form_again(me, None, form, message),
        Err(other) => Err(other),
    }
}

/// The editor again, with what was typed and why it was not saved.
fn form_again(
    me: CurrentUser,
    id: Option<i64>,
    mut form: BulletinForm,
    message: String,
) -> Result<Response, AppError> {
    form.csrf = me.csrf.clone();
    let page = html(EditPage {
        me,
        id,
        form,
        error: Some(message),
        references: Vec::new(),
    })?;
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    if bulletin.status == BulletinStatus::Published {
        return Err(AppError::BadRequest(
            "a published bulletin is reopened as a draft first (Reopen for correction)".into(),
        ));
    }
    let form = BulletinForm::from_bulletin(
        &me.csrf,
        &bulletin.content,
        Some(bulletin.version),
        state.knowledge(),
    );
    html(EditPage {
        me,
        id: Some(id),
        form,
        error: None,
        references: Vec::new(),
    })
}

/// Saves an edit as the next version; an edit based on an older version than the stored
/// one is refused (409) rather than overwriting someone else's work.
pub(crate) async fn save(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<BulletinForm>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    let (current, _) = visible_bulletin(&state, &me, id).await?;
    if current.status == BulletinStatus::Published {
        return Err(AppError::BadRequest(
            "reopen the bulletin before editing it".into(),
        ));
    }
    let Ok(expected) = form.version.trim().parse::<u32>() else {
        return Err(AppError::BadRequest(
            "the form does not say which version it edits".into(),
        ));
    };
    let content = match form.to_bulletin(&me, state.knowledge()) {
        Ok(mut content) => {
            for author in &current.content.authors {
                if !content.authors.contains(author) {
                    content.authors.insert(0, author.clone());
                }
            }
            content
        }
        Err(AppError::BadRequest(message)) => return form_again(me, Some(id), form, message),
        Err(other) => return Err(other),
    };
    state
        .db(move |s| s.update_bulletin(BulletinId(id), &content, expected))
        .await?;
    Ok(Redirect::to(&format!("{DESK}/bulletins/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct ShowPage {
    me: CurrentUser,
    bulletin: Bulletin,
    entities: Vec<(i64, String)>,
    summary_html: String,
    notes_html: String,
    comments: Vec<BulletinComment>,
    shared: bool,
    can_share: bool,
    can_edit: bool,
    can_submit: bool,
    can_publish: bool,
    can_reopen: bool,
    can_export: bool,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let (bulletin, shared) = visible_bulletin(&state, &me, id).await?;
    let comments = if me.user.role >= Role::Analyst {
        state.db(move |s| s.bulletin_comments(BulletinId(id))).await?
    } else {
        Vec::new()
    };
    let analyst = me.user.role >= Role::Analyst;
    let editor = me.user.role >= Role::Editor;
    let status = bulletin.status;
    html(ShowPage {
        entities: entity_names(&bulletin.content.entity_ids, state.knowledge()),
        summary_html: render::markdown(&bulletin.content.summary),
        notes_html: render::markdown(&bulletin.content.analyst_notes),
        comments,
        shared,
        can_share: editor && status != BulletinStatus::Published,
        can_edit: analyst && status != BulletinStatus::Published,
        can_submit: analyst && status == BulletinStatus::Draft,
        can_publish: editor && status == BulletinStatus::InReview,
        can_reopen: editor && status == BulletinStatus::Published,
        can_export: analyst || status == BulletinStatus::Published,
        me,
        bulletin,
    })
}

/// A bulletin as STIX 2.1 or a MISP event, for download. Readers export published
/// bulletins only (a draft shared with them is for reading, not for passing on); nobody
/// exports what they may not see.
pub(crate) async fn export(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, format)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let format = match format.as_str() {
        "stix" => exports::Format::Stix,
        "misp" => exports::Format::Misp,
        _ => return Err(AppError::NotFound),
    };
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    if me.user.role < Role::Analyst && bulletin.status != BulletinStatus::Published {
        return Err(AppError::NotFound);
    }
    let publisher = state.config().publisher.clone();
    let kb_state = state.clone();
    let file = format!(
        "{}.{}.json",
        bulletin.content.slug.as_str(),
        if format == exports::Format::Stix {
            "stix"
        } else {
            "misp"
        }
    );
    let document = state
        .db(move |s| exports::document(s, kb_state.knowledge(), &bulletin, &publisher, format))
        .await?;
    let mut response = document.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
    #[serde(default)]
    comment: String,
}

/// A workflow step. Sending to review is an analyst's; publishing, sending back and
/// reopening are an editor's.
pub(crate) async fn set_status(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<StatusForm>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    let next: BulletinStatus = form
        .status
        .parse()
        .map_err(|e: threatdesk_model::ParseError| AppError::BadRequest(e.to_string()))?;
    let needs_editor = matches!(
        (bulletin.status, next),
        (BulletinStatus::InReview, BulletinStatus::Published)
            | (BulletinStatus::InReview, BulletinStatus::Draft)
            | (BulletinStatus::Published, BulletinStatus::Draft)
    );
    if needs_editor {
        me.require(Role::Editor)?;
    }
    let user = me.user.id;
    let version = bulletin.version;
    let comment = form.comment.trim().to_owned();
    state
        .db(move |s| {
            let updated = s.set_bulletin_status(BulletinId(id), next)?;
            if !comment.is_empty() {
                s.add_bulletin_comment(BulletinId(id), user, version, &comment)?;
            }
            Ok(updated)
        })
        .await?;
    tracing::info!(bulletin = id, status = next.as_str(), by = %me.user.username, "bulletin status changed");
    Ok(Redirect::to(&format!("{DESK}/bulletins/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShareForm {
    #[serde(default)]
    csrf: String,
    shared: bool,
}

/// An editor shares an unpublished bulletin with readers (or stops sharing it).
pub(crate) async fn share(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<ShareForm>,
) -> Result<Response, AppError> {
    me.require(Role::Editor)?;
    me.check_csrf(&form.csrf)?;
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    if bulletin.status == BulletinStatus::Published {
        return Err(AppError::BadRequest(
            "a published bulletin is visible to readers already".into(),
        ));
    }
    state
        .db(move |s| s.share_bulletin_with_readers(bulletin.id, form.shared))
        .await?;
    tracing::info!(bulletin = id, shared = form.shared, by = %me.user.username, "bulletin sharing changed");
    Ok(Redirect::to(&format!("{DESK}/bulletins/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommentForm {
    #[serde(default)]
    csrf: String,
    body: String,
}

pub(crate) async fn comment(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<CommentForm>,
) -> Result<Response, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    let body = form.body.trim().to_owned();
    if body.is_empty() {
        return Err(AppError::BadRequest("the comment is empty".into()));
    }
    let user = me.user.id;
    state
        .db(move |s| s.add_bulletin_comment(bulletin.id, user, bulletin.version, &body))
        .await?;
    Ok(Redirect::to(&format!("{DESK}/bulletins/{id}#comments")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    markdown: String,
}

/// Markdown rendered and sanitised exactly as the bulletin page does (the editor's live
/// preview).
pub(crate) async fn preview(
    me: CurrentUser,
    Form(form): Form<PreviewForm>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    me.check_csrf(&form.csrf)?;
    Ok(Html(render::markdown(&form.markdown)))
}

/// One line of a diff between two versions.
pub(crate) struct DiffLine {
    class: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "versions.html")]
struct VersionsPage {
    me: CurrentUser,
    bulletin: Bulletin,
    versions: Vec<Bulletin>,
    from: u32,
    to: u32,
    diff: Vec<DiffLine>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct VersionsQuery {
    from: Option<u32>,
    to: Option<u32>,
}

/// A bulletin's fields as lines, for diffing.
fn as_lines(b: &NewBulletin) -> Vec<String> {
    let mut lines = vec![
        format!("Title: {}", b.title),
        format!(
            "Kind: {}  TLP: {}  Severity: {}",
            b.kind.as_str(),
            b.tlp.as_str(),
            b.severity.as_str()
        ),
        format!("Tags: {}", b.tags.join(", ")),
        "Summary:".to_owned(),
    ];
    lines.extend(b.summary.lines().map(str::to_owned));
    lines.push("Analyst Notes:".to_owned());
    lines.extend(b.analyst_notes.lines().map(str::to_owned));
    lines
}

/// A line diff (longest common subsequence): kept, removed and added lines in order.
pub(crate) fn diff_lines(old: &[String], new: &[String]) -> Vec<(char, String)> {
    let (n, m) = (old.len(), new.len());
    let mut table = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i][j] = if old[i] == new[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push((' ', old[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || table[i][j + 1] >= table[i + 1][j]) {
            out.push(('+', new[j].clone()));
            j += 1;
        } else {
            out.push(('-', old[i].clone()));
            i += 1;
        }
    }
    out
}

pub(crate) async fn versions(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<VersionsQuery>,
) -> Result<Html<String>, AppError> {
    me.require(Role::Analyst)?;
    let (bulletin, _) = visible_bulletin(&state, &me, id).await?;
    let versions = state.db(move |s| s.bulletin_versions(BulletinId(id))).await?;
    let latest = bulletin.version;
    let to = query.to.unwrap_or(latest).clamp(1, latest);
    let from = query.from.unwrap_or(to.saturating_sub(1).max(1)).clamp(1, latest);
    let find = |v: u32| {
        versions
            .iter()
            .find(|b| b.version == v)
            .map(|b| as_lines(&b.content))
    };
    let diff = match (find(from), find(to)) {
        (Some(old), Some(new)) => diff_lines(&old, &new)
            .into_iter()
            .map(|(sign, text)| DiffLine {
                class: match sign {
                    '+' => "added",
                    '-' => "removed",
                    _ => "kept",
                },
                text: format!("{sign} {text}"),
            })
            .collect(),
        _ => Vec::new(),
    };
    html(VersionsPage {
        me,
        bulletin,
        versions,
        from,
        to,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changed_lines() {
        let old: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let new: Vec<String> = ["a", "x", "c", "d"].iter().map(|s| s.to_string()).collect();
        let diff: Vec<String> = diff_lines(&old, &new)
            .into_iter()
            .map(|(sign, line)| format!("{sign}{line}"))
            .collect();
        assert_eq!(diff, [" a", "+x", "-b", " c", "+d"]);
    }
}
