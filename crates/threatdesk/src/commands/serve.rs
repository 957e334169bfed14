//! `threatdesk serve`: the analyst workspace, with collection in the background.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use threatdesk_model::{Role, Tlp};
use threatdesk_server::auth::{generate_password, hash_password};
use threatdesk_server::mailer::{Mailer, RoundReport};
use threatdesk_server::{AppState, ServerConfig};
use threatdesk_store::{Accounts, NewUser, SqliteStore};

use crate::EXIT_OK;
use crate::cli::{GlobalArgs, InitArgs, ServeArgs};
use crate::config::DataDir;

pub fn run(data: &DataDir, global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !data.is_initialised() {
        super::init::run(
            data,
            global,
            &InitArgs {
                no_default_sources: false,
            },
        )?;
    }
    let config = data.load_config()?;
    let store = Arc::new(super::open_existing(data)?);
    first_admin(&store)?;
    let listen = args.listen.unwrap_or(config.server.listen.clone());
    let settings = ServerConfig {
        secure_cookies: args.secure_cookies || config.server.secure_cookies,
        session_hours: config.server.session_hours.max(1),
        max_failed_logins: config.server.max_failed_logins.max(1),
        public_url: Some(config.server.public_url.trim().to_owned()).filter(|u| !u.is_empty()),
        publisher: config.server.publisher.clone(),
        mail_enabled: !config.newsletter.smtp_url.trim().is_empty(),
        ..ServerConfig::default()
    };
    let collect = config.server.collect && !args.no_collect;
    let knowledge = Arc::new(super::kb::Knowledge::load(data)?.kb.into_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        eprintln!(
            "threatdesk: workspace at http://{address}{}/ (Ctrl-C stops)",
            threatdesk_server::DESK
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = if collect {
            let data = data.clone();
            Some(std::thread::spawn(move || {
                if let Err(error) = super::collect::background(&data, stopped) {
                    tracing::error!(error = %format!("{error:#}"), "background collection stopped");
                }
            }))
        } else {
            None
        };
        let mailer = if config.newsletter.smtp_url.trim().is_empty() {
            eprintln!("threatdesk: newsletter.smtp_url is not set; newsletter messages wait in the queue");
            None
        } else {
            let mailer_config = super::newsletter::mailer_config(&config, Some(address))?;
            if config.server.public_url.trim().is_empty() {
                eprintln!(
                    "threatdesk: server.public_url is not set; links in newsletter messages point at {}",
                    mailer_config.base_url
                );
            }
            let mailer = Mailer::new(mailer_config)?;
            let every = Duration::from_secs_f64(config.newsletter.send_interval_secs.clamp(0.05, 86_400.0));
            Some(tokio::spawn(send_newsletter(
                Arc::new(mailer),
                Arc::clone(&store),
                every,
                stop.subscribe(),
            )))
        };
        let state = AppState::new(Arc::clone(&store), Arc::clone(&knowledge), settings);
        threatdesk_server::serve(listener, state, shutdown_signal()).await?;
        let _ = stop.send(true);
        if let Some(mailer) = mailer {
            let _ = tokio::time::timeout(Duration::from_secs(40), mailer).await;
        }
        if let Some(worker) = worker {
            // The worker stops between two awaits; a blocking extraction may take a moment.
            let joined = tokio::task::spawn_blocking(move || worker.join());
            let _ = tokio::time::timeout(Duration::from_secs(30), joined).await;
        }
        if !global.quiet {
            eprintln!("threatdesk: stopped");
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

/// Plans and sends the newsletter every `every` until `stop` says so. A round that fails
/// (the database is busy, say) is logged and tried again next time: the queue keeps
/// everything in between.
async fn send_newsletter(
    mailer: Arc<Mailer>,
    store: Arc<SqliteStore>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (mailer, store) = (Arc::clone(&mailer), Arc::clone(&store));
        let round =
            tokio::task::spawn_blocking(move || mailer.round(&store, chrono::Utc::now(), false)).await;
        match round {
            Ok(Ok(report)) if report != RoundReport::default() => {
                tracing::info!(?report, "newsletter round");
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "newsletter round failed"),
            Err(error) => tracing::error!(%error, "newsletter round panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// On a data folder without accounts, creates `admin` with a generated password and prints
/// it once: the one way in on a fresh machine, with no default password anywhere.
fn first_admin(store: &SqliteStore) -> anyhow::Result<()> {
    if store.count_users()? > 0 {
        return Ok(());
    }
    let password = generate_password().map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    store.create_user(
        &NewUser {
            username: "admin".to_owned(),
            display_name: "Administrator".to_owned(),
            role: Role::Admin,
            tlp_ceiling: Tlp::Red,
        },
        &hash,
    )?;
    eprintln!(
        "threatdesk: created the account `admin` with the password {password}\n\
         threatdesk: it is shown only this once; add your own accounts with `threatdesk user add`"
    );
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
