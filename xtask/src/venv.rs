//! Python virtual environments under `target/`, made the first time a task
//! needs one (`python3 -m venv`, packages from PyPI).

use std::path::Path;
use std::process::Command;

/// The Python of the virtual environment `dir`, made with `packages`
/// installed if it is missing; `None` (said on stderr) where it cannot be
/// made.
pub fn python(dir: &str, packages: &[&str]) -> Option<String> {
    let py = format!("{dir}/bin/python");
    if Path::new(&py).exists() {
        return Some(py);
    }
    eprintln!(
        "==> python3 -m venv {dir} && pip install {}",
        packages.join(" ")
    );
    let made = Command::new("python3")
        .args(["-m", "venv", dir])
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(&py)
            .args(["-m", "pip", "install", "-q"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("could not make the virtual environment {dir} (python3 -m venv, PyPI)");
        // A half-made environment would be taken as made next time.
        let _ = std::fs::remove_dir_all(dir);
        return None;
    }
    Some(py)
}
