//! One tap of a 7x7 depthwise convolution: every channel's accumulator
//! gains input times weight. The block kernel walks a pixel's valid taps
//! (taps outside the map are skipped, not padded) with up to [`CHUNK`]
//! channels of accumulators on the stack.
//!
//! [`packed`] is the DSP form: one word of 4 inputs and one of 4 weights, the
//! input zero point subtracted while sign-extending (SXTAB16), one
//! SMLABB/SMLATT per channel. [`scalar`] is the form for cores without DSP.
//! Both give the same bits (integer sums); the host tests check both.

/// Channels of accumulators kept on the stack at once.
pub const CHUNK: usize = 64;

/// `acc[i] += (x[i] - zx) * w[i]` for every channel of one tap (the
/// variant this target runs).
#[inline(always)]
pub fn tap(acc: &mut [i32], x: &[i8], w: &[u8], zx: i32) {
    #[cfg(any(convnext_dsp, convnext_packed))]
    packed::tap(acc, x, w, zx);
    #[cfg(not(any(convnext_dsp, convnext_packed)))]
    scalar::tap(acc, x, w, zx);
}

/// Name of the variant [`tap`] runs, for profiles.
pub const VARIANT: &str = if cfg!(any(convnext_dsp, convnext_packed)) {
    "dsp-4ch"
} else {
    "scalar"
};

/// The DSP variant.
pub mod packed {
    use super::super::simd32::{
        smlabb, smlatt, splat16, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8, word, word_u8,
    };

    /// See [`super::tap`].
    #[inline(always)]
    pub fn tap(acc: &mut [i32], x: &[i8], w: &[u8], zx: i32) {
        let nz = splat16(-zx);
        let mut ac = acc.chunks_exact_mut(4);
        let mut xc = x.chunks_exact(4);
        let mut wc = w.chunks_exact(4);
        for ((a, xs), ws) in (&mut ac).zip(&mut xc).zip(&mut wc) {
            let (xv, wv) = (word(xs), word_u8(ws));
            let (xe, xo) = (sxtab16(nz, xv), sxtab16_ror8(nz, xv));
            let (we, wo) = (sxtb16(wv), sxtb16_ror8(wv));
            a[0] = smlabb(xe, we, a[0]);
            a[2] = smlatt(xe, we, a[2]);
            a[1] = smlabb(xo, wo, a[1]);
            a[3] = smlatt(xo, wo, a[3]);
        }
        super::scalar::tap(ac.into_remainder(), xc.remainder(), wc.remainder(), zx);
    }
}

/// The variant for cores without DSP.
pub mod scalar {
    /// See [`super::tap`].
    #[inline(always)]
    pub fn tap(acc: &mut [i32], x: &[i8], w: &[u8], zx: i32) {
        for ((a, &xv), &wv) in acc.iter_mut().zip(x).zip(w) {
            *a += (xv as i32 - zx) * wv as i8 as i32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_scalar_agree_on_extreme_values_and_odd_lengths() {
        let x: [i8; 23] = core::array::from_fn(|i| match i % 5 {
            0 => -128,
            1 => 127,
            _ => (i * 29 % 256) as u8 as i8,
        });
        let w: [u8; 23] = core::array::from_fn(|i| (i * 71 % 256) as u8 | 1);
        for zx in [-128, -3, 0, 127] {
            for n in 0..=23 {
                let mut a: [i32; 23] = core::array::from_fn(|i| (i as i32 - 11) << 20);
                let mut b = a;
                packed::tap(&mut a[..n], &x[..n], &w[..n], zx);
                scalar::tap(&mut b[..n], &x[..n], &w[..n], zx);
                assert_eq!(a, b, "zx {zx} n {n}");
            }
        }
    }
}
