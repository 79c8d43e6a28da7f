//! A ConvNeXt block in f16 weights and f32 arithmetic between int8 residual
//! streams: the mixed-precision escape hatch for the blocks int8 hurts most.
//! Same in-place schedule as the int8 block ([`InPlaceMap`]); one pixel's
//! LayerNorm output and hidden vector live in `20 C` bytes of f32 scratch
//! after the ring. No fused multiply-add and a pure-Rust libm keep the bits
//! identical on every target.

use super::activation::Activation;
use super::arena::{load_f32, store_f32};
use super::in_place_map::InPlaceMap;
use super::placement::{OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::saturate_i8;
use super::tables::{f16_at, profile_at};

/// An f16 layer: weights and one bias per output, little-endian f16 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct F16Linear<B = &'static [u8]> {
    /// Weight rows (layout as the kernel documents).
    pub weights: B,
    /// One bias per output.
    pub bias: B,
}

impl<B: AsRef<[u8]>> F16Linear<B> {
    /// Parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        let F16Linear { weights, bias } = self;
        weights.as_ref().len() + bias.as_ref().len()
    }
}

/// Constants and placement of one f16 block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockF16Params<B = &'static [u8]> {
    /// Shape of `x`.
    pub map: InPlaceMap,
    /// Arena placement (`x` in place; scratch is the ring, then `20 c`).
    pub at: Placement,
    /// Input stream scale.
    pub x_scale: f32,
    /// Input stream zero point.
    pub x_zero_point: i32,
    /// The input stream's channel profile ([`super::tables::profile_at`];
    /// empty: per tensor): channel `i`'s scale is `x_scale` times its
    /// multiplier.
    pub profile: B,
    /// Depthwise `[7][7][c]` and `[c]`.
    pub dw: F16Linear<B>,
    /// LayerNorm γ `[c]`.
    pub ln_weight: B,
    /// LayerNorm β `[c]`.
    pub ln_bias: B,
    /// LayerNorm eps.
    pub ln_eps: f32,
    /// `[4c][c]` and `[4c]`.
    pub pw1: F16Linear<B>,
    /// The MLP activation.
    pub act: Activation,
    /// `[c][4c]` and `[c]`.
    pub pw2: F16Linear<B>,
    /// Layer scale `[c]` (ones when the model has none).
    pub gamma: B,
    /// Output stream scale.
    pub out_scale: f32,
    /// Output stream zero point.
    pub out_zero_point: i32,
    /// The output stream's channel profile, as [`BlockF16Params::profile`]
    /// with `out_scale`.
    pub out_profile: B,
}

impl<B: AsRef<[u8]>> OpFootprint for BlockF16Params<B> {
    fn input_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn output_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn scratch_bytes(&self) -> usize {
        self.map.ring_bytes() + 20 * self.map.c
    }
    fn weights_bytes(&self) -> usize {
        self.dw.weights_bytes()
            + self.pw1.weights_bytes()
            + self.pw2.weights_bytes()
            + self.ln_weight.as_ref().len()
            + self.ln_bias.as_ref().len()
            + self.gamma.as_ref().len()
            + self.profile.as_ref().len()
            + self.out_profile.as_ref().len()
    }
    fn macs(&self) -> u64 {
        let InPlaceMap { h, w, c } = self.map;
        self.map.depthwise_macs() + (h * w * 8 * c * c) as u64
    }
}

/// Run one f16 block over the arena.
pub fn block_f16_in_place<B: AsRef<[u8]>>(p: &BlockF16Params<B>, arena: &mut [i8]) {
    block_f16_in_place_probed(p, arena, &mut NoProbe)
}

/// [`block_f16_in_place`], telling `probe` where each pixel's phases start.
pub fn block_f16_in_place_probed<B: AsRef<[u8]>>(
    p: &BlockF16Params<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let m = p.map;
    let c = m.c;
    let hidden = 4 * c;
    let x_off = p.at.input_offset;
    let ring_off = p.at.scratch_offset;
    let y_at = ring_off + m.ring_bytes();
    let h_at = y_at + 4 * c;
    let (dw_w, dw_b) = (p.dw.weights.as_ref(), p.dw.bias.as_ref());
    let (pw1_w, pw1_b) = (p.pw1.weights.as_ref(), p.pw1.bias.as_ref());
    let (pw2_w, pw2_b) = (p.pw2.weights.as_ref(), p.pw2.bias.as_ref());
    let profile = p.profile.as_ref();
    let deq = |q: i8, ch: usize| {
        (q as i32 - p.x_zero_point) as f32 * p.x_scale * profile_at(profile, ch) as f32
    };
    for r in 0..m.h {
        for col in 0..m.w {
            let pix = r * m.w + col;
            let x_at = x_off + m.pixel(pix);
            let ring_at = ring_off + m.ring_slot(pix);
            probe.enter(Phase::Depthwise, (49 * c) as u32);
            // Depthwise from originals, into y's scratch.
            let (y0, y1, x0, x1) = m.window(r, col);
            for ch in 0..c {
                let mut acc = f16_at(dw_b, ch);
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        let v = arena[m.original(x_off, ring_off, yy * m.w + xx, pix) + ch];
                        acc +=
                            deq(v, ch) * f16_at(dw_w, ((yy + 3 - r) * 7 + xx + 3 - col) * c + ch);
                    }
                }
                store_f32(arena, y_at + 4 * ch, acc);
            }
            probe.enter(Phase::LayerNorm, 0);
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
                let g = f16_at(p.ln_weight.as_ref(), ch);
                store_f32(arena, y_at + 4 * ch, v * g + f16_at(p.ln_bias.as_ref(), ch));
            }
            probe.enter(Phase::Pointwise1, (hidden * c) as u32);
            // pw1 + activation.
            for j in 0..hidden {
                let mut acc = f16_at(pw1_b, j);
                for i in 0..c {
                    acc += load_f32(arena, y_at + 4 * i) * f16_at(pw1_w, j * c + i);
                }
                store_f32(arena, h_at + 4 * j, p.act.apply(acc));
            }
            probe.enter(Phase::Pointwise2, (hidden * c) as u32);
            // pw2, layer scale, residual, requantize to the output stream.
            for o in 0..c {
                let mut acc = f16_at(pw2_b, o);
                for j in 0..hidden {
                    acc += load_f32(arena, h_at + 4 * j) * f16_at(pw2_w, o * hidden + j);
                }
                let v = deq(arena[ring_at + o], o) + f16_at(p.gamma.as_ref(), o) * acc;
                let out_scale = p.out_scale * profile_at(p.out_profile.as_ref(), o) as f32;
                let q = libm::roundf(v / out_scale) as i64 + p.out_zero_point as i64;
                arena[x_at + o] = saturate_i8(q);
            }
        }
    }
}
