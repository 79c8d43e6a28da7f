//! The host's pw2 epilogue with AVX2: layer scale and residual
//! ([`crate::kernels::requantize::ResidualLayer::apply`]) for 8 output rows of one pixel a step, on
//! the 8-pixel tiles' accumulators ([`super::avx2::pairs`]'s layout).
//!
//! For rows `o..o + 8` of pixel `t`: the accumulators (the 4 pairs' 8
//! pixels transposed in registers: each pair's two rows are adjacent, so
//! a pixel's 8 rows are 4 64-bit lanes), the stream's 8 bytes, each row's
//! multiplier and shifts from its 5-byte entry and its stream mantissa;
//! then `(x - zx) << up` times the stream mantissa plus the sum times the
//! row's multiplier (64-bit), the high word shifted by the row's `sh`, the
//! halved tail, and int8 saturation by packing. Rows without the prepared form
//! ([`crate::kernels::requantize::ResidualLayer::row`] says none) send their group of 8 back to the
//! caller's scalar loop.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once [`super::avx2::available`] said yes, and loads, gathers and stores
//! whose bounds each step checks.

#![allow(unsafe_code)]

use super::lanes::{any_outside, requants8, saturated8};
use crate::kernels::frame::ResidualRun;
use crate::kernels::requantize::Requant;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_add_epi64, _mm256_blend_epi32, _mm256_cvtepi8_epi32,
    _mm256_loadu_si256, _mm256_mul_epi32, _mm256_permute2x128_si256, _mm256_set1_epi32,
    _mm256_setzero_si256, _mm256_sllv_epi32, _mm256_srai_epi32, _mm256_srav_epi32,
    _mm256_srli_epi64, _mm256_sub_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi64,
    _mm_loadl_epi64, _mm_storel_epi64,
};

/// Pixels of the tiles this epilogue takes.
const PIXELS: usize = 8;

/// Rows `o0 + 8g ..` of the `n` pixels of `x` (`c` channels each) for
/// every whole group `g` of 4 pairs in `accs` (pair `j`'s pixel `t`'s two
/// rows at `accs[8 j + t]`), with the multipliers `requant` (5 bytes a row,
/// from row `o0`) and the stream mantissas `residual` (4 bytes a row), up
/// to the first group with a row off the prepared form.
/// Returns the pairs done (a multiple of 4; the caller's loop goes on from
/// there), 0 without AVX2.
pub fn residual_groups(x: &mut [i8], run: ResidualRun) -> usize {
    if !super::avx2::available() || run.pixels > PIXELS {
        return 0;
    }
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { residual_groups_avx2(x, run) }
}

#[target_feature(enable = "avx2")]
fn residual_groups_avx2(x: &mut [i8], run: ResidualRun) -> usize {
    let ResidualRun {
        c,
        pixels: n,
        first_row: o0,
        accs,
        requant,
        residual,
        layer,
    } = run;
    let [zx, minus_ta, plus] = layer.parts();
    let (zx, plus) = (_mm256_set1_epi32(zx), _mm256_set1_epi32(plus));
    let mut done = 0;
    for (g, group) in accs.chunks_exact(4 * PIXELS).enumerate() {
        let o = o0 + 8 * g;
        let Some((mult, shift)) = requant
            .get(Requant::BYTES * 8 * g..)
            .and_then(|rq| requants8(rq))
        else {
            break;
        };
        // ResidualLayer::row: tb = 31 + shift, up = tb - ta in 0..=22 and
        // sh = tb - 33 in 0..=20.
        let tb = _mm256_add_epi32(shift, _mm256_set1_epi32(31));
        let up = _mm256_add_epi32(tb, _mm256_set1_epi32(minus_ta - 31));
        let sh = _mm256_sub_epi32(tb, _mm256_set1_epi32(33));
        let Some(streams) = residual.get(32 * g..32 * g + 32) else {
            break;
        };
        if any_outside([(up, 0, 22), (sh, 0, 20)]) || o + 8 > c {
            break;
        }
        // The 8 rows' stream mantissas.
        // SAFETY: `streams` is 32 bytes.
        let stream = unsafe { _mm256_loadu_si256(streams.as_ptr().cast()) };
        // Each pixel's 8 rows side by side: the 4 pairs' units of pixels
        // 0-3, then 4-7, transposed as 4x4 blocks of 64-bit lanes.
        // SAFETY: `group` is 4 pairs of 8 pixels' two i32s (256 bytes);
        // each load reads 32 of them.
        let pairs: [__m256i; 8] = core::array::from_fn(|i| unsafe {
            _mm256_loadu_si256(group.as_ptr().add(8 * (i % 4) + 4 * (i / 4)).cast())
        });
        let mut rows = [_mm256_setzero_si256(); PIXELS];
        for half in 0..2 {
            let [p0, p1, p2, p3] = [0, 1, 2, 3].map(|j| pairs[4 * half + j]);
            let (a, b) = (_mm256_unpacklo_epi64(p0, p1), _mm256_unpackhi_epi64(p0, p1));
            let (e, f) = (_mm256_unpacklo_epi64(p2, p3), _mm256_unpackhi_epi64(p2, p3));
            rows[4 * half] = _mm256_permute2x128_si256::<0x20>(a, e);
            rows[4 * half + 1] = _mm256_permute2x128_si256::<0x20>(b, f);
            rows[4 * half + 2] = _mm256_permute2x128_si256::<0x31>(a, e);
            rows[4 * half + 3] = _mm256_permute2x128_si256::<0x31>(b, f);
        }
        for (t, &acc) in rows.iter().enumerate().take(n) {
            let Some(xs) = x.get_mut(t * c + o..t * c + o + 8) else {
                return done;
            };
            // SAFETY: `xs` is 8 bytes, read, then written.
            let xv = unsafe { _mm256_cvtepi8_epi32(_mm_loadl_epi64(xs.as_ptr().cast())) };
            let a = _mm256_sllv_epi32(_mm256_sub_epi32(xv, zx), up);
            // The 64-bit sums' high words: even lanes, then odd lanes.
            let even = _mm256_add_epi64(_mm256_mul_epi32(a, stream), _mm256_mul_epi32(acc, mult));
            let odd = _mm256_add_epi64(
                _mm256_mul_epi32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(stream)),
                _mm256_mul_epi32(_mm256_srli_epi64::<32>(acc), _mm256_srli_epi64::<32>(mult)),
            );
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let v = _mm256_srai_epi32::<1>(_mm256_add_epi32(_mm256_srav_epi32(hi, sh), plus));
            // SAFETY: as above.
            unsafe { _mm_storel_epi64(xs.as_mut_ptr().cast(), saturated8(v)) };
        }
        done += 4;
    }
    done
}
