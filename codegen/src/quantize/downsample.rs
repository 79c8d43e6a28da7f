//! A downsample (see `convnext::kernels::downsample`): the channels-first
//! LayerNorm's affine folded into the 2x2 conv, laid out `[cout][2][2][cin]`.

use super::{bias_q, fold_norm, linear, ln_params, paired_layout, quantize_rows, StreamQuant};
use crate::model::{LayerNorm, PatchConv};
use convnext::kernels::downsample::DownsampleParams;
use convnext::kernels::{Placement, Requant};

/// The downsample of an `h x w` map on the `input` stream, normalised to
/// scale `s_y`, writing the `out` stream.
pub(super) fn quantize(
    norm: &LayerNorm,
    conv: &PatchConv,
    (h, w): (usize, usize),
    input: &StreamQuant,
    s_y: f64,
    out: &StreamQuant,
) -> DownsampleParams<Vec<u8>> {
    let cout = conv.bias.len();
    let cin = norm.weight.len();
    // Re-lay [cout][cin][2][2] as [cout][2][2][cin], then fold the norm.
    let mut wl = vec![0f32; cout * cin * 4];
    for o in 0..cout {
        for ci in 0..cin {
            for t in 0..4 {
                wl[(o * 4 + t) * cin + ci] = conv.weight.data[(o * cin + ci) * 4 + t];
            }
        }
    }
    let (wf, bf) = fold_norm(&wl, &conv.bias, norm, |i| i % cin);
    let (weights, s_w) = quantize_rows(&wf, cout);
    let bias: Vec<i32> = (0..cout).map(|o| bias_q(bf[o], s_y * s_w[o])).collect();
    DownsampleParams {
        in_h: h,
        in_w: w,
        cin,
        cout,
        at: Placement::default(),
        // The LayerNorm reads the input's channels in its unit.
        x_zero_point: input.zero_point(),
        profile: input.profile_table(),
        ln: ln_params(cin, norm.eps, input.unit.scale),
        ln_requant: Requant::from_real(1.0 / s_y),
        conv: linear(
            paired_layout(&weights, cout, 4 * cin),
            &bias,
            s_w.iter()
                .enumerate()
                .map(|(o, sw)| Requant::from_real(s_y * sw / out.scale(o))),
        ),
        out_zero_point: out.zero_point(),
    }
}
