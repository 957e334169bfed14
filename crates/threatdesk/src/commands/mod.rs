//! One module per command; [`run`] dispatches.

mod article;
mod bulletin;
mod collect;
mod eval;
mod eval_stories;
mod extract;
mod ingest;
mod init;
mod items;
mod kb;
mod newsletter;
mod reextract;
mod search;
mod serve;
mod sources;
mod status;
mod stories;
mod user;

use std::process::ExitCode;

use anyhow::{Context, bail};
use threatdesk_model::SourceId;
use threatdesk_store::{DocumentFilter, SqliteStore, Store};

use crate::cli::{
    Cli, Command, EvalCommand, FilterArgs, ItemsCommand, KbCommand, SourcesCommand, StoriesCommand,
    UserCommand,
};
use crate::config::DataDir;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data = DataDir::new(cli.global.data_dir.clone());
    let global = &cli.global;
    match cli.command {
        Command::Init(args) => init::run(&data, global, &args),
        Command::Ingest(args) => ingest::run(&data, global, args),
        Command::Items(ItemsCommand::List(args)) => items::list(&data, global, args),
        Command::Items(ItemsCommand::Show { id, html }) => items::show(&data, global, id, html),
        Command::Search(args) => search::run(&data, global, args),
        Command::Extract(args) => extract::run(&data, global, args),
        Command::Article(args) => article::run(global, args),
        Command::Reextract(args) => reextract::run(&data, global, args),
        Command::Kb(KbCommand::Import { files }) => kb::import(&data, global, &files),
        Command::Kb(KbCommand::Show { name }) => kb::show(&data, global, &name.join(" ")),
        Command::Kb(KbCommand::Search { query, kind, limit }) => {
            kb::search(&data, global, &query.join(" "), kind.as_deref(), limit)
        }
        Command::Kb(KbCommand::Conflicts { limit }) => kb::conflicts(&data, global, limit),
        Command::Kb(KbCommand::Stats) => kb::stats(&data, global),
        Command::Eval(EvalCommand::Entities(args)) => eval::entities(global, args),
        Command::Eval(EvalCommand::Stories(args)) => eval_stories::run(&data, global, args),
        Command::Sources(command) => match command {
            SourcesCommand::List => sources::list(&data, global),
            SourcesCommand::Show { name, problems } => sources::show(&data, global, &name, problems),
            SourcesCommand::Add(args) => sources::add(&data, global, args),
            SourcesCommand::Remove { name, with_items } => sources::remove(&data, global, &name, with_items),
            SourcesCommand::Enable { name } => sources::set_enabled(&data, global, &name, true),
            SourcesCommand::Disable { name } => sources::set_enabled(&data, global, &name, false),
            SourcesCommand::Test(args) => sources::test(&data, global, args),
            SourcesCommand::Import { file } => sources::import(&data, global, &file),
            SourcesCommand::Export { output } => sources::export(&data, output.as_deref()),
        },
        Command::Collect(args) => collect::run(&data, global, args),
        Command::Serve(args) => serve::run(&data, global, args),
        Command::User(UserCommand::Add(args)) => user::add(&data, global, args),
        Command::User(UserCommand::List) => user::list(&data, global),
        Command::Bulletin(command) => bulletin::run(&data, global, command),
        Command::Newsletter(command) => newsletter::run(&data, global, command),
        Command::Stories(command) => match command {
            StoriesCommand::List(args) => stories::list(&data, global, &args),
            StoriesCommand::Show { id } => stories::show(&data, global, id),
            StoriesCommand::Merge { from, into } => stories::merge(&data, global, from, into),
            StoriesCommand::Move { items, to, .. } => stories::move_items(&data, global, &items, to, "move"),
            StoriesCommand::Split { items } => stories::move_items(&data, global, &items, None, "split"),
            StoriesCommand::Cluster => stories::cluster(&data, global),
        },
        Command::Status => status::run(&data, global),
    }
}

/// Opens the store of an existing data folder; a missing one is an error that says what to do.
fn open_existing(data: &DataDir) -> anyhow::Result<SqliteStore> {
    if !data.is_initialised() {
        bail!(
            "no threatdesk data folder at {} (run `threatdesk init`, or `threatdesk ingest PATH` to create it, \
             or point --data-dir / THREATDESK_DATA_DIR at an existing one)",
            data.root().display()
        );
    }
    open_store(data)
}

/// Opens (creating if needed) the store of a data folder.
fn open_store(data: &DataDir) -> anyhow::Result<SqliteStore> {
    let path = data.database();
    SqliteStore::open(&path).with_context(|| format!("cannot open the store in {}", data.root().display()))
}

/// The store filter the shared command-line filters ask for.
fn document_filter(store: &dyn Store, args: &FilterArgs) -> anyhow::Result<DocumentFilter> {
    Ok(DocumentFilter {
        source_ids: resolve_sources(store, &args.sources)?,
        since: args.since,
        until: args.until,
        tlp_ceiling: args.tlp_max,
    })
}

/// Resolves source names given on the command line to ids; an unknown name is an error.
fn resolve_sources(store: &dyn Store, names: &[String]) -> anyhow::Result<Vec<SourceId>> {
    names
        .iter()
        .map(|name| match store.source_by_name(name)? {
            Some(source) => Ok(source.id),
            None => bail!("no source named {name:?} (see `threatdesk sources list`)"),
        })
        .collect()
}

/// The bytes of a file named on the command line, or of standard input for `-`.
fn read_input(path: &str) -> anyhow::Result<Vec<u8>> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("cannot read standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {path}"))
    }
}
