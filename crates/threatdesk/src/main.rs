//! `threatdesk`: a cyber threat intelligence newsroom in one binary.
//!
//! This crate is the thin command-line layer: it parses arguments, loads configuration,
//! sets up logging, and calls into the library crates. Exit codes are decided in one
//! place, [`main`]: 0 success, 1 finished but some inputs were rejected, 2 error.

mod cli;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Everything went as asked.
pub const EXIT_OK: u8 = 0;
/// The command finished, but some inputs were rejected (each one was reported).
pub const EXIT_PARTIAL: u8 = 1;
/// The command failed: bad usage, configuration, or an I/O or database error.
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    output::init_logging(&args.global);
    match commands::run(args) {
        Ok(code) => code,
        Err(error) if output::is_broken_pipe(&error) => ExitCode::from(EXIT_OK),
        Err(error) => {
            output::print_error(&error);
            ExitCode::from(EXIT_ERROR)
        }
    }
}
