//! Workspace accounts: users, sessions, API tokens, triage marks and review comments.
//!
//! Secrets never reach the database in the clear: passwords arrive as argon2id PHC strings,
//! session and API tokens as their SHA-256 (they are 256-bit random values, so a fast hash
//! is enough to make a stolen database useless for logging in).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use threatdesk_model::{BulletinId, Role, StoryId, Tlp, User, UserId};

use crate::time::{from_millis, now_millis, to_millis};
use crate::{Result, StoreError};

/// A new account, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The login name (unique, compared without case).
    pub username: String,
    /// The name shown on bulletins and comments.
    pub display_name: String,
    /// What the account may do.
    pub role: Role,
    /// The most restrictive marking it may see.
    pub tlp_ceiling: Tlp,
}

/// A personal API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenInfo {
    /// Its id, for revoking.
    pub id: i64,
    /// What its owner called it.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A reviewer's comment on a bulletin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulletinComment {
    /// Who wrote it (display name).
    pub author: String,
    /// The version it is about.
    pub version: u32,
    /// The text.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// One analyst's marks on a story.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoryMark {
    /// Opened or marked read.
    pub read: bool,
    /// Flagged for attention.
    pub important: bool,
}

/// Accounts and what belongs to them. Every method is one transaction.
pub trait Accounts: Send + Sync {
    /// How many accounts exist (0 on a fresh data folder).
    fn count_users(&self) -> Result<u64>;
    /// Creates an account; a name taken (in any case) is [`StoreError::UserExists`], one that
    /// is empty, longer than 64 characters or holds spaces [`StoreError::InvalidUserName`].
    fn create_user(&self, user: &NewUser, password_hash: &str) -> Result<User>;
    /// The account with this id.
    fn user(&self, id: UserId) -> Result<Option<User>>;
    /// The account with this login name and its password hash, for logging in.
    fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>>;
    /// Every account, by name.
    fn list_users(&self) -> Result<Vec<User>>;
    /// Replaces an account's password hash and ends its sessions.
    fn set_password(&self, id: UserId, password_hash: &str) -> Result<()>;
    /// Disables an account (ending its sessions) or enables it again.
    fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<()>;

    /// Stores a session until `expires_at`.
    fn create_session(
        &self,
        token_hash: &[u8; 32],
        user: UserId,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The live session's account (not disabled) and CSRF token.
    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<(User, String)>>;
    /// Ends a session.
    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()>;

    /// Stores a new API token for `user`; returns its id.
    fn create_api_token(&self, user: UserId, name: &str, token_hash: &[u8; 32]) -> Result<i64>;
    /// The account of a live (unrevoked) API token, noting the use.
    fn api_token_user(&self, token_hash: &[u8; 32]) -> Result<Option<User>>;
    /// A user's tokens, newest first.
    fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiTokenInfo>>;
    /// Revokes one of `user`'s tokens; false if there is no such live token.
    fn revoke_api_token(&self, user: UserId, id: i64) -> Result<bool>;

    /// Sets a user's marks on a story (`None` leaves a mark as it is).
    fn mark_story(
        &self,
        user: UserId,
        story: StoryId,
        read: Option<bool>,
        important: Option<bool>,
    ) -> Result<()>;
    /// A user's marks on these stories (stories without marks are absent).
    fn story_marks(&self, user: UserId, stories: &[StoryId]) -> Result<HashMap<StoryId, StoryMark>>;

    /// Shares an unpublished bulletin with readers, or stops sharing it.
    fn share_bulletin_with_readers(&self, bulletin: BulletinId, shared: bool) -> Result<()>;
    /// Whether an unpublished bulletin is shared with readers.
    fn bulletin_shared_with_readers(&self, bulletin: BulletinId) -> Result<bool>;

    /// Adds a review comment to a bulletin version.
    fn add_bulletin_comment(
        &self,
        bulletin: BulletinId,
        user: UserId,
        version: u32,
        body: &str,
    ) -> Result<()>;
    /// A bulletin's comments, oldest first.
    fn bulletin_comments(&self, bulletin: BulletinId) -> Result<Vec<BulletinComment>>;
}

const USER_COLUMNS: &str = "id, username, display_name, role, tlp_ceiling, disabled, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<(User, String)> {
    let role: String = row.get(3)?;
    let tlp: String = row.get(4)?;
    let created: i64 = row.get(6)?;
    let hash: String = row.get(7)?;
    Ok((
        User {
            id: UserId(row.get(0)?),
            username: row.get(1)?,
            display_name: row.get(2)?,
            role: role.parse().unwrap_or(Role::Reader),
            tlp_ceiling: tlp.parse().unwrap_or(Tlp::Clear),
            disabled: row.get(5)?,
            created_at: from_millis(created, "users.created_at").unwrap_or_default(),
        },
        hash,
    ))
}

