//! The int8 network the commands share: calibrated and planned from the
//! flags, or read from a saved calibration, and run on float pixel_values.

use crate::failure::{usage, Failure};
use crate::options::{CalibrationFlags, HiddenArg, InputQuant, Int8Args, StreamScalesArg};
use crate::progress::spinner;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::{
    build_plan_with_numerics, calibrate_to_save, choose_f16_blocks_with_numerics, load_calibration,
    CalibrationChoices,
};
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quality::check_quality;
use convnext_codegen::quantize::{Hidden, InputQuantization, Numerics, StreamScales};
use convnext_codegen::saved_calibration::SavedCalibration;
use convnext_codegen::{load_model, Model, Tensor};
use std::path::Path;

/// `--calibration-method`'s value.
pub(crate) fn calibration_method(s: &str) -> Result<Calibration, Failure> {
    s.parse()
        .map_err(|e| usage(format!("--calibration-method {e}")))
}

/// An int8 plan and where its quantization came from.
pub(crate) struct Int8Plan {
    /// The planned network.
    pub plan: Plan,
    /// How many calibration images it was calibrated on.
    pub images: usize,
    /// The range rule.
    pub method: Calibration,
    /// The calibration's source, for reports and generated headers.
    pub source: String,
    /// The calibration pixel_values, when they were loaded (not for a saved
    /// calibration).
    pub calibration: Option<Tensor>,
}

/// Calibrate and plan the int8 network for a model folder, from the
/// `--calibration`, `--calibration-method`, `--f16-blocks` and
/// `--input-quantization` flags, or read a `--calibration-file`.
pub(crate) fn int8_plan(dir: &Path, model: &Model, a: &Int8Args) -> Result<Int8Plan, Failure> {
    let processor = load_processor(dir)?;
    if let (Some(_), Some(_)) = (&a.calibration_file, &a.calibrate.calibration) {
        return Err(usage(
            "--calibration and --calibration-file: the saved calibration already fixes the network (only report takes both: the images to measure SQNR on)".into(),
        ));
    }
    if let Some(file) = &a.calibration_file {
        let saved = SavedCalibration::read(file, dir)?;
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        return Ok(Int8Plan {
            plan: saved.plan(model, &processor)?,
            images: saved.images,
            method: saved.method,
            source: format!("{} (saved in {name})", saved.source),
            calibration: None,
        });
    }
    let a = &a.calibrate;
    let cal = load_calibration(dir, a.calibration.as_deref(), &processor)?;
    let method = calibration_method(&a.calibration_method)?;
    let spin = spinner(format!(
        "calibrating int8 on {} images ({method}; convnext calibrate saves this step)",
        cal.shape[0]
    ));
    let numerics = numerics(a, &cal);
    let chosen =
        choose_f16_blocks_with_numerics(model, &processor, &cal, method, a.f16_blocks, numerics)?;
    let blocks: Vec<(usize, usize)> = chosen.iter().map(|(b, _)| *b).collect();
    let plan = build_plan_with_numerics(model, &processor, &cal, method, &blocks, numerics)?;
    spin.finish_and_clear();
    Ok(Int8Plan {
        plan,
        images: cal.shape[0],
        method,
        source: a
            .calibration
            .as_deref()
            .map_or("calibration_images.npy".into(), |p| p.display().to_string()),
        calibration: Some(cal),
    })
}

/// Calibrate the model folder as the flags say and check the quality gate
/// (`min_sqnr` dB of int8 logit SQNR on the calibration images): what
/// `convnext calibrate` saves.
pub(crate) fn calibrate_and_gate(
    dir: &Path,
    a: &CalibrationFlags,
    min_sqnr: f64,
) -> Result<SavedCalibration, Failure> {
    let model = load_model(dir)?;
    let processor = load_processor(dir)?;
    let cal = load_calibration(dir, a.calibration.as_deref(), &processor)?;
    let method = calibration_method(&a.calibration_method)?;
    let source = a
        .calibration
        .as_deref()
        .and_then(|p| p.file_name())
        .map_or("calibration_images.npy".into(), |n| {
            n.to_string_lossy().into_owned()
        });
    let spin = spinner(format!("calibrating on {} images ({method})", cal.shape[0]));
    let choices = CalibrationChoices {
        method,
        f16_count: a.f16_blocks,
        numerics: numerics(a, &cal),
    };
    let saved = calibrate_to_save(dir, &model, &processor, &cal, &source, choices)?;
    if min_sqnr > f64::NEG_INFINITY {
        check_quality(&model, &saved.plan(&model, &processor)?, &cal, min_sqnr)?;
    }
    spin.finish_and_clear();
    Ok(saved)
}

/// The numerics the flags ask for, the input's calibrated on `cal` where
/// asked.
pub(crate) fn numerics(a: &CalibrationFlags, cal: &Tensor) -> Numerics {
    Numerics {
        input: match a.input_quantization {
            InputQuant::Camera => InputQuantization::Camera,
            InputQuant::Calibrated => InputQuantization::calibrated_on(cal),
        },
        stream_scales: match a.stream_scales {
            StreamScalesArg::PerChannel => StreamScales::PerChannel,
            StreamScalesArg::PerTensor => StreamScales::PerTensor,
        },
        hidden: match a.hidden {
            HiddenArg::Int16 => Hidden::Int16,
            HiddenArg::Int8 => Hidden::Int8,
        },
    }
}

/// The int8 network's logits for the pixel_values `x` (see
/// [`Plan::run_inputs`]; its warning on stderr), dequantized to f32
/// (logit = int32 x the logit scale).
pub(crate) fn int8_logits(plan: &Plan, x: &Tensor, u8s: Option<&[u8]>) -> Result<Tensor, Failure> {
    let m = &plan.model;
    let l = plan.run_inputs(x, u8s, &mut |w| eprintln!("warning: {w}"))?;
    Ok(Tensor::new(
        &[x.shape[0], m.num_labels],
        l.iter()
            .map(|&v| (v as f64 * m.logit_scale) as f32)
            .collect(),
    ))
}
