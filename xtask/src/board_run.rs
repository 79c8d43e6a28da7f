//! Building and running one board crate, and reading its summary lines.

use crate::boards::Board;
use std::process::Command;

/// `cargo run|build --release [--features F]` in the board's folder, with
/// `CONVNEXT_MODEL` set when a model other than the bundled one is asked
/// for. Returns stdout and stderr together, or why it failed.
pub fn cargo_in_board(
    b: &Board,
    verb: &str,
    features: Option<&str>,
    model: Option<&str>,
) -> Result<String, String> {
    let dir = format!("boards/{}", b.dir);
    eprintln!(
        "\n==> {dir}: cargo {verb} --release{}",
        features.map_or(String::new(), |f| format!(" --features {f}"))
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg(verb).arg("--release").current_dir(&dir);
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    if let Some(m) = model {
        let abs = std::path::Path::new(m)
            .canonicalize()
            .map_err(|e| format!("--model {m}: {e}"))?;
        cmd.env("CONVNEXT_MODEL", abs);
    }
    let out = cmd.output().map_err(|e| format!("{dir}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{text}\n{dir}: cargo {verb} failed ({})",
            out.status
        ))
    }
}

/// The board's summary line (`<name>: N images, ..., logits crc32 ...`).
pub fn summary_line<'t>(b: &Board, text: &'t str) -> Option<&'t str> {
    text.lines()
        .find(|l| l.starts_with(&format!("{}:", b.name)) && l.contains("logits crc32"))
}

/// The logits' CRC from the summary line (`0x...`, empty if missing).
pub fn summary_crc(line: &str) -> &str {
    line.split("logits crc32 ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
}

/// Instructions per inference from the summary line.
pub fn instructions_per_inference(line: &str) -> Option<u64> {
    line.rsplit("instructions per inference ")
        .next()?
        .trim()
        .parse()
        .ok()
}
