//! Shared `build.rs` logic of the board crates: generate the default model's
//! int8 forward pass, bundle the first `n` test images with their labels,
//! compute on the host (the plan executor) the CRC the board must reproduce,
//! and write the board's `memory.x` and `board.rs` constants from the one
//! board table (`boards/boards.rs`).

#[path = "../../boards.rs"]
pub mod boards;

use boards::{Board, Run};
use convnext::crc32::Crc32;
use convnext_codegen::build_script::{generate, generate_with_calibration};
use convnext_codegen::dataset::load_test_set;
use std::fmt::Write as _;
use std::path::PathBuf;

/// What a board's RAM must hold besides the arena (stack and statics), bytes.
pub const STACK_RESERVE: usize = 16 * 1024;

/// Run from a board's `build.rs`: the board is the calling crate (by name) in
/// the board table. The build fails with a clear message if the arena and
/// stack reserve do not fit its RAM.
pub fn prepare(images: usize) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let krate = std::env::var("CARGO_PKG_NAME").expect("CARGO_PKG_NAME");
    let board = Board::by_dir(&krate)
        .unwrap_or_else(|| panic!("{krate} is not in boards/boards.rs; add it there"));
    // The bundled default model, or the one `cargo xtask profile-qemu --model` names.
    println!("cargo:rerun-if-env-changed=CONVNEXT_MODEL");
    let model_dir = std::env::var_os("CONVNEXT_MODEL").map_or_else(
        || manifest.join("../../models/fmnist-convnext"),
        PathBuf::from,
    );
    // A saved calibration (`convnext calibrate --out`), where
    // `cargo xtask profile-qemu --calibration-file` names one: its numerics
    // and ranges, no recalibrating.
    println!("cargo:rerun-if-env-changed=CONVNEXT_CALIBRATION_FILE");
    let generated = match std::env::var_os("CONVNEXT_CALIBRATION_FILE") {
        Some(file) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&file).display());
            generate_with_calibration(&model_dir, file.as_ref(), &out, "model")
        }
        None => generate(&model_dir, &out, "model"),
    };
    let (_, plan) = generated.unwrap_or_else(|e| panic!("convnext codegen: {e}"));
    if (plan.arena_bytes + STACK_RESERVE) as u64 > board.ram.bytes {
        panic!(
            "the model does not fit {}: arena {} bytes + {} stack reserve > {} bytes of RAM",
            board.name, plan.arena_bytes, STACK_RESERVE, board.ram.bytes
        );
    }
    let test = load_test_set(&model_dir).unwrap_or_else(|e| panic!("test set: {e}"));
    let set = test.images.take(images);
    let labels: Vec<u8> = test.labels[..set.count].iter().map(|&l| l as u8).collect();
    std::fs::write(out.join("images.bin"), &set.pixels).expect("write images");
    std::fs::write(out.join("labels.bin"), &labels).expect("write labels");
    let logits = plan.run_u8(&set.pixels);
    let mut crc = Crc32::new();
    crc.update_i32(&logits);
    let n = plan.model.num_labels;
    let correct = logits
        .chunks_exact(n)
        .zip(&labels)
        .filter(|(l, &y)| convnext::network::argmax(l) == y as usize)
        .count();
    let mut s = String::new();
    let _ = writeln!(s, "/// What the host plan computed for the bundled images.");
    let _ = writeln!(
        s,
        "pub const EXPECTED: board_common::Expected = board_common::Expected {{ images: {}, crc: 0x{:08x}, correct: {correct} }};",
        set.count,
        crc.finish()
    );
    std::fs::write(out.join("expected.rs"), s).expect("write expected.rs");
    std::fs::write(out.join("board.rs"), board_consts(board)).expect("write board.rs");
    std::fs::write(out.join("memory.x"), board.memory_x()).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../boards.rs");
    println!(
        "cargo:rerun-if-changed={}",
        model_dir.join("test_images.npy").display()
    );
}

/// The board table's entry as constants the firmware reads.
fn board_consts(b: &Board) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "/// The board's name in logs.");
    let _ = writeln!(s, "pub const NAME: &str = {:?};", b.name);
    let _ = writeln!(s, "/// Start of RAM (the stack's floor under flip-link).");
    let _ = writeln!(s, "pub const RAM_START: usize = {:#x};", b.ram.origin);
    if let Run::Qemu {
        timer_base,
        timer_ns_per_tick,
        ..
    } = b.run
    {
        let _ = writeln!(s, "/// CMSDK APB timer 0.");
        let _ = writeln!(s, "pub const TIMER_BASE: usize = {timer_base:#x};");
        let _ = writeln!(s, "/// Nanoseconds per timer tick.");
        let _ = writeln!(s, "pub const TIMER_NS_PER_TICK: u64 = {timer_ns_per_tick};");
    }
    s
}
