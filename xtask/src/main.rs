//! `cargo xtask ci`: everything CI checks, in order, failing fast.
//! `cargo xtask lint|thumb|test|boards|conformance|miri|fuzz` run one part;
//! `profile-qemu` and `bench-peers` are benchmarks, not checks.
//!
//! Board RAM is data + bss from the ELF plus the stack high-water mark that
//! the emulated boards measure by painting (used for every board of the same
//! target: the code is the same).

// The board table; `board-build-support` uses the parts xtask does not.
mod ablation;
mod board_run;
#[allow(dead_code)]
#[path = "../../boards/boards.rs"]
mod boards;
mod c_boards;
mod call_graph;
mod elf;
mod faint_channels;
mod fuzz;
mod new_firmware;
mod peers;
mod profile;
mod python;
mod venv;

use board_run::{cargo_in_board, instructions_per_inference, summary_line};
use boards::{Board, Run, BOARDS};

use std::path::Path;
use std::process::{Command, ExitCode};

/// Targets the `no_std` runtime must build for.
const THUMB_TARGETS: [&str; 3] = [
    "thumbv6m-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.main-none-eabihf",
];

/// Library crates the boards share.
const BOARD_SUPPORT: [&str; 2] = ["boards/common", "boards/build-support"];

pub(crate) fn cargo_cmd() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn cargo(args: &[&str]) -> bool {
    eprintln!("\n==> cargo {}", args.join(" "));
    cargo_cmd()
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Board crates and the fuzz crate are separate workspaces: format-check
/// each one.
fn lint_boards() -> bool {
    let dirs: Vec<String> = BOARD_SUPPORT
        .iter()
        .map(|d| d.to_string())
        .chain(BOARDS.iter().map(|b| format!("boards/{}", b.dir)))
        .chain(["fuzz".to_string()])
        .collect();
    dirs.iter().all(|dir| {
        let manifest = format!("{dir}/Cargo.toml");
        cargo(&["fmt", "--check", "--manifest-path", &manifest])
    })
}

/// Each board's `.cargo/config.toml` runs it the way the board table says:
/// QEMU boards name their machine in the crate name (the runner derives
/// `-machine` from it), probe-rs boards name the table's chip.
fn check_board_configs() -> bool {
    BOARDS.iter().all(|b| {
        let path = format!("boards/{}/.cargo/config.toml", b.dir);
        let config = std::fs::read_to_string(&path).unwrap_or_default();
        let ok = config.contains(&format!("target = \"{}\"", b.target))
            && match b.run {
                Run::Qemu { machine, .. } => {
                    b.dir == format!("qemu-{machine}") && config.contains("${0##*/qemu-}")
                }
                Run::ProbeRs { chip } => config.contains(&format!("--chip {chip}")),
            };
        if !ok {
            eprintln!("{path}: target or runner disagrees with boards/boards.rs");
        }
        ok
    })
}

fn lint() -> bool {
    check_board_configs()
        && lint_boards()
        && cargo(&["fmt", "--all", "--check"])
        && cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
}

/// The runtime's unit tests under Miri (nightly, installed with its
/// component when missing). Where it cannot be installed, says so and
/// passes: the same tests ran natively in `test`.
fn miri() -> bool {
    let nightly = |args: &[&str]| {
        Command::new("rustup")
            .args(["run", "nightly"])
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let rustup = |args: &[&str]| {
        Command::new("rustup")
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let have = nightly(&["cargo", "miri", "--version"])
        || rustup(&[
            "component",
            "add",
            "miri",
            "rust-src",
            "--toolchain",
            "nightly",
        ])
        || rustup(&[
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
            "--component",
            "miri,rust-src",
        ]);
    if !have {
        eprintln!("miri: the nightly Miri component cannot be installed here; skipping (the runtime's tests ran natively)");
        return true;
    }
    eprintln!("\n==> cargo miri test --lib -p convnext (nightly)");
    nightly(&["cargo", "miri", "test", "--lib", "-p", "convnext"])
}

/// The no-panic check on every board firmware already built (`boards`
/// builds them and runs the same check).
fn no_panic_built() -> bool {
    let mut checked = 0;
    let ok = BOARDS.iter().all(|b| {
        let elf = Path::new("target/boards")
            .join(b.target)
            .join("release")
            .join(b.dir);
        if !elf.exists() {
            return true;
        }
        checked += 1;
        match call_graph::check(&elf) {
            Ok(n) => {
                eprintln!(
                    "{}: no panic reachable from forward ({n} functions searched)",
                    b.name
                );
                match call_graph::stack_bound(&elf) {
                    Ok((bytes, _)) => {
                        eprintln!("{}: forward's stack, static bound {bytes} bytes", b.name);
                        true
                    }
                    Err(e) => {
                        eprintln!("{}: {e}", b.name);
                        false
                    }
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", b.name);
                false
            }
        }
    });
    if checked == 0 {
        eprintln!("no board firmware built yet: cargo xtask boards");
    }
    ok && checked > 0
}

/// CI's fuzzing: every target for 30 seconds.
fn ci_fuzz() -> Vec<String> {
    vec!["--seconds".into(), "30".into()]
}

/// The runtime built alone for every Cortex-M target, and for the host:
/// alone, with no other crate of the workspace unifying features into its
/// dependencies (a `std` that some dependency pulled in once hid a
/// `no_std` host build that did not compile).
fn thumb() -> bool {
    THUMB_TARGETS
        .iter()
        .all(|t| cargo(&["build", "--package", "convnext", "--release", "--target", t]))
        && cargo(&["build", "--package", "convnext", "--release"])
}

/// The runtime and codegen crates as they would be published: packaged
/// (the runtime's files alone) and built from the package, codegen against
/// the packaged runtime (`cargo publish --dry-run`, nothing uploaded).
fn package() -> bool {
    cargo(&[
        "publish",
        "--dry-run",
        "--allow-dirty",
        "-p",
        "convnext",
        "-p",
        "convnext-codegen",
    ])
}

/// Where host builds with the DSP-form kernels go (`CONVNEXT_PACKED_ON_HOST`).
const PACKED_TARGET_DIR: &str = "target/packed";

/// `cargo` with the DSP-form kernels on the host (exact instruction models).
fn cargo_packed() -> Command {
    let mut c = cargo_cmd();
    c.env("CONVNEXT_PACKED_ON_HOST", "1")
        .env("CARGO_TARGET_DIR", PACKED_TARGET_DIR);
    c
}

fn test() -> bool {
    cargo(&["test", "--workspace", "--release"])
        && {
            eprintln!("\n==> the kernel tests again, the host's AVX2 loops off");
            cargo_cmd()
                .env("CONVNEXT_HOST_NO_AVX2", "1")
                .args(["test", "--release", "-p", "convnext"])
                .args(["--test", "kernels_match_naive", "--test", "conformance"])
                .status()
                .is_ok_and(|s| s.success())
        }
        && {
            eprintln!("\n==> the kernel tests again, DSP-form kernels on the host");
            cargo_packed()
                .args(["test", "--release", "-p", "convnext"])
                .args(["--test", "kernels_match_naive", "--lib"])
                .status()
                .is_ok_and(|s| s.success())
        }
        && {
            eprintln!("\n==> the kernel tests again, portable kernels on the host");
            cargo_cmd()
                .env("CONVNEXT_PORTABLE_ON_HOST", "1")
                .env("CARGO_TARGET_DIR", "target/portable")
                .args(["test", "--release", "-p", "convnext"])
                .args(["--test", "kernels_match_naive", "--lib"])
                .status()
                .is_ok_and(|s| s.success())
        }
}

/// The value after `"key":"` in a JSON text (xtask stays dependency-free).
fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    json[start..].split('"').next()
}

/// The CRC of the default model's int8 logits on the first 100 test images,
/// from `convnext eval` run through `cargo` (`what` names it in messages).
fn host_crc(cargo: Command, what: &str) -> Result<String, String> {
    let crc = host_crc_of(cargo, what, DEFAULT_MODEL, 100)?;
    eprintln!("{what} int8 logits crc32 {crc}");
    Ok(crc)
}

/// The bundled default model (ConvNeXt v1).
pub(crate) const DEFAULT_MODEL: &str = "models/fmnist-convnext";

/// The bundled ConvNeXt V2 (GRN), run on the emulated boards too.
pub(crate) const V2_MODEL: &str = "models/fmnist-convnextv2";

/// The CRC of `model`'s int8 logits on its first `limit` test images.
pub(crate) fn host_crc_of(
    mut cargo: Command,
    what: &str,
    model: &str,
    limit: usize,
) -> Result<String, String> {
    eprintln!("\n==> {what}: convnext eval --precision int8 --limit {limit} --crc");
    let out = cargo
        .args([
            "run",
            "--release",
            "--quiet",
            "--bin",
            "convnext",
            "--",
            "eval",
        ])
        .args(["--model", model, "--precision", "int8"])
        .args(["--limit", &limit.to_string(), "--crc", "--json"])
        .output()
        .map_err(|e| format!("{what} eval failed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} eval failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    json_str(&text, "logits_crc32")
        .map(str::to_string)
        .ok_or_else(|| format!("{what} eval printed no logits_crc32: {text}"))
}

/// The bundled ConvNeXt V2 on every emulated board: the same CRC as the
/// host's plan, and no panic reachable from its `forward` (GRN's integer
/// square roots and divisions included).
fn v2_on_emulated_boards() -> bool {
    model_on_boards("ConvNeXt V2", V2_MODEL, |_| true)
}

/// The default model with a few faint channels ([`faint_channels`]) on the
/// DSP cores (the M4F, M7 and M33; the Armv6-M build has no fused loop to
/// leave): the same CRC as the host's plan.
fn faint_channels_on_dsp_boards() -> bool {
    match faint_channels::write(DEFAULT_MODEL) {
        Ok(dir) => model_on_boards("faint channels", &dir.to_string_lossy(), |b| {
            b.target != "thumbv6m-none-eabi"
        }),
        Err(e) => {
            eprintln!("{e}");
            false
        }
    }
}

/// `model` on the emulated boards `pick` keeps: each board's CRC equal to
/// the host plan's, and no panic reachable from its `forward`.
fn model_on_boards(what: &str, model: &str, pick: impl Fn(&Board) -> bool) -> bool {
    let host = match host_crc_of(cargo_cmd(), &format!("host, {what}"), model, 100) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    eprintln!("host {what} int8 logits crc32 {host}");
    let mut ok = true;
    for b in BOARDS.iter().filter(|b| b.emulated() && pick(b)) {
        let line = cargo_in_board(b, "run", None, Some(model)).and_then(|text| {
            summary_line(b, &text)
                .map(str::to_string)
                .ok_or_else(|| format!("{text}\n{}: no summary line", b.dir))
        });
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{e}");
                ok = false;
                continue;
            }
        };
        eprintln!("{what}: {line}");
        let crc = board_run::summary_crc(&line);
        if crc != host {
            eprintln!(
                "{}: {what} crc32 {crc} differs from the host's {host}",
                b.name
            );
            ok = false;
        }
        ok &= no_panic_in(b, &format!("{what}: "));
    }
    ok
}

/// The firmware ELF a board's last build wrote.
fn board_elf(b: &Board) -> std::path::PathBuf {
    Path::new("target/boards")
        .join(b.target)
        .join("release")
        .join(b.dir)
}

/// Whether no panic is reachable from the board's `forward`, said on stderr
/// (`what` prefixes the model's name).
fn no_panic_in(b: &Board, what: &str) -> bool {
    match call_graph::check(&board_elf(b)) {
        Ok(n) => {
            eprintln!(
                "{}: {what}no panic reachable from forward ({n} functions searched)",
                b.name
            );
            true
        }
        Err(e) => {
            eprintln!("{}: {what}{e}", b.name);
            false
        }
    }
}

/// The default model's row-streamed forward (`--features streamed`: the image
/// pushed a row at a time) on every emulated board: the host's CRC again.
fn streamed_on_emulated_boards(host: &str) -> bool {
    let mut ok = true;
    for b in BOARDS.iter().filter(|b| b.emulated()) {
        let line = cargo_in_board(b, "run", Some("streamed"), None).and_then(|text| {
            summary_line(b, &text)
                .map(str::to_string)
                .ok_or_else(|| format!("{text}\n{}: no summary line", b.dir))
        });
        match line {
            Ok(l) => {
                eprintln!("row-streamed {l}");
                if !l.contains(&format!("logits crc32 {host},")) {
                    eprintln!(
                        "{}: the row-streamed CRC differs from the host's {host}",
                        b.name
                    );
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    ok
}

/// Run the emulated boards, check their CRCs against the host, build the
/// real boards, and print the README's board table.
fn boards() -> bool {
    let host_crc = match host_crc(cargo_cmd(), "host") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    match host_crc_of(cargo_packed(), "host, DSP-form kernels", DEFAULT_MODEL, 100) {
        Ok(c) if c == host_crc => {
            eprintln!("host with DSP-form kernels: crc32 {c}, the same")
        }
        Ok(c) => {
            eprintln!("host with DSP-form kernels: crc32 {c} differs from {host_crc}");
            return false;
        }
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    }
    let mut rows = Vec::new();
    let mut ok = true;
    // Stack high-water per target, measured on the emulated boards (same code).
    let mut stack_by_target: Vec<(&str, u64)> = Vec::new();
    for b in &BOARDS {
        let verb = if b.emulated() { "run" } else { "build" };
        let text = match cargo_in_board(b, verb, None, None) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                ok = false;
                continue;
            }
        };
        let mut instructions = String::from("built, not run");
        if b.emulated() {
            let Some(line) = summary_line(b, &text) else {
                eprintln!("{text}\n{}: no summary line", b.dir);
                ok = false;
                continue;
            };
            eprintln!("{line}");
            let crc = board_run::summary_crc(line);
            if crc != host_crc {
                eprintln!("{}: crc32 {crc} differs from the host's {host_crc}", b.name);
                ok = false;
            }
            instructions = instructions_per_inference(line).map_or("-".into(), |n| n.to_string());
            let stack = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{}: stack high-water ", b.name)))
                .and_then(|v| v.trim_end_matches(" bytes").trim().parse::<u64>().ok());
            match stack {
                Some(st) => stack_by_target.push((b.target, st)),
                None => {
                    eprintln!("{}: no stack high-water line", b.name);
                    ok = false;
                }
            }
        }
        let elf = board_elf(b);
        ok &= no_panic_in(b, "");
        let bound = match call_graph::stack_bound(&elf) {
            Ok((bytes, chain)) => {
                eprintln!(
                    "{}: forward's stack, static bound {bytes} bytes along\n      {}",
                    b.name,
                    chain.join("\n      -> ")
                );
                bytes.to_string()
            }
            Err(e) => {
                eprintln!("{}: {e}", b.name);
                ok = false;
                "-".into()
            }
        };
        match elf::usage(&elf, (b.ram.origin, b.ram.origin + b.ram.bytes)) {
            Ok(u) => {
                let stack = stack_by_target
                    .iter()
                    .find(|(t, _)| *t == b.target)
                    .map(|(_, s)| *s);
                let ram = match stack {
                    Some(st) => format!(
                        "{:.1} / {} KiB",
                        (u.ram + st) as f64 / 1024.0,
                        b.ram.bytes >> 10
                    ),
                    None => format!(
                        "{:.1} + stack / {} KiB",
                        u.ram as f64 / 1024.0,
                        b.ram.bytes >> 10
                    ),
                };
                let painted = stack.map_or("-".into(), |s| s.to_string());
                rows.push(format!(
                    "| {} | {} | {:.1} / {} KiB | {ram} | {painted} | {bound} | {} |",
                    b.name,
                    b.core,
                    u.flash as f64 / 1024.0,
                    b.flash.bytes >> 10,
                    instructions
                ))
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    ok &= v2_on_emulated_boards();
    ok &= faint_channels_on_dsp_boards();
    ok &= streamed_on_emulated_boards(&host_crc);
    ok &= new_firmware::run_on_m4f();
    ok &= c_boards::c_boards();
    println!(
        "\n| board | core | flash used / total | RAM used / total | stack high-water (painted, whole firmware) | forward's stack (static bound) | instructions per inference |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    ok
}

/// The kernel conformance suite's line for the host: the sum over the
/// host's implementations (portable, DSP on modelled instructions, x86),
/// each named after it.
fn host_conformance() -> Option<String> {
    eprintln!("\n==> cargo test --release -p convnext --test conformance");
    let out = cargo_cmd()
        .args([
            "test",
            "--release",
            "-p",
            "convnext",
            "--test",
            "conformance",
        ])
        .args(["--", "--nocapture", "--test-threads", "1"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let (mut passed, mut failed, mut each) = (0, 0, Vec::new());
    for line in text.lines().filter_map(|l| l.strip_prefix("conformance ")) {
        let (what, counts) = line.split_once(": ")?;
        let n = |word: &str| -> Option<u32> {
            let before = counts.split(&format!(" {word}")).next()?;
            before.rsplit(' ').next()?.parse().ok()
        };
        passed += n("passed")?;
        failed += n("failed")?;
        each.push(format!("{what} {}", n("passed")?));
    }
    if !out.status.success() {
        eprintln!("{text}");
        failed = failed.max(1);
    }
    Some(format!(
        "conformance host: {passed} passed, {failed} failed ({})",
        each.join(", ")
    ))
}

/// `cargo xtask conformance [--board B]`: the kernel conformance suite on
/// the host's implementations and as a firmware on every emulated board
/// (or on `B` alone, `host` for the host), one line each:
/// `conformance <board>: N passed, M failed`.
fn conformance(args: &[String]) -> bool {
    let only = args
        .iter()
        .position(|a| a == "--board")
        .and_then(|i| args.get(i + 1));
    let mut lines = Vec::new();
    let mut ok = true;
    if only.is_none_or(|b| b == "host") {
        match host_conformance() {
            Some(l) => {
                ok &= l.contains(" 0 failed");
                lines.push(l);
            }
            None => {
                eprintln!("conformance host: the test did not run");
                ok = false;
            }
        }
    }
    let boards = BOARDS
        .iter()
        .filter(|b| b.emulated() && only.is_none_or(|o| o == b.name || o == b.dir));
    for b in boards {
        let prefix = format!("conformance {}:", b.name);
        let text = cargo_in_board(b, "run", Some("conformance"), None).unwrap_or_else(|e| e);
        match text.lines().find(|l| l.starts_with(&prefix)) {
            Some(l) => {
                ok &= l.contains(" 0 failed");
                lines.push(l.to_string());
            }
            None => {
                eprintln!("{text}\n{}: no conformance line", b.dir);
                lines.push(format!("{prefix} did not run"));
                ok = false;
            }
        }
        for failed in text
            .lines()
            .filter(|l| l.contains("failed") && l.contains(&prefix) && !l.starts_with(&prefix))
        {
            eprintln!("{failed}");
        }
    }
    if let Some(b) = only.filter(|_| lines.is_empty()) {
        eprintln!("conformance: no emulated board {b}");
        return false;
    }
    for l in &lines {
        println!("{l}");
    }
    ok
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let ok = match task.as_str() {
        "ci" => {
            lint()
                && thumb()
                && package()
                && test()
                && python::python()
                && boards()
                && conformance(&[])
                && miri()
                && fuzz::fuzz(&ci_fuzz())
        }
        "conformance" => conformance(&std::env::args().skip(2).collect::<Vec<_>>()),
        "miri" => miri(),
        "no-panic" => no_panic_built(),
        "lint" => lint(),
        "thumb" => thumb(),
        "package" => package(),
        "test" => test(),
        "python" => python::python(),
        "boards" => boards(),
        "new-firmware" => new_firmware::run_on_m4f(),
        "c-boards" => c_boards::c_boards(),
        "profile-qemu" => profile::profile_qemu(&std::env::args().skip(2).collect::<Vec<_>>()),
        "ablation" => ablation::ablation(&std::env::args().skip(2).collect::<Vec<_>>()),
        "bench-peers" => peers::bench_peers(&std::env::args().skip(2).collect::<Vec<_>>()),
        "fuzz" => fuzz::fuzz(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("usage: cargo xtask ci|lint|thumb|package|test|python|boards|new-firmware|c-boards|conformance [--board B]|profile-qemu [--board B] [--model DIR] [--calibration-file CAL.json] [--json]|ablation [--qemu]|bench-peers [--json] [--rounds R] [--only MODELS]|miri|no-panic|fuzz [--seconds N] [--only TARGETS]");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
