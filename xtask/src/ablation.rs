//! `cargo xtask ablation [--qemu]`: what each int8 accuracy technique buys
//! and costs, one at a time and together, as the markdown table of
//! `docs/ACCURACY.md`. Each configuration is a saved calibration
//! (`convnext calibrate --stream-scales S --hidden H`); the bundled models
//! are measured on their test sets (`convnext eval`: accuracy, top-1
//! agreement with f32, logit SQNR) and their plans (`convnext report`:
//! arena, weights), and with `--qemu` on the emulated Cortex-M4F
//! (`cargo xtask profile-qemu`: instructions per inference). The
//! random-weight fixtures are calibrated on 32 random u8 images and
//! measured on 32 others (`convnext report --calibration`: logit SQNR).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The configurations: a name, `--stream-scales`, `--hidden`.
const CONFIGS: [(&str, &str, &str); 4] = [
    ("per-tensor stream, int8 hidden", "per-tensor", "int8"),
    ("per-channel stream", "per-channel", "int8"),
    ("int16 hidden", "per-tensor", "int16"),
    ("both (the default)", "per-channel", "int16"),
];

/// The bundled models.
const MODELS: [&str; 2] = ["models/fmnist-convnext", "models/fmnist-convnextv2"];

/// The random-weight fixtures with a classifier head (those with HF's
/// logits), by name.
fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("tests/fixtures/models")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("logits.npy").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Run the ablation and print its tables; false on any failure.
pub fn ablation(args: &[String]) -> bool {
    let qemu = args.iter().any(|a| a == "--qemu");
    if let Some(a) = args.iter().find(|a| *a != "--qemu") {
        eprintln!("ablation: unexpected {a:?}; usage: cargo xtask ablation [--qemu]");
        return false;
    }
    if !crate::cargo(&["build", "--release", "-p", "convnext-cli"]) {
        return false;
    }
    let work = PathBuf::from("target/ablation");
    if let Err(e) = std::fs::create_dir_all(&work) {
        eprintln!("ablation: {}: {e}", work.display());
        return false;
    }
    let mut out = String::new();
    out.push_str(
        "| model | technique | agreement | accuracy | logit SQNR dB | arena B | weights B | M4F instructions |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for model in MODELS {
        for (k, (name, stream, hidden)) in CONFIGS.iter().enumerate() {
            let Some(row) = bundled_row(model, &work, k, (stream, hidden), qemu) else {
                return false;
            };
            out.push_str(&format!("| {} | {name} | {row} |\n", short(model)));
        }
    }
    out.push_str(
        "\n| fixture | technique | logit SQNR dB |\n\
         |---|---|---|\n",
    );
    for fixture in fixtures() {
        let fixture = fixture.as_str();
        let dir = PathBuf::from("tests/fixtures/models").join(fixture);
        let Some((a, b)) = fixture_images(&dir, &work, fixture) else {
            return false;
        };
        for (k, (name, stream, hidden)) in CONFIGS.iter().enumerate() {
            let cal = work.join(format!("{fixture}-{k}.json"));
            let m = dir.to_string_lossy().into_owned();
            let flags = ["--stream-scales", stream, "--hidden", hidden];
            let calibrate = [
                "calibrate",
                "--model",
                &m,
                "--calibration",
                &a,
                "--out",
                &cal.to_string_lossy(),
            ];
            if convnext(&[&calibrate[..], &flags[..]].concat()).is_none() {
                return false;
            }
            let report = convnext(&[
                "report",
                "--model",
                &m,
                "--precision",
                "int8",
                "--json",
                "--calibration-file",
                &cal.to_string_lossy(),
                "--calibration",
                &b,
            ]);
            let Some(db) = report
                .as_deref()
                .and_then(|r| last_number(r, "\"sqnr_db\":"))
            else {
                eprintln!("ablation: {fixture}: no SQNR in the report");
                return false;
            };
            out.push_str(&format!("| {fixture} | {name} | {db:.1} |\n"));
        }
    }
    print!("{out}");
    true
}

