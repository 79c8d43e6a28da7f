//! `cargo xtask fuzz [--seconds N] [--only T1,T2]`: the cargo-fuzz targets
//! of `fuzz/` (libFuzzer with AddressSanitizer, on the nightly toolchain),
//! each for N seconds (default 30), from seeds made of the repository's
//! fixtures, then every committed crash input of `fuzz/regressions/<target>/`
//! once. A crash fails the task and names the input libFuzzer saved; commit
//! it under `fuzz/regressions/<target>/` once fixed.
//!
//! The nightly toolchain and cargo-fuzz are installed when missing. Where
//! the nightly cannot be installed the task says so and passes: the stable
//! randomized tests (`tests/kernels_match_naive.rs`'s property tests,
//! `cli/tests/error_catalogue.rs`) stand in for it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// LeakSanitizer's options for every run: the suppressions of
/// `fuzz/lsan.supp` (one glibc frame that reads as a leak when a worker
/// thread outlives the check; see the file).
fn lsan_options() -> String {
    let supp = std::fs::canonicalize("fuzz/lsan.supp").unwrap_or_else(|_| "fuzz/lsan.supp".into());
    format!("suppressions={}", supp.display())
}

/// The targets of `fuzz/Cargo.toml`.
const TARGETS: [&str; 6] = [
    "checkpoint",
    "processor_config",
    "npy",
    "preprocess",
    "picture",
    "plan",
];

fn rustup_nightly() -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly"]);
    c
}

fn succeeds(c: &mut Command) -> bool {
    c.status().map(|s| s.success()).unwrap_or(false)
}

/// The nightly toolchain and cargo-fuzz, installed if missing; `false`
/// (with the reason printed) where that is not possible.
fn tools() -> bool {
    let quiet = |c: &mut Command| {
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        succeeds(c)
    };
    if !quiet(rustup_nightly().args(["rustc", "--version"]))
        && !succeeds(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))
    {
        eprintln!("fuzz: the nightly toolchain cannot be installed here; skipping the fuzz targets (the property tests and the error catalogue cover the parsers on stable)");
        return false;
    }
    if !quiet(rustup_nightly().args(["cargo", "fuzz", "--version"])) {
        eprintln!("\n==> cargo install cargo-fuzz --locked");
        if !succeeds(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"])) {
            eprintln!("fuzz: cargo-fuzz cannot be installed here; skipping the fuzz targets");
            return false;
        }
    }
    true
}

/// Seed inputs for `target` from the repository's fixtures, in `dir`.
fn seeds(target: &str, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let fixtures = Path::new("tests/fixtures/models");
    let models: Vec<PathBuf> = std::fs::read_dir(fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .chain([PathBuf::from("models/fmnist-convnext")])
        .collect();
    for (i, m) in models.iter().enumerate() {
        match target {
            // The checkpoint target's input: config length (u16 LE),
            // config, safetensors. Only the small fixtures.
            "checkpoint" => {
                let (Ok(c), Ok(w)) = (
                    std::fs::read(m.join("config.json")),
                    std::fs::read(m.join("model.safetensors")),
                ) else {
                    continue;
                };
                if w.len() > 256 << 10 {
                    continue;
                }
                let mut b = (c.len() as u16).to_le_bytes().to_vec();
                b.extend(c);
                b.extend(w);
                std::fs::write(dir.join(format!("seed{i}")), b)?;
            }
            "processor_config" => {
                if let Ok(t) = std::fs::read(m.join("preprocessor_config.json")) {
                    std::fs::write(dir.join(format!("seed{i}")), t)?;
                }
            }
            // The bundled example pictures (PNG), once.
            "picture" if i == 0 => {
                let examples = Path::new("models/fmnist-convnext/examples");
                for (k, e) in std::fs::read_dir(examples)?.flatten().enumerate() {
                    std::fs::copy(e.path(), dir.join(format!("example{k}")))?;
                }
            }
            "npy" => {
                if let Ok(b) = std::fs::read(m.join("inputs.npy")) {
                    if b.len() <= 256 << 10 {
                        std::fs::write(dir.join(format!("seed{i}")), b)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Run the fuzz targets (see the module doc).
pub fn fuzz(args: &[String]) -> bool {
    let mut seconds = 30u64;
    let mut only: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--seconds", Some(v)) => match v.parse() {
                Ok(s) => seconds = s,
                Err(_) => {
                    eprintln!("fuzz: --seconds takes a whole number, not {v:?}");
                    return false;
                }
            },
            ("--only", Some(v)) => only = v.split(',').map(str::to_string).collect(),
            _ => {
                eprintln!(
                    "usage: cargo xtask fuzz [--seconds N] [--only T1,T2] (targets: {})",
                    TARGETS.join(", ")
                );
                return false;
            }
        }
    }
    if let Some(bad) = only.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        eprintln!("fuzz: no target {bad:?} (targets: {})", TARGETS.join(", "));
        return false;
    }
    if !tools() {
        return true;
    }
    for t in &only {
        let corpus = Path::new("target/fuzz-corpus").join(t);
        if let Err(e) = seeds(t, &corpus) {
            eprintln!("fuzz: seeds for {t}: {e}");
            return false;
        }
        let corpus = std::fs::canonicalize(&corpus).unwrap_or(corpus);
        eprintln!("\n==> cargo fuzz run {t} ({seconds} s)");
        let ran = succeeds(
            rustup_nightly()
                .current_dir("fuzz")
                .env("LSAN_OPTIONS", lsan_options())
                .args(["cargo", "fuzz", "run", "-O", t])
                .arg(&corpus)
                .args([
                    "--",
                    &format!("-max_total_time={seconds}"),
                    "-rss_limit_mb=2048",
                ]),
        );
        if !ran {
            eprintln!("fuzz: {t} crashed; libFuzzer saved the input under fuzz/artifacts/{t}/");
            return false;
        }
        // Every committed crash input, once.
        let regressions = Path::new("fuzz/regressions").join(t);
        let inputs: Vec<PathBuf> = std::fs::read_dir(&regressions)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        if !inputs.is_empty() {
            eprintln!("\n==> {t}: {} committed regression inputs", inputs.len());
            let abs: Vec<PathBuf> = inputs
                .iter()
                .map(|p| std::fs::canonicalize(p).unwrap_or(p.clone()))
                .collect();
            if !succeeds(
                rustup_nightly()
                    .current_dir("fuzz")
                    .env("LSAN_OPTIONS", lsan_options())
                    .args(["cargo", "fuzz", "run", "-O", t])
                    .args(&abs),
            ) {
                return false;
            }
        }
    }
    true
}
