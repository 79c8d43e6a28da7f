//! The DSP forms of the pointwise dot products (SXTB16 + SMLAD through
//! [`super::simd32`]): [`packed`] over int8 operands, [`wide`] over widened
//! inputs, [`dot`] the single dot product of the stem and classifier.

/// The DSP variant: four int8 pairs per word, two SMLAD per word pair.
pub mod packed {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};
    use crate::kernels::arch::portable::pointwise::{split_tile, tail_products, Pair};
    use crate::kernels::frame::Acc;

    /// `acc[p][r] += x_p · w_r` (see [`crate::kernels::frame::PairDot::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(acc: &mut Acc<P, R>, xw: Pair, len: usize) {
        let Some(((xq, wq), tail)) = split_tile::<P, R>(xw, len) else {
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
        tail_products(&mut a, tail, len & 3);
        *acc = a;
    }
}

/// The DSP variant: two SXTB16 per weight word, the input words as stored.
pub mod wide {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};
    use crate::kernels::arch::portable::pointwise::{whole_chunks, Pair};
    use crate::kernels::frame::Acc;

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

    /// `acc[p][r] += x_p · w_r` (see [`crate::kernels::frame::PairDot::dot_wide`]).
    #[inline(always)]
    pub fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: Pair) {
        let Some((x, w)) = whole_chunks::<P>(xw) else {
            return;
        };
        let turns = w.len() / 16;
        let chunks = w.len() / 8;
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

/// The single dot product: four int8 pairs a word, two SMLAD.
pub mod dot {
    use super::super::simd32::{smlad, sxtb16, sxtb16_ror8, word, word_u8};

    /// `acc + Σ a[i] b[i]`, `b` holding int8 two's-complement bytes.
    pub fn dot(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
        let n = a.len().min(b.len());
        let (a4, b4) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
        let (ra, rb) = (a4.remainder(), b4.remainder());
        for (x, y) in a4.zip(b4) {
            let (xa, yb) = (word(x), word_u8(y));
            acc = smlad(sxtb16(xa), sxtb16(yb), acc);
            acc = smlad(sxtb16_ror8(xa), sxtb16_ror8(yb), acc);
        }
        crate::kernels::arch::portable::pointwise::dot_i8(acc, ra, rb)
    }
}
