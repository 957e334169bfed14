//! The local-files collector: HTML, Markdown and plain-text files and folders, or
//! standard input.
//!
//! Folders are walked recursively in name order, following symbolic links (loops are
//! detected and rejected). Hidden files and folders (names starting with `.`) inside a
//! walked folder are skipped and counted unless [`FilesConfig::include_hidden`] is set;
//! a path named explicitly is always read.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threatdesk_model::{NewItem, Source};
use threatdesk_text::{Document, DocumentFormat, content_hash, decode, detect_language, sniff_binary};

use crate::{RejectReason, Rejection};

/// The default for [`FilesConfig::max_file_bytes`]: 20 MB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 20_000_000;

/// How the files collector behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Files larger than this many bytes are rejected unread. Default 20 MB.
    pub max_file_bytes: u64,
    /// Read hidden files and folders found while walking a folder. Default `false`.
    pub include_hidden: bool,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            include_hidden: false,
        }
    }
}

/// One thing to ingest, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file or a folder.
    Path(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
}

impl Input {
    /// `-` is standard input; anything else is a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// A file found by [`discover`], not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// A file on disk.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Candidate {
    /// How the candidate is named in messages: its path, or `-`.
    pub fn display_name(&self) -> String {
        match self {
            Candidate::File(path) => path.display().to_string(),
            Candidate::Stdin => "-".to_owned(),
        }
    }
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to read, in order.
    pub candidates: Vec<Candidate>,
    /// Paths that cannot be read at all.
    pub rejections: Vec<Rejection>,
    /// Hidden entries skipped while walking folders.
    pub skipped_hidden: u64,
}

/// Expands inputs into the files to read: folders are walked, missing or unreadable paths
/// become rejections. Standard input is listed once however often it is named.
pub fn discover(inputs: &[Input], config: &FilesConfig) -> Discovery {
    let mut found = Discovery::default();
    let mut stdin_listed = false;
    for input in inputs {
        match input {
            Input::Stdin => {
                if !std::mem::replace(&mut stdin_listed, true) {
                    found.candidates.push(Candidate::Stdin);
                }
            }
            Input::Path(path) => discover_path(path, config, &mut found),
        }
    }
    found
}

fn discover_path(path: &Path, config: &FilesConfig, found: &mut Discovery) {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            found.rejections.push(Rejection {
                input: path.display().to_string(),
                reason: io_reason(&error),
            });
            return;
        }
    };
    if metadata.is_file() {
        found.candidates.push(Candidate::File(path.to_owned()));
        return;
    }
    if !metadata.is_dir() {
        found.rejections.push(Rejection {
            input: path.display().to_string(),
            reason: RejectReason::NotAFile,
        });
        return;
    }
    let mut walker = walkdir::WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        match entry {
            Ok(entry) if entry.depth() > 0 && !config.include_hidden && is_hidden(entry.file_name()) => {
                found.skipped_hidden += 1;
                if entry.file_type().is_dir() {
                    walker.skip_current_dir();
                }
            }
            Ok(entry) if entry.file_type().is_file() => {
                found.candidates.push(Candidate::File(entry.into_path()))
            }
            Ok(entry) if entry.file_type().is_dir() => {}
            Ok(entry) => found.rejections.push(Rejection {
                input: entry.path().display().to_string(),
                reason: RejectReason::NotAFile,
            }),
            Err(error) => {
                let input = error.path().unwrap_or(path).display().to_string();
                let reason = match error.io_error() {
                    Some(io) => io_reason(io),
                    None => RejectReason::Unreadable(error.to_string()),
                };
                found.rejections.push(Rejection { input, reason });
            }
        }
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().starts_with(b".")
}

/// A file read and converted into an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// Where it came from, as [`Candidate::display_name`].
    pub input: String,
    /// The item, ready for the store.
    pub item: NewItem,
    /// The format it was read as.
    pub format: DocumentFormat,
    /// Things the user should know, e.g. that the file was not valid UTF-8.
    pub notes: Vec<String>,
}

/// Reads one candidate and converts it into an item of `source`, or says why not.
pub fn collect(
    candidate: &Candidate,
    source: &Source,
    config: &FilesConfig,
    now: DateTime<Utc>,
) -> Result<Collected, Rejection> {
    let input = candidate.display_name();
    let reject = |reason| Rejection {
        input: input.clone(),
        reason,
    };
    let bytes = read(candidate, config.max_file_bytes).map_err(reject)?;
    let path = match candidate {
        Candidate::File(path) => Some(path.as_path()),
        Candidate::Stdin => None,
    };
    convert(&input, path, &bytes, source, now)
}

/// Reads a candidate's bytes, refusing more than `limit` (unread when the file's size
/// already says so).
pub fn read(candidate: &Candidate, limit: u64) -> Result<Vec<u8>, RejectReason> {
    match candidate {
        Candidate::File(path) => read_limited_file(path, limit),
        Candidate::Stdin => read_limited(io::stdin().lock(), limit, 0),
    }
}

