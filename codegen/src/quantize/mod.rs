//! int8 quantization per the numerics contract (docs/DESIGN.md):
//! per-output-channel symmetric int8 weights, int32 biases, per-tensor
//! asymmetric int8 activations from calibrated ranges, integer LayerNorm with
//! its affine folded into what follows, activations as 256-entry tables, the
//! layer scale folded into pwconv2's multipliers, and the input normalisation
//! folded into the stem so the device feeds raw `u8 - 128` pixels.
//!
//! One file per kernel, mirroring `src/kernels/`: each quantizes straight
//! into the runtime's params type (owning its tables as `Vec<u8>`), which the
//! planner places and the emitter writes out.

mod block;
mod block_f16;
mod downsample;
mod feature_map;
mod head;
mod stem;
mod stream;

pub use stream::{StreamQuant, StreamScales};

use crate::calibrate::{Range, Ranges};
use crate::error::{Error, Result};
use crate::model::{LayerNorm, Model};
use crate::reference::Point;
use convnext::kernels::pointwise::paired_offset;
use convnext::kernels::prepared::Prepared;
use convnext::kernels::requantize::requant_table;
use convnext::kernels::tables::i32_table;
use convnext::kernels::{LayerNormParams, QLinear, Requant};
use convnext::network::Op;
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
    /// Asymmetric int8 parameters covering `r` (and 0).
    pub fn asymmetric(r: Range) -> Self {
        Self::asymmetric_bits(r, 8)
    }

    /// Asymmetric parameters of a `bits`-bit signed integer covering `r`
    /// (and 0).
    pub fn asymmetric_bits(r: Range, bits: u32) -> Self {
        let (lo_q, hi_q) = Self::levels(bits);
        let lo = (r.min as f64).min(0.0);
        let hi = (r.max as f64).max(0.0);
        let scale = if hi > lo {
            (hi - lo) / (hi_q - lo_q)
        } else {
            1.0
        };
        let zero_point = (lo_q - lo / scale).round().clamp(lo_q, hi_q) as i32;
        Self { scale, zero_point }
    }

    /// The lowest and highest value of a `bits`-bit signed integer.
    fn levels(bits: u32) -> (f64, f64) {
        let half = (1u64 << (bits - 1)) as f64;
        (-half, half - 1.0)
    }

    /// Quantize one real value to a `bits`-bit signed integer.
    pub fn quantize_bits(&self, v: f64, bits: u32) -> i32 {
        let (lo_q, hi_q) = Self::levels(bits);
        ((v / self.scale).round() + self.zero_point as f64).clamp(lo_q, hi_q) as i32
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
        self.quantize_bits(v, 8) as i8
    }
}

/// Headroom of the i32 LayerNorm inputs: the calibrated maximum maps to 2^16
/// (the kernel clamps at 2^20, `convnext::kernels::layer_norm::LN_INPUT_LIMIT`).
const LN_INPUT_STEPS: f64 = 65536.0;

/// One in Q24: the int32 logits map the calibrated maximum to 2^24.
const Q24: f64 = (1u64 << 24) as f64;

/// A quantized op with the name it has in reports and generated code.
#[derive(Debug, Clone)]
pub struct QuantizedOp {
    /// `stem`, `stage1_block0`, `stage1_block0_f16`, `stage2_downsample`, `head`.
    pub name: String,
    /// The runtime op, owning its tables; placed by the planner.
    pub op: Op<Vec<u8>>,
    /// Quantization of its int8 output (the residual stream it writes, or
    /// a feature map's); `None` for the head, whose output is the int32
    /// logits.
    pub output: Option<StreamQuant>,
    /// The host's prepared copies of its tables (x86-64 hosts only,
    /// [`crate::host_wide::prepare`]); never emitted.
    pub host: Prepared<Vec<u8>>,
}

impl AsRef<Op<Vec<u8>>> for QuantizedOp {
    fn as_ref(&self) -> &Op<Vec<u8>> {
        &self.op
    }
}

