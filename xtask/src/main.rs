//! `cargo xtask ci`: everything CI checks, in order, failing fast.
//! `cargo xtask lint` runs only the formatting and lint steps.

use std::process::{Command, ExitCode};

/// Targets the `no_std` runtime must build for.
const THUMB_TARGETS: [&str; 3] = [
    "thumbv6m-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.main-none-eabihf",
];

fn cargo(args: &[&str]) -> bool {
    eprintln!("\n==> cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn lint() -> bool {
    cargo(&["fmt", "--all", "--check"])
        && cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
}

fn thumb() -> bool {
    THUMB_TARGETS
        .iter()
        .all(|t| cargo(&["build", "--package", "convnext", "--release", "--target", t]))
}

fn test() -> bool {
    cargo(&["test", "--workspace", "--release"])
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let ok = match task.as_str() {
        "ci" => lint() && thumb() && test(),
        "lint" => lint(),
        "thumb" => thumb(),
        "test" => test(),
        _ => {
            eprintln!("usage: cargo xtask ci|lint|thumb|test");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
