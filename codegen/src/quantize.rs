//! int8 quantization per the numerics contract (docs/DESIGN.md):
//! per-output-channel symmetric int8 weights, int32 biases, per-tensor
//! asymmetric int8 activations from calibrated ranges, integer LayerNorm with
//! its affine folded into what follows, activations as 256-entry tables, the
//! layer scale folded into pwconv2's multipliers, and the input normalisation
//! folded into the stem so the device feeds raw `u8 - 128` pixels.

use crate::calibrate::{Range, Ranges};
use crate::error::{Error, Result};
use crate::model::{LayerNorm, Model};
use crate::reference::Point;
use convnext::kernels::{LayerNormParams, Requant, LN_FRAC_BITS};
use convnext::preprocess::ProcessorConfig;

/// Scale and zero point of an int8 tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    /// Real value of one step.
    pub scale: f64,
    /// The int8 value of real 0.
    pub zero_point: i32,
}

impl QParams {
    /// Asymmetric parameters covering `r` (and 0).
    pub fn asymmetric(r: Range) -> Self {
        let lo = (r.min as f64).min(0.0);
        let hi = (r.max as f64).max(0.0);
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let zero_point = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i32;
        Self { scale, zero_point }
    }

    /// Symmetric parameters covering `±abs_max`.
    pub fn symmetric(abs_max: f64) -> Self {
        Self {
            scale: if abs_max > 0.0 { abs_max / 127.0 } else { 1.0 },
            zero_point: 0,
        }
    }

    /// Quantize one real value.
    pub fn quantize(&self, v: f64) -> i8 {
        ((v / self.scale).round() + self.zero_point as f64).clamp(-128.0, 127.0) as i8
    }
}

/// Headroom of the i32 LayerNorm inputs: the calibrated maximum maps to 2^16.
const LN_INPUT_STEPS: f64 = 65536.0;

/// Owned parameters of the stem (see `convnext::kernels::stem`).
#[derive(Debug, Clone)]
pub struct StemQ {
    /// Input height, width, channels; patch size; output channels.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Patch size.
    pub k: usize,
    /// Output channels.
    pub cout: usize,
    /// `[cout][k][k][cin]`.
    pub weights: Vec<u8>,
    /// Per output channel.
    pub bias: Vec<i32>,
    /// Per output channel.
    pub conv_requant: Vec<Requant>,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Per channel.
    pub out_requant: Vec<Requant>,
    /// Per channel.
    pub out_offset: Vec<i32>,
    /// Output stream.
    pub out: QParams,
}

/// Owned parameters of one block (see `convnext::kernels::block`).
#[derive(Debug, Clone)]
pub struct BlockQ {
    /// `(stage, block)`.
    pub index: (usize, usize),
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Input stream.
    pub input: QParams,
    /// `[7][7][c]`.
    pub dw_weights: Vec<u8>,
    /// Per channel.
    pub dw_bias: Vec<i32>,
    /// Per channel.
    pub dw_requant: Vec<Requant>,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// To the int8 normalised value.
    pub ln_requant: Requant,
    /// `[4c][c]`.
    pub pw1_weights: Vec<u8>,
    /// Per hidden unit.
    pub pw1_bias: Vec<i32>,
    /// Per hidden unit.
    pub pw1_requant: Vec<Requant>,
    /// Pre-activation zero point.
    pub pw1_zero_point: i32,
    /// Activation table.
    pub act_table: [i8; 256],
    /// `[c][4c]`.
    pub pw2_weights: Vec<u8>,
    /// Per channel.
    pub pw2_bias: Vec<i32>,
    /// Per channel.
    pub pw2_requant: Vec<Requant>,
    /// Input to output stream.
    pub residual_requant: Requant,
    /// Output stream.
    pub out: QParams,
}

/// Owned parameters of one downsample (see `convnext::kernels::downsample`).
#[derive(Debug, Clone)]
pub struct DownsampleQ {
    /// Stage it opens.
    pub stage: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// To the int8 normalised value.
    pub ln_requant: Requant,
    /// `[cout][2][2][cin]`.
    pub weights: Vec<u8>,
    /// Per output channel.
    pub bias: Vec<i32>,
    /// Per output channel.
    pub requant: Vec<Requant>,
    /// Output stream.
    pub out: QParams,
}

/// Owned parameters of the head (see `convnext::kernels::head`).
#[derive(Debug, Clone)]
pub struct HeadQ {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Input stream.
    pub input: QParams,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// To the int8 normalised value.
    pub ln_requant: Requant,
    /// `[labels][c]`.
    pub weights: Vec<u8>,
    /// Per label.
    pub bias: Vec<i32>,
    /// Per label.
    pub requant: Vec<Requant>,
}

