//! `convnext`: classify, run, evaluate and inspect ConvNeXt checkpoints with
//! the same numerics the firmware uses.

mod bench;
#[path = "../../boards/boards.rs"]
#[allow(dead_code)]
mod boards;
mod classify;
mod commands;
mod eval;
mod fit;
mod labelled;
mod options;
mod pictures;
mod svg;

use clap::Parser;
use options::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version 0.
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Classify(a) => classify::classify(a),
        Command::Run(a) => commands::run(a),
        Command::Eval(a) => eval::eval(a),
        Command::Report(a) => commands::report(a),
        Command::Compile(a) => commands::compile(a),
        Command::Calibrate(a) => commands::calibrate(a),
        Command::Bench(a) => bench::bench(a),
        Command::Preprocess(a) => commands::preprocess(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::Usage(m)) => {
            eprintln!("error: {m}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(commands::Failure::Model(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
