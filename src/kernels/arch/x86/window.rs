//! The host's depthwise window with AVX2, sixteen channels a step.

/// The host's variant on x86-64 with AVX2 ([`super::avx2::available`]):
/// sixteen channels and two taps a step, inputs (less the zero point) and
/// weights widened to i16, the two taps' values interleaved so one VPMADDWD
/// gives each channel's two products summed in an i32.
pub mod groups {
    use super::super::avx2::available;
    use crate::kernels::depthwise::Window;
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
