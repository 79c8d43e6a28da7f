//! `run` and `eval` read `.npy` inputs a chunk at a time and `run` writes its
//! output as the chunks come, so memory stays flat with the set's size: the
//! bundled 10,000 test images span more than one chunk, and the result is
//! the one computed in one piece. `calibrate` reads only the first 1024
//! images of its file.

mod common;

use common::{convnext, root, stderr};
use convnext_codegen::npy;
use std::path::Path;

const MODEL: &str = "models/fmnist-convnext";

#[test]
fn run_over_many_chunks_gives_evals_logits() {
    let images = root().join(MODEL).join("test_images.npy");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("streamed_int32.npy");
    let o = convnext(&[
        "run",
        "--model",
        MODEL,
        "--precision",
        "int8",
        "--output-kind",
        "int32_logits",
        "--input",
        images.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = npy::read(&out).unwrap();
    assert_eq!(a.shape, [10_000, 10]);
    let npy::NpyData::I64(logits) = a.data else {
        panic!("int32 logits expected")
    };
    let logits: Vec<i32> = logits.iter().map(|&v| v as i32).collect();
    let mut crc = convnext::crc32::Crc32::new();
    crc.update_i32(&logits);
    let o = convnext(&[
        "eval",
        "--model",
        MODEL,
        "--precision",
        "int8",
        "--crc",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("int8 logits crc32 0x{:08x}", crc.finish())),
        "{text}"
    );

    // The f32 logits of the same images, against HF's.
    let out = out.with_file_name("streamed_f32.npy");
    let o = convnext(&[
        "run",
        "--model",
        MODEL,
        "--input",
        images.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = npy::read(&out).unwrap().into_f32(&out).unwrap();
    let hf = root().join(MODEL).join("test_logits.npy");
    let hf = npy::read(&hf).unwrap().into_f32(&hf).unwrap();
    assert_eq!(got.shape, hf.shape);
    assert!(got.relative_max_error(&hf) <= 1e-4);
}

#[test]
fn calibrate_reads_only_the_images_it_uses() {
    // 10,000 images in the file; calibration takes the first 1024.
    let images = root().join(MODEL).join("test_images.npy");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("streamed_cal.json");
    let o = convnext(&[
        "calibrate",
        "--model",
        MODEL,
        "--calibration",
        images.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("from 1024 images of [1, 28, 28]"), "{said}");
}
