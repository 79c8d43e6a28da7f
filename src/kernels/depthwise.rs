//! A 7x7 depthwise convolution at one output pixel: for every channel,
//! `Σ_taps (x − zx) · w` over the window's valid taps (taps outside the map
//! are skipped, not padded).
//!
//! Channels go four at a time with their accumulators in registers, and the
//! taps are the inner loop, so each accumulator is loaded and stored once per
//! pixel rather than once per tap. The window's taps (where each input pixel
//! and its weights start) are listed once per pixel and checked once against
//! the input and the weights ([`Window::new`]); the loads inside the loop
//! rely on that check.
//!
//! [`packed`] is the DSP form: one word of 4 inputs and one of 4 weights a
//! tap, the input zero point subtracted while sign-extending (SXTAB16), one
//! SMLABB/SMLATT per channel. [`scalar`] is the form for cores without DSP.
//! Both give the same bits (integer sums); the host tests check both.

/// Taps of a 7x7 window.
pub const MAX_TAPS: usize = 49;

/// One tap of a window: where its input pixel starts in `x` and where its
/// weights (one per channel) start in `w`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tap {
    /// Offset of the input pixel's `c` values in `x`.
    pub x: u32,
    /// Offset of the tap's `c` weights in `w`.
    pub w: u32,
}

/// The taps of one output pixel, checked against the input and the weights.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    x: &'a [i8],
    w: &'a [u8],
    taps: &'a [Tap],
    c: usize,
}

impl<'a> Window<'a> {
    /// The window of `taps` over `c` channels, or `None` if a tap's `c`
    /// values would run past `x` or `w`.
    #[inline(always)]
    pub fn new(x: &'a [i8], w: &'a [u8], taps: &'a [Tap], c: usize) -> Option<Self> {
        let (mx, mw) = taps
            .iter()
            .fold((0, 0), |(mx, mw), t| (t.x.max(mx), t.w.max(mw)));
        let fits = |at: u32, len: usize| (at as usize).checked_add(c).is_some_and(|e| e <= len);
        (fits(mx, x.len()) && fits(mw, w.len())).then_some(Window { x, w, taps, c })
    }

    /// `Σ_taps (x[tap.x + ch] − zx) · w[tap.w + ch]` for every channel, as
    /// little-endian i32s into `out` (as many as fit), with the variant this
    /// target runs.
    #[inline(always)]
    pub fn run(&self, zx: i32, out: &mut [i8]) {
        #[cfg(all(target_arch = "x86_64", not(any(convnext_dsp, convnext_packed))))]
        {
            #[cfg(not(target_os = "none"))]
            let wide = avx2::groups16_entry(self, zx, out);
            #[cfg(target_os = "none")]
            let wide = 0;
            let done = wide + sse2::groups8_entry(self, zx, out, wide);
            self.run_from(done, zx, out);
        }
        #[cfg(not(all(target_arch = "x86_64", not(any(convnext_dsp, convnext_packed)))))]
        self.run_from(0, zx, out);
    }

    /// [`Window::run`] from channel `start` (a multiple of 4) on, four
    /// channels at a time.
    #[inline(always)]
    fn run_from(&self, start: usize, zx: i32, out: &mut [i8]) {
        let groups = self.c.saturating_sub(start) / 4;
        let rest = out.get_mut(4 * start..).unwrap_or_default();
        for (g, o) in rest.chunks_exact_mut(16).take(groups).enumerate() {
            #[cfg(any(convnext_dsp, convnext_packed))]
            let acc = packed::group(self, start + 4 * g, zx);
            #[cfg(not(any(convnext_dsp, convnext_packed)))]
            let acc = scalar::group(self, start + 4 * g, zx);
            for (d, a) in o.chunks_exact_mut(4).zip(acc) {
                for (d, b) in d.iter_mut().zip(a.to_le_bytes()) {
                    *d = b as i8;
                }
            }
        }
        for ch in start + 4 * groups..self.c {
            let mut acc = 0i32;
            for t in self.taps {
                let xv = self.x.get(t.x as usize + ch).map_or(0, |&v| v as i32 - zx);
                let wv = self.w.get(t.w as usize + ch).map_or(0, |&v| v as i8 as i32);
                acc += xv * wv;
            }
            if let Some(d) = out.get_mut(4 * ch..4 * ch + 4) {
                for (d, b) in d.iter_mut().zip(acc.to_le_bytes()) {
                    *d = b as i8;
                }
            }
        }
    }

    /// The `N` input bytes of `tap` at channels `ch..ch + N`.
    #[inline(always)]
    fn xs<const N: usize>(&self, tap: Tap, ch: usize) -> [u8; N] {
        read_checked_once(
            self.x.as_ptr().cast(),
            tap.x as usize + ch,
            ch + N <= self.c,
        )
    }

    /// The `N` weight bytes of `tap` at channels `ch..ch + N`.
    #[inline(always)]
    fn ws<const N: usize>(&self, tap: Tap, ch: usize) -> [u8; N] {
        read_checked_once(self.w.as_ptr(), tap.w as usize + ch, ch + N <= self.c)
    }
}

