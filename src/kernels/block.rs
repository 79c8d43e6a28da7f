//! One ConvNeXt block, `x + γ·pw2(act(pw1(LN(dw7x7(x)))))`, fused per pixel
//! and in place over the residual stream `x`.
//!
//! Pixels are visited in raster order. Before pixel `p` is overwritten its
//! original goes to a ring of `3W + 3` pixels, slot `p mod (3W + 3)`: every
//! pixel a later 7x7 window still needs (up to 3 rows and 3 columns back) is
//! either still original in `x` (index >= p) or in the ring (index < p).
//! The depthwise output, the LayerNorm output and the 4C hidden vector exist
//! for one pixel at a time: scratch is `4C` bytes, and the normalised vector
//! sits in `x[p]` itself (its original is already in the ring).

use super::dot::dot_i8;
use super::layer_norm::layer_norm_q24;
use super::{
    load_i32, requantize_sum, saturate_i32, saturate_i8, store_i32, LayerNormParams, Requant,
};

/// Pixels of originals an in-place 7x7 depthwise keeps for an `h x w` map:
/// `3W + 3` (3 rows and 3 pixels back), or the whole map if that is smaller.
pub fn ring_pixels(h: usize, w: usize) -> usize {
    (3 * w + 3).min(h * w)
}

/// Channels of depthwise accumulators kept on the stack at once.
const DW_CHUNK: usize = 32;

/// Constants and placement of one block.
#[derive(Debug, Clone, Copy)]
pub struct BlockParams<'a> {
    /// Height of the map.
    pub h: usize,
    /// Width of the map.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Offset of `x` (int8 HWC) in the arena.
    pub x_offset: usize,
    /// Offset of the ring, `ring_pixels() * c` bytes.
    pub ring_offset: usize,
    /// Offset of `4 * c` bytes of scratch.
    pub scratch_offset: usize,
    /// Zero point of `x`.
    pub x_zero_point: i32,
    /// Depthwise weights `[7][7][c]`.
    pub dw_weights: &'a [u8],
    /// Depthwise bias, per channel.
    pub dw_bias: &'a [i32],
    /// Per channel: depthwise accumulator to the LayerNorm input scale.
    pub dw_requant: &'a [Requant],
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Q24 normalised value to the int8 LayerNorm output (zero point 0).
    pub ln_requant: Requant,
    /// `[4c][c]`, LayerNorm γ folded in.
    pub pw1_weights: &'a [u8],
    /// Per hidden unit, LayerNorm β folded in.
    pub pw1_bias: &'a [i32],
    /// Per hidden unit, to the pre-activation scale.
    pub pw1_requant: &'a [Requant],
    /// Zero point of the pre-activation.
    pub pw1_zero_point: i32,
    /// Activation table, indexed by pre-activation + 128.
    pub act_table: &'a [i8; 256],
    /// `[c][4c]`.
    pub pw2_weights: &'a [u8],
    /// Per channel, activation zero point folded in.
    pub pw2_bias: &'a [i32],
    /// Per channel: layer scale γ times accumulator scale, to the output scale.
    pub pw2_requant: &'a [Requant],
    /// Input stream scale to the output stream scale.
    pub residual_requant: Requant,
    /// Zero point of the output stream.
    pub out_zero_point: i32,
}

impl BlockParams<'_> {
    /// Pixels in the ring.
    pub fn ring_pixels(&self) -> usize {
        ring_pixels(self.h, self.w)
    }
}

/// Run one block over the arena.
pub fn block_in_place(p: &BlockParams, arena: &mut [i8]) {
    let (h, w, c) = (p.h, p.w, p.c);
    let ring_px = p.ring_pixels();
    let hidden = 4 * c;
    let zx = p.x_zero_point;
    for r in 0..h {
        for col in 0..w {
            let pix = r * w + col;
            let x_at = p.x_offset + pix * c;
            let ring_at = p.ring_offset + (pix % ring_px) * c;
            // 1. Depthwise 7x7 from originals: ring for pixels before p, x from p on.
            let y0 = r.saturating_sub(3);
            let y1 = (r + 4).min(h);
            let x0 = col.saturating_sub(3);
            let x1 = (col + 4).min(w);
            // Channels in chunks so the tap loop is outer and the channel loop
            // contiguous; the source (ring or x) is decided once per tap.
            let mut ch0 = 0;
            while ch0 < c {
                let n = (c - ch0).min(DW_CHUNK);
                let mut acc = [0i32; DW_CHUNK];
                acc[..n].copy_from_slice(&p.dw_bias[ch0..ch0 + n]);
                for yy in y0..y1 {
                    let ky = yy + 3 - r;
                    for xx in x0..x1 {
                        let kx = xx + 3 - col;
                        let q = yy * w + xx;
                        let src = if q < pix {
                            p.ring_offset + (q % ring_px) * c + ch0
                        } else {
                            p.x_offset + q * c + ch0
                        };
                        let wts = &p.dw_weights[(ky * 7 + kx) * c + ch0..][..n];
                        for ((a, &v), &wt) in acc[..n].iter_mut().zip(&arena[src..src + n]).zip(wts)
                        {
                            *a += (v as i32 - zx) * wt as i8 as i32;
                        }
                    }
                }
                for (i, &a) in acc[..n].iter().enumerate() {
                    let v = saturate_i32(p.dw_requant[ch0 + i].apply(a as i64));
                    store_i32(arena, p.scratch_offset + 4 * (ch0 + i), v);
                }
                ch0 += n;
            }
            // 2. Keep the original of p for later windows and the residual.
            arena.copy_within(x_at..x_at + c, ring_at);
            // 3. LayerNorm into x[p].
            let s = p.scratch_offset;
            layer_norm_q24(
                arena,
                c,
                &p.ln,
                |a, i| load_i32(a, s + 4 * i),
                |a, i, y| a[x_at + i] = saturate_i8(p.ln_requant.apply(y as i64)),
            );
            // 4. pw1 + activation into scratch.
            for j in 0..hidden {
                let wrow = &p.pw1_weights[j * c..][..c];
                let acc = dot_i8(p.pw1_bias[j], &arena[x_at..x_at + c], wrow);
                let pre = saturate_i8(p.pw1_requant[j].apply(acc as i64) + p.pw1_zero_point as i64);
                arena[s + j] = p.act_table[(pre as i32 + 128) as usize];
            }
            // 5. pw2, layer scale and residual add into x[p].
            for o in 0..c {
                let wrow = &p.pw2_weights[o * hidden..][..hidden];
                let acc = dot_i8(p.pw2_bias[o], &arena[s..s + hidden], wrow);
                let orig = arena[ring_at + o] as i64 - zx as i64;
                let v = requantize_sum(orig, p.residual_requant, acc as i64, p.pw2_requant[o]);
                arena[x_at + o] = saturate_i8(v + p.out_zero_point as i64);
            }
        }
    }
}
