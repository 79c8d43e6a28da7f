//! Fixed-point rescaling: `round(acc * mult / 2^(31 + shift))`, integer only,
//! so every target computes the same bits.

/// A real multiplier `m = mult * 2^-(31 + shift)`, `mult` normalised to
/// `[2^30, 2^31)` in magnitude (negative for negative `m`).
///
/// ```
/// use convnext::kernels::Requant;
///
/// let r = Requant::from_real(0.25);
/// assert_eq!(r.apply(10), 3); // 2.5 rounds half up
/// assert_eq!(r.apply(-10), -2);
/// assert_eq!(Requant::from_le_bytes(r.to_le_bytes()), r);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Requant {
    /// Q31 mantissa.
    pub mult: i32,
    /// Extra right shift (negative: left).
    pub shift: i32,
}

impl Requant {
    /// The multiplier that maps to zero.
    pub const ZERO: Requant = Requant { mult: 0, shift: 0 };

    /// Bytes of one multiplier in a parameter table: the mantissa, then the
    /// shift as one signed byte.
    pub const BYTES: usize = 5;

    /// A multiplier from its mantissa and shift (what generated code writes).
    pub const fn new(mult: i32, shift: i32) -> Requant {
        Requant { mult, shift }
    }

    /// Rescale `acc`, rounding half up. `|acc * mult|` must fit in i64,
    /// which holds for any i32 `acc`.
    #[inline]
    pub fn apply(self, acc: i64) -> i64 {
        let prod = acc * self.mult as i64;
        let total = 31 + self.shift;
        if total <= 0 {
            prod << (-total).min(62)
        } else if total >= 63 {
            0
        } else {
            (prod + (1i64 << (total - 1))) >> total
        }
    }

    /// [`Requant::apply`] on an i32, saturated to i32: the same bits, with a
    /// fast path for the usual multipliers (below 2^-2, `31 + shift` in
    /// 33..=62): the high word of the 64-bit product (one SMMUL on Cortex-M)
    /// plus a rounding bit, shifted. That is exact because the low word only
    /// moves the sum by less than one unit of the high word, and the rounding
    /// bit lies wholly in the high word.
    #[inline(always)]
    pub fn apply_i32(self, acc: i32) -> i32 {
        let total = 31 + self.shift;
        if (33..=62).contains(&total) {
            let hi = ((acc as i64 * self.mult as i64) >> 32) as i32;
            (hi + (1 << (total - 33))) >> (total - 32)
        } else {
            self.apply_i32_wide(acc)
        }
    }

    /// The rare multipliers of [`Requant::apply_i32`], out of line so the
    /// hot loops keep only the fast path (and their registers).
    #[cold]
    #[inline(never)]
    fn apply_i32_wide(self, acc: i32) -> i32 {
        saturate_i32(self.apply(acc as i64))
    }

    /// The nearest representable multiplier to `m` (codegen side).
    pub fn from_real(m: f64) -> Requant {
        if m == 0.0 || !m.is_finite() {
            return Requant::ZERO;
        }
        let mut shift = 0i32;
        let mut a = m.abs();
        // Normalise a into [0.5, 1).
        while a >= 1.0 {
            a /= 2.0;
            shift -= 1;
        }
        while a < 0.5 {
            a *= 2.0;
            shift += 1;
        }
        let mut q = (a * 2147483648.0 + 0.5) as i64;
        if q == 1 << 31 {
            q /= 2;
            shift -= 1;
        }
        let mult = if m < 0.0 { -q } else { q } as i32;
        Requant { mult, shift }
    }

    /// The nearest multiplier to `m` with the given `shift` (codegen side,
    /// for multipliers that share one: `shift` from [`Requant::from_real`]
    /// of the largest magnitude, so every mantissa fits; smaller ones keep
    /// fewer bits). Saturates where `m` does not fit.
    pub fn with_shift(m: f64, shift: i32) -> Requant {
        let mut v = m;
        for _ in 0..(31 + shift).max(0) {
            v *= 2.0;
        }
        for _ in (31 + shift)..0 {
            v /= 2.0;
        }
        // Half away from zero (`f64::round` is not in `core`); `as`
        // saturates, and a NaN goes to 0.
        let half = if v < 0.0 { -0.5 } else { 0.5 };
        let mult = ((v + half) as i64).clamp(-(i32::MAX as i64), i32::MAX as i64) as i32;
        Requant { mult, shift }
    }

