//! Published bulletins as a MISP feed at `/misp-feed/`: `manifest.json` (the events, in
//! brief), one `{uuid}.json` per event and `hashes.csv` (the MD5 of each attribute value
//! with its event), the layout MISP's "add feed" expects.
//!
//! Callers are identified as on TAXII ([`MachineCaller`]): anonymous callers get TLP:CLEAR
//! events only; a MISP instance configured with a Basic or Bearer `Authorization` header
//! gets what that account is cleared for. Events of bulletins above the clearance do not
//! exist for the caller (404), like everywhere else.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::auth::MachineCaller;
use crate::exports::{self, Format};
use crate::{AppError, AppState};

/// One event as the feed serves it, prepared when the bulletin version is first asked for.
#[derive(Debug)]
pub(crate) struct FeedEvent {
    uuid: String,
    /// The whole event, as JSON text (`{uuid}.json`).
    event: String,
    /// Its `manifest.json` entry, as JSON text.
    manifest_entry: String,
    /// Its `hashes.csv` lines.
    hash_lines: String,
}

impl FeedEvent {
    fn new(document: &Value) -> Self {
        let e = &document["Event"];
        let uuid = e["uuid"].as_str().unwrap_or_default().to_owned();
        let manifest_entry = json!({
            "info": e["info"],
            "date": e["date"],
            "analysis": e["analysis"],
            "threat_level_id": e["threat_level_id"],
            "timestamp": e["timestamp"],
            "publish_timestamp": e["publish_timestamp"],
            "Orgc": e["Orgc"],
            "Tag": e["Tag"],
        })
        .to_string();
        let mut hash_lines = String::new();
        for attribute in e["Attribute"].as_array().into_iter().flatten() {
            if let Some(value) = attribute["value"].as_str() {
                let digest = Md5::digest(value.as_bytes());
                let _ = writeln!(hash_lines, "{},{uuid}", crate::render::hex(&digest));
            }
        }
        Self {
            uuid,
            event: document.to_string(),
            manifest_entry,
            hash_lines,
        }
    }
}

/// The feed's events for a caller, oldest first.
async fn caller_events(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Vec<Arc<FeedEvent>>, AppError> {
    let ceiling = MachineCaller::identify(state, peer.ip(), headers)
        .await?
        .ceiling();
    let kb_state = state.clone();
    let publisher = state.config().publisher.clone();
    let cache = state.misp_events();
    state
        .db(move |s| {
            exports::published_up_to(s, ceiling)?
                .iter()
                .map(|b| {
                    cache.get_or_build(b, || {
                        exports::document(s, kb_state.knowledge(), b, &publisher, Format::Misp)
                            .map(|document| FeedEvent::new(&document))
                    })
                })
                .collect()
        })
        .await
}

fn json_response(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) async fn file(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let events = caller_events(&state, peer, &headers).await?;
    match file.as_str() {
        "manifest.json" => {
            let entries: Vec<String> = events
                .iter()
                .map(|e| format!("{}:{}", json!(e.uuid), e.manifest_entry))
                .collect();
            Ok(json_response(
                format!("{{{}}}", entries.join(",")),
                "application/json",
            ))
        }
        "hashes.csv" => {
            let csv: String = events.iter().map(|e| e.hash_lines.as_str()).collect();
            Ok(json_response(csv, "text/csv; charset=utf-8"))
        }
        other => {
            let uuid = other.strip_suffix(".json").ok_or(AppError::NotFound)?;
            let event = events
                .into_iter()
                .find(|e| e.uuid == uuid)
                .ok_or(AppError::NotFound)?;
            Ok(json_response(event.event.clone(), "application/json"))
        }
    }
}