/// Owned parameters of a block kept in f16 (see `convnext::kernels::block_f16`).
#[derive(Debug, Clone)]
pub struct BlockF16Q {
    /// `(stage, block)`.
    pub index: (usize, usize),
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Input stream.
    pub input: QParams,
    /// Output stream.
    pub out: QParams,
    /// f16 bytes `[7][7][c]`.
    pub dw_weights: Vec<u8>,
    /// f16 bytes `[c]`.
    pub dw_bias: Vec<u8>,
    /// f16 bytes `[c]`.
    pub ln_weight: Vec<u8>,
    /// f16 bytes `[c]`.
    pub ln_bias: Vec<u8>,
    /// LayerNorm eps.
    pub ln_eps: f32,
    /// f16 bytes `[4c][c]`.
    pub pw1_weights: Vec<u8>,
    /// f16 bytes `[4c]`.
    pub pw1_bias: Vec<u8>,
    /// The activation.
    pub act: convnext::kernels::activation::Activation,
    /// f16 bytes `[c][4c]`.
    pub pw2_weights: Vec<u8>,
    /// f16 bytes `[c]`.
    pub pw2_bias: Vec<u8>,
    /// f16 bytes `[c]` (ones without layer scale).
    pub gamma: Vec<u8>,
}

impl BlockF16Q {
    /// All f16 parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        [
            &self.dw_weights,
            &self.dw_bias,
            &self.ln_weight,
            &self.ln_bias,
            &self.pw1_weights,
        ]
        .iter()
        .chain(
            [
                &self.pw1_bias,
                &self.pw2_weights,
                &self.pw2_bias,
                &self.gamma,
            ]
            .iter(),
        )
        .map(|v| v.len())
        .sum()
    }
}

fn f16_bytes(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter()
        .flat_map(|x| half::f16::from_f32(x).to_le_bytes())
        .collect()
}

fn block_f16(
    block: &crate::model::Block,
    act: crate::config::Activation,
    index: (usize, usize),
    h: usize,
    w: usize,
    input: QParams,
    out: QParams,
) -> BlockF16Q {
    use convnext::kernels::activation::Activation as A;
    let c = block.dw_bias.len();
    let mut dw = vec![0f32; 49 * c];
    for ch in 0..c {
        for t in 0..49 {
            dw[t * c + ch] = block.dw_weight.data[ch * 49 + t];
        }
    }
    BlockF16Q {
        index,
        h,
        w,
        c,
        input,
        out,
        dw_weights: f16_bytes(dw),
        dw_bias: f16_bytes(block.dw_bias.iter().copied()),
        ln_weight: f16_bytes(block.norm.weight.iter().copied()),
        ln_bias: f16_bytes(block.norm.bias.iter().copied()),
        ln_eps: block.norm.eps,
        pw1_weights: f16_bytes(block.pwconv1.weight.data.iter().copied()),
        pw1_bias: f16_bytes(block.pwconv1.bias.iter().copied()),
        act: match act {
            crate::config::Activation::Gelu => A::Gelu,
            crate::config::Activation::GeluTanh => A::GeluTanh,
            crate::config::Activation::Relu => A::Relu,
            crate::config::Activation::Selu => A::Selu,
        },
        pw2_weights: f16_bytes(block.pwconv2.weight.data.iter().copied()),
        pw2_bias: f16_bytes(block.pwconv2.bias.iter().copied()),
        gamma: f16_bytes((0..c).map(|o| block.gamma.as_ref().map_or(1.0, |g| g[o]))),
    }
}

/// One quantized op.
#[derive(Debug, Clone)]
pub enum OpQ {
    /// Stem.
    Stem(StemQ),
    /// Block.
    Block(Box<BlockQ>),
    /// Block kept in f16.
    BlockF16(Box<BlockF16Q>),
    /// Downsample.
    Downsample(DownsampleQ),
    /// Head.
    Head(HeadQ),
}

impl OpQ {
    /// `(h, w, c)` of a block (int8 or f16); `None` for other ops.
    pub fn block_dims(&self) -> Option<(usize, usize, usize)> {
        match self {
            OpQ::Block(b) => Some((b.h, b.w, b.c)),
            OpQ::BlockF16(b) => Some((b.h, b.w, b.c)),
            _ => None,
        }
    }
}

