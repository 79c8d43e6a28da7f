//! LayerNorm over channels, 32-bit inside the loops.
//!
//! For inputs `q_i` of any common scale `s` (clamped to ±[`LN_INPUT_LIMIT`]),
//! `S = Σ q_i` and `W = C Σ q_i² − S² = C² var(q)`, the normalised value is
//! `y_i = (C q_i − S) / sqrt(W + ε_W)` with `ε_W = ε C² / s²` (precomputed at
//! codegen). Per pixel the kernel does one statistics pass (an add and a
//! multiply-accumulate an element), then one integer reciprocal square root
//! (a seed table and two Newton steps, ~22 significant bits) folded with the
//! caller's output multiplier into one affine map `round((q_i a − b) / 2^sh)`,
//! and one output pass (on Cortex-M: LSL, SMLAL, ASR an element). Every step
//! is integer, so every target gives the same bits.

use super::requantize::{saturate_i32, Requant};

/// Per-op constants of an integer LayerNorm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerNormParams {
    /// `ε C² / s²` for inputs of scale `s`, rounded and saturated.
    pub eps_w: u64,
}

impl LayerNormParams {
    /// Constants from their field (what generated code writes).
    pub const fn new(eps_w: u64) -> Self {
        Self { eps_w }
    }
}

/// Fraction bits of [`Q16`].
pub const LN_FRAC_BITS: u32 = 16;

/// The output multiplier that hands out `y_i` in Q16 (for callers that
/// apply a per-channel affine afterwards).
pub const Q16: Requant = Requant::new(1 << 30, -(LN_FRAC_BITS as i32) - 1);

/// A normalised value `y` (Q16, from [`Q16`]) of channel `i` through its
/// affine to int8: `requant[i]` (γ over the output scale) and `offset[i]` (β
/// in output units plus the zero point), as the stem and the feature maps
/// store them.
#[inline(always)]
pub fn affine_i8(requant: &[u8], offset: &[u8], i: usize, y: i32) -> i8 {
    let rq = super::requantize::requant_at(requant, i);
    // The halved form where the multiplier has one (the same bits as
    // `apply_i32`); a sum past i32 saturates, and so past int8 either way.
    let v = match rq.halved() {
        Some(h) => h.apply(y, 1),
        None => rq.apply_i32(y),
    };
    super::requantize::clamp_i8(v.saturating_add(super::tables::i32_at(offset, i)))
}

/// Inputs beyond ±`LN_INPUT_LIMIT` are clamped (codegen maps the calibrated
/// maximum to 2^16, so this is 16x headroom). It keeps every sum below in
/// range: `|S| < 2^31` for up to `WIDE_C` (2048) channels.
pub const LN_INPUT_LIMIT: i32 = (1 << 20) - 1;

/// Up to this many channels `C Σq²` and `S²` stay below 2^62 (u64 sums);
/// wider LayerNorms take a 128-bit path once per pixel.
const WIDE_C: usize = 2048;

#[inline(always)]
fn clamp_input(q: i32) -> i32 {
    // One SSAT on Armv7E-M.
    q.clamp(-LN_INPUT_LIMIT - 1, LN_INPUT_LIMIT)
}

/// Normalise the `c` values `values()` yields (called twice: once for the
/// statistics, once for the output) and pass `(i, round(y_i · out))`,
/// saturated to i32, to `put`. A constant input with `ε = 0` gives zeros.
///
/// ```
/// use convnext::kernels::layer_norm::{layer_norm, LayerNormParams, Q16};
///
/// // Normalise [1, 3]: mean 2, standard deviation 1, so [-1, +1] in Q16.
/// let (x, mut y) = ([1i32, 3], [0i32; 2]);
/// layer_norm(|| x.iter().copied(), 2, &LayerNormParams::new(0), Q16, |i, v| y[i] = v);
/// assert_eq!(y, [-(1 << 16), 1 << 16]);
/// ```
#[inline(always)]
pub fn layer_norm<I: Iterator<Item = i32>>(
    values: impl Fn() -> I,
    c: usize,
    p: &LayerNormParams,
    out: Requant,
    mut put: impl FnMut(usize, i32),
) {
    let norm = PixelNorm::new(values(), c, p, out);
    if let Some(fast) = norm.fast() {
        for (i, q) in values().enumerate() {
            put(i, fast.apply(q));
        }
    } else {
        norm.each(values(), put);
    }
}