    /// The real multiplier this represents.
    pub fn to_real(self) -> f64 {
        let mut v = self.mult as f64;
        let e = 31 + self.shift;
        for _ in 0..e.max(0) {
            v /= 2.0;
        }
        for _ in e..0 {
            v *= 2.0;
        }
        v
    }

    /// Table form: `mult` little-endian, then `shift` as a signed byte.
    /// Shifts beyond a byte behave like the byte's extremes in
    /// [`Requant::apply`] (the result is 0, or the product shifted left by
    /// 62), so clamping them keeps every output.
    pub fn to_le_bytes(self) -> [u8; 5] {
        let m = self.mult.to_le_bytes();
        [
            m[0],
            m[1],
            m[2],
            m[3],
            self.shift.clamp(-128, 127) as i8 as u8,
        ]
    }

    /// Inverse of [`Requant::to_le_bytes`].
    pub fn from_le_bytes(b: [u8; 5]) -> Requant {
        Requant {
            mult: i32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            shift: b[4] as i8 as i32,
        }
    }
}

/// A [`Requant`] plus an offset in the high-word form, prepared once per
/// output row so the per-output work is one SMMLA and one shift
/// ([`Requant::high_word`]). The downsample keeps it rather than [`Halved`]:
/// there the compiler schedules this form 0.2 M instructions per inference
/// cheaper (measured with `cargo xtask profile-qemu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HighWord {
    mult: i32,
    round: i32,
    shift: u32,
}

impl Requant {
    /// The high-word form of `apply_i32(acc) + offset`, when there is one:
    /// with `31 + shift` in 33..=54, `s = 31 + shift - 32` is at most 22, so
    /// `hi + 2^(s-1) + offset 2^s` (`|hi| < 2^30`, the high word of
    /// `acc mult`; `|offset| <= 2^7`) stays below 2^31; and adding a
    /// multiple of `2^s` before the shift is adding `offset` after it.
    #[inline(always)]
    pub fn high_word(self, offset: i32) -> Option<HighWord> {
        let total = 31 + self.shift;
        if !(33..=54).contains(&total) || !(-128..=127).contains(&offset) {
            return None;
        }
        let s = total - 32;
        Some(HighWord {
            mult: self.mult,
            round: (1 << (s - 1)) + (offset << s),
            shift: s as u32,
        })
    }
}

impl HighWord {
    /// `apply_i32(acc) + offset` (see [`Requant::high_word`]).
    #[inline(always)]
    pub fn apply(self, acc: i32) -> i32 {
        let hi = ((acc as i64 * self.mult as i64) >> 32) as i32;
        (hi + self.round) >> self.shift
    }
}

/// A [`Requant`] in the halved form: `apply_i32(acc) + offset` is
/// `((hi >> sh) + 1 + 2 offset) >> 1`, `hi` the high word of `acc mult` (one
/// SMMUL). The rounding bit of [`Requant::apply_i32`]'s fast path is the last
/// bit before the final halving, so a per-layer constant `1 + 2 offset`
/// carries both the rounding and the offset, and the shift takes the
/// multiplier's own amount from a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halved {
    mult: i32,
    sh: u32,
}

impl Requant {
    /// The halved form, for `31 + shift` in 33..=62 (the fast path of
    /// [`Requant::apply_i32`]).
    #[inline(always)]
    pub fn halved(self) -> Option<Halved> {
        let sh = self.shift.wrapping_sub(2) as u32;
        (sh <= 29).then_some(Halved {
            mult: self.mult,
            sh,
        })
    }
}

impl Halved {
    /// The multiplier and the shift, for SIMD forms of [`Halved::apply`].
    #[inline(always)]
    pub fn parts(self) -> (i32, u32) {
        (self.mult, self.sh)
    }

    /// The constant that adds `offset` (an int8 zero point, so nothing can
    /// overflow: `|hi >> sh| <= 2^30`) in [`Halved::apply`].
    #[inline(always)]
    pub fn plus(offset: i8) -> i32 {
        1 + 2 * offset as i32
    }

