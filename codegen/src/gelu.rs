//! GELU over a slice, the way PyTorch's CPU kernel computes it (the loop
//! lives in the runtime's host module, [`convnext::host_f32::gelu_in_place`],
//! which compiles it for AVX2 too); its accuracy is checked here against
//! `libm`.

pub use convnext::host_f32::gelu_in_place;

#[cfg(test)]
mod tests {
    use super::*;
    use convnext::host_f32::exp_neg;

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
