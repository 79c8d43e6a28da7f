//! An int8 block (see `convnext::kernels::block`): depthwise weights laid
//! out `[7][7][c]`, pointwise weights paired for 2-row tiles, the LayerNorm's affine folded into pwconv1, the
//! activation as a table, the activation zero point folded into pwconv2's
//! bias and the layer scale γ into its multipliers.

use super::LN_INPUT_STEPS;
use super::{
    bias_q, fold_norm, hidden_bits, i32s, linear, ln_params, paired_layout, quantize_rows, range,
    Hidden, QParams, StreamQuant,
};
use crate::calibrate::Ranges;
use crate::error::Result;
use crate::model::Block;
use crate::reference::Point;
use convnext::kernels::activation::Activation;
use convnext::kernels::block::BlockParams;
use convnext::kernels::grn::GrnParams;
use convnext::kernels::tables::i32_table;
use convnext::kernels::{InPlaceMap, Placement, Requant};

/// Block `(stage, block)` over an `h x w` map from the `input` stream to
/// the `out` stream.
pub(super) fn quantize(
    block: &Block,
    act: Activation,
    ranges: &Ranges,
    ((s, bi), (h, w)): ((usize, usize), (usize, usize)),
    (input, out): (&StreamQuant, &StreamQuant),
    hidden: Hidden,
) -> Result<BlockParams<Vec<u8>>> {
    let c = block.dw_bias.len();
    // Depthwise: [C][7][7] -> per-channel scales, laid out [7][7][C].
    let (dq, s_dw) = quantize_rows(&block.dw_weight.data, c);
    let mut dw_weights = vec![0u8; 49 * c];
    for ch in 0..c {
        for t in 0..49 {
            dw_weights[t * c + ch] = dq[ch * 49 + t];
        }
    }
    let s_d = range(ranges, Point::Dw(s, bi))?.abs_max() as f64 / LN_INPUT_STEPS;
    let s_y = QParams::symmetric(range(ranges, Point::BlockNorm(s, bi))?.abs_max() as f64).scale;
    let (w1f, b1f) = fold_norm(
        &block.pwconv1.weight.data,
        &block.pwconv1.bias,
        &block.norm,
        |i| i,
    );
    let (pw1_weights, s_w1) = quantize_rows(&w1f, 4 * c);
    let pre = QParams::asymmetric(range(ranges, Point::Pw1(s, bi))?);
    // i16 hidden values where the kernels take them (`C` a multiple of 4):
    // v1's activation outputs, V2's GRN outputs on a finer grid (GRN's
    // input, the activation, stays int8).
    let hidden16 = hidden == Hidden::Int16 && c.is_multiple_of(4);
    let wide_bits = if hidden16 { hidden_bits(c) } else { 8 };
    let bits = if block.grn.is_none() { wide_bits } else { 8 };
    let post = QParams::asymmetric_bits(range(ranges, Point::Act(s, bi))?, bits);
    let act_table: Vec<u8> = (0..256)
        .flat_map(|i| {
            let x = pre.scale * (i - 128 - pre.zero_point) as f64;
            let q = post.quantize_bits(act.apply_f64(x), bits);
            match bits {
                8 => vec![q as i8 as u8],
                _ => (q as i16).to_le_bytes().to_vec(),
            }
        })
        .collect();
    let (pw2_weights, s_w2) = quantize_rows(&block.pwconv2.weight.data, c);
    // With GRN, pw2 reads its outputs, quantized on their own.
    let (grn, pw2_in) = match &block.grn {
        Some(g) => {
            let out = QParams::asymmetric_bits(range(ranges, Point::Grn(s, bi))?, wide_bits);
            let q16 = |v: f64| {
                (v * 65536.0)
                    .round()
                    .clamp(i32::MIN as f64, i32::MAX as f64) as i32
            };
            let weight: Vec<i32> = g.weight.iter().map(|&w| q16(w as f64)).collect();
            let offset: Vec<i32> = g
                .bias
                .iter()
                .map(|&b| bias_q(b as f64, out.scale) + out.zero_point)
                .collect();
            let eps = crate::model::GRN_EPS as f64 / post.scale * 16384.0 * (4 * c) as f64;
            let params = GrnParams {
                act_zero_point: post.zero_point,
                weight: i32s(&weight),
                offset: i32s(&offset),
                out_requant: Requant::from_real(post.scale / (65536.0 * out.scale)),
                eps_sum: eps.round().min(u64::MAX as f64) as u64,
            };
            (Some(params), out)
        }
        None => (None, post),
    };
    let gamma = |o: usize| block.gamma.as_ref().map_or(1.0, |g| g[o] as f64);
    // The depthwise bias is added after the requantization, in the
    // LayerNorm input's units.
    let dw_bias: Vec<i32> = (0..c)
        .map(|ch| bias_q(block.dw_bias[ch] as f64, s_d))
        .collect();
    let pw1_bias: Vec<i32> = (0..4 * c).map(|j| bias_q(b1f[j], s_y * s_w1[j])).collect();
    let pw2_bias: Vec<i32> = (0..c)
        .map(|o| {
            let row_sum: i32 = pw2_weights[o * 4 * c..][..4 * c]
                .iter()
                .map(|&v| v as i8 as i32)
                .sum();
            bias_q(block.pwconv2.bias[o] as f64, pw2_in.scale * s_w2[o])
                - pw2_in.zero_point * row_sum
        })
        .collect();
    // Each channel's input scale over its output scale (the two streams'
    // channels have scales of their own), one shift for all.
    let ratio = |o: usize| input.scale(o) / out.scale(o);
    let residual_shift = Requant::from_real((0..c).map(ratio).fold(0.0, f64::max)).shift;
    let residual: Vec<i32> = (0..c)
        .map(|o| Requant::with_shift(ratio(o), residual_shift).mult)
        .collect();
    Ok(BlockParams {
        map: InPlaceMap { h, w, c },
        at: Placement::default(),
        x_zero_point: input.zero_point(),
        dw: linear(
            dw_weights,
            &dw_bias,
            s_dw.iter()
                .enumerate()
                .map(|(ch, sd)| Requant::from_real(input.scale(ch) * sd / s_d)),
        ),
        ln: ln_params(c, block.norm.eps, s_d),
        ln_requant: Requant::from_real(1.0 / s_y),
        pw1: linear(
            paired_layout(&pw1_weights, 4 * c, c),
            &pw1_bias,
            s_w1.iter()
                .map(|sw| Requant::from_real(s_y * sw / pre.scale)),
        ),
        pw1_zero_point: pre.zero_point,
        act_table,
        pw2: linear(
            paired_layout(&pw2_weights, c, 4 * c),
            &pw2_bias,
            (0..c).map(|o| Requant::from_real(gamma(o) * pw2_in.scale * s_w2[o] / out.scale(o))),
        ),
        residual: i32_table(&residual).collect(),
        residual_shift,
        out_zero_point: out.zero_point(),
        grn,
        // The planner turns it on where the room is free.
        wide_hidden: false,
        hidden16,
        // The planner fills it on x86-64 hosts.
    })
}
