//! The command-line interface, as data.

use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use threatdesk_model::{BulletinKind, ItemId, Reliability, Role, Severity, StoryId, Tlp};

const EXIT_CODES: &str = "Exit status: 0 success; 1 finished, but some inputs were rejected (each is reported on stderr); 2 error.";

/// A cyber threat intelligence newsroom: collect, enrich, search and publish.
#[derive(Debug, Parser)]
#[command(name = "threatdesk", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The data folder: configuration, database and indexes.
    #[arg(
        long,
        global = true,
        env = "THREATDESK_DATA_DIR",
        default_value = "threatdesk-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// Output format on stdout.
    #[arg(long, global = true, env = "THREATDESK_FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Log more on stderr (-v info, -vv debug, -vvv trace). THREATDESK_LOG takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors: no progress bar, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When the command ends, write the SQL work it did to FILE as JSON: runs, steps and
    /// full-scan steps per SQL text (for benchmarks and the slope tests).
    #[arg(
        long,
        global = true,
        env = "THREATDESK_SQL_PROFILE",
        value_name = "FILE",
        hide_short_help = true
    )]
    pub sql_profile: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line (`extract`: one finding per line); other commands print JSON.
    Jsonl,
    /// Comma-separated values with a header (`extract`); other commands print JSON.
    Csv,
    /// A STIX 2.1 bundle (`bulletin export`); other commands print JSON.
    Stix,
    /// A MISP event (`bulletin export`); other commands print JSON.
    Misp,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data folder with a commented configuration file, a database and the default
    /// list of public security news and research feeds.
    Init(InitArgs),

    /// Store HTML, Markdown and plain-text files, folders (recursively) or standard input.
    #[command(after_help = EXIT_CODES)]
    Ingest(IngestArgs),

    /// List and show collected items.
    #[command(subcommand)]
    Items(ItemsCommand),

    /// Full-text search over items and bulletins, best matches first.
    #[command(after_help = QUERY_HELP)]
    Search(SearchArgs),

    /// Find indicators (IPs, domains, URLs, hashes, CVEs…) and entities (actors, malware, countries,
    /// ATT&CK techniques…) in files or standard input.
    #[command(after_help = EXTRACT_HELP)]
    Extract(ExtractArgs),

    /// The main article of a saved web page: title, author, date and text, without navigation.
    Article(ArticleArgs),

    /// Extract again from stored items (after `kb import` or an upgrade), replacing their findings.
    Reextract(ReextractArgs),

    /// The knowledge base: actors, malware, tools, places, sectors, ATT&CK techniques and tactics.
    #[command(subcommand)]
    Kb(KbCommand),

    /// Measure accuracy against outside yardsticks.
    #[command(subcommand)]
    Eval(EvalCommand),

    /// Feeds and web pages: add, list with their health, test, remove, import and export (OPML).
    #[command(subcommand)]
    Sources(SourcesCommand),

    /// Stories: items about the same event, grouped as they arrive; list, show, merge, move, split.
    #[command(subcommand)]
    Stories(StoriesCommand),

    /// Collect feeds and web pages (with each entry's full text), extract indicators and entities,
    /// and store what is new or changed: on each source's schedule until stopped, or once.
    #[command(after_help = COLLECT_HELP)]
    Collect(CollectArgs),

    /// Show the data folder, configuration and database state.
    Status,

    /// Run the analyst workspace: the web server, with collection, enrichment and clustering
    /// in the background. On a fresh data folder, creates it and an `admin` account whose
    /// password is printed once.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),

    /// Workspace accounts: add and list.
    #[command(subcommand)]
    User(UserCommand),

    /// Bulletins from the command line: create, edit, show, list, submit for review, publish.
    #[command(subcommand)]
    Bulletin(BulletinCommand),

    /// The newsletter: subscriptions, the mail queue and send log, one sending round.
    #[command(subcommand)]
    Newsletter(NewsletterCommand),
}

