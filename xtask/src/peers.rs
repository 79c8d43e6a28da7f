//! `cargo xtask bench-peers [--json] [--rounds R] [--only MODELS]`: our int8
//! plan and f32 reference against ONNX Runtime fp32 and int8, one thread,
//! batch 1, on the default model and random atto- and tiny-shaped ones at
//! 224x224 (`scripts/bench_peers.py`). Makes a virtual environment with
//! onnx, onnxruntime and numpy from PyPI in `target/peers-venv` the first
//! time. Not part of CI: it needs PyPI.

use std::process::Command;

const VENV: &str = "target/peers-venv";

/// The venv's Python, made (and its packages installed) if missing.
fn python() -> Option<String> {
    crate::venv::python(VENV, &["onnx==1.23.2", "onnxruntime==1.32.0", "numpy"])
}

/// Build the CLI, then run the comparison; false on any failure.
pub fn bench_peers(args: &[String]) -> bool {
    let Some(py) = python() else {
        return false;
    };
    if !crate::cargo(&["build", "--release", "-p", "convnext-cli"]) {
        return false;
    }
    let mut cmd = Command::new(py);
    cmd.args([
        "scripts/bench_peers.py",
        "--convnext",
        "target/release/convnext",
        "--work",
        "target/peers",
    ]);
    cmd.args(args);
    cmd.status().is_ok_and(|s| s.success())
}
