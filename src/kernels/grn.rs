//! Global Response Normalization (ConvNeXt V2) over a block's int8 hidden
//! activations `a` (scale `s_a`, zero point `z_a`), integer-only.
//!
//! In real numbers, per hidden channel `j`: `G_j = ||h_j||₂` over all
//! pixels, `N_j = G_j / (mean_k G_k + ε)`, `h'_j = h_j (1 + w_j N_j) + b_j`.
//! The fused block never holds the hidden tensor whole, so it runs twice
//! (`kernels::block`): a first pass recomputes every pixel's hidden vector
//! only to sum `Q_j = Σ (a_j − z_a)²` ([`accumulate`]), [`GrnParams::factors`] turns
//! the sums into one Q16 factor `f_j = 1 + w_j N_j` per channel, and the
//! second pass maps each activation to the GRN output's int8
//! ([`GrnParams::apply`]): `round((a − z_a) f_j · s_a / (2¹⁶ s_g)) + o_j`.
//!
//! The arithmetic: `R_j = isqrt(Q_j · 2²⁸)` (`√Q_j` in Q14), `D = Σ R_j + E`
//! (`E` is ε in those units, times 4C, from codegen), one reciprocal
//! `⌊2⁶² / D⌋` per block, then `N_j = R_j · 4C · recip >> 46` in Q16. Every
//! step is an integer operation with one defined result, so every target
//! gives the same bits.

use super::in_place_map::{HOST_TILE_PIXELS, TILE_PIXELS};
use super::pointwise_wide::wide_offset;
use super::requantize::{saturate_i8, Requant};
use super::tables::i32_at;

/// The most pixels a GRN tile has (the host's tiles; GRN blocks take no
/// groups of them).
const MAX_LANES: usize = if HOST_TILE_PIXELS > TILE_PIXELS {
    HOST_TILE_PIXELS
} else {
    TILE_PIXELS
};

/// Constants of one block's GRN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrnParams<B = &'static [u8]> {
    /// Zero point `z_a` of the activations GRN reads.
    pub act_zero_point: i32,
    /// Per hidden channel (i32): `w_j` in Q16.
    pub weight: B,
    /// Per hidden channel (i32): `b_j / s_g` rounded, plus the output zero
    /// point `z_g`.
    pub offset: B,
    /// `s_a / (2¹⁶ s_g)`: a Q16-scaled activation to the output's units.
    pub out_requant: Requant,
    /// GRN's ε (1e-6) in the units of `Σ R_j`: `round(ε / s_a · 2¹⁴ · 4C)`.
    pub eps_sum: u64,
}

/// Bytes of the statistics (then factors) a block with GRN keeps in its
/// scratch: one u32 per hidden channel.
pub const fn stats_bytes(hidden: usize) -> usize {
    4 * hidden
}

/// Largest `|f_j|` in Q16 (128): keeps `(a − z_a) f_j` inside an i32.
const FACTOR_LIMIT: i64 = 1 << 23;

/// A little-endian word of 4 bytes.
#[inline(always)]
fn word(s: &[i8]) -> u32 {
    match s {
        [a, b, c, d, ..] => u32::from_le_bytes([*a as u8, *b as u8, *c as u8, *d as u8]),
        _ => 0,
    }
}

/// Add `(a − z_a)²` of a tile's hidden vectors to `stats` (u32 per channel,
/// little-endian, saturating). The vectors are laid out as the MLP writes
/// them (groups of 4 channels, each `lanes` pixels x 4 bytes; one pixel is
/// plain channel order), the first `n` pixels real: one pass in memory
/// order, each group's 4 sums in registers.
pub fn accumulate(stats: &mut [i8], hidden: &[i8], za: i32, (n, lanes): (usize, usize)) {
    for (st, group) in stats
        .chunks_exact_mut(16)
        .zip(hidden.chunks_exact((4 * lanes).max(1)))
    {
        let mut q = [word(st), word(&st[4..]), word(&st[8..]), word(&st[12..])];
        for px in group.chunks_exact(4).take(n) {
            for (s, &a) in q.iter_mut().zip(px) {
                let d = a as i32 - za;
                *s = s.saturating_add((d * d) as u32);
            }
        }
        for (dst, s) in st.chunks_exact_mut(4).zip(q) {
            for (b, v) in dst.iter_mut().zip(s.to_le_bytes()) {
                *b = v as i8;
            }
        }
    }
}

