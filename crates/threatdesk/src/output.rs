//! Everything written to the terminal: logs, errors, tables and JSON.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

/// Sends logs to stderr: `THREATDESK_LOG` (a tracing filter) if set, else the level the
/// `-v`/`-q` flags ask for (warnings by default).
pub fn init_logging(args: &GlobalArgs) {
    let default_level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("THREATDESK_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(args.verbose >= 2)
        .init();
}

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`threatdesk search x | head -1`); [`is_broken_pipe`] lets `main` end quietly then.
#[macro_export]
macro_rules! outln {
    () => {
        std::io::Write::write_all(&mut std::io::stdout().lock(), b"\n")?
    };
    ($($arg:tt)*) => {{
        let mut stdout = std::io::stdout().lock();
        std::io::Write::write_fmt(&mut stdout, format_args!($($arg)*))?;
        std::io::Write::write_all(&mut stdout, b"\n")?;
    }};
}

/// Whether the error is a write to a closed pipe, which is how pagers and `head` say
/// "enough": not an error worth reporting.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        io_kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints an error and its causes on stderr, one line: `threatdesk: error: outer: inner`.
pub fn print_error(error: &anyhow::Error) {
    let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
    eprintln!("threatdesk: error: {}", chain.join(": "));
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// A date for tables: `2025-03-01 14:05`.
pub fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether stdout is a terminal (for colour and highlighting).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("Sofacy", 10), "Sofacy");
        assert_eq!(truncate("Ünïcödé text", 5), "Ünïc…");
    }
}
