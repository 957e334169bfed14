//! `threatdesk user`: workspace accounts.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;
use threatdesk_model::{Role, Tlp};
use threatdesk_server::auth::{generate_password, hash_password};
use threatdesk_store::{Accounts, NewUser};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, UserAddArgs};
use crate::config::DataDir;

/// Passwords shorter than this are refused.
const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, Serialize)]
struct Created {
    username: String,
    role: Role,
    tlp_ceiling: Tlp,
    /// Only when it was generated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

pub fn add(data: &DataDir, global: &GlobalArgs, args: UserAddArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let name = args.name.trim().to_owned();
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.chars().count() < MIN_PASSWORD_CHARS {
            bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
        }
        (password, false)
    } else {
        (generate_password().map_err(|e| anyhow::anyhow!("{e}"))?, true)
    };
    let tlp_ceiling = args.tlp_ceiling.unwrap_or(match args.role {
        Role::Reader => Tlp::Amber,
        Role::Analyst => Tlp::AmberStrict,
        Role::Editor | Role::Admin => Tlp::Red,
    });
    let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = store.create_user(
        &NewUser {
            username: name.clone(),
            display_name: args.display_name.unwrap_or_else(|| name.clone()),
            role: args.role,
            tlp_ceiling,
        },
        &hash,
    )?;
    let created = Created {
        username: user.username,
        role: user.role,
        tlp_ceiling: user.tlp_ceiling,
        password: generated.then_some(password),
    };
    match global.format {
        Format::Text => {
            crate::outln!(
                "Created user {} ({}, up to TLP:{}).",
                created.username,
                created.role.as_str(),
                created.tlp_ceiling.as_str()
            );
            if let Some(password) = &created.password {
                crate::outln!("Password (shown only this once): {password}");
            }
        }
        _ => crate::output::print_json(&created)?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

pub fn list(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let users = store.list_users()?;
    match global.format {
        Format::Text => {
            for user in &users {
                crate::outln!(
                    "{:<20} {:<8} TLP:{:<13} {}{}",
                    user.username,
                    user.role.as_str(),
                    user.tlp_ceiling.as_str(),
                    user.display_name,
                    if user.disabled { " (disabled)" } else { "" }
                );
            }
        }
        _ => crate::output::print_json(&users)?,
    }
    Ok(ExitCode::from(EXIT_OK))
}
