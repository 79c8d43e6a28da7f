//! The x86-64 host implementation: AVX2 where CPUID says the CPU has it
//! ([`avx2::available`], asked once), SSE2 (the x86-64 baseline) and the
//! portable loops elsewhere, with the same bits. Besides the inner loops
//! it has the host's wider ones: the pointwise row pairs over 8-pixel
//! tiles ([`pairs`]), the depthwise over a padded plane ([`plane`]) and 16
//! channels a tap ([`window`]), LayerNorm 8 channels a step ([`norm`]),
//! and the requantization, activation and residual epilogues
//! ([`requant`], [`activation`], [`residual`]).
//!
//! The `unsafe` of the host lives in these files: entering
//! `#[target_feature]` code once CPUID said yes, and loads and stores whose
//! bounds each entry checks.

pub mod activation;
pub mod avx2;
pub mod lanes;
pub mod norm;
pub mod pairs;
pub mod plane;
pub mod requant;
pub mod residual;
pub mod sse2;
pub mod window;

use super::portable::{self, Portable};
use crate::kernels::depthwise::Window;
use crate::kernels::frame::{
    DepthwiseKernel, DwRequant, EpilogueKernel, FusedKernel, NormKernel, PairDot, QuadActivation,
    StemKernel, StemPatch,
};
use crate::kernels::in_place_map::HOST_TILE_PIXELS;
use crate::kernels::layer_norm::FastNorm;
use crate::kernels::requantize::{requant_at, Halved, ResidualLayer};

/// The x86-64 host implementation.
#[derive(Debug, Clone, Copy)]
pub struct X86;

impl PairDot for X86 {
    const TILE_VARIANT: &'static str = "lanes-2x2";
    const WIDE_VARIANT: &'static str = "host-wide-2x2";

    #[inline(always)]
    fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
        portable::pointwise::dot_i8(acc, a, b)
    }

    /// SSE2 for 2x2 tiles, the vectorisable lanes otherwise.
    #[inline(always)]
    fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        // P and R are constants: the test folds away.
        if P == 2 && R == 2 {
            if let Ok(flat) = <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
                return sse2::pointwise::dot_tile_2x2_entry(flat, x, w, len);
            }
        }
        Portable::dot_tile(acc, x, w, len)
    }

    /// SSE2 for two pixels, the portable form otherwise.
    #[inline(always)]
    fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
        if P == 2 {
            if let Ok(flat) = <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
                return sse2::wide::dot_wide_2x2_entry(flat, x, w);
            }
        }
        Portable::dot_wide(acc, x, w)
    }

    /// AVX2 over the host's 8-pixel tiles.
    #[inline(always)]
    fn pairs_i8<const P: usize>(
        out: &mut [[[i32; 2]; P]],
        x: &[i8],
        w: (&[u8], &[u8]),
        bias: &[u8],
        len_live: (usize, usize),
    ) -> Option<usize> {
        if P != HOST_TILE_PIXELS {
            return None;
        }
        avx2::pairs::<false>(out.as_flattened_mut(), x, w, bias, len_live)
    }

    /// AVX2 over the host's 8-pixel tiles.
    #[inline(always)]
    fn pairs_wide<const P: usize>(
        out: &mut [[[i32; 2]; P]],
        x: &[i8],
        w: (&[u8], &[u8]),
        bias: &[u8],
        len_live: (usize, usize),
    ) -> Option<usize> {
        if P != HOST_TILE_PIXELS {
            return None;
        }
        avx2::pairs::<true>(out.as_flattened_mut(), x, w, bias, len_live)
    }
}

impl DepthwiseKernel for X86 {
    const VARIANT: &'static str = "sse2-8ch";

    #[inline(always)]
    fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        Portable::group(win, ch, zx)
    }

    /// 16 channels a step with AVX2, then 8 with SSE2.
    #[inline(always)]
    fn wide_groups(win: &Window, zx: i32, out: &mut [i8]) -> usize {
        let wide = window::groups::groups16_entry(win, zx, out);
        wide + sse2::depthwise::groups8_entry(win, zx, out, wide)
    }

    #[inline(always)]
    fn plane_bytes(h: usize, w: usize, c: usize) -> usize {
        plane::plane_bytes(h, w, c)
    }

    #[inline(always)]
    fn build_plane(x: &[i8], hwc: (usize, usize, usize), zx: i32, out: &mut [i8]) -> bool {
        plane::build_plane(x, hwc, zx, out)
    }

    #[inline(always)]
    fn plane_depthwise(
        plane: &[i8],
        hwc: (usize, usize, usize),
        prepared: (&[u8], &[u8], DwRequant),
        pixels: (usize, usize),
        out: &mut [i8],
    ) -> bool {
        plane::plane_depthwise(plane, hwc, prepared, pixels, out)
    }
}

impl NormKernel for X86 {
    #[inline(always)]
    fn statistics<const W: usize>(v: &[i8], c: usize) -> Option<(i64, i64)> {
        norm::statistics::<W>(v, c)
    }

