//! MLP activations in f32 for the f16 path (the int8 path uses tables built
//! at codegen). `libm` is pure Rust, so every target computes the same bits.

/// An MLP activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact erf GELU.
    Gelu,
    /// tanh-approximated GELU (`gelu_new`).
    GeluTanh,
    /// `max(x, 0)`.
    Relu,
    /// Scaled ELU.
    Selu,
}

impl Activation {
    /// Apply to one value.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Gelu => 0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2)),
            Self::GeluTanh => {
                let k = 0.797_884_6_f32; // sqrt(2 / pi)
                0.5 * x * (1.0 + libm::tanhf(k * (x + 0.044715 * x * x * x)))
            }
            Self::Relu => x.max(0.0),
            Self::Selu => {
                const ALPHA: f32 = 1.673_263_2;
                const SCALE: f32 = 1.050_701;
                if x > 0.0 {
                    SCALE * x
                } else {
                    SCALE * ALPHA * libm::expm1f(x)
                }
            }
        }
    }
}
