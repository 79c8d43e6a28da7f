//! Bad checkpoints get a clear error naming the file, tensor or field, and
//! never a panic: truncation, corrupt headers, missing or misshaped tensors,
//! configs that disagree with the weights, unknown activations, NaN/Inf.

mod common;

use convnext_codegen::{forward, load_model, Tensor};
use std::path::{Path, PathBuf};

/// Copy the `relu` fixture's checkpoint into a scratch folder.
fn copy_fixture(name: &str) -> PathBuf {
    let src = common::fixture("models/relu");
    let dst = common::scratch_dir(name);
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    dst
}

fn error_of(dir: &Path) -> String {
    load_model(dir).expect_err("import must fail").to_string()
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut j);
    std::fs::write(&p, serde_json::to_string(&j).unwrap()).unwrap();
}

/// Rewrite the safetensors header with `edit` applied, keeping the data.
fn edit_header(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("model.safetensors");
    let b = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    edit(&mut h);
    let hs = serde_json::to_vec(&h).unwrap();
    let mut out = (hs.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&hs);
    out.extend_from_slice(&b[8 + n..]);
    std::fs::write(&p, out).unwrap();
}

#[test]
fn truncated_safetensors_names_the_file_and_says_truncated() {
    let d = copy_fixture("truncated");
    let p = d.join("model.safetensors");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    let e = error_of(&d);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn file_cut_inside_the_header_is_an_error() {
    let d = copy_fixture("cut_header");
    let p = d.join("model.safetensors");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..50]).unwrap();
    let e = error_of(&d);
    assert!(e.contains("truncated or not safetensors"), "{e}");
}

#[test]
fn garbage_header_is_an_error() {
    let d = copy_fixture("garbage");
    let mut b = 20u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{not json at all!!!}");
    std::fs::write(d.join("model.safetensors"), b).unwrap();
    let e = error_of(&d);
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn missing_tensor_is_named() {
    let d = copy_fixture("missing");
    edit_header(&d, |h| {
        h.as_object_mut()
            .unwrap()
            .remove("convnext.encoder.stages.1.layers.0.pwconv2.bias");
    });
    let e = error_of(&d);
    assert!(
        e.contains("`convnext.encoder.stages.1.layers.0.pwconv2.bias`") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn misshaped_tensor_reports_both_shapes() {
    let d = copy_fixture("misshaped");
    // Claim pwconv1.weight is [128, 16] of stage 0 when it is [64, 16]: a size mismatch first...
    edit_header(&d, |h| {
        h["convnext.encoder.stages.0.layers.0.pwconv1.weight"]["shape"] =
            serde_json::json!([32, 32]);
    });
    let e = error_of(&d);
    assert!(
        e.contains("pwconv1.weight") && e.contains("[32, 32]") && e.contains("[64, 16]"),
        "{e}"
    );
}

#[test]
fn config_with_more_blocks_than_weights_names_the_missing_block() {
    let d = copy_fixture("deeper");
    edit_config(&d, |j| j["depths"] = serde_json::json!([1, 2, 2, 1]));
    let e = error_of(&d);
    assert!(
        e.contains("encoder.stages.1.layers.1.") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn config_with_fewer_blocks_than_weights_reports_unused_tensors() {
    let d = copy_fixture("shallower");
    edit_config(&d, |j| j["depths"] = serde_json::json!([1, 1, 1, 1]));
    let e = error_of(&d);
    assert!(
        e.contains("stages.2.layers.1") && e.contains("not used"),
        "{e}"
    );
}

#[test]
fn config_with_wrong_widths_reports_the_shape() {
    let d = copy_fixture("wider");
    edit_config(&d, |j| {
        j["hidden_sizes"] = serde_json::json!([16, 32, 48, 96])
    });
    let e = error_of(&d);
    assert!(
        e.contains("has shape") && e.contains("the config implies"),
        "{e}"
    );
}

#[test]
fn unknown_activation_names_the_field_and_value() {
    let d = copy_fixture("act");
    edit_config(&d, |j| j["hidden_act"] = serde_json::json!("swish"));
    let e = error_of(&d);
    assert!(
        e.contains("config.json") && e.contains("`hidden_act`") && e.contains("swish"),
        "{e}"
    );
}

#[test]
fn mismatched_num_stages_is_named() {
    let d = copy_fixture("stages");
    edit_config(&d, |j| j["num_stages"] = serde_json::json!(3));
    let e = error_of(&d);
    assert!(e.contains("`num_stages`"), "{e}");
}

#[test]
fn nan_weight_names_the_tensor_and_index() {
    let d = copy_fixture("nan");
    let p = d.join("model.safetensors");
    let mut b = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let h: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    let name = "convnext.encoder.stages.2.layers.1.dwconv.weight";
    let start = 8 + n + h[name]["data_offsets"][0].as_u64().unwrap() as usize + 4 * 5;
    b[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&p, b).unwrap();
    let e = error_of(&d);
    assert!(
        e.contains(name) && e.contains("non-finite") && e.contains("index 5"),
        "{e}"
    );
}

#[test]
fn config_without_weights_file_says_what_is_missing() {
    let d = copy_fixture("noweights");
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    let e = error_of(&d);
    assert!(e.contains("no model.safetensors"), "{e}");
}

#[test]
fn input_with_wrong_channels_or_size_is_an_error_not_a_panic() {
    let model = load_model(&common::fixture("models/relu")).unwrap();
    let e = forward(&model, &Tensor::zeros(&[1, 1, 64, 64]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 channels") && e.contains("takes 3"), "{e}");
    // patch 4 and 3 downsamples: 32 x 32 is the least.
    let e = forward(&model, &Tensor::zeros(&[1, 3, 31, 64]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 32x32"), "{e}");
    assert!(forward(&model, &Tensor::zeros(&[1, 3, 32, 32])).is_ok());
    let e = forward(&model, &Tensor::zeros(&[3, 32, 32]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("(N, C, H, W)"), "{e}");
}
