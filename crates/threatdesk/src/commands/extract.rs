//! `threatdesk extract`: indicators from files or standard input, no data folder needed.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use threatdesk_collect::RejectReason;
use threatdesk_collect::files::{self, Candidate, Input};
use threatdesk_extract::{FindingKind, Ioc};

use crate::cli::{ExtractArgs, Format, GlobalArgs};
use crate::config::DataDir;
use crate::{EXIT_OK, EXIT_PARTIAL};

#[derive(Serialize)]
struct InputFindings<'a> {
    source: &'a str,
    findings: &'a [Ioc],
}

#[derive(Serialize)]
struct LineFinding<'a> {
    source: &'a str,
    #[serde(flatten)]
    finding: &'a Ioc,
}

/// Reads each input, extracts, filters and prints; unreadable inputs are reported and skipped.
pub fn run(data: &DataDir, global: &GlobalArgs, args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let kinds = parse_kinds(&args.kinds)?;
    // The data folder is optional here: its configuration applies when it exists.
    let mut files_config = data.load_config()?.ingest.files();
    if let Some(max) = args.max_file_bytes {
        files_config.max_file_bytes = max;
    }
    files_config.include_hidden = true;
    let inputs: Vec<Input> = if args.paths.is_empty() {
        vec![Input::Stdin]
    } else {
        args.paths.iter().map(|p| Input::from_arg(p)).collect()
    };
    let discovery = files::discover(&inputs, &files_config);
    let mut rejected = discovery.rejections.len();
    for rejection in &discovery.rejections {
        eprintln!("threatdesk: rejected: {rejection}");
    }

    // Buffered: stdout is line-buffered, and JSON Lines would cost one write per finding.
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut json_documents = Vec::new();
    if global.format == Format::Csv && !args.refang && !args.defang {
        writeln!(stdout, "source,kind,value,text,start,end,flags")?;
    }
    for candidate in &discovery.candidates {
        let name = candidate.display_name();
        let text = match read_text(candidate, files_config.max_file_bytes) {
            Ok(text) => text,
            Err(reason) => {
                eprintln!("threatdesk: rejected: {name}: {reason}");
                rejected += 1;
                continue;
            }
        };
        if args.refang || args.defang {
            let rewritten = if args.refang {
                threatdesk_extract::refang(&text)
            } else {
                threatdesk_extract::defang(&text)
            };
            stdout.write_all(rewritten.as_bytes())?;
            continue;
        }
        let findings: Vec<Ioc> = threatdesk_extract::extract(&text)
            .into_iter()
            .filter(|f| args.include_benign || !f.flags.is_benign())
            .filter(|f| kinds.is_empty() || kinds.contains(&f.kind))
            .collect();
        match global.format {
            Format::Json => json_documents.push((name, findings)),
            Format::Jsonl => {
                for finding in &findings {
                    serde_json::to_writer(
                        &mut stdout,
                        &LineFinding {
                            source: &name,
                            finding,
                        },
                    )?;
                    writeln!(stdout)?;
                }
            }
            Format::Csv => {
                for f in &findings {
                    let flags: Vec<&str> = f.flags.names().collect();
                    writeln!(
                        stdout,
                        "{},{},{},{},{},{},{}",
                        csv_field(&name),
                        f.kind.as_str(),
                        csv_field(&f.value),
                        csv_field(&f.text),
                        f.start,
                        f.end,
                        csv_field(&flags.join(";"))
                    )?;
                }
            }
            Format::Text => {
                for f in &findings {
                    let flags: Vec<&str> = f.flags.names().collect();
                    let flags = if flags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", flags.join(", "))
                    };
                    writeln!(
                        stdout,
                        "{name}:{}-{}  {:<17} {}{flags}",
                        f.start,
                        f.end,
                        f.kind.as_str(),
                        f.value
                    )?;
                }
            }
        }
    }
    if global.format == Format::Json && !args.refang && !args.defang {
        let documents: Vec<InputFindings> = json_documents
            .iter()
            .map(|(source, findings)| InputFindings { source, findings })
            .collect();
        serde_json::to_writer_pretty(&mut stdout, &documents)?;
        writeln!(stdout)?;
    }
    stdout.flush()?;
    Ok(ExitCode::from(if rejected > 0 { EXIT_PARTIAL } else { EXIT_OK }))
}

fn parse_kinds(names: &[String]) -> anyhow::Result<Vec<FindingKind>> {
    names
        .iter()
        .map(|name| {
            name.parse().map_err(|e: threatdesk_model::ParseError| {
                anyhow::anyhow!("unknown kind {name:?}; {}", e.reason)
            })
        })
        .collect()
}

/// Reads a candidate as text with ingest's rules (size limit, binary refused, invalid
/// UTF-8 decoded with detection and a note); offsets then refer to the decoded text.
fn read_text(candidate: &Candidate, limit: u64) -> Result<String, RejectReason> {
    let bytes = files::read(candidate, limit)?;
    if let Some(evidence) = threatdesk_text::sniff_binary(&bytes) {
        return Err(evidence.into());
    }
    let decoded = threatdesk_text::decode(&bytes);
    if let Some(note) = decoded.note() {
        eprintln!("threatdesk: note: {}: {note}", candidate.display_name());
    }
    Ok(decoded.text.into_owned())
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("evil.com"), "evil.com");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn kinds_are_validated() {
        assert_eq!(
            parse_kinds(&["ipv4".into(), "sha256".into()]).ok(),
            Some(vec![FindingKind::Ipv4, FindingKind::Sha256])
        );
        let error = parse_kinds(&["ipv5".into()]).map_err(|e| e.to_string());
        assert!(error.is_err_and(|e| e.contains("known kinds: ipv4")));
    }
}
