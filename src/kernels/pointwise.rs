//! Pointwise (1x1) dot products tiled over 2 pixels and 2 output rows, the
//! inner loop of the blocks' MLP. Each sign-extended input word feeds both
//! rows and each weight word both pixels; with both operand pairs stored
//! *paired* ([`paired_offset`]: the two rows' 4-byte chunks alternate) one
//! LDRD fetches a word of each, so a 2x2 tile spends 20 instructions on 16
//! MACs on Armv7E-M (2 LDRD, 8 SXTB16, 8 SMLAD, 2 loop) with every value in
//! registers. Integer sums are exact in any order: every variant gives the
//! same bits.
//!
//! [`packed`] is the DSP form (SXTB16 + SMLAD through [`super::simd32`]),
//! [`scalar`] the form for cores without DSP (and the host). [`dot_tile`]
//! picks the one this target runs; the host tests check both.

use super::tables::i32_at;

/// Offset of element `k` of row `r` in `rows` rows of `len` laid out for
/// 2-row tiles: rows go in pairs; inside a pair the two rows' whole 4-byte
/// chunks alternate (`a0..a3 b0..b3 a4..a7 b4..b7 ...`), then row `a`'s
/// `len % 4` tail, then row `b`'s; a last odd row is plain.
///
/// ```
/// use convnext::kernels::pointwise::paired_offset;
/// // Two rows of 5: a0..a3 b0..b3 a4 b4.
/// assert_eq!(paired_offset(1, 2, 2, 5), 6);
/// assert_eq!(paired_offset(0, 4, 2, 5), 8);
/// assert_eq!(paired_offset(1, 4, 2, 5), 9);
/// // A third, odd row is plain after the pair.
/// assert_eq!(paired_offset(2, 3, 3, 5), 13);
/// ```
#[inline(always)]
pub fn paired_offset(r: usize, k: usize, rows: usize, len: usize) -> usize {
    let base = (r & !1) * len;
    if r + 1 == rows && rows % 2 == 1 {
        return base + k;
    }
    let whole = len & !3;
    let b = r & 1;
    if k < whole {
        base + (k & !3) * 2 + b * 4 + (k & 3)
    } else {
        base + 2 * whole + b * (len - whole) + (k - whole)
    }
}

/// [`paired_offset`] for one or two rows (`rows`) whose length is a multiple
/// of 4, where it is plain arithmetic.
///
/// ```
/// use convnext::kernels::pointwise::{paired_offset, paired_offset_whole};
/// for rows in 1..=2 {
///     for r in 0..rows {
///         for k in 0..12 {
///             assert_eq!(paired_offset_whole(r, k, rows), paired_offset(r, k, rows, 12));
///         }
///     }
/// }
/// ```
#[inline(always)]
pub fn paired_offset_whole(r: usize, k: usize, rows: usize) -> usize {
    (k & !3) * rows + 4 * r + (k & 3)
}

/// `acc[p][r] += x_p · w_r` over `len` elements, where `x` holds `P` rows
/// and `w` holds `R` rows (`P`, `R` of 1 or 2) laid out by
/// [`paired_offset`], with the variant this target runs.
#[inline(always)]
pub fn dot_tile<const P: usize, const R: usize>(
    acc: &mut [[i32; R]; P],
    x: &[i8],
    w: &[u8],
    len: usize,
) {
    #[cfg(any(convnext_dsp, convnext_packed))]
    packed::dot_tile(acc, x, w, len);
    #[cfg(all(not(any(convnext_dsp, convnext_packed)), target_os = "none"))]
    scalar::dot_tile(acc, x, w, len);
    #[cfg(all(not(any(convnext_dsp, convnext_packed)), not(target_os = "none")))]
    host::dot_tile(acc, x, w, len);
}

