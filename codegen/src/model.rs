//! The imported model: every weight of a ConvNeXt (v1 or V2) in f32, named by role,
//! whatever the checkpoint's naming. Layouts follow PyTorch's.

use crate::config::ModelConfig;
use crate::tensor::Tensor;

/// A LayerNorm over channels with its affine.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// γ, one per channel.
    pub weight: Vec<f32>,
    /// β, one per channel.
    pub bias: Vec<f32>,
    /// Added to the variance.
    pub eps: f32,
}

/// A k x k convolution with stride k (the stem's patchify, the downsamples).
#[derive(Debug, Clone)]
pub struct PatchConv {
    /// `[out, in, k, k]`.
    pub weight: Tensor,
    /// One per output channel.
    pub bias: Vec<f32>,
}

impl PatchConv {
    /// Kernel size = stride.
    pub fn kernel(&self) -> usize {
        self.weight.shape[2]
    }
}

/// A dense layer, `y = W x + b`.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out, in]`.
    pub weight: Tensor,
    /// One per output.
    pub bias: Vec<f32>,
}

/// Global Response Normalization (ConvNeXt V2) over the 4C hidden tensor
/// `h`: `G_c = ||h_c||₂` over all pixels, `N_c = G_c / (mean_c G + 1e-6)`,
/// `h ← h + weight_c · h · N_c + bias_c`.
#[derive(Debug, Clone)]
pub struct Grn {
    /// One per hidden channel.
    pub weight: Vec<f32>,
    /// One per hidden channel.
    pub bias: Vec<f32>,
}

/// The constant GRN adds to the mean of `G` (HF and timm both hard-code it).
pub const GRN_EPS: f32 = 1e-6;

/// One ConvNeXt block: `x + γ · pw2(grn(act(pw1(LN(dw7x7(x))))))`.
#[derive(Debug, Clone)]
pub struct Block {
    /// Depthwise 7x7 weights, `[C, 7, 7]`.
    pub dw_weight: Tensor,
    /// Depthwise bias, `[C]`.
    pub dw_bias: Vec<f32>,
    /// LayerNorm after the depthwise conv.
    pub norm: LayerNorm,
    /// C -> 4C.
    pub pwconv1: Linear,
    /// 4C -> C.
    pub pwconv2: Linear,
    /// Layer scale, if the model has one.
    pub gamma: Option<Vec<f32>>,
    /// GRN after the activation (ConvNeXt V2).
    pub grn: Option<Grn>,
}

/// The LayerNorm a backbone applies to one stage's output before handing it
/// out as a feature map (HF `hidden_states_norms`).
#[derive(Debug, Clone)]
pub struct FeatureNorm {
    /// `stem`, `stage1`, ...
    pub name: String,
    /// 0 for the stem, `s` for stage `s` (1-based).
    pub stage: usize,
    /// Its weights (the identity affine when the checkpoint has none).
    pub norm: LayerNorm,
    /// Whether the checkpoint held them (a classifier checkpoint does not:
    /// HF's `ConvNextBackbone.from_pretrained` starts them as the identity).
    pub from_checkpoint: bool,
}

/// A stage: an optional (LayerNorm, 2x2 stride-2 conv) downsample, then blocks.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Present for every stage but the first.
    pub downsample: Option<(LayerNorm, PatchConv)>,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
}

/// A whole ConvNeXt, optionally with its classifier head.
#[derive(Debug, Clone)]
pub struct Model {
    /// What `config.json` said.
    pub config: ModelConfig,
    /// Patchify convolution.
    pub stem: PatchConv,
    /// LayerNorm after the stem.
    pub stem_norm: LayerNorm,
    /// The stages.
    pub stages: Vec<Stage>,
    /// LayerNorm after global average pooling (`pooler_output`); backbone
    /// checkpoints have none.
    pub final_norm: Option<LayerNorm>,
    /// The classifier, for `ForImageClassification` checkpoints.
    pub classifier: Option<Linear>,
    /// One norm per `out_features` entry, in stage order.
    pub feature_norms: Vec<FeatureNorm>,
}

impl Model {
    /// The model with other `out_features` (`stem`, `stage1`, ... in stage
    /// order), as `ConvNextBackbone.from_pretrained(dir, out_features=...)`
    /// builds it: a stage's norm from the checkpoint when it was loaded,
    /// else the identity affine HF starts a new norm with.
    pub fn with_out_features(&self, names: &[String]) -> crate::Result<Model> {
        let all = crate::config::stage_names(self.stages.len());
        let mut feature_norms = Vec::new();
        for name in names {
            let stage = all.iter().position(|n| n == name).ok_or_else(|| {
                crate::Error::input(format!("out feature {name:?} is not one of {all:?}"))
            })?;
            if feature_norms
                .last()
                .is_some_and(|f: &FeatureNorm| f.stage >= stage)
            {
                return Err(crate::Error::input(format!(
                    "out features {names:?} must name stages once each, in order"
                )));
            }
            let loaded = self.feature_norms.iter().find(|f| f.stage == stage);
            feature_norms.push(loaded.cloned().unwrap_or_else(|| {
                let c = self.config.hidden_sizes[stage.saturating_sub(1)];
                FeatureNorm {
                    name: name.clone(),
                    stage,
                    norm: LayerNorm {
                        weight: vec![1.0; c],
                        bias: vec![0.0; c],
                        eps: crate::config::INNER_LAYER_NORM_EPS,
                    },
                    from_checkpoint: false,
                }
            }));
        }
        let mut m = self.clone();
        m.config.out_features = names.to_vec();
        m.feature_norms = feature_norms;
        Ok(m)
    }

    /// The model as HF's `ConvNextBackbone` sees it: no final norm, no
    /// classifier, its `out_features` maps as the outputs (what the int8
    /// network of `--output-kind feature_maps` computes).
    pub fn as_backbone(&self) -> Model {
        Model {
            final_norm: None,
            classifier: None,
            ..self.clone()
        }
    }

    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        let ln = |n: &LayerNorm| n.weight.len() + n.bias.len();
        let conv = |c: &PatchConv| c.weight.len() + c.bias.len();
        let lin = |l: &Linear| l.weight.len() + l.bias.len();
        let mut n = conv(&self.stem) + ln(&self.stem_norm);
        n += self.final_norm.as_ref().map_or(0, ln);
        n += self
            .feature_norms
            .iter()
            .filter(|f| f.from_checkpoint)
            .map(|f| ln(&f.norm))
            .sum::<usize>();
        n += self.classifier.as_ref().map_or(0, lin);
        for s in &self.stages {
            if let Some((norm, c)) = &s.downsample {
                n += ln(norm) + conv(c);
            }
            for b in &s.blocks {
                n += b.dw_weight.len()
                    + b.dw_bias.len()
                    + ln(&b.norm)
                    + lin(&b.pwconv1)
                    + lin(&b.pwconv2);
                n += b.gamma.as_ref().map_or(0, Vec::len);
                n += b.grn.as_ref().map_or(0, |g| g.weight.len() + g.bias.len());
            }
        }
        n
    }
}
