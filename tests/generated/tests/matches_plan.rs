//! Generated code, compiled, gives the same bytes as the plan executor the
//! host simulation uses, and the same predictions.

use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::load_model;
use convnext_codegen::processor::load_processor;
use convnext_generated_test::fmnist_convnext as generated;
use std::path::Path;

#[test]
fn generated_forward_is_bit_identical_to_the_plan_executor() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    assert_eq!(generated::ARENA_BYTES, plan.arena_bytes);
    assert_eq!(generated::INPUT_SHAPE, [28, 28, 1]);
    assert_eq!(generated::LABELS[9], "Ankle boot");

    let test = load_test_set(&dir).unwrap().images.take(500);
    let want = plan.run_u8(&test.pixels);
    let mut arena = vec![0i8; generated::ARENA_BYTES];
    let mut got = Vec::new();
    for img in test.pixels.chunks_exact(generated::INPUT_BYTES) {
        let mut logits = [0i32; generated::NUM_LABELS];
        generated::forward(img, &mut arena, &mut logits).unwrap();
        got.extend_from_slice(&logits);
    }
    assert_eq!(got, want);
}

#[test]
fn generated_forward_rejects_wrong_buffers_without_panicking() {
    let mut arena = vec![0i8; generated::ARENA_BYTES];
    let mut logits = [0i32; generated::NUM_LABELS];
    let img = vec![0u8; generated::INPUT_BYTES];
    assert!(generated::forward(&img[1..], &mut arena, &mut logits).is_err());
    assert!(generated::forward(&img, &mut arena[1..], &mut logits).is_err());
    assert!(generated::forward(&img, &mut arena, &mut logits[1..]).is_err());
    assert!(generated::forward(&img, &mut arena, &mut logits).is_ok());
}

#[test]
fn generated_mixed_precision_forward_is_bit_identical_to_the_plan_executor() {
    use convnext_codegen::compile::build_mixed_plan;
    use convnext_generated_test::{fmnist_mixed as mixed, MIXED_F16_BLOCKS};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    assert_eq!(MIXED_F16_BLOCKS.len(), 1);
    let plan = build_mixed_plan(
        &model,
        &processor,
        &cal,
        DEFAULT_CALIBRATION,
        MIXED_F16_BLOCKS,
    )
    .unwrap();
    assert!(plan.ops.iter().any(|o| o.name.ends_with("_f16")));
    assert_eq!(mixed::ARENA_BYTES, plan.arena_bytes);
    let test = load_test_set(&dir).unwrap().images.take(100);
    let want = plan.run_u8(&test.pixels);
    let mut arena = vec![0i8; mixed::ARENA_BYTES];
    let mut got = Vec::new();
    for img in test.pixels.chunks_exact(mixed::INPUT_BYTES) {
        let mut logits = [0i32; mixed::NUM_LABELS];
        mixed::forward(img, &mut arena, &mut logits).unwrap();
        got.extend_from_slice(&logits);
    }
    assert_eq!(got, want);
}

#[test]
fn generated_convnext_v2_forward_is_bit_identical_to_the_plan_executor() {
    use convnext_generated_test::fmnist_convnextv2 as v2;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnextv2");
    let model = load_model(&dir).unwrap();
    assert!(model
        .stages
        .iter()
        .all(|s| s.blocks.iter().all(|b| b.grn.is_some())));
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    assert_eq!(v2::ARENA_BYTES, plan.arena_bytes);
    let test = load_test_set(&dir).unwrap().images.take(300);
    let want = plan.run_u8(&test.pixels);
    let mut arena = vec![0i8; v2::ARENA_BYTES];
    let mut got = Vec::new();
    for img in test.pixels.chunks_exact(v2::INPUT_BYTES) {
        let mut logits = [0i32; v2::NUM_LABELS];
        v2::forward(img, &mut arena, &mut logits).unwrap();
        got.extend_from_slice(&logits);
    }
    assert_eq!(got, want);
}

#[test]
fn generated_row_streamed_forward_gives_the_whole_image_forward_s_logits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    let test = load_test_set(&dir).unwrap().images.take(300);
    let mut arena = vec![0i8; generated::ARENA_BYTES];
    let mut stream_arena = vec![0i8; generated::STREAM_ARENA_BYTES];
    let row = generated::INPUT_SHAPE[1] * generated::INPUT_SHAPE[2];
    for img in test.pixels.chunks_exact(generated::INPUT_BYTES) {
        let mut want = [0i32; generated::NUM_LABELS];
        generated::forward(img, &mut arena, &mut want).unwrap();
        let mut got = [0i32; generated::NUM_LABELS];
        let mut stream = generated::forward_rows(&mut stream_arena).unwrap();
        for r in img.chunks_exact(row) {
            stream.push_row(r).unwrap();
        }
        generated::forward_rest(stream, &mut got).unwrap();
        assert_eq!(got, want);
    }
    // Too few rows, or a wrong logits buffer: errors, not panics.
    let mut stream = generated::forward_rows(&mut stream_arena).unwrap();
    stream.push_row(&test.pixels[..row]).unwrap();
    let mut logits = [0i32; generated::NUM_LABELS];
    assert!(generated::forward_rest(stream, &mut logits).is_err());
    let stream = generated::forward_rows(&mut stream_arena).unwrap();
    assert!(generated::forward_rest(stream, &mut logits[1..]).is_err());
}
