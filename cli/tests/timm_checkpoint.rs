//! A timm ConvNeXt saved as a user saves it (`save_for_hf` with a
//! `pretrained_cfg` and `label_names`, no `preprocessor_config.json`;
//! `scripts/make_fixtures.py`): `convnext classify` gives timm's labels and
//! timm's probabilities for a picture (timm's own eval transform: bicubic
//! resize to 73, centre crop to 64, ImageNet mean and std).

mod common;

use common::{convnext, root, stderr};
use convnext_codegen::npy;
use convnext_codegen::pictures::decode;
use convnext_codegen::processor::load_processor;

#[test]
fn a_timm_checkpoint_classifies_a_picture_as_timm_does() {
    let dir = root().join("tests/fixtures/models/timm_pretrained_cfg");
    assert!(!dir.join("preprocessor_config.json").exists());
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("picture_probabilities.json")).unwrap(),
    )
    .unwrap();
    let o = convnext(&[
        "classify",
        "--model",
        dir.to_str().unwrap(),
        dir.join("picture.png").to_str().unwrap(),
        "--top",
        "5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = got["images"][0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    for t in top {
        let label = t["label"].as_str().unwrap();
        let i = want["labels"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l == label)
            .unwrap_or_else(|| panic!("label {label:?} is not one of timm's"));
        let (p, q) = (
            t["probability"].as_f64().unwrap(),
            want["probabilities"][i].as_f64().unwrap(),
        );
        assert!((p - q).abs() <= 1e-3, "{label}: {p} against timm's {q}");
    }
    assert_eq!(top[0]["label"], "frog");
    // The pixel_values themselves, against timm's transform: PIL's bicubic
    // resize rounds to u8 as ours does, so they differ by float rounding.
    let want_x = dir.join("picture_pixel_values.npy");
    let want_x = npy::read(&want_x).unwrap().into_f32(&want_x).unwrap();
    let processor = load_processor(&dir).unwrap();
    let x = decode(&dir.join("picture.png"), 3)
        .unwrap()
        .pixel_values(&processor)
        .unwrap();
    assert_eq!(x.shape, want_x.shape);
    let worst = x
        .data
        .iter()
        .zip(&want_x.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "pixel_values differ from timm's by {worst}");
}