/// `N` bytes at `base + at`, for a tap's channels `ch..ch + N` (`in_channels`
/// says `ch + N <= c`).
#[allow(unsafe_code)]
#[inline(always)]
fn read_checked_once<const N: usize>(base: *const u8, at: usize, in_channels: bool) -> [u8; N] {
    debug_assert!(in_channels);
    // SAFETY: `Window::new` checked `tap.x + c <= x.len()` and
    // `tap.w + c <= w.len()` for every tap, `base` is the start of `x` or
    // `w`, `at` is `tap.x + ch` or `tap.w + ch`, and every caller reads
    // channels `ch..ch + N` with `ch + N <= c`.
    unsafe { core::ptr::read_unaligned(base.add(at).cast()) }
}

/// Name of the variant [`Window::run`] runs, for profiles.
pub const VARIANT: &str = if cfg!(any(convnext_dsp, convnext_packed)) {
    "dsp-4ch"
} else if cfg!(target_arch = "x86_64") {
    "sse2-8ch"
} else {
    "scalar-4ch"
};

/// The DSP variant.
pub mod packed {
    use super::super::simd32::{
        smlabb, smlatt, splat16, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8,
    };
    use super::Window;

    /// Channels `ch..ch + 4` over every tap of `win`.
    #[inline(always)]
    pub fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        let nz = splat16(-zx);
        let mut a = [0i32; 4];
        for &t in win.taps {
            let (xv, wv) = (
                u32::from_le_bytes(win.xs::<4>(t, ch)),
                u32::from_le_bytes(win.ws::<4>(t, ch)),
            );
            let (xe, xo) = (sxtab16(nz, xv), sxtab16_ror8(nz, xv));
            let (we, wo) = (sxtb16(wv), sxtb16_ror8(wv));
            a[0] = smlabb(xe, we, a[0]);
            a[2] = smlatt(xe, we, a[2]);
            a[1] = smlabb(xo, wo, a[1]);
            a[3] = smlatt(xo, wo, a[3]);
        }
        a
    }
}

/// The host's variant on x86-64: eight channels a tap with SSE2 (which every
/// x86-64 has): inputs and weights widened to i16, the zero point
/// subtracted, one PMULLW (`|x - zx| <= 255` and `|w| <= 128`, so every
/// product fits in i16), the products widened into two i32 accumulators.
#[cfg(target_arch = "x86_64")]
pub mod sse2 {
    use super::super::x86::lanes;
    use super::Window;
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

/// The host's variant on x86-64 with AVX2 ([`super::avx2::available`]):
/// sixteen channels and two taps a step, inputs (less the zero point) and
/// weights widened to i16, the two taps' values interleaved so one VPMADDWD
/// gives each channel's two products summed in an i32.
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub mod avx2 {
    use super::super::avx2::available;
    use super::Window;
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16, _mm256_madd_epi16, _mm256_set1_epi16,
        _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi16, _mm256_unpackhi_epi16,
        _mm256_unpacklo_epi16, _mm_set_epi64x,
    };

    /// Every whole group of sixteen channels of `win` into `out` (as
    /// [`Window::run`] writes them); returns how many channels that was (0
    /// without AVX2).
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn groups16_entry(win: &Window, zx: i32, out: &mut [i8]) -> usize {
        if !(-128..=127).contains(&zx) || !available() {
            return 0;
        }
        // SAFETY: `available` said this CPU runs AVX2.
        unsafe { groups16(win, zx, out) }
    }

    /// 16 bytes at a tap's channels as i16s.
    #[target_feature(enable = "avx2")]
    fn widen(b: [u8; 16]) -> __m256i {
        let (lo, hi) = b.split_at(8);
        let word = |h: &[u8]| i64::from_le_bytes(h.try_into().unwrap_or_default());
        _mm256_cvtepi8_epi16(_mm_set_epi64x(word(hi), word(lo)))
    }

