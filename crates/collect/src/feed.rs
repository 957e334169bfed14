//! Feeds: RSS 0.9x/1.0/2.0, Atom 1.0 and JSON Feed 1.x documents to items (feed-rs), and
//! the canonical URLs that decide whether an entry was seen before.
//!
//! Parsing is pure: the caller fetches the bytes. Each entry becomes a [`NewItem`] from its
//! content, else its summary; an entry with neither text nor link is rejected with its
//! position and reason, and the rest of the feed is kept.

use chrono::{DateTime, Utc};
use threatdesk_model::{NewItem, Source};
use threatdesk_text::{Document, content_hash, detect_language};
use url::Url;

/// Why a feed could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Not an RSS, Atom or JSON Feed document, or broken beyond reading.
    #[error("not a readable feed: {0}")]
    Parse(String),
}

/// One entry the feed could not give as an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRejection {
    /// 1-based position of the entry in the feed.
    pub position: usize,
    /// The entry's id, as the feed gives it (or feed-rs derives it).
    pub id: String,
    /// Why.
    pub reason: String,
}

/// What a feed yields.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title.
    pub title: Option<String>,
    /// Its entries as items, in feed order.
    pub items: Vec<NewItem>,
    /// Entries that gave no item.
    pub rejections: Vec<EntryRejection>,
}

/// Query parameters that track a click, not name a document.
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid", "gclid", "mc_cid", "mc_eid", "igshid", "ref_src", "yclid",
];

/// The form of `raw` (resolved against `base`) that identifies a document: scheme and host
/// lower-cased, default port, fragment and tracking parameters (`utm_*`, `fbclid`…) removed.
/// `None` for anything but an `http`/`https` URL.
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    let mut url = match base {
        Some(base) => base.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            !key.starts_with("utm_") && !TRACKING_PARAMETERS.contains(&key.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    // `Url` already lower-cases the host and drops a default port.
    Some(url.to_string())
}

/// Reads a feed document. `feed_url` resolves relative links and stands in for entries
/// without one; `fetched_at` stamps the items.
pub fn parse_feed(
    bytes: &[u8],
    feed_url: Option<&str>,
    source: &Source,
    fetched_at: DateTime<Utc>,
) -> Result<ParsedFeed, FeedError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(feed_url)
        .build()
        .parse(bytes)
        .map_err(|e| FeedError::Parse(e.to_string()))?;
    let base = feed_url.and_then(|u| Url::parse(u).ok());
    let mut parsed = ParsedFeed {
        title: feed
            .title
            .map(|t| t.content.trim().to_owned())
            .filter(|t| !t.is_empty()),
        items: Vec::new(),
        rejections: Vec::new(),
    };
    for (index, entry) in feed.entries.into_iter().enumerate() {
        let reject = |reason: &str| EntryRejection {
            position: index + 1,
            id: entry.id.clone(),
            reason: reason.to_owned(),
        };
        let link = entry
            .links
            .iter()
            .find_map(|link| canonical_url(&link.href, base.as_ref()));
        let body = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .filter(|b| !b.trim().is_empty())
            .or_else(|| {
                entry
                    .summary
                    .as_ref()
                    .map(|s| s.content.clone())
                    .filter(|s| !s.trim().is_empty())
            });
        let Some(body) = body else {
            parsed.rejections.push(reject("no content or summary"));
            continue;
        };
        // Entries are HTML or plain text; plain text reads the same as HTML without tags.
        let document = Document::from_html(&body);
        let title = entry
            .title
            .as_ref()
            .map(|t| Document::from_html(&t.content).text.trim().to_owned())
            .filter(|t| !t.is_empty())
            .or(document.title.clone());
        let Some(title) = title.or_else(|| {
            document
                .text
                .lines()
                .next()
                .map(|l| l.chars().take(120).collect())
        }) else {
            parsed.rejections.push(reject("no title and no text"));
            continue;
        };
        if document.text.trim().is_empty() {
            parsed.rejections.push(reject("no readable text"));
            continue;
        }
        // Identity: the entry's link, else the feed's address with the entry id as fragment.
        let Some(canonical) = link.clone().or_else(|| {
            let mut url = base.clone()?;
            url.set_fragment(Some(&entry.id));
            Some(url.to_string())
        }) else {
            parsed
                .rejections
                .push(reject("no link, and no feed address to name it by"));
            continue;
        };
        let author = entry
            .authors
            .iter()
            .find_map(|p| p.name.clone())
            .filter(|n| !n.trim().is_empty());
        let hash = content_hash(&title, &document.text);
        parsed.items.push(NewItem {
            source_id: source.id,
            canonical_url: canonical,
            original_url: entry.links.first().map(|l| l.href.clone()),
            guid: Some(entry.id.clone()),
            language: detect_language(&document.text),
            title,
            author: author.or(document.author),
            published_at: entry.published.or(entry.updated),
            fetched_at,
            content_hash: hash,
            text: document.text,
            html: document.html,
            tlp: source.spec.default_tlp,
        });
    }
    Ok(parsed)
}
