//! The 7x7 depthwise convolution of one pixel, four channels at a time with
//! the accumulators in registers for the whole window. The window's taps
//! (where each source pixel's original is: the map or the ring, and which
//! weight row) are gathered once per pixel ([`Taps`]), so the channel loop
//! only loads and multiplies. Taps outside the map are skipped, not padded.
//!
//! [`packed`] is the DSP form: one word of 4 inputs and one of 4 weights per
//! tap, the input zero point subtracted while sign-extending (SXTAB16), one
//! SMLABB/SMLATT per channel. [`scalar`] is the form for cores without DSP.
//! Both give the same bits (integer sums); the host tests check both.

/// The valid taps of one pixel's 7x7 window.
#[derive(Debug, Clone, Copy)]
pub struct Taps {
    /// Arena offset of each tap's source pixel (channel 0).
    pub src: [usize; 49],
    /// Weight offset of each tap (`(ky * 7 + kx) * C`).
    pub wt: [usize; 49],
    /// Number of valid taps.
    pub n: usize,
}

/// `out[i] = bias[i] + Σ_taps (x - zx) * w` for channels `ch..ch + N` (the
/// variant this target runs), as i32 accumulators.
#[inline(always)]
pub fn channels<const N: usize>(
    arena: &[i8],
    weights: &[u8],
    taps: &Taps,
    ch: usize,
    zx: i32,
    acc: &mut [i32; N],
) {
    #[cfg(convnext_dsp)]
    packed::channels(arena, weights, taps, ch, zx, acc);
    #[cfg(not(convnext_dsp))]
    scalar::channels(arena, weights, taps, ch, zx, acc);
}

/// Name of the variant [`channels`] runs, for profiles.
pub const VARIANT: &str = if cfg!(convnext_dsp) {
    "dsp-4ch"
} else {
    "scalar-4ch"
};

/// The DSP variant.
pub mod packed {
    use super::super::simd32::{
        smlabb, smlatt, splat16, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8, word, word_u8,
    };
    use super::Taps;

    /// See [`super::channels`]; `N` is 4 here (a group), any `N` works.
    #[inline(always)]
    pub fn channels<const N: usize>(
        arena: &[i8],
        weights: &[u8],
        taps: &Taps,
        ch: usize,
        zx: i32,
        acc: &mut [i32; N],
    ) {
        if N != 4 {
            return super::scalar::channels(arena, weights, taps, ch, zx, acc);
        }
        let nz = splat16(-zx);
        let (mut a0, mut a1, mut a2, mut a3) = (acc[0], acc[1], acc[2], acc[3]);
        for (&s, &w) in taps.src[..taps.n].iter().zip(&taps.wt[..taps.n]) {
            let xv = word(&arena[s + ch..]);
            let wv = word_u8(&weights[w + ch..]);
            let (xe, xo) = (sxtab16(nz, xv), sxtab16_ror8(nz, xv));
            let (we, wo) = (sxtb16(wv), sxtb16_ror8(wv));
            a0 = smlabb(xe, we, a0);
            a2 = smlatt(xe, we, a2);
            a1 = smlabb(xo, wo, a1);
            a3 = smlatt(xo, wo, a3);
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
    }
}

/// The variant for cores without DSP.
pub mod scalar {
    use super::Taps;

    /// See [`super::channels`].
    #[inline(always)]
    pub fn channels<const N: usize>(
        arena: &[i8],
        weights: &[u8],
        taps: &Taps,
        ch: usize,
        zx: i32,
        acc: &mut [i32; N],
    ) {
        let mut a = *acc;
        for (&s, &w) in taps.src[..taps.n].iter().zip(&taps.wt[..taps.n]) {
            let (xs, ws) = (&arena[s + ch..s + ch + N], &weights[w + ch..w + ch + N]);
            for i in 0..N {
                a[i] += (xs[i] as i32 - zx) * ws[i] as i8 as i32;
            }
        }
        *acc = a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_scalar_agree_on_extreme_values() {
        let arena: [i8; 64] = core::array::from_fn(|i| match i % 5 {
            0 => -128,
            1 => 127,
            _ => (i * 29 % 256) as u8 as i8,
        });
        let weights: [u8; 64] = core::array::from_fn(|i| (i * 71 % 256) as u8 | 1);
        let mut taps = Taps {
            src: [0; 49],
            wt: [0; 49],
            n: 7,
        };
        for t in 0..7 {
            taps.src[t] = t * 8;
            taps.wt[t] = 56 - t * 8;
        }
        for zx in [-128, -3, 0, 127] {
            for ch in 0..4 {
                let (mut a, mut b) = ([7, -7, 1 << 20, -(1 << 20)], [7, -7, 1 << 20, -(1 << 20)]);
                packed::channels(&arena, &weights, &taps, ch, zx, &mut a);
                scalar::channels(&arena, &weights, &taps, ch, zx, &mut b);
                assert_eq!(a, b, "zx {zx} ch {ch}");
            }
        }
    }
}
