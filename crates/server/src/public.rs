//! The public side: published TLP:CLEAR bulletins as pages and as Atom 1.0 and JSON Feed
//! 1.1 feeds, with no login. The one rule: nothing but published bulletins marked CLEAR is
//! ever read here ([`public_bulletins`] is the only way in).

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use threatdesk_kb::KnowledgeBase;
use threatdesk_model::{Bulletin, BulletinKind, BulletinStatus, Slug, Tlp};
use threatdesk_store::{BulletinFilter, Store};

use crate::render;
use crate::{AppError, AppState};

/// Published bulletins marked TLP:CLEAR, newest publication first.
async fn public_bulletins(state: &AppState) -> Result<Vec<Bulletin>, AppError> {
    let mut bulletins: Vec<Bulletin> = state
        .db(|s| {
            s.list_bulletins(&BulletinFilter {
                status: Some(BulletinStatus::Published),
                tlp_ceiling: Some(Tlp::Clear),
                limit: Some(10_000),
            })
        })
        .await?
        .into_iter()
        .filter(|b| b.status == BulletinStatus::Published && b.content.tlp == Tlp::Clear)
        .collect();
    bulletins.sort_by_key(|b| std::cmp::Reverse(b.published_at.unwrap_or(b.updated_at)));
    Ok(bulletins)
}

/// The address public links start with: `server.public_url`, else what the request's
/// `Host` says.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// An entity's public slug: its canonical name, slugged.
fn entity_slug(name: &str) -> String {
    Slug::from_title(name).map_or_else(String::new, |s| s.as_str().to_owned())
}

fn has_tag(bulletin: &Bulletin, tag: &str) -> bool {
    bulletin.content.tags.iter().any(|t| t == tag)
}

/// Whether a bulletin is about the entity with this public slug.
fn is_about(bulletin: &Bulletin, kb: &KnowledgeBase, slug: &str) -> bool {
    bulletin
        .content
        .entity_ids
        .iter()
        .filter_map(|id| kb.get(*id))
        .any(|e| entity_slug(&e.canonical_name) == slug)
}

/// A bulletin as public pages show it.
pub(crate) struct PublicBulletin {
    title: String,
    slug: String,
    kind: &'static str,
    severity: &'static str,
    date: DateTime<Utc>,
    excerpt: String,
    tags: Vec<String>,
    entities: Vec<(String, String)>,
}

fn excerpt(markdown: &str, max: usize) -> String {
    let plain: String = markdown
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '#' | '`' | '>' | '[' | ']'))
        .collect();
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.chars().count() <= max {
        plain
    } else {
        let cut: String = plain.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

fn public(b: &Bulletin, kb: &KnowledgeBase) -> PublicBulletin {
    PublicBulletin {
        title: b.content.title.clone(),
        slug: b.content.slug.as_str().to_owned(),
        kind: b.content.kind.as_str(),
        severity: b.content.severity.as_str(),
        date: b.published_at.unwrap_or(b.updated_at),
        excerpt: excerpt(&b.content.summary, 280),
        tags: b.content.tags.clone(),
        entities: b
            .content
            .entity_ids
            .iter()
            .filter_map(|id| kb.get(*id))
            .map(|e| (e.canonical_name.clone(), entity_slug(&e.canonical_name)))
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "public_list.html")]
struct ListPage {
    heading: String,
    research: Option<PublicBulletin>,
    bulletins: Vec<PublicBulletin>,
    feed: String,
    canonical: String,
}

/// The home page: the newest research in a banner, then every public bulletin.
pub(crate) async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, AppError> {
    let kb = state.knowledge();
    let all = public_bulletins(&state).await?;
    let research = all
        .iter()
        .find(|b| b.content.kind == BulletinKind::Research)
        .map(|b| public(b, kb));
    crate::pages::html(ListPage {
        heading: "Threat bulletins".to_owned(),
        research,
        bulletins: all.iter().take(100).map(|b| public(b, kb)).collect(),
        feed: "/feeds/bulletins".to_owned(),
        canonical: format!("{}/", base_url(&state, &headers)),
    })
}

/// Public bulletins with a tag.
pub(crate) async fn tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tag): Path<String>,
) -> Result<Html<String>, AppError> {
    let kb = state.knowledge();
    let bulletins: Vec<PublicBulletin> = public_bulletins(&state)
        .await?
        .iter()
        .filter(|b| has_tag(b, &tag))
        .map(|b| public(b, kb))
        .collect();
    if bulletins.is_empty() {
        return Err(AppError::NotFound);
    }
    crate::pages::html(ListPage {
        heading: format!("Tagged “{tag}”"),
        research: None,
        bulletins,
        feed: format!("/feeds/tags/{}", render::url_encode(&tag)),
        canonical: format!("{}/tags/{}", base_url(&state, &headers), render::url_encode(&tag)),
    })
}

