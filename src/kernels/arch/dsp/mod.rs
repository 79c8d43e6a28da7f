//! The Armv7E-M / Armv8-M DSP implementation: SXTB16, SXTAB16, SMLAD,
//! SMLABB/SMLATT through [`simd32`] (one instruction each on cores with
//! the DSP extension, exact Rust models elsewhere, so the host checks the
//! very code the boards run), and on DSP cores the fused `asm!` loops of
//! `pair_loop.rs`, which keep a two-pixel tile's values in registers across
//! a whole run of row pairs and their epilogues.

pub mod depthwise;
#[cfg(convnext_dsp)]
pub mod pair_loop;
pub mod pointwise;
pub mod simd32;

use crate::kernels::depthwise::Window;
use crate::kernels::frame::{
    DepthwiseKernel, EpilogueKernel, FusedKernel, NormKernel, PairDot, StemKernel,
};

/// The DSP implementation.
#[derive(Debug, Clone, Copy)]
pub struct Dsp;

impl PairDot for Dsp {
    const TILE_VARIANT: &'static str = "dsp-2x2";
    const WIDE_VARIANT: &'static str = "dsp-wide-2x2";

    #[inline(always)]
    fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
        pointwise::dot::dot(acc, a, b)
    }

    #[inline(always)]
    fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        pointwise::packed::dot_tile(acc, x, w, len)
    }

    #[inline(always)]
    fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
        pointwise::wide::dot_wide(acc, x, w)
    }

    /// On DSP cores, with two pixels and `len` a multiple of 8, the whole
    /// run is one `asm!` loop (`pair_loop::i8_2x2`), so nothing the
    /// caller keeps is spilled around each pair's inner loop.
    #[cfg(convnext_dsp)]
    #[inline(always)]
    fn pairs_i8<const P: usize>(
        out: &mut [[[i32; 2]; P]],
        x: &[i8],
        (w, _): (&[u8], &[u8]),
        bias: &[u8],
        (len, _): (usize, usize),
    ) -> Option<usize> {
        if P != 2 || !len.is_multiple_of(8) {
            return None;
        }
        let x = x.get(..2 * len)?;
        Some(pair_loop::i8_2x2(out.as_flattened_mut(), x, w, bias))
    }

    /// [`PairDot::pairs_i8`]'s loop over widened inputs
    /// (`pair_loop::wide_2x2`).
    #[cfg(convnext_dsp)]
    #[inline(always)]
    fn pairs_wide<const P: usize>(
        out: &mut [[[i32; 2]; P]],
        x: &[i8],
        (w, _): (&[u8], &[u8]),
        bias: &[u8],
        (len, _): (usize, usize),
    ) -> Option<usize> {
        if P != 2 || !len.is_multiple_of(8) {
            return None;
        }
        let x = x.get(..4 * len)?;
        Some(pair_loop::wide_2x2(out.as_flattened_mut(), x, w, bias))
    }
}

impl DepthwiseKernel for Dsp {
    const VARIANT: &'static str = "dsp-4ch";

    #[inline(always)]
    fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        depthwise::packed::group(win, ch, zx)
    }
}

impl NormKernel for Dsp {}

impl EpilogueKernel for Dsp {
    type Quad = core::convert::Infallible;
}

/// The fused loops exist only where the instructions do: elsewhere (the
/// host's models) the defaults leave every row to the general loops.
#[cfg(not(convnext_dsp))]
impl FusedKernel for Dsp {}

#[cfg(convnext_dsp)]
impl FusedKernel for Dsp {
    const FUSED: bool = true;

    #[inline(always)]
    fn pw1_activate(
        out: &mut [i8],
        x: &[i8],
        (w, b, r): (&[u8], &[u8], &[u8]),
        act: crate::kernels::frame::ActTable,
    ) -> usize {
        pair_loop::wide_2x2_act(out, x, w, b, r, act)
    }

    #[inline(always)]
    fn pw1_activate_wide(
        out: &mut [i8],
        x: &[i8],
        (w, b, r): (&[u8], &[u8], &[u8]),
        act: crate::kernels::frame::ActTable,
    ) -> usize {
        pair_loop::wide_2x2_act_wide(out, x, w, b, r, act)
    }

    #[inline(always)]
    fn pw2_residual(
        x: &mut [i8],
        hidden: &[i8],
        (w, b, r): (&[u8], &[u8], &[u8]),
        residual: crate::kernels::requantize::ResidualLayer,
        c: usize,
    ) -> usize {
        pair_loop::i8_2x2_residual(x, hidden, w, b, r, residual, c)
    }

    #[inline(always)]
    fn pw2_residual_wide(
        x: &mut [i8],
        hidden: &[i8],
        (w, b, r): (&[u8], &[u8], &[u8]),
        residual: crate::kernels::requantize::ResidualLayer,
        c: usize,
    ) -> usize {
        pair_loop::wide_2x2_residual(x, hidden, w, b, r, residual, c)
    }

    #[inline(always)]
    fn conv_halved(
        out: &mut [i8],
        cout: usize,
        x: &[i8],
        (w, b, r): (&[u8], &[u8], &[u8]),
        plus: i32,
    ) -> usize {
        pair_loop::i8_2x2_halved(out, cout, x, w, b, r, plus)
    }
}

impl StemKernel for Dsp {
    type Prepared = core::convert::Infallible;

    #[inline(always)]
    fn prepare(_: (&[u8], &[u8]), _: &[u8], _: usize, _: usize) -> Option<Self::Prepared> {
        None
    }
}
