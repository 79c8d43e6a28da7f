//! LayerNorm over channels with integer statistics.
//!
//! For inputs `q_i` with any common scale `s`, the normalised value is
//! `y_i = d_i * sqrt(C) / sqrt(V + eps_q)` where `d_i = C q_i - sum q`,
//! `V = sum d_i^2` and `eps_q = eps C^3 / s^2` (precomputed at codegen). The
//! square root is an exact integer square root of `V + eps_q` normalised to
//! 62 bits, so the result carries ~21 significant bits on every target.
//! The kernel hands out `y_i` in Q24; the caller requantizes it (the affine
//! is folded into whatever follows, or applied by the caller's multipliers).

/// Per-op constants of an integer LayerNorm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerNormParams {
    /// `eps * C^3 / s^2 >> (2 * pre_shift)`, rounded.
    pub eps_q: u64,
    /// Right shift applied to `d_i` so `V` fits in u64 for wide inputs.
    pub pre_shift: u32,
}

impl LayerNormParams {
    /// Constants from their two fields (what generated code writes).
    pub const fn new(eps_q: u64, pre_shift: u32) -> Self {
        Self { eps_q, pre_shift }
    }
}

/// Fraction bits of the normalised output.
pub const LN_FRAC_BITS: u32 = 24;

/// Integer square root of `C` scaled by 2^20, for `C` up to 2^20.
fn sqrt_c_q20(c: usize) -> u64 {
    ((c as u64) << 40).isqrt()
}

