//! A timm checkpoint saved with `save_for_hf` carries its eval transform
//! and class names in `config.json` (`pretrained_cfg`, `label_names`) and no
//! `preprocessor_config.json`: both are read, never guessed, and a
//! `preprocessor_config.json` that disagrees is warned of.

mod common;

use convnext::preprocess::{CropRule, Resample};
use convnext_codegen::compile::load_calibration;
use convnext_codegen::import::load_model_with;
use convnext_codegen::npy;
use convnext_codegen::processor::load_processor;
use serde_json::json;
use std::path::PathBuf;

/// The `timm_v2` fixture with `pretrained_cfg` and `label_names` as timm
/// writes them for a 64x64 model with ImageNet-like statistics.
fn timm_folder(name: &str, cfg: serde_json::Value) -> PathBuf {
    let src = common::fixture("models/timm_v2");
    let dst = common::scratch_dir(name);
    std::fs::copy(src.join("model.safetensors"), dst.join("model.safetensors")).unwrap();
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    j["pretrained_cfg"] = cfg;
    j["label_names"] = json!(["frog", "cat", "dog", "bird", "ship"]);
    std::fs::write(dst.join("config.json"), j.to_string()).unwrap();
    dst
}

fn cfg_64() -> serde_json::Value {
    json!({
        "num_classes": 5,
        "input_size": [3, 64, 64],
        "interpolation": "bilinear",
        "crop_pct": 0.9,
        "crop_mode": "center",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    })
}

#[test]
fn pretrained_cfg_is_the_preprocessing_and_label_names_the_labels() {
    let dir = timm_folder("timm_pre_ok", cfg_64());
    let p = load_processor(&dir).unwrap();
    assert_eq!(p.shortest_edge, 64);
    assert_eq!(p.resample, Resample::Bilinear);
    assert_eq!(p.crop_rule, CropRule::Timm);
    assert!((p.crop_pct - 0.9).abs() < 1e-12);
    assert_eq!(p.image_mean[..3], [0.485, 0.456, 0.406]);
    assert_eq!(p.image_std[..3], [0.229, 0.224, 0.225]);
    let mut warnings = Vec::new();
    let m = load_model_with(&dir, &mut |w| warnings.push(w)).unwrap();
    assert_eq!(m.config.labels, ["frog", "cat", "dog", "bird", "ship"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    // u8 pictures of another size come out at the model's: 64x64, not
    // HF's default 384.
    let images = dir.join("images.npy");
    npy::write_u8(&images, &[2, 80, 100, 3], &vec![128u8; 2 * 80 * 100 * 3]).unwrap();
    let x = load_calibration(&dir, Some(&images), &p).unwrap();
    assert_eq!(x.shape, [2, 3, 64, 64]);
    // Mid-grey through ImageNet's statistics.
    let want = ((128.0f64 / 255.0) as f32 - 0.485) / 0.229;
    assert!((x.data[0] - want).abs() < 1e-6, "{} {want}", x.data[0]);
}

#[test]
fn unsupported_or_inconsistent_timm_preprocessing_is_an_error_naming_the_field() {
    // (field, its value, what the error says)
    let cases = [
        ("input_size", json!([3, 64, 48]), "square"),
        ("interpolation", json!("lanczos"), "lanczos"),
        ("crop_mode", json!("squash"), "squash"),
    ];
    for (field, value, says) in cases {
        let mut cfg = cfg_64();
        cfg[field] = value;
        let dir = timm_folder(&format!("timm_pre_{field}"), cfg);
        let e = load_processor(&dir).unwrap_err().to_string();
        let named = format!("pretrained_cfg.{field}");
        assert!(e.contains(&named) && e.contains(says), "{e}");
    }
    let dir = timm_folder("timm_pre_labels", cfg_64());
    let p = dir.join("config.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    j["label_names"] = json!(["frog", "cat"]);
    std::fs::write(&p, j.to_string()).unwrap();
    let e = load_model_with(&dir, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("label_names") && e.contains("2 names"), "{e}");
    // An object from index to name (timm allows gaps) names those it has.
    j["label_names"] = json!({"0": "frog", "4": "ship"});
    std::fs::write(&p, j.to_string()).unwrap();
    let m = load_model_with(&dir, &mut |_| {}).unwrap();
    assert_eq!(m.config.labels, ["frog", "", "", "", "ship"]);
}

#[test]
fn a_preprocessor_config_that_disagrees_with_pretrained_cfg_is_used_and_warned_of() {
    let dir = timm_folder("timm_pre_both", cfg_64());
    std::fs::write(
        dir.join("preprocessor_config.json"),
        json!({"size": {"shortest_edge": 224}, "crop_pct": 0.875, "resample": 3,
               "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
        .to_string(),
    )
    .unwrap();
    let p = load_processor(&dir).unwrap();
    assert_eq!((p.shortest_edge, p.crop_rule), (224, CropRule::Hf));
    let mut warnings = Vec::new();
    load_model_with(&dir, &mut |w| warnings.push(w)).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert!(
        w.contains("disagree") && w.contains("size 224 against 64") && w.contains("mean/std"),
        "{w}"
    );
}
