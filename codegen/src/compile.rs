//! The pipeline in one call: calibration images -> ranges -> quantized
//! model -> memory plan. This is what `build.rs`, the CLI and the tests use.

use crate::calibrate::{calibrate, Calibration};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::npy;
use crate::plan::Plan;
use crate::quantize::{quantize, Numerics};
use crate::saved_calibration::{fingerprint, SavedCalibration};
use crate::tensor::Tensor;
use convnext::preprocess::ProcessorConfig;
use std::path::Path;

/// The calibration method used unless told otherwise (measured best on the
/// default model; see the README).
pub const DEFAULT_CALIBRATION: Calibration = Calibration::Percentile(0.9999);

/// Most calibration images read from a file: ranges settle long before (a
/// few hundred images), and memory stays bounded however large the file.
pub const MAX_CALIBRATION_IMAGES: usize = 1024;

/// Calibration `pixel_values`: from `path` if given (`(N, C, H, W)` float32, or
/// u8 images `(N, H, W[, C])` run through the processor), else the model
/// folder's `calibration_images.npy`; the first
/// [`MAX_CALIBRATION_IMAGES`] of them, read without the rest.
pub fn load_calibration(
    dir: &Path,
    path: Option<&Path>,
    processor: &ProcessorConfig,
) -> Result<Tensor> {
    let p = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let p = dir.join("calibration_images.npy");
            if !p.exists() {
                return Err(Error::input(format!(
                    "{} has no calibration_images.npy; pass --calibration CAL.npy ((N, C, H, W) float32 pixel_values)",
                    dir.display()
                )));
            }
            p
        }
    };
    let rows = npy::NpyRows::open(&p)?;
    let array = rows.read(0..MAX_CALIBRATION_IMAGES)?;
    match array.data {
        npy::NpyData::F32(_) => array.into_f32(&p),
        _ => crate::dataset::images_from_npy(&p, array)?.pixel_values(processor),
    }
}

/// Calibrate, quantize and plan `model` for the input size of `calibration`,
/// all int8.
pub fn build_plan(
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    method: Calibration,
) -> Result<Plan> {
    build_mixed_plan(model, processor, calibration, method, &[])
}

/// As [`build_plan`], keeping the `(stage, block)` pairs in `f16_blocks` in
/// f16 weights with f32 arithmetic.
pub fn build_mixed_plan(
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    method: Calibration,
    f16_blocks: &[(usize, usize)],
) -> Result<Plan> {
    build_plan_with_numerics(
        model,
        processor,
        calibration,
        method,
        f16_blocks,
        Numerics::default(),
    )
}

/// As [`build_mixed_plan`], with the numerics `numerics` says (among them
/// [`crate::quantize::InputQuantization::calibrated_on`] the calibration
/// images for inputs that are not u8 images).
pub fn build_plan_with_numerics(
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    method: Calibration,
    f16_blocks: &[(usize, usize)],
    numerics: Numerics,
) -> Result<Plan> {
    let ranges = calibrate(model, calibration, method)?;
    let q = quantize(
        model,
        processor,
        &ranges,
        (calibration.shape[2], calibration.shape[3]),
        f16_blocks,
        numerics,
    )?;
    Ok(Plan::new(q))
}

/// What a saved calibration is made for: the range rule, how many blocks
/// stay in f16, and the numerics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationChoices {
    /// The range rule.
    pub method: Calibration,
    /// Blocks to keep in f16 (the most sensitive ones).
    pub f16_count: usize,
    /// The input's quantization and the stream's scales.
    pub numerics: Numerics,
}

/// Calibrate `model` on `calibration` as `choices` say, as a
/// [`SavedCalibration`] to write and reuse: `source` names the images in the
/// file, `model_dir` gives the checkpoint's fingerprint.
pub fn calibrate_to_save(
    model_dir: &Path,
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    source: &str,
    choices: CalibrationChoices,
) -> Result<SavedCalibration> {
    let CalibrationChoices {
        method,
        f16_count,
        numerics,
    } = choices;
    let f16_blocks = choose_f16_blocks_with_numerics(
        model,
        processor,
        calibration,
        method,
        f16_count,
        numerics,
    )?
    .into_iter()
    .map(|(b, _)| b)
    .collect();
    Ok(SavedCalibration {
        method,
        images: calibration.shape[0],
        source: source.to_string(),
        input: [
            calibration.shape[1],
            calibration.shape[2],
            calibration.shape[3],
        ],
        fingerprint: fingerprint(model_dir)?,
        f16_blocks,
        input_quantization: numerics.input,
        stream_scales: numerics.stream_scales,
        hidden: numerics.hidden,
        ranges: calibrate(model, calibration, method)?,
    })
}

