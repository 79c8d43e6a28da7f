//! The `build.rs` entry point: checkpoint folder in, Rust module out.
//!
//! ```no_run
//! // build.rs of a firmware crate
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
//! convnext_codegen::build_script::generate("../../models/fmnist-convnext".as_ref(), &out, "model")
//!     .unwrap_or_else(|e| panic!("convnext codegen: {e}"));
//! // src/main.rs: mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }
//! ```

use crate::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use crate::emit::{emit, Emitted, Provenance};
use crate::error::Result;
use crate::import::load_model;
use crate::plan::Plan;
use crate::processor::load_processor;
use crate::quality::{check_quality, DEFAULT_MIN_SQNR_DB};
use crate::saved_calibration::SavedCalibration;
use std::path::Path;

/// Import, calibrate (on the folder's `calibration_images.npy`), quantize,
/// plan, check the quality gate ([`DEFAULT_MIN_SQNR_DB`] of int8 logit SQNR
/// on the calibration images) and emit `<out_dir>/<name>.rs`. Tells cargo to
/// rerun when the model folder changes. Returns the files written and the
/// plan.
pub fn generate(model_dir: &Path, out_dir: &Path, name: &str) -> Result<(Emitted, Plan)> {
    generate_checked(model_dir, out_dir, name, DEFAULT_MIN_SQNR_DB)
}

/// [`generate`] with the quality gate at `min_sqnr_db` (a build fails,
/// naming the op to blame, when the int8 logits fall below it;
/// `f64::NEG_INFINITY` turns the gate off).
pub fn generate_checked(
    model_dir: &Path,
    out_dir: &Path,
    name: &str,
    min_sqnr_db: f64,
) -> Result<(Emitted, Plan)> {
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "calibration_images.npy",
    ] {
        println!("cargo:rerun-if-changed={}", model_dir.join(f).display());
    }
    let model = load_model(model_dir)?;
    let processor = load_processor(model_dir)?;
    let cal = load_calibration(model_dir, None, &processor)?;
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION)?;
    if min_sqnr_db > f64::NEG_INFINITY {
        check_quality(&model, &plan, &cal, min_sqnr_db)?;
    }
    let checkpoint = model_dir.file_name().map_or(model_dir, Path::new);
    let provenance = Provenance::new(
        checkpoint,
        "calibration_images.npy",
        cal.shape[0],
        DEFAULT_CALIBRATION,
        &plan,
    );
    let emitted = emit(&plan, out_dir, name, &provenance, &model.config.labels)?;
    Ok((emitted, plan))
}

/// As [`generate`], with the quantization of a saved calibration
/// (`convnext calibrate --out FILE`): no calibration images are read and
/// nothing is recalibrated, so the board and the host (`--calibration-file
/// FILE`) quantize identically. (The quality gate ran when `convnext
/// calibrate` wrote the file.) Tells cargo to rerun when the model folder
/// or the file changes.
pub fn generate_with_calibration(
    model_dir: &Path,
    calibration_file: &Path,
    out_dir: &Path,
    name: &str,
) -> Result<(Emitted, Plan)> {
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        println!("cargo:rerun-if-changed={}", model_dir.join(f).display());
    }
    println!("cargo:rerun-if-changed={}", calibration_file.display());
    let model = load_model(model_dir)?;
    let processor = load_processor(model_dir)?;
    let saved = SavedCalibration::read(calibration_file, model_dir)?;
    let plan = saved.plan(&model, &processor)?;
    let checkpoint = model_dir.file_name().map_or(model_dir, Path::new);
    let file = calibration_file
        .file_name()
        .map_or(calibration_file, Path::new);
    let source = format!("{} (saved in {})", saved.source, file.display());
    let provenance = Provenance::new(checkpoint, &source, saved.images, saved.method, &plan);
    let emitted = emit(&plan, out_dir, name, &provenance, &model.config.labels)?;
    Ok((emitted, plan))
}
