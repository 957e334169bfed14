//! Configuration: defaults, then `threatdesk.toml` in the data folder, then `THREATDESK_*`
//! environment variables, then command-line flags (each overriding the one before).

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};
use threatdesk_cluster::ClusterConfig;
use threatdesk_collect::files::{DEFAULT_MAX_FILE_BYTES, FilesConfig};
use threatdesk_collect::http::HttpConfig;
use threatdesk_collect::web::WebConfig;
use threatdesk_model::Tlp;

/// The configuration file's name inside the data folder.
pub const CONFIG_FILE: &str = "threatdesk.toml";
/// The database file's name inside the data folder.
pub const DATABASE_FILE: &str = "threatdesk.db";

/// Environment variables that are command-line options, not configuration keys.
const NOT_CONFIG_KEYS: [&str; 4] = ["data_dir", "format", "log", "sql_profile"];

/// Everything configurable in `threatdesk.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How `threatdesk ingest` reads files.
    pub ingest: IngestConfig,
    /// How feeds and web pages are collected.
    pub collect: WebConfig,
    /// How collectors speak HTTP.
    pub http: HttpConfig,
    /// How items are grouped into stories.
    pub cluster: ClusterConfig,
    /// The sentence-embedding model clustering uses when it is there.
    pub embeddings: EmbeddingsConfig,
    /// The analyst workspace (`threatdesk serve`).
    pub server: ServerSettings,
    /// The newsletter's mail.
    pub newsletter: NewsletterSettings,
}

/// The `[newsletter]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewsletterSettings {
    /// The SMTP server; empty keeps messages queued (nothing is sent, nothing is lost).
    pub smtp_url: String,
    /// The sender mailbox.
    pub from: String,
    /// How often the server plans and sends, in seconds.
    pub send_interval_secs: f64,
    /// The first retry of a failed message waits this long, each further one twice as long
    /// (at most an hour).
    pub retry_base_secs: f64,
}

impl Default for NewsletterSettings {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "threatdesk <newsletter@localhost.localdomain>".to_owned(),
            send_interval_secs: 30.0,
            retry_base_secs: 30.0,
        }
    }
}

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub listen: String,
    /// Collect, enrich and cluster in the background while serving.
    pub collect: bool,
    /// Mark session cookies Secure (behind HTTPS).
    pub secure_cookies: bool,
    /// How long a login lasts, in hours.
    pub session_hours: u32,
    /// Failed logins per user name in 15 minutes before further attempts wait.
    pub max_failed_logins: u32,
    /// The site's public address, for canonical links and feeds; empty takes each request's Host.
    pub public_url: String,
    /// The publishing organisation, named in STIX, TAXII, MISP and newsletter output.
    pub publisher: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            collect: true,
            secure_cookies: false,
            session_hours: 12,
            max_failed_logins: 5,
            public_url: String::new(),
            publisher: "threatdesk".to_owned(),
        }
    }
}

/// The `[embeddings]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// Use the model when there is one.
    pub enabled: bool,
    /// The model folder (config.json, tokenizer.json, model.safetensors); empty means
    /// `models/all-minilm-l6-v2` in the data folder.
    pub model_dir: String,
    /// Tokens of each text the model reads (at most 512): the headline and lead.
    pub max_tokens: usize,
    /// Texts embedded per model call.
    pub batch_size: usize,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            model_dir: String::new(),
            max_tokens: 40,
            batch_size: 32,
        }
    }
}

/// The `[ingest]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// The source ingested files belong to.
    pub source: String,
    /// The marking of ingested items when the source is created.
    pub default_tlp: Tlp,
    /// Files larger than this are rejected unread.
    pub max_file_bytes: u64,
    /// Read hidden files and folders found inside folders.
    pub include_hidden: bool,
    /// Items stored per database transaction.
    pub batch_size: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            source: "local-files".to_owned(),
            default_tlp: Tlp::Clear,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            include_hidden: false,
            batch_size: 1024,
        }
    }
}

impl IngestConfig {
    /// The files collector's settings.
    pub fn files(&self) -> FilesConfig {
        FilesConfig {
            max_file_bytes: self.max_file_bytes,
            include_hidden: self.include_hidden,
        }
    }
}