/// Public bulletins about an entity.
pub(crate) async fn entity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let kb = state.knowledge();
    let all = public_bulletins(&state).await?;
    let about: Vec<PublicBulletin> = all
        .iter()
        .filter(|b| is_about(b, kb, &slug))
        .map(|b| public(b, kb))
        .collect();
    let Some(name) = about
        .iter()
        .flat_map(|b| b.entities.iter())
        .find(|(_, s)| *s == slug)
        .map(|(n, _)| n.clone())
    else {
        return Err(AppError::NotFound);
    };
    crate::pages::html(ListPage {
        heading: format!("About {name}"),
        research: None,
        bulletins: about,
        feed: format!("/feeds/entities/{slug}"),
        canonical: format!("{}/entities/{slug}", base_url(&state, &headers)),
    })
}

#[derive(Template)]
#[template(path = "public_bulletin.html")]
struct BulletinPage {
    bulletin: PublicBulletin,
    summary_html: String,
    notes_html: String,
    sources: Vec<(String, String)>,
    canonical: String,
}

/// One public bulletin: headline, date, summary, Analyst Notes, tags, entities, sources.
pub(crate) async fn bulletin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let found = public_bulletins(&state)
        .await?
        .into_iter()
        .find(|b| b.content.slug.as_str() == slug)
        .ok_or(AppError::NotFound)?;
    let item_ids = found.content.item_ids.clone();
    // Only sources that are themselves public are cited.
    let sources = state
        .db(move |s| {
            let mut sources = Vec::new();
            for id in item_ids {
                if let Some(item) = s.item(id)?.filter(|i| i.content.tlp == Tlp::Clear)
                    && item.content.canonical_url.starts_with("http")
                {
                    sources.push((item.content.title, item.content.canonical_url));
                }
            }
            Ok(sources)
        })
        .await?;
    crate::pages::html(BulletinPage {
        summary_html: render::markdown(&found.content.summary),
        notes_html: render::markdown(&found.content.analyst_notes),
        sources,
        canonical: format!("{}/bulletins/{slug}", base_url(&state, &headers)),
        bulletin: public(&found, state.knowledge()),
    })
}

/// A feed's format, from its file extension.
#[derive(Debug, Clone, Copy)]
enum FeedFormat {
    Atom,
    Json,
}

fn feed_format(file: &str) -> Option<(&str, FeedFormat)> {
    if let Some(stem) = file.strip_suffix(".atom") {
        Some((stem, FeedFormat::Atom))
    } else {
        file.strip_suffix(".json").map(|stem| (stem, FeedFormat::Json))
    }
}

pub(crate) async fn all_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let Some(("bulletins", format)) = feed_format(&file) else {
        return Err(AppError::NotFound);
    };
    let bulletins = public_bulletins(&state).await?;
    feed(
        &state,
        &headers,
        format,
        "Threat bulletins",
        "/feeds/bulletins",
        "/",
        &bulletins,
    )
}

pub(crate) async fn tag_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let (tag, format) = feed_format(&file).ok_or(AppError::NotFound)?;
    let bulletins: Vec<Bulletin> = public_bulletins(&state)
        .await?
        .into_iter()
        .filter(|b| has_tag(b, tag))
        .collect();
    let encoded = render::url_encode(tag);
    feed(
        &state,
        &headers,
        format,
        &format!("Threat bulletins tagged {tag}"),
        &format!("/feeds/tags/{encoded}"),
        &format!("/tags/{encoded}"),
        &bulletins,
    )
}

