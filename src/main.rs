//! Thin entry point: parse the command line, set up logging, run, print one line on failure.

use std::process::ExitCode;

use clap::Parser;
use todo_connect::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("todo-connect: {err}");
            ExitCode::FAILURE
        }
    }
}