/// Converts bytes that were read from `path` (or standard input when `None`). Public so
/// that callers holding bytes already (tests, uploads) share the exact rules.
pub fn convert(
    input: &str,
    path: Option<&Path>,
    bytes: &[u8],
    source: &Source,
    now: DateTime<Utc>,
) -> Result<Collected, Rejection> {
    let reject = |reason| Rejection {
        input: input.to_owned(),
        reason,
    };
    let extension = path
        .and_then(Path::extension)
        .map(|e| e.to_string_lossy().into_owned());
    let declared = match &extension {
        Some(ext) => Some(DocumentFormat::from_extension(ext).ok_or_else(|| {
            reject(RejectReason::UnsupportedType {
                extension: ext.clone(),
            })
        })?),
        None => None,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(reject(RejectReason::Empty));
    }
    if let Some(evidence) = sniff_binary(bytes) {
        return Err(reject(evidence.into()));
    }

    let decoded = decode(bytes);
    let mut notes: Vec<String> = decoded.note().into_iter().collect();
    let format = declared.unwrap_or_else(|| DocumentFormat::sniff(&decoded.text));
    let document = Document::parse(format, &decoded.text);
    if document.text.trim().is_empty() {
        return Err(reject(RejectReason::NoText {
            format: format.as_str().to_owned(),
        }));
    }

    let fallback_title = path
        .and_then(Path::file_stem)
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Standard input".to_owned());
    let title = document.title.clone().unwrap_or(fallback_title);
    let hash = content_hash(&title, &document.text);
    let (canonical_url, original_url) = match path {
        Some(path) => match file_url(path) {
            Some(url) => (url, Some(path.display().to_string())),
            None => {
                notes.push("path cannot be written as a file:// URL; identified by content".to_owned());
                (format!("urn:sha256:{hash}"), Some(path.display().to_string()))
            }
        },
        None => (format!("urn:sha256:{hash}"), None),
    };

    Ok(Collected {
        input: input.to_owned(),
        format,
        notes,
        item: NewItem {
            source_id: source.id,
            canonical_url,
            original_url,
            guid: None,
            language: detect_language(&document.text),
            title,
            author: document.author,
            published_at: document.published_at,
            fetched_at: now,
            text: document.text,
            html: document.html,
            content_hash: hash,
            tlp: source.spec.default_tlp,
        },
    })
}

/// The `file://` URL of the file's absolute, symlink-resolved path: the same file named
/// by different relative paths is one document.
fn file_url(path: &Path) -> Option<String> {
    let absolute = std::fs::canonicalize(path).ok()?;
    url::Url::from_file_path(absolute).ok().map(String::from)
}

fn read_limited_file(path: &Path, limit: u64) -> Result<Vec<u8>, RejectReason> {
    let file = File::open(path).map_err(|e| io_reason(&e))?;
    let metadata: Metadata = file.metadata().map_err(|e| io_reason(&e))?;
    if !metadata.is_file() {
        return Err(RejectReason::NotAFile);
    }
    if metadata.len() > limit {
        return Err(RejectReason::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    // Sized from `stat`: the file is read in a call or two instead of a growing series.
    let expected = usize::try_from(metadata.len()).unwrap_or(0);
    read_limited(file, limit, expected)
}

/// Reads at most `limit` bytes, failing if there are more (a file can grow after `stat`).
/// `expected` is the size to reserve room for (0 when unknown).
fn read_limited(reader: impl Read, limit: u64, expected: usize) -> Result<Vec<u8>, RejectReason> {
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_reason(&e))?;
    let size = bytes.len() as u64;
    if size > limit {
        return Err(RejectReason::TooLarge { size, limit });
    }
    Ok(bytes)
}

fn io_reason(error: &io::Error) -> RejectReason {
    match error.kind() {
        io::ErrorKind::NotFound => RejectReason::NotFound,
        io::ErrorKind::IsADirectory => RejectReason::NotAFile,
        _ => RejectReason::Unreadable(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_defaults_fill_gaps() {
        let config = FilesConfig {
            max_file_bytes: 1234,
            include_hidden: true,
        };
        let json = serde_json::to_string(&config).unwrap_or_default();
        assert_eq!(serde_json::from_str::<FilesConfig>(&json).ok(), Some(config));
        let partial: FilesConfig = serde_json::from_str(r#"{"include_hidden": true}"#).unwrap_or_default();
        assert_eq!(partial.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
        assert!(
            serde_json::from_str::<FilesConfig>(r#"{"max_bytes": 1}"#).is_err(),
            "typos are refused"
        );
    }

    #[test]
    fn read_limited_refuses_one_byte_over() {
        assert_eq!(read_limited(&b"12345"[..], 5, 5).map(|b| b.len()), Ok(5));
        assert_eq!(
            read_limited(&b"123456"[..], 5, 0),
            Err(RejectReason::TooLarge { size: 6, limit: 5 })
        );
    }
}
