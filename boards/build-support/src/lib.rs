//! Shared `build.rs` logic of the board crates: generate the default model's
//! int8 forward pass, bundle the first `n` test images with their labels,
//! compute on the host (the plan executor) the CRC the board must reproduce,
//! and put `memory.x` on the linker path.

use convnext::crc32::Crc32;
use convnext_codegen::build_script::generate;
use convnext_codegen::dataset::load_test_set;
use std::fmt::Write as _;
use std::path::PathBuf;

/// What a board's RAM must hold besides the arena (stack and statics), bytes.
pub const STACK_RESERVE: usize = 16 * 1024;

/// Run from a board's `build.rs`. `ram_bytes` is the board's RAM: the build
/// fails with a clear message if the arena and stack reserve do not fit.
pub fn prepare(images: usize, ram_bytes: usize) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let model_dir = manifest.join("../../models/fmnist-convnext");
    let (_, plan) =
        generate(&model_dir, &out, "model").unwrap_or_else(|e| panic!("convnext codegen: {e}"));
    if plan.arena_bytes + STACK_RESERVE > ram_bytes {
        panic!(
            "the model does not fit this board: arena {} bytes + {} stack reserve > {} bytes of RAM",
            plan.arena_bytes, STACK_RESERVE, ram_bytes
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
    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!(
        "cargo:rerun-if-changed={}",
        model_dir.join("test_images.npy").display()
    );
}
