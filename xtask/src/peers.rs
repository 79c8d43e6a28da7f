//! `cargo xtask bench-peers [--json] [--rounds R] [--only MODELS]`: our int8
//! plan and f32 reference against ONNX Runtime fp32 and int8, one thread,
//! batch 1, on the default model and random atto- and tiny-shaped ones at
//! 224x224 (`scripts/bench_peers.py`). Makes a virtual environment with
//! onnx, onnxruntime and numpy from PyPI in `target/peers-venv` the first
//! time. Not part of CI: it needs PyPI.

use std::path::Path;
use std::process::Command;

const VENV: &str = "target/peers-venv";

/// The venv's Python, made (and its packages installed) if missing.
fn python() -> Option<String> {
    let py = format!("{VENV}/bin/python");
    if Path::new(&py).exists() {
        return Some(py);
    }
    eprintln!("==> python3 -m venv {VENV} && pip install onnx onnxruntime numpy");
    let made = Command::new("python3")
        .args(["-m", "venv", VENV])
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "onnx==1.23.2",
                "onnxruntime==1.32.0",
                "numpy",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("bench-peers: could not make the virtual environment (python3 -m venv, PyPI)");
        return None;
    }
    Some(py)
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
