//! Logging in and out, sessions, API tokens, CSRF and login throttling.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use threatdesk_model::{Role, User};
use threatdesk_store::{Accounts, ApiTokenInfo};

use crate::{AppError, AppState, DESK};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "td_session";
/// The login form's CSRF cookie (there is no session yet to hold the token).
const LOGIN_CSRF_COOKIE: &str = "td_login_csrf";

/// 32 random bytes from the operating system, URL-safe base64 (43 characters).
pub fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// An argon2id hash (PHC string) of `password`, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::Internal(format!("cannot hash the password: {e}")))
}

/// [`hash_password`] on the blocking pool: argon2id is deliberately costly (tens of
/// milliseconds) and must not hold up the server's async threads.
pub(crate) async fn hash_password_off_thread(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Whether `password` matches a stored PHC hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password for a new account: 20 characters from 120 random bits.
pub fn generate_password() -> Result<String, AppError> {
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Names and addresses with failures kept before aged-out ones are swept.
const MAX_THROTTLE_KEYS: usize = 10_000;

/// Failed logins per user name and per client address, in a sliding window. Kept in
/// memory: a restart forgets them, which costs an attacker a restart per window.
pub struct Throttle {
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, if it has reached `limit` failures.
    pub(crate) fn blocked_for(&self, key: &str, limit: u32) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let list = failures.get_mut(key)?;
        list.retain(|t| now.duration_since(*t) < self.window);
        if list.len() < limit as usize {
            return None;
        }
        let oldest = list.first().copied()?;
        Some(
            self.window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1),
        )
    }

    pub(crate) fn record_failure(&self, key: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Someone spraying many names must not grow this without bound: past a size,
        // entries whose failures have all aged out are dropped.
        if failures.len() >= MAX_THROTTLE_KEYS {
            let now = Instant::now();
            failures.retain(|_, list| list.iter().any(|t| now.duration_since(*t) < self.window));
        }
        failures.entry(key).or_default().push(Instant::now());
    }

    fn clear(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(key);
    }
}

/// The account behind a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// The session's CSRF token (empty for API tokens).
    pub csrf: String,
    /// Authenticated with a personal API token rather than a session cookie.
    pub via_token: bool,
}

impl CurrentUser {
    /// Refuses unless the account has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Refuses a form whose CSRF token is not the session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        if self.via_token || (!self.csrf.is_empty() && same_secret(&self.csrf, submitted)) {
            Ok(())
        } else {
            Err(AppError::BadCsrf)
        }
    }
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map_or_else(|| format!("{DESK}/"), |p| p.as_str().to_owned());
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        if let Some(token) = bearer {
            let hash = token_hash(token.trim());
            return match state.db(move |s| s.api_token_user(&hash)).await? {
                Some(user) => Ok(CurrentUser {
                    user,
                    csrf: String::new(),
                    via_token: true,
                }),
                None => Err(AppError::Unauthenticated { next, page: false }),
            };
        }
        let page = parts.method == axum::http::Method::GET && !next.starts_with(&format!("{DESK}/api/"));
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(AppError::Unauthenticated { next, page });
        };
        let hash = token_hash(&token);
        match state.db(move |s| s.session(&hash)).await? {
            Some((user, csrf)) => Ok(CurrentUser {
                user,
                csrf,
                via_token: false,
            }),
            None => Err(AppError::Unauthenticated { next, page }),
        }
    }
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config().secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> Result<HeaderValue, AppError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    ))
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// A hash to check passwords of unknown users against (computed once).
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("no such user; no such password").unwrap_or_default())
}

/// Only local paths are followed after logging in (no open redirect).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => format!("{DESK}/"),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
    username: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    let csrf = random_token()?;
    login_form_response(
        &state,
        &headers,
        csrf,
        safe_next(query.next.as_deref()),
        None,
        String::new(),
        axum::http::StatusCode::OK,
    )
}

