//! The analyst workspace: server-rendered pages over the store, for accounts with roles and
//! a TLP ceiling.
//!
//! Every page is plain HTML from compiled templates (askama), one stylesheet and a small
//! script that only enhances (keyboard shortcuts, Markdown preview, autosave); every form
//! works without it. Security rests on a few rules kept in one place each:
//!
//! - **Who**: every route but the login page, static files and the health check needs a
//!   session cookie or a personal API token ([`auth::CurrentUser`]).
//! - **What**: each handler states the role it needs ([`auth::CurrentUser::require`]) and
//!   filters by the user's TLP ceiling; content above it is "not found", never "forbidden",
//!   so its existence does not leak.
//! - **Forms**: every state-changing request carries the session's CSRF token
//!   ([`auth::CurrentUser::check_csrf`]); API tokens are exempt, as they never ride along
//!   with a browser.
//! - **Output**: templates escape everything; the only HTML inserted raw is Markdown and
//!   collected content, both passed through ammonia first ([`render`]); a strict
//!   Content-Security-Policy forbids inline script everywhere.

mod admin;
pub mod auth;
mod bulletins;
pub mod exports;
pub mod mailer;
mod misp_feed;
pub mod newsletter;
mod pages;
mod public;
mod public_cache;
pub mod render;
pub mod taxii;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use threatdesk_kb::KnowledgeBase;
use threatdesk_store::{SqliteStore, StoreError};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The Content-Security-Policy of every response: scripts, styles and images from this
/// server only, no inline script or style, no plugins, no framing, forms posting home.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Where the workspace lives: every analyst page is under this path, leaving the rest of
/// the site to public pages.
pub const DESK: &str = "/desk";

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark cookies `Secure` always (behind a TLS-terminating proxy). Requests that arrive
    /// with `X-Forwarded-Proto: https` get `Secure` cookies anyway.
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_hours: u32,
    /// Failed logins allowed per user name (and, four times as many, per address) in
    /// `throttle_window` before further attempts are refused.
    pub max_failed_logins: u32,
    /// The window failed logins are counted in.
    pub throttle_window: Duration,
    /// The public address of the site (`https://cti.example.org`), for canonical links and
    /// feeds; `None` takes it from each request's `Host`.
    pub public_url: Option<String>,
    /// The publishing organisation, named in STIX, TAXII and MISP output.
    pub publisher: String,
    /// Whether the newsletter is being sent (an SMTP server is set); the admin page warns
    /// when it is not.
    pub mail_enabled: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_hours: 12,
            max_failed_logins: 5,
            throttle_window: Duration::from_secs(15 * 60),
            public_url: None,
            publisher: "threatdesk".to_owned(),
            mail_enabled: false,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<SqliteStore>,
    knowledge: Arc<KnowledgeBase>,
    config: ServerConfig,
    throttle: auth::Throttle,
    stix_bundles: Arc<exports::VersionCache<String>>,
    misp_events: Arc<exports::VersionCache<misp_feed::FeedEvent>>,
    basic_credentials: auth::CredentialMemory,
    taxii_collections: Arc<taxii::CollectionCache>,
    public_cache: public_cache::PublicCache,
    link_secret: std::sync::OnceLock<[u8; 32]>,
}

