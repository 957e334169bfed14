//! Rendered public responses kept in memory: the home page, bulletin, tag and entity pages,
//! every feed, the MISP feed and the TAXII pages, for callers that send no credentials.
//!
//! A public page is rendered once and then served, with its compressed forms, from memory:
//! a bulletin linked from a popular site costs a hash lookup per request, not a pass over
//! every published bulletin. What makes this safe is the store's publication epoch
//! ([`threatdesk_store::Store::publication_epoch`]): triggers move it in the transaction that
//! changes a bulletin (or an item a bulletin cites), whichever process makes the change.
//! Every request reads it first; a response rendered under another value is never served,
//! so a withdrawn or re-marked bulletin disappears from every page and feed the moment its
//! change commits.
//!
//! Reading the epoch is one primary-key lookup on a pooled read connection (a few
//! microseconds), done on the request's own thread: handing it to the blocking pool would
//! cost more than the lookup.
//!
//! Each response carries a strong `ETag` (a hash of the uncompressed body, or the one its
//! handler set), `Last-Modified` (when the epoch last moved), `Vary: Accept-Encoding` and
//! `Cache-Control: public, no-cache`: browsers and proxies may keep a copy but ask again each
//! time, and the question costs them a `304`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{AppError, AppState, render};

/// Responses kept at most; beyond it the cache starts over (a crawler walking every tag
/// must not grow it without bound).
const MAX_ENTRIES: usize = 4_096;
/// Bodies larger than this are served but not kept.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Bodies smaller than this are not worth compressing.
const MIN_COMPRESSED_BYTES: usize = 256;

/// The cache of one server process.
#[derive(Debug, Default)]
pub(crate) struct PublicCache {
    entries: Mutex<Entries>,
    /// One lock per response being rendered: requests that miss together wait for one
    /// render instead of each making their own (a change under load, or a cold start, would
    /// otherwise render the home page once per open connection).
    rendering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Default)]
struct Entries {
    /// The epoch every entry was rendered under.
    epoch: i64,
    by_key: HashMap<String, Arc<Cached>>,
}

impl PublicCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn render_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut rendering = self
            .rendering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(rendering.entry(key.to_owned()).or_default())
    }

    fn rendered(&self, key: &str) {
        let mut rendering = self
            .rendering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rendering.remove(key);
    }

    fn get(&self, epoch: i64, key: &str) -> Option<Arc<Cached>> {
        let entries = self.lock();
        if entries.epoch != epoch {
            return None;
        }
        entries.by_key.get(key).cloned()
    }

    fn put(&self, epoch: i64, key: String, cached: Arc<Cached>) {
        let mut entries = self.lock();
        // An entry rendered under an older epoch than the cache's is already stale.
        if epoch < entries.epoch {
            return;
        }
        if epoch > entries.epoch || entries.by_key.len() >= MAX_ENTRIES {
            entries.by_key.clear();
            entries.epoch = epoch;
        }
        entries.by_key.insert(key, cached);
    }
}

/// One rendered response and its compressed forms.
#[derive(Debug)]
struct Cached {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    etag: HeaderValue,
    last_modified: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// The middleware: answers from the cache, or renders, keeps and answers.
pub(crate) async fn serve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let cacheable = (request.method() == Method::GET || request.method() == Method::HEAD)
        && !request.headers().contains_key(header::AUTHORIZATION);
    if !cacheable {
        return next.run(request).await;
    }
    let epoch = match state.publication_epoch() {
        Ok(epoch) => epoch,
        Err(error) => return AppError::from(error).into_response(),
    };
    let key = cache_key(&state, request.headers(), request.uri());
    let asked = Asked::of(request.headers());
    let cache = state.public_cache();
    if let Some(hit) = cache.get(epoch.value, &key) {
        return hit.answer(&asked);
    }
    let lock = cache.render_lock(&key);
    let _rendering = lock.lock().await;
    // Whoever held the lock before may have rendered it under this very epoch.
    if let Some(hit) = cache.get(epoch.value, &key) {
        return hit.answer(&asked);
    }
    // The handler renders the full response; conditions are answered here, from the cache.
    request.headers_mut().remove(header::IF_NONE_MATCH);
    request.headers_mut().remove(header::IF_MODIFIED_SINCE);
    let response = next.run(request).await;
    let answer = match Cached::from_response(response, epoch.changed_at).await {
        Ok(cached) => {
            let cached = Arc::new(cached);
            cache.put(epoch.value, key.clone(), Arc::clone(&cached));
            cached.answer(&asked)
        }
        Err(response) => response,
    };
    cache.rendered(&key);
    answer
}

