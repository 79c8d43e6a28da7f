//! Downsample: LayerNorm (affine folded into the conv), then a 2x2 stride-2
//! convolution, in place. Output pixel `(r, c)` lands at or before input
//! pixel `(2r, 2c)`, on input pixels already consumed, except where the input
//! starts [`OpFootprint::input_lead_bytes`] up to make room; a `cout`-byte
//! scratch pixel covers the output pixel overlapping its own window.

use super::layer_norm::{layer_norm_q24, LayerNormParams};
use super::linear::QLinear;
use super::placement::{in_place_lead, OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::{saturate_i8, Requant};

/// Constants and placement of one downsample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownsampleParams<B = &'static [u8]> {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Arena placement (int8 HWC in and out; scratch `cout`).
    pub at: Placement,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Q24 normalised value to int8 (zero point 0).
    pub ln_requant: Requant,
    /// `[cout][2][2][cin]`, LayerNorm γ and β folded in, to the output scale.
    pub conv: QLinear<B>,
    /// Output stream zero point.
    pub out_zero_point: i32,
}

/// The 2x2 taps in weight order.
const TAPS: [(usize, usize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

impl<B: AsRef<[u8]>> OpFootprint for DownsampleParams<B> {
    fn input_bytes(&self) -> usize {
        self.in_h * self.in_w * self.cin
    }
    fn output_bytes(&self) -> usize {
        (self.in_h / 2) * (self.in_w / 2) * self.cout
    }
    fn scratch_bytes(&self) -> usize {
        self.cout
    }
    fn input_lead_bytes(&self) -> usize {
        let ow = self.in_w / 2;
        in_place_lead((self.in_h / 2) * ow, self.cout, |j| {
            (2 * (j / ow) * self.in_w + 2 * (j % ow)) * self.cin
        })
    }
    fn weights_bytes(&self) -> usize {
        self.conv.weights_bytes()
    }
    fn macs(&self) -> u64 {
        (self.output_bytes() * 4 * self.cin) as u64
    }
}

/// Run the downsample over the arena.
pub fn downsample_in_place<B: AsRef<[u8]>>(p: &DownsampleParams<B>, arena: &mut [i8]) {
    downsample_in_place_probed(p, arena, &mut NoProbe)
}

/// [`downsample_in_place`], telling `probe` where each pixel's phases start.
pub fn downsample_in_place_probed<B: AsRef<[u8]>>(
    p: &DownsampleParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let (cin, cout) = (p.cin, p.cout);
    let (oh, ow) = (p.in_h / 2, p.in_w / 2);
    let s = p.at.scratch_offset;
    for r in 0..oh {
        for col in 0..ow {
            let px = |(ky, kx): (usize, usize)| {
                p.at.input_offset + ((2 * r + ky) * p.in_w + 2 * col + kx) * cin
            };
            probe.enter(Phase::LayerNorm, 0);
            for tap in TAPS {
                let base = px(tap);
                layer_norm_q24(
                    arena,
                    cin,
                    &p.ln,
                    |a, i| a[base + i] as i32,
                    |a, i, y| a[base + i] = saturate_i8(p.ln_requant.apply_i32(y) as i64),
                );
            }
            probe.enter(Phase::Conv, (cout * 4 * cin) as u32);
            for o in 0..cout {
                let wrow = p.conv.row(o, 4 * cin);
                let mut acc = p.conv.bias(o);
                for (t, tap) in TAPS.into_iter().enumerate() {
                    let base = px(tap);
                    let w = &wrow[t * cin..][..cin];
                    acc = super::dot::dot_i8(acc, &arena[base..base + cin], w);
                }
                let v = p.conv.requant(o).apply_i32(acc) as i64 + p.out_zero_point as i64;
                arena[s + o] = saturate_i8(v);
            }
            let out = p.at.output_offset + (r * ow + col) * cout;
            arena.copy_within(s..s + cout, out);
        }
    }
}
