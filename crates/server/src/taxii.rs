//! A read-only TAXII 2.1 server at `/taxii2/`: published bulletins as STIX 2.1 objects.
//!
//! Collections: every published bulletin the caller is cleared for, and one per TLP level
//! up to the caller's clearance. Callers authenticate with HTTP Basic or a personal API
//! token ([`MachineCaller`]); anonymous callers are cleared for TLP:CLEAR only.
//!
//! A collection's content is derived, on each request, from the published bulletins (see
//! [`entries`]): an object's `date_added` is the publication time of the first bulletin in
//! the collection that carries it, and its version is its `modified` time. Pages are cut
//! by a cursor naming the last entry served — `(date_added, id, version)`, a total order —
//! so entries sharing a timestamp are neither repeated nor skipped, and objects published
//! while a client pages through only ever appear after its cursor.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use threatdesk_model::{Bulletin, Tlp};

use crate::auth::MachineCaller;
use crate::{AppError, AppState, exports};

/// The media type of every TAXII response.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of the objects the collections hold.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// Where the one API root lives.
pub const API_ROOT: &str = "/taxii2/api/";
/// Entries per page when the client does not say.
const DEFAULT_PAGE: usize = 100;
/// The most entries one page holds, whatever the client asks.
const MAX_PAGE: usize = 1000;

/// A TAXII error: a status with the error message body clients expect.
#[derive(Debug)]
pub(crate) struct TaxiiError {
    status: StatusCode,
    title: &'static str,
    description: String,
}

impl TaxiiError {
    fn bad_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Bad request",
            description: description.into(),
        }
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            description: description.into(),
        }
    }
}

impl From<AppError> for TaxiiError {
    fn from(error: AppError) -> Self {
        let (status, title) = match &error {
            AppError::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            AppError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "Too many failed logins"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            AppError::Forbidden | AppError::BadCsrf => (StatusCode::FORBIDDEN, "Forbidden"),
            AppError::BadRequest(_) | AppError::Conflict(_) => (StatusCode::BAD_REQUEST, "Bad request"),
            AppError::Internal(message) => {
                tracing::error!(%message, "TAXII request failed");
                return Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    title: "Internal error",
                    description: "Something went wrong on the server; it has been logged.".to_owned(),
                };
            }
        };
        let description = match &error {
            AppError::Unauthenticated { .. } => {
                "Give HTTP Basic credentials or a personal API token (Authorization: Bearer), or none \
                 for TLP:CLEAR content only."
                    .to_owned()
            }
            other => other.to_string(),
        };
        Self {
            status,
            title,
            description,
        }
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut response = taxii_json(self.status, body.to_string(), None);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"threatdesk TAXII\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// A TAXII JSON response, with the date-added range headers when there is one.
fn taxii_json(status: StatusCode, body: String, added: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
    if let Some((first, last)) = added {
        for (name, time) in [
            ("x-taxii-date-added-first", first),
            ("x-taxii-date-added-last", last),
        ] {
            if let Ok(value) = HeaderValue::from_str(&timestamp(time)) {
                headers.insert(name, value);
            }
        }
    }
    response
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_timestamp(name: &str, value: &str) -> Result<DateTime<Utc>, TaxiiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| TaxiiError::bad_request(format!("{name}={value:?} is not an RFC 3339 timestamp: {e}")))
}

/// Refuses requests that do not accept TAXII 2.1 JSON (406), as the specification asks.
fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let acceptable = accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let version = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("version"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned());
        match media.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    });
    if acceptable {
        Ok(())
    } else {
        Err(TaxiiError {
            status: StatusCode::NOT_ACCEPTABLE,
            title: "Not acceptable",
            description: format!("this server speaks {TAXII_MEDIA_TYPE}, not {accept:?}"),
        })
    }
}

async fn caller(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<MachineCaller, TaxiiError> {
    check_accept(headers)?;
    Ok(MachineCaller::identify(state, peer.ip(), headers).await?)
}

/// A collection: all published bulletins the caller may see, or those of one TLP level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    All,
    Level(Tlp),
}

const LEVELS: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

