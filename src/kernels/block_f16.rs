//! A ConvNeXt block in f16 weights and f32 arithmetic between int8 residual
//! streams: the mixed-precision escape hatch for the blocks int8 hurts most.
//! Same in-place schedule as the int8 block (raster order, a ring of the last
//! `3W + 3` original pixels); one pixel's LayerNorm output and hidden vector
//! live in `20 C` bytes of f32 scratch. No fused multiply-add and a pure-Rust
//! libm keep the bits identical on every target.

use super::activation::Activation;
use super::saturate_i8;

/// Constants and placement of one f16 block. Weight tensors are f16 as
/// little-endian bytes.
#[derive(Debug, Clone, Copy)]
pub struct BlockF16Params<'a> {
    /// Height of the map.
    pub h: usize,
    /// Width of the map.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Offset of `x` (int8 HWC).
    pub x_offset: usize,
    /// Offset of the ring, `ring_pixels() * c` bytes.
    pub ring_offset: usize,
    /// Offset of `20 * c` bytes of scratch.
    pub scratch_offset: usize,
    /// Input stream scale.
    pub x_scale: f32,
    /// Input stream zero point.
    pub x_zero_point: i32,
    /// `[7][7][c]`.
    pub dw_weights: &'a [u8],
    /// `[c]`.
    pub dw_bias: &'a [u8],
    /// LayerNorm γ `[c]`.
    pub ln_weight: &'a [u8],
    /// LayerNorm β `[c]`.
    pub ln_bias: &'a [u8],
    /// LayerNorm eps.
    pub ln_eps: f32,
    /// `[4c][c]`.
    pub pw1_weights: &'a [u8],
    /// `[4c]`.
    pub pw1_bias: &'a [u8],
    /// The MLP activation.
    pub act: Activation,
    /// `[c][4c]`.
    pub pw2_weights: &'a [u8],
    /// `[c]`.
    pub pw2_bias: &'a [u8],
    /// Layer scale `[c]` (ones when the model has none).
    pub gamma: &'a [u8],
    /// Output stream scale.
    pub out_scale: f32,
    /// Output stream zero point.
    pub out_zero_point: i32,
}

impl BlockF16Params<'_> {
    /// Pixels in the ring (as the int8 block).
    pub fn ring_pixels(&self) -> usize {
        super::block::ring_pixels(self.h, self.w)
    }
}

#[inline]
fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[2 * i], b[2 * i + 1]]).to_f32()
}

#[inline]
fn load_f32(arena: &[i8], off: usize) -> f32 {
    f32::from_le_bytes([
        arena[off] as u8,
        arena[off + 1] as u8,
        arena[off + 2] as u8,
        arena[off + 3] as u8,
    ])
}

#[inline]
fn store_f32(arena: &mut [i8], off: usize, v: f32) {
    for (i, b) in v.to_le_bytes().iter().enumerate() {
        arena[off + i] = *b as i8;
    }
}

/// Run one f16 block over the arena.
pub fn block_f16_in_place(p: &BlockF16Params, arena: &mut [i8]) {
    let (h, w, c) = (p.h, p.w, p.c);
    let ring_px = p.ring_pixels();
    let hidden = 4 * c;
    let y_at = p.scratch_offset;
    let h_at = p.scratch_offset + 4 * c;
    let deq = |q: i8| (q as i32 - p.x_zero_point) as f32 * p.x_scale;
    for r in 0..h {
        for col in 0..w {
            let pix = r * w + col;
            let x_at = p.x_offset + pix * c;
            let ring_at = p.ring_offset + (pix % ring_px) * c;
            // Depthwise from originals, into y's scratch.
            for ch in 0..c {
                let mut acc = f16_at(p.dw_bias, ch);
                for yy in r.saturating_sub(3)..(r + 4).min(h) {
                    for xx in col.saturating_sub(3)..(col + 4).min(w) {
                        let q = yy * w + xx;
                        let v = if q < pix {
                            arena[p.ring_offset + (q % ring_px) * c + ch]
                        } else {
                            arena[p.x_offset + q * c + ch]
                        };
                        acc += deq(v)
                            * f16_at(p.dw_weights, ((yy + 3 - r) * 7 + xx + 3 - col) * c + ch);
                    }
                }
                store_f32(arena, y_at + 4 * ch, acc);
            }
            arena.copy_within(x_at..x_at + c, ring_at);
            // LayerNorm in place.
            let mut mean = 0.0f32;
            for ch in 0..c {
                mean += load_f32(arena, y_at + 4 * ch);
            }
            mean /= c as f32;
            let mut var = 0.0f32;
            for ch in 0..c {
                let d = load_f32(arena, y_at + 4 * ch) - mean;
                var += d * d;
            }
            let inv = 1.0 / libm::sqrtf(var / c as f32 + p.ln_eps);
            for ch in 0..c {
                let v = (load_f32(arena, y_at + 4 * ch) - mean) * inv;
                store_f32(
                    arena,
                    y_at + 4 * ch,
                    v * f16_at(p.ln_weight, ch) + f16_at(p.ln_bias, ch),
                );
            }
            // pw1 + activation.
            for j in 0..hidden {
                let mut acc = f16_at(p.pw1_bias, j);
                for i in 0..c {
                    acc += load_f32(arena, y_at + 4 * i) * f16_at(p.pw1_weights, j * c + i);
                }
                store_f32(arena, h_at + 4 * j, p.act.apply(acc));
            }
            // pw2, layer scale, residual, requantize to the output stream.
            for o in 0..c {
                let mut acc = f16_at(p.pw2_bias, o);
                for j in 0..hidden {
                    acc += load_f32(arena, h_at + 4 * j) * f16_at(p.pw2_weights, o * hidden + j);
                }
                let v = deq(arena[ring_at + o]) + f16_at(p.gamma, o) * acc;
                let q = libm::roundf(v / p.out_scale) as i64 + p.out_zero_point as i64;
                arena[x_at + o] = saturate_i8(q);
            }
        }
    }
}
