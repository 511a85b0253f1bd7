//! The `nexus` command.
//!
//! `cli.rs` declares the syntax, `commands.rs` runs commands against the embedded store,
//! `output.rs` renders results (text for people, `--json` for scripts) and maps errors to
//! exit codes.

mod admin;
mod cli;
mod commands;
mod knowledge;
mod mcp;
mod output;
mod rebac;
mod search;
mod target;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// The server allocates and frees many small values per request (headers, JSON, futures):
/// mimalloc's thread-local free lists serve them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let sources = commands::Sources::of(&matches);
    let printer = output::Printer { json: cli.json };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NEXUS_LOG").unwrap_or_else(|_| {
                // A server logs every request; one-shot commands only what went wrong.
                tracing_subscriber::EnvFilter::new(
                    if matches!(cli.command, cli::Command::Serve(_)) {
                        "info"
                    } else {
                        "warn"
                    },
                )
            }),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, sources)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
