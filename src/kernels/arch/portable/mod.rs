//! The portable implementation: plain Rust over the same layouts, for cores
//! without DSP and hosts without a SIMD form. Only the inner loops; every
//! wider loop of the frame keeps its default (the op's portable code runs).

pub mod depthwise;
pub mod pointwise;

use crate::kernels::depthwise::Window;
use crate::kernels::frame::{
    Acc, DepthwiseKernel, EpilogueKernel, FusedKernel, NormKernel, PairDot, StemKernel, Tables,
};

/// The portable implementation.
#[derive(Debug, Clone, Copy)]
pub struct Portable;

/// Whether this build runs on a host (with an OS), where the vectorisable
/// [`pointwise::lanes`] form beats the scalar one; firmware for cores
/// without DSP keeps the scalar form (the lanes cost the Cortex-M0+
/// registers it has not got).
const HOSTED: bool = cfg!(not(target_os = "none"));

impl PairDot for Portable {
    const TILE_VARIANT: &'static str = if HOSTED { "lanes-2x2" } else { "scalar-2x2" };
    const WIDE_VARIANT: &'static str = if HOSTED {
        "host-wide-2x2"
    } else {
        "scalar-wide-2x2"
    };

    #[inline(always)]
    fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
        pointwise::dot_i8(acc, a, b)
    }

    #[inline(always)]
    fn dot_tile<const P: usize, const R: usize>(
        acc: &mut Acc<P, R>,
        xw: (&[i8], &[u8]),
        len: usize,
    ) {
        if HOSTED {
            pointwise::lanes::dot_tile(acc, xw, len)
        } else {
            pointwise::scalar::dot_tile(acc, xw, len)
        }
    }

    #[inline(always)]
    fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        pointwise::wide::dot_wide(acc, xw)
    }

    #[inline(always)]
    fn dot_wide16<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        pointwise::wide::dot_wide16(acc, xw)
    }
}

impl DepthwiseKernel for Portable {
    const VARIANT: &'static str = "scalar-4ch";

    #[inline(always)]
    fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        depthwise::scalar::group(win, ch, zx)
    }
}

impl NormKernel for Portable {}

impl EpilogueKernel for Portable {
    type Quad = core::convert::Infallible;
}

impl FusedKernel for Portable {}

impl StemKernel for Portable {
    type Prepared = core::convert::Infallible;

    #[inline(always)]
    fn prepare(_: Tables, _: &[u8], _: (usize, usize)) -> Option<Self::Prepared> {
        None
    }
}
