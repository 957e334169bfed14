//! The newsletter's sender: plans what is due into the mail queue, then sends what the
//! queue holds over SMTP (lettre), one claimed message at a time.
//!
//! A message is rendered when it is sent, from what is true then: a bulletin withdrawn or
//! re-marked above the address's clearance since it was planned is left out, and a message
//! left with nothing to carry is cancelled, not sent. Failures are kept: a refusal the
//! server calls permanent (5xx) marks the message `failed` with the server's words; any
//! other failure (refused or dropped connection, 4xx, timeout) puts it back in the queue
//! with exponential backoff. Each message has a Message-ID fixed by its queue id, so that a
//! retry after a connection dropped mid-transfer can be recognised as the same message.

use std::time::Duration;

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};
use serde::Serialize;
use threatdesk_model::{BulletinId, Subscription};
use threatdesk_store::{Mail, MailKind, Newsletter, SqliteStore, Store, StoreError};

use crate::newsletter::{CONFIRM_HOURS, confirm_token, link_secret, unsubscribe_token};
use crate::render;

/// How the newsletter is sent.
#[derive(Debug, Clone)]
pub struct MailerConfig {
    /// The SMTP server: `smtp://host:port` (plain, for a local relay), `smtp://host?tls=required`
    /// (STARTTLS) or `smtps://user:password@host` (TLS), as lettre reads them.
    pub smtp_url: String,
    /// The sender, e.g. `Example CERT <bulletins@cert.example>`.
    pub from: String,
    /// The public site's address, for links in messages.
    pub base_url: String,
    /// The publishing organisation's name.
    pub publisher: String,
    /// The first retry waits this long; each further one twice as long, up to an hour.
    pub retry_base: Duration,
}

/// Why the mailer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The sender address cannot be used.
    #[error("newsletter.from {0:?} is not a mailbox: {1}")]
    From(String, String),
    /// The SMTP address cannot be used.
    #[error("newsletter.smtp_url cannot be used: {0}")]
    Smtp(String),
}

/// What one round of planning and sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    /// Messages newly queued for published bulletins.
    pub planned: usize,
    /// Messages the SMTP server accepted.
    pub sent: usize,
    /// Messages put back in the queue after a failed attempt.
    pub retrying: usize,
    /// Messages refused for good.
    pub failed: usize,
    /// Messages cancelled (nothing left to carry, or the address left).
    pub cancelled: usize,
}

/// How long a claimed message is reserved for one attempt.
const LEASE_MINUTES: i64 = 5;
/// Messages sent per round at most.
const ROUND_LIMIT: u32 = 200;

/// Plans and sends newsletter messages.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    config: MailerConfig,
}