fn select_user(
    conn: &Connection,
    condition: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<(User, String)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE {condition}"),
            [value],
            user_from_row,
        )
        .optional()?)
}

pub(crate) fn count_users(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |row| row.get::<_, i64>(0))? as u64)
}

/// The longest login name accepted.
const MAX_USERNAME_CHARS: usize = 64;

pub(crate) fn create_user(conn: &Connection, user: &NewUser, password_hash: &str) -> Result<User> {
    let name = &user.username;
    if name.is_empty()
        || name.chars().count() > MAX_USERNAME_CHARS
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(StoreError::InvalidUserName(name.clone()));
    }
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
        [&user.username],
        |row| row.get(0),
    )?;
    if exists {
        return Err(StoreError::UserExists(user.username.clone()));
    }
    conn.execute(
        "INSERT INTO users (username, display_name, role, tlp_ceiling, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user.username,
            user.display_name,
            user.role.as_str(),
            user.tlp_ceiling.as_str(),
            password_hash,
            now_millis()
        ],
    )?;
    let id = conn.last_insert_rowid();
    select_user(conn, "id = ?1", &id)?
        .map(|(user, _)| user)
        .ok_or(StoreError::NotFound { what: "user", id })
}

pub(crate) fn user(conn: &Connection, id: UserId) -> Result<Option<User>> {
    Ok(select_user(conn, "id = ?1", &id.0)?.map(|(user, _)| user))
}

pub(crate) fn user_for_login(conn: &Connection, username: &str) -> Result<Option<(User, String)>> {
    select_user(conn, "username = ?1", &username)
}

pub(crate) fn list_users(conn: &Connection) -> Result<Vec<User>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users ORDER BY username"
    ))?;
    let users = statement
        .query_map([], user_from_row)?
        .map(|row| row.map(|(user, _)| user))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(users)
}

pub(crate) fn set_password(conn: &Connection, id: UserId, password_hash: &str) -> Result<()> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id.0, password_hash],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "user",
            id: id.0,
        });
    }
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id.0])?;
    Ok(())
}

pub(crate) fn set_user_disabled(conn: &Connection, id: UserId, disabled: bool) -> Result<()> {
    let changed = conn.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![id.0, disabled],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "user",
            id: id.0,
        });
    }
    if disabled {
        conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id.0])?;
    }
    Ok(())
}

pub(crate) fn create_session(
    conn: &Connection,
    token_hash: &[u8; 32],
    user: UserId,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let now = now_millis();
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![&token_hash[..], user.0, csrf_token, now, to_millis(expires_at)],
    )?;
    Ok(())
}

pub(crate) fn session(conn: &Connection, token_hash: &[u8; 32]) -> Result<Option<(User, String)>> {
    let found: Option<(i64, String)> = conn
        .query_row(
            "SELECT user_id, csrf_token FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
            params![&token_hash[..], now_millis()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((user_id, csrf)) = found else {
        return Ok(None);
    };
    Ok(user(conn, UserId(user_id))?
        .filter(|u| !u.disabled)
        .map(|u| (u, csrf)))
}

pub(crate) fn delete_session(conn: &Connection, token_hash: &[u8; 32]) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&token_hash[..]])?;
    Ok(())
}