/// One bundled model's row under configuration `k`, or `None` (said why).
fn bundled_row(
    model: &str,
    work: &Path,
    k: usize,
    (stream, hidden): (&str, &str),
    qemu: bool,
) -> Option<String> {
    let cal = work.join(format!("{}-{k}.json", short(model)));
    let cal = cal.to_string_lossy().into_owned();
    let flags = ["--stream-scales", stream, "--hidden", hidden];
    let calibrate = ["calibrate", "--model", model, "--out", &cal];
    convnext(&[&calibrate[..], &flags[..]].concat())?;
    let eval = convnext(&[
        "eval",
        "--model",
        model,
        "--precision",
        "int8",
        "--json",
        "--quiet",
        "--calibration-file",
        &cal,
    ])?;
    let int8 = &eval[eval.find("\"int8\":")?..];
    let report = convnext(&[
        "report",
        "--model",
        model,
        "--precision",
        "int8",
        "--json",
        "--calibration-file",
        &cal,
    ])?;
    let instructions = if qemu {
        let exe = std::env::current_exe().ok()?;
        let out = Command::new(exe)
            .args([
                "profile-qemu",
                "--model",
                model,
                "--calibration-file",
                &cal,
                "--json",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        match number(&text, "\"total_instructions\":") {
            Some(n) => format!("{n:.0}"),
            None => {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
        }
    } else {
        "(--qemu)".into()
    };
    Some(format!(
        "{:.2} % | {:.2} % | {:.1} | {:.0} | {:.0} | {instructions}",
        100.0 * number(int8, "\"agreement\":")?,
        100.0 * number(int8, "\"accuracy\":")?,
        number(int8, "\"logit_sqnr_db\":")?,
        number(&report, "\"arena_bytes\":")?,
        // (The top-level key, after the ops' own.)
        last_number(&report, "\"weights_bytes\":")?,
    ))
}

/// Two sets of 32 random u8 images of the fixture's input shape (from its
/// `inputs.npy` header): the calibration's and the measurement's paths.
fn fixture_images(dir: &Path, work: &Path, name: &str) -> Option<(String, String)> {
    let header = std::fs::read(dir.join("inputs.npy")).ok()?;
    let text = String::from_utf8_lossy(&header[..header.len().min(256)]).into_owned();
    let shape = &text[text.find("'shape': (")? + 10..];
    let dims: Vec<usize> = shape[..shape.find(')')?]
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    let [_, c, h, w] = dims[..] else {
        eprintln!("ablation: {name}: inputs.npy is not (N, C, H, W)");
        return None;
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ name.len() as u64;
    let mut paths = Vec::new();
    for set in ["a", "b"] {
        let n = 32;
        let pixels: Vec<u8> = (0..n * h * w * c)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        let path = work.join(format!("{name}-{set}.npy"));
        write_u8_npy(&path, &[n, h, w, c], &pixels).ok()?;
        paths.push(path.to_string_lossy().into_owned());
    }
    Some((paths[0].clone(), paths[1].clone()))
}

/// A `.npy` (version 1.0) of u8 values.
fn write_u8_npy(path: &Path, shape: &[usize], data: &[u8]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '|u1', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes)
}

/// Run the release CLI; its stdout, or `None` (its stderr printed).
fn convnext(args: &[&str]) -> Option<String> {
    let out = Command::new("target/release/convnext")
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "convnext {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The number after the first `key` in `json`.
fn number(json: &str, key: &str) -> Option<f64> {
    let at = json.find(key)? + key.len();
    parse_number(&json[at..])
}

/// The number after the last `key` in `json`.
fn last_number(json: &str, key: &str) -> Option<f64> {
    let at = json.rfind(key)? + key.len();
    parse_number(&json[at..])
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The model folder's name.
fn short(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}
