//! The host's pointwise row-pair loop over weights already widened to i16
//! ([`crate::kernels::prepared::BlockPrepared`]), for 8-pixel tiles with AVX2
//! ([`super::avx2::pairs`] picks it when the widened copy is there).
//!
//! Each row's 4-weight chunk is one broadcast load feeding two VPMADDWD (4
//! pixels each); three row pairs go through each input chunk, 12
//! accumulators in registers. Measured on this project's Zen 3 host
//! (`cargo bench --bench kernels`), the loop that widens the weights as it
//! goes (a shuffle and a shift for each row pair and chunk) ran pw2's
//! shape at about 60 G multiply-adds a second; this one at about 88 G,
//! close to the core's two VPMADDWD a cycle. VPMADDUBSW with the sign trick
//! (exact while no weight is -128) reached 69 G: its VPSIGNB competes for
//! the multiply ports. Widening per call into a stack buffer reached 56 G.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code,
//! which the caller does once AVX2 is known present, and unaligned loads
//! and stores whose bounds each function checks on entry.

#![allow(unsafe_code)]

use crate::kernels::tables::i32_at;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16, _mm256_hadd_epi32, _mm256_loadu_si256,
    _mm256_madd_epi16, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setzero_si256,
    _mm256_storeu_si256, _mm256_unpackhi_epi32, _mm256_unpacklo_epi32, _mm_loadu_si128,
    _mm_prefetch, _MM_HINT_T0,
};

/// Pixels of the tiles this loop takes.
const PIXELS: usize = 8;

/// [`super::avx2::pairs`] over `wide`, the widened weights (`4 len` bytes a
/// pair; for widened input, `WIDE`, each 4-weight chunk in SXTB16's order
/// 0, 2, 1, 3, as the input's): the same result. The caller checked that
/// `len` is a multiple of 4 and cut `x` to the tile. With `live` at most 4
/// (a map's last, partial tile) only pixels 0-3 are computed, six pairs a
/// pass; pixels 4-7 then hold their biases alone.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pairs<const WIDE: bool>(
    out: &mut [[i32; 2]],
    x: &[i8],
    wide: &[u8],
    bias: &[u8],
    (len, live): (usize, usize),
) -> usize {
    let want = (out.len() / PIXELS)
        .min(wide.len() / (4 * len).max(1))
        .min(bias.len() / 8);
    let half = live <= PIXELS / 2;
    let mut n = 0;
    while n < want {
        let step = match (half, want - n) {
            (true, 6..) => 6,
            (true, 4..) => 4,
            (_, 3..) => 3,
            (_, left) => left,
        };
        let (Some(o), Some(wr), Some(b)) = (
            out.get_mut(PIXELS * n..PIXELS * (n + step)),
            wide.get(4 * len * n..),
            bias.get(8 * n..8 * (n + step)),
        ) else {
            break;
        };
        match (half, step) {
            (true, 6) => rows::<WIDE, true, 6>(o, x, wr, b, len),
            (true, 4) => rows::<WIDE, true, 4>(o, x, wr, b, len),
            (true, 3) => rows::<WIDE, true, 3>(o, x, wr, b, len),
            (true, 2) => rows::<WIDE, true, 2>(o, x, wr, b, len),
            (true, _) => rows::<WIDE, true, 1>(o, x, wr, b, len),
            (false, 3) => rows::<WIDE, false, 3>(o, x, wr, b, len),
            (false, 2) => rows::<WIDE, false, 2>(o, x, wr, b, len),
            (false, _) => rows::<WIDE, false, 1>(o, x, wr, b, len),
        }
        n += step;
    }
    n
}

