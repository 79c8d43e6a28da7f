//! `cargo xtask python`: the Python package's tests. Builds the CLI they
//! compare against, installs the package from the checkout into
//! `target/python-venv` (`pip install ./python`: maturin builds the
//! extension) with numpy, pytest and selenium (which drives Debian's
//! Chromium for the HTML report's test), and runs pytest on
//! `python/tests`.

use std::process::Command;

const VENV: &str = "target/python-venv";

/// What the tests import besides the package.
const PACKAGES: [&str; 3] = ["numpy", "pytest", "selenium"];

/// Install and test the package; false on any failure.
pub fn python() -> bool {
    let Some(py) = crate::venv::python(VENV, &PACKAGES) else {
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
    // The test packages (in case the environment predates one), then the
    // package, reinstalled every time: the extension is rebuilt from this
    // checkout.
    let reinstall = ["--force-reinstall", "--no-deps", "./python"];
    run(&[&["-m", "pip", "install", "-q"][..], &PACKAGES].concat())
        && run(&[&["-m", "pip", "install", "-q"][..], &reinstall].concat())
        && run(&["-m", "pytest", "-q", "python/tests"])
}
