//! The networks the benches time, built once per bench binary: the
//! default model (its first test image) and atto- and tiny-shaped models at
//! 224x224 with random weights of realistic magnitude (`convnext_codegen::synthetic`,
//! min/max calibration on random images).

use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::synthetic::{atto_plan, random_images, tiny_plan};
use convnext_codegen::{load_model, Model, Tensor};
use std::path::Path;

/// A model, its int8 plan and one input in both forms (the kernel benches
/// use only the plan and the u8 image).
#[allow(dead_code)]
pub struct Network {
    /// The f32 model.
    pub model: Model,
    /// Its int8 plan.
    pub plan: Plan,
    /// One image as the int8 plan takes it (u8 HWC).
    pub image: Vec<u8>,
    /// The same image as the f32 reference takes it.
    pub pixel_values: Tensor,
}

/// The bundled default model.
pub fn default_model() -> Network {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fmnist-convnext");
    let model = load_model(&dir).expect("model");
    let processor = load_processor(&dir).expect("processor");
    let cal = load_calibration(&dir, None, &processor).expect("calibration");
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).expect("plan");
    let image = load_test_set(&dir).expect("test set").images.take(1);
    let pixel_values = image.pixel_values(&processor).expect("pixel values");
    Network {
        model,
        plan,
        image: image.pixels,
        pixel_values,
    }
}

/// An atto-shaped model (widths 40/80/160/320, depths 2/2/6/2) at 224x224.
pub fn atto_224() -> Network {
    shaped(atto_plan(224).expect("plan"))
}

/// A tiny-shaped model (widths 96/192/384/768, depths 3/3/9/3) at 224x224.
#[allow(dead_code)]
pub fn tiny_224() -> Network {
    shaped(tiny_plan(224).expect("plan"))
}

/// A synthetic model and its plan, with a fixed patterned image.
fn shaped((model, plan): (Model, Plan)) -> Network {
    let image = (0..plan.input_bytes).map(|i| (i * 7 % 251) as u8).collect();
    Network {
        model,
        plan,
        image,
        pixel_values: random_images(1, 224, 11),
    }
}
