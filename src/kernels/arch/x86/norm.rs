//! The host's LayerNorm passes with AVX2, 8 channels a step: a pixel's
//! statistics ([`statistics`]) and its output pass through the fast map
//! ([`crate::kernels::layer_norm::FastNorm`]) and a per-channel affine to int8
//! ([`affine_out`], what [`crate::kernels::layer_norm::affine_i8`] does one channel
//! at a time, for the stem). Integer arithmetic lane by lane: the bits of
//! the scalar forms, which the tests below check.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once [`super::avx2::available`] said yes, and loads, gathers and stores
//! whose bounds each step checks.

#![allow(unsafe_code)]

use super::lanes::{
    any_outside, high_words, lanes32, lanes64, multipliers8, saturated_bytes, Prepared,
};
use crate::kernels::layer_norm::{affine_i8, FastNorm, LN_INPUT_LIMIT};
use crate::kernels::requantize::Requant;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_add_epi64, _mm256_castsi256_si128, _mm256_cvtepi8_epi32,
    _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_max_epi32, _mm256_min_epi32,
    _mm256_mul_epi32, _mm256_packs_epi32, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setr_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_sllv_epi32, _mm256_srai_epi32,
    _mm256_srav_epi32, _mm256_srli_epi64, _mm256_sub_epi32, _mm_cvtsi128_si64, _mm_loadl_epi64,
};

/// Channels up to which the statistics' i32 sum cannot overflow (as in
/// [`crate::kernels::layer_norm`]).
const MAX_C: usize = 2048;

/// `(Σ q, Σ q²)` of the `c` inputs in `v`, each clamped to
/// ±[`LN_INPUT_LIMIT`]: what [`crate::kernels::layer_norm::PixelNorm`] starts from.
/// `W` is the bytes of an input: 4 (i32s, little-endian) or 1 (int8).
/// `None` without AVX2, past 2048 channels or when `v` is short.
pub fn statistics<const W: usize>(v: &[i8], c: usize) -> Option<(i64, i64)> {
    if !super::avx2::available() || c > MAX_C || v.len() < W * c || !(W == 1 || W == 4) {
        return None;
    }
    // SAFETY: `available` said this CPU runs AVX2.
    Some(unsafe { statistics_avx2::<W>(v, c) })
}

/// Input `i` of `v` (`W` bytes each).
fn input<const W: usize>(v: &[i8], i: usize) -> i32 {
    if W == 1 {
        v.get(i).map_or(0, |&x| x as i32)
    } else {
        v.get(4 * i..4 * i + 4).map_or(0, |b| {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]].map(|x| x as u8))
        })
    }
}

/// Inputs `8g..8g + 8` of `v` as i32 lanes; `v` must hold them.
#[target_feature(enable = "avx2")]
fn load8<const W: usize>(v: &[i8], g: usize) -> __m256i {
    if let Some(b) = v.get(8 * W * g..8 * W * (g + 1)) {
        // SAFETY: `b` is the 8 W bytes read; the loads allow any alignment.
        unsafe {
            if W == 1 {
                _mm256_cvtepi8_epi32(_mm_loadl_epi64(b.as_ptr().cast()))
            } else {
                _mm256_loadu_si256(b.as_ptr().cast())
            }
        }
    } else {
        _mm256_setzero_si256()
    }
}

#[target_feature(enable = "avx2")]
fn statistics_avx2<const W: usize>(v: &[i8], c: usize) -> (i64, i64) {
    let (lo, hi) = (
        _mm256_set1_epi32(-LN_INPUT_LIMIT),
        _mm256_set1_epi32(LN_INPUT_LIMIT),
    );
    let (mut s, mut ss) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for g in 0..c / 8 {
        let q = load8::<W>(v, g);
        let q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
        s = _mm256_add_epi32(s, q);
        // Squares as i64: even lanes, then odd lanes moved down.
        let odd = _mm256_srli_epi64::<32>(q);
        ss = _mm256_add_epi64(ss, _mm256_mul_epi32(q, q));
        ss = _mm256_add_epi64(ss, _mm256_mul_epi32(odd, odd));
    }
    let (mut sum, mut squares) = (0i64, 0i64);
    for l in lanes32(s) {
        sum += l as i64;
    }
    for l in lanes64(ss) {
        squares += l;
    }
    for i in 8 * (c / 8)..c {
        let q = input::<W>(v, i).clamp(-LN_INPUT_LIMIT, LN_INPUT_LIMIT);
        sum += q as i64;
        squares += q as i64 * q as i64;
    }
    (sum, squares)
}

