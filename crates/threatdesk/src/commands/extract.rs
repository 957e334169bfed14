//! `threatdesk extract`: indicators and entities from files or standard input, no data
//! folder needed (its knowledge base is used when there is one).

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use threatdesk_collect::RejectReason;
use threatdesk_collect::files::{self, Candidate, Input};
use threatdesk_extract::{FindingKind, Ioc, Mention};
use threatdesk_kb::EntityKind;

use crate::cli::{ExtractArgs, Format, GlobalArgs};
use crate::config::DataDir;
use crate::{EXIT_OK, EXIT_PARTIAL};

/// An indicator or an entity mention, printed in one list by position.
#[derive(Serialize)]
#[serde(untagged)]
enum Found {
    Indicator(Ioc),
    Entity(Mention),
}

impl Found {
    fn start(&self) -> usize {
        match self {
            Found::Indicator(ioc) => ioc.start,
            Found::Entity(mention) => mention.start,
        }
    }

    fn end(&self) -> usize {
        match self {
            Found::Indicator(ioc) => ioc.end,
            Found::Entity(mention) => mention.end,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Found::Indicator(ioc) => ioc.kind.as_str(),
            Found::Entity(mention) => mention.kind.as_str(),
        }
    }

    fn value(&self) -> &str {
        match self {
            Found::Indicator(ioc) => &ioc.value,
            Found::Entity(mention) => &mention.value,
        }
    }

    fn text(&self) -> &str {
        match self {
            Found::Indicator(ioc) => &ioc.text,
            Found::Entity(mention) => &mention.text,
        }
    }

    /// Indicator flags, or an entity's confidence and outside ids.
    fn notes(&self) -> Vec<String> {
        match self {
            Found::Indicator(ioc) => ioc.flags.names().map(str::to_owned).collect(),
            Found::Entity(mention) => std::iter::once(format!("confidence={:.2}", mention.confidence))
                .chain(
                    mention
                        .ids
                        .iter()
                        .filter(|(k, _)| *k != "uuid")
                        .map(|(k, v)| format!("{k}={v}")),
                )
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct InputFindings<'a> {
    source: &'a str,
    findings: &'a [Found],
}

#[derive(Serialize)]
struct LineFinding<'a> {
    source: &'a str,
    #[serde(flatten)]
    finding: &'a Found,
}

/// Which kinds to print; both empty means every kind.
struct Kinds {
    indicators: Vec<FindingKind>,
    entities: Vec<EntityKind>,
}

impl Kinds {
    fn all(&self) -> bool {
        self.indicators.is_empty() && self.entities.is_empty()
    }

    fn wants_entities(&self) -> bool {
        self.all() || !self.entities.is_empty()
    }

    fn keeps(&self, found: &Found) -> bool {
        self.all()
            || match found {
                Found::Indicator(ioc) => self.indicators.contains(&ioc.kind),
                Found::Entity(mention) => self.entities.contains(&mention.kind),
            }
    }
}

/// Reads each input, extracts, filters and prints; unreadable inputs are reported and skipped.
pub fn run(data: &DataDir, global: &GlobalArgs, args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let kinds = parse_kinds(&args.kinds)?;
    let knowledge = if args.no_entities || !kinds.wants_entities() {
        None
    } else {
        Some(super::kb::Knowledge::load(data)?)
    };
    let recognizer = knowledge.as_ref().map(super::kb::Knowledge::recognizer);
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
        let iocs = threatdesk_extract::extract(&text);
        let mentions = match &recognizer {
            Some(recognizer) if kinds.wants_entities() => recognizer.find(&text, &iocs),
            _ => Vec::new(),
        };
        let findings = combine(iocs, mentions, args.include_benign, &kinds);
        match global.format {
            Format::Json | Format::Stix | Format::Misp => json_documents.push((name, findings)),
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
                    writeln!(
                        stdout,
                        "{},{},{},{},{},{},{}",
                        csv_field(&name),
                        f.kind(),
                        csv_field(f.value()),
                        csv_field(f.text()),
                        f.start(),
                        f.end(),
                        csv_field(&f.notes().join(";"))
                    )?;
                }
            }
            Format::Text => {
                for f in &findings {
                    let notes = f.notes();
                    let notes = if notes.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", notes.join(", "))
                    };
                    writeln!(
                        stdout,
                        "{name}:{}-{}  {:<17} {}{notes}",
                        f.start(),
                        f.end(),
                        f.kind(),
                        f.value()
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

/// Parses `--kinds`: each name is an indicator kind, an entity kind, or both
/// (`attack_technique`: an id as written, or a technique named in prose).
fn parse_kinds(names: &[String]) -> anyhow::Result<Kinds> {
    let mut kinds = Kinds {
        indicators: Vec::new(),
        entities: Vec::new(),
    };
    for name in names {
        let indicator = name.parse::<FindingKind>();
        let entity = name.parse::<EntityKind>();
        if indicator.is_err() && entity.is_err() {
            let reason = indicator.err().map(|e| e.reason).unwrap_or_default();
            let entity_kinds: Vec<&str> = EntityKind::ALL.iter().map(|k| k.as_str()).collect();
            anyhow::bail!(
                "unknown kind {name:?}; {reason}; entity kinds: {}",
                entity_kinds.join(", ")
            );
        }
        kinds.indicators.extend(indicator.ok());
        kinds.entities.extend(entity.ok());
    }
    Ok(kinds)
}

/// Indicators and mentions in one list by position. An ATT&CK id the knowledge base knows
/// is reported once, as the entity it names (with its canonical name and ids).
fn combine(iocs: Vec<Ioc>, mentions: Vec<Mention>, include_benign: bool, kinds: &Kinds) -> Vec<Found> {
    // Only a mention that is printed replaces the id it stands on.
    let mentions: Vec<Mention> = mentions
        .into_iter()
        .filter(|m| kinds.all() || kinds.entities.contains(&m.kind))
        .collect();
    let named: std::collections::HashSet<(usize, usize)> =
        mentions.iter().map(|m| (m.start, m.end)).collect();
    let mut found: Vec<Found> = iocs
        .into_iter()
        .filter(|ioc| include_benign || !ioc.flags.is_benign())
        .filter(|ioc| {
            let attack_id = matches!(
                ioc.kind,
                FindingKind::AttackTechnique
                    | FindingKind::AttackTactic
                    | FindingKind::AttackGroup
                    | FindingKind::AttackSoftware
                    | FindingKind::AttackCampaign
            );
            !(attack_id && named.contains(&(ioc.start, ioc.end)))
        })
        .map(Found::Indicator)
        .chain(mentions.into_iter().map(Found::Entity))
        .filter(|found| kinds.keeps(found))
        .collect();
    found.sort_by_key(|f| (f.start(), std::cmp::Reverse(f.end())));
    found
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
        let kinds = parse_kinds(&["ipv4".into(), "sha256".into(), "country".into()]).expect("valid");
        assert_eq!(kinds.indicators, vec![FindingKind::Ipv4, FindingKind::Sha256]);
        assert_eq!(kinds.entities, vec![EntityKind::Country]);
        let both = parse_kinds(&["attack_technique".into()]).expect("valid");
        assert_eq!((both.indicators.len(), both.entities.len()), (1, 1));
        let error = parse_kinds(&["ipv5".into()])
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            error.is_err_and(|e| e.contains("known kinds: ipv4") && e.contains("entity kinds: threat_actor"))
        );
    }
}
