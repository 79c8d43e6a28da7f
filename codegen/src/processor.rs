//! A model folder's preprocessing as the runtime's [`ProcessorConfig`]:
//! HF's `preprocessor_config.json`, or the eval transform of timm's
//! `pretrained_cfg` in `config.json` (what `save_for_hf` writes).

use crate::error::{Error, Result};
use convnext::preprocess::{CropRule, ProcessorConfig, Resample, MAX_CHANNELS};
use serde_json::Value;
use std::path::Path;

/// Read the model folder's `preprocessor_config.json`; without one, timm's
/// `pretrained_cfg` in `config.json` ([`timm_processor`]). Without either
/// the folder says nothing of its input size or normalisation, and guessing
/// (HF's class defaults: 384, mean = std = 0.5) mis-scales most models
/// silently: an error that says what to add.
pub fn load_processor(dir: &Path) -> Result<ProcessorConfig> {
    let path = dir.join("preprocessor_config.json");
    if !path.exists() {
        return timm_processor(dir)?.ok_or_else(|| {
            Error::format(
                &path,
                "missing, and config.json has no timm pretrained_cfg with an input_size: \
                 the model's preprocessing (input size, crop, mean, std) is unknown. Save the \
                 processor the model was trained with beside it (HF: \
                 ConvNextImageProcessor(size=..., crop_pct=..., image_mean=..., image_std=...)\
                 .save_pretrained(DIR); timm: set model.pretrained_cfg before save_for_hf)",
            )
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    parse_processor(&path, &text)
}

/// timm's ImageNet mean and standard deviation (its defaults).
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The eval transform of a timm `config.json`'s `pretrained_cfg`, when it
/// gives one (`input_size`, `interpolation`, `crop_pct`, `crop_mode`,
/// `mean`, `std`; timm's defaults for those it leaves out, the input size
/// required): resize the shorter side to `floor(size / crop_pct)`, crop the
/// centre (torchvision's rounding), scale to [0, 1], normalise. `None` where
/// `config.json` has no `pretrained_cfg.input_size` (or no `config.json`).
pub fn timm_processor(dir: &Path) -> Result<Option<ProcessorConfig>> {
    let path = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let j: Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("invalid JSON: {e}")))?;
    let Some(cfg) = j
        .get("pretrained_cfg")
        .filter(|c| c.get("input_size").is_some())
    else {
        return Ok(None);
    };
    let bad = |k: &str, m: String| Error::config(&path, format!("pretrained_cfg.{k}"), m);
    let size: Vec<usize> = cfg["input_size"]
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_u64().map(|v| v as usize)).collect())
        .filter(|v: &Vec<usize>| v.len() == 3 && v.iter().all(|&x| x > 0))
        .ok_or_else(|| bad("input_size", "must be [C, H, W]".into()))?;
    let (c, h, w) = (size[0], size[1], size[2]);
    if h != w {
        return Err(bad(
            "input_size",
            format!("{h}x{w} is not square; only square inputs are supported (write a preprocessor_config.json)"),
        ));
    }
    if c == 0 || c > MAX_CHANNELS {
        return Err(bad(
            "input_size",
            format!("{c} channels: 1 to {MAX_CHANNELS} are supported"),
        ));
    }
    let resample = match cfg.get("interpolation").and_then(Value::as_str) {
        None | Some("bicubic") => Resample::Bicubic,
        Some("bilinear") => Resample::Bilinear,
        Some(other) => {
            return Err(bad(
                "interpolation",
                format!("{other:?} is not supported (bicubic and bilinear are)"),
            ))
        }
    };
    match cfg.get("crop_mode").and_then(Value::as_str) {
        None | Some("center") => {}
        Some(other) => {
            return Err(bad(
                "crop_mode",
                format!("{other:?} is not supported (center is)"),
            ))
        }
    }
    let crop_pct = match cfg.get("crop_pct") {
        None | Some(Value::Null) => 0.875,
        Some(v) => v
            .as_f64()
            .filter(|p| *p > 0.0 && *p <= 1.0)
            .ok_or_else(|| bad("crop_pct", "must be a number in (0, 1]".into()))?,
    };
    let triple = |k: &str, default: [f32; 3]| -> Result<[f32; MAX_CHANNELS]> {
        let vals: Vec<f32> = match cfg.get(k) {
            None | Some(Value::Null) => default.to_vec(),
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect())
                .ok_or_else(|| bad(k, "must be a list of numbers".into()))?,
        };
        // timm gives 3 values; a one-channel model uses the first.
        if vals.len() < c || vals.len() > MAX_CHANNELS {
            return Err(bad(
                k,
                format!("has {} values for {c} channels", vals.len()),
            ));
        }
        let mut out = [0f32; MAX_CHANNELS];
        out[..vals.len()].copy_from_slice(&vals);
        Ok(out)
    };
    let image_std = triple("std", IMAGENET_STD)?;
    if image_std[..c].contains(&0.0) {
        return Err(bad("std", "must not contain 0".into()));
    }
    Ok(Some(ProcessorConfig {
        do_resize: true,
        shortest_edge: h,
        crop_pct,
        resample,
        do_rescale: true,
        rescale_factor: 1.0 / 255.0,
        do_normalize: true,
        image_mean: triple("mean", IMAGENET_MEAN)?,
        image_std,
        crop_rule: CropRule::Timm,
    }))
}