/// [`layer_norm`] in two steps, for callers with an output loop of their
/// own: one pixel's statistics and map ([`PixelNorm::new`]), then each
/// input through the fast form ([`PixelNorm::fast`]) or, for the rare
/// pixels without one, through [`PixelNorm::each`]. The same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelNorm {
    map: PixelMap,
}

/// [`PixelNorm`]'s fast form: one input to its output in a few
/// instructions (on Cortex-M: SSAT, LSL, SMLAL, ASR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastNorm(HighWordMap);

impl PixelNorm {
    /// The statistics of the `c` inputs `values` yields and their map to
    /// `out` (see [`layer_norm`]).
    #[inline(always)]
    pub fn new(
        values: impl Iterator<Item = i32>,
        c: usize,
        p: &LayerNormParams,
        out: Requant,
    ) -> Self {
        let (s, ss) = statistics(values, c);
        PixelNorm {
            map: pixel_map(c, s, ss, p.eps_w, out),
        }
    }

    /// [`PixelNorm::new`] from the statistics already summed: `s` and `ss`
    /// the sum and the sum of squares of the `c` inputs, each clamped to
    /// ±[`LN_INPUT_LIMIT`] first (`s` as the wrapping i32 sum where `c`
    /// is at most 2048, as [`layer_norm`] sums it).
    #[inline(always)]
    pub fn from_sums(c: usize, (s, ss): (i64, i64), p: &LayerNormParams, out: Requant) -> Self {
        PixelNorm {
            map: pixel_map(c, s, ss, p.eps_w, out),
        }
    }

    /// The fast form, when this pixel's map has one (the usual case).
    #[inline(always)]
    pub fn fast(&self) -> Option<FastNorm> {
        self.map.high_word().map(FastNorm)
    }

    /// Every input through the general form, `(i, output)` to `put`.
    #[inline(always)]
    pub fn each(&self, values: impl Iterator<Item = i32>, put: impl FnMut(usize, i32)) {
        general_output(values, self.map, put)
    }
}

impl FastNorm {
    /// `(pre, a, b, shift)`: the output of a clamped input `q` is the high
    /// word of `(q << pre) a − b` (64-bit), shifted right by `shift`; for
    /// SIMD forms of [`FastNorm::apply`].
    #[inline(always)]
    pub fn parts(self) -> (u32, i32, i64, u32) {
        let m = self.0;
        (m.pre, m.a, m.b_rounded, m.shift)
    }

    /// The output of input `q` (clamped first, as every input is).
    #[inline(always)]
    pub fn apply(self, q: i32) -> i32 {
        self.0.apply(clamp_input(q))
    }
}

/// The output pass for the rare pixels whose map has no high-word form, out
/// of the hot functions (generic, not `dyn`: the firmware's call graph has
/// no indirect calls, so `cargo xtask boards` can follow every one).
#[cold]
#[inline(never)]
fn general_output(
    values: impl Iterator<Item = i32>,
    map: PixelMap,
    mut put: impl FnMut(usize, i32),
) {
    for (i, q) in values.enumerate() {
        put(i, map.apply(clamp_input(q)));
    }
}

/// `(Σ q, Σ q²)` of the clamped inputs (`c` of them).
#[inline(always)]
fn statistics(values: impl Iterator<Item = i32>, c: usize) -> (i64, i64) {
    let mut ss = 0i64;
    if c <= WIDE_C {
        // An i32 sum of at most WIDE_C clamped inputs cannot overflow.
        let mut s = 0i32;
        for q in values {
            let q = clamp_input(q);
            s = s.wrapping_add(q);
            ss += q as i64 * q as i64;
        }
        (s as i64, ss)
    } else {
        let mut s = 0i64;
        for q in values {
            let q = clamp_input(q);
            s += q as i64;
            ss += q as i64 * q as i64;
        }
        (s, ss)
    }
}

/// `round((q a − b) / 2^shift)`, saturated to i32: one pixel's normalised
/// values times the output multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PixelMap {
    a: i32,
    b: i64,
    shift: i32,
}

/// [`PixelMap`] in the usual range (`21 <= shift <= 52`): `q` shifted left
/// by `pre` (at most 11, so a clamped input stays in i32) to bring the shift
/// to at least 32, the rounding folded into `b`, the result the high word of
/// the 64-bit difference, shifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HighWordMap {
    pre: u32,
    a: i32,
    b_rounded: i64,
    shift: u32,
}

impl HighWordMap {
    #[inline(always)]
    fn apply(self, q: i32) -> i32 {
        // |q 2^pre| < 2^31, |a| < 2^31 and |b 2^pre| < 2^62: the difference
        // never overflows, and its high word shifted is the floor of the
        // whole shifted.
        let v = ((q << self.pre) as i64 * self.a as i64 - self.b_rounded) >> 32;
        (v as i32) >> self.shift
    }
}