/// `N` pairs over the 8 pixels (`HALF`: over pixels 0-3, the others' sums
/// left at 0): `out` 8 entries a pair, `wide` `4 len` bytes a pair (and
/// the pairs after, whose weights are prefetched), `bias` 8 bytes a pair.
/// Nothing written if a slice is short.
#[target_feature(enable = "avx2")]
fn rows<const WIDE: bool, const HALF: bool, const N: usize>(
    out: &mut [[i32; 2]],
    x: &[i8],
    wide: &[u8],
    bias: &[u8],
    len: usize,
) {
    let step = if WIDE { 64 } else { 32 };
    let chunks = len / 4;
    if x.len() < step * chunks
        || wide.len() < 4 * len * N
        || out.len() < PIXELS * N
        || bias.len() < 8 * N
    {
        return;
    }
    let (xp, wp) = (x.as_ptr(), wide.as_ptr());
    // The next pass's weights (those of the next `N` pairs, if any) asked
    // for a line a chunk: they follow this pass's in `wide`. Measured
    // (`cargo bench --bench kernels`), the tiny-shaped blocks whose weights
    // are in L2 or L3 ran 3-7 % faster; two passes ahead was slower.
    let next = wide.len().saturating_sub(4 * len * N).min(16 * len);
    let mut acc = [[_mm256_setzero_si256(); 4]; N];
    for k in 0..chunks {
        // SAFETY: chunk k is `step` bytes at `step k`, inside the `step
        // chunks` bytes checked above.
        let (lo, hi) = unsafe {
            let at = xp.add(step * k);
            match (WIDE, HALF) {
                // Widened input holds each pixel's chunk in SXTB16's order
                // (channels 0, 2, 1, 3), and so do pw1's widened weights.
                (true, false) => (
                    _mm256_loadu_si256(at.cast()),
                    _mm256_loadu_si256(at.add(32).cast()),
                ),
                (true, true) => (_mm256_loadu_si256(at.cast()), _mm256_setzero_si256()),
                (false, false) => (
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(at.cast())),
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(at.add(16).cast())),
                ),
                (false, true) => (
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(at.cast())),
                    _mm256_setzero_si256(),
                ),
            }
        };
        if 64 * k < next {
            // SAFETY: a prefetch reads nothing; the line is inside `wide`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(wp.add(4 * len * N + 64 * k).cast()) };
        }
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: pair j's chunk k is 16 bytes at `4 len j + 16 k`, in
            // the `4 len N` bytes checked above; each read is 8 of them.
            let (r, s) = unsafe {
                let c = wp.add(4 * len * j + 16 * k).cast::<i64>();
                (
                    _mm256_set1_epi64x(c.read_unaligned()),
                    _mm256_set1_epi64x(c.add(1).read_unaligned()),
                )
            };
            // (In this order: `r` is dead before `s` is needed, which
            // keeps the 12 sums of three pairs in registers.)
            a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(lo, r));
            if !HALF {
                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(hi, r));
            }
            a[2] = _mm256_add_epi32(a[2], _mm256_madd_epi16(lo, s));
            if !HALF {
                a[3] = _mm256_add_epi32(a[3], _mm256_madd_epi16(hi, s));
            }
        }
    }
    for ((a, o), b) in acc
        .iter()
        .zip(out.chunks_exact_mut(PIXELS))
        .zip(bias.chunks_exact(8))
    {
        finish(a, b, o);
    }
}

/// Rows r, s over pixels 0-3 and 4-7 (2 i32 lanes a pixel) into the pair's
/// 8 outputs, biases added.
#[target_feature(enable = "avx2")]
pub(super) fn finish(a: &[__m256i; 4], b: &[u8], o: &mut [[i32; 2]]) {
    // Adjacent lanes summed within each 128-bit half: pixels 0, 1, 4, 5 in
    // the low half, 2, 3, 6, 7 in the high one; the rows' biases added;
    // rows r and s interleaved, which puts pixels 0-3, then 4-7, in order.
    let r0 = _mm256_add_epi32(
        _mm256_hadd_epi32(a[0], a[1]),
        _mm256_set1_epi32(i32_at(b, 0)),
    );
    let r1 = _mm256_add_epi32(
        _mm256_hadd_epi32(a[2], a[3]),
        _mm256_set1_epi32(i32_at(b, 1)),
    );
    if let Some(o) = o.get_mut(..PIXELS) {
        // SAFETY: `o` is 8 `[i32; 2]`, 64 contiguous writable bytes; the
        // stores allow any alignment.
        unsafe {
            let p = o.as_mut_ptr().cast::<__m256i>();
            _mm256_storeu_si256(p, _mm256_unpacklo_epi32(r0, r1));
            _mm256_storeu_si256(p.add(1), _mm256_unpackhi_epi32(r0, r1));
        }
    }
}
