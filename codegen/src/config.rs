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

/// Which ConvNeXt the checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ConvNeXt (v1): blocks may carry a layer scale γ.
    V1,
    /// ConvNeXt V2: Global Response Normalization after the activation.
    V2,
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
    /// v1 or V2 (`model_type: "convnextv2"`, timm `use_grn`).
    pub version: Version,
    /// `architectures` names a backbone class (`ConvNextBackbone`, ...).
    pub backbone_architecture: bool,
    /// The config declares a classification head: `architectures` names an
    /// image classifier (`ConvNextForImageClassification`, ...), or timm's
    /// `num_classes` is given and above 0. Its weights must then be in the
    /// checkpoint.
    pub classifier_declared: bool,
    /// Nominal input size (`image_size`).
    pub image_size: usize,
    /// Class names by index (`id2label`); for timm, `class_N`.
    pub labels: Vec<String>,
    /// `out_features` (backbone outputs), e.g. `["stage4"]`, in stage order
    /// (from `out_indices` when only those are given).
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
        let version = match j.get("model_type").and_then(|v| v.as_str()) {
            None | Some("convnext") => Version::V1,
            Some("convnextv2") => Version::V2,
            Some(t) => {
                return Err(Error::config(
                    path,
                    "model_type",
                    format!("is {t:?}; \"convnext\" and \"convnextv2\" are supported"),
                ))
            }
        };
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
        let out_features = out_features(path, j, hidden_sizes.len())?;
        let architecture = |suffix: &str| {
            j.get("architectures")
                .and_then(|v| v.as_array())
                .is_some_and(|a| {
                    a.iter()
                        .any(|n| n.as_str().is_some_and(|n| n.ends_with(suffix)))
                })
        };
        let backbone_architecture = architecture("Backbone");
        let classifier_declared = architecture("ForImageClassification");
        Ok(Self {
            num_channels: f.size("num_channels", 3)?,
            patch_size: f.size("patch_size", 4)?,
            depths: f.sizes("depths", &[3, 3, 9, 3])?,
            hidden_sizes,
            hidden_act,
            layer_norm_eps: f.float("layer_norm_eps", 1e-12)? as f32,
            // ConvNextV2Config has no layer scale.
            layer_scale: version == Version::V1 && f.float("layer_scale_init_value", 1e-6)? > 0.0,
            version,
            backbone_architecture,
            classifier_declared,
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
        let checks: [(&str, ArgCheck); 4] = [
            ("stem_type", |v: &Value| v.as_str() == Some("patch")),
            ("head_norm_first", |v: &Value| v.as_bool() == Some(false)),
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
            // timm: `ls_init_value: null` means no γ (convnextv2_* say so).
            layer_scale: match args.get("ls_init_value") {
                Some(Value::Null) => false,
                _ => a.float("ls_init_value", 1e-6)? > 0.0,
            },
            version: match args.get("use_grn") {
                None | Some(Value::Bool(false)) => Version::V1,
                Some(Value::Bool(true)) => Version::V2,
                Some(v) => {
                    return Err(Error::config(
                        path,
                        "model_args.use_grn",
                        format!("{v} is not true or false"),
                    ))
                }
            },
            backbone_architecture: false,
            classifier_declared: j.get("num_classes").is_some() && num_classes > 0,
            image_size: j
                .pointer("/pretrained_cfg/input_size/1")
                .and_then(|v| v.as_u64())
                .unwrap_or(224) as usize,
            labels: timm_labels(path, j, num_classes)?,
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
        let names = stage_names(self.depths.len());
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

    /// The stage index (0 = `stem`) of every out feature, in order.
    pub fn out_feature_stages(&self) -> Vec<usize> {
        let names = stage_names(self.depths.len());
        self.out_features
            .iter()
            .filter_map(|f| names.iter().position(|n| n == f))
            .collect()
    }

    /// Smallest input height/width the conv arithmetic allows.
    pub fn min_input_size(&self) -> usize {
        self.patch_size << (self.hidden_sizes.len() - 1)
    }
}

/// The names of the stages a backbone can return: `stem`, `stage1` ... `stageN`.
pub fn stage_names(stages: usize) -> Vec<String> {
    std::iter::once("stem".to_string())
        .chain((1..=stages).map(|i| format!("stage{i}")))
        .collect()
}

/// `out_features`, or the names `out_indices` picks, checked against each
/// other when both are given (HF keeps them aligned), in stage order.
fn out_features(path: &Path, j: &Value, stages: usize) -> Result<Vec<String>> {
    let names = stage_names(stages);
    let by_name = match j.get("out_features") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::config(path, "out_features", "must be a list of names"))?,
        ),
        Some(v) => {
            return Err(Error::config(
                path,
                "out_features",
                format!("{v} is not a list"),
            ))
        }
    };
    let by_index = match j.get("out_indices") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    // Negative indices count from the end, as in Python.
                    let i = v.as_i64()?;
                    let i = if i < 0 { i + names.len() as i64 } else { i };
                    names.get(usize::try_from(i).ok()?).cloned()
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::config(
                        path,
                        "out_indices",
                        format!("must be indices into {names:?}"),
                    )
                })?,
        ),
        Some(v) => {
            return Err(Error::config(
                path,
                "out_indices",
                format!("{v} is not a list"),
            ))
        }
    };
    let features = match (by_name, by_index) {
        (Some(f), Some(i)) if f != i => {
            return Err(Error::config(
                path,
                "out_indices",
                format!("names {i:?} but out_features is {f:?}"),
            ))
        }
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => Vec::new(),
    };
    let mut order = Vec::new();
    for f in &features {
        let i = names.iter().position(|n| n == f).ok_or_else(|| {
            Error::config(
                path,
                "out_features",
                format!("{f:?} is not one of {names:?}"),
            )
        })?;
        if order.last().is_some_and(|&last| last >= i) {
            return Err(Error::config(
                path,
                "out_features",
                format!("{features:?} must name stages once each, in order"),
            ));
        }
        order.push(i);
    }
    Ok(features)
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

/// The class names of a timm `config.json`: `label_names` (what
/// `save_for_hf` writes from its `model_config`), else `class_i`.
fn timm_labels(path: &Path, j: &Value, num_classes: usize) -> Result<Vec<String>> {
    let Some(names) = j.get("label_names").filter(|_| num_classes > 0) else {
        return Ok((0..num_classes).map(|i| format!("class_{i}")).collect());
    };
    // A list, or (timm allows gaps) an object from index to name.
    let names: Vec<String> = match names {
        Value::Object(map) => {
            let mut v = vec![String::new(); num_classes];
            for (k, name) in map {
                let i = k.parse::<usize>().ok().filter(|&i| i < num_classes);
                match (i, name.as_str()) {
                    (Some(i), Some(n)) => v[i] = n.to_string(),
                    _ => {
                        return Err(Error::config(
                            path,
                            "label_names",
                            format!("entry {k:?} is not an index below {num_classes} with a name"),
                        ))
                    }
                }
            }
            v
        }
        _ => names
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .ok_or_else(|| Error::config(path, "label_names", "must be a list of strings"))?,
    };
    if names.len() != num_classes {
        return Err(Error::config(
            path,
            "label_names",
            format!("has {} names for num_classes {num_classes}", names.len()),
        ));
    }
    Ok(names)
}
