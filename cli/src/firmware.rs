//! `convnext new-firmware`: a standalone firmware crate for one board of
//! `boards/boards.rs`, outside the repository. The crate holds the
//! checkpoint and its saved calibration (`model/`), the first test images
//! (`images.bin`), its own `memory.x`, `.cargo/config.toml` (runner: QEMU or
//! probe-rs), `build.rs` (the codegen) and a short `src/main.rs` that
//! classifies the images and prints the CRC of the logits, in the boards'
//! format.

use crate::boards::{Board, Run, BOARDS};
use crate::engine::{engine, engine_dep, Engine};
use crate::failure::{usage, Failure};
use crate::int8::calibrate_and_gate;
use crate::options::NewFirmwareArgs;
use convnext::crc32::Crc32;
use convnext_codegen::dataset::read_images;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::{input_bytes, InputQuantization};
use convnext_codegen::saved_calibration::SavedCalibration;
use convnext_codegen::{load_model, Error};
use std::path::Path;

/// RAM the firmware needs besides the arena: stack and statics (the boards'
/// own reserve, `board-build-support`'s `STACK_RESERVE`).
const STACK_RESERVE: usize = 16 * 1024;

/// `convnext new-firmware`.
pub fn new_firmware(a: &NewFirmwareArgs) -> Result<(), Failure> {
    let board = board(&a.board)?;
    let engine = engine(&a.engine)?;
    if a.images == 0 {
        return Err(usage("--images 0: embed at least one image".into()));
    }
    if a.int8.calibration_file.is_some() && a.int8.calibrate.calibration.is_some() {
        return Err(usage(
            "--calibration and --calibration-file: the saved calibration already fixes the network"
                .into(),
        ));
    }
    let out = a.out.as_path();
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(usage(format!(
            "--out {}: not empty; new-firmware writes a new crate and overwrites nothing",
            out.display()
        )));
    }
    let dir = a.model.as_path();
    let model = load_model(dir)?;
    let processor = load_processor(dir)?;
    let saved = match &a.int8.calibration_file {
        Some(file) => SavedCalibration::read(file, dir)?,
        None => calibrate_and_gate(dir, &a.int8.calibrate, a.gate.min_sqnr)?,
    };
    let plan = saved.plan(&model, &processor)?;
    let ram = plan.arena_bytes + STACK_RESERVE;
    if ram as u64 > board.ram.bytes {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "the model does not fit {}: arena {} bytes + {STACK_RESERVE} bytes of stack > {} bytes of RAM (convnext report --board {} says where it goes)",
                board.name, plan.arena_bytes, board.ram.bytes, board.dir
            ),
        }));
    }
    let (images, source) = embedded_images(dir, &processor, &plan, a.images)?;
    let count = images.len() / plan.input_bytes;
    let mut crc = Crc32::new();
    crc.update_i32(&plan.run_u8(&images));

    let name = crate_name(out);
    let write = |rel: &str, text: &[u8]| -> Result<(), Failure> {
        let p = out.join(rel);
        let parent = p.parent().unwrap_or(out);
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::write(&p, text))
            .map_err(|source| io(&p, source))
    };
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        let from = dir.join(f);
        if from.exists() {
            let bytes = std::fs::read(&from).map_err(|source| io(&from, source))?;
            write(&format!("model/{f}"), &bytes)?;
        }
    }
    let cal = out.join("model/calibration.json");
    saved.write(&cal)?;
    write("images.bin", &images)?;
    write("Cargo.toml", cargo_toml(&name, board, &engine).as_bytes())?;
    write(".cargo/config.toml", cargo_config(board).as_bytes())?;
    write("rust-toolchain.toml", toolchain(board).as_bytes())?;
    write("memory.x", board.memory_x().as_bytes())?;
    write("build.rs", BUILD_RS.as_bytes())?;
    write("src/main.rs", main_rs(board).as_bytes())?;
    write(".gitignore", b"target/\n")?;
    let expected = format!(
        "{}: {count} images, logits crc32 0x{:08x}",
        board.name,
        crc.finish()
    );
    write(
        "README.md",
        readme(
            &name,
            board,
            model.config.labels.len(),
            count,
            &source,
            &expected,
        )
        .as_bytes(),
    )?;
    println!(
        "wrote {}: a firmware crate for {} ({}), {count} images from {source}, arena {} bytes",
        out.display(),
        board.name,
        board.core,
        plan.arena_bytes
    );
    println!("the host's int8 logits for them: {expected}");
    match board.run {
        Run::Qemu { .. } => println!("run it: cd {} && cargo run --release", out.display()),
        Run::ProbeRs { .. } => println!(
            "flash and run it: cd {} && cargo run --release (probe-rs)",
            out.display()
        ),
    }
    Ok(())
}

