//! The MLP activation (`hidden_act`). The int8 path bakes it into a
//! 256-entry table at codegen (from [`Activation::apply_f64`]); the f16 path
//! calls [`Activation::apply`]. `libm` is pure Rust, so every target computes
//! the same bits.

/// An MLP activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// Exact erf GELU (`gelu`).
    Gelu,
    /// tanh-approximated GELU (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// `max(x, 0)` (`relu`).
    Relu,
    /// Scaled ELU (`selu`).
    Selu,
}

/// SELU's constants, to f64 precision.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

impl Activation {
    /// HF's / timm's name for it (`config.hidden_act`), or `None` if unsupported.
    ///
    /// ```
    /// use convnext::kernels::activation::Activation;
    /// assert_eq!(Activation::from_hf_name("gelu_new"), Some(Activation::GeluTanh));
    /// assert_eq!(Activation::from_hf_name("swish"), None);
    /// ```
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_tanh" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            "selu" => Some(Self::Selu),
            _ => None,
        }
    }

    /// Apply in f32 (the f16 block).
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Gelu => 0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2)),
            Self::GeluTanh => {
                let k = 0.797_884_6_f32; // sqrt(2 / pi)
                0.5 * x * (1.0 + libm::tanhf(k * (x + 0.044715 * x * x * x)))
            }
            Self::Relu => x.max(0.0),
            Self::Selu if x > 0.0 => SELU_SCALE as f32 * x,
            Self::Selu => SELU_SCALE as f32 * SELU_ALPHA as f32 * libm::expm1f(x),
        }
    }

    /// Apply in f64 (codegen's tables and the f32 reference's accuracy).
    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            Self::Gelu => 0.5 * x * (1.0 + libm::erf(x / core::f64::consts::SQRT_2)),
            Self::GeluTanh => {
                let k = libm::sqrt(2.0 / core::f64::consts::PI);
                0.5 * x * (1.0 + libm::tanh(k * (x + 0.044715 * x * x * x)))
            }
            Self::Relu => x.max(0.0),
            Self::Selu if x > 0.0 => SELU_SCALE * x,
            Self::Selu => SELU_SCALE * SELU_ALPHA * (libm::exp(x) - 1.0),
        }
    }
}
