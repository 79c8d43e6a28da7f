//! `preprocessor_config.json` to the runtime's [`ProcessorConfig`].

use crate::error::{Error, Result};
use convnext::preprocess::{ProcessorConfig, Resample, MAX_CHANNELS};
use serde_json::Value;
use std::path::Path;

/// Read the model folder's `preprocessor_config.json`, or HF's class
/// defaults when there is none.
pub fn load_processor(dir: &Path) -> Result<ProcessorConfig> {
    let path = dir.join("preprocessor_config.json");
    if !path.exists() {
        return Ok(ProcessorConfig::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    parse_processor(&path, &text)
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
