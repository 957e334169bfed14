//! The public newsletter pages: subscribe (the "Get informed" form on every public page),
//! confirm (double opt-in) and unsubscribe (a link in every message, and RFC 8058 one-click
//! unsubscription from the mail client).
//!
//! Links carry signed tokens (HMAC-SHA-256 under a secret kept in the database) naming the
//! subscription and bound to its address: confirmation tokens expire after
//! [`CONFIRM_HOURS`], unsubscribe tokens never do (old messages must keep working). Pages
//! never tell whether an address is already subscribed.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use threatdesk_model::{Cadence, Severity, SubscriptionId, Topics};
use threatdesk_store::{NewSubscription, Newsletter, StoreError};

use crate::{AppError, AppState};

/// How long a confirmation link works.
pub const CONFIRM_HOURS: i64 = 48;
/// The name of the signing secret in the database.
const SECRET_NAME: &str = "newsletter-links";
/// Subscription requests allowed per client address in the throttle window (against
/// using the form to bomb someone's inbox with confirmation requests).
const SUBSCRIBES_PER_ADDRESS: u32 = 10;

/// The secret links are signed with, made on first use.
pub fn link_secret(store: &dyn Newsletter) -> Result<[u8; 32], StoreError> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| StoreError::Corrupt {
        column: "secrets.value",
        reason: format!("no randomness for the newsletter secret: {e}"),
    })?;
    store.secret(SECRET_NAME, fresh)
}

fn mac(secret: &[u8; 32], purpose: &str, id: SubscriptionId, expires: i64, email: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; a 32-byte key cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(format!("{purpose}\n{}\n{expires}\n{}", id.0, email.trim().to_lowercase()).as_bytes());
    mac
}

fn token(secret: &[u8; 32], purpose: &str, id: SubscriptionId, expires: i64, email: &str) -> String {
    let tag = mac(secret, purpose, id, expires, email).finalize().into_bytes();
    format!("{}.{expires}.{}", id.0, URL_SAFE_NO_PAD.encode(tag))
}

/// The confirmation token of subscription `id` at `email`, valid until `expires`.
pub fn confirm_token(secret: &[u8; 32], id: SubscriptionId, email: &str, expires: DateTime<Utc>) -> String {
    token(secret, "confirm", id, expires.timestamp(), email)
}

/// The unsubscribe token of subscription `id` at `email` (it does not expire).
pub fn unsubscribe_token(secret: &[u8; 32], id: SubscriptionId, email: &str) -> String {
    token(secret, "unsubscribe", id, 0, email)
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token this server made (or altered on the way).
    Invalid,
    /// A confirmation link past its time.
    Expired,
}

/// The subscription a token names, once its signature (against the subscription's
/// address, read by `email_of`) and its expiry hold.
pub fn verify_token(
    secret: &[u8; 32],
    purpose: &str,
    token: &str,
    now: DateTime<Utc>,
    email_of: impl FnOnce(SubscriptionId) -> Option<String>,
) -> Result<SubscriptionId, TokenError> {
    let mut parts = token.trim().splitn(3, '.');
    let (Some(id), Some(expires), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Invalid);
    };
    let id = SubscriptionId(id.parse().map_err(|_| TokenError::Invalid)?);
    let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
    let email = email_of(id).ok_or(TokenError::Invalid)?;
    mac(secret, purpose, id, expires, &email)
        .verify_slice(&tag)
        .map_err(|_| TokenError::Invalid)?;
    if purpose == "confirm" && expires < now.timestamp() {
        return Err(TokenError::Expired);
    }
    Ok(id)
}

#[derive(Template)]
#[template(path = "public_message.html")]
struct MessagePage {
    title: String,
    message: String,
    form: Option<(String, String, String)>,
}

fn page(
    status: StatusCode,
    title: &str,
    message: &str,
    form: Option<(&str, &str, &str)>,
) -> Result<Response, AppError> {
    let html = crate::pages::html(MessagePage {
        title: title.to_owned(),
        message: message.to_owned(),
        form: form.map(|(a, t, b)| (a.to_owned(), t.to_owned(), b.to_owned())),
    })?;
    Ok((status, html).into_response())
}

/// A plausible mail address: one `@`, a dotted domain, no spaces or angle brackets, at
/// most 254 bytes, and accepted by the mailer's own parser.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && email.matches('@').count() == 1
        && email.parse::<lettre::Address>().is_ok()
}

/// Tags as typed in a form: comma-separated, compared without case.
pub fn tag_list(typed: &str) -> Vec<String> {
    typed
        .split(',')
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscribeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    cadence: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    entities: String,
    #[serde(default)]
    min_severity: String,
}

