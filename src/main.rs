//! The `construct-actor` binary: parse the command line, load the configuration, run.

use std::process::ExitCode;

use clap::Parser as _;
use construct_actor::cli::{Cli, Command, RunArgs};
use construct_actor::config::{Config, Overrides};
use construct_actor::{logging, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => {
            match Config::load(Some(&file), Overrides::default()) {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("{}: {err}", file.display());
                    ExitCode::FAILURE
                }
            }
        }
        None => run(cli.run),
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
            eprintln!("construct-actor: configuration error: {err}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(&config.log);
    match actix_rt::System::new().block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("construct-actor: {err:#}");
            ExitCode::FAILURE
        }
    }
}
