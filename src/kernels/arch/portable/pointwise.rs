//! The portable forms of the pointwise dot products: plain
//! multiply-accumulates over the paired layouts, for cores without DSP
//! ([`scalar`], [`wide`]) and hosts without a SIMD form ([`lanes`]).

use crate::kernels::frame::Acc;

/// The rows' tails a tile loop leaves: `P` rows of `x`, `R` rows of `w`.
pub(crate) type Tail<'a> = (&'a [i8], &'a [u8]);

/// A tile's operands: the inputs and the weights.
pub(crate) type Pair<'a> = (&'a [i8], &'a [u8]);

/// A tile's operands cut once: `P` rows of `x` and `R` of `w`, each as its
/// whole 4-element chunks (paired) and its tail; `None` if either is short.
#[inline(always)]
#[allow(clippy::type_complexity)]
pub(crate) fn split_tile<'a, const P: usize, const R: usize>(
    (x, w): (&'a [i8], &'a [u8]),
    len: usize,
) -> Option<((&'a [i8], &'a [u8]), Tail<'a>)> {
    let whole = len & !3;
    let (xq, xt) = x.get(..P * len)?.split_at_checked(P * whole)?;
    let (wq, wt) = w.get(..R * len)?.split_at_checked(R * whole)?;
    Some(((xq, wq), (xt, wt)))
}

/// Widened inputs of `P` pixels and two paired weight rows cut to their
/// whole 8-byte weight chunks; `None` if the inputs are short.
#[inline(always)]
pub(crate) fn whole_chunks<const P: usize>((x, w): Pair) -> Option<Pair> {
    let chunks = w.len() / 8;
    Some((x.get(..8 * P * chunks)?, w.get(..8 * chunks)?))
}

/// The products of the last `tail` (< 4) elements of each row: `xt` holds
/// `P` rows' tails, `wt` `R` rows' tails, each `tail` long (what the tile
/// loops leave after their 4-element chunks).
#[inline(always)]
pub(crate) fn tail_products<const P: usize, const R: usize>(
    acc: &mut Acc<P, R>,
    t: Tail,
    tail: usize,
) {
    let (xt, wt) = t;
    let tail = tail.max(1);
    for (ap, xp) in acc.iter_mut().zip(xt.chunks(tail)) {
        for (a, wr) in ap.iter_mut().zip(wt.chunks(tail)) {
            for (x, w) in xp.iter().zip(wr) {
                *a += *x as i32 * *w as i8 as i32;
            }
        }
    }
}

/// The variant for cores without DSP: plain multiply-accumulates over the
/// same layout, each loaded value still feeding the other dimension.
pub mod scalar {
    use super::Pair;
    use crate::kernels::frame::Acc;

    /// `acc[p][r] += x_p · w_r` (see [`crate::kernels::frame::PairDot::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(acc: &mut Acc<P, R>, xw: Pair, len: usize) {
        let Some(((xq, wq), tail)) = super::split_tile::<P, R>(xw, len) else {
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
        super::tail_products(acc, tail, len & 3);
    }
}

/// The host variant (any OS, where there is one): four i32 lanes per
/// operand pair, one per position in a 4-byte chunk, summed at the end, which
/// the compiler turns into SIMD multiply-adds. Firmware for cores without DSP
/// keeps [`scalar`] (the lanes cost the Cortex-M0+ registers it has not got).
pub mod lanes {
    use super::Pair;
    use crate::kernels::frame::Acc;

    /// `acc[p][r] += x_p · w_r` (see [`crate::kernels::frame::PairDot::dot_tile`]).
    #[inline(always)]
    pub fn dot_tile<const P: usize, const R: usize>(acc: &mut Acc<P, R>, xw: Pair, len: usize) {
        let Some(((xq, wq), tail)) = super::split_tile::<P, R>(xw, len) else {
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
        super::tail_products(acc, tail, len & 3);
    }
}

/// Plain multiply-accumulates over the same layout: cores without DSP, and
/// the host when it has no SIMD form.
pub mod wide {
    use super::Pair;
    use crate::kernels::frame::Acc;
    use crate::kernels::pointwise_wide::wide_offset;

    /// `acc[p][r] += x_p · w_r` over whole i16 inputs (see
    /// [`crate::kernels::frame::PairDot::dot_wide16`]).
    #[inline(always)]
    pub fn dot_wide16<const P: usize>(acc: &mut Acc<P, 2>, xw: Pair) {
        dot::<P, true>(acc, xw)
    }

    /// `acc[p][r] += x_p · w_r` (see [`crate::kernels::frame::PairDot::dot_wide`]).
    #[inline(always)]
    pub fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: Pair) {
        dot::<P, false>(acc, xw)
    }

    /// Both: the whole halfwords with `FULL`, else the low bytes alone (a
    /// widened int8, one load instead of two on cores without DSP).
    #[inline(always)]
    fn dot<const P: usize, const FULL: bool>(acc: &mut Acc<P, 2>, xw: Pair) {
        let Some((x, w)) = super::whole_chunks::<P>(xw) else {
            return;
        };
        for (xc, wc) in x.chunks_exact(8 * P).zip(w.chunks_exact(8)) {
            for k in 0..4 {
                let (w0, w1) = (wc[k] as i8 as i32, wc[4 + k] as i8 as i32);
                for (p, ap) in acc.iter_mut().enumerate() {
                    let at = wide_offset(p, k, P);
                    // (`at + 1 <= 8 P - 1`: inside the chunk.)
                    let xv = match FULL {
                        true => i16::from_le_bytes([xc[at] as u8, xc[at + 1] as u8]) as i32,
                        false => xc[at] as i32,
                    };
                    ap[0] += xv * w0;
                    ap[1] += xv * w1;
                }
            }
        }
    }
}

/// `acc + Σ a[i] b[i]`, `b` holding int8 two's-complement bytes.
#[inline]
pub fn dot_i8(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
    for (x, y) in a.iter().zip(b) {
        acc += *x as i32 * *y as i8 as i32;
    }
    acc
}