fn login_form_response(
    state: &AppState,
    headers: &HeaderMap,
    csrf: String,
    next: String,
    error: Option<String>,
    username: String,
    status: axum::http::StatusCode,
) -> Result<Response, AppError> {
    let cookie = set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, secure(state, headers))?;
    let page = LoginPage {
        csrf,
        next,
        error,
        username,
    }
    .render()
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut response = (status, Html(page)).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return Err(AppError::BadCsrf);
    }
    let username = form.username.trim().to_owned();
    let next = safe_next(form.next.as_deref());
    let Some((user, _)) = check_password(&state, peer.ip(), &username, form.password).await? else {
        return login_form_response(
            &state,
            &headers,
            random_token()?,
            next,
            Some("Wrong user name or password.".to_owned()),
            username,
            axum::http::StatusCode::UNAUTHORIZED,
        );
    };
    let token = random_token()?;
    let csrf = random_token()?;
    let hours = state.config().session_hours;
    let expires = chrono::Utc::now() + chrono::Duration::hours(i64::from(hours));
    let hash = token_hash(&token);
    let user_id = user.id;
    state
        .db(move |s| s.create_session(&hash, user_id, &csrf, expires))
        .await?;
    tracing::info!(username = %user.username, "logged in");
    let mut response = Redirect::to(&next).into_response();
    let headers_out = response.headers_mut();
    headers_out.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token,
            i64::from(hours) * 3600,
            secure(&state, &headers),
        )?,
    );
    headers_out.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure(&state, &headers))?,
    );
    Ok(response)
}

/// Checks a user name and password, throttled per name and per address: the account (with
/// its stored password hash) when both are right and it is enabled, `None` otherwise (the failure is counted), an error
/// when too many attempts failed lately. Used by the login form and by HTTP Basic callers.
pub(crate) async fn check_password(
    state: &AppState,
    peer: IpAddr,
    username: &str,
    password: String,
) -> Result<Option<(User, String)>, AppError> {
    let limit = state.config().max_failed_logins;
    let name_key = format!("user:{}", username.to_lowercase());
    let address_key = format!("addr:{}", client_address(peer));
    if let Some(wait) = state.throttle().blocked_for(&name_key, limit).or_else(|| {
        state
            .throttle()
            .blocked_for(&address_key, limit.saturating_mul(4))
    }) {
        tracing::warn!(%username, address = %peer, "login throttled");
        return Err(AppError::Throttled(wait));
    }
    let found = {
        let username = username.to_owned();
        state.db(move |s| s.user_for_login(&username)).await?
    };
    let user = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) => (verify_password(&password, &hash) && !user.disabled).then_some((user, hash)),
        None => {
            // As long as a real check, so that timing does not tell which names exist.
            let _ = verify_password(&password, unknown_user_hash());
            None
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    match user {
        Some(user) => {
            state.throttle().clear(&name_key);
            Ok(Some(user))
        }
        None => {
            state.throttle().record_failure(name_key);
            state.throttle().record_failure(address_key);
            tracing::info!(%username, address = %peer, "failed login");
            Ok(None)
        }
    }
}

/// IPv6 clients are throttled by their /64, as one machine usually has a whole one.
pub(crate) fn client_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let hash = token_hash(token);
        state.db(move |s| s.delete_session(&hash)).await?;
    }
    let mut response = Redirect::to(&format!("{DESK}/login")).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers))?,
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    me: CurrentUser,
    tokens: Vec<ApiTokenInfo>,
    created: Option<String>,
}