/// Every one of the `c` int8 inputs in `v` (`c` a multiple of 4) through
/// `norm`, clamped to int8, handed out four channels at a time in order:
/// `put(g, bytes)` for group `g` (the downsample's paired windows). `false`
/// (nothing handed out) without AVX2 or when `v` is short.
pub fn int8_groups(v: &[i8], norm: FastNorm, c: usize, put: impl FnMut(usize, [u8; 4])) -> bool {
    if !super::avx2::available() || v.len() < c || !c.is_multiple_of(4) {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { int8_groups_avx2(v, norm, c, put) };
    true
}

#[target_feature(enable = "avx2")]
fn int8_groups_avx2(v: &[i8], norm: FastNorm, c: usize, mut put: impl FnMut(usize, [u8; 4])) {
    let map = Map::new(norm);
    for g in 0..c / 8 {
        let bytes = saturated_bytes(map.apply(load8::<1>(v, g)));
        let (lo, hi) = bytes.split_at(4);
        put(2 * g, lo.try_into().unwrap_or_default());
        put(2 * g + 1, hi.try_into().unwrap_or_default());
    }
    if c % 8 == 4 {
        let at = 8 * (c / 8);
        let b: [u8; 4] = core::array::from_fn(|i| {
            norm.apply(input::<1>(v, at + i)).clamp(-128, 127) as i8 as u8
        });
        put(c / 4 - 1, b);
    }
}

/// [`FastNorm`] as vectors: clamp, shift left by `pre`, the high word of
/// the product with `a` less `b`, shifted right by `shift`.
#[derive(Clone, Copy)]
struct Map {
    pre: __m256i,
    a: __m256i,
    b: __m256i,
    shift: __m256i,
}

impl Map {
    #[target_feature(enable = "avx2")]
    fn new(norm: FastNorm) -> Map {
        let (pre, a, b, shift) = norm.parts();
        Map {
            pre: _mm256_set1_epi32(pre as i32),
            a: _mm256_set1_epi32(a),
            b: _mm256_set1_epi64x(b),
            shift: _mm256_set1_epi32(shift as i32),
        }
    }

    #[target_feature(enable = "avx2")]
    fn apply(self, q: __m256i) -> __m256i {
        let (lo, hi) = (
            _mm256_set1_epi32(-LN_INPUT_LIMIT),
            _mm256_set1_epi32(LN_INPUT_LIMIT),
        );
        let q = _mm256_sllv_epi32(_mm256_min_epi32(_mm256_max_epi32(q, lo), hi), self.pre);
        _mm256_srav_epi32(high_words(q, self.a, self.b), self.shift)
    }
}

/// Every one of the `c` i32 inputs in `v` through `norm`, then channel
/// `i`'s affine (`requant`, `offset`, as [`affine_i8`] reads them) into
/// `out[i]`; `prepared` is empty or `requant` unpacked
/// ([`super::requant::unpack_requants`]), loaded instead of gathered.
/// `false` (nothing written) without AVX2 or when a slice is short.
pub fn affine_out(
    v: &[i8],
    norm: FastNorm,
    (requant, offset, prepared): (&[u8], &[u8], &[u8]),
    out: &mut [i8],
    c: usize,
) -> bool {
    if !super::avx2::available()
        || v.len() < 4 * c
        || out.len() < c
        || requant.len() < Requant::BYTES * c
        || offset.len() < 4 * c
    {
        return false;
    }
    let prepared = (prepared.len() == 8 * c).then(|| prepared.split_at(4 * c));
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { affine_out_avx2(v, norm, (requant, offset, prepared), out, c) };
    true
}

#[target_feature(enable = "avx2")]
fn affine_out_avx2(
    v: &[i8],
    norm: FastNorm,
    (requant, offset, prepared): (&[u8], &[u8], Option<Prepared>),
    out: &mut [i8],
    c: usize,
) {
    let map = Map::new(norm);
    let one = _mm256_set1_epi32(1);
    let mut ch = 0;
    while ch + 8 <= c {
        let (Some(vg), Some(rq), Some(og), Some(o)) = (
            v.get(4 * ch..4 * ch + 32),
            requant.get(Requant::BYTES * ch..Requant::BYTES * (ch + 8)),
            offset.get(4 * ch..4 * ch + 32),
            out.get_mut(ch..ch + 8),
        ) else {
            break;
        };
        let Some((mult, rshift)) = multipliers8(prepared, ch, rq) else {
            break;
        };
        // SAFETY: `vg`, `og` are 32 bytes; the loads allow any alignment.
        let (q, off) = unsafe {
            (
                _mm256_loadu_si256(vg.as_ptr().cast()),
                _mm256_loadu_si256(og.as_ptr().cast()),
            )
        };
        let y = map.apply(q);
        // The affine's halved form: shift − 2 in 0..=29, and an offset the
        // add cannot saturate with; else this group goes one at a time.
        let sh = _mm256_sub_epi32(rshift, _mm256_set1_epi32(2));
        let off_path = any_outside([(sh, 0, 29), (off, -(1 << 30), 1 << 30)]);
        if off_path {
            for (i, (o, y)) in o.iter_mut().zip(lanes32(y)).enumerate() {
                *o = affine_i8(requant, offset, ch + i, y);
            }
        } else {
            let r = high_words(y, mult, _mm256_setzero_si256());
            // ((hi >> sh) + 1) >> 1, |.| < 2^30: plus the offset, in range.
            let r = _mm256_srai_epi32::<1>(_mm256_add_epi32(_mm256_srav_epi32(r, sh), one));
            for (o, b) in o.iter_mut().zip(saturated_bytes(_mm256_add_epi32(r, off))) {
                *o = b as i8;
            }
        }
        ch += 8;
    }
    for i in ch..c {
        let q = v.get(4 * i..4 * i + 4).map_or(0, |b| {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]].map(|x| x as u8))
        });
        if let Some(o) = out.get_mut(i) {
            *o = affine_i8(requant, offset, i, norm.apply(q));
        }
    }
}

