//! `convnext bench`: single-thread, batch-1 latency of the f32 reference or
//! the int8 plan on one of the model folder's images, as `cargo xtask
//! bench-peers` compares it with ONNX Runtime.

use crate::failure::Failure;
use crate::int8::int8_plan;
use crate::options::{BenchArgs, Precision};
use convnext_codegen::dataset::{read_images, ImageSet};
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::input_bytes;
use convnext_codegen::reference::SingleImage;
use convnext_codegen::{load_model, Error};
use std::path::Path;
use std::time::Instant;

/// The first test image, or the first calibration image.
fn one_image(dir: &Path) -> Result<ImageSet, Failure> {
    for name in ["test_images.npy", "calibration_images.npy"] {
        let path = dir.join(name);
        if path.exists() {
            return Ok(read_images(&path)?.take(1));
        }
    }
    Err(Failure::Model(Error::Input {
        message: format!(
            "{} has neither test_images.npy nor calibration_images.npy to time on",
            dir.display()
        ),
    }))
}

/// Median and minimum of `iterations` timed calls of `f`, in ms, after ten
/// untimed ones.
fn time_ms(iterations: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..10 {
        f();
    }
    let mut t: Vec<f64> = (0..iterations.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0])
}

/// `convnext bench`.
pub fn bench(a: &BenchArgs) -> Result<(), Failure> {
    let dir = a.model.as_path();
    let (p, iterations) = (a.precision, a.iterations.max(1));
    let model = load_model(dir)?;
    let processor = load_processor(dir)?;
    let image = one_image(dir)?;
    let x = image.pixel_values(&processor)?;
    let (median, min) = match p {
        Precision::Int8 => {
            let plan = int8_plan(dir, &model, &a.int8)?.plan;
            let u8s = input_bytes(&x, &plan.model);
            let mut arena = vec![0i8; plan.host_arena_bytes];
            let mut logits = vec![0i32; plan.model.num_labels];
            time_ms(iterations, || plan.run_one(&u8s, &mut arena, &mut logits))
        }
        Precision::F32 | Precision::F16 => {
            let m = if p == Precision::F16 {
                convnext_codegen::compile::round_weights_to_f16(&model)
            } else {
                model
            };
            let single = SingleImage::new(&m);
            let chw = (x.shape[1], x.shape[2], x.shape[3]);
            let mut sink = 0.0f32;
            let r = time_ms(iterations, || {
                sink += single.logits(&x.data, chw).map_or(0.0, |l| l[0]);
            });
            std::hint::black_box(sink);
            r
        }
    };
    let name = match p {
        Precision::F32 => "f32",
        Precision::F16 => "f16",
        Precision::Int8 => "int8",
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "model": dir.display().to_string(),
                "precision": name,
                "threads": 1,
                "iterations": iterations,
                "median_ms": median,
                "min_ms": min,
            })
        );
    } else {
        println!(
            "{}: {name}, one image, one thread: median {median:.3} ms, min {min:.3} ms over {iterations} runs",
            dir.display()
        );
    }
    Ok(())
}
