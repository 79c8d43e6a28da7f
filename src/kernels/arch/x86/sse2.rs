//! The host's SSE2 loops (SSE2 is the x86-64 baseline, so these need no
//! run-time detection): 2x2 pointwise tiles over int8 ([`pointwise`]) and
//! widened ([`wide`]) operands, the depthwise window 8 channels a tap
//! ([`depthwise`]), and the lanes they share.

use core::arch::x86_64::{__m128i, _mm_cvtsi128_si32, _mm_srli_si128};

/// The four i32 lanes of `v`.
#[target_feature(enable = "sse2")]
pub(crate) fn lanes(v: __m128i) -> [i32; 4] {
    [
        _mm_cvtsi128_si32(v),
        _mm_cvtsi128_si32(_mm_srli_si128::<4>(v)),
        _mm_cvtsi128_si32(_mm_srli_si128::<8>(v)),
        _mm_cvtsi128_si32(_mm_srli_si128::<12>(v)),
    ]
}

/// The little-endian i64 of the first 8 bytes (0 where fewer).
fn word64(b: &[u8]) -> i64 {
    i64::from_le_bytes(
        b.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    )
}

/// The little-endian i64 of up to the first 8 bytes (zero-filled).
fn word64_i8(b: &[i8]) -> i64 {
    let mut v = [0u8; 8];
    for (d, s) in v.iter_mut().zip(b) {
        *d = *s as u8;
    }
    i64::from_le_bytes(v)
}

/// 2x2 tiles with SSE2, which every x86-64 has: 16 bytes of each operand
/// sign-extended to i16 and multiplied pairwise into i32 lanes (PMADDWD),
/// once as laid out (pixel a x row r, pixel b x row s) and once with the
/// rows' halves swapped (a x s, b x r). The intrinsics take no pointers;
/// the one `unsafe` is entering the SSE2 function, which the x86-64
/// baseline guarantees.
pub mod pointwise {
    use super::{lanes, word64, word64_i8};
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_madd_epi16, _mm_set_epi64x, _mm_setzero_si128,
        _mm_shuffle_epi32, _mm_srai_epi16, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };

    /// `dot_tile_2x2`, callable from code compiled without attributes.
    /// `acc` is `[[a.r, a.s], [b.r, b.s]]` flattened.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn dot_tile_2x2_entry(acc: &mut [i32; 4], (x, w): (&[i8], &[u8]), len: usize) {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU runs
        // it, and `dot_tile_2x2` has no other requirement.
        unsafe { dot_tile_2x2(acc, x, w, len) }
    }

    /// Multiply-accumulate 16 bytes of each operand into `same` and
    /// `swapped`.
    #[target_feature(enable = "sse2")]
    fn step(same: &mut __m128i, swapped: &mut __m128i, xv: __m128i, wv: __m128i) {
        let (x0, x1) = (
            _mm_srai_epi16::<8>(_mm_unpacklo_epi8(xv, xv)),
            _mm_srai_epi16::<8>(_mm_unpackhi_epi8(xv, xv)),
        );
        let (w0, w1) = (
            _mm_srai_epi16::<8>(_mm_unpacklo_epi8(wv, wv)),
            _mm_srai_epi16::<8>(_mm_unpackhi_epi8(wv, wv)),
        );
        *same = _mm_add_epi32(*same, _mm_madd_epi16(x0, w0));
        *same = _mm_add_epi32(*same, _mm_madd_epi16(x1, w1));
        let (s0, s1) = (_mm_shuffle_epi32::<0x4E>(w0), _mm_shuffle_epi32::<0x4E>(w1));
        *swapped = _mm_add_epi32(*swapped, _mm_madd_epi16(x0, s0));
        *swapped = _mm_add_epi32(*swapped, _mm_madd_epi16(x1, s1));
    }

    /// `acc[p][r] += x_p · w_r` for two paired pixels and two paired rows
    /// (see [`crate::kernels::frame::PairDot::dot_tile`]).
    #[target_feature(enable = "sse2")]
    fn dot_tile_2x2(acc: &mut [i32; 4], x: &[i8], w: &[u8], len: usize) {
        let whole = len & !3;
        let (x, w) = (&x[..2 * len], &w[..2 * len]);
        let (xq, xt) = x.split_at(2 * whole);
        let (wq, wt) = w.split_at(2 * whole);
        // Lanes 0, 1: a.r; 2, 3: b.s (`same`); a.s and b.r (`swapped`).
        let (mut same, mut swapped) = (_mm_setzero_si128(), _mm_setzero_si128());
        let mut xs = xq.chunks_exact(16);
        let mut ws = wq.chunks_exact(16);
        for (xc, wc) in (&mut xs).zip(&mut ws) {
            let xv = _mm_set_epi64x(word64_i8(&xc[8..]), word64_i8(&xc[..8]));
            let wv = _mm_set_epi64x(word64(&wc[8..]), word64(&wc[..8]));
            step(&mut same, &mut swapped, xv, wv);
        }
        let (xr, wr) = (xs.remainder(), ws.remainder());
        if xr.len() == 8 && wr.len() == 8 {
            let xv = _mm_set_epi64x(0, word64_i8(xr));
            let wv = _mm_set_epi64x(0, word64(wr));
            step(&mut same, &mut swapped, xv, wv);
        }
        let (sa, sw) = (lanes(same), lanes(swapped));
        acc[0] += sa[0] + sa[1];
        acc[3] += sa[2] + sa[3];
        acc[1] += sw[0] + sw[1];
        acc[2] += sw[2] + sw[3];
        let tail = len - whole;
        for k in 0..tail {
            for r in 0..2 {
                for p in 0..2 {
                    acc[2 * p + r] += xt[p * tail + k] as i32 * wt[r * tail + k] as i8 as i32;
                }
            }
        }
    }
}