pub(crate) async fn entity_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let (slug, format) = feed_format(&file).ok_or(AppError::NotFound)?;
    let kb = state.knowledge();
    let bulletins: Vec<Bulletin> = public_bulletins(&state)
        .await?
        .into_iter()
        .filter(|b| is_about(b, kb, slug))
        .collect();
    feed(
        &state,
        &headers,
        format,
        &format!("Threat bulletins about {slug}"),
        &format!("/feeds/entities/{slug}"),
        &format!("/entities/{slug}"),
        &bulletins,
    )
}

fn xml(text: &str) -> String {
    render::escape(text)
}

/// Renders a feed and answers a conditional GET: the ETag is the SHA-256 of the body, so
/// an unchanged feed costs the client one 304.
fn feed(
    state: &AppState,
    headers: &HeaderMap,
    format: FeedFormat,
    title: &str,
    self_path: &str,
    page_path: &str,
    bulletins: &[Bulletin],
) -> Result<Response, AppError> {
    let base = base_url(state, headers);
    let entries = bulletins.iter().take(50);
    let updated = bulletins
        .iter()
        .map(|b| b.published_at.unwrap_or(b.updated_at))
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let (content_type, body) = match format {
        FeedFormat::Atom => {
            let mut out = String::new();
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
                 <title>{}</title>\n<id>{base}{self_path}.atom</id>\n<updated>{}</updated>\n\
                 <link rel=\"self\" type=\"application/atom+xml\" href=\"{base}{self_path}.atom\"/>\n\
                 <link rel=\"alternate\" type=\"text/html\" href=\"{base}{page_path}\"/>\n\
                 <author><name>threatdesk</name></author>\n",
                xml(title),
                updated.to_rfc3339()
            );
            for b in entries {
                let url = format!("{base}/bulletins/{}", b.content.slug.as_str());
                let html = format!(
                    "{}<h2>Analyst Notes</h2>{}",
                    render::markdown(&b.content.summary),
                    render::markdown(&b.content.analyst_notes)
                );
                let _ = write!(
                    out,
                    "<entry>\n<title>{}</title>\n<id>{url}</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n\
                     <published>{}</published>\n<updated>{}</updated>\n<summary>{}</summary>\n\
                     <content type=\"html\">{}</content>\n",
                    xml(&b.content.title),
                    b.published_at.unwrap_or(b.updated_at).to_rfc3339(),
                    b.updated_at.to_rfc3339(),
                    xml(&excerpt(&b.content.summary, 400)),
                    xml(&html)
                );
                for tag in &b.content.tags {
                    let _ = writeln!(out, "<category term=\"{}\"/>", xml(tag));
                }
                out.push_str("</entry>\n");
            }
            out.push_str("</feed>\n");
            ("application/atom+xml; charset=utf-8", out)
        }
        FeedFormat::Json => {
            let items: Vec<serde_json::Value> = entries
                .map(|b| {
                    let url = format!("{base}/bulletins/{}", b.content.slug.as_str());
                    serde_json::json!({
                        "id": url,
                        "url": url,
                        "title": b.content.title,
                        "summary": excerpt(&b.content.summary, 400),
                        "content_html": format!(
                            "{}<h2>Analyst Notes</h2>{}",
                            render::markdown(&b.content.summary),
                            render::markdown(&b.content.analyst_notes)
                        ),
                        "date_published": b.published_at.unwrap_or(b.updated_at).to_rfc3339(),
                        "date_modified": b.updated_at.to_rfc3339(),
                        "tags": b.content.tags,
                    })
                })
                .collect();
            let feed = serde_json::json!({
                "version": "https://jsonfeed.org/version/1.1",
                "title": title,
                "home_page_url": format!("{base}{page_path}"),
                "feed_url": format!("{base}{self_path}.json"),
                "items": items,
            });
            ("application/feed+json; charset=utf-8", feed.to_string())
        }
    };
    let etag = format!("\"{}\"", render::hex(&Sha256::digest(body.as_bytes())[..16]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| AppError::Internal(e.to_string()))?;
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag_value),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response())
}