/// A copy of `model` with every weight rounded to f16: what f16 storage with
/// f32 arithmetic computes.
pub fn round_weights_to_f16(model: &Model) -> Model {
    let r = |v: &mut Vec<f32>| {
        v.iter_mut()
            .for_each(|x| *x = half::f16::from_f32(*x).to_f32())
    };
    let mut m = model.clone();
    r(&mut m.stem.weight.data);
    r(&mut m.stem.bias);
    let features = m.feature_norms.iter_mut().map(|f| &mut f.norm);
    for n in [Some(&mut m.stem_norm), m.final_norm.as_mut()]
        .into_iter()
        .flatten()
        .chain(features)
    {
        r(&mut n.weight);
        r(&mut n.bias);
    }
    for s in &mut m.stages {
        if let Some((n, c)) = &mut s.downsample {
            r(&mut n.weight);
            r(&mut n.bias);
            r(&mut c.weight.data);
            r(&mut c.bias);
        }
        for b in &mut s.blocks {
            r(&mut b.dw_weight.data);
            r(&mut b.dw_bias);
            r(&mut b.norm.weight);
            r(&mut b.norm.bias);
            r(&mut b.pwconv1.weight.data);
            r(&mut b.pwconv1.bias);
            r(&mut b.pwconv2.weight.data);
            r(&mut b.pwconv2.bias);
            if let Some(g) = &mut b.gamma {
                r(g);
            }
            if let Some(g) = &mut b.grn {
                r(&mut g.weight);
                r(&mut g.bias);
            }
        }
    }
    if let Some(c) = &mut m.classifier {
        r(&mut c.weight.data);
        r(&mut c.bias);
    }
    m
}

/// Signal-to-quantization-noise ratio (dB) of int32 logits (real value =
/// `logit * logit_scale`) against f32 logits.
pub fn logit_sqnr_db(int8_logits: &[i32], logit_scale: f64, f32_logits: &[f32]) -> f64 {
    let mut s = LogitSqnr::default();
    s.add(int8_logits, logit_scale, f32_logits);
    s.db()
}

/// [`logit_sqnr_db`] accumulated over batches: the same number, whatever
/// the batching.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogitSqnr {
    signal: f64,
    noise: f64,
}

impl LogitSqnr {
    /// Add a batch of int32 logits and their f32 counterparts.
    pub fn add(&mut self, int8_logits: &[i32], logit_scale: f64, f32_logits: &[f32]) {
        for (a, b) in int8_logits.iter().zip(f32_logits) {
            self.signal += (*b as f64).powi(2);
            self.noise += (*a as f64 * logit_scale - *b as f64).powi(2);
        }
    }

    /// The SQNR in dB of everything added so far.
    pub fn db(&self) -> f64 {
        10.0 * (self.signal / self.noise.max(f64::MIN_POSITIVE)).log10()
    }
}

/// Choose the `count` blocks that gain most from f16, by measured
/// sensitivity: each block alone in f16, the rest int8, logit SQNR against
/// f32 on the calibration images (training data, never the test set).
/// Returns the blocks, best first, with each one's SQNR.
pub fn choose_f16_blocks(
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    method: Calibration,
    count: usize,
) -> Result<Vec<((usize, usize), f64)>> {
    choose_f16_blocks_with_numerics(
        model,
        processor,
        calibration,
        method,
        count,
        Numerics::default(),
    )
}

/// [`choose_f16_blocks`] for networks of the numerics `numerics` says.
pub fn choose_f16_blocks_with_numerics(
    model: &Model,
    processor: &ProcessorConfig,
    calibration: &Tensor,
    method: Calibration,
    count: usize,
    numerics: Numerics,
) -> Result<Vec<((usize, usize), f64)>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let ranges = crate::calibrate::calibrate(model, calibration, method)?;
    let (h, w) = (calibration.shape[2], calibration.shape[3]);
    let mut images = Vec::new();
    let f32_logits = crate::reference::forward(model, calibration)?
        .logits
        .ok_or_else(|| Error::input("mixed precision needs a classifier head"))?;
    let mut scored = Vec::new();
    for (s, stage) in model.stages.iter().enumerate() {
        for b in 0..stage.blocks.len() {
            // The f16 block is v1's; GRN blocks (ConvNeXt V2) stay int8.
            if stage.blocks[b].grn.is_some() {
                continue;
            }
            let q = quantize(model, processor, &ranges, (h, w), &[(s, b)], numerics)?;
            let plan = Plan::new(q);
            if images.is_empty() {
                images = crate::quantize::input_bytes(calibration, &plan.model);
            }
            let q = plan.run_u8(&images);
            scored.push((
                (s, b),
                logit_sqnr_db(&q, plan.model.logit_scale, &f32_logits.data),
            ));
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(count);
    Ok(scored)
}
