//! Stem: k x k stride-k patchify convolution, then the stem LayerNorm with
//! its affine, writing the int8 residual stream. Runs in place: the plan puts
//! the input high enough in the arena that output pixel `p` never lands on
//! input pixels a later output still reads.

use super::dot::dot_i8;
use super::{load_i32, saturate_i32, saturate_i8, store_i32, LayerNormParams, Requant};
use crate::kernels::layer_norm::layer_norm_q24;

/// Constants and placement of the stem.
#[derive(Debug, Clone, Copy)]
pub struct StemParams<'a> {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Patch size (kernel = stride).
    pub k: usize,
    /// Output channels.
    pub cout: usize,
    /// Input (int8 HWC, `u8 - 128`) offset in the arena.
    pub input_offset: usize,
    /// Output (int8 HWC) offset in the arena.
    pub output_offset: usize,
    /// `4 * cout` bytes of scratch.
    pub scratch_offset: usize,
    /// `[cout][k][k][cin]`.
    pub weights: &'a [u8],
    /// Per output channel.
    pub bias: &'a [i32],
    /// Per output channel: accumulator to the LayerNorm input scale.
    pub conv_requant: &'a [Requant],
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Per channel: Q24 normalised value times γ to the output scale.
    pub out_requant: &'a [Requant],
    /// Per channel: β in output units plus the output zero point.
    pub out_offset: &'a [i32],
}

impl StemParams<'_> {
    /// Output height.
    pub fn out_h(&self) -> usize {
        self.in_h / self.k
    }
    /// Output width.
    pub fn out_w(&self) -> usize {
        self.in_w / self.k
    }
}

/// Run the stem over the arena.
pub fn stem_in_place(p: &StemParams, arena: &mut [i8]) {
    let (k, cin, cout) = (p.k, p.cin, p.cout);
    let (oh, ow) = (p.out_h(), p.out_w());
    for r in 0..oh {
        for col in 0..ow {
            for o in 0..cout {
                let mut acc = p.bias[o];
                let wrow = &p.weights[o * k * k * cin..][..k * k * cin];
                for ky in 0..k {
                    let src = p.input_offset + ((r * k + ky) * p.in_w + col * k) * cin;
                    let s = &arena[src..src + k * cin];
                    let w = &wrow[ky * k * cin..][..k * cin];
                    acc = dot_i8(acc, s, w);
                }
                let v = saturate_i32(p.conv_requant[o].apply(acc as i64));
                store_i32(arena, p.scratch_offset + 4 * o, v);
            }
            let out = p.output_offset + (r * ow + col) * cout;
            let scratch = p.scratch_offset;
            layer_norm_q24(
                arena,
                cout,
                &p.ln,
                |a, i| load_i32(a, scratch + 4 * i),
                |a, i, y| {
                    let q = p.out_requant[i].apply(y as i64) + p.out_offset[i] as i64;
                    a[out + i] = saturate_i8(q);
                },
            );
        }
    }
}