/// Two pixels with SSE2 (the x86-64 baseline): 8 channels a step, the
/// weights sign-extended into the input's channel order (even bytes, odd
/// bytes, interleaved by word) and multiplied pairwise (PMADDWD).
pub mod wide {
    use super::{lanes, word64, word64_i8};
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_madd_epi16, _mm_set_epi64x, _mm_setzero_si128, _mm_slli_epi16,
        _mm_srai_epi16, _mm_unpackhi_epi32, _mm_unpackhi_epi64, _mm_unpacklo_epi32,
        _mm_unpacklo_epi64,
    };

    /// `dot_wide_2x2`, callable from code compiled without attributes.
    /// `acc` is `[[a.r, a.s], [b.r, b.s]]` flattened.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn dot_wide_2x2_entry(acc: &mut [i32; 4], (x, w): (&[i8], &[u8])) {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU runs
        // it, and `dot_wide_2x2` has no other requirement.
        unsafe { dot_wide_2x2(acc, x, w) }
    }

    #[target_feature(enable = "sse2")]
    fn load(b: &[u8]) -> __m128i {
        _mm_set_epi64x(word64(&b[8..]), word64(b))
    }

    #[target_feature(enable = "sse2")]
    fn load_i8(b: &[i8]) -> __m128i {
        _mm_set_epi64x(word64_i8(&b[8..]), word64_i8(b))
    }

    /// `acc[p][r] += x_p · w_r` for two pixels and two rows (see
    /// [`crate::kernels::frame::PairDot::dot_wide`]).
    #[target_feature(enable = "sse2")]
    fn dot_wide_2x2(acc: &mut [i32; 4], x: &[i8], w: &[u8]) {
        let chunks = w.len() / 8;
        let (Some(x), Some(w)) = (x.get(..16 * chunks), w.get(..8 * chunks)) else {
            return;
        };
        let mut sums = [_mm_setzero_si128(); 4];
        let mut xs = x.chunks_exact(32);
        let mut ws = w.chunks_exact(16);
        for (xc, wc) in (&mut xs).zip(&mut ws) {
            // Bytes: r0 w0..3, r1 w0..3, r0 w4..7, r1 w4..7.
            let wv = load(wc);
            let even = _mm_srai_epi16::<8>(_mm_slli_epi16::<8>(wv));
            let odd = _mm_srai_epi16::<8>(wv);
            // Words: r0 (w0 w2) (w1 w3), r1 (w0 w2) (w1 w3); then w4..7.
            let (lo, hi) = (_mm_unpacklo_epi32(even, odd), _mm_unpackhi_epi32(even, odd));
            let (r0, r1) = (_mm_unpacklo_epi64(lo, hi), _mm_unpackhi_epi64(lo, hi));
            // Input: a's first 4 channels, b's, a's next 4, b's.
            let (x0, x1) = (load_i8(xc), load_i8(&xc[16..]));
            let xa = _mm_unpacklo_epi64(x0, x1);
            let xb = _mm_unpackhi_epi64(x0, x1);
            sums[0] = _mm_add_epi32(sums[0], _mm_madd_epi16(xa, r0));
            sums[1] = _mm_add_epi32(sums[1], _mm_madd_epi16(xa, r1));
            sums[2] = _mm_add_epi32(sums[2], _mm_madd_epi16(xb, r0));
            sums[3] = _mm_add_epi32(sums[3], _mm_madd_epi16(xb, r1));
        }
        for (a, s) in acc.iter_mut().zip(sums) {
            *a += lanes(s).iter().sum::<i32>();
        }
        // A last single chunk of 4 channels.
        let mut rest = [[0i32; 2]; 2];
        let tail = (xs.remainder(), ws.remainder());
        // (The whole halfwords, as the loop above: the hidden vectors of
        // `BlockParams::hidden16` use them.)
        crate::kernels::arch::portable::pointwise::wide::dot_wide16(&mut rest, tail);
        for (a, r) in acc.iter_mut().zip(rest.as_flattened()) {
            *a += r;
        }
    }
}

