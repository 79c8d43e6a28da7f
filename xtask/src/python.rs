//! `cargo xtask python`: the Python package's tests. Builds the CLI they
//! compare against, installs the package from the checkout into
//! `target/python-venv` (`pip install ./python`: maturin builds the
//! extension), and runs pytest on `python/tests`.

use std::process::Command;

const VENV: &str = "target/python-venv";

/// Install and test the package; false on any failure.
pub fn python() -> bool {
    let Some(py) = crate::venv::python(VENV, &["numpy", "pytest"]) else {
        return false;
    };
    if !crate::cargo(&["build", "--release", "-p", "convnext-cli"]) {
        return false;
    }
    let run = |args: &[&str]| {
        eprintln!("\n==> {py} {}", args.join(" "));
        Command::new(&py)
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    // (Reinstalled every time: the extension is rebuilt from this checkout.)
    run(&[
        "-m",
        "pip",
        "install",
        "-q",
        "--force-reinstall",
        "--no-deps",
        "./python",
    ]) && run(&["-m", "pytest", "-q", "python/tests"])
}