impl Collection {
    /// Fixed ids, so that clients can remember collections across restarts.
    fn id(self) -> &'static str {
        match self {
            Collection::All => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a60",
            Collection::Level(Tlp::Clear) => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a61",
            Collection::Level(Tlp::Green) => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a62",
            Collection::Level(Tlp::Amber) => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a63",
            Collection::Level(Tlp::AmberStrict) => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a64",
            Collection::Level(Tlp::Red) => "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a65",
        }
    }

    /// The collections `ceiling` may see.
    fn visible(ceiling: Tlp) -> impl Iterator<Item = Collection> {
        std::iter::once(Collection::All).chain(
            LEVELS
                .into_iter()
                .filter(move |tlp| *tlp <= ceiling)
                .map(Collection::Level),
        )
    }

    /// The collection with `id`, if `ceiling` may see it (otherwise it does not exist).
    fn find(id: &str, ceiling: Tlp) -> Result<Collection, TaxiiError> {
        Collection::visible(ceiling)
            .find(|c| c.id() == id)
            .ok_or_else(|| TaxiiError::not_found(format!("there is no collection {id:?}")))
    }

    fn holds(self, tlp: Tlp, ceiling: Tlp) -> bool {
        tlp <= ceiling
            && match self {
                Collection::All => true,
                Collection::Level(level) => tlp == level,
            }
    }

    fn resource(self) -> Value {
        let (title, description) = match self {
            Collection::All => (
                "Published bulletins".to_owned(),
                "Every published bulletin you are cleared for, as STIX 2.1: reports with their \
                 actors, malware, techniques, vulnerabilities and indicators."
                    .to_owned(),
            ),
            Collection::Level(tlp) => (
                format!("TLP:{} bulletins", tlp.as_str()),
                format!("Published bulletins marked TLP:{}, as STIX 2.1.", tlp.as_str()),
            ),
        };
        json!({
            "id": self.id(),
            "title": title,
            "description": description,
            "can_read": true,
            "can_write": false,
            "media_types": [STIX_MEDIA_TYPE],
        })
    }
}

/// One object version in a collection.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    version: String,
    version_time: DateTime<Utc>,
    date_added: DateTime<Utc>,
    spec_version: String,
    /// The object as JSON text (parsed objects take several times the memory).
    object: Box<str>,
}

impl Entry {
    fn key(&self) -> (DateTime<Utc>, &str, &str) {
        (self.date_added, &self.id, &self.version)
    }
}

/// Built collections, by collection and clearance, with the fingerprint of the published
/// bulletins they were built from: a page request rebuilds nothing unless a bulletin was
/// published, edited or withdrawn since.
#[derive(Debug, Default)]
pub(crate) struct CollectionCache {
    built: std::sync::Mutex<HashMap<CollectionKey, Fingerprinted>>,
}

/// Built entries with the fingerprint of the bulletins they came from.
type Fingerprinted = (u64, Arc<Vec<Entry>>);

