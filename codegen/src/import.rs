//! Checkpoint import: `config.json` + safetensors, in HF or timm naming, to a
//! [`Model`]. Every tensor the config implies must be present with the right
//! shape and finite values, and every tensor under the model's own names must
//! be used: a checkpoint that disagrees with its config is an error, not a
//! guess (tensors under other roots are skipped with a warning).

use crate::config::{ModelConfig, Naming, Version, INNER_LAYER_NORM_EPS};
use crate::error::{Error, Result};
use crate::model::{Block, FeatureNorm, Grn, LayerNorm, Linear, Model, PatchConv, Stage};
use crate::safetensors::Checkpoint;
use std::collections::BTreeSet;
use std::path::Path;

/// Load a model folder (`config.json` + `model.safetensors`); warnings go
/// to stderr as `warning: ...` lines.
pub fn load_model(dir: &Path) -> Result<Model> {
    load_model_with(dir, &mut |w| eprintln!("warning: {w}"))
}

/// [`load_model`], handing each warning to `warn`: tensors that are none of
/// the model's (a different root than every tensor the model uses, e.g. an
/// optimizer's state or another head) are skipped with a warning, as
/// `from_pretrained` does, and a `preprocessor_config.json` that disagrees
/// with a timm `pretrained_cfg` is warned of; unused tensors under the model's own roots mean
/// the config and the weights disagree, and are an error.
pub fn load_model_with(dir: &Path, warn: &mut dyn FnMut(String)) -> Result<Model> {
    let config = ModelConfig::from_file(&dir.join("config.json"))?;
    if let Some(w) = crate::processor::processor_disagreement(dir) {
        warn(w);
    }
    let ck = Checkpoint::open_dir(dir)?;
    Importer::new(config, &ck).build(warn)
}

/// Tensor names of one role, in one naming convention.
struct Names {
    naming: Naming,
    prefix: String,
}

impl Names {
    fn stem(&self) -> String {
        match self.naming {
            Naming::Hf => format!("{}embeddings.patch_embeddings", self.prefix),
            Naming::Timm => "stem.0".into(),
        }
    }
    fn stem_norm(&self) -> String {
        match self.naming {
            Naming::Hf => format!("{}embeddings.layernorm", self.prefix),
            Naming::Timm => "stem.1".into(),
        }
    }
    fn downsample(&self, s: usize, i: usize) -> String {
        match self.naming {
            Naming::Hf => format!("{}encoder.stages.{s}.downsampling_layer.{i}", self.prefix),
            Naming::Timm => format!("stages.{s}.downsample.{i}"),
        }
    }
    fn block(&self, s: usize, b: usize, part: &str) -> String {
        match self.naming {
            Naming::Hf => format!("{}encoder.stages.{s}.layers.{b}.{part}", self.prefix),
            Naming::Timm => {
                let p = match part {
                    "dwconv" => "conv_dw",
                    "layernorm" => "norm",
                    "pwconv1" => "mlp.fc1",
                    "pwconv2" => "mlp.fc2",
                    "grn" => "mlp.grn",
                    other => other,
                };
                format!("stages.{s}.blocks.{b}.{p}")
            }
        }
    }
    fn gamma(&self, s: usize, b: usize) -> String {
        match self.naming {
            Naming::Hf => format!(
                "{}encoder.stages.{s}.layers.{b}.layer_scale_parameter",
                self.prefix
            ),
            Naming::Timm => format!("stages.{s}.blocks.{b}.gamma"),
        }
    }
    fn final_norm(&self) -> String {
        match self.naming {
            Naming::Hf => format!("{}layernorm", self.prefix),
            Naming::Timm => "head.norm".into(),
        }
    }
    fn feature_norm(&self, stage: &str) -> String {
        format!("hidden_states_norms.{stage}")
    }
    fn classifier(&self) -> String {
        match self.naming {
            Naming::Hf => "classifier".into(),
            Naming::Timm => "head.fc".into(),
        }
    }
}

struct Importer<'a> {
    config: ModelConfig,
    ck: &'a Checkpoint,
    names: Names,
    used: BTreeSet<String>,
}