/// A failed read or write of `path`.
fn io(path: &Path, source: std::io::Error) -> Failure {
    Failure::Model(Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The board `--board` names, by folder or name.
pub fn board(name: &str) -> Result<&'static Board, Failure> {
    BOARDS
        .iter()
        .find(|b| b.dir == name || b.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = BOARDS.iter().map(|b| b.dir).collect();
            usage(format!(
                "--board {name:?}: not a board of boards/boards.rs (one of {})",
                names.join(", ")
            ))
        })
}

/// The first `n` images of the folder's `test_images.npy` (else of its
/// `calibration_images.npy`) as the firmware's input bytes, and which file
/// they came from.
fn embedded_images(
    dir: &Path,
    processor: &convnext::preprocess::ProcessorConfig,
    plan: &convnext_codegen::plan::Plan,
    n: usize,
) -> Result<(Vec<u8>, String), Failure> {
    let file = ["test_images.npy", "calibration_images.npy"]
        .into_iter()
        .find(|f| dir.join(f).is_file())
        .ok_or_else(|| {
            Failure::Model(Error::Input {
                message: format!(
                    "{}: no test_images.npy or calibration_images.npy, u8 images (N, H, W[, C]), to embed in the firmware",
                    dir.display()
                ),
            })
        })?;
    let set = read_images(&dir.join(file))?.take(n);
    let (x, u8s) = set.model_inputs(processor)?;
    let m = &plan.model;
    if x.shape[1..] != [m.input_c, m.input_h, m.input_w] {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "{file} preprocesses to {:?}, the int8 network was calibrated for {:?}",
                &x.shape[1..],
                [m.input_c, m.input_h, m.input_w]
            ),
        }));
    }
    let bytes = match m.input {
        InputQuantization::Camera => u8s,
        InputQuantization::Calibrated(_) => input_bytes(&x, m),
    };
    Ok((bytes, file.to_string()))
}

/// A package name from the output folder's name.
fn crate_name(out: &Path) -> String {
    let raw = out
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        Some(_) => format!("firmware-{name}"),
        None => "firmware".into(),
    }
}

/// The crate's manifest.
fn cargo_toml(name: &str, b: &Board, engine: &Engine) -> String {
    let log = match b.run {
        Run::Qemu { .. } => "# defmt's log over semihosting, and the exit code QEMU returns.\ndefmt-semihosting = \"0.4\"\nsemihosting = \"0.1\"\n",
        Run::ProbeRs { .. } => "# defmt's log over RTT, read by probe-rs.\ndefmt-rtt = \"1\"\n",
    };
    let boot2 = if b.boot2_bytes > 0 {
        "# The RP2040's second-stage bootloader, in the flash's first 256 bytes.\nrp2040-boot2 = \"0.3\"\n"
    } else {
        ""
    };
    format!(
        "# Made by `convnext new-firmware` for {board} ({core}).\n\
         [package]\n\
         name = \"{name}\"\n\
         version = \"0.1.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         # A workspace of its own, wherever the folder lives.\n\
         [workspace]\n\
         \n\
         [dependencies]\n\
         # The runtime; the same engine (path or git) as the codegen below.\n\
         {runtime}\n\
         cortex-m = {{ version = \"0.7\", features = [\"critical-section-single-core\"] }}\n\
         cortex-m-rt = \"0.7\"\n\
         defmt = \"1\"\n\
         {log}{boot2}\
         \n\
         [build-dependencies]\n\
         # build.rs turns model/ into the int8 forward pass.\n\
         {codegen}\n\
         \n\
         [profile.release]\n\
         opt-level = 3\n\
         # Symbols for defmt and the debugger; they are not flashed.\n\
         debug = 2\n\
         codegen-units = 1\n\
         lto = \"fat\"\n\
         \n\
         # The codegen in build.rs quantizes and plans the model: fast when optimised.\n\
         [profile.release.build-override]\n\
         opt-level = 3\n",
        board = b.name,
        core = b.core,
        runtime = engine_dep(engine, "convnext", "", b.runtime_features()),
        codegen = engine_dep(engine, "convnext-codegen", "codegen", &[]),
    )
}

