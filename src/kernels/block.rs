//! One ConvNeXt block, `x + γ·pw2(act(pw1(LN(dw7x7(x)))))`, fused per pixel
//! and in place over the residual stream `x` (see [`InPlaceMap`] for the
//! ring of originals that makes the depthwise in place).
//!
//! The depthwise output, the LayerNorm output and the 4C hidden vector exist
//! for one pixel at a time: scratch is the ring plus `4C` bytes, and the
//! normalised vector sits in `x[p]` itself (its original is already in the
//! ring).

use super::arena::{load_i32, store_i32};
use super::in_place_map::InPlaceMap;
use super::layer_norm::{layer_norm_q24, LayerNormParams};
use super::linear::QLinear;
use super::placement::{OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::{requantize_sum, saturate_i32, saturate_i8, Requant};

/// Channels of depthwise accumulators kept on the stack at once.
const DW_CHUNK: usize = 32;

/// Constants and placement of one int8 block. `at.input_offset ==
/// at.output_offset` is `x`; the scratch holds the ring, then `4C` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockParams<B = &'static [u8]> {
    /// Shape of `x`.
    pub map: InPlaceMap,
    /// Arena placement.
    pub at: Placement,
    /// Zero point of `x`.
    pub x_zero_point: i32,
    /// Depthwise 7x7: weights `[7][7][c]`, per channel a bias and a
    /// multiplier to the LayerNorm input scale.
    pub dw: QLinear<B>,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Q24 normalised value to the int8 LayerNorm output (zero point 0).
    pub ln_requant: Requant,
    /// `[4c][c]`, LayerNorm γ and β folded in, to the pre-activation scale.
    pub pw1: QLinear<B>,
    /// Zero point of the pre-activation.
    pub pw1_zero_point: i32,
    /// Activation table (256 int8 values), indexed by pre-activation + 128.
    pub act_table: B,
    /// `[c][4c]`, activation zero point folded into the bias; multipliers
    /// carry layer scale γ and go to the output scale.
    pub pw2: QLinear<B>,
    /// Input stream scale to the output stream scale.
    pub residual_requant: Requant,
    /// Zero point of the output stream.
    pub out_zero_point: i32,
}

impl<B: AsRef<[u8]>> OpFootprint for BlockParams<B> {
    fn input_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn output_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn scratch_bytes(&self) -> usize {
        self.map.ring_bytes() + 4 * self.map.c
    }
    fn weights_bytes(&self) -> usize {
        self.dw.weights_bytes()
            + self.pw1.weights_bytes()
            + self.pw2.weights_bytes()
            + self.act_table.as_ref().len()
    }
    fn macs(&self) -> u64 {
        let InPlaceMap { h, w, c } = self.map;
        self.map.depthwise_macs() + (h * w * 8 * c * c) as u64
    }
}

/// Run one block over the arena.
pub fn block_in_place<B: AsRef<[u8]>>(p: &BlockParams<B>, arena: &mut [i8]) {
    block_in_place_probed(p, arena, &mut NoProbe)
}

/// [`block_in_place`], telling `probe` where each pixel's phases start.
pub fn block_in_place_probed<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let m = p.map;
    let c = m.c;
    let hidden = 4 * c;
    let zx = p.x_zero_point;
    let x_off = p.at.input_offset;
    let ring_off = p.at.scratch_offset;
    let s = ring_off + m.ring_bytes();
    let dw_weights = p.dw.weights.as_ref();
    let table = p.act_table.as_ref();
    for r in 0..m.h {
        for col in 0..m.w {
            let pix = r * m.w + col;
            let x_at = x_off + m.pixel(pix);
            let ring_at = ring_off + m.ring_slot(pix);
            probe.enter(Phase::Depthwise, (49 * c) as u32);
            // 1. Depthwise 7x7 from originals. Channels in chunks so the tap
            // loop is outer and the channel loop contiguous; the source (ring
            // or x) is decided once per tap.
            let (y0, y1, x0, x1) = m.window(r, col);
            let mut ch0 = 0;
            while ch0 < c {
                let n = (c - ch0).min(DW_CHUNK);
                let mut acc = [0i32; DW_CHUNK];
                for (i, a) in acc[..n].iter_mut().enumerate() {
                    *a = p.dw.bias(ch0 + i);
                }
                for yy in y0..y1 {
                    let ky = yy + 3 - r;
                    for xx in x0..x1 {
                        let kx = xx + 3 - col;
                        let src = m.original(x_off, ring_off, yy * m.w + xx, pix) + ch0;
                        let wts = &dw_weights[(ky * 7 + kx) * c + ch0..][..n];
                        for ((a, &v), &wt) in acc[..n].iter_mut().zip(&arena[src..src + n]).zip(wts)
                        {
                            *a += (v as i32 - zx) * wt as i8 as i32;
                        }
                    }
                }
                for (i, &a) in acc[..n].iter().enumerate() {
                    let v = saturate_i32(p.dw.requant(ch0 + i).apply(a as i64));
                    store_i32(arena, s + 4 * (ch0 + i), v);
                }
                ch0 += n;
            }
            probe.enter(Phase::LayerNorm, 0);
            // 2. Keep the original of p for later windows and the residual.
            arena.copy_within(x_at..x_at + c, ring_at);
            // 3. LayerNorm into x[p].
            layer_norm_q24(
                arena,
                c,
                &p.ln,
                |a, i| load_i32(a, s + 4 * i),
                |a, i, y| a[x_at + i] = saturate_i8(p.ln_requant.apply(y as i64)),
            );
            probe.enter(Phase::Pointwise1, (hidden * c) as u32);
            // 4. pw1 + activation into scratch.
            for j in 0..hidden {
                let pre = p.pw1.output(j, &arena[x_at..x_at + c]) + p.pw1_zero_point as i64;
                arena[s + j] = table[(saturate_i8(pre) as i32 + 128) as usize] as i8;
            }
            probe.enter(Phase::Pointwise2, (hidden * c) as u32);
            // 5. pw2, layer scale and residual add into x[p].
            for o in 0..c {
                let acc = p.pw2.acc(o, &arena[s..s + hidden]);
                let orig = arena[ring_at + o] as i64 - zx as i64;
                let v = requantize_sum(orig, p.residual_requant, acc as i64, p.pw2.requant(o));
                arena[x_at + o] = saturate_i8(v + p.out_zero_point as i64);
            }
        }
    }
}