impl PixelMap {
    /// Every input to zero.
    const ZERO: PixelMap = PixelMap {
        a: 0,
        b: 0,
        shift: 0,
    };

    /// The fast form, when the shift allows it.
    #[inline(always)]
    fn high_word(self) -> Option<HighWordMap> {
        if !(21..=52).contains(&self.shift) {
            return None;
        }
        let pre = (32 - self.shift).max(0);
        // |b| < 2^51 (see `pixel_map`), so b 2^11 stays below 2^62.
        let b = self.b << pre;
        Some(HighWordMap {
            pre: pre as u32,
            a: self.a,
            b_rounded: b - (1i64 << (self.shift + pre - 1)),
            shift: (self.shift + pre - 32) as u32,
        })
    }

    /// The general form (any shift; the rare pixels).
    /// Out of line: one copy for every caller's [`general_output`].
    #[inline(never)]
    fn apply(self, q: i32) -> i32 {
        let v = q as i64 * self.a as i64 - self.b;
        if self.shift > 62 {
            0
        } else if self.shift > 0 {
            saturate_i32((v + (1i64 << (self.shift - 1))) >> self.shift)
        } else {
            // |v| < 2^52, so a left shift of up to 64 fits in i128.
            let wide = (v as i128) << (-self.shift).min(64);
            wide.clamp(i32::MIN as i128, i32::MAX as i128) as i32
        }
    }
}

/// The affine map of one pixel from its statistics.
fn pixel_map(c: usize, s: i64, ss: i64, eps_w: u64, out: Requant) -> PixelMap {
    let (wp, e_wide) = if c <= WIDE_C {
        // C Σq² <= 2^11 · 2^11 · 2^40 and S² <= 2^62: all in u64, and
        // W >= 0 (Cauchy–Schwarz) so nothing wraps.
        let w = (c as u64 * ss as u64) - (s * s) as u64;
        (w.saturating_add(eps_w), 0)
    } else {
        wide_variance(c, s, ss, eps_w)
    };
    if wp == 0 {
        return PixelMap::ZERO;
    }
    let (w, e) = normalise(wp);
    let e = e + e_wide;
    let r = rsqrt_q30(w);
    // 1 / sqrt(W') = r 2^-(46 + e); times out = mult 2^-(31 + shift).
    let m = (out.mult as i64 * r as i64) >> 31;
    let f = 46 + e + out.shift;
    // a = C m, brought below 2^31; b = S m with the same shift, so
    // q a − b = (C q − S) m / 2^t to within |q| + 1 units.
    let cm = c as i64 * m;
    let t = (64 - cm.unsigned_abs().leading_zeros() as i32 - 31).max(0);
    PixelMap {
        a: (cm >> t) as i32,
        b: if c <= WIDE_C {
            // |S| <= 2^31 and |m| < 2^31.1: the product fits in i64.
            (s * m) >> t
        } else {
            ((s as i128 * m as i128) >> t) as i64
        },
        shift: f - t,
    }
}

/// `W + ε_W` for more than [`WIDE_C`] channels, shifted right by `2 e` to
/// fit in u64: `(value, e)`.
#[cold]
fn wide_variance(c: usize, s: i64, ss: i64, eps_w: u64) -> (u64, i32) {
    let w = (c as u128 * ss as u128) - (s as i128 * s as i128) as u128 + eps_w as u128;
    let k = ((128 - w.leading_zeros()).saturating_sub(64) as i32 + 1) / 2;
    ((w >> (2 * k)) as u64, k)
}

/// `w` in `[2^30, 2^32)` and `e` with `wp ≈ w 2^(2e)` (`wp > 0`).
#[inline]
fn normalise(wp: u64) -> (u32, i32) {
    let bits = 64 - wp.leading_zeros() as i32;
    if bits > 32 {
        let e = (bits - 31) / 2;
        ((wp >> (2 * e)) as u32, e)
    } else {
        let e = -((32 - bits) / 2);
        ((wp << (-2 * e)) as u32, e)
    }
}

/// Seeds of [`rsqrt_q30`]: `1 / sqrt(x)` in Q30 at the midpoints of 48
/// intervals covering `x = w / 2^32` in `[1/4, 1)`.
const RSQRT_SEEDS: [u32; 48] = {
    let mut t = [0u32; 48];
    let mut j = 0;
    while j < 48 {
        // x = (2j + 33) / 128: 2^30 / sqrt(x) = sqrt(2^67 / (2j + 33)).
        t[j] = ((1u128 << 67) / (2 * j as u128 + 33)).isqrt() as u32;
        j += 1;
    }
    t
};

