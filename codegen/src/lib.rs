//! `convnext-codegen`: the build-time side of the engine. It imports a
//! ConvNeXt checkpoint (HF transformers or timm, as `save_pretrained` writes
//! it), runs the f32 reference forward pass, and reads the model folder's
//! preprocessing settings and datasets. Quantization, planning and emission
//! build on these.

pub mod build_script;
pub mod calibrate;
pub mod compile;
pub mod config;
pub mod dataset;
pub mod emit;
pub mod error;
pub mod gelu;
pub mod host_wide;
pub mod import;
pub mod model;
pub mod npy;
#[cfg(feature = "pictures")]
pub mod pictures;
pub mod plan;
pub mod processor;
pub mod quality;
pub mod quantize;
pub mod reference;
pub mod report;
pub mod safetensors;
pub mod saved_calibration;
pub mod streaming;
pub mod synthetic;
pub mod tensor;

pub use config::{Activation, ModelConfig};
pub use error::{Error, Result};
pub use import::load_model;
pub use model::Model;
pub use reference::{forward, Outputs};
pub use tensor::Tensor;
