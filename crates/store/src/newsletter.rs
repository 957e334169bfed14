//! The newsletter: subscriptions with double opt-in, the outgoing mail queue (also the
//! send log), and which bulletin went to which address.
//!
//! Guarantees, each held by one transaction:
//! - **Nothing lost**: a message is a queue row before any attempt to send it, and leaves
//!   the queue only as `sent`, `failed` (the server refused it for good) or `cancelled`
//!   (the address unsubscribed). A crash while sending leaves a claim that expires, and the
//!   message is tried again.
//! - **Nothing twice**: planning records (subscription, bulletin) pairs in the same
//!   transaction that queues the message, under a primary key, so a bulletin is planned
//!   for an address at most once, whatever the timing of publication and planning.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use threatdesk_model::{BulletinId, Cadence, Subscription, SubscriptionId, Tlp, Topics};

use crate::time::{from_millis, now_millis, to_millis};
use crate::{Result, StoreError};

/// A subscription request, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Where messages go (compared without case).
    pub email: String,
    /// What it covers.
    pub topics: Topics,
    /// How often.
    pub cadence: Cadence,
    /// The clearance; `None` keeps an existing address's clearance (or CLEAR for a new one),
    /// so that the public form can never change what an operator granted.
    pub tlp_ceiling: Option<Tlp>,
    /// Confirmed already (an operator vouches for the address); otherwise it waits for the
    /// double opt-in.
    pub confirmed: bool,
}

impl NewSubscription {
    /// Made by an operator (it sets a clearance or vouches for consent), not by the
    /// public form.
    fn operator(&self) -> bool {
        self.confirmed || self.tlp_ceiling.is_some()
    }
}

/// What a queued message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    /// The double opt-in request.
    Confirm,
    /// One bulletin, for an immediate subscriber.
    Bulletin,
    /// Several bulletins, for a daily or weekly subscriber.
    Digest,
}

impl MailKind {
    /// The lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirm => "confirm",
            MailKind::Bulletin => "bulletin",
            MailKind::Digest => "digest",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "confirm" => Ok(MailKind::Confirm),
            "bulletin" => Ok(MailKind::Bulletin),
            "digest" => Ok(MailKind::Digest),
            other => Err(corrupt("mail_queue.kind", format!("{other:?}"))),
        }
    }
}

/// One message in the queue, with what happened to it so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mail {
    /// Its id (also the stable part of its Message-ID, so retries can be recognised).
    pub id: i64,
    /// The address it is for.
    pub subscription_id: SubscriptionId,
    /// Where it goes (as stored with the subscription).
    pub email: String,
    /// What it is.
    pub kind: MailKind,
    /// The bulletins it carries.
    pub bulletin_ids: Vec<BulletinId>,
    /// `queued`, `sending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts to hand it to the SMTP server so far (a message put off because the server
    /// could not be reached at all in that round does not count).
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// The claim this copy holds (its lease's end, in milliseconds; 0 when not claimed):
    /// the completion methods only act on a message still under this claim.
    #[serde(skip)]
    pub claim: i64,
}

