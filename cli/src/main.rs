//! `convnext`: classify, run, evaluate and inspect ConvNeXt checkpoints with
//! the same numerics the firmware uses.

mod bench;
#[path = "../../boards/boards.rs"]
#[allow(dead_code)]
mod boards;
mod classify;
mod commands;
mod engine;
mod eval;
mod export_c;
mod failure;
mod firmware;
mod fit;
mod html;
mod int8;
mod labelled;
mod options;
mod progress;
mod svg;
mod tour;

use clap::Parser;
use options::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version 0.
    let cli = Cli::parse();
    let result = match &cli.command {
        None => tour::tour(),
        Some(Command::Classify(a)) => classify::classify(a),
        Some(Command::Run(a)) => commands::run(a),
        Some(Command::Eval(a)) => eval::eval(a),
        Some(Command::Report(a)) => commands::report(a),
        Some(Command::Compile(a)) => commands::compile(a),
        Some(Command::Calibrate(a)) => commands::calibrate(a),
        Some(Command::Bench(a)) => bench::bench(a),
        Some(Command::Preprocess(a)) => commands::preprocess(a),
        Some(Command::NewFirmware(a)) => firmware::new_firmware(a),
        Some(Command::ExportC(a)) => export_c::export_c(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure::Failure::Usage(m)) => {
            eprintln!("error: {m}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(failure::Failure::Model(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