/// A whole int8 network for one input size.
#[derive(Debug, Clone)]
pub struct QuantizedModel {
    /// The ops in schedule order.
    pub ops: Vec<OpQ>,
    /// Input height.
    pub input_h: usize,
    /// Input width.
    pub input_w: usize,
    /// Input channels.
    pub input_c: usize,
    /// Logit labels.
    pub num_labels: usize,
    /// Real value of one int32 logit step.
    pub logit_scale: f64,
    /// Preprocessing whose rescale/normalize the stem absorbed.
    pub processor: ProcessorConfig,
}

/// Per-output-channel symmetric int8 (as two's-complement bytes): rows of
/// `w` (`rows x row_len`), and each row's scale.
fn quantize_rows(w: &[f32], rows: usize) -> (Vec<u8>, Vec<f64>) {
    let len = w.len() / rows;
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows);
    for row in w.chunks_exact(len) {
        let m = row.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
        let s = if m > 0.0 { m / 127.0 } else { 1.0 };
        q.extend(
            row.iter()
                .map(|&v| (v as f64 / s).round().clamp(-127.0, 127.0) as i8 as u8),
        );
        scales.push(s);
    }
    (q, scales)
}

fn bias_q(v: f64, scale: f64) -> i32 {
    (v / scale).round().clamp(-(2f64.powi(30)), 2f64.powi(30)) as i32
}

/// LayerNorm constants for `c` inputs of scale `s_in` and magnitude up to `max_abs_q`.
fn ln_params(c: usize, eps: f32, s_in: f64, max_abs_q: f64) -> LayerNormParams {
    let d_max = 2.0 * c as f64 * max_abs_q;
    let mut pre_shift = 0u32;
    while c as f64 * (d_max / 2f64.powi(pre_shift as i32)).powi(2) >= 2f64.powi(63) {
        pre_shift += 1;
    }
    let eps_q = eps as f64 * (c as f64).powi(3) / (s_in * s_in) / 4f64.powi(pre_shift as i32);
    LayerNormParams {
        eps_q: eps_q.round().min(2f64.powi(62)) as u64,
        pre_shift,
    }
}

/// `W · diag(γ)` and `b + W · β` for a following layer with rows of `len`
/// inputs laid out `[.., c, ..]` where channel = `index % c_stride / inner`.
fn fold_norm(
    w: &[f32],
    b: &[f32],
    norm: &LayerNorm,
    channel_of: impl Fn(usize) -> usize,
) -> (Vec<f32>, Vec<f64>) {
    let rows = b.len();
    let len = w.len() / rows;
    let mut w2 = w.to_vec();
    let mut b2: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    for r in 0..rows {
        for i in 0..len {
            let ch = channel_of(i);
            let wv = w[r * len + i];
            w2[r * len + i] = wv * norm.weight[ch];
            b2[r] += wv as f64 * norm.bias[ch] as f64;
        }
    }
    (w2, b2)
}

fn range(ranges: &Ranges, p: Point) -> Result<Range> {
    ranges
        .get(&p)
        .copied()
        .ok_or_else(|| Error::input(format!("calibration saw no values for {p:?}")))
}

