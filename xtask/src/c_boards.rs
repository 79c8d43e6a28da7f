//! The C door on the emulated boards: `convnext export-c --board B` puts the
//! bundled v1 and V2 models into one static library, the C firmware of
//! `boards/c-qemu-mps2/` (CMake, Debian's arm-none-eabi-gcc and newlib)
//! links it, runs the bundled test images under QEMU and must print the
//! host's CRC for each model.

use crate::boards::{Board, Run, BOARDS};
use crate::{call_graph, cargo_cmd, elf, host_crc_of, DEFAULT_MODEL, V2_MODEL};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The boards the C firmware runs on: the M4F, the M33 and the Armv6-M build.
const C_BOARDS: [&str; 3] = ["qemu-mps2-an386", "qemu-mps2-an505", "qemu-mps2-an385"];

/// Test images bundled, as in the Rust firmware.
const IMAGES: usize = 100;

/// Build and run the C firmware on every board of [`C_BOARDS`].
pub fn c_boards() -> bool {
    let crcs = [DEFAULT_MODEL, V2_MODEL].map(|m| host_crc_of(cargo_cmd(), "host", m, IMAGES));
    let [Ok(v1), Ok(v2)] = crcs else {
        eprintln!("host CRCs: {crcs:?}");
        return false;
    };
    let mut ok = true;
    for b in BOARDS.iter().filter(|b| C_BOARDS.contains(&b.dir)) {
        match run(b) {
            Ok(lines) => {
                for (model, want) in [("fashion", &v1), ("fashion_v2", &v2)] {
                    let prefix = format!("{} C {model}: ", b.name);
                    match lines.iter().find(|l| l.starts_with(&prefix)) {
                        Some(l) if l.ends_with(&format!("logits crc32 {want}")) => {
                            eprintln!("{l}, the host's")
                        }
                        Some(l) => {
                            eprintln!("{l}: the host's is {want}");
                            ok = false;
                        }
                        None => {
                            eprintln!("{}: no line for {model}:\n{}", b.name, lines.join("\n"));
                            ok = false;
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", b.name);
                ok = false;
            }
        }
    }
    ok
}

/// Export, build and run the C firmware for `b`; the lines it printed.
fn run(b: &Board) -> Result<Vec<String>, String> {
    let Run::Qemu { machine, .. } = b.run else {
        return Err("not an emulated board".into());
    };
    let dir = PathBuf::from("target/c-boards").join(b.dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir.canonicalize().map_err(|e| e.to_string())?;
    let export = dir.join("convnext");
    let _ = std::fs::remove_dir_all(&export);
    eprintln!("\n==> {}: convnext export-c --board {}", b.name, b.dir);
    let cargo_dir = Path::new("target/c-boards/cargo");
    std::fs::create_dir_all(cargo_dir).map_err(|e| e.to_string())?;
    step(
        cargo_cmd()
            .args(["run", "--release", "--quiet", "--bin", "convnext", "--"])
            .args(["export-c", "--board", b.dir, "--library", "fashion_models"])
            .args(["--model", DEFAULT_MODEL, "--name", "fashion"])
            .args(["--model", V2_MODEL, "--name", "fashion_v2"])
            .arg("--out")
            .arg(&export)
            .env(
                "CARGO_TARGET_DIR",
                cargo_dir.canonicalize().map_err(|e| e.to_string())?,
            ),
        "convnext export-c",
    )?;
    write_images(&dir)?;
    std::fs::write(dir.join("memory.ld"), memory_ld(b)).map_err(|e| e.to_string())?;
    let build = dir.join("build");
    let _ = std::fs::remove_dir_all(&build);
    let source = Path::new("boards/c-qemu-mps2")
        .canonicalize()
        .map_err(|e| e.to_string())?;
    eprintln!("==> {}: cmake, arm-none-eabi-gcc", b.name);
    step(
        Command::new("cmake")
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build)
            .arg(format!(
                "-DCMAKE_TOOLCHAIN_FILE={}",
                source.join("arm-none-eabi.cmake").display()
            ))
            .arg(format!("-DBOARD_NAME={}", b.name))
            .arg(format!("-DBOARD_CPU_FLAGS={}", gcc_flags(b)))
            .arg(format!(
                "-DBOARD_MEMORY={}",
                dir.join("memory.ld").display()
            ))
            .arg(format!("-DCONVNEXT_DIR={}", export.display()))
            .arg(format!("-DIMAGES_C={}", dir.join("images.c").display())),
        "cmake (configure)",
    )?;
    step(
        Command::new("cmake").arg("--build").arg(&build),
        "cmake --build",
    )?;
    let elf_path = build.join("firmware");
    if let Ok(u) = elf::usage(&elf_path, (b.ram.origin, b.ram.origin + b.ram.bytes)) {
        eprintln!(
            "{}: C firmware flash {:.1} KiB, RAM {:.1} KiB (static)",
            b.name,
            u.flash as f64 / 1024.0,
            u.ram as f64 / 1024.0
        );
    }
    for entry in ["fashion_forward", "fashion_v2_forward"] {
        let n = call_graph::check_from(&elf_path, |f| f == entry)?;
        let (bytes, _) = call_graph::stack_bound_from(&elf_path, |f| f == entry)?;
        eprintln!(
            "{}: no panic reachable from {entry} ({n} functions searched); its stack, static bound {bytes} bytes",
            b.name
        );
    }
    eprintln!("==> {}: qemu-system-arm -machine {machine}", b.name);
    let out = Command::new("timeout")
        .args(["300", "qemu-system-arm", "-machine", machine, "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf_path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("qemu-system-arm: {e}"))?;
    // Semihosting's console is QEMU's stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!("{text}\nthe firmware failed ({})", out.status));
    }
    Ok(text.lines().map(str::to_string).collect())
}

/// Run `cmd`; its output on failure.
fn step(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}\n{what} failed ({})",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ))
    }
}

/// arm-none-eabi-gcc's flags for the board's core and float ABI (the Rust
/// target's: `eabihf` hard float, `eabi` soft).
fn gcc_flags(b: &Board) -> String {
    let fpu = match (b.target.ends_with("eabihf"), b.cpu) {
        (false, _) => "-mfloat-abi=soft",
        (true, "cortex-m4") => "-mfloat-abi=hard -mfpu=fpv4-sp-d16",
        (true, "cortex-m7") => "-mfloat-abi=hard -mfpu=fpv5-d16",
        (true, _) => "-mfloat-abi=hard -mfpu=fpv5-sp-d16",
    };
    format!("-mcpu={} -mthumb {fpu}", b.cpu)
}

/// The linker script's regions, from the board table.
fn memory_ld(b: &Board) -> String {
    format!(
        "/* {} ({}): from boards/boards.rs. */\nMEMORY\n{{\n  FLASH : ORIGIN = {:#010x}, LENGTH = {:#x}\n  RAM : ORIGIN = {:#010x}, LENGTH = {:#x}\n}}\n",
        b.name, b.core, b.flash.origin, b.flash.bytes, b.ram.origin, b.ram.bytes
    )
}

/// `images.h` and `images.c`: the first [`IMAGES`] test images and labels
/// of the default model as C arrays.
fn write_images(dir: &Path) -> Result<(), String> {
    let model = Path::new(DEFAULT_MODEL);
    let (shape, pixels) = read_npy(&model.join("test_images.npy"))?;
    let (_, labels) = read_npy(&model.join("test_labels.npy"))?;
    let per: usize = shape[1..].iter().product();
    let label_bytes = labels.len() / shape[0];
    let mut c = String::from("/* The bundled test images (u8 HWC) and labels. Generated. */\n#include \"images.h\"\n\nconst uint8_t IMAGES[] = {\n");
    for img in pixels.chunks_exact(per).take(IMAGES) {
        let row: Vec<String> = img.iter().map(u8::to_string).collect();
        let _ = writeln!(c, "    {},", row.join(","));
    }
    c.push_str("};\n\nconst uint8_t LABELS[] = {");
    let l: Vec<String> = labels
        .chunks_exact(label_bytes)
        .take(IMAGES)
        .map(|b| b[0].to_string())
        .collect();
    let _ = writeln!(c, "{}}};", l.join(","));
    let h = format!(
        "/* The bundled test images. Generated. */\n#ifndef IMAGES_H\n#define IMAGES_H\n#include <stdint.h>\n#define IMAGE_COUNT {IMAGES}u\n#define IMAGE_BYTES {per}u\nextern const uint8_t IMAGES[];\nextern const uint8_t LABELS[];\n#endif\n"
    );
    std::fs::write(dir.join("images.c"), c).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("images.h"), h).map_err(|e| e.to_string())
}

/// A little-endian `.npy`'s shape and data bytes (labels are read by their
/// low byte: the bundled ones are small and non-negative).
fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<u8>), String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = || format!("{}: not a .npy version 1 file", path.display());
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" || b[6] != 1 {
        return Err(bad());
    }
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(b.get(10..10 + hlen).ok_or_else(bad)?).map_err(|_| bad())?;
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(bad)?
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    Ok((shape, b[10 + hlen..].to_vec()))
}
