//! The `construct-actor` binary: parse the command line, then run the daemon (on actix's
//! system) or one of the client subcommands (on a small tokio runtime).

// No function over 80 lines (clippy.toml sets the limit; tests are other crates).
#![warn(clippy::too_many_lines)]

use std::future::Future;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use construct_actor::cli::{Cli, Command, ImportArgs, RunArgs};
use construct_actor::config::{Config, Overrides};
use construct_actor::{client, import, logging, server};

/// mimalloc, not glibc's malloc: a call allocates about 80 times, and glibc spent ~12% of the
/// daemon's CPU on it (its free lists consolidated on larger frees); see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Connect(args)) => run_client("connect", client::connect::run(args)),
        Some(Command::Tail(args)) => run_client("tail", client::tail::run(args)),
        Some(Command::Sessions(args)) => run_client("sessions", client::sessions::run(args)),
        Some(Command::Import(args)) => import_servers(&args),
        None => run(cli.run),
    }
}

/// `check-config`: whether `file` would start the daemon, as the exit code, with a line saying
/// so (the key and the reason when it would not).
fn check_config(file: &Path) -> ExitCode {
    match Config::load(Some(file), Overrides::default()) {
        Ok(_) => {
            // Not println!, which panics when the reader has gone (`… | head`): the verdict is
            // the exit code, and the line is for whoever still reads.
            let _ = writeln!(std::io::stdout(), "{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            say(format_args!("{}: {err}", file.display()));
            ExitCode::FAILURE
        }
    }
}

/// `import`: exit 0 when it did what it said (finding nothing is not an error), 1 with the
/// reason on one line.
fn import_servers(args: &ImportArgs) -> ExitCode {
    match import::run::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let err = client::text::one_line(&format!("{err:#}"));
            say(format_args!("construct-actor import: {err}"));
            ExitCode::FAILURE
        }
    }
}

/// Writes one line to standard error. Not eprintln!, which panics when standard error is a
/// closed pipe (`… 2>&1 | true`): the exit code carries the verdict either way.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs a client subcommand to completion: exit 0, or 1 with its error on standard error.
///
/// Like any Unix command whose output may be piped into `head`, a client ends quietly by SIGPIPE
/// when its reader has gone, instead of panicking in `println!` (Rust ignores SIGPIPE by default;
/// the daemon keeps that, since a vanished peer must never stop it).
fn run_client(name: &str, command: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    // SAFETY: restoring the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            say(format_args!("construct-actor {name}: cannot start: {err}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            say(format_args!("construct-actor {name}: {err:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let overrides = Overrides {
        bind: args.bind,
        port: args.port,
    };
    let config = match Config::load(args.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(err) => {
            say(format_args!("construct-actor: configuration error: {err}"));
            return ExitCode::FAILURE;
        }
    };
    logging::init(&config.log);
    match actix_rt::System::new()
        .block_on(server::run_until_signalled(config, args.config.as_deref()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            say(format_args!("construct-actor: {err:#}"));
            ExitCode::FAILURE
        }
    }
}