/// `.cargo/config.toml`: the target, the runner, the linker scripts.
fn cargo_config(b: &Board) -> String {
    let runner = match b.run {
        Run::Qemu { machine, .. } => format!(
            "# QEMU's {machine} machine (its default CPU is the board's core); defmt-print\n\
             # decodes the log; the firmware's exit code is cargo run's.\n\
             runner = [\"bash\", \"-c\", \"set -o pipefail; qemu-system-arm -machine {machine} -nographic -semihosting-config enable=on,target=native -kernel \\\"$0\\\" </dev/null | defmt-print -e \\\"$0\\\"\"]\n"
        ),
        Run::ProbeRs { chip } => format!("# Flash and run over a debug probe.\nrunner = \"probe-rs run --chip {chip}\"\n"),
    };
    format!(
        "[build]\n\
         target = \"{target}\"\n\
         \n\
         [target.{target}]\n\
         {runner}\
         # With `cargo install flip-link`, linker = \"flip-link\" puts the stack below\n\
         # the statics, so an overflow faults instead of overwriting them.\n\
         rustflags = [\"-C\", \"link-arg=-Tlink.x\", \"-C\", \"link-arg=-Tdefmt.x\", \"-C\", \"target-cpu={cpu}\"]\n\
         \n\
         [env]\n\
         DEFMT_LOG = \"info\"\n",
        target = b.target,
        cpu = b.cpu,
    )
}

/// `rust-toolchain.toml`: rustup installs the board's target on first build.
fn toolchain(b: &Board) -> String {
    format!(
        "[toolchain]\nchannel = \"stable\"\ntargets = [\"{}\"]\n",
        b.target
    )
}

/// `build.rs`: the same for every board.
pub const BUILD_RS: &str = r#"//! Generate the int8 forward pass from model/ (the checkpoint and its saved
//! calibration) into OUT_DIR/model.rs, and put memory.x on the link path.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    convnext_codegen::build_script::generate_with_calibration(
        "model".as_ref(),
        "model/calibration.json".as_ref(),
        &out,
        "model",
    )
    .unwrap_or_else(|e| panic!("convnext codegen: {e}"));
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-search={root}");
    println!("cargo:rerun-if-changed=memory.x");
}
"#;

