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
    Acc, DepthwiseKernel, EpilogueKernel, FusedKernel, NormKernel, PairDot, StemKernel, Tables,
};
#[cfg(convnext_dsp)]
use crate::kernels::frame::{ActTable, ActTable16, PairRun};
#[cfg(convnext_dsp)]
use crate::kernels::{linear::QLinear, requantize::ResidualLayer};

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
        acc: &mut Acc<P, R>,
        xw: (&[i8], &[u8]),
        len: usize,
    ) {
        pointwise::packed::dot_tile(acc, xw, len)
    }

    #[inline(always)]
    fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        pointwise::wide::dot_wide(acc, xw)
    }

    /// On DSP cores, with two pixels and `len` a multiple of 8, the whole
    /// run is one `asm!` loop (`pair_loop::wide_2x2`, `pair_loop::i8_2x2`),
    /// so nothing the caller keeps is spilled around each pair's inner loop.
    #[cfg(convnext_dsp)]
    #[inline(always)]
    fn pairs<const WIDE: bool, const P: usize>(
        out: &mut [Acc<P, 2>],
        run: PairRun,
    ) -> Option<usize> {
        if P != 2 || !run.len.is_multiple_of(8) {
            return None;
        }
        let x = run.x.get(..if WIDE { 4 } else { 2 } * run.len)?;
        let (out, w, b) = (out.as_flattened_mut(), run.weights, run.bias);
        Some(if WIDE {
            pair_loop::wide_2x2(out, x, w, b)
        } else {
            pair_loop::i8_2x2(out, x, w, b)
        })
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
    fn pw1_activate<const WIDE: bool>(out: &mut [i8], x: &[i8], l: (Tables, ActTable)) -> usize {
        let (
            QLinear {
                weights,
                bias,
                requant,
            },
            act,
        ) = l;
        if WIDE {
            pair_loop::wide_2x2_act_wide(out, x, weights, bias, requant, act)
        } else {
            pair_loop::wide_2x2_act(out, x, weights, bias, requant, act)
        }
    }

    #[inline(always)]
    fn pw1_activate16(out: &mut [i8], x: &[i8], l: (Tables, ActTable16)) -> usize {
        let (
            QLinear {
                weights,
                bias,
                requant,
            },
            act,
        ) = l;
        pair_loop::wide_2x2_act_wide16(out, x, weights, bias, requant, act)
    }

    #[inline(always)]
    fn pw2_residual<const WIDE: bool>(
        x: &mut [i8],
        h: &[i8],
        l: (Tables, ResidualLayer, &[u8]),
    ) -> usize {
        let (
            QLinear {
                weights,
                bias,
                requant,
            },
            layer,
            residual,
        ) = l;
        let c = x.len() / 2;
        let stream = (layer, residual);
        if WIDE {
            pair_loop::wide_2x2_residual(x, h, weights, bias, requant, stream, c)
        } else {
            pair_loop::i8_2x2_residual(x, h, weights, bias, requant, stream, c)
        }
    }

    #[inline(always)]
    fn conv_halved(out: &mut [i8], x: &[i8], l: (Tables, i32)) -> usize {
        let (
            QLinear {
                weights,
                bias,
                requant,
            },
            plus,
        ) = l;
        pair_loop::i8_2x2_halved(out, out.len() / 2, x, weights, bias, requant, plus)
    }
}

impl StemKernel for Dsp {
    type Prepared = core::convert::Infallible;

    #[inline(always)]
    fn prepare(_: Tables, _: &[u8], _: (usize, usize)) -> Option<Self::Prepared> {
        None
    }
}
