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
    Acc, ActTable, Affine, DepthwiseKernel, EpilogueKernel, FusedKernel, Multipliers, NormKernel,
    PairDot, PairRun, PlaneRun, QuadActivation, ResidualRun, StemKernel, StemPatch, Tables,
};
use crate::kernels::in_place_map::{InPlaceMap, HOST_TILE_PIXELS};
use crate::kernels::layer_norm::FastNorm;
use crate::kernels::requantize::{requant_at, Halved};

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
        acc: &mut Acc<P, R>,
        xw: (&[i8], &[u8]),
        len: usize,
    ) {
        // P and R are constants: the test folds away.
        match <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
            Ok(flat) if P == 2 && R == 2 => sse2::pointwise::dot_tile_2x2_entry(flat, xw, len),
            _ => Portable::dot_tile(acc, xw, len),
        }
    }

    /// SSE2 for two pixels, the portable form otherwise.
    #[inline(always)]
    fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        match <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
            Ok(flat) if P == 2 => sse2::wide::dot_wide_2x2_entry(flat, xw),
            _ => Portable::dot_wide(acc, xw),
        }
    }

    #[inline(always)]
    fn dot_wide16<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        match <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
            Ok(flat) if P == 2 => sse2::wide::dot_wide_2x2_entry(flat, xw),
            _ => Portable::dot_wide16(acc, xw),
        }
    }

    /// AVX2 over the host's 8-pixel tiles.
    #[inline(always)]
    fn pairs<const WIDE: bool, const P: usize>(
        out: &mut [Acc<P, 2>],
        run: PairRun,
    ) -> Option<usize> {
        if P != HOST_TILE_PIXELS {
            return None;
        }
        avx2::pairs::<WIDE>(out.as_flattened_mut(), run)
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
    fn plane_bytes(m: InPlaceMap) -> usize {
        plane::plane_bytes(m.h, m.w, m.c)
    }

    #[inline(always)]
    fn build_plane(x: &[i8], m: InPlaceMap, zx: i32, out: &mut [i8]) -> bool {
        plane::build_plane(x, (m.h, m.w, m.c), zx, out)
    }

    #[inline(always)]
    fn plane_depthwise(plane: &[i8], at: PlaneRun, out: &mut [i8]) -> bool {
        let (m, parts) = (at.map, (at.rows, at.zero, at.requant));
        plane::plane_depthwise(plane, (m.h, m.w, m.c), parts, (at.p0, at.n), out)
    }
}

impl NormKernel for X86 {
    #[inline(always)]
    fn statistics<const W: usize>(v: &[i8], c: usize) -> Option<(i64, i64)> {
        norm::statistics::<W>(v, c)
    }

    #[inline(always)]
    fn widened_groups(v: &[i8], f: FastNorm, c: usize, put: impl FnMut(usize, [u8; 8])) -> bool {
        norm::widened_groups(v, f, c, put)
    }

    #[inline(always)]
    fn int8_groups(v: &[i8], f: FastNorm, c: usize, put: impl FnMut(usize, [u8; 4])) -> bool {
        norm::int8_groups(v, f, c, put)
    }

    #[inline(always)]
    fn affine_out(v: &[i8], f: FastNorm, affine: Affine, out: &mut [i8], c: usize) -> bool {
        norm::affine_out(v, f, affine, out, c)
    }
}

impl EpilogueKernel for X86 {
    type Quad = HalvedQuad;

    #[inline(always)]
    fn requantize_plus_in_place(out: &mut [i8], bias: &[u8], rq: Multipliers, c: usize) -> bool {
        requant::requantize_plus_in_place(out, bias, rq, c)
    }

    #[inline(always)]
    fn unpack_requants<'a>(table: &[u8], c: usize, buf: &'a mut [u8]) -> &'a [u8] {
        requant::unpack_requants(table, c, buf)
    }

    #[inline(always)]
    fn residual_groups(x: &mut [i8], run: ResidualRun) -> usize {
        residual::residual_groups(x, run)
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
    fn activate32(self, acc: &[[i32; 2]; 16], act: ActTable, out: &mut [i8; 32]) -> bool {
        activation::activate32(acc, self.0, act.plus, act.table, out)
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

    fn prepare(conv: Tables, affine: &[u8], (len, cout): (usize, usize)) -> Option<StemPrepared> {
        let (weights, requant) = (conv.weights, conv.requant);
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
            requant::unpack_requants(affine, cout, &mut prep.affine_requant).len(),
        );
        Some(prep)
    }
}

impl StemPatch for StemPrepared {
    fn conv_patch(&mut self, patch: &[i8], conv: Tables, out: &mut [i8]) {
        let (bias, requant) = (conv.bias, conv.requant);
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
