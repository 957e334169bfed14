//! HTTP for collectors: one [`Fetcher`] shared by every source, doing what a polite and
//! careful client must: conditional GET, decompression with a size limit that also holds
//! after decompression, timeouts, a bounded and loop-checked redirect chain, a per-host
//! concurrency limit and delay, retries with exponential backoff and jitter that honour
//! `Retry-After`, a clear User-Agent, proxies, and the SSRF guard ([`crate::net_guard`]).
//!
//! Every failure comes back as a [`FetchError`] whose [`kind`](FetchError::kind) is a
//! short stable word (`timeout`, `http_status`, `too_large`…) for source health, and whose
//! message says what happened in words.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::net_guard::{BlockedAddress, GuardedResolver, check_literal};

/// The User-Agent every request carries: who we are and where to read about it.
pub const USER_AGENT: &str = concat!(
    "threatdesk/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/threatdesk/threatdesk)"
);

/// The `[http]` configuration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: f64,
    /// Seconds to wait for the next bytes of a response.
    pub read_timeout_secs: f64,
    /// Seconds one request may take in all.
    pub request_timeout_secs: f64,
    /// Larger bodies are refused (counted after decompression).
    pub max_body_bytes: u64,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Requests to one host at the same time.
    pub per_host_concurrency: usize,
    /// Seconds between the starts of two requests to one host.
    pub per_host_delay_secs: f64,
    /// Tries after the first on 5xx, 429, timeouts and connection errors.
    pub max_retries: u32,
    /// Seconds of the first retry's backoff; doubled for each further retry, with jitter.
    pub retry_base_secs: f64,
    /// A `Retry-After` longer than this is not waited for: the source is tried again later.
    pub max_retry_after_secs: f64,
    /// Proxy for every request (`http://proxy:3128`); empty uses `HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY` from the environment.
    pub proxy: String,
    /// Let every source reach loopback, private and link-local addresses (the SSRF guard
    /// off). Prefer allowing single sources (`sources add --allow-private`).
    pub allow_private: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout_secs: 10.0,
            read_timeout_secs: 30.0,
            request_timeout_secs: 60.0,
            max_body_bytes: 10_000_000,
            max_redirects: 5,
            per_host_concurrency: 2,
            per_host_delay_secs: 1.0,
            max_retries: 2,
            retry_base_secs: 1.0,
            max_retry_after_secs: 120.0,
            proxy: String::new(),
            allow_private: false,
        }
    }
}

/// What a server told us last time, to ask "has it changed since?".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Last-Modified` header.
    pub last_modified: Option<String>,
}

/// One GET.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    /// The address.
    pub url: &'a str,
    /// Validators for a conditional GET; a 304 answer becomes [`Fetched::NotModified`].
    pub validators: Option<&'a Validators>,
    /// Whether this request may reach private addresses.
    pub allow_private: bool,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 2xx with a body.
    Body(Response),
    /// 304: nothing changed since the validators were issued.
    NotModified {
        /// Tries it took.
        attempts: u32,
    },
}

/// A 2xx response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// Its status.
    pub status: u16,
    /// The address after redirects.
    pub final_url: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// Validators for the next conditional GET.
    pub validators: Validators,
    /// Tries it took (1 without retries).
    pub attempts: u32,
}

/// Why a fetch failed, after any retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// Not an `http`/`https` URL.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The SSRF guard refused the address.
    #[error("{0}")]
    Blocked(BlockedAddress),
    /// No answer in time.
    #[error("timed out after {attempts} tries: {message}")]
    Timeout {
        /// Tries made.
        attempts: u32,
        /// Details.
        message: String,
    },
    /// No connection (DNS, refused, TLS).
    #[error("cannot connect after {attempts} tries: {message}")]
    Connect {
        /// Tries made.
        attempts: u32,
        /// Details.
        message: String,
    },
    /// Too many redirects, or a loop.
    #[error("{0}")]
    Redirect(String),
    /// A non-2xx, non-304 answer.
    #[error("HTTP {status}{} after {attempts} tries", reason_phrase(*status))]
    Status {
        /// The status code.
        status: u16,
        /// Tries made.
        attempts: u32,
        /// When the server asked to be tried again (`Retry-After`), if it did.
        retry_after: Option<DateTime<Utc>>,
    },
    /// The body is over the limit.
    #[error("body over the limit of {limit} bytes ({detail}; http.max_body_bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
        /// What gave it away.
        detail: String,
    },
    /// The connection broke or the body could not be decoded.
    #[error("cannot read the response body: {0}")]
    Body(String),
    /// The HTTP client could not be set up (bad proxy, TLS roots).
    #[error("HTTP client setup: {0}")]
    Setup(String),
}