impl AppState {
    /// The workspace over `store`, naming entities from `knowledge`.
    pub fn new(store: Arc<SqliteStore>, knowledge: Arc<KnowledgeBase>, config: ServerConfig) -> Self {
        let throttle = auth::Throttle::new(config.throttle_window);
        Self {
            inner: Arc::new(Inner {
                store,
                knowledge,
                config,
                throttle,
                stix_bundles: Arc::default(),
                misp_events: Arc::default(),
                basic_credentials: auth::CredentialMemory::default(),
                taxii_collections: Arc::default(),
                public_cache: public_cache::PublicCache::default(),
                link_secret: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Runs a store call on the blocking pool (SQLite calls block).
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| AppError::Internal(format!("a database task failed: {e}")))?
            .map_err(AppError::from)
    }

    /// The store's publication epoch, read on the calling thread (see [`public_cache`]).
    pub(crate) fn publication_epoch(&self) -> Result<threatdesk_store::PublicationEpoch, StoreError> {
        use threatdesk_store::Store as _;
        self.inner.store.publication_epoch()
    }

    pub(crate) fn public_cache(&self) -> &public_cache::PublicCache {
        &self.inner.public_cache
    }

    pub(crate) fn knowledge(&self) -> &KnowledgeBase {
        &self.inner.knowledge
    }

    pub(crate) fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub(crate) fn stix_bundles(&self) -> Arc<exports::VersionCache<String>> {
        Arc::clone(&self.inner.stix_bundles)
    }

    pub(crate) fn misp_events(&self) -> Arc<exports::VersionCache<misp_feed::FeedEvent>> {
        Arc::clone(&self.inner.misp_events)
    }

    pub(crate) fn taxii_collections(&self) -> Arc<taxii::CollectionCache> {
        Arc::clone(&self.inner.taxii_collections)
    }

    /// The newsletter's link-signing secret, once read from the store.
    pub(crate) fn link_secret(&self) -> &std::sync::OnceLock<[u8; 32]> {
        &self.inner.link_secret
    }

    pub(crate) fn basic_credentials(&self) -> &auth::CredentialMemory {
        &self.inner.basic_credentials
    }

    pub(crate) fn throttle(&self) -> &auth::Throttle {
        &self.inner.throttle
    }
}

/// The workspace's routes with their middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // What anyone may read without logging in, served from rendered copies.
    let published = Router::new()
        .route("/", get(public::home))
        .route("/bulletins/{slug}", get(public::bulletin))
        .route("/tags/{tag}", get(public::tag))
        .route("/entities/{slug}", get(public::entity))
        .route("/feeds/{file}", get(public::all_feed))
        .route("/feeds/tags/{file}", get(public::tag_feed))
        .route("/feeds/entities/{file}", get(public::entity_feed))
        .route("/misp-feed/{file}", get(misp_feed::file))
        .route("/taxii2/", get(taxii::discovery))
        .route("/taxii2/api/", get(taxii::api_root))
        .route("/taxii2/api/collections/", get(taxii::collections))
        .route("/taxii2/api/collections/{id}/", get(taxii::collection))
        .route(
            "/taxii2/api/collections/{id}/objects/",
            get(taxii::objects).post(taxii::refuse_write),
        )
        .route(
            "/taxii2/api/collections/{id}/objects/{object_id}/",
            get(taxii::object).delete(taxii::refuse_write),
        )
        .route(
            "/taxii2/api/collections/{id}/objects/{object_id}/versions/",
            get(taxii::versions),
        )
        .route("/taxii2/api/collections/{id}/manifest/", get(taxii::manifest))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            public_cache::serve,
        ));
    Router::new()
        .merge(published)
        .route("/newsletter/subscribe", post(newsletter::subscribe))
        .route(
            "/newsletter/confirm",
            get(newsletter::confirm_page).post(newsletter::confirm),
        )
        .route(
            "/newsletter/unsubscribe",
            get(newsletter::unsubscribe_page).post(newsletter::unsubscribe),
        )
        .route("/taxii2/{*rest}", get(taxii::unknown))
        .route("/desk", get(|| async { Redirect::to(&format!("{DESK}/")) }))
        .route("/desk/", get(pages::inbox))
        .route("/desk/login", get(auth::login_page).post(auth::login))
        .route("/desk/logout", post(auth::logout))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/static/app.js", get(pages::script))
        .route("/desk/stories/{id}", get(pages::story))
        .route("/desk/stories/{id}/mark", post(pages::mark_story))
        .route("/desk/items/{id}", get(pages::item))
        .route("/desk/bulletins", get(bulletins::list).post(bulletins::create))
        .route("/desk/bulletins/new", get(bulletins::new_form))
        .route("/desk/bulletins/preview", post(bulletins::preview))
        .route("/desk/bulletins/{id}", get(bulletins::show).post(bulletins::save))
        .route("/desk/bulletins/{id}/edit", get(bulletins::edit_form))
        .route("/desk/bulletins/{id}/status", post(bulletins::set_status))
        .route("/desk/bulletins/{id}/comments", post(bulletins::comment))
        .route("/desk/bulletins/{id}/share", post(bulletins::share))
        .route("/desk/bulletins/{id}/versions", get(bulletins::versions))
        .route("/desk/bulletins/{id}/export/{format}", get(bulletins::export))
        .route("/desk/entities", get(admin::entities))
        .route("/desk/entities/{id}", get(admin::entity))
        .route("/desk/sources", get(admin::sources))
        .route("/desk/users", get(admin::users).post(admin::create_user))
        .route(
            "/desk/newsletter",
            get(admin::newsletter).post(admin::add_subscription),
        )
        .route("/desk/newsletter/{id}/unsubscribe", post(admin::end_subscription))
        .route("/desk/users/{id}", post(admin::user_action))
        .route("/desk/sources/{id}/enabled", post(admin::set_source_enabled))
        .route(
            "/desk/account/tokens",
            get(auth::tokens_page).post(auth::create_token),
        )
        .route("/desk/account/tokens/{id}/revoke", post(auth::revoke_token))
        .route("/desk/api/me", get(auth::me))
        .fallback(|| async { AppError::NotFound })
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves the workspace on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Why a request failed, as the user sees it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not logged in: pages redirect to the login form, other requests get 401.
    #[error("log in first")]
    Unauthenticated {
        /// Where to come back to.
        next: String,
        /// Whether a browser page was asked for (redirect) rather than an API call (401).
        page: bool,
    },
    /// Logged in, but the role does not allow it.
    #[error("your role does not allow this")]
    Forbidden,
    /// The form's CSRF token is missing or wrong.
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    BadCsrf,
    /// No such thing, or not for this user's eyes.
    #[error("not found")]
    NotFound,
    /// The input cannot be used.
    #[error("{0}")]
    BadRequest(String),
    /// Someone else changed it first.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins.
    #[error("too many failed logins; try again in {0} s")]
    Throttled(u64),
    /// A fault of the server.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => AppError::NotFound,
            StoreError::VersionConflict { .. } => AppError::Conflict(error.to_string()),
            StoreError::SlugTaken(_)
            | StoreError::Transition(_)
            | StoreError::UserExists(_)
            | StoreError::InvalidUserName(_) => AppError::BadRequest(error.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::Unauthenticated { next, page: true } => {
                return Redirect::to(&format!("{DESK}/login?next={}", render::url_encode(next)))
                    .into_response();
            }
            AppError::Unauthenticated { page: false, .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::BadCsrf => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(message) => {
                tracing::error!(%message, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match &self {
            AppError::Internal(_) => "Something went wrong on the server; it has been logged.".to_owned(),
            other => other.to_string(),
        };
        let mut response = (status, Html(pages::error_page(status, &message))).into_response();
        if let AppError::Throttled(seconds) = self
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
