//! GELU over a slice, the way PyTorch's CPU kernel computes it: `erf` by
//! Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7) with `exp` by a
//! range-reduced polynomial, both written without calls or branches so the
//! compiler vectorizes the loop. The negative side is computed as
//! `erfc(|z|)` directly, so it loses nothing to cancellation.

/// `exp(x)` for `x <= 0` (here `-z^2`), to about 2 ulp; 0 below -87.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    let x = x.max(-87.0);
    // n = round(x / ln 2) by the 1.5 * 2^23 trick (no call to round).
    let magic = 12_582_912.0f32;
    let n = (x * core::f32::consts::LOG2_E + magic) - magic;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    // exp(r) on [-ln2/2, ln2/2], Cephes' coefficients.
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `gelu(x) = x (1 + erf(x / sqrt 2)) / 2` for every element of `v`.
pub fn gelu_in_place(v: &mut [f32]) {
    for x in v.iter_mut() {
        let z = (*x * core::f32::consts::FRAC_1_SQRT_2).abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * z);
        let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
            + 0.254_829_6)
            * t;
        // erfc(|z|) ~ poly exp(-z^2); 1 + erf(z) is that for z < 0, 2 minus
        // it otherwise.
        let q = poly * exp_neg(-z * z);
        let one_plus_erf = if *x < 0.0 { q } else { 2.0 - q };
        *x *= 0.5 * one_plus_erf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_exact_gelu_to_within_a_few_e_minus_7() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005).collect();
        let mut got = xs.clone();
        gelu_in_place(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = 0.5 * *x as f64 * (1.0 + libm::erf(*x as f64 / core::f64::consts::SQRT_2));
            assert!(
                (*g as f64 - want).abs() <= 3e-7 * (1.0 + x.abs() as f64),
                "{x}: {g} vs {want}"
            );
        }
        let mut big = [-200.0f32, 200.0, f32::MIN, 0.0];
        gelu_in_place(&mut big);
        assert!(big[0].abs() < 1e-30 && big[2].abs() < 1e-30, "{big:?}");
        assert_eq!((big[1], big[3]), (200.0, 0.0));
    }

    #[test]
    fn exp_neg_is_accurate() {
        for i in 0..=8700 {
            let x = -(i as f32) * 0.01;
            let (got, want) = (exp_neg(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 4e-7 * want + 1e-38,
                "{x}: {got} vs {want}"
            );
        }
    }
}
