//! The host's 7x7 depthwise at an interior pixel (all 49 taps in the map),
//! over the weights the planner prepared for it
//! ([`super::block::HostParts::dw_pairs`]): each pair of taps' weights as
//! i16 pairs, 8 channels to a 32-byte row, so one VPMADDWD takes two taps
//! of 8 channels. The two taps' inputs are interleaved byte by byte
//! (PUNPCKLBW) and sign-extended once (VPMOVSXBW): no zero point is
//! subtracted per tap, since `Σ (x − zx) w = Σ x w − zx Σ w` exactly, and
//! `zx Σ w` (every tap's weights, so interior pixels only) is the other
//! prepared part ([`super::block::HostParts::dw_zero`]). Four ops a tap pair
//! and 8 channels, where the general loop ([`super::depthwise::avx2`])
//! widens, offsets and interleaves both operands for every tap.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once AVX2 is known present, and loads inside the bounds
//! [`interior`] checks on entry.

#![allow(unsafe_code)]

use super::avx2::available;
use super::block::host_dw_pairs_bytes;
use super::depthwise::{Tap, MAX_TAPS};
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16, _mm256_loadu_si256, _mm256_madd_epi16,
    _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi32, _mm_loadl_epi64,
    _mm_unpacklo_epi8,
};

/// Tap pairs of a 7x7 window (the last pairs tap 48 with a zero weight).
pub const TAP_PAIRS: usize = MAX_TAPS.div_ceil(2);

/// `Σ_taps (x[tap.x + ch] − zx) · w` for every channel, as little-endian
/// i32s into `out` (`4C` bytes), when `taps` is a whole window (49 taps,
/// the weights of tap `t` at `t C`, as the raster order lists them) and the
/// prepared parts fit `c` (a multiple of 8); `false` (nothing written)
/// otherwise or without AVX2.
pub fn interior(
    x: &[i8],
    taps: &[Tap],
    c: usize,
    (pairs, zero): (&[u8], &[u8]),
    out: &mut [i8],
) -> bool {
    let Ok(taps) = <&[Tap; MAX_TAPS]>::try_from(taps) else {
        return false;
    };
    let whole = taps
        .iter()
        .enumerate()
        .all(|(t, tap)| tap.w as usize == t * c && tap.x as usize + c <= x.len());
    if !whole
        || c == 0
        || !c.is_multiple_of(8)
        || (pairs.len(), zero.len()) != host_dw_pairs_bytes(c)
        || out.len() < 4 * c
        || !available()
    {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2; the bounds are checked.
    unsafe { interior_avx2(x, taps, c, (pairs, zero), out) };
    true
}

/// Channel groups of 8 a pass (4 accumulators, 32 channels), then one.
#[target_feature(enable = "avx2")]
fn interior_avx2(
    x: &[i8],
    taps: &[Tap; MAX_TAPS],
    c: usize,
    parts: (&[u8], &[u8]),
    out: &mut [i8],
) {
    let groups = c / 8;
    let mut g = 0;
    while g + 4 <= groups {
        groups_of::<4>(x, taps, c, parts, out, g);
        g += 4;
    }
    while g < groups {
        groups_of::<1>(x, taps, c, parts, out, g);
        g += 1;
    }
}

/// Channel groups `g0..g0 + G` (8 channels each).
#[target_feature(enable = "avx2")]
fn groups_of<const G: usize>(
    x: &[i8],
    taps: &[Tap; MAX_TAPS],
    c: usize,
    (pairs, zero): (&[u8], &[u8]),
    out: &mut [i8],
    g0: usize,
) {
    let mut acc = [_mm256_setzero_si256(); G];
    let (xp, wp) = (x.as_ptr(), pairs.as_ptr());
    for j in 0..TAP_PAIRS {
        let a = taps[2 * j].x as usize;
        // Tap 48 pairs with itself; its partner's weights are 0.
        let b = taps[(2 * j + 1).min(MAX_TAPS - 1)].x as usize;
        for (i, acc) in acc.iter_mut().enumerate() {
            let ch = 8 * (g0 + i);
            // SAFETY: `interior` checked that every tap's `c` inputs lie in
            // `x` (ch + 8 <= c), and that `pairs` holds `TAP_PAIRS` rows of
            // `4c` bytes (row j's group at `32 (g0 + i)` < `4c`).
            let (xs, w) = unsafe {
                let xa = _mm_loadl_epi64(xp.add(a + ch).cast());
                let xb = _mm_loadl_epi64(xp.add(b + ch).cast());
                (
                    _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)),
                    _mm256_loadu_si256(wp.add(4 * c * j + 4 * ch).cast()),
                )
            };
            *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(xs, w));
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        let ch = 8 * (g0 + i);
        // SAFETY: `zero` and `out` hold `4c` bytes (checked), channel
        // `ch + 7 < c`; the loads and stores allow any alignment.
        unsafe {
            let z = _mm256_loadu_si256(zero.as_ptr().add(4 * ch).cast::<__m256i>());
            _mm256_storeu_si256(
                out.as_mut_ptr().add(4 * ch).cast(),
                _mm256_sub_epi32(*acc, z),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole window against the plain sum, on extreme values, for
    /// channel counts with and without a 4-group pass.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn interior_matches_the_plain_sum() {
        assert!(available(), "this x86-64 host has no AVX2");
        for c in [8, 40, 64, 96] {
            for zx in [-128, -5, 0, 127] {
                let x: Vec<i8> = (0..60 * c)
                    .map(|i| match i % 7 {
                        0 => -128,
                        1 => 127,
                        _ => (i * 37 % 256) as u8 as i8,
                    })
                    .collect();
                let w: Vec<u8> = (0..MAX_TAPS * c)
                    .map(|i| {
                        if i % 11 == 0 {
                            0x80
                        } else {
                            (i * 53 % 256) as u8
                        }
                    })
                    .collect();
                let taps: Vec<Tap> = (0..MAX_TAPS)
                    .map(|t| Tap {
                        x: ((t * 13 % 57) * c) as u32,
                        w: (t * c) as u32,
                    })
                    .collect();
                let wt = |t: usize, ch: usize| -> i16 {
                    if t < MAX_TAPS {
                        w[t * c + ch] as i8 as i16
                    } else {
                        0
                    }
                };
                let pairs: Vec<u8> = (0..TAP_PAIRS)
                    .flat_map(|j| (0..c).flat_map(move |ch| [(2 * j, ch), (2 * j + 1, ch)]))
                    .flat_map(|(t, ch)| wt(t, ch).to_le_bytes())
                    .collect();
                let zero: Vec<u8> = (0..c)
                    .flat_map(|ch| {
                        let s: i32 = (0..MAX_TAPS).map(|t| wt(t, ch) as i32).sum();
                        (zx * s).to_le_bytes()
                    })
                    .collect();
                let mut out = vec![0i8; 4 * c];
                assert!(interior(&x, &taps, c, (&pairs, &zero), &mut out));
                for ch in 0..c {
                    let want: i32 = taps
                        .iter()
                        .enumerate()
                        .map(|(t, tap)| (x[tap.x as usize + ch] as i32 - zx) * wt(t, ch) as i32)
                        .sum();
                    let got = i32::from_le_bytes(core::array::from_fn(|k| out[4 * ch + k] as u8));
                    assert_eq!(got, want, "c {c} zx {zx} channel {ch}");
                }
                assert!(!interior(&x, &taps[..48], c, (&pairs, &zero), &mut out));
            }
        }
    }
}