/// The int8 network's numerics beyond the range rule: how its input is
/// quantized, how its residual stream is scaled, how wide the values
/// pwconv2 reads are.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Numerics {
    /// The input bytes.
    pub input: InputQuantization,
    /// The residual stream's scales.
    pub stream_scales: StreamScales,
    /// The hidden vectors' width.
    pub hidden: Hidden,
}

/// How wide the hidden values (the activation's outputs) pwconv2 reads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hidden {
    /// i16 ([`hidden_bits`] of them used) in the blocks whose width is a
    /// multiple of 4 (every ConvNeXt's): v1's from a 16-bit activation
    /// table (256 bytes more a block), V2's from GRN; int8 elsewhere. The
    /// default: `4C` bytes more scratch a tile pixel.
    #[default]
    Int16,
    /// int8 everywhere.
    Int8,
}

impl std::fmt::Display for Hidden {
    /// The CLI's spelling: `int16` or `int8`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hidden::Int16 => "int16",
            Hidden::Int8 => "int8",
        })
    }
}

impl std::str::FromStr for Hidden {
    type Err = String;

    /// The CLI's spelling back.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "int16" => Ok(Hidden::Int16),
            "int8" => Ok(Hidden::Int8),
            _ => Err(format!("{s:?}: expected int16 or int8")),
        }
    }
}

pub use convnext::kernels::block::hidden_bits;

impl Numerics {
    /// The defaults with the input quantized as `input` says.
    pub fn with_input(input: InputQuantization) -> Self {
        Numerics {
            input,
            ..Numerics::default()
        }
    }
}

/// How the int8 network's input bytes are made from `pixel_values`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum InputQuantization {
    /// The u8 pixels the processor takes (a camera's bytes), its rescale and
    /// normalisation folded into the stem: exact for images, the default.
    #[default]
    Camera,
    /// `pixel_values` quantized with a scale and zero point calibrated on
    /// the calibration images, for inputs that are not u8 images (another
    /// normalisation, other sensors); the bytes are `q + 128`.
    Calibrated(QParams),
}

impl InputQuantization {
    /// The calibrated form for `calibration` `pixel_values` (their min and
    /// max, zero included).
    pub fn calibrated_on(calibration: &crate::tensor::Tensor) -> InputQuantization {
        let (min, max) = calibration
            .data
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0f32, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
        InputQuantization::Calibrated(QParams::asymmetric(Range { min, max }))
    }

    /// The input's per-channel affine: real value = `a[c] q + b[c]` for an
    /// int8 input `q` (the byte minus 128).
    fn affine(&self, processor: &ProcessorConfig, c: usize) -> (f64, f64) {
        match self {
            InputQuantization::Camera => {
                let r = if processor.do_rescale {
                    processor.rescale_factor
                } else {
                    1.0
                };
                let (mean, std) = if processor.do_normalize {
                    (
                        processor.image_mean[c] as f64,
                        processor.image_std[c] as f64,
                    )
                } else {
                    (0.0, 1.0)
                };
                (r / std, (128.0 * r - mean) / std)
            }
            InputQuantization::Calibrated(q) => (q.scale, -q.scale * q.zero_point as f64),
        }
    }
}

/// Where one int8 feature map sits in the feature-map buffer and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMapInfo {
    /// `stem`, `stage1`, ...
    pub name: String,
    /// `(C, H, W)`; the bytes are HWC.
    pub shape: [usize; 3],
    /// First byte in the buffer.
    pub offset: usize,
    /// Real value = `scale * (q - zero_point)`.
    pub quant: QParams,
}