/// `src/main.rs` for the board: classify `images.bin`, print each top-1
/// label and the CRC line.
pub fn main_rs(b: &Board) -> String {
    let (log, stop, done, header) = match b.run {
        Run::Qemu { .. } => (
            "use defmt_semihosting as _; // defmt's log goes out over semihosting",
            "semihosting::process::exit(2)",
            "semihosting::process::exit(0)",
            "exit (0: done) through semihosting.",
        ),
        Run::ProbeRs { .. } => (
            "use defmt_rtt as _; // defmt's log goes out over RTT",
            "halt()",
            "halt()",
            "stop at a breakpoint.",
        ),
    };
    let boot2 = if b.boot2_bytes > 0 {
        "\n/// The second-stage bootloader the RP2040's ROM runs from flash.\n\
         #[link_section = \".boot2\"]\n\
         #[used]\n\
         static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;\n"
    } else {
        ""
    };
    let panic_exit = match b.run {
        Run::Qemu { .. } => "semihosting::process::exit(101)",
        Run::ProbeRs { .. } => "halt()",
    };
    let halt = match b.run {
        Run::Qemu { .. } => "",
        Run::ProbeRs { .. } => {
            "\n/// Stop at a breakpoint, where probe-rs ends the run.\n\
             fn halt() -> ! {\n\
             \x20   loop {\n\
             \x20       cortex_m::asm::bkpt();\n\
             \x20   }\n\
             }\n"
        }
    };
    format!(
        r#"//! Classify the images in images.bin and print each top-1 label and the
//! CRC-32 of all int32 logits; then {header}
//! Board: {name}, {core}.
#![no_std]
#![no_main]

use convnext::{{crc32::Crc32, network::argmax}};
use cortex_m_rt::entry;
{log}

/// The int8 network build.rs generated from model/.
mod model {{
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}}

/// The board's name in the last line.
const BOARD: &str = "{name}";

/// Images as the camera gives them: u8 pixels at the input size, HWC.
static IMAGES: &[u8] = include_bytes!("../images.bin");
{boot2}
#[entry]
fn main() -> ! {{
    // All the RAM inference needs, in a static the firmware owns.
    let arena = cortex_m::singleton!(: [i8; model::ARENA_BYTES] = [0; model::ARENA_BYTES]);
    let arena = arena.expect("the arena is taken once");
    let mut logits = [0i32; model::NUM_LABELS];
    let mut crc = Crc32::new();
    let mut count = 0;
    for image in IMAGES.chunks_exact(model::INPUT_BYTES) {{
        if model::forward(image, arena, &mut logits).is_err() {{
            defmt::error!("the forward pass refused its buffers");
            {stop};
        }}
        crc.update_i32(&logits);
        defmt::println!("image {{}}: {{=str}}", count, model::LABELS[argmax(&logits)]);
        count += 1;
    }}
    let crc = crc.finish();
    defmt::println!(
        "{{=str}}: {{}} images, logits crc32 {{=u32:#010x}}",
        BOARD,
        count,
        crc
    );
    {done}
}}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {{
    defmt::error!("panic");
    {panic_exit}
}}
{halt}"#,
        name = b.name,
        core = b.core,
    )
}

/// The crate's README: what it is, how to run it, what to expect.
fn readme(
    name: &str,
    b: &Board,
    labels: usize,
    count: usize,
    source: &str,
    expected: &str,
) -> String {
    let run = match b.run {
        Run::Qemu { .. } => "Needs `qemu-system-arm` and `defmt-print` (`cargo install defmt-print`) on the PATH; runs under QEMU".to_string(),
        Run::ProbeRs { chip } => format!("Needs `probe-rs` and the board on a debug probe; flashes the {chip} and runs"),
    };
    format!(
        "# {name}\n\
         \n\
         Firmware for {board} ({core}) made by `convnext new-firmware`: it classifies\n\
         {count} images of `{source}` with the int8 network ({labels} labels) and prints\n\
         each top-1 label, then the CRC-32 of all int32 logits.\n\
         \n\
             cargo run --release\n\
         \n\
         {run}. The last line must read what the host computed:\n\
         \n\
             {expected}\n\
         \n\
         * `model/`: the checkpoint and its saved calibration (`convnext calibrate`);\n\
         \x20 `build.rs` generates the forward pass from them at build time.\n\
         * `images.bin`: the images, u8 HWC at the model's input size, one after another.\n\
         * `memory.x`: the board's flash and RAM; `.cargo/config.toml`: target and runner.\n\
         * The engine comes from `Cargo.toml`'s `convnext` and `convnext-codegen` lines\n\
         \x20 (a path or a git URL); keep the two on the same engine.\n",
        board = b.name,
        core = b.core,
    )
}