#[derive(Debug, Subcommand)]
pub enum NewsletterCommand {
    /// List the subscriptions.
    List,
    /// Subscribe an address. It gets a confirmation request (double opt-in) unless
    /// --confirmed says the operator has its consent already.
    Add(NewsletterAddArgs),
    /// Unsubscribe an address; its queued messages are cancelled.
    Remove {
        /// The address.
        email: String,
    },
    /// Queue what is due and send the queue once over SMTP (newsletter.smtp_url), as the
    /// server does every newsletter.send_interval_secs. Exit code 1 when some message
    /// could not be sent (it stays queued or, if refused for good, is marked failed).
    Send {
        /// Send every digest now, whatever its cadence says.
        #[arg(long)]
        all_digests: bool,
    },
    /// The mail queue and send log, newest first.
    Log {
        /// How many messages.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct NewsletterAddArgs {
    /// The address.
    pub email: String,
    /// immediate, daily or weekly.
    #[arg(long, default_value = "daily")]
    pub cadence: String,
    /// Only bulletins with one of these tags (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only bulletins at least this severe.
    #[arg(long, value_parser = parse_severity, value_name = "SEVERITY", default_value = "info")]
    pub min_severity: Severity,
    /// The most restrictive TLP the address may receive (default CLEAR: the public).
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp_ceiling: Option<Tlp>,
    /// The address has agreed already: no confirmation request.
    #[arg(long)]
    pub confirmed: bool,
}

#[derive(Debug, Subcommand)]
pub enum BulletinCommand {
    /// Save a new draft; prints its id (`{"id": N}` with --format json).
    Create(BulletinCreateArgs),
    /// Save an edit as the next version (only the fields given change).
    Edit(BulletinEditArgs),
    /// One bulletin at its latest version.
    Show {
        /// The bulletin's id.
        id: i64,
    },
    /// Bulletins, most recently saved first.
    List {
        /// Only at this step: draft, in_review or published.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Send a draft to review.
    Submit {
        /// The bulletin's id.
        id: i64,
    },
    /// Publish a bulletin; a draft goes through review on the way (both steps are recorded).
    Publish {
        /// The bulletin's id.
        id: i64,
    },
    /// Write a bulletin for machines on stdout: `--format stix` (a STIX 2.1 bundle) or
    /// `--format misp` (a MISP event).
    Export {
        /// The bulletin's id.
        id: i64,
        /// The publishing organisation named in the export.
        #[arg(long, default_value = "threatdesk")]
        publisher: String,
    },
}

#[derive(Debug, Args)]
pub struct BulletinCreateArgs {
    /// The headline.
    #[arg(long)]
    pub title: String,
    /// A Markdown file with the summary (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<String>,
    /// A Markdown file with the Analyst Notes (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub notes_file: Option<String>,
    /// clear, green, amber, amber+strict or red.
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp: Tlp,
    /// news (default) or research.
    #[arg(long, value_parser = parse_bulletin_kind, value_name = "KIND", default_value = "news")]
    pub kind: BulletinKind,
    /// info (default), low, medium, high or critical.
    #[arg(long, value_parser = parse_severity, value_name = "SEVERITY", default_value = "info")]
    pub severity: Severity,
    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// The URL segment on the public site (default: from the title).
    #[arg(long)]
    pub slug: Option<String>,
    /// The author's name.
    #[arg(long, default_value = "cli")]
    pub author: String,
    /// An item the bulletin cites (repeatable); exports draw indicators and entities from it.
    #[arg(long = "item", value_name = "ID")]
    pub items: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct BulletinEditArgs {
    /// The bulletin's id.
    pub id: i64,
    /// A new headline.
    #[arg(long)]
    pub title: Option<String>,
    /// A Markdown file with the new summary (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<String>,
    /// A Markdown file with the new Analyst Notes (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub notes_file: Option<String>,
    /// A new marking.
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp: Option<Tlp>,
    /// A new severity.
    #[arg(long, value_parser = parse_severity, value_name = "SEVERITY")]
    pub severity: Option<Severity>,
    /// Replace the tags (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

const SERVE_HELP: &str = "Open the address printed at start-up in a browser and log in. Logs go to stderr (-v for more). Ctrl-C stops: requests in flight finish, the collector stops between sources. Exit status: 0 stopped cleanly; 2 error (the address is taken, the data folder cannot be opened).";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to listen on. [config: server.listen]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Serve only: no collection in the background. [config: server.collect = false]
    #[arg(long)]
    pub no_collect: bool,

    /// Mark session cookies Secure (the server is behind HTTPS). [config: server.secure_cookies]
    #[arg(long)]
    pub secure_cookies: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input with --password-stdin,
    /// else generated and printed once.
    Add(UserAddArgs),
    /// List the accounts.
    List,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name.
    pub name: String,

    /// reader, analyst, editor or admin.
    #[arg(long, value_parser = parse_role, value_name = "ROLE")]
    pub role: Role,

    /// The most restrictive TLP the account may see: nothing marked above it is ever shown
    /// to it (default: AMBER for readers, AMBER+STRICT for analysts, RED for editors and
    /// admins).
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp_ceiling: Option<Tlp>,

    /// The name shown on bulletins (default: the login name).
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,

    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or folders to read; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,

    /// The source the items belong to (created if missing). [config: ingest.source]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Mark the items with this TLP instead of the source's default.
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp: Option<Tlp>,

    /// Reject files larger than this many bytes. [config: ingest.max_file_bytes]
    #[arg(long, value_name = "BYTES")]
    pub max_file_bytes: Option<u64>,

    /// Also read hidden files and folders inside folders. [config: ingest.include_hidden]
    #[arg(long)]
    pub include_hidden: bool,
}

#[derive(Debug, Subcommand)]
pub enum ItemsCommand {
    /// Items, newest first.
    List(ItemsListArgs),
    /// One item with its text.
    Show {
        /// The item's id.
        id: ItemId,
        /// Print the sanitised HTML instead of the text.
        #[arg(long)]
        html: bool,
    },
}

#[derive(Debug, Args)]
pub struct ItemsListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Skip this many first.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

/// Filters shared by listings and search.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only items of this source (repeatable).
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Only documents dated at or after: 2025-03-01, an RFC 3339 time, or an age (36h, 7d, 2w).
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub since: Option<DateTime<Utc>>,
    /// Only documents dated before (same forms as --since).
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub until: Option<DateTime<Utc>>,
    /// Only documents marked at most this restrictively (CLEAR, GREEN, AMBER, AMBER+STRICT, RED).
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp_max: Option<Tlp>,
}

const QUERY_HELP: &str = "Query language: all words must occur (lazarus crypto); \"quoted words\" must occur as a \
phrase; OR accepts either side; -word excludes; word* matches a prefix. Matching ignores case and accents and \
stems English words (attacks finds attack). Punctuated tokens (CVE-2021-44228, 1.2.3.4) match as phrases.";

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query (several words are joined with spaces).
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// What to search.
    #[arg(long = "in", value_enum, default_value_t = Scope::All)]
    pub scope: Scope,
    /// Only bulletins of this kind.
    #[arg(long, value_parser = parse_bulletin_kind, value_name = "news|research")]
    pub bulletin_kind: Option<BulletinKind>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many hits.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Skip this many hits first.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

/// What `search` looks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// Items and bulletins.
    All,
    /// Collected items.
    Items,
    /// Bulletins.
    Bulletins,
}

const EXTRACT_HELP: &str = "Defanged indicators (hxxp://evil[.]com, 1.2.3[.]4, user[at]mail[.]ru) are found and \
normalised; offsets are byte offsets into the input as read. Known-benign values (private ranges, public DNS \
resolvers, security-vendor blogs, empty-file hashes) are hidden unless --include-benign. Exit status: 0 success; \
1 some inputs could not be read; 2 error.";

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Files or folders to read; `-` (or nothing) reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// Only these kinds, comma-separated: indicator kinds (ipv4,domain,url,sha256,cve…) and entity
    /// kinds (threat_actor,malware,tool,country,region,sector,attack_technique,attack_tactic,campaign).
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub kinds: Vec<String>,

