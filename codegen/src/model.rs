//! The imported model: every weight of a ConvNeXt v1 in f32, named by role,
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

/// One ConvNeXt block: `x + γ · pw2(act(pw1(LN(dw7x7(x)))))`.
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
    /// LayerNorm after global average pooling (`pooler_output`).
    pub final_norm: LayerNorm,
    /// The classifier, for `ForImageClassification` checkpoints.
    pub classifier: Option<Linear>,
}

impl Model {
    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        let ln = |n: &LayerNorm| n.weight.len() + n.bias.len();
        let conv = |c: &PatchConv| c.weight.len() + c.bias.len();
        let lin = |l: &Linear| l.weight.len() + l.bias.len();
        let mut n = conv(&self.stem) + ln(&self.stem_norm) + ln(&self.final_norm);
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
            }
        }
        n
    }
}
