//! Pointwise (1x1) dot products tiled over 2 pixels and 2 output rows, the
//! inner loop of the blocks' MLP. Each sign-extended input word feeds both
//! rows and each weight word both pixels; with both operand pairs stored
//! *paired* ([`paired_offset`]: the two rows' 4-byte chunks alternate) one
//! LDRD fetches a word of each, so a 2x2 tile spends 20 instructions on 16
//! MACs on Armv7E-M (2 LDRD, 8 SXTB16, 8 SMLAD, 2 loop) with every value in
//! registers. Integer sums are exact in any order: every variant gives the
//! same bits.
//!
//! The forms (DSP, portable, SSE2, AVX2) are the implementations of
//! [`PairDot`] under [`super::arch`]; [`dot_pairs`] runs the one this
//! target runs.

use super::arch::Native;
use super::frame::{Acc, PairDot, PairRun};
use super::tables::i32_at;

/// Offset of element `k` of row `r` in `rows` rows of `len` laid out for
/// 2-row tiles: rows go in pairs; inside a pair the two rows' whole 4-byte
/// chunks alternate (`a0..a3 b0..b3 a4..a7 b4..b7 ...`), then row `a`'s
/// `len % 4` tail, then row `b`'s; a last odd row is plain.
///
/// ```
/// use convnext::kernels::pointwise::paired_offset;
/// // Two rows of 5: a0..a3 b0..b3 a4 b4.
/// assert_eq!(paired_offset(1, 2, 2, 5), 6);
/// assert_eq!(paired_offset(0, 4, 2, 5), 8);
/// assert_eq!(paired_offset(1, 4, 2, 5), 9);
/// // A third, odd row is plain after the pair.
/// assert_eq!(paired_offset(2, 3, 3, 5), 13);
/// ```
#[inline(always)]
pub fn paired_offset(r: usize, k: usize, rows: usize, len: usize) -> usize {
    let base = (r & !1) * len;
    if r + 1 == rows && rows % 2 == 1 {
        return base + k;
    }
    let whole = len & !3;
    let b = r & 1;
    if k < whole {
        base + (k & !3) * 2 + b * 4 + (k & 3)
    } else {
        base + 2 * whole + b * (len - whole) + (k - whole)
    }
}

/// [`paired_offset`] for one or two rows (`rows`) whose length is a multiple
/// of 4, where it is plain arithmetic.
///
/// ```
/// use convnext::kernels::pointwise::{paired_offset, paired_offset_whole};
/// for rows in 1..=2 {
///     for r in 0..rows {
///         for k in 0..12 {
///             assert_eq!(paired_offset_whole(r, k, rows), paired_offset(r, k, rows, 12));
///         }
///     }
/// }
/// ```
#[inline(always)]
pub fn paired_offset_whole(r: usize, k: usize, rows: usize) -> usize {
    (k & !3) * rows + 4 * r + (k & 3)
}

/// Name of the form [`PairDot::dot_tile`] runs here, for profiles.
pub const VARIANT: &str = <Native as PairDot>::TILE_VARIANT;

/// Row pairs in turn: for each `j`, `out[j] = bias pair j + x · (pair j of
/// the weights)` (each pair `2 len` bytes of `run.weights`, its two biases
/// 8 bytes of `run.bias`), for as many pairs as `out`, the weights and the
/// biases hold; returns how many that was. The inputs are int8 paired
/// ([`PairDot::dot_tile`]), or with `WIDE` widened to i16
/// ([`PairDot::dot_wide`], [`super::pointwise_wide::wide_offset`]).
/// `run.wide` is the weights widened to i16
/// ([`super::prepared`]) or empty, which only the
/// host's AVX2 loop reads, and `run.live` the tile's pixels that count (the
/// others' sums may be left out of a last, partial tile). Where the target
/// has a loop for the whole run ([`PairDot::pairs`]: the DSP cores' `asm!`
/// loop, the host's AVX2 one) it runs that.
#[inline(always)]
pub fn dot_pairs<const WIDE: bool, const P: usize>(out: &mut [Acc<P, 2>], run: PairRun) -> usize {
    run_pairs::<WIDE, false, P>(out, run)
}

/// [`dot_pairs`] over widened inputs that use all 16 bits
/// ([`PairDot::dot_wide16`]: the blocks' i16 hidden vectors).
#[inline(always)]
pub fn dot_pairs16<const P: usize>(out: &mut [Acc<P, 2>], run: PairRun) -> usize {
    run_pairs::<true, true, P>(out, run)
}

/// [`dot_pairs`] and [`dot_pairs16`] (`FULL`).
#[inline(always)]
fn run_pairs<const WIDE: bool, const FULL: bool, const P: usize>(
    out: &mut [Acc<P, 2>],
    run: PairRun,
) -> usize {
    if let Some(n) = Native::pairs::<WIDE, P>(out, run) {
        return n;
    }
    let PairRun {
        x,
        weights,
        bias,
        len,
        ..
    } = run;
    let mut n = 0;
    let pairs = out
        .iter_mut()
        .zip(weights.chunks_exact((2 * len).max(1)))
        .zip(bias.chunks_exact(8));
    for ((o, w), b) in pairs {
        *o = [[i32_at(b, 0), i32_at(b, 1)]; P];
        if FULL {
            Native::dot_wide16(o, (x, w));
        } else if WIDE {
            Native::dot_wide(o, (x, w));
        } else {
            Native::dot_tile(o, (x, w), len);
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_offsets_are_a_permutation() {
        for rows in 1..=3 {
            for len in 0..=9 {
                let mut seen = [false; 27];
                for r in 0..rows {
                    for k in 0..len {
                        let o = paired_offset(r, k, rows, len);
                        assert!(o < rows * len && !seen[o], "{rows}x{len}: {r},{k}");
                        seen[o] = true;
                    }
                }
            }
        }
    }
}