impl Mailer {
    /// A mailer for `config`; checks the addresses, connects to nothing yet.
    pub fn new(config: MailerConfig) -> Result<Self, MailerError> {
        let from: Mailbox = config.from.parse().map_err(|e: lettre::address::AddressError| {
            MailerError::From(config.from.clone(), e.to_string())
        })?;
        let transport = SmtpTransport::from_url(&config.smtp_url)
            .map_err(|e| MailerError::Smtp(e.to_string()))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self {
            transport,
            from,
            config,
        })
    }

    /// One round: queue what is due at `now` (every digest when `all_digests_due`), then
    /// try to send everything due. Blocks (run it on a blocking thread).
    pub fn round(
        &self,
        store: &SqliteStore,
        now: DateTime<Utc>,
        all_digests_due: bool,
    ) -> Result<RoundReport, StoreError> {
        let mut report = RoundReport {
            planned: store.plan_mail(now, all_digests_due)?,
            ..RoundReport::default()
        };
        let secret = link_secret(store)?;
        // Set when the server cannot be reached: the rest of the round's messages wait
        // for the next attempt instead of each failing the same way.
        let mut unreachable: Option<String> = None;
        let lease = chrono::Duration::minutes(LEASE_MINUTES);
        // One message claimed at a time, so that a lease never has to cover a whole batch
        // of slow deliveries (and another sender cannot take over a message still in hand).
        for _ in 0..ROUND_LIMIT {
            let Some(mail) = store.claim_mail(now, lease, 1)?.into_iter().next() else {
                break;
            };
            // This attempt, if made, is number `attempts + 1`.
            let retry_at = Utc::now()
                + chrono::Duration::from_std(self.backoff(mail.attempts + 1))
                    .unwrap_or(chrono::Duration::hours(1));
            if let Some(error) = &unreachable {
                store.mail_postponed(&mail, error, retry_at)?;
                report.retrying += 1;
                continue;
            }
            let Some(subscription) = store.subscription(mail.subscription_id)? else {
                store.mail_cancelled(&mail, "the subscription is gone")?;
                report.cancelled += 1;
                continue;
            };
            let (message, dropped) = match self.compose(store, &secret, &mail, &subscription, now)? {
                Ok(composed) => composed,
                Err(reason) => {
                    tracing::info!(mail = mail.id, %reason, "newsletter message cancelled");
                    store.mail_cancelled(&mail, &reason)?;
                    report.cancelled += 1;
                    continue;
                }
            };
            let recorded = match self.transport.send(&message) {
                Ok(_) => {
                    report.sent += 1;
                    store.mail_sent(&mail, &dropped)?
                }
                Err(error) if error.is_permanent() => {
                    tracing::warn!(mail = mail.id, %error, "newsletter message refused for good");
                    report.failed += 1;
                    store.mail_failed(&mail, &error.to_string(), None)?
                }
                Err(error) => {
                    let retry_in = self.backoff(mail.attempts + 1);
                    if error.is_transient() {
                        tracing::warn!(mail = mail.id, %error, ?retry_in, "newsletter message refused for now; will retry");
                    } else {
                        tracing::warn!(%error, ?retry_in, "the SMTP server cannot be reached; the newsletter waits");
                        unreachable = Some(error.to_string());
                    }
                    report.retrying += 1;
                    store.mail_failed(&mail, &error.to_string(), Some(retry_at))?
                }
            };
            if !recorded {
                tracing::warn!(
                    mail = mail.id,
                    "the claim on a newsletter message ran out while sending it"
                );
            }
        }
        Ok(report)
    }

    /// `retry_base · 2^(attempts − 1)`, at most an hour.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        self.config
            .retry_base
            .saturating_mul(factor)
            .min(Duration::from_secs(3600))
    }

    /// The message for `mail` with the bulletins it leaves out (no longer published or
    /// wanted), or why there is nothing to send any more.
    fn compose(
        &self,
        store: &SqliteStore,
        secret: &[u8; 32],
        mail: &Mail,
        subscription: &Subscription,
        now: DateTime<Utc>,
    ) -> Result<Result<(Message, Vec<BulletinId>), String>, StoreError> {
        let base = self.config.base_url.trim_end_matches('/');
        let publisher = &self.config.publisher;
        let (subject, intro, bulletins, unsubscribe) = match mail.kind {
            MailKind::Confirm => {
                if subscription.is_active() {
                    return Ok(Err("the address is confirmed already".to_owned()));
                }
                let expires = now + chrono::Duration::hours(CONFIRM_HOURS);
                let link = format!(
                    "{base}/newsletter/confirm?token={}",
                    confirm_token(secret, subscription.id, &subscription.email, expires)
                );
                let subject = format!("Confirm your subscription to {publisher}");
                let text = format!(
                    "Someone, probably you, asked for {publisher}'s threat bulletins ({}) at this address.\n\n\
                     To confirm, open this link within {CONFIRM_HOURS} hours:\n{link}\n\n\
                     If it was not you, ignore this message: nothing will be sent.\n",
                    subscription.cadence.as_str()
                );
                let html = format!(
                    "<p>Someone, probably you, asked for {}'s threat bulletins ({}) at this address.</p>\
                     <p><a href=\"{}\">Confirm the subscription</a> within {CONFIRM_HOURS} hours.</p>\
                     <p>If it was not you, ignore this message: nothing will be sent.</p>",
                    render::escape(publisher),
                    subscription.cadence.as_str(),
                    render::escape(&link)
                );
                return Ok(self
                    .build(mail, subscription, &subject, text, html, None)
                    .map(|message| (message, Vec::new())));
            }
            MailKind::Bulletin | MailKind::Digest => {
                if !subscription.is_active() {
                    return Ok(Err("the address is not subscribed".to_owned()));
                }
                let mut bulletins = Vec::new();
                for id in &mail.bulletin_ids {
                    if let Some(b) = store.bulletin(*id)?
                        && subscription.wants(&b)
                    {
                        bulletins.push(b);
                    }
                }
                if bulletins.is_empty() {
                    return Ok(Err(
                        "its bulletins were withdrawn or re-marked since it was planned".to_owned(),
                    ));
                }
                let subject = match (mail.kind, bulletins.as_slice()) {
                    (MailKind::Bulletin, [one]) => {
                        format!("[TLP:{}] {}", one.content.tlp.as_str(), one.content.title)
                    }
                    _ => format!(
                        "{publisher} {} digest: {} bulletin{}",
                        subscription.cadence.as_str(),
                        bulletins.len(),
                        if bulletins.len() == 1 { "" } else { "s" }
                    ),
                };
                let intro = format!(
                    "{} from {publisher}, for {}.",
                    if mail.kind == MailKind::Digest {
                        "Bulletins published since your last digest"
                    } else {
                        "A new bulletin"
                    },
                    subscription.email
                );
                let link = format!(
                    "{base}/newsletter/unsubscribe?token={}",
                    unsubscribe_token(secret, subscription.id, &subscription.email)
                );
                (subject, intro, bulletins, link)
            }
        };
        let mut text = format!("{intro}\n");
        let mut items = Vec::new();
        for b in &bulletins {
            let c = &b.content;
            let url = format!("{base}/bulletins/{}", c.slug.as_str());
            let date = b
                .published_at
                .unwrap_or(b.updated_at)
                .format("%Y-%m-%d")
                .to_string();
            text.push_str(&format!(
                "\n----\nTLP:{} · {} · severity {} · {date}\n{}\n{url}\n\n{}\n\nAnalyst Notes\n\n{}\n",
                c.tlp.as_str(),
                c.kind.as_str(),
                c.severity.as_str(),
                c.title,
                c.summary.trim(),
                c.analyst_notes.trim()
            ));
            items.push(MailBulletin {
                tlp: c.tlp.as_str(),
                kind: c.kind.as_str(),
                severity: c.severity.as_str(),
                date,
                url,
                title: c.title.clone(),
                summary_html: render::markdown(&c.summary),
                notes_html: render::markdown(&c.analyst_notes),
            });
        }
        let footer = format!(
            "You receive this because {} subscribed to {publisher}'s bulletins ({}).",
            subscription.email,
            subscription.cadence.as_str()
        );
        text.push_str(&format!("\n----\n{footer}\nUnsubscribe: {unsubscribe}\n"));
        let html = MailPage {
            subject: subject.clone(),
            intro,
            bulletins: items,
            footer,
            unsubscribe: Some(unsubscribe.clone()),
        }
        .render()
        .map_err(|e| StoreError::Corrupt {
            column: "mail template",
            reason: e.to_string(),
        })?;
        let dropped = mail
            .bulletin_ids
            .iter()
            .filter(|id| !bulletins.iter().any(|b| b.id == **id))
            .copied()
            .collect();
        Ok(self
            .build(mail, subscription, &subject, text, html, Some(&unsubscribe))
            .map(|message| (message, dropped)))
    }

    fn build(
        &self,
        mail: &Mail,
        subscription: &Subscription,
        subject: &str,
        text: String,
        html: String,
        unsubscribe: Option<&str>,
    ) -> Result<Message, String> {
        let to: Mailbox = subscription
            .email
            .parse()
            .map_err(|e| format!("{:?} is not a mailbox: {e}", subscription.email))?;
        let host = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<newsletter-{}@{host}>", mail.id)));
        if let Some(url) = unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| format!("the message cannot be built: {e}"))
    }
}

struct MailBulletin {
    tlp: &'static str,
    kind: &'static str,
    severity: &'static str,
    date: String,
    url: String,
    title: String,
    summary_html: String,
    notes_html: String,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage {
    subject: String,
    intro: String,
    bulletins: Vec<MailBulletin>,
    footer: String,
    unsubscribe: Option<String>,
}