/// `2^30 / sqrt(w / 2^32)` for `w` in `[2^30, 2^32)`: a seed within 1.6%,
/// then two Newton steps `r (3 − x r²) / 2` (relative error below 3e-7).
#[inline]
fn rsqrt_q30(w: u32) -> u32 {
    let mut r = RSQRT_SEEDS[((w >> 26) as usize).saturating_sub(16).min(47)];
    for _ in 0..2 {
        let r2 = (r as u64 * r as u64) >> 32; // Q28
        let xr2 = (w as u64 * r2) >> 32; // Q28
        let f = (3u64 << 28).saturating_sub(xr2);
        r = ((r as u64 * f) >> 29) as u32;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;

    fn run(x: &[i32], eps_w: u64, out: Requant) -> Vec<i32> {
        let mut y = vec![0; x.len()];
        let p = LayerNormParams::new(eps_w);
        layer_norm(|| x.iter().copied(), x.len(), &p, out, |i, v| y[i] = v);
        y
    }

    /// The float LayerNorm the kernel approximates, times `out`, saturated.
    fn float(x: &[i32], eps_w: u64, out: Requant) -> Vec<f64> {
        let q: Vec<f64> = x.iter().map(|&v| clamp_input(v) as f64).collect();
        let c = q.len() as f64;
        let mean = q.iter().sum::<f64>() / c;
        let var = q.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c;
        let std = (var + eps_w as f64 / (c * c)).sqrt();
        q.iter()
            .map(|v| ((v - mean) / std * out.to_real()).clamp(i32::MIN as f64, i32::MAX as f64))
            .collect()
    }

    #[test]
    fn matches_float_layer_norm_to_its_precision() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        // Miri interprets every instruction: fewer trials there.
        let trials = if cfg!(miri) { 12 } else { 4000 };
        for trial in 0..trials {
            let s = next();
            let c = [1, 2, 3, 7, 40, 160, 641, 2048, 2050][(s % 9) as usize];
            let mag = 1i64 << ((s >> 8) % 24);
            let x: Vec<i32> = (0..c)
                .map(|i| {
                    let h = s.wrapping_mul(i as u64 * 2 + 1).rotate_left(17) as i64;
                    (h % mag) as i32
                })
                .collect();
            let eps_w = [0, 1, (s >> 40) % 5000, 1 << 40][(s >> 4) as usize % 4];
            let out = [
                Q16,
                Requant::from_real(12.7),
                Requant::from_real(0.01),
                Requant::from_real((1 << 24) as f64),
            ][(s >> 12) as usize % 4];
            let (got, want) = (run(&x, eps_w, out), float(&x, eps_w, out));
            if want.iter().any(|v| v.is_nan()) {
                // Constant input without ε: defined as zeros.
                assert!(got.iter().all(|&v| v == 0), "trial {trial}");
                continue;
            }
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let tol = 0.51 + 1e-6 * w.abs();
                assert!(
                    (g as f64 - w).abs() <= tol,
                    "trial {trial}: c {c} eps {eps_w} {out:?} [{i}]: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn the_high_word_form_gives_the_general_forms_bits() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20000 {
            let s = next();
            let shift = 21 + (s % 32) as i32;
            let a = (s >> 8) as i32;
            let b = (s as i64) >> 13; // |b| < 2^51
            let q = clamp_input((s.rotate_left(29) as i32) >> (s % 12));
            let map = PixelMap { a, b, shift };
            let fast = map.high_word().expect("in range");
            assert_eq!(fast.apply(q), map.apply(q), "{map:?} q {q}");
        }
    }

    #[test]
    fn extremes_saturate_instead_of_overflowing() {
        let c = 3000;
        let x: Vec<i32> = (0..c)
            .map(|i| if i % 2 == 0 { i32::MAX } else { i32::MIN })
            .collect();
        let got = run(&x, 0, Requant::from_real(100.0));
        assert!(
            got.iter().all(|&v| v == 100 || v == -100),
            "{:?}",
            &got[..4]
        );
        let huge = run(&[0, 1], 0, Requant::from_real(1e12));
        assert_eq!(huge, [i32::MIN, i32::MAX]);
    }

    #[test]
    fn constant_input_gives_zero_not_a_division_by_zero() {
        assert_eq!(run(&[7; 4], 0, Q16), [0; 4]);
    }
}
