//! Downsample: LayerNorm (affine folded into the conv), then a 2x2 stride-2
//! convolution, in place. Output pixel `(r, c)` lands at or before input
//! pixel `(2r, 2c)`, on input pixels already consumed, except in row 0 where
//! it overlaps its own window; a `cout`-byte scratch pixel covers that.

use super::dot::dot_i8;
use super::layer_norm::layer_norm_q24;
use super::{saturate_i8, LayerNormParams, Requant};

/// Constants and placement of one downsample.
#[derive(Debug, Clone, Copy)]
pub struct DownsampleParams<'a> {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input offset (int8 HWC).
    pub input_offset: usize,
    /// Output offset (int8 HWC).
    pub output_offset: usize,
    /// `cout` bytes of scratch.
    pub scratch_offset: usize,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Q24 normalised value to int8 (zero point 0).
    pub ln_requant: Requant,
    /// `[cout][2][2][cin]`, LayerNorm γ folded in.
    pub weights: &'a [u8],
    /// Per output channel, LayerNorm β folded in.
    pub bias: &'a [i32],
    /// Per output channel, to the output stream scale.
    pub requant: &'a [Requant],
    /// Output stream zero point.
    pub out_zero_point: i32,
}

/// Run the downsample over the arena.
pub fn downsample_in_place(p: &DownsampleParams, arena: &mut [i8]) {
    let (cin, cout) = (p.cin, p.cout);
    let (oh, ow) = (p.in_h / 2, p.in_w / 2);
    for r in 0..oh {
        for col in 0..ow {
            let px = |ky: usize, kx: usize| {
                p.input_offset + ((2 * r + ky) * p.in_w + 2 * col + kx) * cin
            };
            for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let base = px(ky, kx);
                layer_norm_q24(
                    arena,
                    cin,
                    &p.ln,
                    |a, i| a[base + i] as i32,
                    |a, i, y| a[base + i] = saturate_i8(p.ln_requant.apply(y as i64)),
                );
            }
            for o in 0..cout {
                let wrow = &p.weights[o * 4 * cin..][..4 * cin];
                let mut acc = p.bias[o];
                for (t, (ky, kx)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
                    let base = px(ky, kx);
                    acc = dot_i8(acc, &arena[base..base + cin], &wrow[t * cin..][..cin]);
                }
                arena[p.scratch_offset + o] =
                    saturate_i8(p.requant[o].apply(acc as i64) + p.out_zero_point as i64);
            }
            let out = p.output_offset + (r * ow + col) * cout;
            arena.copy_within(p.scratch_offset..p.scratch_offset + cout, out);
        }
    }
}