fn reason_phrase(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

impl FetchError {
    /// A short stable name for health records and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "invalid_url",
            FetchError::Blocked(_) => "blocked_address",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::Redirect(_) => "redirect",
            FetchError::Status { .. } => "http_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Body(_) => "body",
            FetchError::Setup(_) => "setup",
        }
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// When the server asked us to come back.
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The per-host gate: at most N requests at once, and a delay between request starts.
#[derive(Debug)]
struct HostSlot {
    permits: Semaphore,
    next_start: tokio::sync::Mutex<Instant>,
}

/// The shared HTTP client of all collectors. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    inner: Arc<FetcherInner>,
}

#[derive(Debug)]
struct FetcherInner {
    config: HttpConfig,
    guarded: Client,
    open: Client,
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
}

impl Fetcher {
    /// A fetcher with these settings.
    pub fn new(config: HttpConfig) -> Result<Self, FetchError> {
        let guarded = build_client(&config, true)?;
        let open = build_client(&config, false)?;
        Ok(Self {
            inner: Arc::new(FetcherInner {
                config,
                guarded,
                open,
                hosts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// GETs a URL, with retries, politeness and limits.
    pub async fn get(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        let url = Url::parse(request.url).map_err(|e| FetchError::InvalidUrl {
            url: request.url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::InvalidUrl {
                url: request.url.to_owned(),
                reason: format!("scheme {:?} is not http or https", url.scheme()),
            });
        }
        let allow_private = request.allow_private || self.inner.config.allow_private;
        if !allow_private {
            check_literal(&url).map_err(FetchError::Blocked)?;
        }
        let client = if allow_private {
            &self.inner.open
        } else {
            &self.inner.guarded
        };
        let config = &self.inner.config;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = self.try_once(client, &url, request.validators, attempt).await;
            let wait = match &outcome {
                Err(Retry::Transient { retry_after, .. }) if attempt <= config.max_retries => {
                    match retry_after {
                        Some(at) => {
                            let asked = (*at - Utc::now()).to_std().unwrap_or_default();
                            if asked.as_secs_f64() > config.max_retry_after_secs {
                                None
                            } else {
                                Some(asked)
                            }
                        }
                        None => Some(backoff(config.retry_base_secs, attempt)),
                    }
                }
                _ => None,
            };
            match (outcome, wait) {
                (Ok(fetched), _) => return Ok(fetched),
                (Err(Retry::Transient { .. }), Some(wait)) => {
                    tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, "Retrying");
                    tokio::time::sleep(wait).await;
                }
                (Err(Retry::Transient { error, .. } | Retry::Final(error)), _) => return Err(error),
            }
        }
    }

    async fn try_once(
        &self,
        client: &Client,
        url: &Url,
        validators: Option<&Validators>,
        attempt: u32,
    ) -> Result<Fetched, Retry> {
        let slot = self.host_slot(url);
        let _permit = slot
            .permits
            .acquire()
            .await
            .map_err(|e| Retry::Final(FetchError::Setup(e.to_string())))?;
        {
            let mut next_start = slot.next_start.lock().await;
            let now = Instant::now();
            if *next_start > now {
                tokio::time::sleep_until(*next_start).await;
            }
            *next_start =
                Instant::now() + Duration::from_secs_f64(self.inner.config.per_host_delay_secs.max(0.0));
        }
        let mut builder = client.get(url.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &v.last_modified {
                builder = builder.header(header::IF_MODIFIED_SINCE, modified);
            }
        }
        let response = builder.send().await.map_err(|e| classify(e, attempt, url))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { attempts: attempt });
        }
        if !status.is_success() {
            let retry_after = parse_retry_after(response.headers(), Utc::now());
            let error = FetchError::Status {
                status: status.as_u16(),
                attempts: attempt,
                retry_after,
            };
            let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
            return Err(if transient {
                Retry::Transient { error, retry_after }
            } else {
                Retry::Final(error)
            });
        }
        let limit = self.inner.config.max_body_bytes;
        if let Some(length) = response.content_length()
            && length > limit
            && response.headers().get(header::CONTENT_ENCODING).is_none()
        {
            return Err(Retry::Final(FetchError::TooLarge {
                limit,
                detail: format!("Content-Length {length}"),
            }));
        }
        let final_url = response.url().to_string();
        let content_type = header_text(response.headers(), header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_text(response.headers(), header::ETAG),
            last_modified: header_text(response.headers(), header::LAST_MODIFIED),
        };
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        return Err(Retry::Final(FetchError::TooLarge {
                            limit,
                            detail: format!("more than {limit} bytes after decompression"),
                        }));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(classify(e, attempt, url)),
            }
        }
        Ok(Fetched::Body(Response {
            status: status.as_u16(),
            final_url,
            content_type,
            body,
            validators,
            attempts: attempt,
        }))
    }

    fn host_slot(&self, url: &Url) -> Arc<HostSlot> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self
            .inner
            .hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    permits: Semaphore::new(self.inner.config.per_host_concurrency.max(1)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }
}

