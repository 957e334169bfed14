//! `threatdesk newsletter`: subscriptions, the mail queue, one sending round.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use threatdesk_model::{Cadence, Topics};
use threatdesk_server::mailer::{Mailer, MailerConfig};
use threatdesk_store::{NewSubscription, Newsletter};

use crate::cli::{Format, GlobalArgs, NewsletterAddArgs, NewsletterCommand};
use crate::config::{Config, DataDir};
use crate::{EXIT_OK, EXIT_PARTIAL};

pub fn run(data: &DataDir, global: &GlobalArgs, command: NewsletterCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    match command {
        NewsletterCommand::List => {
            let subscriptions = store.list_subscriptions()?;
            match global.format {
                Format::Text => {
                    for s in &subscriptions {
                        crate::outln!(
                            "{:>4}  {:<12} {:<9} TLP:{:<13} {}",
                            s.id.0,
                            s.state(),
                            s.cadence.as_str(),
                            s.tlp_ceiling.as_str(),
                            s.email
                        );
                    }
                }
                _ => crate::output::print_json(&subscriptions)?,
            }
        }
        NewsletterCommand::Add(args) => add(&store, global, args)?,
        NewsletterCommand::Remove { email } => {
            let found = store
                .list_subscriptions()?
                .into_iter()
                .find(|s| s.email.eq_ignore_ascii_case(email.trim()))
                .with_context(|| format!("{email} is not subscribed"))?;
            store.unsubscribe(found.id)?;
            if !global.quiet {
                eprintln!("threatdesk: {} unsubscribed", found.email);
            }
        }
        NewsletterCommand::Send { all_digests } => {
            let config = data.load_config()?;
            let mailer = Mailer::new(mailer_config(&config, None)?)?;
            let report = mailer.round(&store, chrono::Utc::now(), all_digests)?;
            match global.format {
                Format::Text => crate::outln!(
                    "queued {}, sent {}, retrying {}, failed {}, cancelled {}",
                    report.planned,
                    report.sent,
                    report.retrying,
                    report.failed,
                    report.cancelled
                ),
                _ => crate::output::print_json(&report)?,
            }
            if report.retrying + report.failed > 0 {
                return Ok(ExitCode::from(EXIT_PARTIAL));
            }
        }
        NewsletterCommand::Log { limit } => {
            let mail = store.list_mail(limit)?;
            match global.format {
                Format::Text => {
                    for m in &mail {
                        crate::outln!(
                            "{:>5}  {:<9} {:<8} tries {:<2} {:<28} {}",
                            m.id,
                            m.status,
                            format!("{:?}", m.kind).to_lowercase(),
                            m.attempts,
                            m.email,
                            m.last_error.as_deref().unwrap_or("")
                        );
                    }
                }
                _ => crate::output::print_json(&mail)?,
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn add(store: &dyn Newsletter, global: &GlobalArgs, args: NewsletterAddArgs) -> anyhow::Result<()> {
    let email = args.email.trim().to_owned();
    if !threatdesk_server::newsletter::valid_email(&email) {
        bail!("{email:?} is not an e-mail address");
    }
    let cadence: Cadence = args.cadence.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (subscription, pending) = store.subscribe(&NewSubscription {
        email,
        topics: Topics {
            tags: threatdesk_server::newsletter::tag_list(&args.tags.join(",")),
            entity_ids: Vec::new(),
            min_severity: args.min_severity,
        },
        cadence,
        tlp_ceiling: args.tlp_ceiling,
        confirmed: args.confirmed,
    })?;
    match global.format {
        Format::Text => crate::outln!(
            "{} {} ({}, TLP:{})",
            if pending {
                "Confirmation requested for"
            } else {
                "Subscribed"
            },
            subscription.email,
            subscription.cadence.as_str(),
            subscription.tlp_ceiling.as_str()
        ),
        _ => crate::output::print_json(&subscription)?,
    }
    Ok(())
}

/// The mailer's settings from `[newsletter]`; links point at `server.public_url`, else at
/// `listening` (the server's bound address), else at `server.listen`.
pub fn mailer_config(
    config: &Config,
    listening: Option<std::net::SocketAddr>,
) -> anyhow::Result<MailerConfig> {
    let settings = &config.newsletter;
    if settings.smtp_url.trim().is_empty() {
        bail!("set newsletter.smtp_url (e.g. smtp://127.0.0.1:25) to send the newsletter");
    }
    let public = config.server.public_url.trim();
    let base_url = if public.is_empty() {
        format!(
            "http://{}",
            listening.map_or_else(|| config.server.listen.clone(), |a| a.to_string())
        )
    } else {
        public.to_owned()
    };
    Ok(MailerConfig {
        smtp_url: settings.smtp_url.trim().to_owned(),
        from: settings.from.clone(),
        base_url,
        publisher: config.server.publisher.clone(),
        retry_base: Duration::from_secs_f64(settings.retry_base_secs.clamp(0.01, 3600.0)),
    })
}
