//! Fixed-point rescaling: `round(acc * mult / 2^(31 + shift))`, integer only,
//! so every target computes the same bits.

/// A real multiplier `m = mult * 2^-(31 + shift)`, `mult` normalised to
/// `[2^30, 2^31)` in magnitude (negative for negative `m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requant {
    /// Q31 mantissa.
    pub mult: i32,
    /// Extra right shift (negative: left).
    pub shift: i32,
}

impl Requant {
    /// The multiplier that maps to zero.
    pub const ZERO: Requant = Requant { mult: 0, shift: 0 };

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
}

/// Clamp to the int8 range.
#[inline]
pub fn saturate_i8(v: i64) -> i8 {
    v.clamp(-128, 127) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
