//! Head: global average pool (as a sum: LayerNorm is scale invariant), the
//! final LayerNorm (affine folded into the classifier), the classifier. The
//! logits stay int32 at one common scale, so argmax is exact and integer.

use super::dot::dot_i8;
use super::layer_norm::layer_norm_q24;
use super::{load_i32, saturate_i32, saturate_i8, store_i32, LayerNormParams, Requant};

/// Constants and placement of the head.
#[derive(Debug, Clone, Copy)]
pub struct HeadParams<'a> {
    /// Height of the last map.
    pub h: usize,
    /// Width of the last map.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Offset of the last map.
    pub x_offset: usize,
    /// Its zero point.
    pub x_zero_point: i32,
    /// `5 * c` bytes of scratch.
    pub scratch_offset: usize,
    /// LayerNorm constants (over the channel sums).
    pub ln: LayerNormParams,
    /// Q24 normalised value to int8 (zero point 0).
    pub ln_requant: Requant,
    /// `[labels][c]`, LayerNorm γ folded in.
    pub weights: &'a [u8],
    /// Per label, LayerNorm β folded in.
    pub bias: &'a [i32],
    /// Per label, to the common logit scale.
    pub requant: &'a [Requant],
}

/// Compute the int32 logits; `logits.len()` labels are written.
pub fn head(p: &HeadParams, arena: &mut [i8], logits: &mut [i32]) {
    let (hw, c) = (p.h * p.w, p.c);
    let s = p.scratch_offset;
    for ch in 0..c {
        let mut sum = 0i32;
        for px in 0..hw {
            sum += arena[p.x_offset + px * c + ch] as i32 - p.x_zero_point;
        }
        store_i32(arena, s + 4 * ch, sum);
    }
    let y_at = s + 4 * c;
    layer_norm_q24(
        arena,
        c,
        &p.ln,
        |a, i| load_i32(a, s + 4 * i),
        |a, i, y| a[y_at + i] = saturate_i8(p.ln_requant.apply(y as i64)),
    );
    for (o, out) in logits.iter_mut().enumerate() {
        let wrow = &p.weights[o * c..][..c];
        let acc = dot_i8(p.bias[o], &arena[y_at..y_at + c], wrow);
        *out = saturate_i32(p.requant[o].apply(acc as i64));
    }
}