/// A collection (by id) as seen with a clearance.
type CollectionKey = (&'static str, Tlp);

impl CollectionCache {
    fn get(&self, key: CollectionKey, fingerprint: u64) -> Option<Arc<Vec<Entry>>> {
        let built = self
            .built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        built
            .get(&key)
            .filter(|(f, _)| *f == fingerprint)
            .map(|(_, entries)| Arc::clone(entries))
    }

    fn put(&self, key: CollectionKey, fingerprint: u64, entries: Arc<Vec<Entry>>) {
        let mut built = self
            .built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        built.insert(key, (fingerprint, entries));
    }
}

/// A collection's entries in page order. Bulletins are read least restrictive first, so an
/// object several bulletins carry (an actor, an indicator) comes with the least restrictive
/// marking of any bulletin in the collection; its `date_added` is the earliest publication.
async fn entries(
    state: &AppState,
    collection: Collection,
    ceiling: Tlp,
) -> Result<Arc<Vec<Entry>>, TaxiiError> {
    let kb_state = state.clone();
    let publisher = state.config().publisher.clone();
    let bundles = state.stix_bundles();
    let collections = state.taxii_collections();
    let key = (collection.id(), ceiling);
    let built = state
        .db(move |s| {
            let mut bulletins: Vec<Bulletin> = exports::published_up_to(s, ceiling)?
                .into_iter()
                .filter(|b| collection.holds(b.content.tlp, ceiling))
                .collect();
            bulletins.sort_by_key(|b| b.content.tlp);
            let mut hasher = std::hash::DefaultHasher::new();
            for b in &bulletins {
                (b.id.0, b.version, b.updated_at, b.published_at, b.content.tlp).hash(&mut hasher);
            }
            let fingerprint = hasher.finish();
            if let Some(entries) = collections.get(key, fingerprint) {
                return Ok(Ok(entries));
            }
            let documents = bulletins
                .into_iter()
                .map(|b| {
                    bundles
                        .get_or_build(&b, || {
                            exports::document(s, kb_state.knowledge(), &b, &publisher, exports::Format::Stix)
                                .map(|bundle| bundle.to_string())
                        })
                        .map(|bundle| (b, bundle))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Err((fingerprint, documents)))
        })
        .await?;
    let (fingerprint, documents) = match built {
        Ok(entries) => return Ok(entries),
        Err(to_build) => to_build,
    };
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut list: Vec<Entry> = Vec::new();
    for (bulletin, bundle) in &documents {
        // Added when published, or when last changed if that is later (an edit in place
        // must land after the cursors of clients that have read the earlier version).
        let published = bulletin
            .published_at
            .unwrap_or(bulletin.updated_at)
            .max(bulletin.updated_at);
        let bundle: Value = serde_json::from_str(bundle)
            .map_err(|e| AppError::Internal(format!("a cached STIX bundle: {e}")))?;
        let Some(objects) = bundle["objects"].as_array() else {
            continue;
        };
        for (position, object) in objects.iter().enumerate() {
            // One microsecond apart, so that clients paging by `added_after` and the
            // date-added headers (rather than `next`) never lose objects at a page edge.
            let added =
                published + chrono::Duration::microseconds(i64::try_from(position).unwrap_or(i64::MAX));
            let (Some(id), Some(version)) = (
                object["id"].as_str(),
                object["modified"].as_str().or(object["created"].as_str()),
            ) else {
                continue;
            };
            let key = (id.to_owned(), version.to_owned());
            if let Some(&at) = index.get(&key) {
                list[at].date_added = list[at].date_added.min(added);
                continue;
            }
            let version_time = DateTime::parse_from_rfc3339(version)
                .map_err(|e| AppError::Internal(format!("object {id} has a bad version {version:?}: {e}")))?
                .with_timezone(&Utc);
            index.insert(key, list.len());
            list.push(Entry {
                id: id.to_owned(),
                version: version.to_owned(),
                version_time,
                date_added: added,
                spec_version: object["spec_version"].as_str().unwrap_or("2.1").to_owned(),
                object: object.to_string().into(),
            });
        }
    }
    list.sort_by(|a, b| a.key().cmp(&b.key()));
    let list = Arc::new(list);
    state.taxii_collections().put(key, fingerprint, Arc::clone(&list));
    Ok(list)
}

/// Which versions of an object `match[version]` asks for.
#[derive(Debug, Clone, PartialEq)]
enum VersionChoice {
    First,
    Last,
    All,
    At(DateTime<Utc>),
}

/// An endpoint's query, checked.
#[derive(Debug)]
struct Filter {
    added_after: Option<DateTime<Utc>>,
    limit: usize,
    next: Option<(DateTime<Utc>, String, String)>,
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    versions: Vec<VersionChoice>,
    spec_versions: Option<Vec<String>>,
}

/// The query parameters an endpoint takes: anything else is a 400, so that a typo never
/// silently widens or narrows what a client receives.
#[derive(Debug, Clone, Copy)]
struct Allowed {
    ids_and_types: bool,
    version: bool,
}

impl Filter {
    fn parse(
        pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: Allowed,
    ) -> Result<Self, TaxiiError> {
        let Query(pairs) =
            pairs.map_err(|e| TaxiiError::bad_request(format!("the query cannot be read: {e}")))?;
        let mut filter = Filter {
            added_after: None,
            limit: DEFAULT_PAGE,
            next: None,
            ids: None,
            types: None,
            versions: Vec::new(),
            spec_versions: None,
        };
        let list = |value: &str| -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for (name, value) in &pairs {
            match name.as_str() {
                "added_after" => filter.added_after = Some(parse_timestamp(name, value)?),
                "limit" => {
                    let limit: usize = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        TaxiiError::bad_request(format!("limit={value:?} is not a positive integer"))
                    })?;
                    filter.limit = limit.min(MAX_PAGE);
                }
                "next" => filter.next = Some(decode_cursor(value)?),
                "match[id]" if allowed.ids_and_types => filter.ids = Some(list(value)),
                "match[type]" if allowed.ids_and_types => {
                    let types = list(value);
                    if let Some(bad) = types.iter().find(|t| {
                        !t.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    }) {
                        return Err(TaxiiError::bad_request(format!(
                            "match[type] has a bad type {bad:?}"
                        )));
                    }
                    filter.types = Some(types);
                }
                "match[version]" if allowed.version => {
                    for choice in list(value) {
                        filter.versions.push(match choice.as_str() {
                            "first" => VersionChoice::First,
                            "last" => VersionChoice::Last,
                            "all" => VersionChoice::All,
                            other => VersionChoice::At(parse_timestamp("match[version]", other)?),
                        });
                    }
                }
                "match[spec_version]" => {
                    let versions = list(value);
                    if let Some(bad) = versions.iter().find(|v| !matches!(v.as_str(), "2.0" | "2.1")) {
                        return Err(TaxiiError::bad_request(format!(
                            "match[spec_version] has an unknown STIX version {bad:?}"
                        )));
                    }
                    filter.spec_versions = Some(versions);
                }
                other => {
                    return Err(TaxiiError::bad_request(format!(
                        "this endpoint does not take the parameter {other:?}"
                    )));
                }
            }
        }
        if filter.versions.is_empty() {
            filter.versions.push(VersionChoice::Last);
        }
        Ok(filter)
    }

    /// The entries this filter selects, in page order, before paging.
    fn select<'a>(&self, entries: &'a [Entry]) -> Vec<&'a Entry> {
        // The first and last version of each object, for match[version].
        let mut by_id: HashMap<&str, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
        for entry in entries {
            let range = by_id
                .entry(entry.id.as_str())
                .or_insert((entry.version_time, entry.version_time));
            range.0 = range.0.min(entry.version_time);
            range.1 = range.1.max(entry.version_time);
        }
        entries
            .iter()
            .filter(|e| self.ids.as_ref().is_none_or(|ids| ids.contains(&e.id)))
            .filter(|e| {
                self.types
                    .as_ref()
                    .is_none_or(|types| types.iter().any(|t| e.id.split("--").next() == Some(t.as_str())))
            })
            .filter(|e| {
                self.spec_versions
                    .as_ref()
                    .is_none_or(|versions| versions.contains(&e.spec_version))
            })
            .filter(|e| {
                let (first, last) = by_id
                    .get(e.id.as_str())
                    .copied()
                    .unwrap_or((e.version_time, e.version_time));
                self.versions.iter().any(|choice| match choice {
                    VersionChoice::All => true,
                    VersionChoice::First => first == e.version_time,
                    VersionChoice::Last => last == e.version_time,
                    VersionChoice::At(t) => *t == e.version_time,
                })
            })
            .filter(|e| self.added_after.is_none_or(|after| e.date_added > after))
            .collect()
    }

    /// One page of `selected`: the entries after the cursor, and whether more follow.
    fn page<'a>(&self, selected: &[&'a Entry]) -> (Vec<&'a Entry>, bool) {
        // `selected` is in key order, so the page starts right after the cursor's entry.
        let start = match &self.next {
            Some((added, id, version)) => {
                selected.partition_point(|e| e.key() <= (*added, id.as_str(), version.as_str()))
            }
            None => 0,
        };
        let rest = &selected[start..];
        let page = rest[..rest.len().min(self.limit)].to_vec();
        (page, rest.len() > self.limit)
    }
}

