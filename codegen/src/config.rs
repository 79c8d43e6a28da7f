//! `config.json` of a ConvNeXt checkpoint, in HF transformers' form
//! (`ConvNextConfig`) or timm's (`architecture` + `model_args`), reduced to
//! what inference needs. Missing HF fields take HF's defaults, as
//! `from_pretrained` does; fields we cannot honour are errors.

use crate::error::{Error, Result};
use serde_json::Value;
use std::path::Path;

pub use convnext::kernels::activation::Activation;

/// Whose tensor names the checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// HF transformers (`embeddings.patch_embeddings`, `encoder.stages.N.layers.M`, ...).
    Hf,
    /// timm (`stem.0`, `stages.N.blocks.M`, `head.fc`, ...).
    Timm,
}

/// What inference needs from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Input channels.
    pub num_channels: usize,
    /// Stem patch size (kernel = stride).
    pub patch_size: usize,
    /// Channels per stage.
    pub hidden_sizes: Vec<usize>,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    /// MLP activation.
    pub hidden_act: Activation,
    /// eps of the final LayerNorm (after pooling). The others use 1e-6.
    pub layer_norm_eps: f32,
    /// Whether blocks carry a layer-scale γ (`layer_scale_init_value > 0`).
    pub layer_scale: bool,
    /// Nominal input size (`image_size`).
    pub image_size: usize,
    /// Class names by index (`id2label`); for timm, `class_N`.
    pub labels: Vec<String>,
    /// `out_features` (backbone outputs), e.g. `["stage4"]`.
    pub out_features: Vec<String>,
    /// Tensor naming convention.
    pub naming: Naming,
}

/// eps of the stem, downsample and block LayerNorms (hard-coded in HF and timm).
pub const INNER_LAYER_NORM_EPS: f32 = 1e-6;

