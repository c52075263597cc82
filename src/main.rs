//! Thin entry point: parse the command line, set up logging, run, print one line on failure
//! (whatever the error quotes — a file's schema text, SQLite's report — its line breaks are
//! written as `\n`: `util::text::one_line`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use env_logger::WriteStyle;
use todo_connect::cli::{Cli, run};
use todo_connect::config::LogFormat;
use todo_connect::util::text::one_line;
use todo_connect::util::{log_buffer, log_format};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref()) {
        Ok(format) => format,
        Err(err) => {
            eprintln!("todo-connect: {}", one_line(&err.to_string()));
            return ExitCode::FAILURE;
        }
    };
    // Log lines go to stderr from a background thread (util::log_buffer): a request's access
    // line costs it a copy into memory, not a write of its own.
    let (sink, log_writer) = log_buffer::buffered(std::io::stderr());
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if std::env::var_os("RUST_LOG_STYLE").is_none() {
        // What the logger decided on its own when it wrote to stderr itself.
        logger.write_style(if std::io::stderr().is_terminal() {
            WriteStyle::Always
        } else {
            WriteStyle::Never
        });
    }
    match format {
        LogFormat::Text => logger.format_timestamp_millis(),
        LogFormat::Json => {
            log_format::set_json();
            logger.format(|out, record| log_format::write_json(out, record))
        }
    };
    logger
        .target(env_logger::Target::Pipe(Box::new(sink)))
        .init();
    let result = run(cli);
    // Every log line out before the last word.
    drop(log_writer);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("todo-connect: {}", one_line(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}
