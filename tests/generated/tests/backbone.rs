//! The generated backbone `forward` (the default model with every stage as
//! an out feature, see build.rs) writes the same feature-map bytes as the
//! plan executor, and refuses wrong buffers without panicking.

use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::load_model;
use convnext_codegen::processor::load_processor;
use convnext_generated_test::fmnist_backbone as generated;
use std::path::Path;

#[test]
fn generated_backbone_forward_is_bit_identical_to_the_plan_executor() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    let stages: Vec<String> = ["stem", "stage1", "stage2", "stage3"]
        .map(String::from)
        .into();
    let model = load_model(&dir)
        .unwrap()
        .with_out_features(&stages)
        .unwrap()
        .as_backbone();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    assert_eq!(generated::ARENA_BYTES, plan.arena_bytes);
    assert_eq!(generated::FEATURE_MAP_BYTES, plan.feature_map_bytes);
    let names: Vec<&str> = generated::FEATURE_MAPS.iter().map(|m| m.name).collect();
    assert_eq!(names, ["stem", "stage1", "stage2", "stage3"]);
    assert_eq!(generated::FEATURE_MAPS[0].shape, [40, 14, 14]);
    assert_eq!(generated::FEATURE_MAPS[3].shape, [160, 3, 3]);
    assert_eq!(generated::NUM_LABELS, 0);

    let test = load_test_set(&dir).unwrap().images.take(200);
    let want = plan.run_feature_maps_u8(&test.pixels);
    let mut arena = vec![0i8; generated::ARENA_BYTES];
    let mut got = Vec::new();
    for img in test.pixels.chunks_exact(generated::INPUT_BYTES) {
        let mut maps = [0i8; generated::FEATURE_MAP_BYTES];
        generated::forward(img, &mut arena, &mut maps).unwrap();
        // Each spec finds its own map in the buffer.
        let last = generated::FEATURE_MAPS[3];
        assert_eq!(last.of(&maps).len(), 160 * 9);
        got.extend_from_slice(&maps);
    }
    assert_eq!(got, want);
}

#[test]
fn generated_backbone_forward_rejects_wrong_buffers_without_panicking() {
    let mut arena = vec![0i8; generated::ARENA_BYTES];
    let mut maps = vec![0i8; generated::FEATURE_MAP_BYTES];
    let img = vec![0u8; generated::INPUT_BYTES];
    assert!(generated::forward(&img[1..], &mut arena, &mut maps).is_err());
    assert!(generated::forward(&img, &mut arena[1..], &mut maps).is_err());
    assert!(generated::forward(&img, &mut arena, &mut maps[1..]).is_err());
    assert!(generated::forward(&img, &mut arena, &mut maps).is_ok());
}
