//! Stem: k x k stride-k patchify convolution, then the stem LayerNorm with
//! its affine, writing the int8 residual stream. Runs in place: the input
//! starts [`OpFootprint::input_lead_bytes`] above the output, so output pixel
//! `p` never lands on input pixels a later output still reads.

use super::arch::Native;
use super::arena::{i32s, store_i32};
use super::frame::{NormKernel, StemKernel, StemPatch};
use super::layer_norm::{affine_i8, layer_norm, LayerNormParams, Q16};
use super::linear::QLinear;
use super::placement::{in_place_lead, OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::requantize_plus;

/// Constants and placement of the stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StemParams<B = &'static [u8]> {
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
    /// Arena placement: input is int8 HWC (`u8 - 128`); scratch `4 * cout`.
    pub at: Placement,
    /// `[cout][k][k][cin]`, input normalisation folded in; to the LayerNorm
    /// input scale, with the bias in that scale's units (added after).
    pub conv: QLinear<B>,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Per channel: Q16 normalised value times γ to the output scale.
    pub out_requant: B,
    /// Per channel (i32): β in output units plus the output zero point.
    pub out_offset: B,
}

impl<B> StemParams<B> {
    /// Output height.
    pub fn out_h(&self) -> usize {
        self.in_h / self.k.max(1)
    }
    /// Output width.
    pub fn out_w(&self) -> usize {
        self.in_w / self.k.max(1)
    }
}

impl<B: AsRef<[u8]>> OpFootprint for StemParams<B> {
    fn input_bytes(&self) -> usize {
        self.in_h * self.in_w * self.cin
    }
    fn output_bytes(&self) -> usize {
        self.out_h() * self.out_w() * self.cout
    }
    fn scratch_bytes(&self) -> usize {
        4 * self.cout
    }
    fn input_lead_bytes(&self) -> usize {
        let ow = self.out_w();
        in_place_lead(self.out_h() * ow, self.cout, |j| {
            ((j / ow) * self.k * self.in_w + (j % ow) * self.k) * self.cin
        })
    }
    fn weights_bytes(&self) -> usize {
        self.conv.weights_bytes() + self.out_requant.as_ref().len() + self.out_offset.as_ref().len()
    }
    fn macs(&self) -> u64 {
        (self.output_bytes() * self.k * self.k * self.cin) as u64
    }
}

/// Largest patch (`k * k * cin`) gathered before its dot products: 256 on
/// the host, 64 bytes of stack on microcontrollers (a 4x4 RGB patch; larger
/// ones take the per-row loop).
const PATCH: usize = if cfg!(target_os = "none") { 64 } else { 256 };

/// Run the stem over the arena.
pub fn stem_in_place<B: AsRef<[u8]>>(p: &StemParams<B>, arena: &mut [i8]) {
    stem_in_place_probed(p, arena, &mut NoProbe)
}

/// [`stem_in_place`], telling `probe` where each pixel's phases start.
pub fn stem_in_place_probed<B: AsRef<[u8]>>(
    p: &StemParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    stem_rows(p, p.at, p.in_h, arena, probe)
}

/// The stem over `in_h` input rows placed at `at` (not the whole image's):
/// the row-streamed forward's form, `k` rows in, one output row out (its
/// regions must not overlap; the whole-image stem runs in place).
pub fn stem_rows<B: AsRef<[u8]>>(
    p: &StemParams<B>,
    at: Placement,
    in_h: usize,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let (k, cin, cout) = (p.k, p.cin, p.cout);
    let (oh, ow) = (in_h / k.max(1), p.out_w());
    let s = at.scratch_offset;
    // Where the target has a patch loop (the host's AVX2), its
    // preparation once: the weights rearranged, the multipliers unpacked.
    let mut prepared = (k * k * cin <= PATCH)
        .then(|| Native::prepare(p.conv.tables(), p.out_requant.as_ref(), (k * k * cin, cout)))
        .flatten();
    for r in 0..oh {
        for col in 0..ow {
            probe.enter(Phase::Conv, (cout * k * k * cin) as u32);
            // On the host the patch is gathered once, so each row's dot
            // product is one run the compiler vectorises (`k * k * cin` long
            // rather than `k` runs of `k * cin`); the same sums.
            let mut patch = [0i8; PATCH];
            let whole = PATCH > 0 && k * k * cin <= PATCH;
            if whole {
                for ky in 0..k {
                    let src = at.input_offset + ((r * k + ky) * p.in_w + col * k) * cin;
                    // Checked slices (an arena shorter than the plan's leaves
                    // zeros): no panic path, whatever the params.
                    let dst = patch.get_mut(ky * k * cin..(ky + 1) * k * cin);
                    if let (Some(dst), Some(x)) = (dst, arena.get(src..src + k * cin)) {
                        dst.copy_from_slice(x);
                    }
                }
            }
            // Each output's sum to the LayerNorm input, into the scratch.
            let put = |arena: &mut [i8], o: usize, acc: i32| {
                let v = requantize_plus(acc, p.conv.requant(o), p.conv.bias(o));
                store_i32(arena, s + 4 * o, v);
            };
            // The target's patch loop: every output's dot product at once.
            let mut dots = cout;
            if let Some(prep) = prepared.as_mut() {
                if let Some(at) = arena.get_mut(s..s + 4 * cout) {
                    prep.conv_patch(&patch[..k * k * cin], p.conv.tables(), at);
                    dots = 0;
                }
            }
            for o in 0..dots {
                let wrow = p.conv.row(o, k * k * cin);
                let acc = if whole {
                    super::dot::dot_i8(0, &patch[..k * k * cin], wrow)
                } else {
                    let mut acc = 0;
                    for (ky, w) in wrow.chunks_exact((k * cin).max(1)).take(k).enumerate() {
                        let src = at.input_offset + ((r * k + ky) * p.in_w + col * k) * cin;
                        if let Some(x) = arena.get(src..src + k * cin) {
                            acc = super::dot::dot_i8(acc, x, w);
                        }
                    }
                    acc
                };
                put(arena, o, acc);
            }
            probe.enter(Phase::LayerNorm, 0);
            let out = at.output_offset + (r * ow + col) * cout;
            // (An arena shorter than the plan's: nothing more is computed,
            // and nothing panics; `forward` checked its length already.)
            let Some((lo, hi)) = arena.split_at_mut_checked(s) else {
                return;
            };
            let (Some(v), Some(out)) = (hi.get(..4 * cout), lo.get_mut(out..out + cout)) else {
                return;
            };
            // The host with AVX2: statistics and the output pass 8
            // channels a step, where the pixel's map has its fast form.
            if let Some(fast) = Native::statistics::<4>(v, cout).and_then(|sums| {
                super::layer_norm::PixelNorm::from_sums(cout, sums, &p.ln, Q16).fast()
            }) {
                let unpacked = prepared.as_ref().map_or(&[][..], |p| p.affine_unpacked());
                let affine = (p.out_requant.as_ref(), p.out_offset.as_ref(), unpacked);
                if Native::affine_out(v, fast, affine, out, cout) {
                    continue;
                }
            }
            layer_norm(
                || i32s(v),
                cout,
                &p.ln,
                Q16,
                |i, y| {
                    if let Some(o) = out.get_mut(i) {
                        *o = affine_i8(p.out_requant.as_ref(), p.out_offset.as_ref(), i, y);
                    }
                },
            );
        }
    }
}