/// Subscriptions and the mail queue. Every method is one transaction.
pub trait Newsletter: Send + Sync {
    /// Records a subscription request, or updates the topics and cadence of an existing
    /// one. Returns it and whether it now waits for confirmation (a fresh request, or an
    /// address that had unsubscribed); for those, a confirmation request is queued (at most
    /// one an hour per address). An anonymous request (no clearance, not confirmed) leaves a
    /// confirmed address as it is, and restarts one that had left at TLP:CLEAR.
    fn subscribe(&self, request: &NewSubscription) -> Result<(Subscription, bool)>;
    /// One subscription.
    fn subscription(&self, id: SubscriptionId) -> Result<Option<Subscription>>;
    /// Every subscription, oldest first.
    fn list_subscriptions(&self) -> Result<Vec<Subscription>>;
    /// Confirms a pending double opt-in; `false` when there is no pending subscription
    /// with this id (confirmed already, unsubscribed, or unknown). Only bulletins published
    /// from now on are sent.
    fn confirm_subscription(&self, id: SubscriptionId) -> Result<bool>;
    /// Ends a subscription and cancels its queued messages; `false` when there is none.
    fn unsubscribe(&self, id: SubscriptionId) -> Result<bool>;
    /// Queues the bulletin and digest messages that are due at `now` (digests of every
    /// cadence when `all_digests_due`); returns how many were queued.
    fn plan_mail(&self, now: DateTime<Utc>, all_digests_due: bool) -> Result<usize>;
    /// Claims the messages due at `now` for one sending attempt each, for `lease` (after
    /// which an unfinished claim is taken to have crashed and the message is due again).
    /// The lease runs from `now` or the current time, whichever is later.
    fn claim_mail(&self, now: DateTime<Utc>, lease: chrono::Duration, limit: u32) -> Result<Vec<Mail>>;
    /// Records that the server accepted `mail`, with the bulletins it left out at send time
    /// (withdrawn or re-marked since planning: they may be sent again once republished).
    /// `false` when `mail` is no longer under this claim (another sender took it over after
    /// the lease ran out): nothing is changed then.
    fn mail_sent(&self, mail: &Mail, dropped: &[BulletinId]) -> Result<bool>;
    /// Records a failed attempt: tried again at `retry_at`, or given up for good with
    /// `None` (a permanent refusal). `false` when no longer under this claim.
    fn mail_failed(&self, mail: &Mail, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool>;
    /// Puts a claimed message back untried, due at `retry_at` (its attempts unchanged).
    fn mail_postponed(&self, mail: &Mail, reason: &str, retry_at: DateTime<Utc>) -> Result<bool>;
    /// Drops a claimed message that no longer has anything to carry (its bulletins were
    /// withdrawn, its address unsubscribed): `cancelled`, with the reason; its bulletins may
    /// be planned again.
    fn mail_cancelled(&self, mail: &Mail, reason: &str) -> Result<bool>;
    /// The queue and send log, newest first.
    fn list_mail(&self, limit: u32) -> Result<Vec<Mail>>;
    /// Messages by status (`queued`, `sending`, `sent`, `failed`, `cancelled`).
    fn mail_counts(&self) -> Result<std::collections::BTreeMap<String, u64>>;
    /// A named 256-bit secret, made from `fresh` the first time it is asked for.
    fn secret(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32]>;
}

fn corrupt(column: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}

const SUBSCRIPTION_COLUMNS: &str =
    "id, email, topics, cadence, tlp_ceiling, created_at, confirmed_at, unsubscribed_at";

fn subscription_from_row(row: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    row.try_into()
}

type SubscriptionRow = (i64, String, String, String, String, i64, Option<i64>, Option<i64>);

fn to_subscription(row: SubscriptionRow) -> Result<Subscription> {
    let (id, email, topics, cadence, tlp, created, confirmed, unsubscribed) = row;
    Ok(Subscription {
        id: SubscriptionId(id),
        email,
        topics: serde_json::from_str(&topics)
            .map_err(|e| corrupt("subscriptions.topics", format!("row {id}: {e}")))?,
        cadence: cadence
            .parse()
            .map_err(|e| corrupt("subscriptions.cadence", format!("row {id}: {e}")))?,
        tlp_ceiling: tlp
            .parse()
            .map_err(|e| corrupt("subscriptions.tlp_ceiling", format!("row {id}: {e}")))?,
        created_at: from_millis(created, "subscriptions.created_at")?,
        confirmed_at: confirmed
            .map(|ms| from_millis(ms, "subscriptions.confirmed_at"))
            .transpose()?,
        unsubscribed_at: unsubscribed
            .map(|ms| from_millis(ms, "subscriptions.unsubscribed_at"))
            .transpose()?,
    })
}

pub(crate) fn subscription(conn: &Connection, id: SubscriptionId) -> Result<Option<Subscription>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?1"
        ))?
        .query_row([id.0], subscription_from_row)
        .optional()?;
    row.map(to_subscription).transpose()
}

pub(crate) fn list_subscriptions(conn: &Connection) -> Result<Vec<Subscription>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id"
        ))?
        .query_map([], subscription_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(to_subscription).collect()
}

