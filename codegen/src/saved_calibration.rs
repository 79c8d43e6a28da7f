//! A calibration saved to a JSON file and reused: the ranges `calibrate`
//! measured, the input size they were measured at, how, on what, which
//! blocks stay in f16, and a fingerprint of the checkpoint they belong to.
//! A board's `build.rs` and the host then quantize identically without the
//! calibration images and without recalibrating (`convnext calibrate`
//! writes one; `--calibration-file` and
//! [`crate::build_script::generate_with_calibration`] read it).

use crate::calibrate::{Calibration, Range, Ranges};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plan::Plan;
use crate::quantize::{quantize, Hidden, InputQuantization, Numerics, QParams, StreamScales};
use crate::reference::Point;
use convnext::preprocess::ProcessorConfig;
use serde_json::{json, Value};
use std::path::Path;

/// The format's name and version, the file's first key.
const FORMAT: &str = "convnext-calibration/1";

/// What a calibration file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedCalibration {
    /// The range rule used.
    pub method: Calibration,
    /// How many images were observed.
    pub images: usize,
    /// Where they came from (a file name, for the generated header).
    pub source: String,
    /// `(C, H, W)` of the images: the int8 plan's input size.
    pub input: [usize; 3],
    /// CRC-32 of the checkpoint's `model.safetensors` and `config.json`.
    pub fingerprint: u32,
    /// Blocks `(stage, block)` kept in f16.
    pub f16_blocks: Vec<(usize, usize)>,
    /// How the network's input is quantized.
    pub input_quantization: InputQuantization,
    /// How the residual stream is scaled (a file without the key predates
    /// per-channel streams: per tensor, as it was made).
    pub stream_scales: StreamScales,
    /// How wide pwconv2's inputs are (without the key: int8, as it was
    /// made).
    pub hidden: Hidden,
    /// Every observed tensor's range.
    pub ranges: Ranges,
}

/// CRC-32 of a model folder's weights and config: what a saved calibration
/// must belong to.
pub fn fingerprint(model_dir: &Path) -> Result<u32> {
    let mut crc = convnext::crc32::Crc32::new();
    for f in ["model.safetensors", "config.json"] {
        let p = model_dir.join(f);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        crc.update(&bytes);
    }
    Ok(crc.finish())
}

/// A point's name in the file.
fn point_name(p: Point) -> String {
    match p {
        Point::StemConv => "stem_conv".into(),
        Point::Stream(i) => format!("stream.{i}"),
        Point::StreamChannel(i, c) => format!("stream_channel.{i}.{c}"),
        Point::Dw(s, b) => format!("dw.{s}.{b}"),
        Point::BlockNorm(s, b) => format!("block_norm.{s}.{b}"),
        Point::Pw1(s, b) => format!("pw1.{s}.{b}"),
        Point::Act(s, b) => format!("act.{s}.{b}"),
        Point::Grn(s, b) => format!("grn.{s}.{b}"),
        Point::Feature(k) => format!("feature.{k}"),
        Point::DownNorm(s) => format!("down_norm.{s}"),
        Point::HeadNorm => "head_norm".into(),
        Point::Logits => "logits".into(),
    }
}

/// The point a name in the file stands for.
fn parse_point(name: &str) -> Option<Point> {
    let mut parts = name.split('.');
    let kind = parts.next()?;
    let nums: Vec<usize> = parts.map(|n| n.parse().ok()).collect::<Option<_>>()?;
    Some(match (kind, nums.as_slice()) {
        ("stem_conv", []) => Point::StemConv,
        ("stream", [i]) => Point::Stream(*i),
        ("stream_channel", [i, c]) => Point::StreamChannel(*i, *c),
        ("dw", [s, b]) => Point::Dw(*s, *b),
        ("block_norm", [s, b]) => Point::BlockNorm(*s, *b),
        ("pw1", [s, b]) => Point::Pw1(*s, *b),
        ("act", [s, b]) => Point::Act(*s, *b),
        ("grn", [s, b]) => Point::Grn(*s, *b),
        ("feature", [k]) => Point::Feature(*k),
        ("down_norm", [s]) => Point::DownNorm(*s),
        ("head_norm", []) => Point::HeadNorm,
        ("logits", []) => Point::Logits,
        _ => return None,
    })
}

/// A JSON array's non-negative integers (anything else is left out, so a
/// wrong entry shows as a wrong length).
fn counts(v: &Value) -> Vec<usize> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_u64().map(|n| n as usize))
        .collect()
}

impl SavedCalibration {
    /// The file's JSON.
    pub fn to_json(&self) -> Value {
        let ranges: serde_json::Map<String, Value> = self
            .ranges
            .iter()
            .map(|(p, r)| (point_name(*p), json!([r.min, r.max])))
            .collect();
        json!({
            "format": FORMAT,
            "method": self.method.to_string(),
            "images": self.images,
            "source": self.source,
            "input": self.input,
            "model_fingerprint": format!("0x{:08x}", self.fingerprint),
            "f16_blocks": self.f16_blocks.iter().map(|(s, b)| json!([s, b])).collect::<Vec<_>>(),
            "input_quantization": match self.input_quantization {
                InputQuantization::Camera => json!("camera"),
                InputQuantization::Calibrated(q) => json!({"scale": q.scale, "zero_point": q.zero_point}),
            },
            "stream_scales": self.stream_scales.to_string(),
            "hidden": self.hidden.to_string(),
            "ranges": ranges,
        })
    }