    /// `apply_i32(acc) + offset`, `plus` from [`Halved::plus`].
    #[inline(always)]
    pub fn apply(self, acc: i32, plus: i32) -> i32 {
        let hi = ((acc as i64 * self.mult as i64) >> 32) as i32;
        ((hi >> self.sh) + plus) >> 1
    }
}

/// A block's residual sum in the halved form ([`Halved`]), prepared once
/// per layer ([`ResidualLayer::new`]) and once per output row
/// ([`ResidualLayer::row`]): `round((x - zx) residual + acc rq) + offset`
/// ([`requantize_sum`], same bits) as one SMULL, one SMLAL and the halved
/// tail: `x - zx` shifted left onto `rq`'s finer fixed point, where it stays
/// exact. Each row has its own stream multiplier `residual` (the stream's
/// channels have scales of their own on either side), all of a layer's
/// sharing one shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidualLayer {
    zx: i32,
    ta: i32,
    plus: i32,
}

/// One output row of a [`ResidualLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidualRow {
    mult: i32,
    residual: i32,
    up: u32,
    sh: u32,
}

impl ResidualLayer {
    /// The layer's constants: `x`'s zero point `zx`, the shift every row's
    /// stream multiplier shares (`Requant::shift`) and the output zero
    /// point `offset`, both zero points int8.
    #[inline(always)]
    pub fn new(zx: i32, residual_shift: i32, offset: i32) -> Option<ResidualLayer> {
        let int8 = -128..=127;
        if !int8.contains(&zx) || !int8.contains(&offset) {
            return None;
        }
        Some(ResidualLayer {
            zx,
            ta: 31i32.saturating_add(residual_shift),
            plus: 1 + 2 * offset,
        })
    }

    /// Row constants for multiplier `rq` and stream mantissa `residual`,
    /// when the operands allow the prepared form: `rq` finer than the
    /// residual by at most 2^22 (so `(x - zx) 2^up < 2^30`) and
    /// `31 + rq.shift` in 33..=53 (so the high word stays below 1.5 2^30
    /// and the sum with the halved constant cannot overflow).
    #[inline(always)]
    pub fn row(&self, rq: Requant, residual: i32) -> Option<ResidualRow> {
        let tb = 31 + rq.shift;
        let up = tb.wrapping_sub(self.ta) as u32;
        let sh = tb.wrapping_sub(33) as u32;
        (up <= 22 && sh <= 20).then_some(ResidualRow {
            mult: rq.mult,
            residual,
            up,
            sh,
        })
    }

    /// The constants an `asm!` or SIMD form of [`ResidualLayer::apply`]
    /// needs beside each row's: `x`'s zero point, `31 - (31 + the stream
    /// multipliers' shift)` (added to a row's shift it gives the row's left
    /// shift of `x - zx`) and the halved constant of the output zero point.
    #[inline(always)]
    pub fn parts(&self) -> [i32; 3] {
        [self.zx, 31 - self.ta, self.plus]
    }

    /// `requantize_sum(x - zx, residual, acc, rq) + offset` for `row`'s
    /// `rq` and stream multiplier.
    #[inline(always)]
    pub fn apply(&self, row: ResidualRow, x: i8, acc: i32) -> i32 {
        let a = (x as i32 - self.zx) << row.up;
        let sum = a as i64 * row.residual as i64 + acc as i64 * row.mult as i64;
        ((((sum >> 32) as i32) >> row.sh) + self.plus) >> 1
    }
}

/// The multiplier at index `i` of a table written by [`requant_table`].
#[inline]
pub fn requant_at(table: &[u8], i: usize) -> Requant {
    // Past the table's end: the zero multiplier, never a panic.
    let at = i.checked_mul(Requant::BYTES).and_then(|at| table.get(at..));
    match at.and_then(|t| t.first_chunk::<{ Requant::BYTES }>()) {
        Some(b) => Requant::from_le_bytes(*b),
        None => Requant::ZERO,
    }
}

/// Encode multipliers as the table [`requant_at`] reads.
pub fn requant_table(values: &[Requant]) -> impl Iterator<Item = u8> + '_ {
    values.iter().flat_map(|r| r.to_le_bytes())
}

/// Clamp to the int8 range.
#[inline]
pub fn saturate_i8(v: i64) -> i8 {
    v.clamp(-128, 127) as i8
}