pub(crate) async fn tokens_page(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Html<String>, AppError> {
    let id = me.user.id;
    let tokens = state.db(move |s| s.list_api_tokens(id)).await?;
    crate::pages::html(TokensPage {
        me,
        tokens,
        created: None,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<NewTokenForm>,
) -> Result<Html<String>, AppError> {
    me.check_csrf(&form.csrf)?;
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::BadRequest(
            "give the token a name (at most 100 characters)".into(),
        ));
    }
    let token = format!("tdk_{}", random_token()?);
    let hash = token_hash(&token);
    let id = me.user.id;
    let tokens = state
        .db(move |s| {
            s.create_api_token(id, &name, &hash)?;
            s.list_api_tokens(id)
        })
        .await?;
    crate::pages::html(TokensPage {
        me,
        tokens,
        created: Some(token),
    })
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(token_id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    me.check_csrf(&form.csrf)?;
    let id = me.user.id;
    if state.db(move |s| s.revoke_api_token(id, token_id)).await? {
        Ok(Redirect::to(&format!("{DESK}/account/tokens")))
    } else {
        Err(AppError::NotFound)
    }
}

/// The caller's own account, as JSON (for scripts checking their token).
pub(crate) async fn me(me: CurrentUser) -> Json<User> {
    Json(me.user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/stories/3?x=1")), "/stories/3?x=1");
        for hostile in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/desk/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/desk/");
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse battery").expect("hash"),
            "fresh salt each time"
        );
    }

    #[test]
    fn the_throttle_blocks_at_the_limit_and_forgets_after_the_window() {
        let throttle = Throttle::new(Duration::from_millis(200));
        for _ in 0..3 {
            assert_eq!(throttle.blocked_for("user:a", 3), None);
            throttle.record_failure("user:a".into());
        }
        assert!(throttle.blocked_for("user:a", 3).is_some());
        assert_eq!(
            throttle.blocked_for("user:b", 3),
            None,
            "other names are not affected"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(throttle.blocked_for("user:a", 3), None, "failures age out");
    }

    #[test]
    fn tokens_are_random_and_secrets_compare_exactly() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, &a[..42]));
    }
}

/// Who calls a machine channel (TAXII, the MISP feed): an account named by HTTP Basic
/// credentials or a personal API token (`Authorization: Bearer`), or nobody, who is
/// cleared for TLP:CLEAR only.
#[derive(Debug, Clone)]
pub(crate) struct MachineCaller {
    /// The account, unless the call was anonymous.
    pub user: Option<User>,
}

impl MachineCaller {
    /// The most restrictive marking this caller may receive.
    pub fn ceiling(&self) -> threatdesk_model::Tlp {
        self.user
            .as_ref()
            .map_or(threatdesk_model::Tlp::Clear, |u| u.tlp_ceiling)
    }

    /// Identifies the caller. Credentials that are given but wrong are an error
    /// ([`AppError::Unauthenticated`] or [`AppError::Throttled`]), never a quiet fall back
    /// to anonymous access.
    pub async fn identify(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Result<Self, AppError> {
        let refused = || AppError::Unauthenticated {
            next: String::new(),
            page: false,
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Self { user: None });
        };
        let value = value.to_str().map_err(|_| refused())?.trim();
        let (scheme, credentials) = value.split_once(' ').ok_or_else(refused)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let hash = token_hash(credentials);
            let user = state.db(move |s| s.api_token_user(&hash)).await?;
            return user.map(|u| Self { user: Some(u) }).ok_or_else(refused);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(refused());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(refused)?;
        let (username, password) = decoded.split_once(':').ok_or_else(refused)?;
        // A client paging through TAXII sends the same credentials on every request; a
        // minute's memory of a successful check (by the SHA-256 of the header) spares it
        // an argon2 run per page.
        let key = token_hash(value);
        let username = username.trim().to_owned();
        if let Some(remembered) = state.basic_credentials().recall(&key) {
            // Still the same password hash and an enabled account: a password reset or a
            // disabled account ends the memory at once.
            let name = username.clone();
            let current = state.db(move |s| s.user_for_login(&name)).await?;
            if let Some((user, hash)) = current
                && hash == remembered
                && !user.disabled
            {
                return Ok(Self { user: Some(user) });
            }
        }
        let (user, hash) = check_password(state, peer, &username, password.to_owned())
            .await?
            .ok_or_else(refused)?;
        state.basic_credentials().remember(key, hash);
        Ok(Self { user: Some(user) })
    }
}

/// Recently checked HTTP Basic credentials (see [`MachineCaller::identify`]).
#[derive(Debug, Default)]
pub(crate) struct CredentialMemory {
    /// SHA-256 of the Authorization header → the stored password hash it matched, and when.
    checked: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

/// How long a checked credential is remembered.
const CREDENTIAL_MEMORY: Duration = Duration::from_secs(60);

impl CredentialMemory {
    fn recall(&self, key: &[u8; 32]) -> Option<String> {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        checked.retain(|_, (_, at)| at.elapsed() < CREDENTIAL_MEMORY);
        checked.get(key).map(|(hash, _)| hash.clone())
    }

    fn remember(&self, key: [u8; 32], stored_hash: String) {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        checked.insert(key, (stored_hash, Instant::now()));
    }
}
