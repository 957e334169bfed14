//! Importers: bytes in a standard format to [`Record`]s.
//!
//! [`parse`] recognises the format from the content: a MISP galaxy cluster file
//! ([`misp_galaxy`]), an ATT&CK lookup file or a STIX 2.1 bundle such as ATT&CK's own
//! ([`attack`]), the country-adjectival list ([`tables::adjectivals`]) or a threatdesk
//! curated table ([`tables::curated`]). A file either parses completely or not at all.

pub mod attack;
pub mod misp_galaxy;
pub mod tables;

use std::fmt;

use crate::Record;

/// The formats [`parse`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A MISP galaxy cluster file (`{"type": …, "values": […]}`).
    MispGalaxy,
    /// One of the compact ATT&CK lookup files (`{"_metadata": …, "software": […]}`).
    AttackLookup,
    /// A STIX 2.1 bundle (`{"type": "bundle", "objects": […]}`).
    StixBundle,
    /// `Country,Name variant,Adjective` lines.
    CountryAdjectivals,
    /// threatdesk's tab-separated curated table (`# threatdesk-kb` header).
    Curated,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::MispGalaxy => "MISP galaxy cluster",
            Format::AttackLookup => "ATT&CK lookup",
            Format::StixBundle => "STIX 2.1 bundle",
            Format::CountryAdjectivals => "country adjectivals",
            Format::Curated => "threatdesk curated table",
        })
    }
}

/// Why a file could not be imported; nothing of it is.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not valid JSON.
    #[error("{file}: line {line}, column {column}: invalid JSON: {message}")]
    Json {
        /// The file.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// Valid syntax, but not what the format requires at some place.
    #[error("{file}: {position}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// Where: a JSON path (`values[12]`) or `line N`.
        position: String,
        /// What is wrong.
        reason: String,
    },
    /// None of the known formats.
    #[error("{file}: not a format threatdesk imports ({reason})")]
    UnknownFormat {
        /// The file.
        file: String,
        /// What was seen.
        reason: String,
    },
}

impl ImportError {
    pub(crate) fn invalid(file: &str, position: impl Into<String>, reason: impl fmt::Display) -> Self {
        ImportError::Invalid {
            file: file.to_owned(),
            position: position.into(),
            reason: reason.to_string(),
        }
    }

    fn json(file: &str, error: &serde_json::Error) -> Self {
        ImportError::Json {
            file: file.to_owned(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        }
    }
}

/// Reads `bytes` (the content of `file`, which only labels errors and provenance) in
/// whichever supported format it is.
pub fn parse(file: &str, bytes: &[u8]) -> Result<(Format, Vec<Record>), ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        ImportError::invalid(file, format!("byte {}", error.valid_up_to()), "not UTF-8 text")
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let head = text.trim_start();
    if head.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| ImportError::json(file, &e))?;
        let object = json
            .as_object()
            .ok_or_else(|| ImportError::invalid(file, "top level", "expected an object"))?;
        if object.get("type").and_then(|t| t.as_str()) == Some("bundle") {
            return Ok((Format::StixBundle, attack::parse_stix_bundle(file, &json)?));
        }
        if object.contains_key("_metadata") {
            return Ok((Format::AttackLookup, attack::parse_lookup(file, &json)?));
        }
        if object.contains_key("values") && object.contains_key("type") {
            return Ok((Format::MispGalaxy, misp_galaxy::parse(file, &json)?));
        }
        let keys: Vec<&str> = object.keys().map(String::as_str).take(6).collect();
        return Err(ImportError::UnknownFormat {
            file: file.to_owned(),
            reason: format!("a JSON object with keys {keys:?}"),
        });
    }
    if head.starts_with(tables::CURATED_HEADER) {
        return Ok((Format::Curated, tables::curated(file, text)?));
    }
    let first_line = head.lines().next().unwrap_or_default();
    if first_line.split(',').count() == 3 {
        return Ok((Format::CountryAdjectivals, tables::adjectivals(file, text)?));
    }
    Err(ImportError::UnknownFormat {
        file: file.to_owned(),
        reason: format!(
            "starts with {:?}",
            first_line.chars().take(40).collect::<String>()
        ),
    })
}

/// The file name without folders, for provenance strings.
pub(crate) fn file_label(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}
