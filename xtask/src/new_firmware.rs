//! `convnext new-firmware` as a user runs it: a crate for the Cortex-M4F in
//! a temporary folder outside the repository, built and run with `cargo run
//! --release` and nothing else, whose last line must carry the host's CRC
//! (`convnext eval --precision int8 --limit N --crc`) and whose build must
//! print no warning.

use crate::board_run::{summary_crc, summary_line};
use crate::boards::BOARDS;
use crate::{cargo_cmd, host_crc_of, DEFAULT_MODEL};
use std::path::Path;

/// Images the generated firmware embeds (the command's default).
const IMAGES: usize = 10;

/// Generate, build and run the M4F crate; true when its CRC is the host's.
pub fn run_on_m4f() -> bool {
    match check() {
        Ok(line) => {
            eprintln!("new-firmware crate: {line}, the host's");
            true
        }
        Err(e) => {
            eprintln!("new-firmware crate: {e}");
            false
        }
    }
}

fn check() -> Result<String, String> {
    let board = &BOARDS[0];
    let host = host_crc_of(cargo_cmd(), "host", DEFAULT_MODEL, IMAGES)?;
    let dir = std::env::temp_dir().join("convnext-new-firmware");
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n==> convnext new-firmware --board {} --out {}",
        board.dir,
        dir.display()
    );
    let made = cargo_cmd()
        .args(["run", "--release", "--quiet", "--bin", "convnext", "--"])
        .args([
            "new-firmware",
            "--board",
            board.dir,
            "--model",
            DEFAULT_MODEL,
        ])
        .arg("--out")
        .arg(&dir)
        .status()
        .map_err(|e| format!("convnext new-firmware: {e}"))?;
    if !made.success() {
        return Err(format!("convnext new-firmware failed ({made})"));
    }
    // Its own target dir under the repository's, so a rerun builds little.
    let target = Path::new("target/new-firmware")
        .canonicalize()
        .or_else(|_| {
            std::fs::create_dir_all("target/new-firmware")?;
            Path::new("target/new-firmware").canonicalize()
        })
        .map_err(|e| format!("target/new-firmware: {e}"))?;
    eprintln!("\n==> {}: cargo run --release", dir.display());
    let out = cargo_cmd()
        .args(["run", "--release"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        // The generated crate's own toolchain file decides, as for a user.
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| format!("cargo run: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!("{text}\ncargo run failed ({})", out.status));
    }
    if let Some(w) = text.lines().find(|l| l.starts_with("warning")) {
        return Err(format!("{text}\nthe build warned: {w}"));
    }
    let line = summary_line(board, &text)
        .ok_or_else(|| format!("{text}\nno summary line"))?
        .to_string();
    let crc = summary_crc(&line);
    if crc != host || !line.contains(&format!(" {IMAGES} images,")) {
        return Err(format!("{line}: expected {IMAGES} images, crc32 {host}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(line)
}