/// Normalise the `c` values `get(buf, 0..c)` and pass `(i, y_i in Q24)` to
/// `put(buf, ..)`. `put` for `i` may overwrite input `i` (in-place use) but no
/// other input.
///
/// ```
/// use convnext::kernels::layer_norm::{layer_norm_q24, LayerNormParams, LN_FRAC_BITS};
///
/// // Normalise [1, 3] in place: mean 2, standard deviation 1, so [-1, +1] in
/// // Q24, to the ~21 significant bits the integer square root keeps.
/// let mut x = [1i32, 3];
/// layer_norm_q24(&mut x, 2, &LayerNormParams::new(0, 0), |b, i| b[i], |b, i, y| b[i] = y);
/// let one = 1 << LN_FRAC_BITS;
/// assert!((x[0] + one).abs() <= 8 && (x[1] - one).abs() <= 8, "{x:?}");
/// ```
#[inline]
pub fn layer_norm_q24<B: ?Sized>(
    buf: &mut B,
    c: usize,
    p: &LayerNormParams,
    get: impl Fn(&B, usize) -> i32,
    mut put: impl FnMut(&mut B, usize, i32),
) {
    let mut sum: i64 = 0;
    let mut max_abs: u32 = 0;
    for i in 0..c {
        let q = get(buf, i);
        sum += q as i64;
        max_abs = max_abs.max(q.unsigned_abs());
    }
    let ci = c as i64;
    // |d_i| <= 2 C max|q| before the shift; one more after it (the shift
    // rounds toward -inf). When C d^2 stays below 2^63 no sum or product
    // below can overflow, and the plain 64-bit arithmetic (one SMLAL an
    // element on Cortex-M) gives exactly the saturating path's bits.
    let d_bound = ((2 * c as u64 * max_abs as u64) >> p.pre_shift) + 1;
    let exact = d_bound < 1 << 31
        && d_bound
            .checked_mul(d_bound)
            .and_then(|dd| dd.checked_mul(c as u64))
            .is_some_and(|v| v < 1 << 63);
    let d_of = |q: i32| (ci * q as i64 - sum) >> p.pre_shift;
    let mut v: u64 = 0;
    if exact {
        for i in 0..c {
            // |d| < 2^31: one 32x32 -> 64 multiply-accumulate.
            let d = d_of(get(buf, i)) as i32 as i64;
            v += (d * d) as u64;
        }
    } else {
        for i in 0..c {
            let d = d_of(get(buf, i)).unsigned_abs();
            v = v.saturating_add(d.saturating_mul(d));
        }
    }
    let den = v.saturating_add(p.eps_q);
    if den == 0 {
        for i in 0..c {
            put(buf, i, 0);
        }
        return;
    }
    // Normalise den to [2^60, 2^62): sq in [2^30, 2^31), sqrt(den) = sq / 2^k.
    let k = (den.leading_zeros().saturating_sub(2) / 2).min(31);
    let sq = (den << (2 * k)).isqrt();
    // m = sqrt(C) 2^52 / sq, so y = d m 2^(k + 24 - 52).
    let m = ((sqrt_c_q20(c) << 32) / sq) as i64;
    let e = k as i32 + LN_FRAC_BITS as i32 - 52;
    if exact && e < 0 && m < 1 << 31 {
        // C d^2 < 2^63 and m <= sqrt(C) 2^22, so |d m| < 2^54 and the
        // rounding stays far from overflow: the saturating path below would
        // not saturate either.
        let (s, round) = (-e as u32, 1i64 << (-e - 1));
        // m < 2^31 here (C < 2^18), so each product is one 32x32 -> 64.
        let m32 = m as i32 as i64;
        for i in 0..c {
            let r = (d_of(get(buf, i)) as i32 as i64 * m32 + round) >> s;
            put(buf, i, r.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        }
        return;
    }
    for i in 0..c {
        let d = d_of(get(buf, i));
        let t = d.saturating_mul(m);
        let r = if e >= 0 {
            t.saturating_mul(1 << e)
        } else {
            t.saturating_add(1i64 << (-e - 1)) >> -e
        };
        put(buf, i, r.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_float_layer_norm() {
        let x = [3i32, -7, 12, 0, 5, 5, -20, 9];
        let c = x.len();
        let p = LayerNormParams {
            eps_q: 0,
            pre_shift: 0,
        };
        let mut out = [0i32; 8];
        let mut buf = (x, [0i32; 8]);
        layer_norm_q24(&mut buf, c, &p, |b, i| b.0[i], |b, i, y| b.1[i] = y);
        out.copy_from_slice(&buf.1);
        let mean = x.iter().sum::<i32>() as f64 / c as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / c as f64;
        for i in 0..c {
            let want = (x[i] as f64 - mean) / var.sqrt();
            let got = out[i] as f64 / (1 << 24) as f64;
            assert!((got - want).abs() < 1e-5, "{i}: {got} vs {want}");
        }
    }

    /// The saturating arithmetic alone: what the fast path must reproduce.
    fn reference(x: &[i32], p: &LayerNormParams) -> Vec<i32> {
        let (c, ci) = (x.len(), x.len() as i64);
        let sum: i64 = x.iter().map(|&q| q as i64).sum();
        let mut v: u64 = 0;
        for &q in x {
            let d = ((ci * q as i64 - sum) >> p.pre_shift).unsigned_abs();
            v = v.saturating_add(d.saturating_mul(d));
        }
        let den = v.saturating_add(p.eps_q);
        if den == 0 {
            return vec![0; c];
        }
        let mut k = 0u32;
        while den << (2 * k) < 1 << 60 {
            k += 1;
        }
        let m = ((sqrt_c_q20(c) << 32) / (den << (2 * k)).isqrt()) as i64;
        let e = k as i32 + LN_FRAC_BITS as i32 - 52;
        x.iter()
            .map(|&q| {
                let t = ((ci * q as i64 - sum) >> p.pre_shift).saturating_mul(m);
                let r = if e >= 0 {
                    t.saturating_mul(1 << e)
                } else {
                    t.saturating_add(1i64 << (-e - 1)) >> -e
                };
                r.clamp(i32::MIN as i64, i32::MAX as i64) as i32
            })
            .collect()
    }

    #[test]
    fn fast_path_gives_the_saturating_paths_bits() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for trial in 0..3000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let c = 1 + (s % 200) as usize;
            let mag = 1i64 << ((s >> 8) % 31);
            let x: Vec<i32> = (0..c)
                .map(|i| {
                    let h = s.wrapping_mul(i as u64 + 1).rotate_left(17) as i64;
                    (h % mag) as i32
                })
                .collect();
            let p = LayerNormParams::new((s >> 40) % 5000, ((s >> 20) % 4) as u32);
            let mut out = vec![0; c];
            let mut buf = (x.clone(), &mut out);
            layer_norm_q24(&mut buf, c, &p, |b, i| b.0[i], |b, i, y| b.1[i] = y);
            assert_eq!(out, reference(&x, &p), "trial {trial}: c {c} {p:?}");
        }
    }

    #[test]
    fn constant_input_gives_zero_not_a_division_by_zero() {
        let p = LayerNormParams {
            eps_q: 0,
            pre_shift: 0,
        };
        let mut out = [1i32; 4];
        layer_norm_q24(&mut out, 4, &p, |_, _| 7, |o, i, y| o[i] = y);
        assert_eq!(out, [0; 4]);
    }
}