    #[target_feature(enable = "avx2")]
    fn groups16(win: &Window, zx: i32, out: &mut [i8]) -> usize {
        let nz = _mm256_set1_epi16(zx as i16);
        let n16 = win.c / 16;
        for (g, o) in out.chunks_exact_mut(64).take(n16).enumerate() {
            let ch = 16 * g;
            let tap = |t| {
                let x = _mm256_sub_epi16(widen(win.xs::<16>(t, ch)), nz);
                (x, widen(win.ws::<16>(t, ch)))
            };
            // Channels 0-3 and 8-11 in `lo`, 4-7 and 12-15 in `hi` (the
            // unpacks work within each 128-bit half).
            let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let mut pairs = win.taps.chunks_exact(2);
            for two in &mut pairs {
                let ((x0, w0), (x1, w1)) = (tap(two[0]), tap(two[1]));
                let (xl, xh) = (_mm256_unpacklo_epi16(x0, x1), _mm256_unpackhi_epi16(x0, x1));
                let (wl, wh) = (_mm256_unpacklo_epi16(w0, w1), _mm256_unpackhi_epi16(w0, w1));
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(xl, wl));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(xh, wh));
            }
            if let [t] = pairs.remainder() {
                let (x0, w0) = tap(*t);
                let zero = _mm256_setzero_si256();
                let (xl, xh) = (
                    _mm256_unpacklo_epi16(x0, zero),
                    _mm256_unpackhi_epi16(x0, zero),
                );
                let (wl, wh) = (
                    _mm256_unpacklo_epi16(w0, zero),
                    _mm256_unpackhi_epi16(w0, zero),
                );
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(xl, wl));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(xh, wh));
            }
            // Channel order: lo's halves are 0-3, 8-11; hi's 4-7, 12-15.
            let mut bytes = [[0u8; 32]; 2];
            for (b, v) in bytes.iter_mut().zip([lo, hi]) {
                // SAFETY: `b` is 32 writable bytes; the store allows any
                // alignment.
                #[allow(unsafe_code)]
                unsafe {
                    _mm256_storeu_si256(b.as_mut_ptr().cast(), v)
                };
            }
            let [l, h] = bytes;
            for (q, src) in [&l[..16], &h[..16], &l[16..], &h[16..]]
                .into_iter()
                .enumerate()
            {
                for (d, s) in o[16 * q..16 * q + 16].iter_mut().zip(src) {
                    *d = *s as i8;
                }
            }
        }
        16 * n16
    }
}

/// The variant for cores without DSP.
pub mod scalar {
    use super::Window;

    /// Channels `ch..ch + 4` over every tap of `win`.
    #[inline(always)]
    pub fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        let mut a = [0i32; 4];
        for &t in win.taps {
            let (xs, ws) = (win.xs::<4>(t, ch), win.ws::<4>(t, ch));
            for i in 0..4 {
                a[i] += (xs[i] as i8 as i32 - zx) * ws[i] as i8 as i32;
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_scalar_agree_with_a_plain_sum_on_extreme_values_and_odd_widths() {
        let x: [i8; 64] = core::array::from_fn(|i| match i % 5 {
            0 => -128,
            1 => 127,
            _ => (i * 29 % 256) as u8 as i8,
        });
        let w: [u8; 64] = core::array::from_fn(|i| (i * 71 % 256) as u8 | 1);
        let taps = [Tap { x: 0, w: 3 }, Tap { x: 9, w: 0 }, Tap { x: 30, w: 40 }];
        for zx in [-128, -3, 0, 127] {
            for c in 0..=23 {
                let win = Window::new(&x, &w, &taps, c).expect("in range");
                let plain = |ch: usize| -> i32 {
                    taps.iter()
                        .map(|t| {
                            (x[t.x as usize + ch] as i32 - zx) * w[t.w as usize + ch] as i8 as i32
                        })
                        .sum()
                };
                let mut got = [0i8; 4 * 23];
                win.run(zx, &mut got);
                for ch in 0..c {
                    let v = i32::from_le_bytes(core::array::from_fn(|i| got[4 * ch + i] as u8));
                    assert_eq!(v, plain(ch), "zx {zx} c {c} ch {ch}");
                }
                #[cfg(target_arch = "x86_64")]
                {
                    let mut v = [0i8; 4 * 23];
                    let done = sse2::groups8_entry(&win, zx, &mut v, 0);
                    assert_eq!(done, c / 8 * 8);
                    for ch in 0..done {
                        let got = i32::from_le_bytes(core::array::from_fn(|i| v[4 * ch + i] as u8));
                        assert_eq!(got, plain(ch), "sse2: zx {zx} c {c} ch {ch}");
                    }
                    let mut v = [0i8; 4 * 23];
                    let done = avx2::groups16_entry(&win, zx, &mut v);
                    // Miri runs no CPUID, so no AVX2 there.
                    assert_eq!(super::super::avx2::available(), !cfg!(miri));
                    let want = if cfg!(miri) { 0 } else { c / 16 * 16 };
                    assert_eq!(done, want);
                    for ch in 0..done {
                        let got = i32::from_le_bytes(core::array::from_fn(|i| v[4 * ch + i] as u8));
                        assert_eq!(got, plain(ch), "avx2: zx {zx} c {c} ch {ch}");
                    }
                }
                for g in 0..c / 4 {
                    let (p, s) = (
                        packed::group(&win, 4 * g, zx),
                        scalar::group(&win, 4 * g, zx),
                    );
                    assert_eq!(p, s, "zx {zx} c {c} group {g}");
                    assert_eq!(p, core::array::from_fn(|i| plain(4 * g + i)));
                }
            }
        }
    }

    #[test]
    fn a_tap_past_the_input_or_the_weights_is_refused() {
        let (x, w) = ([0i8; 10], [0u8; 10]);
        assert!(Window::new(&x, &w, &[Tap { x: 6, w: 0 }], 4).is_some());
        assert!(Window::new(&x, &w, &[Tap { x: 7, w: 0 }], 4).is_none());
        assert!(Window::new(&x, &w, &[Tap { x: 0, w: 7 }], 4).is_none());
        assert!(Window::new(&x, &w, &[Tap { x: u32::MAX, w: 0 }], 4).is_none());
    }
}