impl<B: AsRef<[u8]>> GrnParams<B> {
    /// [`GrnParams::apply`] over a tile's hidden vectors in place (the
    /// layout of [`accumulate`]), with the factors from
    /// [`GrnParams::factors`].
    pub fn apply_tile(&self, factors: &[i8], hidden: &mut [i8], lanes: usize) {
        let za = self.act_zero_point;
        let groups = factors
            .chunks_exact(16)
            .zip(hidden.chunks_exact_mut((4 * lanes).max(1)));
        for (g, (fs, group)) in groups.enumerate() {
            let f = [word(fs), word(&fs[4..]), word(&fs[8..]), word(&fs[12..])];
            for px in group.chunks_exact_mut(4) {
                for (r, (a, &f)) in px.iter_mut().zip(&f).enumerate() {
                    *a = self.apply(*a, za, 4 * g + r, f as i32);
                }
            }
        }
    }

    /// [`GrnParams::apply_tile`] into i16 outputs clamped to
    /// `-limit..limit`: `hidden` holds the tile's paired int8 activations
    /// in its first half and gets the widened outputs
    /// ([`crate::kernels::pointwise_wide::wide_offset`]) over all of it.
    /// Group `g` of four rows widens from `4 lanes g` to `8 lanes g`, so
    /// going from the last group to the first each is read before anything
    /// is written over it.
    pub fn apply_tile16(&self, factors: &[i8], hidden: &mut [i8], lanes: usize, limit: i32) {
        let za = self.act_zero_point;
        let lanes = lanes.min(MAX_LANES);
        let groups = (factors.len() / 16).min(hidden.len() / (8 * lanes).max(1));
        for g in (0..groups).rev() {
            // The group's activations, copied out before anything is
            // written over them.
            let mut a = [[0i8; 4]; MAX_LANES];
            let src = hidden.get(4 * lanes * g..).unwrap_or_default();
            for (d, s) in a.iter_mut().zip(src.chunks_exact(4)).take(lanes) {
                for (d, &s) in d.iter_mut().zip(s) {
                    *d = s;
                }
            }
            let Some(fs) = factors.get(16 * g..).and_then(|f| f.first_chunk::<16>()) else {
                continue;
            };
            let f = [word(fs), word(&fs[4..]), word(&fs[8..]), word(&fs[12..])];
            for (t, px) in a.iter().enumerate().take(lanes) {
                for (r, (&q, &f)) in px.iter().zip(&f).enumerate() {
                    let v = self.apply_i32(q, za, 4 * g + r, f as i32);
                    let [lo, hi] = (v.max(-limit).min(limit - 1) as i16).to_le_bytes();
                    let at = wide_offset(t, 4 * g + r, lanes);
                    if let Some(o) = hidden.get_mut(at..).and_then(|h| h.first_chunk_mut::<2>()) {
                        *o = [lo as i8, hi as i8];
                    }
                }
            }
        }
    }