pub(crate) async fn subscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<SubscribeForm>,
) -> Result<Response, AppError> {
    let key = format!("subscribe:{}", crate::auth::client_address(peer.ip()));
    if let Some(wait) = state.throttle().blocked_for(&key, SUBSCRIBES_PER_ADDRESS) {
        return Err(AppError::Throttled(wait));
    }
    state.throttle().record_failure(key);
    let email = form.email.trim().to_owned();
    if !valid_email(&email) {
        return Err(AppError::BadRequest(format!(
            "{email:?} is not an e-mail address we can write to"
        )));
    }
    let cadence: Cadence = if form.cadence.trim().is_empty() {
        Cadence::Daily
    } else {
        form.cadence
            .parse()
            .map_err(|e| AppError::BadRequest(format!("{e}")))?
    };
    let min_severity: Severity = if form.min_severity.trim().is_empty() {
        Severity::Info
    } else {
        form.min_severity
            .parse()
            .map_err(|e| AppError::BadRequest(format!("{e}")))?
    };
    let topics = Topics {
        tags: tag_list(&form.tags),
        entity_ids: crate::bulletins::entity_ids(&form.entities, state.knowledge())?,
        min_severity,
    };
    let request = NewSubscription {
        email,
        topics,
        cadence,
        tlp_ceiling: None,
        confirmed: false,
    };
    state.db(move |s| s.subscribe(&request)).await?;
    page(
        StatusCode::OK,
        "Check your inbox",
        "If the address can receive our messages, a confirmation link is on its way. Nothing is \
         sent before you follow it; the link works for two days.",
        None,
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn check(
    state: &AppState,
    purpose: &'static str,
    token: String,
) -> Result<Result<SubscriptionId, TokenError>, AppError> {
    let known = state.link_secret().get().copied();
    let remember = state.clone();
    state
        .db(move |s| {
            // Read (or made) once per process: link pages then need no write transaction.
            let secret = match known {
                Some(secret) => secret,
                None => {
                    let secret = link_secret(s)?;
                    let _ = remember.link_secret().set(secret);
                    secret
                }
            };
            Ok(verify_token(&secret, purpose, &token, Utc::now(), |id| {
                s.subscription(id).ok().flatten().map(|sub| sub.email)
            }))
        })
        .await
}

fn refused(error: TokenError) -> Result<Response, AppError> {
    match error {
        TokenError::Expired => page(
            StatusCode::GONE,
            "This link has expired",
            "Confirmation links work for two days. Subscribe again to get a fresh one.",
            None,
        ),
        TokenError::Invalid => page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "The link is incomplete or was changed on the way. Copy the whole link from the message.",
            None,
        ),
    }
}

/// The confirmation link shows a button rather than confirming at once, so that mail
/// scanners that open links do not confirm on the reader's behalf.
pub(crate) async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    match check(&state, "confirm", query.token.clone()).await? {
        Ok(_) => page(
            StatusCode::OK,
            "Confirm your subscription",
            "One more step: confirm that you want our bulletins at this address.",
            Some(("/newsletter/confirm", &query.token, "Confirm my subscription")),
        ),
        Err(error) => refused(error),
    }
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> Result<Response, AppError> {
    match check(&state, "confirm", form.token).await? {
        Ok(id) => {
            let confirmed = state
                .db(move |s| {
                    Ok(s.confirm_subscription(id)? || s.subscription(id)?.is_some_and(|sub| sub.is_active()))
                })
                .await?;
            if !confirmed {
                // The address unsubscribed after this link was sent: it stays unsubscribed.
                return refused(TokenError::Expired);
            }
            page(
                StatusCode::OK,
                "You are subscribed",
                "Bulletins published from now on will reach you. Every message has an unsubscribe link.",
                None,
            )
        }
        Err(error) => refused(error),
    }
}

pub(crate) async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    match check(&state, "unsubscribe", query.token.clone()).await? {
        Ok(_) => page(
            StatusCode::OK,
            "Unsubscribe",
            "Stop all messages to this address?",
            Some(("/newsletter/unsubscribe", &query.token, "Unsubscribe")),
        ),
        Err(error) => refused(error),
    }
}

/// Unsubscribes: the page's button (token in the form) or a mail client's RFC 8058
/// one-click request (token in the query, `List-Unsubscribe=One-Click` in the body).
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    form: Result<Form<TokenQuery>, FormRejection>,
) -> Result<Response, AppError> {
    let from_form = form.map(|Form(f)| f.token).unwrap_or_default();
    let token = if query.token.is_empty() {
        from_form
    } else {
        query.token
    };
    match check(&state, "unsubscribe", token).await? {
        Ok(id) => {
            state.db(move |s| s.unsubscribe(id)).await?;
            page(
                StatusCode::OK,
                "You are unsubscribed",
                "No further messages will be sent to this address.",
                None,
            )
        }
        Err(error) => refused(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn tokens_verify_for_their_address_purpose_and_time_only() {
        let now = Utc::now();
        let id = SubscriptionId(4);
        let email = |_| Some("Alice@Example.org".to_owned());
        let good = confirm_token(&SECRET, id, "alice@example.org", now + chrono::Duration::hours(1));
        assert_eq!(verify_token(&SECRET, "confirm", &good, now, email), Ok(id));
        assert_eq!(
            verify_token(&SECRET, "confirm", &good, now + chrono::Duration::hours(2), email),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify_token(&SECRET, "unsubscribe", &good, now, email),
            Err(TokenError::Invalid),
            "a confirmation token does not unsubscribe"
        );
        assert_eq!(
            verify_token(&SECRET, "confirm", &good, now, |_| Some(
                "mallory@example.org".to_owned()
            )),
            Err(TokenError::Invalid),
            "bound to the address"
        );
        let other_id = good.replacen("4.", "5.", 1);
        assert_eq!(
            verify_token(&SECRET, "confirm", &other_id, now, email),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify_token(&[8; 32], "confirm", &good, now, email),
            Err(TokenError::Invalid)
        );
        for junk in ["", "4", "4.x.y", "a.b.c", "4.0.!!!"] {
            assert_eq!(
                verify_token(&SECRET, "confirm", junk, now, email),
                Err(TokenError::Invalid),
                "{junk}"
            );
        }
        let leave = unsubscribe_token(&SECRET, id, "alice@example.org");
        assert_eq!(
            verify_token(
                &SECRET,
                "unsubscribe",
                &leave,
                now + chrono::Duration::days(3650),
                email
            ),
            Ok(id),
            "unsubscribe links keep working"
        );
    }

    #[test]
    fn addresses_are_checked() {
        for good in ["alice@example.org", "a.b+tag@sub.example.co.uk"] {
            assert!(valid_email(good), "{good}");
        }
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.org",
            "alice@localhost",
            "a b@example.org",
            "a@b@example.org",
            "<a@example.org>",
            "a@example.org, b@example.org",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