/// The data folder and what lives in it.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data folder at `root` (which may not exist yet).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Whether the folder holds a database.
    pub fn is_initialised(&self) -> bool {
        self.database().is_file()
    }

    /// Loads the configuration: defaults, the file if present, then the environment.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        // `Toml::file` would search parent folders for a relative path; only this file counts.
        if self.config_file().is_file() {
            figment = figment.merge(Toml::file_exact(self.config_file()));
        }
        figment
            .merge(Env::prefixed("THREATDESK_").ignore(&NOT_CONFIG_KEYS).split("__"))
            .extract()
            .map_err(|error| anyhow::anyhow!(describe_figment_error(error)))
            .with_context(|| format!("invalid configuration (file {})", self.config_file().display()))
    }

    /// Creates the folder and a commented configuration file; an existing file is kept.
    /// Returns whether the configuration file was written.
    pub fn create(&self) -> anyhow::Result<bool> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create data folder {}", self.root.display()))?;
        let path = self.config_file();
        if path.exists() {
            return Ok(false);
        }
        std::fs::write(&path, CONFIG_TEMPLATE).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(true)
    }
}

/// Figment errors can hold several problems; list them all, each with where it came from.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The file `threatdesk init` writes: every key with its default, commented out.
const CONFIG_TEMPLATE: &str = r#"# threatdesk configuration.
#
# Every setting below shows its default. Environment variables override this file:
# THREATDESK_<TABLE>__<KEY>, e.g. THREATDESK_INGEST__MAX_FILE_BYTES=50000000.
# Command-line flags override both.

[ingest]
# The source that ingested files belong to (created on first use).
# source = "local-files"

# The TLP marking given to that source's items: CLEAR, GREEN, AMBER, AMBER+STRICT or RED.
# default_tlp = "CLEAR"

# Files larger than this many bytes are rejected unread.
# max_file_bytes = 20000000

# Read hidden files and folders (names starting with ".") found inside folders.
# include_hidden = false

# Items stored per database transaction.
# batch_size = 1024

[collect]
# Seconds between collections of a source that sets no interval of its own
# (`sources add --interval`). Each source's next run gets ±10 % jitter.
# default_interval_secs = 3600

# Sources collected at the same time.
# source_concurrency = 4

# Fetch each new feed entry's page and keep its main text; when a page cannot be used,
# the feed's own text is kept and the reason recorded (`sources show NAME`).
# fetch_articles = true

# Pages fetched at the same time for one feed (the per-host limit below still applies).
# article_concurrency = 4

# New entries of one feed fetched per run; the rest wait for the next run.
# max_entries_per_run = 200

[http]
# Seconds to wait for a connection, for the next bytes of an answer, and for a whole request.
# connect_timeout_secs = 10.0
# read_timeout_secs = 30.0
# request_timeout_secs = 60.0

# Bodies larger than this many bytes are refused (counted after decompression).
# max_body_bytes = 10000000

# Redirects followed before giving up (loops are refused at once).
# max_redirects = 5

# Requests to one host at the same time, and seconds between their starts.
# per_host_concurrency = 2
# per_host_delay_secs = 1.0

# Tries after the first on 5xx, 429, timeouts and connection errors, with exponential
# backoff and jitter starting at retry_base_secs; a server's Retry-After is honoured up to
# max_retry_after_secs (a longer one moves the source's next run instead).
# max_retries = 2
# retry_base_secs = 1.0
# max_retry_after_secs = 120.0

# Proxy for every request, e.g. "http://proxy.example:3128". Empty: HTTPS_PROXY,
# HTTP_PROXY, ALL_PROXY and NO_PROXY from the environment are used.
# proxy = ""

# Let every source reach loopback, private and link-local addresses (the SSRF guard off).
# Prefer `sources add --allow-private` for the one source that needs it.
# allow_private = false

[cluster]
# Every new item joins the story it scores best with, or starts a new one. The score is
# the TF-IDF cosine with the story's centroid, plus entity_weight per shared actor,
# malware, campaign or CVE and indicator_weight per shared indicator (each counted up to
# two). `threatdesk stories show ID` lists each item's signals.

