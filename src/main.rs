//! The `construct-actor` binary: parse the command line, load the configuration, run.

use std::process::ExitCode;

use clap::Parser as _;
use construct_actor::cli::{Cli, Command, RunArgs};
use construct_actor::config::Config;
use construct_actor::{logging, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => match Config::load(Some(&file)) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{}: {err}", file.display());
                ExitCode::FAILURE
            }
        },
        None => run(cli.run),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("construct-actor: configuration error: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    logging::init(&config.log);
    match actix_rt::System::new().block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("construct-actor: {err:#}");
            ExitCode::FAILURE
        }
    }
}