/// The opaque `next` value naming the last entry of a page.
fn encode_cursor(entry: &Entry) -> String {
    let raw = format!(
        "{}\n{}\n{}",
        entry.date_added.timestamp_micros(),
        entry.id,
        entry.version
    );
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(value: &str) -> Result<(DateTime<Utc>, String, String), TaxiiError> {
    let bad = || TaxiiError::bad_request(format!("next={value:?} is not a cursor this server gave out"));
    let raw = URL_SAFE_NO_PAD.decode(value.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.splitn(3, '\n');
    let (Some(micros), Some(id), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let added = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((added, id.to_owned(), version.to_owned()))
}

/// The first and last `date_added` of a page, for the `X-TAXII-Date-Added-*` headers.
fn added_range(page: &[&Entry]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = page.iter().map(|e| e.date_added).min()?;
    let last = page.iter().map(|e| e.date_added).max()?;
    Some((first, last))
}

/// An envelope, manifest or versions body, assembled from the entries' JSON text.
fn paged_body(page: &[&Entry], more: bool, key: &str, item: impl Fn(&Entry) -> String) -> String {
    let mut body = format!("{{\"more\":{more}");
    if more && let Some(last) = page.last() {
        // Cursors are URL-safe base64: nothing to escape.
        body.push_str(&format!(",\"next\":\"{}\"", encode_cursor(last)));
    }
    if !page.is_empty() {
        let items: Vec<String> = page.iter().map(|e| item(e)).collect();
        body.push_str(&format!(",\"{key}\":[{}]", items.join(",")));
    }
    body.push('}');
    body
}

pub(crate) async fn discovery(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    caller(&state, peer, &headers).await?;
    let root = format!("{}{API_ROOT}", crate::public::base_url(&state, &headers));
    let body = json!({
        "title": format!("{} TAXII server", state.config().publisher),
        "description": "Published threat intelligence bulletins as STIX 2.1.",
        "default": root,
        "api_roots": [root],
    });
    Ok(taxii_json(StatusCode::OK, body.to_string(), None))
}

pub(crate) async fn api_root(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    caller(&state, peer, &headers).await?;
    let body = json!({
        "title": "Bulletins",
        "description": "Published bulletins, all together and by TLP level.",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": 10_485_760,
    });
    Ok(taxii_json(StatusCode::OK, body.to_string(), None))
}

pub(crate) async fn collections(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    let caller = caller(&state, peer, &headers).await?;
    let list: Vec<Value> = Collection::visible(caller.ceiling())
        .map(Collection::resource)
        .collect();
    Ok(taxii_json(
        StatusCode::OK,
        json!({ "collections": list }).to_string(),
        None,
    ))
}

pub(crate) async fn collection(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    let caller = caller(&state, peer, &headers).await?;
    let collection = Collection::find(&id, caller.ceiling())?;
    Ok(taxii_json(
        StatusCode::OK,
        collection.resource().to_string(),
        None,
    ))
}

/// What a listing endpoint shows of the entries it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// The objects of a collection.
    Objects,
    /// The manifest of a collection.
    Manifest,
    /// The versions of one object, as objects.
    Object,
    /// The version strings of one object.
    Versions,
}

/// The four paged endpoints: one collection's entries, filtered and cut into a page.
async fn listing(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    collection_id: &str,
    object_id: Option<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    view: View,
) -> Result<Response, TaxiiError> {
    let caller = caller(state, peer, headers).await?;
    let collection = Collection::find(collection_id, caller.ceiling())?;
    let allowed = Allowed {
        ids_and_types: object_id.is_none(),
        version: view != View::Versions,
    };
    let mut filter = Filter::parse(query, allowed)?;
    if view == View::Versions {
        filter.versions = vec![VersionChoice::All];
    }
    let all = entries(state, collection, caller.ceiling()).await?;
    if let Some(object_id) = object_id {
        if !all.iter().any(|e| e.id == object_id) {
            return Err(TaxiiError::not_found(format!(
                "there is no object {object_id:?} in this collection"
            )));
        }
        filter.ids = Some(vec![object_id]);
    }
    let (page, more) = filter.page(&filter.select(&all));
    let body = match view {
        View::Objects | View::Object => paged_body(&page, more, "objects", |e| e.object.to_string()),
        View::Versions => paged_body(&page, more, "versions", |e| json!(e.version).to_string()),
        View::Manifest => paged_body(&page, more, "objects", |e| {
            json!({
                "id": e.id,
                "date_added": timestamp(e.date_added),
                "version": e.version,
                "media_type": STIX_MEDIA_TYPE,
            })
            .to_string()
        }),
    };
    Ok(taxii_json(StatusCode::OK, body, added_range(&page)))
}

pub(crate) async fn objects(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, TaxiiError> {
    listing(&state, peer, &headers, &id, None, query, View::Objects).await
}

pub(crate) async fn manifest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, TaxiiError> {
    listing(&state, peer, &headers, &id, None, query, View::Manifest).await
}

pub(crate) async fn object(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, TaxiiError> {
    listing(&state, peer, &headers, &id, Some(object_id), query, View::Object).await
}

pub(crate) async fn versions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, TaxiiError> {
    listing(
        &state,
        peer,
        &headers,
        &id,
        Some(object_id),
        query,
        View::Versions,
    )
    .await
}

/// Collections here are read-only.
pub(crate) async fn refuse_write(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    MachineCaller::identify(&state, peer.ip(), &headers).await?;
    Err(TaxiiError {
        status: StatusCode::FORBIDDEN,
        title: "Read-only collection",
        description: "Collections on this server are written by publishing bulletins, not over TAXII."
            .to_owned(),
    })
}

/// Anything else under `/taxii2/`.
pub(crate) async fn unknown() -> TaxiiError {
    TaxiiError::not_found("there is no TAXII resource here")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seconds: i64, id: &str) -> Entry {
        let time = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        Entry {
            id: id.to_owned(),
            version: timestamp(time),
            version_time: time,
            date_added: time,
            spec_version: "2.1".to_owned(),
            object: json!({ "id": id }).to_string().into(),
        }
    }

    fn filter(query: &[(&str, &str)]) -> Result<Filter, TaxiiError> {
        let pairs = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Filter::parse(
            Ok(Query(pairs)),
            Allowed {
                ids_and_types: true,
                version: true,
            },
        )
    }

    #[test]
    fn cursors_walk_entries_sharing_a_timestamp_once_each() {
        let entries: Vec<Entry> = ["a--1", "a--2", "a--3", "b--1", "b--2"]
            .iter()
            .map(|id| entry(100, id))
            .chain([entry(200, "c--1")])
            .collect();
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..10 {
            let mut query = vec![("limit", "2")];
            if let Some(cursor) = &next {
                query.push(("next", cursor.as_str()));
            }
            let f = filter(&query)
                .map_err(|e| e.description)
                .unwrap_or_else(|e| panic!("{e}"));
            let (page, more) = f.page(&f.select(&entries));
            seen.extend(page.iter().map(|e| e.id.clone()));
            if !more {
                break;
            }
            next = page.last().map(|e| encode_cursor(e));
        }
        assert_eq!(seen, ["a--1", "a--2", "a--3", "b--1", "b--2", "c--1"]);
    }

    #[test]
    fn malformed_parameters_are_refused() {
        for query in [
            [("limit", "0")],
            [("limit", "ten")],
            [("added_after", "yesterday")],
            [("next", "not a cursor")],
            [("match[version]", "newest")],
            [("match[type]", "Bad Type")],
            [("match[colour]", "red")],
            [("match[spec_version]", "3.0")],
        ] {
            let error = filter(&query).err().map(|e| e.status);
            assert_eq!(error, Some(StatusCode::BAD_REQUEST), "{query:?}");
        }
    }

    #[test]
    fn filters_select_by_type_id_and_date() {
        let entries = vec![
            entry(100, "malware--1"),
            entry(200, "indicator--2"),
            entry(300, "malware--3"),
        ];
        let f = filter(&[("match[type]", "malware")]).map_err(|e| e.description);
        let ids: Vec<String> = f
            .map(|f| f.select(&entries).into_iter().map(|e| e.id.clone()).collect())
            .unwrap_or_default();
        assert_eq!(ids, ["malware--1", "malware--3"]);
        let f = filter(&[("added_after", "1970-01-01T00:04:10Z")]).map_err(|e| e.description);
        let ids: Vec<String> = f
            .map(|f| f.select(&entries).into_iter().map(|e| e.id.clone()).collect())
            .unwrap_or_default();
        assert_eq!(ids, ["malware--3"]);
    }

    #[test]
    fn accept_headers_other_than_taxii_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(check_accept(&headers).is_ok());
        headers.insert(header::ACCEPT, HeaderValue::from_static(TAXII_MEDIA_TYPE));
        assert!(check_accept(&headers).is_ok());
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/taxii+json;version=2.0"),
        );
        assert_eq!(
            check_accept(&headers).err().map(|e| e.status),
            Some(StatusCode::NOT_ACCEPTABLE)
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(check_accept(&headers).is_err());
    }
}
