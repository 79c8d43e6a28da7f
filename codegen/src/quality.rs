//! The quality gate: codegen refuses an int8 network whose logits, on the
//! calibration images, are further from the f32 reference than the user
//! allows, and names the op where most of the noise comes in. The measure is
//! the logit SQNR (`10 log10(Σ f32² / Σ (int8 − f32)²)`, what `convnext eval`
//! and `convnext report` print); the op to blame is the one whose output
//! SQNR drops most from the op before it ([`Plan::op_sqnr`]). A backbone's
//! network (feature maps, no head) is measured by its worst feature map.

use crate::compile::logit_sqnr_db;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plan::Plan;
use crate::quantize::input_bytes;
use crate::reference::logits;
use crate::tensor::Tensor;

/// The threshold `build_script::generate` and `convnext compile` apply unless
/// told otherwise: well below what a sound int8 ConvNeXt gets (the default
/// model: 28 dB; the random fixtures: 28 to 36 dB), well above a broken one
/// (a wrong range or a saturated layer: single digits).
pub const DEFAULT_MIN_SQNR_DB: f64 = 15.0;

/// The int8 logit SQNR (dB) of `plan` against `model`'s f32 reference on
/// `calibration` `(N, C, H, W)` (a backbone's: its worst feature map's), or
/// an error when it is below `min_db` naming the op to blame and what to do
/// about it.
pub fn check_quality(model: &Model, plan: &Plan, calibration: &Tensor, min_db: f64) -> Result<f64> {
    let mut per_op = None;
    let (db, measure) = if plan.model.feature_maps.is_empty() {
        let want = logits(model, calibration)?
            .ok_or_else(|| Error::input("the quality gate needs a classifier head"))?;
        let got = plan.run_u8(&input_bytes(calibration, &plan.model));
        let db = logit_sqnr_db(&got, plan.model.logit_scale, &want.data);
        (db, "logit SQNR")
    } else {
        let sqnr = plan.op_sqnr(model, calibration)?;
        let worst = plan
            .ops
            .iter()
            .zip(&sqnr)
            .filter(|(o, _)| o.name.ends_with("_feature_map"))
            .map(|(_, &db)| db)
            .fold(f64::INFINITY, f64::min);
        per_op = Some(sqnr);
        (worst, "worst feature-map SQNR")
    };
    if db >= min_db {
        return Ok(db);
    }
    let per_op = match per_op {
        Some(p) => p,
        None => plan.op_sqnr(model, calibration)?,
    };
    // The stem when its own output is already below the bar, else the op
    // whose output loses the most against the op before it.
    let drop = |i: usize| per_op[i - 1] - per_op[i];
    let i = if per_op.first().is_some_and(|&s| s < min_db) {
        0
    } else {
        (1..per_op.len())
            .max_by(|&a, &b| drop(a).total_cmp(&drop(b)))
            .unwrap_or(0)
    };
    let at = per_op.get(i).copied().unwrap_or(db);
    let name = plan.ops.get(i).map_or("?", |o| o.name.as_str());
    let from = if i == 0 {
        "the input".to_string()
    } else {
        format!("{:.1} dB before it", per_op[i - 1])
    };
    let remedy = if name.contains("_block") {
        "keep that block in f16 (--f16-blocks), calibrate on more representative images, or lower the threshold (--min-sqnr)"
    } else {
        "calibrate on more representative images, or lower the threshold (--min-sqnr)"
    };
    Err(Error::Quality {
        message: format!(
            "int8 {measure} is {db:.1} dB on {} calibration images, below the required {min_db:.1} dB; \
             the most noise comes in at {name} ({at:.1} dB after it, {from}): {remedy}",
            calibration.shape[0]
        ),
    })
}