/// Row pairs in turn: for each `j`, `out[j] = bias pair j + x · (pair j of
/// w)` (each pair `2 len` bytes of `w` as [`dot_tile`] takes them, its two
/// biases 8 bytes of `bias`), for as many pairs as `out`, `w` and `bias` hold;
/// returns how many that was. `wide` is `w` widened to i16
/// ([`super::block::BlockParams::host_wide`]) or empty; only the host's
/// AVX2 loop reads it, and `live` (the tile's pixels that count; the
/// others' sums may be left out of a last, partial tile). On DSP cores,
/// with two pixels and `len` a
/// multiple of 8, the whole run is one `asm!` loop
/// (`kernels/pair_loop.rs`), so nothing the caller keeps is spilled around
/// each pair's inner loop.
#[inline(always)]
pub fn dot_pairs<const P: usize>(
    out: &mut [[[i32; 2]; P]],
    x: &[i8],
    (w, wide): (&[u8], &[u8]),
    bias: &[u8],
    (len, live): (usize, usize),
) -> usize {
    // Only the host's AVX2 loop reads the widened copy.
    #[cfg(not(all(target_arch = "x86_64", not(target_os = "none"))))]
    let _ = (wide, live);
    #[cfg(convnext_dsp)]
    if P == 2 && len.is_multiple_of(8) {
        if let Some(x) = x.get(..2 * len) {
            return super::pair_loop::i8_2x2(out.as_flattened_mut(), x, w, bias);
        }
    }
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    if P == super::in_place_map::HOST_TILE_PIXELS {
        if let Some(n) =
            super::avx2::pairs::<false>(out.as_flattened_mut(), x, (w, wide), bias, (len, live))
        {
            return n;
        }
    }
    each_pair(out, w, bias, len, |o, w| dot_tile(o, x, w, len))
}

/// The portable form of the `dot_pairs` loops (here and in
/// [`super::pointwise_wide`]): each pair's accumulators from its two biases,
/// then `dot` over its `2 len` weight bytes; returns the pairs run.
#[inline(always)]
pub(super) fn each_pair<const P: usize>(
    out: &mut [[[i32; 2]; P]],
    w: &[u8],
    bias: &[u8],
    len: usize,
    mut dot: impl FnMut(&mut [[i32; 2]; P], &[u8]),
) -> usize {
    let mut n = 0;
    let pairs = out
        .iter_mut()
        .zip(w.chunks_exact((2 * len).max(1)))
        .zip(bias.chunks_exact(8));
    for ((o, w), b) in pairs {
        *o = [[i32_at(b, 0), i32_at(b, 1)]; P];
        dot(o, w);
        n += 1;
    }
    n
}

/// The products of the last `tail` (< 4) elements of each row: `xt` holds
/// `P` rows' tails, `wt` `R` rows' tails, each `tail` long (what the tile
/// loops leave after their 4-element chunks).
#[inline(always)]
fn tail_products<const P: usize, const R: usize>(
    acc: &mut [[i32; R]; P],
    xt: &[i8],
    wt: &[u8],
    tail: usize,
) {
    let tail = tail.max(1);
    for (ap, xp) in acc.iter_mut().zip(xt.chunks(tail)) {
        for (a, wr) in ap.iter_mut().zip(wt.chunks(tail)) {
            for (x, w) in xp.iter().zip(wr) {
                *a += *x as i32 * *w as i8 as i32;
            }
        }
    }
}

/// The host's choice: SSE2 (every x86-64) for 2x2 tiles there, [`lanes`]
/// otherwise.
#[cfg(not(target_os = "none"))]
mod host {
    /// See [`super::dot_tile`].
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        // P and R are constants: the test folds away.
        #[cfg(target_arch = "x86_64")]
        if P == 2 && R == 2 {
            if let Ok(flat) = <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
                return super::sse2::dot_tile_2x2_entry(flat, x, w, len);
            }
        }
        super::lanes::dot_tile(acc, x, w, len)
    }
}

/// Name of the variant [`dot_tile`] runs, for profiles.
pub const VARIANT: &str = if cfg!(any(convnext_dsp, convnext_packed)) {
    "dsp-2x2"
} else if cfg!(target_os = "none") {
    "scalar-2x2"
} else {
    "lanes-2x2"
};

