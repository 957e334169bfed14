//! `threatdesk bulletin`: bulletins without the browser, for scripts.
//!
//! The command line is the operator of the data folder, so it is not held to a role; the
//! workflow still holds (a draft is reviewed before it is published: `publish` records
//! both steps).

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use threatdesk_model::{Bulletin, BulletinId, BulletinStatus, ItemId, NewBulletin, Slug};
use threatdesk_server::exports;
use threatdesk_store::{BulletinFilter, Store};

use crate::EXIT_OK;
use crate::cli::{BulletinCommand, BulletinCreateArgs, BulletinEditArgs, Format, GlobalArgs};
use crate::config::DataDir;

pub fn run(data: &DataDir, global: &GlobalArgs, command: BulletinCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    match command {
        BulletinCommand::Create(args) => create(&store, global, args),
        BulletinCommand::Edit(args) => edit(&store, global, args),
        BulletinCommand::Show { id } => {
            let bulletin = find(&store, id)?;
            print(global, &bulletin)
        }
        BulletinCommand::List { status } => {
            let status = status
                .map(|s| s.parse::<BulletinStatus>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let bulletins = store.list_bulletins(&BulletinFilter {
                status,
                ..BulletinFilter::default()
            })?;
            match global.format {
                Format::Text => {
                    for b in &bulletins {
                        crate::outln!(
                            "{:>5}  {:<10} TLP:{:<13} v{:<3} {}",
                            b.id.0,
                            b.status.as_str(),
                            b.content.tlp.as_str(),
                            b.version,
                            b.content.title
                        );
                    }
                }
                _ => crate::output::print_json(&bulletins)?,
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        BulletinCommand::Submit { id } => {
            let bulletin = store.set_bulletin_status(BulletinId(id), BulletinStatus::InReview)?;
            print(global, &bulletin)
        }
        BulletinCommand::Export { id, publisher } => export(data, &store, global, id, &publisher),
        BulletinCommand::Publish { id } => {
            let current = find(&store, id)?;
            if current.status == BulletinStatus::Draft {
                store.set_bulletin_status(current.id, BulletinStatus::InReview)?;
            }
            let bulletin = store.set_bulletin_status(current.id, BulletinStatus::Published)?;
            print(global, &bulletin)
        }
    }
}

fn find(store: &dyn Store, id: i64) -> anyhow::Result<Bulletin> {
    store
        .bulletin(BulletinId(id))?
        .with_context(|| format!("there is no bulletin {id}"))
}

/// A Markdown file's text, or standard input for `-`.
fn text(path: &str) -> anyhow::Result<String> {
    let bytes = super::read_input(path)?;
    String::from_utf8(bytes).with_context(|| format!("{path} is not UTF-8 text"))
}

fn create(store: &dyn Store, global: &GlobalArgs, args: BulletinCreateArgs) -> anyhow::Result<ExitCode> {
    let title = args.title.trim().to_owned();
    if title.is_empty() {
        bail!("the bulletin needs a title");
    }
    let slug = match &args.slug {
        Some(slug) => Slug::parse(slug).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Slug::from_title(&title).context("the title gives no usable slug; give --slug")?,
    };
    for item in &args.items {
        if store.item(ItemId(*item))?.is_none() {
            bail!("there is no item {item} to cite");
        }
    }
    let bulletin = store.create_bulletin(&NewBulletin {
        kind: args.kind,
        title,
        slug,
        summary: args
            .summary_file
            .as_deref()
            .map(text)
            .transpose()?
            .unwrap_or_default(),
        analyst_notes: args
            .notes_file
            .as_deref()
            .map(text)
            .transpose()?
            .unwrap_or_default(),
        tlp: args.tlp,
        severity: args.severity,
        tags: args.tags,
        story_ids: Vec::new(),
        item_ids: args.items.iter().map(|id| ItemId(*id)).collect(),
        entity_ids: Vec::new(),
        authors: vec![args.author],
    })?;
    match global.format {
        Format::Text => crate::outln!(
            "Created bulletin {} (draft): {}",
            bulletin.id.0,
            bulletin.content.title
        ),
        _ => crate::output::print_json(&json!({"id": bulletin.id.0}))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn edit(store: &dyn Store, global: &GlobalArgs, args: BulletinEditArgs) -> anyhow::Result<ExitCode> {
    let current = find(store, args.id)?;
    let mut content = current.content.clone();
    if let Some(title) = args.title {
        content.title = title;
    }
    if let Some(path) = &args.summary_file {
        content.summary = text(path)?;
    }
    if let Some(path) = &args.notes_file {
        content.analyst_notes = text(path)?;
    }
    if let Some(tlp) = args.tlp {
        content.tlp = tlp;
    }
    if let Some(severity) = args.severity {
        content.severity = severity;
    }
    if !args.tags.is_empty() {
        content.tags = args.tags;
    }
    let bulletin = store.update_bulletin(current.id, &content, current.version)?;
    print(global, &bulletin)
}

fn print(global: &GlobalArgs, bulletin: &Bulletin) -> anyhow::Result<ExitCode> {
    match global.format {
        Format::Text => {
            let c = &bulletin.content;
            crate::outln!("{} — {}", bulletin.id.0, c.title);
            crate::outln!(
                "{} · TLP:{} · {} · severity {} · version {}",
                bulletin.status.as_str(),
                c.tlp.as_str(),
                c.kind.as_str(),
                c.severity.as_str(),
                bulletin.version
            );
            if !c.tags.is_empty() {
                crate::outln!("Tags: {}", c.tags.join(", "));
            }
            crate::outln!("\nSummary\n{}\n\nAnalyst Notes\n{}", c.summary, c.analyst_notes);
        }
        _ => crate::output::print_json(bulletin)?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The bulletin with what it refers to, as STIX or MISP (see `threatdesk_server::exports`).
fn export(
    data: &DataDir,
    store: &dyn Store,
    global: &GlobalArgs,
    id: i64,
    publisher: &str,
) -> anyhow::Result<ExitCode> {
    if !matches!(global.format, Format::Stix | Format::Misp) {
        bail!("say which format: `threatdesk bulletin export {id} --format stix` (or `--format misp`)");
    }
    let bulletin = find(store, id)?;
    let knowledge = super::kb::Knowledge::load(data)?;
    let format = if global.format == Format::Misp {
        exports::Format::Misp
    } else {
        exports::Format::Stix
    };
    let document = exports::document(store, &knowledge.kb, &bulletin, publisher, format)?;
    crate::output::print_json(&document)?;
    Ok(ExitCode::from(EXIT_OK))
}
