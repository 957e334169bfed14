//! The store's error type.

use std::path::PathBuf;

use threatdesk_model::StatusTransitionError;

/// A `Result` with a [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or configured.
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The database was written by a newer threatdesk whose schema this build does not know.
    #[error(
        "database {} has schema version {found}, but this threatdesk knows only up to version {supported}; \
         upgrade threatdesk to open it (nothing was changed)",
        path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The file is an SQLite database of some other program.
    #[error("{} is not a threatdesk database (SQLite application id {found:#010x}); nothing was changed", path.display())]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// The application id found.
        found: i32,
    },
    /// A migration failed; the database stays at the previous version.
    #[error("migrating {} to schema version {version} failed: {source}", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// The version that was being applied.
        version: u32,
        /// Why.
        source: rusqlite::Error,
    },
    /// The search query cannot be run.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// A batch of story placements refers to a placement it cannot.
    #[error("story placement {position} is invalid: {reason}")]
    InvalidPlacement {
        /// Its position in the batch.
        position: usize,
        /// Why.
        reason: String,
    },
    /// No such record.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What was looked for, e.g. `"bulletin"`.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// Someone saved the bulletin since the editor loaded it.
    #[error(
        "bulletin {id} is at version {found}, not {expected}: someone saved it meanwhile; reload and reapply the edit"
    )]
    VersionConflict {
        /// The bulletin.
        id: i64,
        /// The version the editor started from.
        expected: u32,
        /// The version stored now.
        found: u32,
    },
    /// A source with this name or address exists.
    #[error("a source {field} {value:?} already exists (source {existing:?})")]
    SourceExists {
        /// `name` or `location`.
        field: &'static str,
        /// The value given.
        value: String,
        /// The existing source's name.
        existing: String,
    },
    /// The source still has items and removing them was not asked for.
    #[error("source {name:?} has {items} item(s); remove them too, or disable the source instead")]
    SourceHasItems {
        /// The source.
        name: String,
        /// Its items.
        items: u64,
    },
    /// A login name that cannot be used.
    #[error("a user name is 1 to 64 characters without spaces, not {0:?}")]
    InvalidUserName(String),
    /// An account with this name exists.
    #[error("a user named {0:?} already exists")]
    UserExists(String),
    /// Another bulletin already has this slug.
    #[error("the slug {0:?} is already used by another bulletin")]
    SlugTaken(String),
    /// A workflow step that is not allowed.
    #[error(transparent)]
    Transition(#[from] StatusTransitionError),
    /// A stored value cannot be read back (the file was edited by hand, or is damaged).
    #[error("corrupt value in column {column}: {reason}")]
    Corrupt {
        /// Where.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
