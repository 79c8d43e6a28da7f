//! Backbone feature maps through the int8 network (`Model::as_backbone`)
//! against HF `ConvNextBackbone`'s, on the fixtures made with HF: every out
//! feature including `stem`, three- and one-channel inputs, odd sizes, a
//! backbone checkpoint with its own norms and a classifier checkpoint whose
//! config names out_features. Also: the network stops after the last stage a
//! map needs, and the maps cost the arena nothing.

mod common;

use convnext_codegen::compile::{build_plan_with_numerics, DEFAULT_CALIBRATION};
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::{input_bytes, InputQuantization, Numerics};
use convnext_codegen::{load_model, npy, Model, Tensor};

fn sqnr_db(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape, want.shape);
    let (mut s, mut n) = (0f64, 0f64);
    for (g, w) in got.data.iter().zip(&want.data) {
        s += (*w as f64).powi(2);
        n += (*g as f64 - *w as f64).powi(2);
    }
    10.0 * (s / n.max(f64::MIN_POSITIVE)).log10()
}

/// The backbone's int8 plan, calibrated on the fixture's own inputs (they are
/// not u8 images, so the input quantization is calibrated too).
fn int8_backbone(name: &str) -> (Model, Plan, Tensor) {
    let dir = common::fixture(&format!("models/{name}"));
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let p = dir.join("inputs.npy");
    let x = npy::read(&p).unwrap().into_f32(&p).unwrap();
    let input = Numerics::with_input(InputQuantization::calibrated_on(&x));
    let backbone = model.as_backbone();
    let plan = build_plan_with_numerics(&backbone, &processor, &x, DEFAULT_CALIBRATION, &[], input)
        .unwrap();
    (model, plan, x)
}

fn check(name: &str, min_db: f64) -> Plan {
    let dir = common::fixture(&format!("models/{name}"));
    let (model, plan, x) = int8_backbone(name);
    let maps = plan.feature_maps_f32(&input_bytes(&x, &plan.model));
    let names: Vec<&str> = model
        .feature_norms
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        maps.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        names
    );
    for (stage, got) in &maps {
        let p = dir.join(format!("feature_maps_{stage}.npy"));
        let want = npy::read(&p).unwrap().into_f32(&p).unwrap();
        let db = sqnr_db(got, &want);
        eprintln!("{name} {stage}: int8 SQNR {db:.1} dB");
        assert!(db >= min_db, "{name} {stage}: int8 SQNR {db:.1} dB");
    }
    // No head, and the feature maps live in the caller's buffer.
    assert!(plan.ops.iter().all(|o| o.name != "head"));
    let sum: usize = plan.model.feature_maps.iter().map(|m| m.bytes()).sum();
    assert_eq!(plan.feature_map_bytes, sum);
    plan
}

#[test]
fn backbone_with_every_out_feature_matches_hf_in_int8() {
    let plan = check("backbone_all", 25.0);
    assert_eq!(plan.model.feature_maps.len(), 5);
}

#[test]
fn one_channel_backbone_stops_after_its_last_out_feature() {
    let plan = check("backbone_gray", 25.0);
    // out_indices [0, 2]: nothing of stage 3 runs.
    assert!(plan.ops.iter().all(|o| !o.name.starts_with("stage3")));
    assert!(plan.ops.iter().any(|o| o.name == "stage2_feature_map"));
}

#[test]
fn classifier_checkpoint_gives_its_configured_feature_maps_in_int8() {
    let plan = check("classifier_out_features", 25.0);
    assert!(plan.ops.iter().all(|o| !o.name.starts_with("stage4")));
}

#[test]
fn convnext_v2_backbone_matches_hf_in_int8() {
    let plan = check("v2_backbone", 22.0);
    assert_eq!(plan.model.feature_maps.len(), 3);
}
