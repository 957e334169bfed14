//! The web collector: feeds (with the full text of each entry's page) and single web pages.
//!
//! One call, [`collect_source`], reads one source: a conditional GET of its address, then,
//! for a feed, the entries the store has not seen in this form before, each with its page
//! fetched and its main text extracted. Nothing is stored here; the caller persists the
//! [`SourceRun`] (items, entries seen, problems, new validators) in one transaction.
//!
//! Nothing is dropped silently: an entry that gives no item, and a page that could not be
//! used (the entry then keeps the feed's own text), each leave a [`Problem`] with the
//! address and the reason.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use threatdesk_model::{ContentHash, NewItem, Source, SourceKind};
use threatdesk_text::{Article, Document, content_hash, decode, detect_language, extract_article};

use crate::feed::{FeedEntry, canonical_url, parse_feed};
use crate::http::{FetchError, FetchRequest, Fetched, Fetcher, Response, Validators};

/// The `[collect]` configuration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Seconds between collections of a source that sets no interval of its own.
    pub default_interval_secs: u64,
    /// Sources collected at the same time.
    pub source_concurrency: usize,
    /// Fetch each new feed entry's page and keep its main text (else the feed's text only).
    pub fetch_articles: bool,
    /// Pages fetched at the same time for one feed (the per-host limit still applies).
    pub article_concurrency: usize,
    /// At most this many entries of one feed are fetched per collection; the rest wait
    /// for the next one (a first poll of a long feed stays polite).
    pub max_entries_per_run: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            default_interval_secs: crate::schedule::DEFAULT_INTERVAL_SECS,
            source_concurrency: 4,
            fetch_articles: true,
            article_concurrency: 4,
            max_entries_per_run: 200,
        }
    }
}

/// Something that went wrong for one entry or page; the run went on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `entry_rejected` (no item), `article_fallback` (the feed's text was kept),
    /// `entry_deferred` (left for the next run), or `fetch_failed` (the source itself).
    pub kind: &'static str,
    /// The page's address, or `entry N (id)`.
    pub input: String,
    /// Why.
    pub reason: String,
}

/// How reading the source's own address went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RunOutcome {
    /// A document came and was read.
    Fetched {
        /// Its HTTP status.
        status: u16,
        /// Validators for the next conditional GET.
        validators: Validators,
    },
    /// 304: unchanged since the last collection.
    NotModified,
    /// The source could not be read at all.
    Failed {
        /// A short stable word: `timeout`, `http_status`, `parse`, `blocked_address`…
        kind: String,
        /// What happened, in words.
        message: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// When the server asked to be tried again.
        retry_after: Option<DateTime<Utc>>,
    },
}

/// One entry's item with the identity and hash to remember it by.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedItem {
    /// The item.
    pub item: NewItem,
    /// For feed entries: identity and entry hash.
    pub entry: Option<(String, ContentHash)>,
    /// Whether the text is the page's main text (else the feed's or the whole page's).
    pub full_text: bool,
}

/// What one collection of a source gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRun {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How reading the source's address went.
    pub outcome: RunOutcome,
    /// Entries the feed listed (1 for a page).
    pub entries: u32,
    /// Entries skipped because the feed repeats them unchanged.
    pub unchanged_entries: u32,
    /// New or changed entries, as items.
    pub items: Vec<CollectedItem>,
    /// Everything that went wrong, with reasons.
    pub problems: Vec<Problem>,
}

impl SourceRun {
    fn failed(started_at: DateTime<Utc>, error: &FetchError) -> Self {
        Self::failed_with(
            started_at,
            error.kind(),
            error.to_string(),
            error.status(),
            error.retry_after(),
        )
    }

    fn failed_with(
        started_at: DateTime<Utc>,
        kind: &str,
        message: String,
        status: Option<u16>,
        retry_after: Option<DateTime<Utc>>,
    ) -> Self {
        Self::empty(
            started_at,
            RunOutcome::Failed {
                kind: kind.to_owned(),
                message,
                status,
                retry_after,
            },
        )
    }