# Estimated shingle Jaccard at or above which an item is a near-duplicate (it joins its
# original's story, whatever its age).
# near_duplicate_jaccard = 0.7

# Score at or above which an item joins a story.
# join_threshold = 0.45

# Items with fewer words need short_join_threshold, unless they share an indicator.
# short_text_words = 60
# short_join_threshold = 0.75

# Only stories seen within this many days take new items.
# window_days = 7

# entity_weight = 0.1
# indicator_weight = 0.15

# For items that are not short, the entity and indicator bonuses count only when the texts'
# cosine reaches this: two unrelated reports of one vendor share its links and names.
# evidence_min_text = 0.15

# With a sentence-embedding model, an embedding cosine under this counts as no similarity;
# above it, the cosine is rescaled to 0-1 and the larger of it and the lexical cosine counts.
# embedding_floor = 0.6

[embeddings]
# Sentence embeddings (all-MiniLM-L6-v2, run on the CPU) help clustering see that two
# reports tell the same event in other words. Without a model, clustering is lexical only
# (`threatdesk status` says which). Fetch the model with
# `scripts/get-model.sh threatdesk-data/models/all-minilm-l6-v2`.
# enabled = true

# The model folder; empty means models/all-minilm-l6-v2 in the data folder.
# model_dir = ""

# Tokens of each text the model reads (at most 512): the headline and lead. 40 scored as
# well as 64 (the best) on the AnnoCTR train set at 1.5 times the speed (docs/stories.md).
# max_tokens = 40
# batch_size = 32

[server]
# The analyst workspace, `threatdesk serve`. Listen on loopback and put a TLS proxy in front
# to serve others; then set secure_cookies.
# listen = "127.0.0.1:8080"

# Collect, enrich and cluster in the background while serving.
# collect = true
# secure_cookies = false

# How long a login lasts.
# session_hours = 12

# Failed logins per user name in 15 minutes before further attempts must wait (an address
# may fail four times as often).
# max_failed_logins = 5

# The public site's address (e.g. "https://cti.example.org"), for canonical links, Open
# Graph tags and feed entries; empty takes the Host of each request.
# public_url = ""

# The publishing organisation, named in STIX bundles, TAXII, MISP events and the newsletter.
# publisher = "threatdesk"

[newsletter]
# The SMTP server the newsletter goes through: "smtp://127.0.0.1:25" (a local relay, plain),
# "smtp://user:password@mail.example.org:587?tls=required" (STARTTLS) or
# "smtps://user:password@mail.example.org" (TLS). Empty: messages wait in the queue
# (`threatdesk newsletter log`), nothing is sent and nothing is lost.
# smtp_url = ""
# from = "threatdesk <newsletter@localhost.localdomain>"

# How often `serve` plans and sends, and how long the first retry of a failed message waits
# (each further retry twice as long, at most an hour).
# send_interval_secs = 30
# retry_base_secs = 30
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_to_the_defaults_and_names_every_key() {
        let parsed: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(CONFIG_TEMPLATE))
            .extract()
            .unwrap_or_else(|e| panic!("template must parse: {e}"));
        assert_eq!(parsed, Config::default());
        let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
        for (table, keys) in defaults.as_object().into_iter().flatten() {
            assert!(
                CONFIG_TEMPLATE.contains(&format!("[{table}]")),
                "template misses [{table}]"
            );
            for key in keys.as_object().into_iter().flatten().map(|(k, _)| k) {
                assert!(
                    CONFIG_TEMPLATE.contains(&format!("# {key} = ")),
                    "template misses {table}.{key}"
                );
            }
        }
    }

    #[test]
    fn config_round_trips_through_toml() {
        let config = Config {
            ingest: IngestConfig {
                source: "reports".into(),
                default_tlp: Tlp::Amber,
                batch_size: 9,
                ..Default::default()
            },
            ..Default::default()
        };
        let json = serde_json::to_string(&config).unwrap_or_default();
        let back: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(figment::providers::Json::string(&json))
            .extract()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, config);
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let error = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[ingest]\nmax_file_byte = 5\n"))
            .extract::<Config>()
            .map(|_| ())
            .map_err(describe_figment_error);
        assert!(error.is_err_and(|e| e.contains("max_file_byte")));
    }
}
