//! What the host's AVX2 epilogues share ([`super::avx2`],
//! [`super::requant`], [`super::norm`], [`super::residual`]):
//! 8 channels' multipliers from their 5-byte table entries, the check that
//! sends a group of lanes to the scalar form, the high words of 64-bit
//! products, and a register's lanes as arrays (i32, i64, saturated bytes).
//!
//! The `unsafe` here: the gathers, inside the 40 bytes their callers hand
//! over, and stores into arrays of exactly a register's size.

#![allow(unsafe_code)]

use crate::kernels::requantize::Requant;
use core::arch::x86_64::{
    __m128i, __m256i, _mm256_blend_epi32, _mm256_castsi256_si128, _mm256_cmpgt_epi32,
    _mm256_i32gather_epi32, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_mul_epi32,
    _mm256_or_si256, _mm256_packs_epi16, _mm256_packs_epi32, _mm256_permutevar8x32_epi32,
    _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setzero_si256, _mm256_srai_epi32,
    _mm256_srli_epi64, _mm256_storeu_si256, _mm256_sub_epi64, _mm_cvtsi128_si64,
};

/// The mantissas and shifts (as i32 lanes) of the 8 multipliers in `rq`
/// (8 entries of [`Requant::BYTES`]), or `None` when `rq` is shorter.
#[target_feature(enable = "avx2")]
pub(super) fn requants8(rq: &[u8]) -> Option<(__m256i, __m256i)> {
    let rq = rq.get(..8 * Requant::BYTES)?;
    let offsets = _mm256_setr_epi32(0, 5, 10, 15, 20, 25, 30, 35);
    // SAFETY: the gathers read bytes 5i to 5i + 3 and 5i + 1 to 5i + 4 of
    // `rq`'s 40 (i < 8); the shift byte sits at the top of the second.
    Some(unsafe {
        (
            _mm256_i32gather_epi32::<1>(rq.as_ptr().cast(), offsets),
            _mm256_srai_epi32::<24>(_mm256_i32gather_epi32::<1>(
                rq.as_ptr().add(1).cast(),
                offsets,
            )),
        )
    })
}

/// A per-channel table's multipliers unpacked: `c` i32 mantissas, then `c`
/// i32 shifts (the halves of [`super::requant::unpack_requants`]'s
/// output).
pub(super) type Prepared<'a> = (&'a [u8], &'a [u8]);

/// The mantissas and shifts of channels `ch..ch + 8`: loaded from the
/// unpacked copy where there is one, else gathered from their table
/// entries `rq` ([`requants8`]); `None` when both are short.
#[target_feature(enable = "avx2")]
pub(super) fn multipliers8(
    prepared: Option<Prepared>,
    ch: usize,
    rq: &[u8],
) -> Option<(__m256i, __m256i)> {
    let at = 4 * ch..4 * ch + 32;
    match prepared.and_then(|(m, sh)| Some((m.get(at.clone())?, sh.get(at)?))) {
        // SAFETY: both slices are 32 bytes; the loads allow any alignment.
        Some((m, sh)) => Some(unsafe {
            (
                _mm256_loadu_si256(m.as_ptr().cast()),
                _mm256_loadu_si256(sh.as_ptr().cast()),
            )
        }),
        None => requants8(rq),
    }
}

/// Whether any lane of any `(v, lo, hi)` lies outside `lo..=hi`: such a
/// group of lanes is off the vector form's range and goes the scalar way.
#[target_feature(enable = "avx2")]
pub(super) fn any_outside<const N: usize>(checks: [(__m256i, i32, i32); N]) -> bool {
    let off = checks
        .iter()
        .fold(_mm256_setzero_si256(), |m, &(v, lo, hi)| {
            let below = _mm256_cmpgt_epi32(_mm256_set1_epi32(lo), v);
            let above = _mm256_cmpgt_epi32(v, _mm256_set1_epi32(hi));
            _mm256_or_si256(m, _mm256_or_si256(below, above))
        });
    _mm256_movemask_epi8(off) != 0
}

/// Per lane, the high word of the 64-bit `x a − b` (`b` the same in every
/// lane): even lanes from VPMULDQ as is, odd ones moved down.
#[target_feature(enable = "avx2")]
pub(super) fn high_words(x: __m256i, a: __m256i, b: __m256i) -> __m256i {
    let even = _mm256_sub_epi64(_mm256_mul_epi32(x, a), b);
    let odd = _mm256_sub_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(a)),
        b,
    );
    _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd)
}

/// The 8 i32 lanes of `v`.
#[target_feature(enable = "avx2")]
pub(super) fn lanes32(v: __m256i) -> [i32; 8] {
    let mut out = [0i32; 8];
    // SAFETY: `out` is 32 writable bytes; the store allows any alignment.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

/// The 4 i64 lanes of `v`.
#[target_feature(enable = "avx2")]
pub(super) fn lanes64(v: __m256i) -> [i64; 4] {
    let mut out = [0i64; 4];
    // SAFETY: `out` is 32 writable bytes; the store allows any alignment.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

/// The 8 i32 lanes of `v` saturated to int8, in lane order, as the low 8
/// bytes of a register ([`saturated_bytes`]'s bits, kept in registers).
#[target_feature(enable = "avx2")]
pub(super) fn saturated8(v: __m256i) -> __m128i {
    let w = _mm256_packs_epi32(v, v);
    let b = _mm256_packs_epi16(w, w);
    // Dword 0 holds lanes 0-3, dword 4 lanes 4-7.
    let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
    _mm256_castsi256_si128(b)
}

/// The 8 i32 lanes of `v` saturated to int8, in lane order (`clamp_i8`'s
/// bits: two saturating packs, i32 to i16 to i8), without a trip through
/// memory.
#[target_feature(enable = "avx2")]
pub(super) fn saturated_bytes(v: __m256i) -> [u8; 8] {
    _mm_cvtsi128_si64(saturated8(v)).to_le_bytes()
}