/// The DSP variant: four int8 pairs per word, two SMLAD per word pair.
pub mod packed {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};

    /// `acc[p][r] += x_p · w_r` (see [`super::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        let whole = len & !3;
        let (Some((xq, xt)), Some((wq, wt))) = (
            x.get(..P * len).and_then(|x| x.split_at_checked(P * whole)),
            w.get(..R * len).and_then(|w| w.split_at_checked(R * whole)),
        ) else {
            return;
        };
        let mut a = *acc;
        for (xc, wc) in xq.chunks_exact(4 * P).zip(wq.chunks_exact(4 * R)) {
            let mut xe = [0u32; P];
            let mut xo = [0u32; P];
            for p in 0..P {
                let v = word(&xc[4 * p..4 * p + 4]);
                xe[p] = sxtb16(v);
                xo[p] = sxtb16_ror8(v);
            }
            for r in 0..R {
                let v = word_u8(&wc[4 * r..4 * r + 4]);
                let (we, wo) = (sxtb16(v), sxtb16_ror8(v));
                for p in 0..P {
                    a[p][r] = smlad(xo[p], wo, smlad(xe[p], we, a[p][r]));
                }
            }
        }
        super::tail_products(&mut a, xt, wt, len - whole);
        *acc = a;
    }
}

/// The variant for cores without DSP: plain multiply-accumulates over the
/// same layout, each loaded value still feeding the other dimension. (Its
/// slicing preamble repeats [`packed`]'s on purpose: a shared helper cost the
/// DSP loop its register allocation, 2.3 M instructions per inference.)
pub mod scalar {
    /// `acc[p][r] += x_p · w_r` (see [`super::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        let whole = len & !3;
        let (Some((xq, xt)), Some((wq, wt))) = (
            x.get(..P * len).and_then(|x| x.split_at_checked(P * whole)),
            w.get(..R * len).and_then(|w| w.split_at_checked(R * whole)),
        ) else {
            return;
        };
        for (xc, wc) in xq.chunks_exact(4 * P).zip(wq.chunks_exact(4 * R)) {
            for k in 0..4 {
                for r in 0..R {
                    let wv = wc[4 * r + k] as i8 as i32;
                    for p in 0..P {
                        acc[p][r] += xc[4 * p + k] as i32 * wv;
                    }
                }
            }
        }
        super::tail_products(acc, xt, wt, len - whole);
    }
}

/// The host variant (any OS, where there is one): four i32 lanes per
/// operand pair, one per position in a 4-byte chunk, summed at the end, which
/// the compiler turns into SIMD multiply-adds. Firmware for cores without DSP
/// keeps [`scalar`] (the lanes cost the Cortex-M0+ registers it has not got).
pub mod lanes {
    /// `acc[p][r] += x_p · w_r` (see [`super::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(
        acc: &mut [[i32; R]; P],
        x: &[i8],
        w: &[u8],
        len: usize,
    ) {
        let whole = len & !3;
        let (Some((xq, xt)), Some((wq, wt))) = (
            x.get(..P * len).and_then(|x| x.split_at_checked(P * whole)),
            w.get(..R * len).and_then(|w| w.split_at_checked(R * whole)),
        ) else {
            return;
        };
        let mut lanes = [[[0i32; 4]; R]; P];
        for (xc, wc) in xq.chunks_exact(4 * P).zip(wq.chunks_exact(4 * R)) {
            for (p, lp) in lanes.iter_mut().enumerate() {
                for (r, l) in lp.iter_mut().enumerate() {
                    for k in 0..4 {
                        l[k] += xc[4 * p + k] as i32 * wc[4 * r + k] as i8 as i32;
                    }
                }
            }
        }
        for (a, lp) in acc.iter_mut().zip(&lanes) {
            for (a, l) in a.iter_mut().zip(lp) {
                *a += l.iter().sum::<i32>();
            }
        }
        super::tail_products(acc, xt, wt, len - whole);
    }
}