impl<'a> Importer<'a> {
    fn new(config: ModelConfig, ck: &'a Checkpoint) -> Self {
        // HF's ForImageClassification nests the model under `convnext.`
        // (`convnextv2.` for V2).
        let nest = match config.version {
            Version::V1 => "convnext.",
            Version::V2 => "convnextv2.",
        };
        let prefix = if config.naming == Naming::Hf && ck.names().any(|n| n.starts_with(nest)) {
            nest.to_string()
        } else {
            String::new()
        };
        let names = Names {
            naming: config.naming,
            prefix,
        };
        Self {
            config,
            ck,
            names,
            used: BTreeSet::new(),
        }
    }

    fn take(&mut self, name: String, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self.ck.f32(&name, shape)?;
        self.used.insert(name);
        Ok(t.data)
    }

    fn norm(&mut self, base: String, c: usize, eps: f32) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.take(format!("{base}.weight"), &[c])?,
            bias: self.take(format!("{base}.bias"), &[c])?,
            eps,
        })
    }

    fn conv(&mut self, base: String, out: usize, inp: usize, k: usize) -> Result<PatchConv> {
        let w = self.take(format!("{base}.weight"), &[out, inp, k, k])?;
        Ok(PatchConv {
            weight: crate::tensor::Tensor::new(&[out, inp, k, k], w),
            bias: self.take(format!("{base}.bias"), &[out])?,
        })
    }

    fn linear(&mut self, base: String, out: usize, inp: usize) -> Result<Linear> {
        let w = self.take(format!("{base}.weight"), &[out, inp])?;
        Ok(Linear {
            weight: crate::tensor::Tensor::new(&[out, inp], w),
            bias: self.take(format!("{base}.bias"), &[out])?,
        })
    }

    fn build(mut self, warn: &mut dyn FnMut(String)) -> Result<Model> {
        let cfg = self.config.clone();
        let eps = INNER_LAYER_NORM_EPS;
        let c0 = cfg.hidden_sizes[0];
        let stem = self.conv(self.names.stem(), c0, cfg.num_channels, cfg.patch_size)?;
        let stem_norm = self.norm(self.names.stem_norm(), c0, eps)?;
        let mut stages = Vec::new();
        for (s, (&c, &depth)) in cfg.hidden_sizes.iter().zip(&cfg.depths).enumerate() {
            let downsample = if s > 0 {
                let prev = cfg.hidden_sizes[s - 1];
                let norm = self.norm(self.names.downsample(s, 0), prev, eps)?;
                Some((norm, self.conv(self.names.downsample(s, 1), c, prev, 2)?))
            } else {
                None
            };
            let mut blocks = Vec::new();
            for b in 0..depth {
                let dw = self.take(
                    format!("{}.weight", self.names.block(s, b, "dwconv")),
                    &[c, 1, 7, 7],
                )?;
                let gamma = if cfg.layer_scale {
                    Some(self.take(self.names.gamma(s, b), &[c])?)
                } else {
                    None
                };
                let grn = if cfg.version == Version::V2 {
                    let base = self.names.block(s, b, "grn");
                    // HF stores `(1, 1, 1, 4C)`, timm `(4C,)`.
                    let shape: &[usize] = match cfg.naming {
                        Naming::Hf => &[1, 1, 1, 4 * c],
                        Naming::Timm => &[4 * c],
                    };
                    Some(Grn {
                        weight: self.take(format!("{base}.weight"), shape)?,
                        bias: self.take(format!("{base}.bias"), shape)?,
                    })
                } else {
                    None
                };
                blocks.push(Block {
                    dw_weight: crate::tensor::Tensor::new(&[c, 7, 7], dw),
                    dw_bias: self
                        .take(format!("{}.bias", self.names.block(s, b, "dwconv")), &[c])?,
                    norm: self.norm(self.names.block(s, b, "layernorm"), c, eps)?,
                    pwconv1: self.linear(self.names.block(s, b, "pwconv1"), 4 * c, c)?,
                    pwconv2: self.linear(self.names.block(s, b, "pwconv2"), c, 4 * c)?,
                    gamma,
                    grn,
                });
            }
            stages.push(Stage { downsample, blocks });
        }
        let last = *cfg.hidden_sizes.last().expect("checked non-empty");
        // A backbone checkpoint (`ConvNextBackbone`) has per-stage norms
        // and no final norm; every other kind has a final norm.
        let backbone = cfg.backbone_architecture
            || self
                .ck
                .names()
                .any(|n| n.starts_with(&self.names.feature_norm("")));
        let final_norm = if backbone
            && !self
                .ck
                .contains(&format!("{}.weight", self.names.final_norm()))
        {
            None
        } else {
            Some(self.norm(self.names.final_norm(), last, cfg.layer_norm_eps)?)
        };
        let mut feature_norms = Vec::new();
        for (name, stage) in cfg.out_features.iter().zip(cfg.out_feature_stages()) {
            let c = cfg.hidden_sizes[stage.saturating_sub(1)];
            let base = self.names.feature_norm(name);
            let from_checkpoint = backbone || self.ck.contains(&format!("{base}.weight"));
            let norm = if from_checkpoint {
                self.norm(base, c, eps)?
            } else {
                LayerNorm {
                    weight: vec![1.0; c],
                    bias: vec![0.0; c],
                    eps,
                }
            };
            feature_norms.push(FeatureNorm {
                name: name.clone(),
                stage,
                norm,
                from_checkpoint,
            });
        }
        let head = self.names.classifier();
        let (weight, bias) = (format!("{head}.weight"), format!("{head}.bias"));
        // A head the config declares, or half of one, must be whole: never
        // taken for a headless model.
        let declared = cfg.classifier_declared || self.ck.contains(&bias);
        if declared && !self.ck.contains(&weight) {
            let why = if cfg.classifier_declared {
                "is missing: config.json declares an image classifier, whose weights must be in the checkpoint"
            } else {
                "is missing: the checkpoint has the classifier's bias but not its weights"
            };
            return Err(Error::tensor(self.ck.path_of(&weight), weight, why));
        }
        let classifier = if self.ck.contains(&weight) {
            let rows = self.ck.shape(&format!("{head}.weight")).map_or(0, |s| s[0]);
            if !cfg.labels.is_empty() && rows != cfg.labels.len() {
                return Err(Error::tensor(
                    self.ck.path_of(&format!("{head}.weight")),
                    format!("{head}.weight"),
                    format!(
                        "has {rows} rows but config id2label/num_classes names {} classes",
                        cfg.labels.len()
                    ),
                ));
            }
            Some(self.linear(head, rows, last)?)
        } else {
            None
        };
        if classifier.is_some() && final_norm.is_none() {
            let name = format!("{}.weight", self.names.final_norm());
            return Err(Error::tensor(
                self.ck.path_of(&name),
                name,
                "is missing: a classifier head needs the final LayerNorm it pools into",
            ));
        }
        // The first path component of every tensor the model uses.
        let root = |n: &str| n.split('.').next().unwrap_or("").to_string();
        let roots: BTreeSet<String> = self.used.iter().map(|n| root(n)).collect();
        let (unused, foreign): (Vec<&str>, Vec<&str>) = self
            .ck
            .names()
            .filter(|n| !self.used.contains(*n))
            .partition(|n| roots.contains(&root(n)));
        for f in &foreign {
            warn(format!(
                "{}: tensor `{f}` is not part of the model, skipped",
                self.ck.path_of(f).display()
            ));
        }
        if let Some(first) = unused.first() {
            let hint = if first.contains("layer_scale") || first.contains("gamma") {
                " (config says no layer scale: layer_scale_init_value <= 0)"
            } else {
                " (config depths/hidden_sizes/num_stages may not match the weights)"
            };
            return Err(Error::tensor(
                self.ck.path_of(first),
                *first,
                format!("is not used by the model the config describes{hint}; {} unused tensor(s) in all", unused.len()),
            ));
        }
        let mut config = cfg;
        if let Some(cls) = &classifier {
            let rows = cls.bias.len();
            if config.labels.len() != rows {
                config.labels = (0..rows).map(|i| format!("LABEL_{i}")).collect();
            }
        }
        Ok(Model {
            config,
            stem,
            stem_norm,
            stages,
            final_norm,
            classifier,
            feature_norms,
        })
    }
}