    /// Parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        self.weight.as_ref().len() + self.offset.as_ref().len()
    }

    /// Turn the sums in `stats` (u32 per channel) into the Q16 factors
    /// `f_j` (i32 per channel), in place.
    pub fn factors(&self, stats: &mut [i8], hidden: usize) {
        let word = |s: &[i8]| u32::from_le_bytes([s[0] as u8, s[1] as u8, s[2] as u8, s[3] as u8]);
        let root = |q: u32| ((q as u64) << 28).isqrt();
        let sum: u64 = stats
            .chunks_exact(4)
            .take(hidden)
            .map(|s| root(word(s)))
            .sum();
        let d = sum.saturating_add(self.eps_sum).max(1);
        let recip = (1u64 << 62) / d;
        for (j, s) in stats.chunks_exact_mut(4).take(hidden).enumerate() {
            let r = root(word(s)) as u128;
            let n = ((r * hidden as u128 * recip as u128) >> 46).min(u32::MAX as u128) as i64;
            let w = i32_at(self.weight.as_ref(), j) as i64;
            let f = ((1 << 16) + ((w * n) >> 16)).clamp(-FACTOR_LIMIT, FACTOR_LIMIT);
            for (b, v) in s.iter_mut().zip((f as i32).to_le_bytes()) {
                *b = v as i8;
            }
        }
    }

    /// The GRN output (int8) of activation `a` of channel `j`, whose factor
    /// is `f` (from [`GrnParams::factors`]).
    #[inline(always)]
    pub fn apply(&self, a: i8, za: i32, j: usize, f: i32) -> i8 {
        saturate_i8(self.apply_i32(a, za, j, f) as i64)
    }

    /// [`GrnParams::apply`] before saturating to int8.
    #[inline(always)]
    pub fn apply_i32(&self, a: i8, za: i32, j: usize, f: i32) -> i32 {
        let v = self.out_requant.apply_i32((a as i32 - za) * f);
        v.saturating_add(i32_at(self.offset.as_ref(), j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_the_real_formula() {
        // Four channels, activations of scale 0.05 around zero point 3.
        let (sa, za, hidden) = (0.05f64, 3, 4);
        let pixels: [[i32; 4]; 3] = [[10, -20, 3, 90], [-7, 40, 3, 5], [0, 1, 3, -60]];
        let w = [0.5f64, -1.0, 2.0, 0.25];
        let weight: Vec<u8> = w
            .iter()
            .flat_map(|v| ((v * 65536.0).round() as i32).to_le_bytes())
            .collect();
        let eps_sum = (1e-6 / sa * 16384.0 * hidden as f64).round() as u64;
        let p = GrnParams {
            act_zero_point: za,
            weight: &weight[..],
            offset: &[0u8; 16][..],
            out_requant: Requant::from_real(1.0),
            eps_sum,
        };
        let mut stats = [0i8; 16];
        for px in &pixels {
            accumulate(&mut stats, &px.map(|v| v as i8), za, (1, 1));
        }
        p.factors(&mut stats, hidden);
        let g: Vec<f64> = (0..hidden)
            .map(|j| {
                pixels
                    .iter()
                    .map(|px| (sa * (px[j] - za) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let mean = g.iter().sum::<f64>() / hidden as f64;
        for j in 0..hidden {
            let want = 1.0 + w[j] * g[j] / (mean + 1e-6);
            let word = <[i8; 4]>::try_from(&stats[4 * j..4 * j + 4]).unwrap();
            let got = i32::from_le_bytes(word.map(|b| b as u8)) as f64 / 65536.0;
            assert!((got - want).abs() < 1e-3, "channel {j}: {got} vs {want}");
        }
        // A zero channel (all at the zero point) gets the factor 1.
        assert_eq!(&stats[8..12], &65536i32.to_le_bytes().map(|b| b as i8));
    }

    #[test]
    fn silent_input_gives_unit_factors_without_dividing_by_zero() {
        let p = GrnParams {
            act_zero_point: 0,
            weight: &[0u8, 0, 1, 0][..],
            offset: &[0u8; 4][..],
            out_requant: Requant::from_real(1.0),
            eps_sum: 0,
        };
        let mut stats = [0i8; 4];
        p.factors(&mut stats, 1);
        assert_eq!(i32::from_le_bytes(stats.map(|b| b as u8)), 1 << 16);
    }
}
