//! The `tenfold` command line: argument parsing, dispatch to the subcommands, and the error
//! contract (one `error: ...` line on stderr; exit 1 for failures, 2 for usage errors; never a
//! panic message or backtrace).

mod args;
mod bench;
mod feeds;
mod info;
mod optimize;
mod plan;
mod run;
mod summary;
mod verify_rules;

use crate::error::Error;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Exit status of a command that failed.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a command line clap rejected.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser)]
#[command(
    name = "tenfold",
    version,
    about = "A tensor-program compiler and optimizer: ONNX in, fast native code out.",
    subcommand_required = true,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model once and print a summary of each output (missing inputs get random data).
    Run(run::RunArgs),
    /// Time a model: compile time, then the latency of repeated runs.
    Bench(bench::BenchArgs),
    /// Describe a model: inputs, outputs, op histogram, parameter count and FLOPs.
    Info(info::InfoArgs),
    /// Optimize a model by equality saturation and write it as standard ONNX.
    Optimize(optimize::OptimizeArgs),
    /// Check every rewrite rule on random instances against the reference interpreter.
    VerifyRules(verify_rules::VerifyRulesArgs),
}

/// What a successful command prints: `stdout`, and notes for stderr.
#[derive(Default)]
struct Report {
    stdout: String,
    notes: Vec<String>,
}

/// Runs the command line given by the process's arguments; returns the exit status.
pub fn main() -> i32 {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match catch_unwind(AssertUnwindSafe(|| dispatch(cli.command))) {
        Ok(Ok(report)) => {
            for note in &report.notes {
                eprintln!("note: {}", one_line(note));
            }
            match std::io::stdout().lock().write_all(report.stdout.as_bytes()) {
                Ok(()) => 0,
                // A closed pipe (`tenfold info m.onnx | head -1`) is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
                Err(e) => {
                    eprintln!(
                        "error: cannot write to stdout: {}",
                        one_line(&e.to_string())
                    );
                    EXIT_FAILURE
                }
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            EXIT_FAILURE
        }
        // The panic hook has printed the one error line.
        Err(_) => EXIT_FAILURE,
    }
}

fn dispatch(command: Command) -> Result<Report, Error> {
    match command {
        Command::Run(a) => run::run(&a),
        Command::Bench(a) => bench::bench(&a),
        Command::Info(a) => info::info(&a),
        Command::Optimize(a) => optimize::optimize(&a),
        Command::VerifyRules(a) => verify_rules::verify_rules(&a),
    }
}

/// Help and version go to stdout with status 0; real usage errors print clap's first line (with
/// the list that follows it when it ends in ':') and status 2.
fn usage_error(e: &clap::Error) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let names: Vec<String> = Cli::command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            eprintln!(
                "error: a subcommand is required: {} (see --help)",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
        _ => {}
    }
    let text = e.to_string();
    let mut lines = text.lines();
    let mut line = lines
        .next()
        .unwrap_or("error: invalid command line")
        .trim_end()
        .to_string();
    if line.ends_with(':') {
        let items: Vec<&str> = lines
            .take_while(|l| l.starts_with(' '))
            .map(str::trim)
            .collect();
        line.push(' ');
        line.push_str(&items.join(", "));
    }
    if !line.starts_with("error:") {
        line = format!("error: {line}");
    }
    eprintln!("{} (see --help)", one_line(&line));
    EXIT_USAGE
}

/// Even a bug prints exactly one `error:` line, never a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {}{place}", one_line(&msg));
    }));
}

/// Joins a multi-line message into one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
