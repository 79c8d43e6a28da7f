//! Pointwise dot products whose input is already widened to i16: the blocks'
//! pw1, whose input (the LayerNorm output) is written once per pixel and read
//! by all `4C` rows. The LayerNorm writes it as i16 in the order SXTB16
//! unpacks the weights ([`wide_offset`]), so a 2x2 tile step loads two words
//! per pixel and one per weight row, sign-extends only the weights, and
//! spends 18 instructions on 16 MACs (plus the loop's 3 every two steps) on
//! Armv7E-M against 20 for two int8 operands ([`super::pointwise`]). It costs `2C`
//! bytes of scratch per tile pixel instead of `C`.
//!
//! Rows are laid out as [`super::pointwise::paired_offset`] lays them out,
//! for two rows whose length is a multiple of 4.

use super::arch::Native;
use super::frame::PairDot;

/// Byte offset of the i16 of channel `i` of pixel `t` in the widened input
/// of `pixels` pixels (each `len` long, a multiple of 4): per 4 channels,
/// each pixel's 8 bytes in turn; inside them channels 0, 2, 1, 3 (the halves
/// of the words SXTB16 makes of bytes 0, 2 and 1, 3).
///
/// ```
/// use convnext::kernels::pointwise_wide::wide_offset;
/// // Two pixels: a0 a2 a1 a3 b0 b2 b1 b3 a4 ...
/// assert_eq!(wide_offset(0, 1, 2), 4);
/// assert_eq!(wide_offset(1, 2, 2), 10);
/// assert_eq!(wide_offset(0, 4, 2), 16);
/// assert_eq!(wide_offset(0, 5, 1), 12);
/// ```
#[inline(always)]
pub fn wide_offset(t: usize, i: usize, pixels: usize) -> usize {
    let j = i & 3;
    (i & !3) * 2 * pixels + 8 * t + 4 * (j & 1) + 2 * (j >> 1)
}

/// Two pixels' widened vectors (`len` values each, [`wide_offset`]) back
/// to int8 in the paired layout ([`super::pointwise::paired_offset`]), as
/// far as both slices reach.
pub fn narrow_pair(wide: &[i8], paired: &mut [i8], len: usize) {
    for t in 0..2 {
        for i in 0..len {
            let at = super::pointwise::paired_offset(t, i, 2, len);
            if let (Some(&v), Some(d)) = (wide.get(wide_offset(t, i, 2)), paired.get_mut(at)) {
                *d = v;
            }
        }
    }
}

/// `acc[p][r] += x_p · w_r` for two paired weight rows `w` (`2 len` bytes,
/// `len` a multiple of 4; a shorter last chunk is ignored) and `P` pixels of
/// widened input `x` (laid out by [`wide_offset`], `2 len` bytes each;
/// nothing is added if `x` is shorter), with the form this target runs
/// ([`PairDot::dot_wide`]). Each input is an int8 widened: its high byte is
/// its low byte's sign, so the portable form reads the low byte alone (one
/// LDRSB on the Cortex-M0+).
#[inline(always)]
pub fn dot_wide<const P: usize>(acc: &mut [[i32; 2]; P], x: &[i8], w: &[u8]) {
    Native::dot_wide(acc, x, w)
}

/// Row pairs in turn: for each `j`, `out[j] = bias pair j + x · (pair j of
/// w)` (each pair `2 len` bytes of `w` as [`dot_wide`] takes them, its two
/// biases 8 bytes of `bias`), for as many pairs as `out`, `w` and `bias` hold;
/// returns how many that was. `wide` is `w` widened to i16
/// ([`super::block::BlockParams::host_wide`]) or empty; only the host's
/// AVX2 loop reads it, and `live` (the tile's pixels that count; the
/// others' sums may be left out of a last, partial tile). Where the
/// target has a loop for the whole run ([`PairDot::pairs_wide`]: the DSP
/// cores' `asm!` loop, the host's AVX2 one) it runs that.
#[inline(always)]
pub fn dot_pairs<const P: usize>(
    out: &mut [[[i32; 2]; P]],
    x: &[i8],
    (w, wide): (&[u8], &[u8]),
    bias: &[u8],
    (len, live): (usize, usize),
) -> usize {
    if let Some(n) = Native::pairs_wide(out, x, (w, wide), bias, (len, live)) {
        return n;
    }
    super::pointwise::each_pair(out, w, bias, len, |o, w| dot_wide(o, x, w))
}

#[cfg(test)]
mod tests {
    use super::super::tables::i32_at;
    use super::*;

    #[test]
    fn dot_pairs_runs_each_pair_from_its_biases() {
        let len = 16;
        // Widened int8 values: each high byte the sign of its low byte.
        let x: [i8; 64] = core::array::from_fn(|i| {
            let v = ((i / 2) as i8).wrapping_mul(37);
            if i % 2 == 0 {
                v
            } else {
                v >> 7
            }
        });
        let w: [u8; 96] = core::array::from_fn(|i| (i as u8).wrapping_mul(91));
        let bias: Vec<u8> = [5i32, -7, 1 << 20, -3, 9, 11]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // Room for four pairs, tables for three: three are run.
        let mut out = [[[0i32; 2]; 2]; 4];
        assert_eq!(dot_pairs(&mut out, &x, (&w, &[]), &bias, (len, 2)), 3);
        for (j, o) in out.iter().take(3).enumerate() {
            let b = [i32_at(&bias, 2 * j), i32_at(&bias, 2 * j + 1)];
            let mut want = [b; 2];
            dot_wide(&mut want, &x, &w[32 * j..32 * (j + 1)]);
            assert_eq!(*o, want, "pair {j}");
        }
        assert_eq!(out[3], [[0; 2]; 2]);
    }

    #[test]
    fn wide_offsets_are_a_permutation_of_the_even_bytes() {
        for pixels in 1..=2 {
            for len in [4, 8, 12, 20] {
                let mut seen = [false; 80];
                for t in 0..pixels {
                    for i in 0..len {
                        let o = wide_offset(t, i, pixels);
                        assert!(o.is_multiple_of(2) && o < 2 * pixels * len && !seen[o / 2]);
                        seen[o / 2] = true;
                    }
                }
            }
        }
    }
}