impl ModelConfig {
    /// Read and check `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("invalid JSON: {e}")))?;
        if !json.is_object() {
            return Err(Error::format(path, "config is not a JSON object"));
        }
        let cfg = if json.get("architecture").is_some() && json.get("model_type").is_none() {
            Self::from_timm(path, &json)?
        } else {
            Self::from_hf(path, &json)?
        };
        cfg.check(path)?;
        Ok(cfg)
    }

    fn from_hf(path: &Path, j: &Value) -> Result<Self> {
        if let Some(t) = j.get("model_type").and_then(|v| v.as_str()) {
            if t != "convnext" {
                return Err(Error::config(
                    path,
                    "model_type",
                    format!("is {t:?}; only \"convnext\" (v1) is supported"),
                ));
            }
        }
        let f = Fields { path, j };
        let act_name = f.string("hidden_act", "gelu")?;
        let hidden_act = Activation::from_hf_name(&act_name).ok_or_else(|| {
            Error::config(
                path,
                "hidden_act",
                format!("{act_name:?} is not supported (gelu, gelu_new, relu, selu are)"),
            )
        })?;
        let hidden_sizes = f.sizes("hidden_sizes", &[96, 192, 384, 768])?;
        let num_stages = f.size("num_stages", 4)?;
        if num_stages != hidden_sizes.len() {
            return Err(Error::config(
                path,
                "num_stages",
                format!(
                    "is {num_stages} but hidden_sizes has {} entries",
                    hidden_sizes.len()
                ),
            ));
        }
        let mut labels = Vec::new();
        if let Some(map) = j.get("id2label").and_then(|v| v.as_object()) {
            labels = vec![String::new(); map.len()];
            for (k, v) in map {
                let i: usize = k
                    .parse()
                    .ok()
                    .filter(|&i: &usize| i < map.len())
                    .ok_or_else(|| {
                        Error::config(
                            path,
                            "id2label",
                            format!("key {k:?} is not an index below {}", map.len()),
                        )
                    })?;
                labels[i] = v.as_str().unwrap_or_default().to_string();
            }
        }
        let out_features = match j.get("out_features") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            num_channels: f.size("num_channels", 3)?,
            patch_size: f.size("patch_size", 4)?,
            depths: f.sizes("depths", &[3, 3, 9, 3])?,
            hidden_sizes,
            hidden_act,
            layer_norm_eps: f.float("layer_norm_eps", 1e-12)? as f32,
            layer_scale: f.float("layer_scale_init_value", 1e-6)? > 0.0,
            image_size: f.size("image_size", 224)?,
            labels,
            out_features,
            naming: Naming::Hf,
        })
    }

    fn from_timm(path: &Path, j: &Value) -> Result<Self> {
        let arch = j
            .get("architecture")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let (mut depths, mut dims): (Vec<usize>, Vec<usize>) = match arch {
            "convnext_atto" | "convnext_atto_ols" => (vec![2, 2, 6, 2], vec![40, 80, 160, 320]),
            "convnext_femto" | "convnext_femto_ols" => (vec![2, 2, 6, 2], vec![48, 96, 192, 384]),
            "convnext_pico" | "convnext_pico_ols" => (vec![2, 2, 6, 2], vec![64, 128, 256, 512]),
            "convnext_nano" | "convnext_nano_ols" => (vec![2, 2, 8, 2], vec![80, 160, 320, 640]),
            "convnext_tiny" => (vec![3, 3, 9, 3], vec![96, 192, 384, 768]),
            "convnext_small" => (vec![3, 3, 27, 3], vec![96, 192, 384, 768]),
            "convnext_base" => (vec![3, 3, 27, 3], vec![128, 256, 512, 1024]),
            "convnext_large" => (vec![3, 3, 27, 3], vec![192, 384, 768, 1536]),
            _ => (Vec::new(), Vec::new()),
        };
        let empty = Value::Object(Default::default());
        let args = j.get("model_args").unwrap_or(&empty);
        let a = Fields { path, j: args };
        if args.get("depths").is_some() {
            depths = a.sizes("depths", &[])?;
        }
        if args.get("dims").is_some() {
            dims = a.sizes("dims", &[])?;
        }
        if dims.is_empty() {
            return Err(Error::config(
                path,
                "architecture",
                format!(
                    "{arch:?} is not a known timm ConvNeXt and model_args gives no dims/depths"
                ),
            ));
        }
        let checks: [(&str, ArgCheck); 5] = [
            ("stem_type", |v: &Value| v.as_str() == Some("patch")),
            ("head_norm_first", |v: &Value| v.as_bool() == Some(false)),
            ("use_grn", |v: &Value| v.as_bool() == Some(false)),
            ("conv_bias", |v: &Value| v.as_bool() == Some(true)),
            ("kernel_sizes", |v: &Value| v.as_u64() == Some(7)),
        ];
        for (field, ok) in checks {
            if let Some(v) = args.get(field) {
                if !ok(v) {
                    return Err(Error::config(
                        path,
                        format!("model_args.{field}"),
                        format!("{v} is not supported"),
                    ));
                }
            }
        }
        let act_name = a.string("act_layer", "gelu")?;
        let hidden_act = Activation::from_hf_name(&act_name).ok_or_else(|| {
            Error::config(
                path,
                "model_args.act_layer",
                format!("{act_name:?} is not supported"),
            )
        })?;
        let in_chans = match j
            .pointer("/pretrained_cfg/input_size/0")
            .and_then(|v| v.as_u64())
        {
            Some(c) => a.size("in_chans", c as usize)?,
            None => a.size("in_chans", 3)?,
        };
        let num_classes = Fields { path, j }.size("num_classes", 1000)?;
        Ok(Self {
            num_channels: in_chans,
            patch_size: a.size("patch_size", 4)?,
            hidden_sizes: dims,
            depths,
            hidden_act,
            layer_norm_eps: INNER_LAYER_NORM_EPS,
            layer_scale: a.float("ls_init_value", 1e-6)? > 0.0,
            image_size: j
                .pointer("/pretrained_cfg/input_size/1")
                .and_then(|v| v.as_u64())
                .unwrap_or(224) as usize,
            labels: (0..num_classes).map(|i| format!("class_{i}")).collect(),
            out_features: Vec::new(),
            naming: Naming::Timm,
        })
    }

    fn check(&self, path: &Path) -> Result<()> {
        if self.hidden_sizes.is_empty() {
            return Err(Error::config(path, "hidden_sizes", "is empty"));
        }
        if self.depths.len() != self.hidden_sizes.len() {
            return Err(Error::config(
                path,
                "depths",
                format!(
                    "has {} entries but hidden_sizes has {}",
                    self.depths.len(),
                    self.hidden_sizes.len()
                ),
            ));
        }
        for (field, v) in [
            ("num_channels", self.num_channels),
            ("patch_size", self.patch_size),
        ] {
            if v == 0 {
                return Err(Error::config(path, field, "must be positive"));
            }
        }
        if self.hidden_sizes.contains(&0) {
            return Err(Error::config(
                path,
                "hidden_sizes",
                "sizes must be positive",
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps >= 0.0) {
            return Err(Error::config(
                path,
                "layer_norm_eps",
                "must be a finite non-negative number",
            ));
        }
        let names: Vec<String> = std::iter::once("stem".to_string())
            .chain((1..=self.depths.len()).map(|i| format!("stage{i}")))
            .collect();
        for f in &self.out_features {
            if !names.contains(f) {
                return Err(Error::config(
                    path,
                    "out_features",
                    format!("{f:?} is not one of {names:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Smallest input height/width the conv arithmetic allows.
    pub fn min_input_size(&self) -> usize {
        self.patch_size << (self.hidden_sizes.len() - 1)
    }
}

/// Whether a timm `model_args` value is one we support.
type ArgCheck = fn(&Value) -> bool;

/// Typed access to optional JSON fields with defaults and named errors.
struct Fields<'a> {
    path: &'a Path,
    j: &'a Value,
}

impl Fields<'_> {
    fn size(&self, k: &str, default: usize) -> Result<usize> {
        match self.j.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_u64().map(|x| x as usize).ok_or_else(|| {
                Error::config(self.path, k, format!("{v} is not a non-negative integer"))
            }),
        }
    }
    fn sizes(&self, k: &str, default: &[usize]) -> Result<Vec<usize>> {
        match self.j.get(k) {
            None | Some(Value::Null) => Ok(default.to_vec()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_u64().map(|x| x as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::config(self.path, k, "must be a list of non-negative integers")
                }),
            Some(v) => Err(Error::config(self.path, k, format!("{v} is not a list"))),
        }
    }
    fn float(&self, k: &str, default: f64) -> Result<f64> {
        match self.j.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| Error::config(self.path, k, format!("{v} is not a number"))),
        }
    }
    fn string(&self, k: &str, default: &str) -> Result<String> {
        match self.j.get(k) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(String::from)
                .ok_or_else(|| Error::config(self.path, k, format!("{v} is not a string"))),
        }
    }
}