    fn empty(started_at: DateTime<Utc>, outcome: RunOutcome) -> Self {
        Self {
            started_at,
            outcome,
            entries: 0,
            unchanged_entries: 0,
            items: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// Tells which feed entries were handled before, and with which entry hash.
pub trait SeenEntries {
    /// Of these identities, the ones handled before, with their entry hash then.
    fn seen(&self, identities: &[String]) -> HashMap<String, ContentHash>;
}

impl<F: Fn(&[String]) -> HashMap<String, ContentHash>> SeenEntries for F {
    fn seen(&self, identities: &[String]) -> HashMap<String, ContentHash> {
        self(identities)
    }
}

/// Collects one feed or web-page source. `validators` come from the last collection.
pub async fn collect_source(
    fetcher: &Fetcher,
    config: &WebConfig,
    source: &Source,
    validators: Option<&Validators>,
    seen: &dyn SeenEntries,
) -> SourceRun {
    let started_at = Utc::now();
    let request = FetchRequest {
        url: &source.spec.location,
        validators,
        allow_private: source.spec.allow_private,
    };
    let response = match fetcher.get(request).await {
        Ok(Fetched::Body(response)) => response,
        Ok(Fetched::NotModified { .. }) => return SourceRun::empty(started_at, RunOutcome::NotModified),
        Err(error) => return SourceRun::failed(started_at, &error),
    };
    match source.spec.kind {
        SourceKind::WebPage => collect_page(source, response, started_at),
        _ => collect_feed(fetcher, config, source, response, started_at, seen).await,
    }
}

async fn collect_feed(
    fetcher: &Fetcher,
    config: &WebConfig,
    source: &Source,
    response: Response,
    started_at: DateTime<Utc>,
    seen: &dyn SeenEntries,
) -> SourceRun {
    let feed = match parse_feed(&response.body, Some(&response.final_url)) {
        Ok(feed) => feed,
        Err(error) => {
            let hint = match &response.content_type {
                Some(t) if t.contains("html") => {
                    let page = decode(&response.body);
                    let base = url::Url::parse(&response.final_url).ok();
                    let feeds: Vec<String> = threatdesk_text::feed_links(&page.text)
                        .iter()
                        .filter_map(|href| canonical_url(href, base.as_ref()))
                        .collect();
                    if feeds.is_empty() {
                        format!(
                            " (the server sent {t}: a web page, not a feed; add it as a web page, or use the feed's address)"
                        )
                    } else {
                        format!(
                            " (the server sent {t}: a web page, not a feed; the page announces these feeds: {})",
                            feeds.join(", ")
                        )
                    }
                }
                _ => String::new(),
            };
            return SourceRun::failed_with(
                started_at,
                "parse",
                format!("{error}{hint}"),
                Some(response.status),
                None,
            );
        }
    };
    let mut run = SourceRun {
        started_at,
        outcome: RunOutcome::Fetched {
            status: response.status,
            validators: response.validators,
        },
        entries: u32::try_from(feed.entries.len() + feed.rejections.len()).unwrap_or(u32::MAX),
        unchanged_entries: 0,
        items: Vec::new(),
        problems: feed
            .rejections
            .iter()
            .map(|r| Problem {
                kind: "entry_rejected",
                input: format!("entry {} ({})", r.position, r.id),
                reason: r.reason.clone(),
            })
            .collect(),
    };
    let identities: Vec<String> = feed.entries.iter().map(|e| e.identity.clone()).collect();
    let known = seen.seen(&identities);
    let mut pending: Vec<FeedEntry> = Vec::new();
    for entry in feed.entries {
        if known.get(&entry.identity) == Some(&entry.fingerprint) {
            run.unchanged_entries += 1;
        } else if pending.iter().any(|p| p.identity == entry.identity) {
            run.problems.push(Problem {
                kind: "entry_rejected",
                input: entry_label(&entry),
                reason: format!("the feed lists {} twice; the first is kept", entry.identity),
            });
        } else {
            pending.push(entry);
        }
    }
    if pending.len() > config.max_entries_per_run {
        for entry in pending.drain(config.max_entries_per_run..) {
            run.problems.push(Problem {
                kind: "entry_deferred",
                input: entry_label(&entry),
                reason: format!(
                    "more than {} new entries in one run (collect.max_entries_per_run); left for the next run",
                    config.max_entries_per_run
                ),
            });
        }
    }
    let fetched_at = Utc::now();
    let results: Vec<(FeedEntry, Result<Article, String>)> = stream::iter(pending)
        .map(|entry| async move {
            let article = match (&entry.link, config.fetch_articles) {
                (Some(link), true) => fetch_article(fetcher, link, source.spec.allow_private).await,
                (None, true) => Err("the entry has no link to fetch".to_owned()),
                (_, false) => Err("article fetching is off (collect.fetch_articles)".to_owned()),
            };
            (entry, article)
        })
        .buffered(config.article_concurrency.max(1))
        .collect()
        .await;
    for (entry, article) in results {
        let label = entry_label(&entry);
        let link = entry.link.clone().unwrap_or_else(|| label.clone());
        let remembered = (entry.identity.clone(), entry.fingerprint.clone());
        let (article, fallback_reason) = match article {
            Ok(article) => (Some(article), None),
            Err(reason) => (None, Some(reason)),
        };
        let full_text = article.is_some();
        match entry.into_item(article, source, fetched_at) {
            Ok(item) => {
                if let Some(reason) = fallback_reason
                    && config.fetch_articles
                {
                    run.problems.push(Problem {
                        kind: "article_fallback",
                        input: link,
                        reason: format!("{reason}; the feed's text was kept"),
                    });
                }
                run.items.push(CollectedItem {
                    item,
                    entry: Some(remembered),
                    full_text,
                });
            }
            Err(reason) => {
                let reason = match fallback_reason {
                    Some(page) => format!("{reason} (page: {page})"),
                    None => reason,
                };
                run.problems.push(Problem {
                    kind: "entry_rejected",
                    input: label,
                    reason,
                });
            }
        }
    }
    run
}

fn entry_label(entry: &FeedEntry) -> String {
    match &entry.link {
        Some(link) => format!("entry {} ({link})", entry.position),
        None => format!("entry {} ({})", entry.position, entry.id),
    }
}

/// Fetches a page and extracts its main article; the error says why it could not be used.
async fn fetch_article(fetcher: &Fetcher, url: &str, allow_private: bool) -> Result<Article, String> {
    let request = FetchRequest {
        url,
        validators: None,
        allow_private,
    };
    let response = match fetcher.get(request).await {
        Ok(Fetched::Body(response)) => response,
        Ok(Fetched::NotModified { .. }) => return Err("the page answered 304 to a plain GET".to_owned()),
        Err(error) => return Err(format!("page fetch failed: {error}")),
    };
    if let Some(content_type) = &response.content_type
        && !is_html(content_type)
    {
        return Err(format!("the page is {content_type}, not HTML"));
    }
    let decoded = decode(&response.body);
    extract_article(&decoded.text, Some(&response.final_url)).map_err(|e| e.to_string())
}

fn is_html(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "text/plain" | ""
    )
}

fn collect_page(source: &Source, response: Response, started_at: DateTime<Utc>) -> SourceRun {
    let identity = canonical_url(&source.spec.location, None).unwrap_or_else(|| source.spec.location.clone());
    let decoded = decode(&response.body);
    let mut run = SourceRun {
        started_at,
        outcome: RunOutcome::Fetched {
            status: response.status,
            validators: response.validators.clone(),
        },
        entries: 1,
        unchanged_entries: 0,
        items: Vec::new(),
        problems: Vec::new(),
    };
    let (title, author, published, text, html, full_text) =
        match extract_article(&decoded.text, Some(&response.final_url)) {
            Ok(a) => (a.title, a.author, a.published, a.text, Some(a.html), true),
            Err(reason) => {
                let page = Document::from_html(&decoded.text);
                if page.text.trim().is_empty() {
                    return SourceRun::failed_with(
                        started_at,
                        "no_text",
                        format!("the page has no readable text ({reason})"),
                        Some(response.status),
                        None,
                    );
                }
                run.problems.push(Problem {
                    kind: "article_fallback",
                    input: response.final_url.clone(),
                    reason: format!("{reason}; the whole page's text was kept"),
                });
                (
                    page.title,
                    page.author,
                    page.published_at,
                    page.text,
                    page.html,
                    false,
                )
            }
        };
    let title = title.unwrap_or_else(|| source.spec.name.clone());
    run.items.push(CollectedItem {
        item: NewItem {
            source_id: source.id,
            canonical_url: identity,
            original_url: Some(response.final_url),
            guid: None,
            language: detect_language(&text),
            content_hash: content_hash(&title, &text),
            title,
            author,
            published_at: published,
            fetched_at: Utc::now(),
            text,
            html,
            tlp: source.spec.default_tlp,
        },
        entry: None,
        full_text,
    });
    run
}
