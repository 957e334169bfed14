//! Turning collected bytes into readable documents.
//!
//! Given the bytes of a file or an HTTP body, this crate answers: is it text at all
//! ([`sniff_binary`]), in which encoding ([`decode`]), what is its readable text and
//! title ([`Document::from_html`], [`Document::from_markdown`], [`Document::from_plain_text`]),
//! what is safe to display ([`sanitize_html`]), what language is it in ([`detect_language`]),
//! and has it changed since we last saw it ([`content_hash`]).
//!
//! *Design*: like the extraction crates above it, this crate does no I/O and never fails
//! on input. Every function takes bytes or text and returns a value; doubtful input comes
//! back with notes (a lossy decode says so), never with a panic. That keeps it fast to
//! test, easy to fuzz, and usable from collectors, the CLI and the server alike.
//!
//! It is not a main-content ("readability") extractor yet: [`Document::from_html`] keeps
//! all visible text of a page, dropping only scripts, styles and other non-text elements.

mod article;
mod decode;
mod discover;
mod document;
mod hash;
mod language;

pub use article::{Article, ArticleError, extract_article};
pub use decode::{BinaryEvidence, Decoded, decode, sniff_binary};
pub use discover::feed_links;
pub use document::{Document, DocumentFormat, sanitize_html};
pub use hash::{content_hash, normalize_whitespace};
pub use language::detect_language;