impl FeatureMapInfo {
    /// Bytes of the map.
    pub fn bytes(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A whole int8 network for one input size.
#[derive(Debug, Clone)]
pub struct QuantizedModel {
    /// The ops in schedule order.
    pub ops: Vec<QuantizedOp>,
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
    /// The feature maps, in `out_features` order (a backbone's network).
    pub feature_maps: Vec<FeatureMapInfo>,
    /// Preprocessing whose rescale/normalize the stem absorbed.
    pub processor: ProcessorConfig,
    /// How input bytes are made ([`input_bytes`]).
    pub input: InputQuantization,
    /// How the residual stream is scaled.
    pub stream_scales: StreamScales,
    /// How wide pwconv2's inputs are.
    pub hidden: Hidden,
}

impl QuantizedModel {
    /// The numerics it was quantized with.
    pub fn numerics(&self) -> Numerics {
        Numerics {
            input: self.input,
            stream_scales: self.stream_scales,
            hidden: self.hidden,
        }
    }
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

/// `rows` plain rows of `len` weights in the layout the pointwise kernels
/// read (`convnext::kernels::pointwise::paired_offset`).
pub fn paired_layout<T: Copy + Default>(plain: &[T], rows: usize, len: usize) -> Vec<T> {
    let mut out = vec![T::default(); rows * len];
    for r in 0..rows {
        for k in 0..len {
            out[paired_offset(r, k, rows, len)] = plain[r * len + k];
        }
    }
    out
}

/// The runtime's table forms.
fn i32s(v: &[i32]) -> Vec<u8> {
    i32_table(v).collect()
}

fn requants(v: impl IntoIterator<Item = Requant>) -> Vec<u8> {
    let v: Vec<Requant> = v.into_iter().collect();
    requant_table(&v).collect()
}

/// A linear layer from int8 rows, biases and multipliers.
fn linear(
    weights: Vec<u8>,
    bias: &[i32],
    requant: impl IntoIterator<Item = Requant>,
) -> QLinear<Vec<u8>> {
    QLinear {
        weights,
        bias: i32s(bias),
        requant: requants(requant),
    }
}

/// LayerNorm constants for `c` inputs of scale `s_in`: `ε C² / s_in²`.
fn ln_params(c: usize, eps: f32, s_in: f64) -> LayerNormParams {
    let eps_w = eps as f64 * (c as f64).powi(2) / (s_in * s_in);
    LayerNormParams {
        eps_w: eps_w.round().min(2f64.powi(62)) as u64,
    }
}

/// A LayerNorm's affine applied to its Q16 output, to int8 of `out`'s
/// quantization: per channel `c` the multiplier `γ / (2¹⁶ s_c)` and the
/// offset `round(β / s_c) + z` (`convnext::kernels::layer_norm::affine_i8`'s
/// tables).
fn norm_affine(norm: &LayerNorm, out: &StreamQuant) -> (Vec<u8>, Vec<u8>) {
    let frac = (1u64 << convnext::kernels::LN_FRAC_BITS) as f64;
    let requant = requants(
        norm.weight
            .iter()
            .enumerate()
            .map(|(c, &g)| Requant::from_real(g as f64 / (frac * out.scale(c)))),
    );
    let offset: Vec<i32> = norm
        .bias
        .iter()
        .enumerate()
        .map(|(c, &b)| (b as f64 / out.scale(c)).round() as i32 + out.zero_point())
        .collect();
    (requant, i32s(&offset))
}

/// `W · diag(γ)` and `b + W · β` for a following layer whose rows read
/// LayerNorm channel `channel_of(i)` at position `i`.
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
/// arithmetic (mixed precision); every other op is int8. A model with a
/// classifier gives a network ending in the head (int32 logits); one without
/// ([`Model::as_backbone`]) gives its `out_features` maps and stops after the
/// last stage they need. `numerics` says how the input is quantized and
/// the residual stream scaled.
pub fn quantize(
    model: &Model,
    processor: &ProcessorConfig,
    ranges: &Ranges,
    (input_h, input_w): (usize, usize),
    f16_blocks: &[(usize, usize)],
    numerics: Numerics,
) -> Result<QuantizedModel> {
    let Numerics {
        input,
        stream_scales,
        hidden,
    } = numerics;
    let cfg = &model.config;
    if model.classifier.is_none() && model.feature_norms.is_empty() {
        return Err(Error::input(
            "int8 needs a classifier head or out_features; this checkpoint has neither",
        ));
    }
    // A backbone's network ends with the last stage a map needs.
    let last_stage = match model.classifier {
        Some(_) => model.stages.len(),
        None => model
            .feature_norms
            .iter()
            .map(|f| f.stage)
            .max()
            .unwrap_or(0),
    };
    // The stage groups (the stream the stem or a downsample writes, then
    // the blocks after it), each stream's quantization chosen up front.
    let mut groups = vec![(cfg.hidden_sizes[0], vec![0])];
    let mut index = 0;
    for (s, stage) in model.stages.iter().enumerate().take(last_stage) {
        if stage.downsample.is_some() {
            index += 1;
            groups.push((cfg.hidden_sizes[s], vec![index]));
        }
        for _ in &stage.blocks {
            index += 1;
            if let Some(g) = groups.last_mut() {
                g.1.push(index);
            }
        }
    }
    let mut streams: std::collections::BTreeMap<usize, StreamQuant> =
        stream::stream_quants(ranges, &groups, stream_scales)?
            .into_iter()
            .collect();
    let mut stream_at = |i: usize| {
        streams
            .remove(&i)
            .ok_or_else(|| Error::input(format!("no quantization for stream {i}")))
    };
    let mut ops = Vec::new();
    let mut feature_maps = Vec::new();
    // The maps of stage `stage`'s output (0: the stem's), after it.
    let mut maps = |stage: usize,
                    stream: &StreamQuant,
                    (h, w): (usize, usize),
                    ops: &mut Vec<QuantizedOp>|
     -> Result<()> {
        if model.classifier.is_some() {
            return Ok(());
        }
        for (k, f) in model.feature_norms.iter().enumerate() {
            if f.stage != stage {
                continue;
            }
            let offset = feature_maps.iter().map(FeatureMapInfo::bytes).sum();
            let (p, quant) = feature_map::quantize(f, k, ranges, (h, w), stream, offset)?;
            feature_maps.push(FeatureMapInfo {
                name: f.name.clone(),
                shape: [p.map.c, h, w],
                offset,
                quant,
            });
            ops.push(QuantizedOp {
                name: format!("{}_feature_map", f.name),
                op: Op::FeatureMap(p),
                output: Some(StreamQuant::per_tensor(quant)),
                host: Prepared::None,
            });
        }
        Ok(())
    };
    let mut stream = stream_at(0)?;
    let stem = stem::quantize(model, processor, ranges, (input_h, input_w), input, &stream)?;
    let (mut h, mut w) = (stem.out_h(), stem.out_w());
    ops.push(QuantizedOp {
        name: "stem".into(),
        op: Op::Stem(stem),
        output: Some(stream.clone()),
        host: Prepared::None,
    });
    maps(0, &stream, (h, w), &mut ops)?;
    let mut stream_index = 0;
    for (s, stage) in model.stages.iter().enumerate().take(last_stage) {
        if let Some((norm, conv)) = &stage.downsample {
            stream_index += 1;
            let out = stream_at(stream_index)?;
            let s_y = QParams::symmetric(range(ranges, Point::DownNorm(s))?.abs_max() as f64);
            let d = downsample::quantize(norm, conv, (h, w), &stream, s_y.scale, &out);
            ops.push(QuantizedOp {
                name: format!("stage{}_downsample", s + 1),
                op: Op::Downsample(d),
                output: Some(out.clone()),
                host: Prepared::None,
            });
            (stream, h, w) = (out, h / 2, w / 2);
        }
        for (bi, block) in stage.blocks.iter().enumerate() {
            if block.grn.is_some() && f16_blocks.contains(&(s, bi)) {
                return Err(Error::input(format!(
                    "stage{}_block{bi} has GRN (ConvNeXt V2): f16 blocks are v1 only; keep it int8",
                    s + 1
                )));
            }
            stream_index += 1;
            let out = stream_at(stream_index)?;
            let name = format!("stage{}_block{bi}", s + 1);
            let (name, op) = if f16_blocks.contains(&(s, bi)) {
                let b = block_f16::quantize(block, cfg.hidden_act, (h, w), &stream, &out);
                (format!("{name}_f16"), Op::BlockF16(b))
            } else {
                let at = ((s, bi), (h, w));
                let streams = (&stream, &out);
                let b = block::quantize(block, cfg.hidden_act, ranges, at, streams, hidden)?;
                (name, Op::Block(b))
            };
            ops.push(QuantizedOp {
                name,
                op,
                output: Some(out.clone()),
                host: Prepared::None,
            });
            stream = out;
        }
        maps(s + 1, &stream, (h, w), &mut ops)?;
    }
    let (mut num_labels, mut logit_scale) = (0, 1.0);
    if let Some(classifier) = &model.classifier {
        let (head, scale) = head::quantize(model, classifier, ranges, (h, w), &stream)?;
        (num_labels, logit_scale) = (head.classifier.outputs(), scale);
        ops.push(QuantizedOp {
            name: "head".into(),
            op: Op::Head(head),
            output: None,
            host: Prepared::None,
        });
    }
    Ok(QuantizedModel {
        ops,
        input_h,
        input_w,
        input_c: cfg.num_channels,
        num_labels,
        logit_scale,
        feature_maps,
        processor: *processor,
        input,
        stream_scales,
        hidden,
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

/// How far float `pixel_values` are from u8 images under the processor's
/// normalisation, which is all the int8 network can take: the fraction of
/// values outside `[0, 255]` once un-normalised (clipped), and the largest
/// distance to the nearest u8 level (rounded away), in levels. Both are 0
/// for processor output (up to f32 rounding, below 1e-3 of a level).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct U8Loss {
    /// Fraction of values clipped.
    pub clipped: f64,
    /// Largest rounding error, in u8 levels (at most 0.5 for unclipped values).
    pub max_rounding: f64,
}

impl U8Loss {
    /// Whether `pixel_values_to_u8` loses anything a user would notice.
    pub fn is_lossy(&self) -> bool {
        self.clipped > 0.0 || self.max_rounding > 1e-3
    }
}

/// [`U8Loss`] of `x` `(N, C, H, W)` under `p`.
pub fn u8_loss(x: &crate::tensor::Tensor, p: &ProcessorConfig) -> U8Loss {
    let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3]);
    let r = if p.do_rescale { p.rescale_factor } else { 1.0 };
    let (mut clipped, mut max_rounding) = (0usize, 0.0f64);
    for (k, &v) in x.data.iter().enumerate() {
        let ch = (k / hw) % c.max(1);
        let (m, s) = if p.do_normalize {
            (p.image_mean[ch] as f64, p.image_std[ch] as f64)
        } else {
            (0.0, 1.0)
        };
        let u = (v as f64 * s + m) / r;
        if !(-0.5..=255.5).contains(&u) || u.is_nan() {
            clipped += 1;
        } else {
            max_rounding = max_rounding.max((u - u.round()).abs());
        }
    }
    U8Loss {
        clipped: clipped as f64 / x.data.len().max(1) as f64,
        max_rounding,
    }
}

/// The int8 network's input bytes for `x` `(N, C, H, W)`: HWC, one byte per
/// value, as the firmware's `forward` takes them ([`InputQuantization`]).
pub fn input_bytes(x: &crate::tensor::Tensor, m: &QuantizedModel) -> Vec<u8> {
    match m.input {
        InputQuantization::Camera => pixel_values_to_u8(x, &m.processor),
        InputQuantization::Calibrated(q) => {
            let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3]);
            let mut out = vec![0u8; n * c * hw];
            for i in 0..n {
                for ch in 0..c {
                    for px in 0..hw {
                        let v = x.data[(i * c + ch) * hw + px];
                        out[(i * hw + px) * c + ch] = (q.quantize(v as f64) as i16 + 128) as u8;
                    }
                }
            }
            out
        }
    }
}
