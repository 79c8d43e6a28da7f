//! The Rust f32 reference against HF transformers (and timm) outputs made by
//! `scripts/make_fixtures.py`: logits, pooler_output, last_hidden_state,
//! every hidden state and every backbone feature map, within a relative max
//! error of 1e-4; ConvNeXt v1 and V2, classifier, base and backbone
//! checkpoints.

mod common;

use convnext_codegen::{forward, load_model, npy, Tensor};

const TOLERANCE: f32 = 1e-4;

fn read(dir: &std::path::Path, name: &str) -> Option<Tensor> {
    let p = dir.join(name);
    p.exists()
        .then(|| npy::read(&p).unwrap().into_f32(&p).unwrap())
}

fn check_fixture(name: &str) {
    let dir = common::fixture(&format!("models/{name}"));
    let model = load_model(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let x = read(&dir, "inputs.npy").expect("inputs.npy");
    let out = forward(&model, &x).unwrap();
    let mut checked = 0;
    let mut compare = |what: &str, got: &Tensor| {
        if let Some(want) = read(&dir, &format!("{what}.npy")) {
            let err = got.relative_max_error(&want);
            assert!(
                err <= TOLERANCE,
                "{name}: {what} relative max error {err:e}"
            );
            checked += 1;
        }
    };
    let backbone = model.final_norm.is_none();
    if let Some(p) = &out.pooler_output {
        compare("pooler_output", p);
    }
    if !backbone {
        compare("last_hidden_state", &out.last_hidden_state);
    }
    for (i, h) in out.hidden_states.iter().enumerate() {
        compare(&format!("hidden_states_{i}"), h);
    }
    // Feature maps: every fixture file is one the model produced.
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with("feature_maps_"))
        .count();
    let maps = if files > 0 { out.feature_maps.len() } else { 0 };
    assert_eq!(files, maps, "{name}: feature maps in fixture vs model");
    for (stage, map) in out.feature_maps.iter().take(maps) {
        compare(&format!("feature_maps_{stage}"), map);
    }
    match (&out.logits, read(&dir, "logits.npy")) {
        (Some(got), Some(want)) => {
            let err = got.relative_max_error(&want);
            assert!(
                err <= TOLERANCE,
                "{name}: logits relative max error {err:e}"
            );
        }
        (None, None) => {}
        (got, want) => panic!(
            "{name}: logits present in Rust {} / fixture {}",
            got.is_some(),
            want.is_some()
        ),
    }
    let expected = if backbone { 1 } else { 3 } + model.stages.len() + maps;
    assert_eq!(checked, expected, "{name}: every output compared");
}

#[test]
fn tiny_depths_at_224_match_hf() {
    check_fixture("narrow_224");
}

#[test]
fn three_stage_model_with_large_final_eps_matches_hf() {
    check_fixture("three_stage");
}

#[test]
fn non_square_odd_input_matches_hf() {
    check_fixture("non_square");
}

#[test]
fn relu_activation_matches_hf() {
    check_fixture("relu");
}

#[test]
fn gelu_new_activation_matches_hf() {
    check_fixture("gelu_new");
}

#[test]
fn model_without_layer_scale_matches_hf() {
    check_fixture("no_layer_scale");
}

#[test]
fn one_channel_input_matches_hf() {
    check_fixture("gray_28");
}

#[test]
fn base_model_in_f16_matches_hf() {
    check_fixture("base_model_f16");
}

#[test]
fn bf16_checkpoint_matches_hf() {
    check_fixture("bf16");
}

#[test]
fn timm_checkpoint_with_conv_mlp_matches_timm() {
    check_fixture("timm_conv_mlp");
}

#[test]
fn timm_checkpoint_with_linear_mlp_matches_timm() {
    check_fixture("timm_linear_mlp");
}

#[test]
fn backbone_with_every_out_feature_matches_hf() {
    check_fixture("backbone_all");
}

#[test]
fn one_channel_backbone_by_out_indices_matches_hf() {
    check_fixture("backbone_gray");
}

#[test]
fn classifier_checkpoint_as_backbone_matches_hf() {
    check_fixture("classifier_out_features");
}

#[test]
fn convnext_v2_classifier_matches_hf() {
    check_fixture("v2_classifier");
}

#[test]
fn convnext_v2_one_channel_base_model_matches_hf() {
    check_fixture("v2_base_gray");
}

#[test]
fn convnext_v2_backbone_matches_hf() {
    check_fixture("v2_backbone");
}

#[test]
fn convnext_v2_relu_matches_hf() {
    check_fixture("v2_relu");
}

#[test]
fn timm_convnext_v2_checkpoint_matches_timm() {
    check_fixture("timm_v2");
}
