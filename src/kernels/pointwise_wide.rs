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

#[cfg(test)]
mod tests {
    use super::super::arch::Native;
    use super::super::frame::{PairDot, PairRun};
    use super::super::pointwise::dot_pairs;
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
        let run = PairRun {
            x: &x,
            weights: &w,
            wide: &[],
            bias: &bias,
            len,
            live: 2,
        };
        assert_eq!(dot_pairs::<true, 2>(&mut out, run), 3);
        for (j, o) in out.iter().take(3).enumerate() {
            let b = [i32_at(&bias, 2 * j), i32_at(&bias, 2 * j + 1)];
            let mut want = [b; 2];
            Native::dot_wide(&mut want, (&x, &w[32 * j..32 * (j + 1)]));
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