/// One try's failure: worth another try or not.
enum Retry {
    Transient {
        error: FetchError,
        retry_after: Option<DateTime<Utc>>,
    },
    Final(FetchError),
}

fn build_client(config: &HttpConfig, guarded: bool) -> Result<Client, FetchError> {
    let max_redirects = config.max_redirects;
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().iter().any(|seen| seen == attempt.url()) {
            let message = format!("redirect loop at {}", attempt.url());
            return attempt.error(message);
        }
        if attempt.previous().len() > max_redirects {
            let message = format!("more than {max_redirects} redirects (http.max_redirects)");
            return attempt.error(message);
        }
        if guarded && let Err(blocked) = check_literal(attempt.url()) {
            return attempt.error(blocked);
        }
        attempt.follow()
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, \
             text/html;q=0.8, */*;q=0.5",
        ),
    );
    let seconds = |s: f64| Duration::from_secs_f64(s.max(0.001));
    let mut builder = Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(headers)
        .redirect(policy)
        .connect_timeout(seconds(config.connect_timeout_secs))
        .read_timeout(seconds(config.read_timeout_secs))
        .timeout(seconds(config.request_timeout_secs))
        .gzip(true)
        .brotli(true)
        .deflate(true);
    if guarded {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    if !config.proxy.trim().is_empty() {
        let proxy = reqwest::Proxy::all(config.proxy.trim())
            .map_err(|e| FetchError::Setup(format!("proxy {:?}: {e}", config.proxy)))?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| FetchError::Setup(e.to_string()))
}

/// Sorts a client error into the kinds health records, and decides whether to retry.
fn classify(error: reqwest::Error, attempt: u32, url: &Url) -> Retry {
    if let Some(blocked) = find_source::<BlockedAddress>(&error) {
        return Retry::Final(FetchError::Blocked(blocked.clone()));
    }
    let (is_redirect, is_timeout, is_connect, is_body, is_builder) = (
        error.is_redirect(),
        error.is_timeout(),
        error.is_connect(),
        error.is_body() || error.is_decode(),
        error.is_builder(),
    );
    let message = describe(error);
    if is_redirect {
        return Retry::Final(FetchError::Redirect(message));
    }
    if is_timeout {
        return Retry::Transient {
            error: FetchError::Timeout {
                attempts: attempt,
                message,
            },
            retry_after: None,
        };
    }
    if is_connect {
        return Retry::Transient {
            error: FetchError::Connect {
                attempts: attempt,
                message,
            },
            retry_after: None,
        };
    }
    if is_body {
        return Retry::Final(FetchError::Body(message));
    }
    if is_builder {
        return Retry::Final(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: message,
        });
    }
    Retry::Transient {
        error: FetchError::Connect {
            attempts: attempt,
            message,
        },
        retry_after: None,
    }
}

/// The error and its causes, deepest last, without the URL reqwest adds (callers name it).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut parts = vec![error.to_string()];
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

fn find_source<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<T>() {
            return Some(found);
        }
        cause = c.source();
    }
    None
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Retry-After` as seconds or an HTTP date, as an absolute time.
pub fn parse_retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = header_text(headers, header::RETRY_AFTER)?;
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(now + chrono::Duration::seconds(i64::from(seconds)));
    }
    DateTime::parse_from_rfc2822(&value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Exponential backoff with full jitter: a random wait in `[base·2^(n-1) / 2, base·2^(n-1)]`.
fn backoff(base_secs: f64, attempt: u32) -> Duration {
    let ceiling = base_secs.max(0.0) * f64::from(1u32 << attempt.saturating_sub(1).min(10));
    Duration::from_secs_f64(ceiling * (0.5 + fastrand::f64() * 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc::now();
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(now + chrono::Duration::seconds(120))
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"),
        );
        assert_eq!(
            parse_retry_after(&headers, now).map(|t| t.to_rfc3339()),
            Some("2026-10-21T07:28:00+00:00".to_owned())
        );
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 1..=4 {
            let ceiling = 2f64.powi(attempt as i32 - 1);
            for _ in 0..50 {
                let wait = backoff(1.0, attempt).as_secs_f64();
                assert!(wait >= ceiling / 2.0 && wait <= ceiling, "{attempt}: {wait}");
            }
        }
    }
}
