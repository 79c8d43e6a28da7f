//! Pointwise dot products whose input is already widened to i16: the blocks'
//! pw1, whose input (the LayerNorm output) is written once per pixel and read
//! by all `4C` rows. The LayerNorm writes it as i16 in the order SXTB16
//! unpacks the weights ([`wide_offset`]), so a 2x2 tile step loads two words
//! per pixel and one per weight row, sign-extends only the weights, and
//! spends 18 instructions on 16 MACs (plus the loop's 3 every two steps) on
//! Armv7E-M against 20 for two int8 operands ([`super::pointwise`]). It costs `2C`
//! bytes of scratch per tile pixel instead of `C`.
//!
//! Rows are laid out as [`super::pointwise::paired_offset`] lays them out,
//! for two rows whose length is a multiple of 4.

/// Byte offset of the i16 of channel `i` of pixel `t` in the widened input
/// of `pixels` pixels (each `len` long, a multiple of 4): per 4 channels,
/// each pixel's 8 bytes in turn; inside them channels 0, 2, 1, 3 (the halves
/// of the words SXTB16 makes of bytes 0, 2 and 1, 3).
///
/// ```
/// use convnext::kernels::pointwise_wide::wide_offset;
/// // Two pixels: a0 a2 a1 a3 b0 b2 b1 b3 a4 ...
/// assert_eq!(wide_offset(0, 1, 2), 4);
/// assert_eq!(wide_offset(1, 2, 2), 10);
/// assert_eq!(wide_offset(0, 4, 2), 16);
/// assert_eq!(wide_offset(0, 5, 1), 12);
/// ```
#[inline(always)]
pub fn wide_offset(t: usize, i: usize, pixels: usize) -> usize {
    let j = i & 3;
    (i & !3) * 2 * pixels + 8 * t + 4 * (j & 1) + 2 * (j >> 1)
}

/// Two pixels' widened vectors (`len` values each, [`wide_offset`]) back
/// to int8 in the paired layout ([`super::pointwise::paired_offset`]), as
/// far as both slices reach.
pub fn narrow_pair(wide: &[i8], paired: &mut [i8], len: usize) {
    for t in 0..2 {
        for i in 0..len {
            let at = super::pointwise::paired_offset(t, i, 2, len);
            if let (Some(&v), Some(d)) = (wide.get(wide_offset(t, i, 2)), paired.get_mut(at)) {
                *d = v;
            }
        }
    }
}

/// `acc[p][r] += x_p · w_r` for two paired weight rows `w` (`2 len` bytes,
/// `len` a multiple of 4; a shorter last chunk is ignored) and `P` pixels of
/// widened input `x` (laid out by [`wide_offset`], `2 len` bytes each;
/// nothing is added if `x` is shorter), with the variant this target runs.
/// Each input is an int8 widened: its high byte is its low byte's sign, so
/// [`scalar`] reads the low byte alone (one LDRSB on the Cortex-M0+).
#[inline(always)]
pub fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
    #[cfg(any(convnext_dsp, convnext_packed))]
    packed::dot_wide(acc, x, w);
    #[cfg(all(not(any(convnext_dsp, convnext_packed)), target_os = "none"))]
    scalar::dot_wide(acc, x, w);
    #[cfg(all(not(any(convnext_dsp, convnext_packed)), not(target_os = "none")))]
    host::dot_wide(acc, x, w);
}

/// Row pairs in turn: for each `j`, `out[j] = bias pair j + x · (pair j of
/// w)` (each pair `2 len` bytes of `w` as [`dot_wide`] takes them, its two
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
        if let Some(x) = x.get(..4 * len) {
            return super::pair_loop::wide_2x2(out.as_flattened_mut(), x, w, bias);
        }
    }
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    if P == super::in_place_map::HOST_TILE_PIXELS {
        if let Some(n) =
            super::avx2::pairs::<true>(out.as_flattened_mut(), x, (w, wide), bias, (len, live))
        {
            return n;
        }
    }
    super::pointwise::each_pair(out, w, bias, len, |o, w| dot_wide(o, x, w))
}

/// Name of the variant [`dot_wide`] runs, for profiles.
pub const VARIANT: &str = if cfg!(any(convnext_dsp, convnext_packed)) {
    "dsp-wide-2x2"
} else if cfg!(target_os = "none") {
    "scalar-wide-2x2"
} else {
    "host-wide-2x2"
};

/// The host's choice: SSE2 for two pixels on x86-64, [`scalar`] otherwise.
#[cfg(not(target_os = "none"))]
mod host {
    /// See [`super::dot_wide`].
    #[inline(always)]
    pub fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
        // P is a constant: the test folds away.
        #[cfg(target_arch = "x86_64")]
        if P == 2 {
            if let Ok(flat) = <&mut [i32; 4]>::try_from(acc.as_flattened_mut()) {
                return super::sse2::dot_wide_2x2_entry(flat, x, w);
            }
        }
        super::scalar::dot_wide(acc, x, w)
    }
}

