//! Collectors: turning sources into [`NewItem`](threatdesk_model::NewItem)s.
//!
//! A collector reads from the outside world (local files, feeds, web pages) and produces
//! items ready for the store, together with a reason for every input it could not use,
//! so nothing is lost silently. Collectors know nothing of the store: the caller decides
//! how to batch and persist what they produce, which keeps each collector testable on its
//! own.
//!
//! Each collector is one module with a serde config struct (documented fields with
//! defaults) and plain functions that do the I/O, in the style of Vector's sources:
//! [`files`] (local files), [`web`] (feeds with full-article text, and web pages). Below
//! them: [`feed`] (pure feed parsing and canonical URLs), [`http`] (the shared, polite
//! HTTP client), [`net_guard`] (the SSRF guard), [`schedule`] (when to collect next) and
//! [`opml`] (source lists in and out).

pub mod feed;
pub mod files;
pub mod http;
pub mod net_guard;
pub mod opml;
pub mod schedule;
pub mod web;

mod rejection;

pub use rejection::{RejectReason, Rejection};
