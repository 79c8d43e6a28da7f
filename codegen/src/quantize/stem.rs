//! The stem (see `convnext::kernels::stem`): the input's affine (the
//! processor's normalisation of `u8 - 128` pixels, or a calibrated input
//! scale) and the patchify conv folded into int8 weights; the stem
//! LayerNorm's affine applied per channel on the way to the residual stream.

use super::LN_INPUT_STEPS;
use super::{
    bias_q, linear, ln_params, norm_affine, quantize_rows, range, InputQuantization, StreamQuant,
};
use crate::calibrate::Ranges;
use crate::error::Result;
use crate::model::Model;
use crate::reference::Point;
use convnext::kernels::stem::StemParams;
use convnext::kernels::{Placement, Requant};
use convnext::preprocess::ProcessorConfig;

/// The stem for `in_h x in_w` inputs, writing the `out` stream.
pub(super) fn quantize(
    model: &Model,
    processor: &ProcessorConfig,
    ranges: &Ranges,
    (in_h, in_w): (usize, usize),
    input: InputQuantization,
    out: &StreamQuant,
) -> Result<StemParams<Vec<u8>>> {
    let cfg = &model.config;
    let (cin, k, c0) = (cfg.num_channels, cfg.patch_size, cfg.hidden_sizes[0]);
    // Fold the input's affine (rescale + normalize of `u8 - 128`, or the
    // calibrated input scale) into the conv.
    let (a, b): (Vec<f64>, Vec<f64>) = (0..cin).map(|c| input.affine(processor, c)).unzip();
    let sw = &model.stem.weight.data;
    let mut w_fold = vec![0f32; cin * k * k * c0];
    let mut b_fold: Vec<f64> = model.stem.bias.iter().map(|&v| v as f64).collect();
    for o in 0..c0 {
        for c in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    let wv = sw[((o * cin + c) * k + ky) * k + kx] as f64;
                    w_fold[((o * k + ky) * k + kx) * cin + c] = (wv * a[c]) as f32;
                    b_fold[o] += wv * b[c];
                }
            }
        }
    }
    let (weights, s_w) = quantize_rows(&w_fold, c0);
    let s_ln = range(ranges, Point::StemConv)?.abs_max() as f64 / LN_INPUT_STEPS;
    let norm = &model.stem_norm;
    // The bias is added after the requantization, in the LayerNorm input's
    // units.
    let bias: Vec<i32> = (0..c0).map(|o| bias_q(b_fold[o], s_ln)).collect();
    let (out_requant, out_offset) = norm_affine(norm, out);
    let stem = StemParams {
        in_h,
        in_w,
        cin,
        k,
        cout: c0,
        at: Placement::default(),
        conv: linear(
            weights,
            &bias,
            s_w.iter().map(|s| Requant::from_real(s / s_ln)),
        ),
        ln: ln_params(c0, norm.eps, s_ln),
        out_requant,
        out_offset,
    };
    Ok(stem)
}