/// 2x2 tiles with SSE2, which every x86-64 has: 16 bytes of each operand
/// sign-extended to i16 and multiplied pairwise into i32 lanes (PMADDWD),
/// once as laid out (pixel a x row r, pixel b x row s) and once with the
/// rows' halves swapped (a x s, b x r). The intrinsics take no pointers;
/// the one `unsafe` is entering the SSE2 function, which the x86-64
/// baseline guarantees.
#[cfg(target_arch = "x86_64")]
pub mod sse2 {
    use super::super::x86::lanes;
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_madd_epi16, _mm_set_epi64x, _mm_setzero_si128,
        _mm_shuffle_epi32, _mm_srai_epi16, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };

    /// `dot_tile_2x2`, callable from code compiled without attributes.
    /// `acc` is `[[a.r, a.s], [b.r, b.s]]` flattened.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn dot_tile_2x2_entry(acc: &mut [i32; 4], x: &[i8], w: &[u8], len: usize) {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU runs
        // it, and `dot_tile_2x2` has no other requirement.
        unsafe { dot_tile_2x2(acc, x, w, len) }
    }

    fn word64(b: &[u8]) -> i64 {
        i64::from_le_bytes(
            b.get(..8)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
        )
    }

    fn word64_i8(b: &[i8]) -> i64 {
        let mut v = [0u8; 8];
        for (d, s) in v.iter_mut().zip(b) {
            *d = *s as u8;
        }
        i64::from_le_bytes(v)
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
    /// (see [`super::dot_tile`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows` plain rows of `len` laid out by [`paired_offset`].
    fn paired<T: Copy + Default>(plain: &[T], rows: usize, len: usize) -> [T; 64] {
        let mut out = [T::default(); 64];
        for r in 0..rows {
            for k in 0..len {
                out[paired_offset(r, k, rows, len)] = plain[r * len + k];
            }
        }
        out
    }

    #[test]
    fn paired_offsets_are_a_permutation() {
        for rows in 1..=3 {
            for len in 0..=9 {
                let mut seen = [false; 27];
                for r in 0..rows {
                    for k in 0..len {
                        let o = paired_offset(r, k, rows, len);
                        assert!(o < rows * len && !seen[o], "{rows}x{len}: {r},{k}");
                        seen[o] = true;
                    }
                }
            }
        }
    }

    #[test]
    fn every_variant_and_tile_matches_a_plain_sum_for_every_length() {
        for len in 0..=13 {
            let xs: [i8; 26] = core::array::from_fn(|i| ((i * 37 + 11) % 256) as u8 as i8);
            let ws: [u8; 26] = core::array::from_fn(|i| ((i * 53 + 128) % 256) as u8);
            let naive = |p: usize, r: usize| -> i32 {
                (0..len)
                    .map(|k| xs[p * len + k] as i32 * ws[r * len + k] as i8 as i32)
                    .sum::<i32>()
                    + 5
            };
            let (x2, w2) = (paired(&xs, 2, len), paired(&ws, 2, len));
            let want = [[naive(0, 0), naive(0, 1)], [naive(1, 0), naive(1, 1)]];
            let (mut a, mut b, mut c) = ([[5; 2]; 2], [[5; 2]; 2], [[5; 2]; 2]);
            packed::dot_tile(&mut a, &x2, &w2, len);
            scalar::dot_tile(&mut b, &x2, &w2, len);
            dot_tile(&mut c, &x2, &w2, len);
            assert_eq!((a, b, c), (want, want, want), "len = {len}");
            let mut l = [[5; 2]; 2];
            lanes::dot_tile(&mut l, &x2, &w2, len);
            assert_eq!(l, want, "lanes, len = {len}");
            #[cfg(target_arch = "x86_64")]
            {
                let mut v = [5; 4];
                sse2::dot_tile_2x2_entry(&mut v, &x2, &w2, len);
                assert_eq!(v, *want.as_flattened(), "sse2, len = {len}");
            }
            let (mut d, mut e) = ([[5; 2]; 1], [[5; 1]; 2]);
            packed::dot_tile(&mut d, &xs[len..], &w2, len);
            scalar::dot_tile(&mut e, &x2, &ws[len..], len);
            assert_eq!(
                (d[0], [e[0][0], e[1][0]]),
                (want[1], [want[0][1], want[1][1]])
            );
        }
    }
}