/// Clamp an i32 to the int8 range (one SSAT on Cortex-M).
#[inline(always)]
pub fn clamp_i8(v: i32) -> i8 {
    v.clamp(-128, 127) as i8
}

/// Clamp to the i32 range.
#[inline]
pub fn saturate_i32(v: i64) -> i32 {
    v.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// [`requantize_sum`] of two i32s saturated to i32, out of line: for the rare
/// operands [`ResidualLayer`] has no prepared form for.
#[cold]
#[inline(never)]
pub fn requantize_sum_i32(a: i32, ra: Requant, b: i32, rb: Requant) -> i32 {
    saturate_i32(requantize_sum(a as i64, ra, b as i64, rb))
}

/// `round(a * ra + b * rb)` with one rounding: both products are brought to
/// the finer of the two fixed-point positions before the sum.
#[inline]
pub fn requantize_sum(a: i64, ra: Requant, b: i64, rb: Requant) -> i64 {
    let ta = 31 + ra.shift;
    let tb = 31 + rb.shift;
    let t = ta.min(tb);
    if !(1..=62).contains(&t) || ta > 62 || tb > 62 {
        return ra.apply(a) + rb.apply(b);
    }
    let pa = (a * ra.mult as i64) >> (ta - t);
    let pb = (b * rb.mult as i64) >> (tb - t);
    (pa + pb + (1i64 << (t - 1))) >> t
}

/// `apply_i32(acc) + bias`, saturated: a small sum (the depthwise's 49
/// taps, the stem's patch) to the LayerNorm input scale, plus a bias already
/// in those units. A sum below 2^21 shifted left by 10 brings the large
/// multipliers of that step (up to 2^8) into the high-word form of
/// [`Requant::apply_i32`], with the same bits.
#[inline(always)]
pub fn requantize_plus(acc: i32, rq: Requant, bias: i32) -> i32 {
    // `31 + shift + 10` in 33..=62, as the halved form ([`Halved`]) takes it.
    let sh = rq.shift.wrapping_add(8) as u32;
    let v = if acc.unsigned_abs() < 1 << 21 && sh <= 29 {
        let hi = (((acc << 10) as i64 * rq.mult as i64) >> 32) as i32;
        ((hi >> sh) + 1) >> 1
    } else {
        rq.apply_i32(acc)
    };
    v.saturating_add(bias)
}

/// Each of the i32 sums in `out` (little-endian, 4 bytes a channel) to
/// `requantize_plus(sum, requant[ch], bias[ch])`, in place, for as many
/// channels as all three hold: the depthwise's and the stem's outputs to
/// the LayerNorm input.
#[inline(always)]
pub fn requantize_plus_each(out: &mut [i8], bias: &[u8], requant: &[u8]) {
    let rows = bias
        .chunks_exact(4)
        .zip(requant.chunks_exact(Requant::BYTES));
    for (o, (b, rq)) in out.chunks_exact_mut(4).zip(rows) {
        // One LDR and one STR each way (the arena's i32s are little-endian).
        let acc = super::arena::word(o) as i32;
        let bias = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let v = requantize_plus(acc, requant_at(rq, 0), bias);
        if let Ok(o) = <&mut [i8; 4]>::try_from(o) {
            *o = v.to_le_bytes().map(|s| s as i8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;

    #[test]
    fn the_prepared_forms_give_the_bits_of_the_plain_ones() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut rows = 0;
        // Miri interprets every instruction: fewer draws there.
        let draws = if cfg!(miri) { 2_000 } else { 200_000 };
        for _ in 0..draws {
            let s = next();
            let rq = Requant::new((s as i32) | 1 << 30, (s >> 32) as i32 % 30 - 2);
            // (A row's stream mantissa may sit below 2^30: it shares its
            // layer's shift.)
            let residual = Requant::new(
                (((s >> 16) as i32) | 1 << 30) >> ((s >> 60) as u32 % 12),
                (s >> 40) as i32 % 6 - 3,
            );
            let offset = (s >> 48) as i8;
            let acc =
                [(s >> 3) as i32, i32::MIN, i32::MAX, (s >> 50) as i32][(s >> 5) as usize % 4];
            if let Some(h) = rq.halved() {
                let want = rq.apply_i32(acc) + offset as i32;
                assert_eq!(
                    h.apply(acc, Halved::plus(offset)),
                    want,
                    "{rq:?} {acc} {offset}"
                );
            }
            if let Some(h) = rq.high_word(offset as i32) {
                let want = rq.apply_i32(acc) + offset as i32;
                assert_eq!(h.apply(acc), want, "{rq:?} {acc} {offset}");
            }
            let (x, zx) = ((s >> 24) as i8, (s >> 56) as i8);
            let (a, zo) = (x as i32 - zx as i32, offset as i32);
            let want = || saturate_i32(requantize_sum(a as i64, residual, acc as i64, rq)) + zo;
            let layer = ResidualLayer::new(zx as i32, residual.shift, zo);
            if let Some((l, r)) = layer.and_then(|l| Some((l, l.row(rq, residual.mult)?))) {
                rows += 1;
                assert_eq!(
                    l.apply(r, x, acc),
                    want(),
                    "{residual:?} {rq:?} {x} {zx} {acc}"
                );
            }
        }
        // The prepared residual form covers a good share of the draws.
        assert!(rows > draws / 10, "{rows}");
        assert!(Requant::from_real(0.01).high_word(127).is_some());
        assert!(Requant::from_real(0.01).high_word(128).is_none());
        assert!(Requant::from_real(2.0).high_word(0).is_none());
        assert!(Requant::from_real(1e-12).high_word(0).is_none());
        assert!(Requant::from_real(0.2).halved().is_some());
        assert!(Requant::from_real(0.3).halved().is_none());
        assert!(Requant::new(1 << 30, 31).halved().is_some());
        assert!(Requant::new(1 << 30, 32).halved().is_none());
    }

    #[test]
    fn requantize_plus_gives_the_bits_of_apply_plus_bias() {
        for shift in -40..40 {
            for mult in [1 << 30, (1 << 30) + 12345, i32::MAX, -(1 << 30), -i32::MAX] {
                let m = Requant::new(mult, shift);
                for acc in [
                    0,
                    1,
                    -7,
                    (1 << 21) - 1,
                    -(1 << 21) + 1,
                    1 << 21,
                    i32::MAX,
                    i32::MIN,
                ] {
                    for bias in [0, -5, i32::MAX, i32::MIN] {
                        let want = m.apply_i32(acc).saturating_add(bias);
                        assert_eq!(requantize_plus(acc, m, bias), want, "{m:?} {acc} {bias}");
                    }
                }
            }
        }
    }

    #[test]
    fn from_real_round_trips_within_q31_precision() {
        for m in [1.0, 0.75, 1e-6, 3.5e-3, 123.456, -0.3, -2.0, 0.4999999] {
            let r = Requant::from_real(m);
            assert!(((r.to_real() - m) / m).abs() < 1e-9, "{m} -> {r:?}");
            assert!(r.mult.unsigned_abs() >= 1 << 30);
        }
    }

    #[test]
    fn apply_rounds_half_up() {
        let half = Requant::from_real(0.5);
        assert_eq!(half.apply(3), 2);
        assert_eq!(half.apply(-3), -1);
        assert_eq!(half.apply(4), 2);
        let big = Requant::from_real(8.0);
        assert_eq!(big.apply(-5), -40);
    }

    #[test]
    fn apply_i32_gives_the_bits_of_apply() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = Requant {
                mult: (1 << 30) + (x as i32 & 0x3FFF_FFFF),
                shift: (i % 40) - 8,
            };
            let m = if i % 3 == 0 {
                Requant { mult: -m.mult, ..m }
            } else {
                m
            };
            let acc = match i % 4 {
                0 => i32::MIN,
                1 => i32::MAX,
                _ => (x >> 32) as i32 >> (i % 20),
            };
            assert_eq!(
                m.apply_i32(acc),
                saturate_i32(m.apply(acc as i64)),
                "{m:?} {acc}"
            );
        }
    }

    #[test]
    fn tables_hold_multipliers_in_order() {
        let rs = [Requant::from_real(0.3), Requant::from_real(-7.0)];
        let mut t = [0u8; 10];
        t.iter_mut()
            .zip(requant_table(&rs))
            .for_each(|(d, s)| *d = s);
        assert_eq!((requant_at(&t, 0), requant_at(&t, 1)), (rs[0], rs[1]));
    }
}