/// What a response depends on besides the epoch: the address asked for, the site address
/// links are built from (the `Host` when no `public_url` is set) and the media types the
/// caller accepts (TAXII answers by them).
fn cache_key(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = if state.config().public_url.is_some() {
        ""
    } else {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    format!("{target}\n{host}\n{accept}")
}

/// What the request asks of the answer: a compressed form, or nothing if unchanged.
struct Asked {
    encoding: Encoding,
    if_none_match: Option<String>,
    if_modified_since: Option<DateTime<Utc>>,
}

impl Asked {
    fn of(headers: &HeaderMap) -> Self {
        let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        Self {
            encoding: text(header::ACCEPT_ENCODING).map_or(Encoding::Identity, preferred_encoding),
            if_none_match: text(header::IF_NONE_MATCH).map(str::to_owned),
            if_modified_since: text(header::IF_MODIFIED_SINCE)
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// Brotli, else gzip, else none, by what `Accept-Encoding` allows (a `q=0` refuses).
fn preferred_encoding(accept: &str) -> Encoding {
    let allowed = |name: &str| {
        accept.split(',').any(|part| {
            let mut fields = part.split(';').map(str::trim);
            let coding = fields.next().unwrap_or("");
            let refused = fields.any(|f| {
                f.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    if allowed("br") {
        Encoding::Brotli
    } else if allowed("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn http_date(t: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn brotli(body: &[u8]) -> Option<Bytes> {
    let mut out = Vec::new();
    {
        // Quality 6 of 11: most of the size gain for a fraction of the time, once per page.
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 6, 22);
        writer.write_all(body).ok()?;
        writer.flush().ok()?;
    }
    Some(Bytes::from(out))
}

impl Cached {
    /// Keeps a rendered response; hands back the ones that must not be kept (errors,
    /// redirects, compressed or oversized bodies), rebuilt as they were.
    async fn from_response(response: Response, last_modified: DateTime<Utc>) -> Result<Self, Response> {
        let status = response.status();
        let keep = matches!(status, StatusCode::OK | StatusCode::NOT_FOUND)
            && !response.headers().contains_key(header::CONTENT_ENCODING);
        if !keep {
            return Err(response);
        }
        let (parts, body) = response.into_parts();
        let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(_) => {
                return Err(
                    AppError::Internal("a public response was too large to keep".to_owned()).into_response(),
                );
            }
        };
        let mut headers = parts.headers;
        let etag = match headers.remove(header::ETAG) {
            Some(etag) => etag,
            None => HeaderValue::from_str(&format!("\"{}\"", render::hex(&Sha256::digest(&body)[..16])))
                .map_err(|e| AppError::Internal(e.to_string()).into_response())?,
        };
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, no-cache"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        let compress = body.len() >= MIN_COMPRESSED_BYTES;
        Ok(Self {
            status,
            gzip: compress.then(|| gzip(&body)).flatten(),
            brotli: compress.then(|| brotli(&body)).flatten(),
            body,
            headers,
            etag,
            last_modified,
        })
    }

    fn unchanged(&self, asked: &Asked) -> bool {
        if self.status != StatusCode::OK {
            return false;
        }
        if let Some(tags) = &asked.if_none_match {
            let ours = self.etag.to_str().unwrap_or("");
            return tags
                .split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == ours || t == "*");
        }
        asked
            .if_modified_since
            .is_some_and(|since| since.timestamp() >= self.last_modified.timestamp())
    }

    fn answer(&self, asked: &Asked) -> Response {
        let mut headers = self.headers.clone();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::LAST_MODIFIED, http_date(self.last_modified));
        if self.unchanged(asked) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            for name in [
                header::ETAG,
                header::LAST_MODIFIED,
                header::CACHE_CONTROL,
                header::VARY,
            ] {
                if let Some(value) = headers.get(&name) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            return response;
        }
        let (body, encoding) = match asked.encoding {
            Encoding::Brotli if self.brotli.is_some() => (self.brotli.clone(), Some("br")),
            Encoding::Brotli | Encoding::Gzip if self.gzip.is_some() => (self.gzip.clone(), Some("gzip")),
            _ => (None, None),
        };
        let body = body.unwrap_or_else(|| self.body.clone());
        // With a Content-Encoding set, the compression layer passes the body through.
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_is_preferred_then_gzip_and_a_zero_quality_refuses() {
        assert_eq!(preferred_encoding("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(preferred_encoding("gzip"), Encoding::Gzip);
        assert_eq!(preferred_encoding("br;q=0, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(preferred_encoding("identity"), Encoding::Identity);
        assert_eq!(preferred_encoding("*"), Encoding::Brotli);
    }

    #[test]
    fn http_dates_are_imf_fixdate_and_parse_back() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T12:30:05Z")
            .expect("date")
            .with_timezone(&Utc);
        let value = http_date(t);
        assert_eq!(value.to_str().expect("ascii"), "Mon, 07 Dec 2026 12:30:05 GMT");
        let back = DateTime::parse_from_rfc2822(value.to_str().expect("ascii")).expect("parses");
        assert_eq!(back.with_timezone(&Utc), t);
    }
}