/// The host's variant on x86-64: eight channels a tap with SSE2 (which every
/// x86-64 has): inputs and weights widened to i16, the zero point
/// subtracted, one PMULLW (`|x - zx| <= 255` and `|w| <= 128`, so every
/// product fits in i16), the products widened into two i32 accumulators.
pub mod depthwise {
    use super::lanes;
    use crate::kernels::depthwise::Window;
    use core::arch::x86_64::{
        _mm_add_epi32, _mm_mullo_epi16, _mm_set1_epi16, _mm_set_epi64x, _mm_setzero_si128,
        _mm_srai_epi16, _mm_srai_epi32, _mm_sub_epi16, _mm_unpackhi_epi16, _mm_unpacklo_epi16,
        _mm_unpacklo_epi8,
    };

    /// Every whole group of eight channels of `win` into `out` (as
    /// [`Window::run`] writes them), from channel `start` (a multiple of 8)
    /// on; returns how many channels that was.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn groups8_entry(win: &Window, zx: i32, out: &mut [i8], start: usize) -> usize {
        if !(-128..=127).contains(&zx) {
            return 0;
        }
        // SAFETY: SSE2 is part of the x86-64 baseline, and `groups8` has no
        // other requirement.
        unsafe { groups8(win, zx, out, start) }
    }

    #[target_feature(enable = "sse2")]
    fn groups8(win: &Window, zx: i32, out: &mut [i8], start: usize) -> usize {
        let nz = _mm_set1_epi16(zx as i16);
        let n8 = win.c.saturating_sub(start) / 8;
        let out = out.get_mut(4 * start..).unwrap_or_default();
        for (g, o) in out.chunks_exact_mut(32).take(n8).enumerate() {
            let ch = start + 8 * g;
            let (mut lo, mut hi) = (_mm_setzero_si128(), _mm_setzero_si128());
            for &t in win.taps {
                let xv = _mm_set_epi64x(0, i64::from_le_bytes(win.xs::<8>(t, ch)));
                let wv = _mm_set_epi64x(0, i64::from_le_bytes(win.ws::<8>(t, ch)));
                let x16 = _mm_sub_epi16(_mm_srai_epi16::<8>(_mm_unpacklo_epi8(xv, xv)), nz);
                let w16 = _mm_srai_epi16::<8>(_mm_unpacklo_epi8(wv, wv));
                let p = _mm_mullo_epi16(x16, w16);
                lo = _mm_add_epi32(lo, _mm_srai_epi32::<16>(_mm_unpacklo_epi16(p, p)));
                hi = _mm_add_epi32(hi, _mm_srai_epi32::<16>(_mm_unpackhi_epi16(p, p)));
            }
            let acc = [lanes(lo), lanes(hi)];
            for (d, a) in o.chunks_exact_mut(4).zip(acc.iter().flatten()) {
                for (d, b) in d.iter_mut().zip(a.to_le_bytes()) {
                    *d = b as i8;
                }
            }
        }
        8 * n8
    }
}
