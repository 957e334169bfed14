//! `threatdesk sources …`: the feeds and pages threatdesk collects, and how they are doing.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use threatdesk_collect::feed::canonical_url;
use threatdesk_collect::http::Fetcher;
use threatdesk_collect::opml::{OpmlSources, parse_opml, write_opml};
use threatdesk_collect::web::{RunOutcome, collect_source};
use threatdesk_model::{ContentHash, FindingKind, NewSource, Source, SourceHealth, SourceId, SourceKind};
use threatdesk_store::{CollectionProblem, SqliteStore, Store};

use crate::cli::{Format, GlobalArgs, SourcesAddArgs, SourcesTestArgs, WebKind};
use crate::config::DataDir;
use crate::output::{print_json, truncate};
use crate::{EXIT_OK, EXIT_PARTIAL};

/// The list `init` adds: well-known public feeds, editable as OPML.
pub const DEFAULT_SOURCES: &str = include_str!("../../data/default-sources.opml");

#[derive(Serialize)]
struct SourceWithHealth<'a> {
    #[serde(flatten)]
    source: &'a Source,
    health: &'a SourceHealth,
}

/// Lists every source with its health.
pub fn list(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let sources = store.list_source_health()?;
    if global.format != Format::Text {
        let rows: Vec<SourceWithHealth<'_>> = sources
            .iter()
            .map(|(source, health)| SourceWithHealth { source, health })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if sources.is_empty() {
        crate::outln!("No sources. Add one with `threatdesk sources add URL`.");
        return Ok(ExitCode::from(EXIT_OK));
    }
    let now = Utc::now();
    crate::outln!(
        "{:>4}  {:<26}  {:<8}  {:<9}  {:>12}  {:>5}  {:>4}  {:>4}  {:>5}  LAST ERROR / ADDRESS",
        "ID",
        "NAME",
        "KIND",
        "STATE",
        "LAST SUCCESS",
        "FAILS",
        "HTTP",
        "24H",
        "7D"
    );
    for (source, health) in &sources {
        let detail = match (&health.last_error_kind, &health.last_error) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            _ => source.spec.location.clone(),
        };
        crate::outln!(
            "{:>4}  {:<26}  {:<8}  {:<9}  {:>12}  {:>5}  {:>4}  {:>4}  {:>5}  {}",
            source.id,
            truncate(&source.spec.name, 26),
            source.spec.kind.as_str(),
            health.state.as_str(),
            age(health.last_success_at, now),
            health.consecutive_failures,
            health
                .last_http_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            health.items_24h,
            health.items_7d,
            truncate(&detail, 90),
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// "3m ago", "2h ago", "never".
fn age(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    let secs = (now - at).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[derive(Serialize)]
struct SourceDetail<'a> {
    #[serde(flatten)]
    source: &'a Source,
    health: &'a SourceHealth,
    problems: &'a [CollectionProblem],
}

/// One source in full, with its latest problems.
pub fn show(data: &DataDir, global: &GlobalArgs, name: &str, limit: u32) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let source = find(&store, name)?;
    let health = store.source_health(&source)?;
    let problems = store.collection_problems(source.id, limit)?;
    if global.format != Format::Text {
        print_json(&SourceDetail {
            source: &source,
            health: &health,
            problems: &problems,
        })?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let s = &source.spec;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".to_owned());
    crate::outln!("{} (source {}, {})", s.name, source.id, s.kind.as_str());
    crate::outln!("  address:         {}", s.location);
    crate::outln!(
        "  schedule:        {}",
        s.poll_interval_secs
            .map(|i| format!("every {i} s"))
            .unwrap_or_else(|| "default interval".to_owned())
    );
    crate::outln!(
        "  marking:         {}, reliability {}{}{}",
        s.default_tlp,
        s.reliability,
        if s.tags.is_empty() {
            String::new()
        } else {
            format!(", tags {}", s.tags.join(", "))
        },
        if s.allow_private {
            ", private addresses allowed"
        } else {
            ""
        }
    );
    crate::outln!("  state:           {}", health.state);
    crate::outln!("  last attempt:    {}", time(health.last_attempt_at));
    crate::outln!("  last success:    {}", time(health.last_success_at));
    crate::outln!("  next attempt:    {}", time(health.next_attempt_at));
    if let Some(status) = health.last_http_status {
        crate::outln!("  last HTTP:       {status}");
    }
    if let (Some(kind), Some(message)) = (&health.last_error_kind, &health.last_error) {
        crate::outln!(
            "  last error:      {kind}: {message} ({} failure(s) in a row)",
            health.consecutive_failures
        );
    }
    crate::outln!(
        "  last run:        {} entries, {} problem(s)",
        health.last_entries,
        health.last_problems
    );
    crate::outln!(
        "  items:           {} in 24 h, {} in 7 d",
        health.items_24h,
        health.items_7d
    );
    if !problems.is_empty() {
        crate::outln!("\nLatest problems:");
        for p in &problems {
            crate::outln!(
                "  {}  {:<16}  {}: {}",
                p.at.format("%Y-%m-%d %H:%M"),
                p.kind,
                p.input,
                p.reason
            );
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Adds a feed or page.
pub fn add(data: &DataDir, global: &GlobalArgs, args: SourcesAddArgs) -> anyhow::Result<ExitCode> {
    let store = open_or_create(data)?;
    let location = canonical_url(&args.url, None)
        .with_context(|| format!("{:?} is not an http or https address", args.url))?;
    let name = args.name.unwrap_or_else(|| default_name(&location));
    let mut spec = NewSource::new(name, source_kind(args.kind), location);
    spec.poll_interval_secs = args.interval;
    spec.default_tlp = args.tlp;
    spec.tags = args
        .tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    spec.reliability = args.reliability;
    spec.allow_private = args.allow_private;
    let source = store.add_source(&spec)?;
    if global.format == Format::Text {
        crate::outln!(
            "Added source {} {:?} ({}): {}",
            source.id,
            source.spec.name,
            source.spec.kind,
            source.spec.location
        );
    } else {
        print_json(&source)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn source_kind(kind: WebKind) -> SourceKind {
    match kind {
        WebKind::Feed => SourceKind::Feed,
        WebKind::Page => SourceKind::WebPage,
    }
}

/// `blog.example/feed` for `https://blog.example/feed/`.
fn default_name(location: &str) -> String {
    let without_scheme = location.split_once("://").map_or(location, |(_, rest)| rest);
    without_scheme.trim_end_matches('/').to_owned()
}

fn open_or_create(data: &DataDir) -> anyhow::Result<SqliteStore> {
    if !data.is_initialised() {
        data.create()?;
    }
    super::open_store(data)
}

fn find(store: &dyn Store, name: &str) -> anyhow::Result<Source> {
    store
        .source_by_name(name)?
        .with_context(|| format!("no source named {name:?} (see `threatdesk sources list`)"))
}

/// Removes a source.
pub fn remove(data: &DataDir, global: &GlobalArgs, name: &str, with_items: bool) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let source = find(&store, name)?;
    let removed = store.remove_source(source.id, with_items)?;
    if global.format == Format::Text {
        crate::outln!("Removed source {name:?} and {removed} item(s).");
    } else {
        print_json(&serde_json::json!({"removed": name, "items_removed": removed}))?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Enables or disables a source.
pub fn set_enabled(
    data: &DataDir,
    global: &GlobalArgs,
    name: &str,
    enabled: bool,
) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let source = find(&store, name)?;
    let mut spec = source.spec.clone();
    spec.enabled = enabled;
    let source = store.update_source(source.id, &spec)?;
    if global.format == Format::Text {
        crate::outln!(
            "Source {name:?} is {}.",
            if enabled { "enabled" } else { "disabled" }
        );
    } else {
        print_json(&source)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ImportReport {
    pub added: Vec<String>,
    pub skipped_existing: Vec<String>,
    pub rejected: Vec<String>,
}

/// Adds the sources an OPML document lists; names and addresses already present are skipped.
pub(crate) fn import_opml(
    store: &dyn Store,
    bytes: &[u8],
    default_interval: u64,
) -> anyhow::Result<ImportReport> {
    let OpmlSources { sources, rejections } = parse_opml(bytes)?;
    let mut report = ImportReport::default();
    for mut spec in sources {
        spec.poll_interval_secs.get_or_insert(default_interval);
        match store.add_source(&spec) {
            Ok(_) => report.added.push(spec.name),
            Err(threatdesk_store::StoreError::SourceExists { .. }) => report.skipped_existing.push(spec.name),
            Err(e) => return Err(e.into()),
        }
    }
    report.rejected = rejections
        .into_iter()
        .map(|r| format!("outline {} ({:?}): {}", r.position, r.name, r.reason))
        .collect();
    Ok(report)
}

/// `sources import FILE`.
pub fn import(data: &DataDir, global: &GlobalArgs, file: &str) -> anyhow::Result<ExitCode> {
    let store = open_or_create(data)?;
    let bytes = super::read_input(file)?;
    let interval = data.load_config()?.collect.default_interval_secs;
    let report = import_opml(&store, &bytes, interval).with_context(|| file.to_owned())?;
    for rejected in &report.rejected {
        eprintln!("threatdesk: rejected: {file}: {rejected}");
    }
    if global.format == Format::Text {
        crate::outln!(
            "Imported {} source(s) from {file}; {} already present, {} rejected.",
            report.added.len(),
            report.skipped_existing.len(),
            report.rejected.len()
        );
    } else {
        print_json(&report)?;
    }
    Ok(ExitCode::from(if report.rejected.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}

/// `sources export`.
pub fn export(data: &DataDir, output: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let document = write_opml("threatdesk sources", &store.list_sources()?);
    match output {
        Some(path) => {
            std::fs::write(path, document).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => crate::outln!("{}", document.trim_end()),
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Serialize)]
struct TestedItem {
    title: String,
    url: String,
    published_at: Option<DateTime<Utc>>,
    full_text: bool,
    text_bytes: usize,
    indicators: BTreeMap<String, usize>,
    entities: Vec<String>,
}

#[derive(Serialize)]
struct TestReport {
    url: String,
    outcome: RunOutcome,
    entries: u32,
    items: Vec<TestedItem>,
    problems: Vec<threatdesk_collect::web::Problem>,
}

/// Fetches and reads a source without storing anything.
pub fn test(data: &DataDir, global: &GlobalArgs, args: SourcesTestArgs) -> anyhow::Result<ExitCode> {
    let config = if data.config_file().is_file() {
        data.load_config()?
    } else {
        crate::config::Config::default()
    };
    let mut spec = NewSource::new("test", source_kind(args.kind), args.url.trim());
    spec.allow_private = args.allow_private;
    let source = Source {
        id: SourceId(0),
        spec,
        created_at: Utc::now(),
    };
    let mut web = config.collect.clone();
    web.fetch_articles &= !args.no_articles;
    let fetcher = Fetcher::new(config.http.clone())?;
    let runtime = super::collect::runtime()?;
    let nothing_seen = |_: &[String]| HashMap::<String, ContentHash>::new();
    let run = runtime.block_on(collect_source(&fetcher, &web, &source, None, &nothing_seen));
    let knowledge = super::kb::Knowledge::load(data)?;
    let recognizer = knowledge.recognizer();
    let items: Vec<TestedItem> = run
        .items
        .iter()
        .map(|c| {
            let findings = super::ingest::extract_findings(&c.item.text, &recognizer);
            let mut indicators = BTreeMap::new();
            let mut entities: Vec<String> = Vec::new();
            for f in &findings {
                if f.kind == FindingKind::EntityMention {
                    if !entities.contains(&f.value) {
                        entities.push(f.value.clone());
                    }
                } else if !f.is_benign() {
                    *indicators.entry(f.kind.as_str().to_owned()).or_insert(0) += 1;
                }
            }
            TestedItem {
                title: c.item.title.clone(),
                url: c.item.canonical_url.clone(),
                published_at: c.item.published_at,
                full_text: c.full_text,
                text_bytes: c.item.text.len(),
                indicators,
                entities,
            }
        })
        .collect();
    let failed = matches!(run.outcome, RunOutcome::Failed { .. });
    let report = TestReport {
        url: source.spec.location.clone(),
        outcome: run.outcome,
        entries: run.entries,
        items,
        problems: run.problems,
    };
    if global.format != Format::Text {
        print_json(&report)?;
    } else {
        print_test_report(&report)?;
    }
    if failed {
        bail!("{} could not be collected (see above)", report.url);
    }
    Ok(ExitCode::from(if report.problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}

fn print_test_report(report: &TestReport) -> anyhow::Result<()> {
    match &report.outcome {
        RunOutcome::Fetched { status, .. } => crate::outln!(
            "{}: HTTP {status}, {} entries, {} items",
            report.url,
            report.entries,
            report.items.len()
        ),
        RunOutcome::NotModified => crate::outln!("{}: not modified", report.url),
        RunOutcome::Failed { kind, message, .. } => {
            crate::outln!("{}: failed ({kind}): {message}", report.url)
        }
    }
    for item in &report.items {
        crate::outln!(
            "\n{}\n  {}\n  {} bytes of {} text{}",
            item.title,
            item.url,
            item.text_bytes,
            if item.full_text { "article" } else { "feed" },
            item.published_at
                .map(|t| format!(", published {}", t.to_rfc3339()))
                .unwrap_or_default()
        );
        if !item.indicators.is_empty() {
            let counts: Vec<String> = item.indicators.iter().map(|(k, n)| format!("{k} {n}")).collect();
            crate::outln!("  indicators: {}", counts.join(", "));
        }
        if !item.entities.is_empty() {
            crate::outln!("  entities: {}", item.entities.join(", "));
        }
    }
    for problem in &report.problems {
        eprintln!(
            "threatdesk: {}: {}: {}",
            problem.kind, problem.input, problem.reason
        );
    }
    Ok(())
}
