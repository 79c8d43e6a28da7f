//! The host's AVX2 code, chosen at run time (CPUID and XGETBV, once;
//! [`available`]), and its entry to the pointwise row-pair loops for
//! 8-pixel tiles ([`crate::kernels::in_place_map::HOST_TILE_PIXELS`]): the 8 pixels'
//! 4-channel chunks sit side by side (the layouts
//! [`crate::kernels::pointwise_wide::wide_offset`] and
//! [`crate::kernels::pointwise::paired_offset_whole`] give for 8 pixels), so one
//! 256-bit register holds 4 pixels' chunk as i16 and each weight row's chunk
//! is broadcast to every pixel: VPMADDWD multiplies 32 pairs. [`pairs`]
//! runs [`super::pairs`]'s loop over the planner's widened weights, or
//! here the loop that widens each chunk's weights in registers. Also here:
//! the stem's dot products ([`StemPairs`]). Integer sums are exact in any order,
//! so these give the bits of the portable loops, which run where AVX2 is
//! missing; the tests below check both against a plain sum.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once [`available`] said yes, 32- and 16-byte unaligned loads from
//! references of exactly that size, and CPUID/XGETBV.

#![allow(unsafe_code)]

use super::lanes::lanes32;
use crate::kernels::frame::PairRun;
use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m128i, __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16,
    _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi32, _mm256_set1_epi64x,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srai_epi16, _mm_loadu_si128, _xgetbv,
};
use core::sync::atomic::{AtomicU8, Ordering};

/// Pixels of the tiles these loops take.
const PIXELS: usize = 8;

/// What [`available`] found: 0 not asked yet, 1 no (or [`disable`]d), 2
/// yes.
static STATE: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU runs AVX2 and the OS saves its registers: asked once,
/// then remembered.
pub fn available() -> bool {
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = detect();
            STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

/// Turns the AVX2 loops off for the rest of the process, as if this CPU
/// had none: the SSE2 and portable loops run, with the same bits. For
/// tests of those loops on an AVX2 machine, and for comparisons.
pub fn disable() {
    // The state `available` reads: 1 is "no".
    STATE.store(1, Ordering::Relaxed);
}

/// CPUID leaf 1 (OSXSAVE, AVX), XCR0 (XMM and YMM state saved), leaf 7
/// (AVX2). (CPUID is a safe intrinsic from Rust 1.89 on, unsafe before.)
/// Miri runs no CPUID: there the portable loops run.
#[allow(unused_unsafe)]
fn detect() -> bool {
    if cfg!(miri) {
        return false;
    }
    // SAFETY: CPUID exists on every x86-64 CPU.
    let (max, l1) = unsafe { (__cpuid(0).eax, __cpuid(1)) };
    let (osxsave, avx) = (l1.ecx & 1 << 27 != 0, l1.ecx & 1 << 28 != 0);
    if max < 7 || !osxsave || !avx {
        return false;
    }
    // SAFETY: OSXSAVE set means XGETBV is enabled.
    let xcr0 = unsafe { xcr0() };
    // SAFETY: leaf 7 exists (`max >= 7`).
    let l7 = unsafe { __cpuid_count(7, 0) };
    xcr0 & 6 == 6 && l7.ebx & 1 << 5 != 0
}

#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    _xgetbv(0)
}

