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
use serde_json::{Map, Value, json};
use threatdesk_model::{Bulletin, Tlp};

use crate::auth::MachineCaller;
use crate::exports::{self, Format};
use crate::{AppError, AppState};

/// The MISP events of the published bulletins `ceiling` may see, oldest first.
async fn events(state: &AppState, ceiling: Tlp) -> Result<Vec<(Bulletin, Arc<str>)>, AppError> {
    let kb_state = state.clone();
    let publisher = state.config().publisher.clone();
    let cache = state.exports();
    state
        .db(move |s| {
            exports::published_up_to(s, ceiling)?
                .into_iter()
                .map(|b| {
                    cache
                        .document(s, kb_state.knowledge(), &b, &publisher, Format::Misp)
                        .map(|event| (b, event))
                })
                .collect()
        })
        .await
}

async fn caller_events(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Vec<(Bulletin, Arc<str>)>, AppError> {
    let caller = MachineCaller::identify(state, peer.ip(), headers).await?;
    events(state, caller.ceiling()).await
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
    let parsed = || -> Result<Vec<Value>, AppError> {
        events
            .iter()
            .map(|(_, text)| {
                serde_json::from_str(text)
                    .map_err(|e| AppError::Internal(format!("a cached MISP event: {e}")))
            })
            .collect()
    };
    match file.as_str() {
        "manifest.json" => {
            let mut manifest = Map::new();
            for event in &parsed()? {
                let e = &event["Event"];
                let Some(uuid) = e["uuid"].as_str() else { continue };
                manifest.insert(
                    uuid.to_owned(),
                    json!({
                        "info": e["info"],
                        "date": e["date"],
                        "analysis": e["analysis"],
                        "threat_level_id": e["threat_level_id"],
                        "timestamp": e["timestamp"],
                        "publish_timestamp": e["publish_timestamp"],
                        "Orgc": e["Orgc"],
                        "Tag": e["Tag"],
                    }),
                );
            }
            Ok(json_response(
                Value::Object(manifest).to_string(),
                "application/json",
            ))
        }
        "hashes.csv" => {
            let mut csv = String::new();
            for event in &parsed()? {
                let e = &event["Event"];
                let uuid = e["uuid"].as_str().unwrap_or_default();
                for attribute in e["Attribute"].as_array().into_iter().flatten() {
                    if let Some(value) = attribute["value"].as_str() {
                        let digest = Md5::digest(value.as_bytes());
                        let hex = digest.iter().fold(String::new(), |mut out, b| {
                            let _ = write!(out, "{b:02x}");
                            out
                        });
                        let _ = writeln!(csv, "{hex},{uuid}");
                    }
                }
            }
            Ok(json_response(csv, "text/csv; charset=utf-8"))
        }
        other => {
            let uuid = other.strip_suffix(".json").ok_or(AppError::NotFound)?;
            let (_, event) = events
                .into_iter()
                .find(|(b, _)| threatdesk_publish::misp::event_uuid(b) == uuid)
                .ok_or(AppError::NotFound)?;
            Ok(json_response(event.to_string(), "application/json"))
        }
    }
}
