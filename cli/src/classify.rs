//! `convnext classify`: image files to labels. Each file is decoded (PNG,
//! JPEG, BMP), brought to the model's channel count as Pillow's `convert`
//! does, preprocessed with the runtime's Pillow-exact code as the model
//! folder's `preprocessor_config.json` says, and classified; the top labels
//! come with their softmax probabilities.

use crate::eval::label;
use crate::failure::Failure;
use crate::int8::{int8_logits, int8_plan};
use crate::options::{ClassifyArgs, Precision};
use convnext_codegen::compile::round_weights_to_f16;
use convnext_codegen::pictures::decode;
use convnext_codegen::processor::load_processor;
use convnext_codegen::reference::logits;
use convnext_codegen::{load_model, Error, Tensor};

/// Probabilities of one image's logits (a numerically safe softmax).
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let e: Vec<f64> = logits.iter().map(|&v| (v as f64 - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// `convnext classify`.
pub fn classify(a: &ClassifyArgs) -> Result<(), Failure> {
    let dir = a.model.as_path();
    let model = load_model(dir)?;
    if model.classifier.is_none() {
        return Err(Failure::Model(Error::Input {
            message: format!("{} has no classifier head to classify with", dir.display()),
        }));
    }
    let processor = load_processor(dir)?;
    let f16;
    let run_model = match a.precision {
        Precision::F16 => {
            f16 = round_weights_to_f16(&model);
            &f16
        }
        _ => &model,
    };
    let plan = match a.precision {
        Precision::Int8 => Some(int8_plan(dir, &model, &a.int8)?.plan),
        _ => None,
    };
    let mut results = Vec::new();
    for path in &a.images {
        let img = decode(path, model.config.num_channels)?;
        let x = img.pixel_values(&processor)?;
        let y: Tensor = match &plan {
            Some(plan) => int8_logits(plan, &x, None)?,
            None => logits(run_model, &x)?.ok_or_else(|| Error::Input {
                message: format!("{} has no classifier head", dir.display()),
            })?,
        };
        let p = softmax(&y.data);
        let mut order: Vec<usize> = (0..p.len()).collect();
        // Highest first; ties by class index, so the output is stable.
        order.sort_by(|&i, &j| p[j].total_cmp(&p[i]).then(i.cmp(&j)));
        let top: Vec<(String, f64)> = order
            .iter()
            .take(a.top.max(1))
            .map(|&i| (label(&model, i), p[i]))
            .collect();
        results.push((path, img.width, img.height, top));
    }
    if a.json {
        let images: Vec<serde_json::Value> = results
            .iter()
            .map(|(path, w, h, top)| {
                serde_json::json!({
                    "image": path.display().to_string(),
                    "size": [w, h],
                    "top": top.iter().map(|(l, p)| serde_json::json!({"label": l, "probability": p})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let precision = format!("{:?}", a.precision).to_lowercase();
        println!(
            "{}",
            serde_json::json!({
                "model": dir.display().to_string(),
                "precision": precision,
                "images": images,
            })
        );
        return Ok(());
    }
    for (path, _, _, top) in &results {
        let shown: Vec<String> = top
            .iter()
            .map(|(l, p)| format!("{l} {:.1}%", 100.0 * p))
            .collect();
        println!("{}: {}", path.display(), shown.join(", "));
    }
    Ok(())
}