/// The DSP variant: two SXTB16 per weight word, the input words as stored.
pub mod packed {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};

    /// One 4-channel step of every pixel against both rows.
    #[inline(always)]
    fn step<const P: usize>(a: &mut [[i32; 2]; P], xc: &[i8], wc: &[u8]) {
        let (w0, w1) = (word_u8(wc), word_u8(&wc[4..]));
        let (w0e, w0o) = (sxtb16(w0), sxtb16_ror8(w0));
        let (w1e, w1o) = (sxtb16(w1), sxtb16_ror8(w1));
        for (p, ap) in a.iter_mut().enumerate() {
            let (xe, xo) = (word(&xc[8 * p..]), word(&xc[8 * p + 4..]));
            ap[0] = smlad(xo, w0o, smlad(xe, w0e, ap[0]));
            ap[1] = smlad(xo, w1o, smlad(xe, w1e, ap[1]));
        }
    }

    /// `acc[p][r] += x_p · w_r` (see [`super::dot_wide`]).
    #[inline(always)]
    pub fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
        let chunks = w.len() / 8;
        let (Some(x), Some(w)) = (x.get(..8 * P * chunks), w.get(..8 * chunks)) else {
            return;
        };
        let turns = chunks / 2;
        let (xt, wt) = (16 * P * turns, 16 * turns);
        // An odd last chunk first (integer sums are exact in any order),
        // then two chunks a turn.
        if chunks % 2 == 1 {
            step(acc, &x[xt..], &w[wt..]);
        }
        let (x, w) = (&x[..xt], &w[..wt]);
        let mut a = *acc;
        for (xc, wc) in x.chunks_exact(16 * P).zip(w.chunks_exact(16)) {
            step(&mut a, xc, wc);
            step(&mut a, &xc[8 * P..], &wc[8..]);
        }
        *acc = a;
    }
}

/// Plain multiply-accumulates over the same layout: cores without DSP, and
/// the host when it has no SIMD form.
pub mod scalar {
    use super::wide_offset;

    /// `acc[p][r] += x_p · w_r` (see [`super::dot_wide`]).
    #[inline(always)]
    pub fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
        let chunks = w.len() / 8;
        let (Some(x), Some(w)) = (x.get(..8 * P * chunks), w.get(..8 * chunks)) else {
            return;
        };
        for (xc, wc) in x.chunks_exact(8 * P).zip(w.chunks_exact(8)) {
            for k in 0..4 {
                let (w0, w1) = (wc[k] as i8 as i32, wc[4 + k] as i8 as i32);
                for (p, ap) in acc.iter_mut().enumerate() {
                    let at = wide_offset(p, k, P);
                    // The low byte alone: a widened int8 (see `dot_wide`).
                    let xv = xc[at] as i32;
                    ap[0] += xv * w0;
                    ap[1] += xv * w1;
                }
            }
        }
    }
}