pub(crate) fn create_api_token(
    conn: &Connection,
    user: UserId,
    name: &str,
    token_hash: &[u8; 32],
) -> Result<i64> {
    conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![user.0, name, &token_hash[..], now_millis()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn api_token_user(conn: &Connection, token_hash: &[u8; 32]) -> Result<Option<User>> {
    let owner: Option<i64> = conn
        .query_row(
            "SELECT user_id FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
            [&token_hash[..]],
            |row| row.get(0),
        )
        .optional()?;
    let Some(owner) = owner else { return Ok(None) };
    conn.execute(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
        params![&token_hash[..], now_millis()],
    )?;
    Ok(user(conn, UserId(owner))?.filter(|u| !u.disabled))
}

pub(crate) fn list_api_tokens(conn: &Connection, user: UserId) -> Result<Vec<ApiTokenInfo>> {
    let mut statement = conn.prepare(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = ?1 ORDER BY id DESC",
    )?;
    let rows = statement
        .query_map([user.0], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, Option<i64>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, created, used, revoked)| {
            Ok(ApiTokenInfo {
                id,
                name,
                created_at: from_millis(created, "api_tokens.created_at")?,
                last_used_at: used
                    .map(|t| from_millis(t, "api_tokens.last_used_at"))
                    .transpose()?,
                revoked_at: revoked
                    .map(|t| from_millis(t, "api_tokens.revoked_at"))
                    .transpose()?,
            })
        })
        .collect()
}

pub(crate) fn revoke_api_token(conn: &Connection, user: UserId, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![id, user.0, now_millis()],
    )? > 0)
}

pub(crate) fn mark_story(
    conn: &Connection,
    user: UserId,
    story: StoryId,
    read: Option<bool>,
    important: Option<bool>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO story_marks (user_id, story_id, read, important) VALUES (?1, ?2, coalesce(?3, 0), coalesce(?4, 0))
         ON CONFLICT (user_id, story_id) DO UPDATE SET
             read = coalesce(?3, story_marks.read), important = coalesce(?4, story_marks.important)",
        params![user.0, story.0, read, important],
    )?;
    Ok(())
}

pub(crate) fn story_marks(
    conn: &Connection,
    user: UserId,
    stories: &[StoryId],
) -> Result<HashMap<StoryId, StoryMark>> {
    let mut statement =
        conn.prepare_cached("SELECT read, important FROM story_marks WHERE user_id = ?1 AND story_id = ?2")?;
    let mut marks = HashMap::new();
    for story in stories {
        if let Some(mark) = statement
            .query_row(params![user.0, story.0], |row| {
                Ok(StoryMark {
                    read: row.get(0)?,
                    important: row.get(1)?,
                })
            })
            .optional()?
        {
            marks.insert(*story, mark);
        }
    }
    Ok(marks)
}

pub(crate) fn add_bulletin_comment(
    conn: &Connection,
    bulletin: BulletinId,
    user: UserId,
    version: u32,
    body: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO bulletin_comments (bulletin_id, user_id, version, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![bulletin.0, user.0, version, body, now_millis()],
    )?;
    Ok(())
}

pub(crate) fn bulletin_comments(conn: &Connection, bulletin: BulletinId) -> Result<Vec<BulletinComment>> {
    let mut statement = conn.prepare(
        "SELECT u.display_name, c.version, c.body, c.created_at FROM bulletin_comments c
         JOIN users u ON u.id = c.user_id WHERE c.bulletin_id = ?1 ORDER BY c.id",
    )?;
    let rows = statement
        .query_map([bulletin.0], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, u32>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(author, version, body, at)| {
            Ok(BulletinComment {
                author,
                version,
                body,
                at: from_millis(at, "bulletin_comments.created_at")?,
            })
        })
        .collect()
}

pub(crate) fn share_bulletin_with_readers(
    conn: &Connection,
    bulletin: BulletinId,
    shared: bool,
) -> Result<()> {
    let changed = conn.execute(
        "UPDATE bulletins SET shared_with_readers = ?2 WHERE id = ?1",
        params![bulletin.0, shared],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "bulletin",
            id: bulletin.0,
        });
    }
    Ok(())
}

pub(crate) fn bulletin_shared_with_readers(conn: &Connection, bulletin: BulletinId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT shared_with_readers FROM bulletins WHERE id = ?1",
            [bulletin.0],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(false))
}