    #[inline(always)]
    fn widened_groups(v: &[i8], fast: FastNorm, c: usize, put: impl FnMut(usize, [u8; 8])) -> bool {
        norm::widened_groups(v, fast, c, put)
    }

    #[inline(always)]
    fn int8_groups(v: &[i8], fast: FastNorm, c: usize, put: impl FnMut(usize, [u8; 4])) -> bool {
        norm::int8_groups(v, fast, c, put)
    }

    #[inline(always)]
    fn affine_out(
        v: &[i8],
        fast: FastNorm,
        affine: (&[u8], &[u8], &[u8]),
        out: &mut [i8],
        c: usize,
    ) -> bool {
        norm::affine_out(v, fast, affine, out, c)
    }
}

impl EpilogueKernel for X86 {
    type Quad = HalvedQuad;

    #[inline(always)]
    fn requantize_plus_in_place(
        out: &mut [i8],
        bias: &[u8],
        requant: (&[u8], &[u8]),
        c: usize,
    ) -> bool {
        requant::requantize_plus_in_place(out, bias, requant, c)
    }

    #[inline(always)]
    fn unpack_requants<'a>(table: &[u8], c: usize, buf: &'a mut [u8]) -> &'a [u8] {
        requant::unpack_requants(table, c, buf)
    }

    #[inline(always)]
    fn residual_groups(
        x: &mut [i8],
        cn: (usize, usize),
        o0: usize,
        accs: &[[i32; 2]],
        requant: &[u8],
        layer: ResidualLayer,
    ) -> usize {
        residual::residual_groups(x, cn, o0, accs, requant, layer)
    }
}

impl FusedKernel for X86 {}

/// A group of four rows' halved multipliers, for
/// [`activation::activate32`].
#[derive(Clone, Copy)]
pub struct HalvedQuad([Halved; 4]);

impl QuadActivation for HalvedQuad {
    #[inline(always)]
    fn from_requants(r: &[u8]) -> Option<Self> {
        match [0, 1, 2, 3].map(|i| requant_at(r, i).halved()) {
            [Some(a), Some(b), Some(c), Some(d)] => Some(HalvedQuad([a, b, c, d])),
            _ => None,
        }
    }

    #[inline(always)]
    fn activate32(
        self,
        acc: &[[i32; 2]; 16],
        plus: i32,
        table: &[u8; 256],
        out: &mut [i8; 32],
    ) -> bool {
        activation::activate32(acc, self.0, plus, table, out)
    }
}

/// Most stem outputs the prepared patch loop takes.
const STEM_OUTPUTS: usize = 1024;

/// The host's stem preparation: the weights as transposed i16 pairs
/// ([`avx2::StemPairs`]) and both multiplier tables unpacked, once per
/// stem rather than gathered at every pixel.
pub struct StemPrepared {
    pairs: avx2::StemPairs,
    sums: [i32; STEM_OUTPUTS],
    conv_requant: [u8; 8 * STEM_OUTPUTS],
    affine_requant: [u8; 8 * STEM_OUTPUTS],
    cout: usize,
    /// Bytes of each table unpacked (0 where it was too short: the loops
    /// then gather from it, with the same bits).
    unpacked: (usize, usize),
}

impl StemKernel for X86 {
    type Prepared = StemPrepared;

    fn prepare(
        (weights, requant): (&[u8], &[u8]),
        affine_requant: &[u8],
        len: usize,
        cout: usize,
    ) -> Option<StemPrepared> {
        if cout > STEM_OUTPUTS {
            return None;
        }
        let pairs = avx2::StemPairs::new(weights, len, cout)?;
        let mut prep = StemPrepared {
            pairs,
            sums: [0; STEM_OUTPUTS],
            conv_requant: [0; 8 * STEM_OUTPUTS],
            affine_requant: [0; 8 * STEM_OUTPUTS],
            cout,
            unpacked: (0, 0),
        };
        prep.unpacked = (
            requant::unpack_requants(requant, cout, &mut prep.conv_requant).len(),
            requant::unpack_requants(affine_requant, cout, &mut prep.affine_requant).len(),
        );
        Some(prep)
    }
}

impl StemPatch for StemPrepared {
    fn conv_patch(&mut self, patch: &[i8], (bias, requant): (&[u8], &[u8]), out: &mut [i8]) {
        let cout = self.cout;
        let (Some(sums), Some(out)) = (self.sums.get_mut(..cout), out.get_mut(..4 * cout)) else {
            return;
        };
        self.pairs.dots(patch, sums);
        for (a, &acc) in out.chunks_exact_mut(4).zip(sums.iter()) {
            a.copy_from_slice(&acc.to_le_bytes().map(|b| b as i8));
        }
        // (StemPairs exists only where AVX2 runs, so this always
        // requantizes.)
        let unpacked = self.conv_requant.get(..self.unpacked.0);
        requant::requantize_plus_in_place(out, bias, (requant, unpacked.unwrap_or_default()), cout);
    }

    fn affine_unpacked(&self) -> &[u8] {
        self.affine_requant
            .get(..self.unpacked.1)
            .unwrap_or_default()
    }
}
