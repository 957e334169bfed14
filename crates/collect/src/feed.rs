//! Feeds: RSS 0.9x/1.0/2.0, Atom 1.0 and JSON Feed 1.x documents to entries (feed-rs), and
//! the canonical URLs that decide whether an entry was seen before.
//!
//! Parsing is pure: the caller fetches the bytes, and, for full text, each entry's page
//! ([`crate::source`] does both). An entry becomes an item with [`FeedEntry::into_item`]:
//! the page's main text when there is one, else the entry's content or summary. An entry
//! that can give neither a name nor text is rejected with its position and reason, and the
//! rest of the feed is kept.

use chrono::{DateTime, Utc};
use threatdesk_model::{ContentHash, NewItem, Source};
use threatdesk_text::{Article, Document, content_hash, detect_language};
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

/// One usable feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// 1-based position in the feed.
    pub position: usize,
    /// The entry's id (GUID), as the feed gives it or feed-rs derives it.
    pub id: String,
    /// The canonical form of its link, when it has an `http(s)` one.
    pub link: Option<String>,
    /// The link as written.
    pub original_link: Option<String>,
    /// The document's identity: the canonical link, else the feed's address with the
    /// entry's id as fragment.
    pub identity: String,
    /// The headline as plain text.
    pub title: Option<String>,
    /// The byline.
    pub author: Option<String>,
    /// Published, else updated.
    pub published: Option<DateTime<Utc>>,
    /// Its content, else its summary (HTML or plain text).
    pub body: Option<String>,
    /// A hash of what the feed says of the entry (title, link, body, dates): unchanged,
    /// the entry need not be fetched again.
    pub fingerprint: ContentHash,
}

/// What a feed yields.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title.
    pub title: Option<String>,
    /// Its usable entries, in feed order.
    pub entries: Vec<FeedEntry>,
    /// Entries that cannot give an item.
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

/// Reads a feed document. `feed_url` resolves relative links and names entries without one.
pub fn parse_feed(bytes: &[u8], feed_url: Option<&str>) -> Result<ParsedFeed, FeedError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(feed_url)
        .build()
        .parse(bytes)
        .map_err(|e| FeedError::Parse(e.to_string()))?;
    let base = feed_url.and_then(|u| Url::parse(u).ok());
    let mut parsed = ParsedFeed {
        title: feed
            .title
            .map(|t| plain_text(&t.content))
            .filter(|t| !t.is_empty()),
        entries: Vec::new(),
        rejections: Vec::new(),
    };
    for (index, entry) in feed.entries.into_iter().enumerate() {
        let position = index + 1;
        let reject = |reason: &str| EntryRejection {
            position,
            id: entry.id.clone(),
            reason: reason.to_owned(),
        };
        let (link, original_link) = entry
            .links
            .iter()
            .find_map(|l| canonical_url(&l.href, base.as_ref()).map(|c| (Some(c), Some(l.href.clone()))))
            .unwrap_or((None, entry.links.first().map(|l| l.href.clone())));
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
        if link.is_none() && body.is_none() {
            parsed
                .rejections
                .push(reject("no link to fetch and no content or summary"));
            continue;
        }
        let Some(identity) = link.clone().or_else(|| {
            let mut url = base.clone()?;
            url.set_fragment(Some(&entry.id));
            Some(url.to_string())
        }) else {
            parsed
                .rejections
                .push(reject("no link, and no feed address to name it by"));
            continue;
        };
        let title = entry
            .title
            .as_ref()
            .map(|t| plain_text(&t.content))
            .filter(|t| !t.is_empty());
        let published = entry.published.or(entry.updated);
        let fingerprint = content_hash(
            &format!("{}\n{}", title.as_deref().unwrap_or_default(), identity),
            &format!(
                "{}\n{}\n{}",
                body.as_deref().unwrap_or_default(),
                entry.published.map(|t| t.to_rfc3339()).unwrap_or_default(),
                entry.updated.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
        );
        parsed.entries.push(FeedEntry {
            position,
            id: entry.id.clone(),
            link,
            original_link,
            identity,
            title,
            author: entry
                .authors
                .iter()
                .find_map(|p| p.name.clone())
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            published,
            body,
            fingerprint,
        });
    }
    Ok(parsed)
}

impl FeedEntry {
    /// The item for this entry: the page's article when there is one (fetched by the
    /// caller), else the entry's own content. Fails, with the reason, when neither gives
    /// any text.
    pub fn into_item(
        self,
        article: Option<Article>,
        source: &Source,
        fetched_at: DateTime<Utc>,
    ) -> Result<NewItem, String> {
        let (text, html, article_title, article_author, article_date) = match article {
            Some(a) => (
                a.text,
                Some(a.html).filter(|h| !h.is_empty()),
                a.title,
                a.author,
                a.published,
            ),
            // The feed's own text is parsed only when the page gave none.
            None => match self.body.as_deref().map(Document::from_html) {
                Some(doc) if !doc.text.trim().is_empty() => (doc.text, doc.html, doc.title, doc.author, None),
                _ => return Err("no readable text in the page or the entry".to_owned()),
            },
        };
        let title = self
            .title
            .or(article_title)
            .or_else(|| {
                text.lines()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().chars().take(120).collect())
            })
            .ok_or_else(|| "no title and no text".to_owned())?;
        Ok(NewItem {
            source_id: source.id,
            canonical_url: self.identity,
            original_url: self.original_link,
            guid: Some(self.id),
            language: detect_language(&text),
            content_hash: content_hash(&title, &text),
            title,
            author: self.author.or(article_author),
            published_at: self.published.or(article_date),
            fetched_at,
            text,
            html,
            tlp: source.spec.default_tlp,
        })
    }
}

/// Markup-free, whitespace-trimmed text of a feed field (titles may carry HTML).
fn plain_text(raw: &str) -> String {
    Document::from_html(raw).text.trim().to_owned()
}
