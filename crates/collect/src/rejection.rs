//! Why an input was not collected.

use serde::Serialize;

use threatdesk_text::BinaryEvidence;

/// An input that produced no item, and why. Printed as one line: `input: reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{input}: {reason}")]
pub struct Rejection {
    /// The path (or `-` for standard input, or a URL) as the user gave or we found it.
    pub input: String,
    /// Why it was rejected.
    pub reason: RejectReason,
}

/// The reasons an input is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RejectReason {
    /// The path does not exist.
    #[error("no such file or folder")]
    NotFound,
    /// The file or folder cannot be read, e.g. for lack of permission.
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// Larger than the configured limit.
    #[error("file is {size} bytes, over the limit of {limit} bytes (ingest.max_file_bytes)")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Zero bytes, or only whitespace.
    #[error("empty file")]
    Empty,
    /// Markup without any readable text.
    #[error("no readable text ({format} with nothing but markup)")]
    NoText {
        /// The format it was read as.
        format: String,
    },
    /// Not text at all.
    #[error("{0}")]
    Binary(String),
    /// A file type threatdesk cannot read.
    #[error(
        "unsupported file type .{extension} (supported: .html .htm .xhtml .md .markdown .txt .text .log, or no extension)"
    )]
    UnsupportedType {
        /// The extension, without the dot.
        extension: String,
    },
    /// Neither a regular file nor a folder (a socket, a device…).
    #[error("not a regular file or folder")]
    NotAFile,
}

impl From<BinaryEvidence> for RejectReason {
    fn from(evidence: BinaryEvidence) -> Self {
        RejectReason::Binary(evidence.to_string())
    }
}
