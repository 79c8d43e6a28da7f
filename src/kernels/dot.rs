//! A single int8 dot product, for the stem convolution and the classifier
//! (the blocks and downsamples use the tiled [`super::pointwise`]). Integer
//! sums are exact whatever the order, so the DSP path gives the same bits as
//! the portable one.
//!
//! With DSP four int8 pairs go through two SXTB16 and two SMLAD per 32-bit
//! load; elsewhere a plain loop the compiler vectorises.

/// `sum a[i] * b[i]` with `b` holding int8 two's-complement bytes; `acc` is the
/// starting value.
#[inline]
pub fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
    #[cfg(any(convnext_dsp, convnext_packed))]
    {
        dsp::dot(acc, a, b)
    }
    #[cfg(not(any(convnext_dsp, convnext_packed)))]
    {
        portable(acc, a, b)
    }
}

#[inline]
fn portable(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
    for (x, y) in a.iter().zip(b) {
        acc += *x as i32 * *y as i8 as i32;
    }
    acc
}

/// The DSP form, through [`super::simd32`] (on the host too with
/// `CONVNEXT_PACKED_ON_HOST=1`, for the tests).
#[cfg(any(convnext_dsp, convnext_packed))]
mod dsp {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};

    pub(super) fn dot(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
        let n = a.len().min(b.len());
        let (a4, b4) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
        let (ra, rb) = (a4.remainder(), b4.remainder());
        for (x, y) in a4.zip(b4) {
            let (xa, yb) = (word(x), word_u8(y));
            acc = smlad(sxtb16(xa), sxtb16(yb), acc);
            acc = smlad(sxtb16_ror8(xa), sxtb16_ror8(yb), acc);
        }
        super::portable(acc, ra, rb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        let a: [i8; 13] = [-128, 127, 5, -7, 0, 99, -100, 3, 1, -1, 64, -64, 17];
        let b: [u8; 13] = [0x80, 0x7f, 2, 250, 9, 1, 2, 200, 255, 1, 64, 192, 33];
        for n in 0..=13 {
            let want: i32 = (0..n).map(|i| a[i] as i32 * b[i] as i8 as i32).sum::<i32>() + 7;
            assert_eq!(dot_i8(7, &a[..n], &b[..n]), want, "n = {n}");
        }
    }
}