    /// Also report known-benign values (they carry a benign:* flag).
    #[arg(long)]
    pub include_benign: bool,

    /// Print each input refanged (hxxp://evil[.]com -> http://evil.com) instead of findings.
    #[arg(long, conflicts_with = "defang")]
    pub refang: bool,

    /// Print each input with its indicators defanged (http://evil.com -> hxxp://evil[.]com).
    #[arg(long)]
    pub defang: bool,

    /// Reject files larger than this many bytes. [config: ingest.max_file_bytes]
    #[arg(long, value_name = "BYTES")]
    pub max_file_bytes: Option<u64>,

    /// Indicators only: do not look for knowledge-base entities.
    #[arg(long)]
    pub no_entities: bool,
}

const KB_IMPORT_HELP: &str = "Formats, recognised by content: MISP galaxy cluster JSON (any cluster file), \
ATT&CK lookup JSON, STIX 2.1 bundles (e.g. ATT&CK's enterprise-attack.json), Country,Name variant,Adjective \
lines, and threatdesk curated tables (tab-separated, '# threatdesk-kb' header; see docs/knowledge-base.md). \
Records join existing entities by shared ids (ATT&CK id, UUID, malpedia id, ISO code) or explicit MISP \
'similar' links, never by a shared name; importing the same file again changes nothing. A malformed file is \
rejected whole, with its position; the others are imported, all in one transaction. Exit status: 0 success; \
1 some files were rejected; 2 error.";