/// Quantize `model` for `(input_h, input_w)` inputs from calibrated `ranges`.
/// `f16_blocks` lists `(stage, block)` pairs kept in f16 weights with f32
/// arithmetic (mixed precision); every other op is int8.
pub fn quantize(
    model: &Model,
    processor: &ProcessorConfig,
    ranges: &Ranges,
    input_h: usize,
    input_w: usize,
    f16_blocks: &[(usize, usize)],
) -> Result<QuantizedModel> {
    let cfg = &model.config;
    let Some(classifier) = &model.classifier else {
        return Err(Error::input(
            "int8 needs a classifier head; this checkpoint is a bare ConvNextModel",
        ));
    };
    let mut ops = Vec::new();

    // Stem: fold rescale + normalize so the input is `u8 - 128`.
    let (cin, k, c0) = (cfg.num_channels, cfg.patch_size, cfg.hidden_sizes[0]);
    let r = if processor.do_rescale {
        processor.rescale_factor
    } else {
        1.0
    };
    let (mean, std): (Vec<f64>, Vec<f64>) = (0..cin)
        .map(|c| {
            if processor.do_normalize {
                (
                    processor.image_mean[c] as f64,
                    processor.image_std[c] as f64,
                )
            } else {
                (0.0, 1.0)
            }
        })
        .unzip();
    let sw = &model.stem.weight.data;
    let mut w_fold = vec![0f32; cin * k * k * c0];
    let mut b_fold: Vec<f64> = model.stem.bias.iter().map(|&v| v as f64).collect();
    for o in 0..c0 {
        for c in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    let wv = sw[((o * cin + c) * k + ky) * k + kx] as f64;
                    w_fold[((o * k + ky) * k + kx) * cin + c] = (wv * r / std[c]) as f32;
                    b_fold[o] += wv * (128.0 * r - mean[c]) / std[c];
                }
            }
        }
    }
    let (weights, s_w) = quantize_rows(&w_fold, c0);
    let s_ln = range(ranges, Point::StemConv)?.abs_max() as f64 / LN_INPUT_STEPS;
    let out = QParams::asymmetric(range(ranges, Point::Stream(0))?);
    let norm = &model.stem_norm;
    let q24 = (1u64 << LN_FRAC_BITS) as f64;
    ops.push(OpQ::Stem(StemQ {
        in_h: input_h,
        in_w: input_w,
        cin,
        k,
        cout: c0,
        weights,
        bias: (0..c0).map(|o| bias_q(b_fold[o], s_w[o])).collect(),
        conv_requant: s_w.iter().map(|s| Requant::from_real(s / s_ln)).collect(),
        ln: ln_params(c0, norm.eps, s_ln, 16.0 * LN_INPUT_STEPS),
        out_requant: norm
            .weight
            .iter()
            .map(|&g| Requant::from_real(g as f64 / (q24 * out.scale)))
            .collect(),
        out_offset: norm
            .bias
            .iter()
            .map(|&b| (b as f64 / out.scale).round() as i32 + out.zero_point)
            .collect(),
        out,
    }));

    let (mut h, mut w) = (input_h / k, input_w / k);
    let mut stream = out;
    let mut stream_index = 0;
    for (s, stage) in model.stages.iter().enumerate() {
        let c = cfg.hidden_sizes[s];
        if let Some((norm, conv)) = &stage.downsample {
            let cin = cfg.hidden_sizes[s - 1];
            let s_y = QParams::symmetric(range(ranges, Point::DownNorm(s))?.abs_max() as f64).scale;
            // Re-lay [cout][cin][2][2] as [cout][2][2][cin], then fold the norm.
            let mut wl = vec![0f32; c * cin * 4];
            for o in 0..c {
                for ci in 0..cin {
                    for t in 0..4 {
                        wl[(o * 4 + t) * cin + ci] = conv.weight.data[(o * cin + ci) * 4 + t];
                    }
                }
            }
            let (wf, bf) = fold_norm(&wl, &conv.bias, norm, |i| i % cin);
            let (weights, s_w) = quantize_rows(&wf, c);
            stream_index += 1;
            let out = QParams::asymmetric(range(ranges, Point::Stream(stream_index))?);
            ops.push(OpQ::Downsample(DownsampleQ {
                stage: s,
                in_h: h,
                in_w: w,
                cin,
                cout: c,
                ln: ln_params(cin, norm.eps, stream.scale, 255.0),
                ln_requant: Requant::from_real(1.0 / (q24 * s_y)),
                weights,
                bias: (0..c).map(|o| bias_q(bf[o], s_y * s_w[o])).collect(),
                requant: s_w
                    .iter()
                    .map(|sw| Requant::from_real(s_y * sw / out.scale))
                    .collect(),
                out,
            }));
            stream = out;
            h /= 2;
            w /= 2;
        }
        for (bi, block) in stage.blocks.iter().enumerate() {
            if f16_blocks.contains(&(s, bi)) {
                stream_index += 1;
                let out = QParams::asymmetric(range(ranges, Point::Stream(stream_index))?);
                ops.push(OpQ::BlockF16(Box::new(block_f16(
                    block,
                    cfg.hidden_act,
                    (s, bi),
                    h,
                    w,
                    stream,
                    out,
                ))));
                stream = out;
                continue;
            }
            // Depthwise: [C][7][7] -> per-channel scales, laid out [7][7][C].
            let (dq, s_dw) = quantize_rows(&block.dw_weight.data, c);
            let mut dw_weights = vec![0u8; 49 * c];
            for ch in 0..c {
                for t in 0..49 {
                    dw_weights[t * c + ch] = dq[ch * 49 + t];
                }
            }
            let s_d = range(ranges, Point::Dw(s, bi))?.abs_max() as f64 / LN_INPUT_STEPS;
            let s_y =
                QParams::symmetric(range(ranges, Point::BlockNorm(s, bi))?.abs_max() as f64).scale;
            let (w1f, b1f) = fold_norm(
                &block.pwconv1.weight.data,
                &block.pwconv1.bias,
                &block.norm,
                |i| i,
            );
            let (pw1_weights, s_w1) = quantize_rows(&w1f, 4 * c);
            let pre = QParams::asymmetric(range(ranges, Point::Pw1(s, bi))?);
            let act = QParams::asymmetric(range(ranges, Point::Act(s, bi))?);
            let mut act_table = [0i8; 256];
            for (i, t) in act_table.iter_mut().enumerate() {
                let x = pre.scale * (i as i32 - 128 - pre.zero_point) as f64;
                *t = act.quantize(cfg.hidden_act.apply(x));
            }
            let (pw2_weights, s_w2) = quantize_rows(&block.pwconv2.weight.data, c);
            stream_index += 1;
            let out = QParams::asymmetric(range(ranges, Point::Stream(stream_index))?);
            let gamma = |o: usize| block.gamma.as_ref().map_or(1.0, |g| g[o] as f64);
            ops.push(OpQ::Block(Box::new(BlockQ {
                index: (s, bi),
                h,
                w,
                c,
                input: stream,
                dw_bias: (0..c)
                    .map(|ch| bias_q(block.dw_bias[ch] as f64, stream.scale * s_dw[ch]))
                    .collect(),
                dw_requant: s_dw
                    .iter()
                    .map(|sd| Requant::from_real(stream.scale * sd / s_d))
                    .collect(),
                dw_weights,
                ln: ln_params(c, block.norm.eps, s_d, 16.0 * LN_INPUT_STEPS),
                ln_requant: Requant::from_real(1.0 / (q24 * s_y)),
                pw1_bias: (0..4 * c).map(|j| bias_q(b1f[j], s_y * s_w1[j])).collect(),
                pw1_requant: s_w1
                    .iter()
                    .map(|sw| Requant::from_real(s_y * sw / pre.scale))
                    .collect(),
                pw1_weights,
                pw1_zero_point: pre.zero_point,
                act_table,
                pw2_bias: (0..c)
                    .map(|o| {
                        let row_sum: i32 = pw2_weights[o * 4 * c..][..4 * c]
                            .iter()
                            .map(|&v| v as i8 as i32)
                            .sum();
                        bias_q(block.pwconv2.bias[o] as f64, act.scale * s_w2[o])
                            - act.zero_point * row_sum
                    })
                    .collect(),
                pw2_requant: (0..c)
                    .map(|o| Requant::from_real(gamma(o) * act.scale * s_w2[o] / out.scale))
                    .collect(),
                pw2_weights,
                residual_requant: Requant::from_real(stream.scale / out.scale),
                out,
            })));
            stream = out;
        }
    }
    let c = *cfg.hidden_sizes.last().expect("non-empty");
    let hw = (h * w) as f64;
    let s_y = QParams::symmetric(range(ranges, Point::HeadNorm)?.abs_max() as f64).scale;
    let (wf, bf) = fold_norm(
        &classifier.weight.data,
        &classifier.bias,
        &model.final_norm,
        |i| i,
    );
    let labels = classifier.bias.len();
    let (weights, s_w) = quantize_rows(&wf, labels);
    // int32 logits: the calibrated maximum maps to 2^24, far from saturation.
    let logit_scale = (range(ranges, Point::Logits)?.abs_max() as f64).max(1e-6) / q24;
    ops.push(OpQ::Head(HeadQ {
        h,
        w,
        c,
        input: stream,
        ln: ln_params(c, model.final_norm.eps, stream.scale / hw, 255.0 * hw),
        ln_requant: Requant::from_real(1.0 / (q24 * s_y)),
        weights,
        bias: (0..labels).map(|o| bias_q(bf[o], s_y * s_w[o])).collect(),
        requant: s_w
            .iter()
            .map(|sw| Requant::from_real(s_y * sw / logit_scale))
            .collect(),
    }));
    Ok(QuantizedModel {
        ops,
        input_h,
        input_w,
        input_c: cin,
        num_labels: labels,
        logit_scale,
        processor: *processor,
    })
}

/// Float `pixel_values` `(N, C, H, W)` back to the u8 HWC pixels the
/// processor made them from (exact for processor output; rounded otherwise).
pub fn pixel_values_to_u8(x: &crate::tensor::Tensor, p: &ProcessorConfig) -> Vec<u8> {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let r = if p.do_rescale { p.rescale_factor } else { 1.0 };
    let mut out = vec![0u8; n * c * h * w];
    for i in 0..n {
        for ch in 0..c {
            let (m, s) = if p.do_normalize {
                (p.image_mean[ch] as f64, p.image_std[ch] as f64)
            } else {
                (0.0, 1.0)
            };
            for px in 0..h * w {
                let v = x.data[((i * c + ch) * h * w) + px] as f64;
                let u = ((v * s + m) / r).round().clamp(0.0, 255.0);
                out[(i * h * w + px) * c + ch] = u as u8;
            }
        }
    }
    out
}