/// Queues a message, due at `due` (milliseconds; at the latest now).
fn queue(
    tx: &Transaction<'_>,
    subscription: SubscriptionId,
    kind: MailKind,
    bulletins: &[BulletinId],
    due: i64,
) -> Result<i64> {
    let ids: Vec<i64> = bulletins.iter().map(|b| b.0).collect();
    let now = due.min(now_millis());
    tx.execute(
        "INSERT INTO mail_queue (subscription_id, kind, bulletin_ids, status, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?4)",
        params![
            subscription.0,
            kind.as_str(),
            serde_json::to_string(&ids).map_err(|e| corrupt("json", e))?,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

pub(crate) fn subscribe(tx: &Transaction<'_>, request: &NewSubscription) -> Result<(Subscription, bool)> {
    let email = request.email.trim();
    let topics = serde_json::to_string(&request.topics).map_err(|e| corrupt("json", e))?;
    let now = now_millis();
    let existing: Option<(i64, Option<i64>, Option<i64>, String)> = tx
        .query_row(
            "SELECT id, confirmed_at, unsubscribed_at, tlp_ceiling FROM subscriptions WHERE email = ?1",
            [email],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let confirmed_at = request.confirmed.then_some(now);
    let (id, pending) = match existing {
        None => {
            tx.execute(
                "INSERT INTO subscriptions (email, topics, cadence, tlp_ceiling, created_at, confirmed_at, starts_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![
                    email,
                    topics,
                    request.cadence.as_str(),
                    request.tlp_ceiling.unwrap_or(Tlp::Clear).as_str(),
                    now,
                    confirmed_at
                ],
            )?;
            (tx.last_insert_rowid(), !request.confirmed)
        }
        Some((id, confirmed, unsubscribed, _))
            if confirmed.is_some() && unsubscribed.is_none() && !request.operator() =>
        {
            // A confirmed address is not changed by an anonymous request: anyone can type
            // anyone's address into the public form.
            (id, false)
        }
        Some((id, None, None, ceiling)) if ceiling != Tlp::Clear.as_str() && !request.operator() => {
            // A partner address an operator cleared, still waiting for its opt-in: an
            // anonymous request only asks again (rate-limited below), changing nothing.
            (id, true)
        }
        Some((id, confirmed, unsubscribed, _)) => {
            // An address that left starts over; a pending one gets a new request; an
            // operator may change a confirmed one. An anonymous restart is a member of the
            // public again (CLEAR), whatever clearance the address had before.
            let restart = unsubscribed.is_some() || confirmed.is_none();
            let ceiling = match request.tlp_ceiling {
                Some(tlp) => Some(tlp),
                None if restart && !request.operator() => Some(Tlp::Clear),
                None => None,
            };
            let confirmed_now = request.confirmed || !restart;
            tx.execute(
                "UPDATE subscriptions SET topics = ?2, cadence = ?3,
                        tlp_ceiling = coalesce(?4, tlp_ceiling),
                        confirmed_at = CASE WHEN ?5 THEN (CASE WHEN ?6 THEN ?7 ELSE confirmed_at END) ELSE NULL END,
                        starts_at = CASE WHEN ?5 THEN ?7 ELSE NULL END,
                        unsubscribed_at = NULL
                 WHERE id = ?1",
                params![
                    id,
                    topics,
                    request.cadence.as_str(),
                    ceiling.map(Tlp::as_str),
                    confirmed_now,
                    restart,
                    now
                ],
            )?;
            (id, !confirmed_now)
        }
    };
    // One confirmation request an hour per address at most: the public form must not
    // become a way to flood someone's inbox.
    let recently_asked: bool = tx
        .prepare_cached(
            "SELECT 1 FROM mail_queue WHERE subscription_id = ?1 AND kind = 'confirm'
               AND created_at > ?2 AND status IN ('queued', 'sending', 'sent')",
        )?
        .exists(params![id, now - 3_600_000])?;
    if pending && !recently_asked {
        queue(tx, SubscriptionId(id), MailKind::Confirm, &[], now)?;
    }
    let stored = subscription(tx, SubscriptionId(id))?.ok_or(StoreError::NotFound {
        what: "subscription",
        id,
    })?;
    Ok((stored, pending))
}

pub(crate) fn confirm_subscription(tx: &Transaction<'_>, id: SubscriptionId) -> Result<bool> {
    // Only a pending request is confirmed: an old link must not bring back an address that
    // has unsubscribed since.
    let changed = tx.execute(
        "UPDATE subscriptions SET confirmed_at = ?2, starts_at = ?2
         WHERE id = ?1 AND confirmed_at IS NULL AND unsubscribed_at IS NULL",
        params![id.0, now_millis()],
    )?;
    Ok(changed > 0)
}

pub(crate) fn unsubscribe(tx: &Transaction<'_>, id: SubscriptionId) -> Result<bool> {
    let now = now_millis();
    let changed = tx.execute(
        "UPDATE subscriptions SET unsubscribed_at = coalesce(unsubscribed_at, ?2) WHERE id = ?1",
        params![id.0, now],
    )?;
    tx.execute(
        "UPDATE mail_queue SET status = 'cancelled', last_error = 'the address unsubscribed'
         WHERE subscription_id = ?1 AND status = 'queued'",
        [id.0],
    )?;
    Ok(changed > 0)
}

pub(crate) fn plan_mail(tx: &Transaction<'_>, now: DateTime<Utc>, all_digests_due: bool) -> Result<usize> {
    let subscriptions: Vec<Subscription> = list_subscriptions(tx)?
        .into_iter()
        .filter(Subscription::is_active)
        .collect();
    if subscriptions.is_empty() {
        return Ok(0);
    }
    let published: Vec<i64> = tx
        .prepare_cached("SELECT id FROM bulletins WHERE status = 'published' ORDER BY published_at, id")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut bulletins = Vec::with_capacity(published.len());
    for id in published {
        if let Some(b) = crate::sqlite::load_bulletin(tx, BulletinId(id))? {
            bulletins.push(b);
        }
    }
    let mut queued = 0;
    for sub in subscriptions {
        let (starts, last_digest): (Option<i64>, Option<i64>) = tx.query_row(
            "SELECT starts_at, last_digest_at FROM subscriptions WHERE id = ?1",
            [sub.id.0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let since = match starts {
            Some(ms) => from_millis(ms, "subscriptions.starts_at")?,
            None => sub.confirmed_at.unwrap_or(sub.created_at),
        };
        let sent: std::collections::HashSet<i64> = tx
            .prepare_cached("SELECT bulletin_id FROM newsletter_sent WHERE subscription_id = ?1")?
            .query_map([sub.id.0], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let fresh: Vec<BulletinId> = bulletins
            .iter()
            .filter(|b| {
                b.published_at.is_some_and(|at| at >= since) && sub.wants(b) && !sent.contains(&b.id.0)
            })
            .map(|b| b.id)
            .collect();
        let record = |mail: i64, ids: &[BulletinId]| -> Result<()> {
            for b in ids {
                tx.execute(
                    "INSERT INTO newsletter_sent (subscription_id, bulletin_id, mail_id) VALUES (?1, ?2, ?3)",
                    params![sub.id.0, b.0, mail],
                )?;
            }
            Ok(())
        };
        match sub.cadence.period() {
            None => {
                for b in fresh {
                    let mail = queue(tx, sub.id, MailKind::Bulletin, &[b], to_millis(now))?;
                    record(mail, &[b])?;
                    queued += 1;
                }
            }
            Some(period) => {
                let last = last_digest
                    .map(|ms| from_millis(ms, "subscriptions.last_digest_at"))
                    .transpose()?
                    .unwrap_or(since);
                if (all_digests_due || now - last >= period) && !fresh.is_empty() {
                    let mail = queue(tx, sub.id, MailKind::Digest, &fresh, to_millis(now))?;
                    record(mail, &fresh)?;
                    tx.execute(
                        "UPDATE subscriptions SET last_digest_at = ?2 WHERE id = ?1",
                        params![sub.id.0, to_millis(now)],
                    )?;
                    queued += 1;
                }
            }
        }
    }
    Ok(queued)
}

const MAIL_COLUMNS: &str = "m.id, m.subscription_id, s.email, m.kind, m.bulletin_ids, m.status, m.attempts, \
     m.next_attempt_at, m.last_error, m.created_at, m.sent_at";

type MailRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    u32,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

fn mail_from_row(row: &Row<'_>) -> rusqlite::Result<MailRow> {
    row.try_into()
}

fn to_mail(row: MailRow) -> Result<Mail> {
    let (id, subscription, email, kind, bulletins, status, attempts, next, error, created, sent) = row;
    let ids: Vec<i64> = serde_json::from_str(&bulletins)
        .map_err(|e| corrupt("mail_queue.bulletin_ids", format!("row {id}: {e}")))?;
    Ok(Mail {
        id,
        subscription_id: SubscriptionId(subscription),
        email,
        kind: MailKind::parse(&kind)?,
        bulletin_ids: ids.into_iter().map(BulletinId).collect(),
        status,
        attempts,
        next_attempt_at: from_millis(next, "mail_queue.next_attempt_at")?,
        last_error: error,
        created_at: from_millis(created, "mail_queue.created_at")?,
        sent_at: sent.map(|ms| from_millis(ms, "mail_queue.sent_at")).transpose()?,
        claim: 0,
    })
}

pub(crate) fn claim_mail(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u32,
) -> Result<Vec<Mail>> {
    let now_ms = to_millis(now);
    let rows = tx
        .prepare_cached(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail_queue m JOIN subscriptions s ON s.id = m.subscription_id
             WHERE (m.status = 'queued' AND m.next_attempt_at <= ?1)
                OR (m.status = 'sending' AND m.claimed_until <= ?1)
             ORDER BY m.next_attempt_at, m.id LIMIT ?2"
        ))?
        .query_map(params![now_ms, limit], mail_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let claim = to_millis(now.max(Utc::now()) + lease);
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let mut mail = to_mail(row)?;
        tx.execute(
            "UPDATE mail_queue SET status = 'sending', claimed_until = ?2 WHERE id = ?1",
            params![mail.id, claim],
        )?;
        mail.status = "sending".to_owned();
        mail.claim = claim;
        claimed.push(mail);
    }
    Ok(claimed)
}

/// The guard of every completion: the message is still `sending` under this claim.
const UNDER_CLAIM: &str = "id = ?1 AND status = 'sending' AND claimed_until = ?2";

/// Forgets that `bulletins` went to the address of `mail`, so that planning may send them
/// again (once they are published and wanted again).
fn release(tx: &Transaction<'_>, mail: &Mail, bulletins: &[BulletinId]) -> Result<()> {
    for b in bulletins {
        tx.execute(
            "DELETE FROM newsletter_sent WHERE subscription_id = ?1 AND bulletin_id = ?2 AND mail_id = ?3",
            params![mail.subscription_id.0, b.0, mail.id],
        )?;
    }
    Ok(())
}

pub(crate) fn mail_sent(tx: &Transaction<'_>, mail: &Mail, dropped: &[BulletinId]) -> Result<bool> {
    let note = (!dropped.is_empty()).then(|| {
        format!(
            "sent without {} bulletin(s) withdrawn or re-marked since planning",
            dropped.len()
        )
    });
    let changed = tx.execute(
        &format!(
            "UPDATE mail_queue SET status = 'sent', sent_at = ?3, claimed_until = NULL, last_error = ?4,
                    attempts = attempts + 1
             WHERE {UNDER_CLAIM}"
        ),
        params![mail.id, mail.claim, now_millis(), note],
    )?;
    if changed > 0 {
        release(tx, mail, dropped)?;
    }
    Ok(changed > 0)
}

pub(crate) fn mail_failed(
    tx: &Transaction<'_>,
    mail: &Mail,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<bool> {
    let changed = match retry_at {
        Some(at) => tx.execute(
            &format!(
                "UPDATE mail_queue SET status = 'queued', next_attempt_at = ?3, claimed_until = NULL, last_error = ?4,
                        attempts = attempts + 1
                 WHERE {UNDER_CLAIM}"
            ),
            params![mail.id, mail.claim, to_millis(at), error],
        )?,
        None => tx.execute(
            &format!(
                "UPDATE mail_queue SET status = 'failed', claimed_until = NULL, last_error = ?3, attempts = attempts + 1
                 WHERE {UNDER_CLAIM}"
            ),
            params![mail.id, mail.claim, error],
        )?,
    };
    Ok(changed > 0)
}

pub(crate) fn mail_postponed(
    tx: &Transaction<'_>,
    mail: &Mail,
    reason: &str,
    retry_at: DateTime<Utc>,
) -> Result<bool> {
    let changed = tx.execute(
        &format!(
            "UPDATE mail_queue SET status = 'queued', next_attempt_at = ?3, claimed_until = NULL, last_error = ?4
             WHERE {UNDER_CLAIM}"
        ),
        params![mail.id, mail.claim, to_millis(retry_at), reason],
    )?;
    Ok(changed > 0)
}

pub(crate) fn mail_cancelled(tx: &Transaction<'_>, mail: &Mail, reason: &str) -> Result<bool> {
    let changed = tx.execute(
        &format!("UPDATE mail_queue SET status = 'cancelled', claimed_until = NULL, last_error = ?3 WHERE {UNDER_CLAIM}"),
        params![mail.id, mail.claim, reason],
    )?;
    if changed > 0 {
        release(tx, mail, &mail.bulletin_ids)?;
    }
    Ok(changed > 0)
}

pub(crate) fn list_mail(conn: &Connection, limit: u32) -> Result<Vec<Mail>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail_queue m JOIN subscriptions s ON s.id = m.subscription_id
             ORDER BY m.id DESC LIMIT ?1"
        ))?
        .query_map([limit], mail_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(to_mail).collect()
}

pub(crate) fn secret(tx: &Transaction<'_>, name: &str, fresh: [u8; 32]) -> Result<[u8; 32]> {
    tx.execute(
        "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
        params![name, &fresh[..]],
    )?;
    let value: Vec<u8> = tx.query_row("SELECT value FROM secrets WHERE name = ?1", [name], |row| {
        row.get(0)
    })?;
    value
        .try_into()
        .map_err(|_| corrupt("secrets.value", format!("{name:?} is not 32 bytes")))
}

pub(crate) fn mail_counts(conn: &Connection) -> Result<std::collections::BTreeMap<String, u64>> {
    let rows = conn
        .prepare_cached("SELECT status, count(*) FROM mail_queue GROUP BY status")?
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(|(status, n)| (status, u64::try_from(n).unwrap_or_default()))
        .collect())
}