#[derive(Debug, Args)]
pub struct ArticleArgs {
    /// The HTML file; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub path: String,
    /// The page's address, when known (helps with relative links and metadata).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReextractArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Merge knowledge files into the data folder's knowledge base (the built-in one the first time).
    #[command(after_help = KB_IMPORT_HELP)]
    Import {
        /// Files to import.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// One entity, found by any of its names or ids (Fancy Bear, G0007, T1566.001, RU).
    Show {
        /// A name, alias or outside id.
        #[arg(required = true, value_name = "NAME")]
        name: Vec<String>,
    },
    /// Entities whose names or ids contain the query.
    Search {
        /// What to look for (several words are joined with spaces).
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
        /// Only entities of this kind (threat_actor, malware, tool, country, attack_technique…).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Names that several entities claim, and which one recognition uses.
    Conflicts {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Counts by kind and source, and what recognition leaves out.
    Stats,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Entity recognition and ATT&CK linking against AnnoCTR (and CyNER): precision, recall, F1 per type.
    Entities(EvalEntitiesArgs),
    /// Story clustering on a labelled set built from AnnoCTR reports: pairwise and B-cubed P/R/F1.
    Stories(EvalStoriesArgs),
}

#[derive(Debug, Args)]
pub struct EvalEntitiesArgs {
    /// The AnnoCTR folder (holding ner_bio/, text/, linking_mitre_only/).
    #[arg(long, value_name = "DIR")]
    pub annoctr: Option<PathBuf>,
    /// The CyNER folder (holding train.txt, valid.txt).
    #[arg(long, value_name = "DIR")]
    pub cyner: Option<PathBuf>,
    /// Which split to score: dev (report) or train (development).
    #[arg(long, default_value = "dev", value_parser = ["dev", "train"])]
    pub split: String,
    /// Score a recogniser without rules instead (every alias, any case, first claimant wins),
    /// for comparison.
    #[arg(long, value_parser = ["naive"], value_name = "naive")]
    pub baseline: Option<String>,
    /// Also print, per type, the N most frequent false positives and misses (exact spans).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub errors: usize,
}

#[derive(Debug, Subcommand)]
pub enum StoriesCommand {
    /// Stories, newest first (--hot: hottest first).
    List(StoriesListArgs),
    /// One story: summary, items with why each joined, entities, indicators, changes.
    Show {
        /// The story's id.
        id: StoryId,
    },
    /// Move every item of one story into another.
    Merge {
        /// The story to empty.
        from: StoryId,
        /// The story that takes its items.
        into: StoryId,
    },
    /// Move items to another story, or to a new one.
    Move {
        /// The items' ids.
        #[arg(required = true)]
        items: Vec<ItemId>,
        /// The story that takes them.
        #[arg(long, conflicts_with = "new", required_unless_present = "new")]
        to: Option<StoryId>,
        /// Start a new story with them.
        #[arg(long)]
        new: bool,
    },
    /// Split items out of their story into a new one.
    Split {
        /// The items that make the new story.
        #[arg(required = true)]
        items: Vec<ItemId>,
    },
    /// Place every item that is in no story yet (ingest and collect do it as items arrive).
    Cluster,
}

#[derive(Debug, Args)]
pub struct StoriesListArgs {
    /// Only stories seen at or after: 2025-03-01, an RFC 3339 time, or an age (36h, 7d).
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub since: Option<DateTime<Utc>>,
    /// Hottest first (sources, their reliability, recency).
    #[arg(long)]
    pub hot: bool,
    /// Only stories whose items are all marked at most this restrictively.
    #[arg(long, value_parser = parse_tlp, value_name = "TLP")]
    pub tlp_max: Option<Tlp>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Do not add the default feeds (they can be added later with `sources import`).
    #[arg(long)]
    pub no_default_sources: bool,
}

const COLLECT_HELP: &str = "Every source is tried on its own schedule (its --interval, else \
collect.default_interval_secs, with jitter); a source failing 3 times in a row backs off, doubling its wait up to a \
day, and a server's Retry-After is honoured. Each failure, skipped entry and page that fell back to the feed's text \
is recorded with its reason: see `threatdesk sources list` and `sources show NAME`. Exit status (--once): 0 every \
source collected cleanly; 1 some sources failed or some entries had problems; 2 error.";

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Collect every enabled source once, now, and exit (default: keep collecting on schedule until Ctrl-C).
    #[arg(long)]
    pub once: bool,
    /// Only this source (repeatable).
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EvalStoriesArgs {
    /// The AnnoCTR folder (holding text/).
    #[arg(long, value_name = "DIR")]
    pub annoctr: PathBuf,
    /// Which split's reports: dev (report) or train (development).
    #[arg(long, default_value = "dev", value_parser = ["dev", "train"])]
    pub split: String,
    /// A sentence-embedding model folder to score with (default: the configured one, if any).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Every source with its health: state, last success, failures, last error, items in 24 h / 7 d.
    List,
    /// One source: settings, health, and the latest problems met collecting it.
    Show {
        /// The source's name.
        name: String,
        /// Problems to list.
        #[arg(long, default_value_t = 20)]
        problems: u32,
    },
    /// Add a feed (RSS, Atom, JSON Feed) or a web page to collect.
    Add(SourcesAddArgs),
    /// Remove a source (refused while it has items, unless --with-items).
    Remove {
        /// The source's name.
        name: String,
        /// Delete its items and their findings too.
        #[arg(long)]
        with_items: bool,
    },
    /// Collect a source again.
    Enable {
        /// The source's name.
        name: String,
    },
    /// Stop collecting a source; its items stay.
    Disable {
        /// The source's name.
        name: String,
    },
    /// Fetch and read a feed or page without storing anything: the entries found and what
    /// extraction finds in them.
    Test(SourcesTestArgs),
    /// Add the feeds and pages of an OPML file (a feed reader's export); names already taken are skipped.
    Import {
        /// The OPML file; `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Write every feed and page as OPML (to standard output, or a file).
    Export {
        /// Write here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// How a URL is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WebKind {
    /// An RSS, Atom or JSON Feed document; each entry's page is fetched for its full text.
    Feed,
    /// A single page, collected as one item that is updated when the page changes.
    Page,
}

#[derive(Debug, Args)]
pub struct SourcesAddArgs {
    /// The feed's or page's address (http or https).
    #[arg(value_name = "URL")]
    pub url: String,
    /// A name for it (default: the address's host and path).
    #[arg(long)]
    pub name: Option<String>,
    /// Feed or single web page.
    #[arg(long, value_enum, default_value_t = WebKind::Feed)]
    pub kind: WebKind,
    /// Time between collections: seconds, or 30m, 2h, 1d. [default: collect.default_interval_secs]
    #[arg(long, value_parser = parse_interval, value_name = "INTERVAL")]
    pub interval: Option<u64>,
    /// Marking of its items.
    #[arg(long, value_parser = parse_tlp, value_name = "TLP", default_value = "CLEAR")]
    pub tlp: Tlp,
    /// Labels, comma-separated (vendor,ics).
    #[arg(long, value_delimiter = ',', value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Admiralty source reliability, A (completely reliable) to F (cannot be judged).
    #[arg(long, value_parser = parse_reliability, value_name = "A-F", default_value = "F")]
    pub reliability: Reliability,
    /// Let it reach loopback, private and link-local addresses (refused by default).
    #[arg(long)]
    pub allow_private: bool,
}

#[derive(Debug, Args)]
pub struct SourcesTestArgs {
    /// The feed's or page's address.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Feed or single web page.
    #[arg(long, value_enum, default_value_t = WebKind::Feed)]
    pub kind: WebKind,
    /// Let it reach loopback, private and link-local addresses.
    #[arg(long)]
    pub allow_private: bool,
    /// Only the feed: do not fetch the entries' pages.
    #[arg(long)]
    pub no_articles: bool,
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    s.parse().map_err(|e: threatdesk_model::ParseError| e.to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: threatdesk_model::ParseError| e.to_string())
}

fn parse_reliability(s: &str) -> Result<Reliability, String> {
    s.parse().map_err(|e: threatdesk_model::ParseError| e.to_string())
}

/// Parses an interval: seconds (`900`), or a number with `s`, `m`, `h` or `d`.
pub fn parse_interval(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected seconds or a number with s, m, h or d (30m), not {s:?}"))?;
    let seconds = match unit {
        "" | "s" => Some(n),
        "m" | "min" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use s, m, h or d")),
    };
    match seconds {
        Some(0) => Err("the interval must be at least one second".to_owned()),
        Some(secs) => Ok(secs),
        None => Err(format!("interval {s:?} is out of range")),
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse().map_err(|e: threatdesk_model::ParseError| e.to_string())
}

fn parse_bulletin_kind(s: &str) -> Result<BulletinKind, String> {
    s.parse().map_err(|e: threatdesk_model::ParseError| e.to_string())
}

/// Parses `2025-03-01`, an RFC 3339 time, or an age such as `36h`, `7d`, `2w` (counted back from now).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("invalid date {s:?}"));
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("expected a date (2025-03-01), an RFC 3339 time or an age (7d), not {s:?}"))?;
    let age = match unit {
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => return Err(format!("unknown age unit {unit:?} in {s:?}: use m, h, d or w")),
    };
    age.and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| format!("age {s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn time_arguments_accept_dates_times_and_ages() {
        assert_eq!(
            parse_time("2025-03-01").map(|t| t.to_rfc3339()),
            Ok("2025-03-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(
            parse_time("2025-03-01T10:00:00+02:00").map(|t| t.to_rfc3339()),
            Ok("2025-03-01T08:00:00+00:00".to_owned())
        );
        let week = parse_time("7d").map(|t| Utc::now() - t);
        assert!(week.is_ok_and(|d| d >= Duration::days(7) && d < Duration::days(7) + Duration::minutes(1)));
        assert!(parse_time("7y").is_err_and(|e| e.contains("unknown age unit")));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn intervals_accept_seconds_and_units() {
        assert_eq!(parse_interval("900"), Ok(900));
        assert_eq!(parse_interval("30m"), Ok(1800));
        assert_eq!(parse_interval("2h"), Ok(7200));
        assert_eq!(parse_interval("1d"), Ok(86_400));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("5y").is_err_and(|e| e.contains("unknown unit")));
    }
}