#[inline(always)]
fn load32(b: &[i8; 32]) -> __m256i {
    // SAFETY: `b` is 32 readable bytes; the load allows any alignment.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[inline(always)]
fn load16(b: &[i8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; the load allows any alignment.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

/// Row pairs over 8 pixels: `out` takes 8 entries a pair (pixel order),
/// each the pair's biases plus the pixel's dot products; each pair is `2 len`
/// bytes of `w` (paired), its biases 8 bytes of `bias`. `x` is widened input
/// (pw1, `WIDE`: 64 bytes per 4 channels,
/// [`crate::kernels::pointwise_wide::wide_offset`]) or int8 (pw2: 32 bytes per 4
/// channels, [`crate::kernels::pointwise::paired_offset_whole`] for 8 pixels).
/// `wide` is `w` widened to i16 ([`crate::kernels::prepared::BlockPrepared`];
/// with `WIDE`, each 4-weight chunk in the widened input's order 0, 2, 1,
/// 3) or empty: with it, the loop of [`super::pairs`] runs. `None`
/// without AVX2 or when `len` is not a multiple of 4; else the pairs run,
/// as many as `out`, `w` and `bias` hold. `live`: the tile's pixels that
/// count (the others' sums may be left out).
pub fn pairs<const WIDE: bool>(out: &mut [[i32; 2]], run: PairRun) -> Option<usize> {
    let PairRun {
        x,
        weights: w,
        wide,
        bias,
        len,
        live,
    } = run;
    if !available() || !len.is_multiple_of(4) {
        return None;
    }
    let x = x.get(..if WIDE { 16 } else { 8 } * len)?;
    let want = (out.len() / PIXELS).min(w.len() / (2 * len).max(1));
    if let Some(wide) = wide.get(..4 * len * want) {
        // SAFETY: `available` said this CPU runs AVX2.
        return Some(unsafe { super::pairs::pairs::<WIDE>(out, x, wide, bias, (len, live)) });
    }
    // SAFETY: `available` said this CPU runs AVX2.
    Some(unsafe { pairs_avx2::<WIDE>(out, x, w, bias, len) })
}

/// [`pairs`] where the weights are int8 only: each chunk's weights widened
/// in registers, for each row pair.
#[target_feature(enable = "avx2")]
unsafe fn pairs_avx2<const WIDE: bool>(
    out: &mut [[i32; 2]],
    x: &[i8],
    w: &[u8],
    bias: &[u8],
    len: usize,
) -> usize {
    // Each 64-bit lane of the broadcast holds a pair's chunk: row r's 4
    // weights, then row s's. A shuffle puts each weight in the high byte
    // of an i16 (low byte 0) in the order the input's i16s come, and an
    // arithmetic shift by 8 sign-extends it: widened input (pw1) keeps
    // SXTB16's order 0, 2, 1, 3; int8 input widens in order 0, 1, 2, 3.
    let z = -128i8;
    // Each i16 lane's high byte is weight `order[lane % 4]` (its low byte
    // zeroed by -128), so an arithmetic shift by 8 sign-extends it.
    let mask = |order: [i8; 4]| -> __m256i {
        load32(&core::array::from_fn(|i| match i % 2 {
            0 => z,
            _ => order[i / 2 % 4],
        }))
    };
    let (m0, m1) = if WIDE {
        (mask([0, 2, 1, 3]), mask([4, 6, 5, 7]))
    } else {
        (mask([0, 1, 2, 3]), mask([4, 5, 6, 7]))
    };
    let chunk = if WIDE { 64 } else { 32 };
    // A chunk of the 8 pixels' inputs as i16: pixels 0-3, then 4-7.
    let load = |xc: &[i8]| {
        if WIDE {
            let (l, h) = xc.split_at(32);
            (
                load32(l.try_into().unwrap_or(&[0; 32])),
                load32(h.try_into().unwrap_or(&[0; 32])),
            )
        } else {
            let (l, h) = xc.split_at(16);
            (
                _mm256_cvtepi8_epi16(load16(l.try_into().unwrap_or(&[0; 16]))),
                _mm256_cvtepi8_epi16(load16(h.try_into().unwrap_or(&[0; 16]))),
            )
        }
    };
    // A pair's 8 weight bytes of a chunk as the two rows' i16s.
    let weights = |wc: &[u8]| {
        let wb = _mm256_set1_epi64x(i64::from_le_bytes(wc.try_into().unwrap_or_default()));
        (
            _mm256_srai_epi16::<8>(_mm256_shuffle_epi8(wb, m0)),
            _mm256_srai_epi16::<8>(_mm256_shuffle_epi8(wb, m1)),
        )
    };
    // One chunk of a pair: rows r, s times pixels 0-3 (`lo`) and 4-7 (`hi`)
    // into the pair's accumulators.
    let madd_pair = |a: &mut [__m256i; 4], (lo, hi), (r0, r1)| {
        a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(lo, r0));
        a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(hi, r0));
        a[2] = _mm256_add_epi32(a[2], _mm256_madd_epi16(lo, r1));
        a[3] = _mm256_add_epi32(a[3], _mm256_madd_epi16(hi, r1));
    };
    let finish = |a: [__m256i; 4], b: &[u8], o: &mut [[i32; 2]]| {
        super::pairs::finish(&a, b, o);
    };
    let want = (out.len() / PIXELS)
        .min(w.len() / (2 * len).max(1))
        .min(bias.len() / 8);
    // Two pairs at a time: each input chunk loaded (and widened) once for
    // four rows.
    let quads = out
        .chunks_exact_mut(2 * PIXELS)
        .zip(w.chunks_exact((4 * len).max(1)))
        .zip(bias.chunks_exact(16))
        .take(want / 2);
    let mut n = 0;
    for ((o, wq), b) in quads {
        let (w0, w1) = wq.split_at(2 * len);
        let mut a = [[_mm256_setzero_si256(); 4]; 2];
        let chunks = x
            .chunks_exact(chunk)
            .zip(w0.chunks_exact(8))
            .zip(w1.chunks_exact(8));
        for ((xc, wc0), wc1) in chunks {
            let x = load(xc);
            madd_pair(&mut a[0], x, weights(wc0));
            madd_pair(&mut a[1], x, weights(wc1));
        }
        let (o0, o1) = o.split_at_mut(PIXELS);
        finish(a[0], b, o0);
        finish(a[1], &b[8..], o1);
        n += 2;
    }
    // The last pair, if their number is odd.
    if n < want {
        let at = n;
        let (o, wr, b) = (
            out.get_mut(PIXELS * at..PIXELS * (at + 1)),
            w.get(2 * len * at..2 * len * (at + 1)),
            bias.get(8 * at..8 * (at + 1)),
        );
        if let (Some(o), Some(wr), Some(b)) = (o, wr, b) {
            let mut a = [_mm256_setzero_si256(); 4];
            for (xc, wc) in x.chunks_exact(chunk).zip(wr.chunks_exact(8)) {
                madd_pair(&mut a, load(xc), weights(wc));
            }
            finish(a, b, o);
            n += 1;
        }
    }
    n
}

/// Most weight pairs [`StemPairs`] holds (`k k cin / 2` times `cout`): 32
/// KiB of the host's stack, a 4x4 RGB stem of up to 341 channels.
pub const STEM_PAIRS: usize = 8192;

/// Longest patch (`k k cin`) [`StemPairs`] takes.
pub const STEM_PATCH: usize = 256;

/// A stem's weights as i16 pairs, transposed for [`StemPairs::dots`]:
/// entry `j cout + o` holds weights `2j` and `2j + 1` of output `o`.
pub struct StemPairs {
    pairs: [i32; STEM_PAIRS],
    cout: usize,
    len: usize,
}

impl StemPairs {
    /// The pairs of `cout` weight rows of `len` bytes each (`w`, row after
    /// row), or `None` without AVX2, with `len` odd or over
    /// [`STEM_PATCH`], `cout` not a multiple of 8 or more pairs than
    /// [`STEM_PAIRS`].
    pub fn new(w: &[u8], len: usize, cout: usize) -> Option<StemPairs> {
        let n = len / 2 * cout;
        let fits = len <= STEM_PATCH && n <= STEM_PAIRS;
        if !available() || !len.is_multiple_of(2) || !cout.is_multiple_of(8) || !fits {
            return None;
        }
        let mut pairs = [0i32; STEM_PAIRS];
        for (o, row) in w.chunks_exact(len.max(1)).take(cout).enumerate() {
            for (j, wp) in row.chunks_exact(2).enumerate() {
                let (lo, hi) = (wp[0] as i8 as i16 as u16, wp[1] as i8 as i16 as u16);
                pairs[j * cout + o] = (lo as u32 | (hi as u32) << 16) as i32;
            }
        }
        Some(StemPairs { pairs, cout, len })
    }

    /// Every output's dot product with the patch `x` (`len` values), into
    /// `out` (`cout` of them): 8 outputs a VPMADDWD of one broadcast input
    /// pair, up to 96 outputs' sums in registers over the whole patch.
    pub fn dots(&self, x: &[i8], out: &mut [i32]) {
        if let (Some(x), Some(out)) = (x.get(..self.len), out.get_mut(..self.cout)) {
            // SAFETY: `new` checked that this CPU runs AVX2.
            unsafe { self.dots_avx2(x, out) }
        }
    }

    #[target_feature(enable = "avx2")]
    fn dots_avx2(&self, x: &[i8], out: &mut [i32]) {
        // The patch's input pairs as i16 pairs, once.
        let mut xs = [0i32; STEM_PATCH / 2];
        for (p, xp) in xs.iter_mut().zip(x.chunks_exact(2)) {
            *p = (xp[0] as i16 as u16 as u32 | (xp[1] as i16 as u16 as u32) << 16) as i32;
        }
        let xs = &xs[..(self.len / 2).min(STEM_PATCH / 2)];
        let groups = self.cout / 8;
        let mut g = 0;
        while g < groups {
            let step = match groups - g {
                12.. => 12,
                8.. => 8,
                4.. => 4,
                _ => 1,
            };
            match step {
                12 => self.groups::<12>(xs, out, g),
                8 => self.groups::<8>(xs, out, g),
                4 => self.groups::<4>(xs, out, g),
                _ => self.groups::<1>(xs, out, g),
            }
            g += step;
        }
    }

    /// Output groups `g0..g0 + G` (8 outputs each) over every input pair
    /// `xs`, their sums in registers.
    #[target_feature(enable = "avx2")]
    fn groups<const G: usize>(&self, xs: &[i32], out: &mut [i32], g0: usize) {
        let cout = self.cout;
        let Some(out) = out.get_mut(8 * g0..8 * (g0 + G)) else {
            return;
        };
        let mut acc = [_mm256_setzero_si256(); G];
        for (j, &p) in xs.iter().enumerate() {
            let Some(row) = self.pairs.get(j * cout + 8 * g0..j * cout + 8 * (g0 + G)) else {
                return;
            };
            let b = _mm256_set1_epi32(p);
            for (a, w) in acc.iter_mut().zip(row.chunks_exact(8)) {
                // SAFETY: `w` is 8 i32s, 32 readable bytes; the load allows
                // any alignment.
                let w = unsafe { _mm256_loadu_si256(w.as_ptr().cast()) };
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(b, w));
            }
        }
        for (o, a) in out.chunks_exact_mut(8).zip(acc) {
            o.copy_from_slice(&lanes32(a));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;
    use crate::kernels::pointwise::{paired_offset, paired_offset_whole};
    use crate::kernels::pointwise_wide::wide_offset;

    /// Both loops against plain sums, on lengths the blocks use and on
    /// extreme values (all -128 inputs against all -128 / 127 weights).
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn the_avx2_pair_loops_match_plain_sums() {
        // The project's machines (and CI's) have AVX2: a test that passed
        // without running these loops would prove nothing.
        assert!(available(), "this x86-64 host has no AVX2");
        for (len, pairs) in [(4, 1), (8, 3), (40, 2), (160, 5), (12, 4), (24, 7)] {
            for fill in [
                None,
                Some((-128i8, 0x80u8)),
                Some((-128, 0x7f)),
                Some((127, 0x7f)),
            ] {
                let mut draw = xorshift(0x2545_F491_4F6C_DD1D ^ len as u64);
                let mut next = || draw() as u8;
                let xs: Vec<i8> = (0..PIXELS * len)
                    .map(|_| fill.map_or(next() as i8, |f| f.0))
                    .collect();
                let ws: Vec<u8> = (0..2 * pairs * len)
                    .map(|_| fill.map_or(next(), |f| f.1))
                    .collect();
                let bias: Vec<u8> = (0..2 * pairs as i32)
                    .flat_map(|i| (i - 3).to_le_bytes())
                    .collect();
                let want = |p: usize, r: usize| -> i32 {
                    (r as i32 - 3)
                        + (0..len)
                            .map(|k| xs[p * len + k] as i32 * ws[r * len + k] as i8 as i32)
                            .sum::<i32>()
                };
                // Weights paired by row pair; inputs in both layouts.
                let mut wp = vec![0u8; ws.len()];
                for j in 0..pairs {
                    for r in 0..2 {
                        for k in 0..len {
                            wp[2 * j * len + paired_offset(r, k, 2, len)] =
                                ws[(2 * j + r) * len + k];
                        }
                    }
                }
                let (mut xw, mut x8) = (vec![0i8; 2 * PIXELS * len], vec![0i8; PIXELS * len]);
                for p in 0..PIXELS {
                    for k in 0..len {
                        let v = xs[p * len + k];
                        let at = wide_offset(p, k, PIXELS);
                        xw[at] = v;
                        xw[at + 1] = if v < 0 { -1 } else { 0 };
                        x8[paired_offset_whole(p, k, PIXELS)] = v;
                    }
                }
                // Each loop: weights widened as it goes, and read widened
                // (for widened input in its order, 0, 2, 1, 3).
                let widen = |order: [usize; 4]| -> Vec<u8> {
                    wp.chunks_exact(4)
                        .flat_map(|c| order.map(|i| c[i]))
                        .flat_map(|v| (v as i8 as i16).to_le_bytes())
                        .collect()
                };
                let (widened, sxtb16) = (widen([0, 1, 2, 3]), widen([0, 2, 1, 3]));
                // Whole tiles, and a last tile of 4 pixels or fewer (whose
                // pixels 0-3 count).
                let forms = [(&[][..], &[][..]), (&widened[..], &sxtb16[..])];
                for ((wide, wide_sxtb16), live) in forms.into_iter().flat_map(|f| [(f, 8), (f, 3)])
                {
                    let mut out = vec![[0i32; 2]; PIXELS * pairs];
                    let mut out8 = out.clone();
                    let run = |x, wide| PairRun {
                        x,
                        weights: &wp,
                        wide,
                        bias: &bias,
                        len,
                        live,
                    };
                    assert_eq!(
                        super::pairs::<true>(&mut out, run(&xw, wide_sxtb16)),
                        Some(pairs)
                    );
                    assert_eq!(
                        super::pairs::<false>(&mut out8, run(&x8, wide)),
                        Some(pairs)
                    );
                    let form = if wide.is_empty() { "" } else { ", widened" };
                    for j in 0..pairs {
                        for p in 0..live.max(4) {
                            let w = [want(p, 2 * j), want(p, 2 * j + 1)];
                            let at = PIXELS * j + p;
                            assert_eq!(
                                out[at], w,
                                "wide len {len}{form} live {live} pair {j} pixel {p}"
                            );
                            assert_eq!(
                                out8[at], w,
                                "i8 len {len}{form} live {live} pair {j} pixel {p}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Output counts of one, four, eight and twelve groups a pass (and
    /// their mixes), against plain sums.
    #[test]
    fn stem_pairs_give_every_dot_product() {
        if !available() {
            return;
        }
        for (len, cout) in [(48, 24), (48, 104), (16, 64), (32, 40), (2, 8)] {
            let w: Vec<u8> = (0..len * cout)
                .map(|i| (i as u8).wrapping_mul(77))
                .collect();
            let x: Vec<i8> = (0..len).map(|i| (i as i8).wrapping_mul(-59)).collect();
            let pairs = StemPairs::new(&w, len, cout).expect("an even patch, 8 | cout");
            let mut out = vec![0i32; cout];
            pairs.dots(&x, &mut out);
            for (o, &got) in out.iter().enumerate() {
                let row = &w[o * len..(o + 1) * len];
                let want: i32 = x
                    .iter()
                    .zip(row)
                    .map(|(&a, &b)| a as i32 * b as i8 as i32)
                    .sum();
                assert_eq!(got, want, "len {len} cout {cout} output {o}");
            }
            assert!(StemPairs::new(&w, len - 1, cout).is_none(), "odd patch");
        }
    }
}