/// Every one of the `c` i32 inputs in `v` (`c` a multiple of 4) through
/// `norm`, clamped to int8 as i16s, handed out four channels at a time in
/// SXTB16's order (channels 0, 2, 1, 3; the widened layout the pointwise
/// loops read): `put(g, bytes)` for group `g`. `false` (nothing handed out)
/// without AVX2 or when `v` is short.
pub fn widened_groups(v: &[i8], norm: FastNorm, c: usize, put: impl FnMut(usize, [u8; 8])) -> bool {
    if !super::avx2::available() || v.len() < 4 * c || !c.is_multiple_of(4) {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { widened_groups_avx2(v, norm, c, put) };
    true
}

#[target_feature(enable = "avx2")]
fn widened_groups_avx2(v: &[i8], norm: FastNorm, c: usize, mut put: impl FnMut(usize, [u8; 8])) {
    let map = Map::new(norm);
    let (min8, max8) = (_mm256_set1_epi32(-128), _mm256_set1_epi32(127));
    // Within each 128-bit half, the i16s of channels 0-3 (twice, after the
    // pack) reordered 0, 2, 1, 3.
    let order = _mm256_setr_epi8(
        0, 1, 4, 5, 2, 3, 6, 7, 0, 1, 4, 5, 2, 3, 6, 7, 0, 1, 4, 5, 2, 3, 6, 7, 0, 1, 4, 5, 2, 3,
        6, 7,
    );
    for g in 0..c / 8 {
        let y = _mm256_min_epi32(_mm256_max_epi32(map.apply(load8::<4>(v, g)), min8), max8);
        let words = _mm256_shuffle_epi8(_mm256_packs_epi32(y, y), order);
        // Quadwords 0 and 2, without a trip through memory.
        let w0 = _mm_cvtsi128_si64(_mm256_castsi256_si128(words));
        let w2 = _mm_cvtsi128_si64(_mm256_extracti128_si256::<1>(words));
        put(2 * g, w0.to_le_bytes());
        put(2 * g + 1, w2.to_le_bytes());
    }
    if c % 8 == 4 {
        let at = 8 * (c / 8);
        let y: [i16; 4] =
            core::array::from_fn(|i| norm.apply(input::<4>(v, at + i)).clamp(-128, 127) as i16);
        let mut bytes = [0u8; 8];
        for (k, ch) in [0, 2, 1, 3].into_iter().enumerate() {
            bytes[2 * k..2 * k + 2].copy_from_slice(&y[ch].to_le_bytes());
        }
        put(c / 4 - 1, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;
    use crate::kernels::layer_norm::{layer_norm, LayerNormParams, PixelNorm, Q16};
    use crate::kernels::requantize::requant_table;

    /// Statistics and the output pass against [`layer_norm`] and
    /// [`affine_i8`]: inputs past the clamp, channel counts with a tail,
    /// and groups whose affine has no halved form or whose offset could
    /// saturate (those go one channel at a time).
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn the_avx2_layer_norm_passes_match_the_plain_ones() {
        assert!(
            super::super::avx2::available(),
            "this x86-64 host has no AVX2"
        );
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut fast_pixels = 0;
        for round in 0..300 {
            let c = [8, 16, 44, 21, 96, 3][round % 6];
            let spread = [1 << 10, 1 << 16, 1 << 22][round % 3];
            let q: Vec<i32> = (0..c)
                .map(|_| (next() % (2 * spread) as u64) as i32 - spread)
                .collect();
            let v: Vec<i8> = q
                .iter()
                .flat_map(|x| x.to_le_bytes().map(|b| b as i8))
                .collect();
            let mut rqs: Vec<Requant> = (0..c)
                .map(|_| Requant::from_real(0.001 + (next() % 1000) as f64 / 20000.0))
                .collect();
            let mut offsets: Vec<i32> = (0..c).map(|_| (next() % 300) as i32 - 150).collect();
            if round % 4 == 1 {
                rqs[c / 2] = Requant::from_real(3.0);
            }
            if round % 4 == 2 {
                offsets[c - 1] = i32::MAX - 5;
            }
            let requant: Vec<u8> = requant_table(&rqs).collect();
            let offset: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
            let ln = LayerNormParams::new(next() % 5000);

            let (mut s, mut ss) = (0i64, 0i64);
            for &x in &q {
                let x = x.clamp(-LN_INPUT_LIMIT, LN_INPUT_LIMIT) as i64;
                s += x;
                ss += x * x;
            }
            assert_eq!(statistics::<4>(&v, c), Some((s, ss)), "round {round}");

            let mut want = vec![0i8; c];
            layer_norm(
                || q.iter().copied(),
                c,
                &ln,
                Q16,
                |i, y| want[i] = affine_i8(&requant, &offset, i, y),
            );
            let Some(fast) = PixelNorm::from_sums(c, (s, ss), &ln, Q16).fast() else {
                continue;
            };
            fast_pixels += 1;
            let mut got = vec![0i8; c];
            assert!(affine_out(&v, fast, (&requant, &offset, &[]), &mut got, c));
            assert_eq!(got, want, "round {round}: {c} channels");
            // The block's pass: int8-clamped, widened, 0, 2, 1, 3.
            if c % 4 == 0 {
                let mut groups = vec![[0u8; 8]; c / 4];
                assert!(widened_groups(&v, fast, c, |g, b| groups[g] = b));
                for (g, bytes) in groups.iter().enumerate() {
                    for (k, ch) in [0, 2, 1, 3].into_iter().enumerate() {
                        let want = fast.apply(q[4 * g + ch]).clamp(-128, 127) as i16;
                        let got = i16::from_le_bytes([bytes[2 * k], bytes[2 * k + 1]]);
                        assert_eq!(got, want, "round {round}: channel {}", 4 * g + ch);
                    }
                }
            }
        }
        assert!(
            fast_pixels > 200,
            "only {fast_pixels} pixels had the fast form"
        );
    }

    /// The int8-input forms (the downsample's): statistics and the output
    /// pass in 4-channel groups, against the scalar map and clamp.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn the_avx2_int8_layer_norm_passes_match_the_plain_ones() {
        assert!(
            super::super::avx2::available(),
            "this x86-64 host has no AVX2"
        );
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let mut checked = 0;
        for round in 0..300 {
            let c = [8, 12, 40, 44, 160, 4][round % 6];
            let v: Vec<i8> = (0..c).map(|_| next() as i8).collect();
            let (s, ss) = v.iter().fold((0i64, 0i64), |(s, ss), &x| {
                (s + x as i64, ss + x as i64 * x as i64)
            });
            assert_eq!(statistics::<1>(&v, c), Some((s, ss)), "round {round}");
            let out = Requant::from_real(0.5 + (next() % 100) as f64 / 10.0);
            let ln = LayerNormParams::new(next() % 5000);
            let Some(fast) = PixelNorm::from_sums(c, (s, ss), &ln, out).fast() else {
                continue;
            };
            let mut groups = vec![[0u8; 4]; c / 4];
            assert!(int8_groups(&v, fast, c, |g, b| groups[g] = b));
            for (i, &x) in v.iter().enumerate() {
                let want = fast.apply(x as i32).clamp(-128, 127) as i8;
                assert_eq!(
                    groups[i / 4][i % 4] as i8,
                    want,
                    "round {round}: channel {i}"
                );
            }
            checked += 1;
        }
        assert!(checked > 200, "only {checked} pixels had the fast form");
    }
}