/// Two pixels with SSE2 (the x86-64 baseline): 8 channels a step, the
/// weights sign-extended into the input's channel order (even bytes, odd
/// bytes, interleaved by word) and multiplied pairwise (PMADDWD).
#[cfg(target_arch = "x86_64")]
pub mod sse2 {
    use super::super::x86::lanes;
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_madd_epi16, _mm_set_epi64x, _mm_setzero_si128, _mm_slli_epi16,
        _mm_srai_epi16, _mm_unpackhi_epi32, _mm_unpackhi_epi64, _mm_unpacklo_epi32,
        _mm_unpacklo_epi64,
    };

    /// `dot_wide_2x2`, callable from code compiled without attributes.
    /// `acc` is `[[a.r, a.s], [b.r, b.s]]` flattened.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn dot_wide_2x2_entry(acc: &mut [i32; 4], x: &[i8], w: &[u8]) {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU runs
        // it, and `dot_wide_2x2` has no other requirement.
        unsafe { dot_wide_2x2(acc, x, w) }
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

    #[target_feature(enable = "sse2")]
    fn load(b: &[u8]) -> __m128i {
        _mm_set_epi64x(word64(&b[8..]), word64(b))
    }

    #[target_feature(enable = "sse2")]
    fn load_i8(b: &[i8]) -> __m128i {
        _mm_set_epi64x(word64_i8(&b[8..]), word64_i8(b))
    }

    /// `acc[p][r] += x_p · w_r` for two pixels and two rows (see
    /// [`super::dot_wide`]).
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
        super::scalar::dot_wide(&mut rest, xs.remainder(), ws.remainder());
        for (a, r) in acc.iter_mut().zip(rest.as_flattened()) {
            *a += r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tables::i32_at;
    use super::*;

    #[test]
    fn dot_pairs_runs_each_pair_from_its_biases() {
        let len = 16;
        // Widened int8 values: each high byte the sign of its low byte.
        let x: [i8; 64] = core::array::from_fn(|i| {
            let v = ((i / 2) as i8).wrapping_mul(37);
            if i % 2 == 0 {
                v
            } else {
                v >> 7
            }
        });
        let w: [u8; 96] = core::array::from_fn(|i| (i as u8).wrapping_mul(91));
        let bias: Vec<u8> = [5i32, -7, 1 << 20, -3, 9, 11]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // Room for four pairs, tables for three: three are run.
        let mut out = [[[0i32; 2]; 2]; 4];
        assert_eq!(dot_pairs(&mut out, &x, (&w, &[]), &bias, (len, 2)), 3);
        for (j, o) in out.iter().take(3).enumerate() {
            let b = [i32_at(&bias, 2 * j), i32_at(&bias, 2 * j + 1)];
            let mut want = [b; 2];
            scalar::dot_wide(&mut want, &x, &w[32 * j..32 * (j + 1)]);
            assert_eq!(*o, want, "pair {j}");
        }
        assert_eq!(out[3], [[0; 2]; 2]);
    }

    #[test]
    fn wide_offsets_are_a_permutation_of_the_even_bytes() {
        for pixels in 1..=2 {
            for len in [4, 8, 12, 20] {
                let mut seen = [false; 80];
                for t in 0..pixels {
                    for i in 0..len {
                        let o = wide_offset(t, i, pixels);
                        assert!(o.is_multiple_of(2) && o < 2 * pixels * len && !seen[o / 2]);
                        seen[o / 2] = true;
                    }
                }
            }
        }
    }

    #[test]
    fn every_variant_matches_a_plain_sum() {
        use super::super::pointwise::paired_offset;
        for len in [4, 8, 12, 16, 20, 36] {
            let xs: [i16; 72] =
                core::array::from_fn(|i| [(i * 37 % 256) as i16 - 128, -128, 127][i % 7 / 3]);
            let ws: [i8; 72] =
                core::array::from_fn(|i| [((i * 53 + 7) % 256) as u8 as i8, -128, 127][i % 5 / 2]);
            let mut x = [0i8; 288];
            for t in 0..2 {
                for i in 0..len {
                    let o = wide_offset(t, i, 2);
                    x[o..o + 2].copy_from_slice(&xs[t * len + i].to_le_bytes().map(|b| b as i8));
                }
            }
            let mut w = [0u8; 144];
            for r in 0..2 {
                for i in 0..len {
                    w[paired_offset(r, i, 2, len)] = ws[r * len + i] as u8;
                }
            }
            let naive = |t: usize, r: usize| -> i32 {
                3 + (0..len)
                    .map(|i| xs[t * len + i] as i32 * ws[r * len + i] as i32)
                    .sum::<i32>()
            };
            let want = [[naive(0, 0), naive(0, 1)], [naive(1, 0), naive(1, 1)]];
            let (mut a, mut b, mut c) = ([[3; 2]; 2], [[3; 2]; 2], [[3; 2]; 2]);
            packed::dot_wide(&mut a, &x, &w[..2 * len]);
            scalar::dot_wide(&mut b, &x, &w[..2 * len]);
            dot_wide(&mut c, &x, &w[..2 * len]);
            assert_eq!((a, b, c), (want, want, want), "len = {len}");
            #[cfg(target_arch = "x86_64")]
            {
                let mut v = [3; 4];
                sse2::dot_wide_2x2_entry(&mut v, &x, &w[..2 * len]);
                assert_eq!(v, *want.as_flattened(), "sse2, len = {len}");
            }
            // One pixel: its own layout.
            let mut x1 = [0i8; 144];
            for i in 0..len {
                let o = wide_offset(0, i, 1);
                x1[o..o + 2].copy_from_slice(&xs[len + i].to_le_bytes().map(|b| b as i8));
            }
            let (mut d, mut e, mut f) = ([[3; 2]; 1], [[3; 2]; 1], [[3; 2]; 1]);
            packed::dot_wide(&mut d, &x1, &w[..2 * len]);
            scalar::dot_wide(&mut e, &x1, &w[..2 * len]);
            dot_wide(&mut f, &x1, &w[..2 * len]);
            assert_eq!(
                (d[0], e[0], f[0]),
                (want[1], want[1], want[1]),
                "len = {len}"
            );
        }
    }
}
