//! Generate the default model's forward pass into OUT_DIR three times: all
//! int8 (the `build_script` API boards use), mixed precision with the most
//! int8-sensitive block kept in f16, and as a backbone handing out the
//! feature maps of every stage; and the bundled ConvNeXt V2.
use convnext_codegen::compile::{
    build_mixed_plan, choose_f16_blocks, load_calibration, DEFAULT_CALIBRATION,
};
use convnext_codegen::processor::load_processor;

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let model_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    if let Err(e) = convnext_codegen::build_script::generate(&model_dir, &out, "fmnist_convnext") {
        panic!("convnext codegen: {e}");
    }
    let mixed = || -> convnext_codegen::Result<()> {
        let model = convnext_codegen::load_model(&model_dir)?;
        let processor = load_processor(&model_dir)?;
        let cal = load_calibration(&model_dir, None, &processor)?;
        // Sensitivity on a slice of the calibration set keeps the build quick.
        let probe = convnext_codegen::Tensor::new(&[64, 1, 28, 28], cal.data[..64 * 784].to_vec());
        let chosen = choose_f16_blocks(&model, &processor, &probe, DEFAULT_CALIBRATION, 1)?;
        let blocks: Vec<_> = chosen.iter().map(|(b, _)| *b).collect();
        let plan = build_mixed_plan(&model, &processor, &cal, DEFAULT_CALIBRATION, &blocks)?;
        let provenance = provenance(&cal, &plan);
        let labels = &model.config.labels;
        convnext_codegen::emit::emit(&plan, &out, "fmnist_mixed", &provenance, labels)?;
        let list: Vec<String> = blocks.iter().map(|(s, b)| format!("({s}, {b})")).collect();
        std::fs::write(
            out.join("mixed_blocks.rs"),
            format!("&[{}]", list.join(", ")),
        )
        .expect("write");
        Ok(())
    };
    if let Err(e) = mixed() {
        panic!("convnext codegen (mixed): {e}");
    }
    if let Err(e) = backbone(&model_dir, &out) {
        panic!("convnext codegen (backbone): {e}");
    }
    let v2_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnextv2");
    if let Err(e) = convnext_codegen::build_script::generate(&v2_dir, &out, "fmnist_convnextv2") {
        panic!("convnext codegen (V2): {e}");
    }
}

/// Where a plan of the bundled default model came from, for its header.
fn provenance(
    cal: &convnext_codegen::Tensor,
    plan: &convnext_codegen::plan::Plan,
) -> convnext_codegen::emit::Provenance {
    convnext_codegen::emit::Provenance::new(
        std::path::Path::new("fmnist-convnext"),
        "calibration_images.npy",
        cal.shape[0],
        DEFAULT_CALIBRATION,
        plan,
    )
}

/// The default model as a backbone with every out feature.
fn backbone(model_dir: &std::path::Path, out: &std::path::Path) -> convnext_codegen::Result<()> {
    let model = convnext_codegen::load_model(model_dir)?;
    let stages: Vec<String> = ["stem", "stage1", "stage2", "stage3"]
        .map(String::from)
        .into();
    let model = model.with_out_features(&stages)?.as_backbone();
    let processor = load_processor(model_dir)?;
    let cal = load_calibration(model_dir, None, &processor)?;
    let plan = build_mixed_plan(&model, &processor, &cal, DEFAULT_CALIBRATION, &[])?;
    let provenance = provenance(&cal, &plan);
    convnext_codegen::emit::emit(&plan, out, "fmnist_backbone", &provenance, &[])?;
    Ok(())
}