    /// Write the file.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }

    /// Read a file written by [`SavedCalibration::write`] for the model in
    /// `model_dir` (its fingerprint must match).
    pub fn read(path: &Path, model_dir: &Path) -> Result<SavedCalibration> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |m: String| Error::format(path, m);
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v["format"] != FORMAT {
            return Err(bad(format!(
                "not a calibration file (\"format\" is {}, expected {FORMAT:?})",
                v["format"]
            )));
        }
        let method = v["method"]
            .as_str()
            .ok_or_else(|| bad("no \"method\"".into()))?
            .parse::<Calibration>()
            .map_err(|e| bad(format!("\"method\" {e}")))?;
        let count = |k: &str| {
            v[k].as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| bad(format!("\"{k}\" must be a count")))
        };
        let [c, h, w] = counts(&v["input"])[..] else {
            return Err(bad("\"input\" must be [C, H, W]".into()));
        };
        let fingerprint = v["model_fingerprint"]
            .as_str()
            .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| bad("no \"model_fingerprint\"".into()))?;
        let actual = crate::saved_calibration::fingerprint(model_dir)?;
        if actual != fingerprint {
            return Err(bad(format!(
                "was made for another checkpoint (fingerprint 0x{fingerprint:08x}, {} is 0x{actual:08x}); recalibrate with convnext calibrate",
                model_dir.display()
            )));
        }
        let mut f16_blocks = Vec::new();
        for b in v["f16_blocks"].as_array().into_iter().flatten() {
            let [s, b] = counts(b)[..] else {
                return Err(bad(format!(
                    "\"f16_blocks\" entry {b} is not [stage, block]"
                )));
            };
            f16_blocks.push((s, b));
        }
        let input = match &v["input_quantization"] {
            Value::Null => InputQuantization::Camera,
            Value::String(s) if s == "camera" => InputQuantization::Camera,
            q => match (q["scale"].as_f64(), q["zero_point"].as_i64()) {
                (Some(scale), Some(zp)) if scale > 0.0 && scale.is_finite() && (-128..=127).contains(&zp) => {
                    InputQuantization::Calibrated(QParams {
                        scale,
                        zero_point: zp as i32,
                    })
                }
                _ => {
                    return Err(bad(format!(
                        "\"input_quantization\" must be \"camera\" or {{\"scale\": s > 0, \"zero_point\": int8}}, got {q}"
                    )))
                }
            },
        };
        let stream_scales = match &v["stream_scales"] {
            Value::Null => StreamScales::PerTensor,
            s => s
                .as_str()
                .unwrap_or_default()
                .parse::<StreamScales>()
                .map_err(|e| bad(format!("\"stream_scales\" {e}")))?,
        };
        let hidden = match &v["hidden"] {
            Value::Null => Hidden::Int8,
            s => s
                .as_str()
                .unwrap_or_default()
                .parse::<Hidden>()
                .map_err(|e| bad(format!("\"hidden\" {e}")))?,
        };
        let mut ranges = Ranges::new();
        let map = v["ranges"]
            .as_object()
            .ok_or_else(|| bad("no \"ranges\"".into()))?;
        for (name, r) in map {
            let point = parse_point(name).ok_or_else(|| bad(format!("unknown range {name:?}")))?;
            let (min, max) = match (r[0].as_f64(), r[1].as_f64()) {
                (Some(a), Some(b)) if a.is_finite() && b.is_finite() && a <= b => (a, b),
                _ => return Err(bad(format!("range {name:?} must be [min, max], finite"))),
            };
            ranges.insert(
                point,
                Range {
                    min: min as f32,
                    max: max as f32,
                },
            );
        }
        Ok(SavedCalibration {
            method,
            images: count("images")?,
            source: v["source"].as_str().unwrap_or_default().to_string(),
            input: [c, h, w],
            fingerprint,
            f16_blocks,
            input_quantization: input,
            stream_scales,
            hidden,
            ranges,
        })
    }

    /// Quantize and plan `model` with these ranges.
    pub fn plan(&self, model: &Model, processor: &ProcessorConfig) -> Result<Plan> {
        if self.input[0] != model.config.num_channels {
            return Err(Error::input(format!(
                "the calibration was made on {}-channel images, the model takes {}",
                self.input[0], model.config.num_channels
            )));
        }
        // A range the model needs but the file lacks is the quantizer's
        // error, naming the tensor.
        let q = quantize(
            model,
            processor,
            &self.ranges,
            (self.input[1], self.input[2]),
            &self.f16_blocks,
            Numerics {
                input: self.input_quantization,
                stream_scales: self.stream_scales,
                hidden: self.hidden,
            },
        )?;
        Ok(Plan::new(q))
    }
}
