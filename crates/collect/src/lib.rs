//! Collectors: turning sources into [`NewItem`](threatdesk_model::NewItem)s.
//!
//! A collector reads from the outside world (the file system now; HTTP feeds and web
//! pages later) and produces items ready for the store, together with a
//! [`Rejection`] for every input it could not use, so nothing is lost silently.
//! Collectors know nothing of the store: the caller decides how to batch and persist
//! what they produce, which keeps each collector testable on its own.
//!
//! Each collector is one module with a serde config struct (documented fields with
//! defaults) and plain functions that do the I/O, in the style of Vector's sources.

pub mod feed;
pub mod files;

mod rejection;

pub use rejection::{RejectReason, Rejection};