/// Where a folder has both a `preprocessor_config.json` and a timm
/// `pretrained_cfg` that disagree: what differs (the first is the one
/// used), for a warning.
pub fn processor_disagreement(dir: &Path) -> Option<String> {
    let hf_path = dir.join("preprocessor_config.json");
    let text = std::fs::read_to_string(&hf_path).ok()?;
    let hf = parse_processor(&hf_path, &text).ok()?;
    let timm = timm_processor(dir).ok()??;
    let mut diff = Vec::new();
    if hf.shortest_edge != timm.shortest_edge {
        diff.push(format!(
            "size {} against {}",
            hf.shortest_edge, timm.shortest_edge
        ));
    }
    if hf.resample != timm.resample {
        diff.push(format!(
            "resampling {:?} against {:?}",
            hf.resample, timm.resample
        ));
    }
    if (hf.crop_pct - timm.crop_pct).abs() > 1e-9 {
        diff.push(format!(
            "crop_pct {} against {}",
            hf.crop_pct, timm.crop_pct
        ));
    }
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    if !close(&hf.image_mean[..3], &timm.image_mean[..3])
        || !close(&hf.image_std[..3], &timm.image_std[..3])
    {
        diff.push(format!(
            "mean/std {:?}/{:?} against {:?}/{:?}",
            &hf.image_mean[..3],
            &hf.image_std[..3],
            &timm.image_mean[..3],
            &timm.image_std[..3]
        ));
    }
    (!diff.is_empty()).then(|| {
        format!(
            "preprocessor_config.json and config.json's pretrained_cfg disagree ({}); preprocessor_config.json is used",
            diff.join(", ")
        )
    })
}

/// Parse the JSON of a `preprocessor_config.json`.
pub fn parse_processor(path: &Path, text: &str) -> Result<ProcessorConfig> {
    let j: Value = serde_json::from_str(text)
        .map_err(|e| Error::format(path, format!("invalid JSON: {e}")))?;
    let mut cfg = ProcessorConfig::default();
    let field_err = |k: &str, m: &str| Error::config(path, k, m.to_string());
    let bool_of = |k: &str, d: bool| -> Result<bool> {
        match j.get(k) {
            None | Some(Value::Null) => Ok(d),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| field_err(k, "must be true or false")),
        }
    };
    let num_of = |k: &str, d: f64| -> Result<f64> {
        match j.get(k) {
            None | Some(Value::Null) => Ok(d),
            Some(v) => v.as_f64().ok_or_else(|| field_err(k, "must be a number")),
        }
    };
    cfg.do_resize = bool_of("do_resize", cfg.do_resize)?;
    cfg.do_rescale = bool_of("do_rescale", cfg.do_rescale)?;
    cfg.do_normalize = bool_of("do_normalize", cfg.do_normalize)?;
    cfg.rescale_factor = num_of("rescale_factor", cfg.rescale_factor)?;
    cfg.crop_pct = num_of("crop_pct", cfg.crop_pct)?;
    if let Some(size) = j.get("size") {
        cfg.shortest_edge = size
            .get("shortest_edge")
            .and_then(Value::as_u64)
            .ok_or_else(|| field_err("size", "ConvNeXt's processor needs {\"shortest_edge\": N}"))?
            as usize;
    }
    if let Some(r) = j.get("resample") {
        let code = r
            .as_i64()
            .ok_or_else(|| field_err("resample", "must be a PIL filter number"))?;
        cfg.resample = Resample::from_pil(code).ok_or_else(|| {
            field_err(
                "resample",
                &format!("{code} is not supported (2 bilinear, 3 bicubic, 4 box are)"),
            )
        })?;
    }
    for (k, dst, fill) in [
        ("image_mean", &mut cfg.image_mean, 0.0),
        ("image_std", &mut cfg.image_std, 1.0),
    ] {
        if let Some(v) = j.get(k) {
            let vals: Vec<f32> = match v {
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect::<Option<_>>(),
                Value::Number(n) => n.as_f64().map(|x| vec![x as f32]),
                _ => None,
            }
            .ok_or_else(|| field_err(k, "must be a number or a list of numbers"))?;
            if vals.is_empty() || vals.len() > MAX_CHANNELS {
                return Err(field_err(k, "must have 1 to 4 entries"));
            }
            for (i, d) in dst.iter_mut().enumerate() {
                // One value applies to every channel, as numpy broadcasting does.
                *d = if vals.len() == 1 {
                    vals[0]
                } else {
                    vals.get(i).copied().unwrap_or(fill)
                };
            }
        }
    }
    if cfg.image_std.contains(&0.0) {
        return Err(field_err("image_std", "must not contain 0"));
    }
    Ok(cfg)
}
