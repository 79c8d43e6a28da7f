//! `convnext eval`: accuracy of f32, f16 and int8 on a model folder's test
//! set, streamed in chunks of [`CHUNK`] images so memory does not grow with
//! the test set (each chunk is spread over the machine's cores).

use crate::commands::{calibration_method, int8_plan, Failure};
use crate::options::{EvalArgs, Precision};
use convnext::network::argmax;
use convnext_codegen::compile::{round_weights_to_f16, LogitSqnr};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::reference::logits;
use convnext_codegen::{load_model, npy, Error, Tensor};
use std::io::IsTerminal;

/// Images per chunk: enough to keep every core busy, small enough that the
/// chunk's pixel values and logits stay a few MB at 224x224.
pub const CHUNK: usize = 512;

/// `max |a - b| / max |b|` over every batch added: [`Tensor::relative_max_error`]
/// of the whole, batch by batch.
#[derive(Default)]
struct MaxRelError {
    diff: f32,
    scale: f32,
}

impl MaxRelError {
    fn add(&mut self, got: &[f32], reference: &[f32]) {
        for (a, b) in got.iter().zip(reference) {
            self.diff = self.diff.max((a - b).abs());
            self.scale = self.scale.max(b.abs());
        }
    }

    fn value(&self) -> f32 {
        self.diff / self.scale.max(f32::MIN_POSITIVE)
    }
}

/// Top-1 agreement between two sets of predictions.
fn agreement(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
}

/// The most memory this process has held (`VmHWM`), where the OS says.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `convnext eval`.
pub fn eval(a: &EvalArgs) -> Result<(), Failure> {
    let dir = a.model.as_path();
    let limit = a.limit;
    let method = calibration_method(&a.int8.calibration_method)?;
    // f32 always runs (it is what agreement is measured against).
    let only = a.precision;
    let want = |p: Precision| only.is_none() || only == Some(p);
    let model = load_model(dir)?;
    let Some(classes) = model.classifier.as_ref().map(|c| c.bias.len()) else {
        return Err(Failure::Model(Error::Input {
            message: format!("{} has no classifier head to evaluate", dir.display()),
        }));
    };
    let processor = load_processor(dir)?;
    let mut test = load_test_set(dir)?;
    if let Some(n) = limit {
        test.images = test.images.take(n);
        test.labels.truncate(n);
    }
    let n = test.images.count;
    let ref_path = dir.join("test_logits.npy");
    let reference = if ref_path.exists() {
        let r = npy::read(&ref_path)?.into_f32(&ref_path)?;
        if r.shape.len() != 2 || r.shape[1] != classes || r.shape[0] < n {
            return Err(Failure::Model(Error::Input {
                message: format!(
                    "{} has shape {:?}, expected ({n}, {classes}) or more rows",
                    ref_path.display(),
                    r.shape
                ),
            }));
        }
        Some(r)
    } else {
        None
    };
    let f16_model = want(Precision::F16).then(|| round_weights_to_f16(&model));
    let plan = if want(Precision::Int8) {
        Some(int8_plan(dir, &model, &a.int8)?)
    } else {
        None
    };

    let mut pred = Predictions::default();
    let (mut ref_err, mut f16_err) = (MaxRelError::default(), MaxRelError::default());
    let mut sqnr = LogitSqnr::default();
    let mut crc = convnext::crc32::Crc32::new();
    // Progress on stderr when a person is watching (not in pipes or tests).
    let progress = std::io::stderr().is_terminal() && !a.json;
    for start in (0..n).step_by(CHUNK) {
        if progress {
            eprint!("\r  evaluating: {start} / {n} images");
        }
        let images = test.images.slice(start..start + CHUNK);
        let x = images.pixel_values(&processor)?;
        let f32_logits = chunk_logits(&model, &x)?;
        pred.f32
            .extend(f32_logits.data.chunks_exact(classes).map(argmax));
        if let Some(r) = &reference {
            let rows = &r.data[start * classes..(start + images.count) * classes];
            pred.reference
                .extend(rows.chunks_exact(classes).map(argmax));
            ref_err.add(&f32_logits.data, rows);
        }
        if let Some(m) = &f16_model {
            let l = chunk_logits(m, &x)?;
            pred.f16.extend(l.data.chunks_exact(classes).map(argmax));
            f16_err.add(&l.data, &f32_logits.data);
        }
        if let Some((plan, _)) = &plan {
            let int8 = plan.run_u8(&images.pixels);
            pred.int8.extend(int8.chunks_exact(classes).map(argmax));
            sqnr.add(&int8, plan.model.logit_scale, &f32_logits.data);
            crc.update_i32(&int8);
        }
    }

    if progress {
        eprint!("\r{:60}\r", "");
    }
    let accuracy = |p: &[usize]| {
        p.iter().zip(&test.labels).filter(|(p, l)| p == l).count() as f64 / n.max(1) as f64
    };
    let mut f32_obj = serde_json::json!({ "accuracy": accuracy(&pred.f32) });
    if reference.is_some() {
        f32_obj["reference_agreement"] = serde_json::json!(agreement(&pred.f32, &pred.reference));
        f32_obj["reference_max_rel_error"] = serde_json::json!(ref_err.value());
    }
    let mut report = serde_json::json!({
        "model": dir.display().to_string(),
        "test_images": n,
        "f32": f32_obj,
    });
    if f16_model.is_some() {
        report["f16"] = serde_json::json!({
            "accuracy": accuracy(&pred.f16),
            "agreement": agreement(&pred.f16, &pred.f32),
            "logit_max_rel_error": f16_err.value(),
        });
    }
    if let Some((plan, calibration_images)) = &plan {
        let mut int8_obj = serde_json::json!({
            "accuracy": accuracy(&pred.int8),
            "agreement": agreement(&pred.int8, &pred.f32),
            "logit_sqnr_db": sqnr.db(),
            "calibration": method.to_string(),
            "calibration_images": calibration_images,
            "f16_blocks": plan.ops.iter().filter(|o| o.name.ends_with("_f16")).map(|o| o.name.clone()).collect::<Vec<_>>(),
        });
        if a.crc {
            int8_obj["logits_crc32"] = serde_json::json!(format!("0x{:08x}", crc.finish()));
        }
        report["int8"] = int8_obj;
    }
    if let Some(b) = peak_memory_bytes() {
        report["peak_memory_bytes"] = serde_json::json!(b);
    }
    print_eval(&report, a.json, plan.as_ref().map(|(p, _)| p))
}

/// Predictions gathered chunk by chunk.
#[derive(Default)]
struct Predictions {
    f32: Vec<usize>,
    reference: Vec<usize>,
    f16: Vec<usize>,
    int8: Vec<usize>,
}

/// One chunk's f32 logits (the model has a head: checked up front).
fn chunk_logits(model: &convnext_codegen::Model, x: &Tensor) -> Result<Tensor, Failure> {
    logits(model, x)?.ok_or_else(|| {
        Failure::Model(Error::Input {
            message: "the model has no classifier head".into(),
        })
    })
}

/// Print `eval`'s report as JSON or as text.
fn print_eval(report: &serde_json::Value, json: bool, plan: Option<&Plan>) -> Result<(), Failure> {
    if json {
        println!("{report}");
        return Ok(());
    }
    let pct = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0) * 100.0;
    println!(
        "model         {}",
        report["model"].as_str().unwrap_or_default()
    );
    println!("test images   {}", report["test_images"]);
    println!("f32 accuracy  {:.2} %", pct(&report["f32"]["accuracy"]));
    if let Some(e) = report["f32"].get("reference_max_rel_error") {
        println!(
            "  vs HF       top-1 agreement {:.2} %, max relative logit error {:.1e}",
            pct(&report["f32"]["reference_agreement"]),
            e.as_f64().unwrap_or(0.0)
        );
    }
    if let Some(f16) = report.get("f16") {
        println!(
            "f16 accuracy  {:.2} %, agreement with f32 {:.2} %",
            pct(&f16["accuracy"]),
            pct(&f16["agreement"])
        );
    }
    if let Some(plan) = plan {
        let int8 = &report["int8"];
        println!(
            "int8 accuracy {:.2} %, agreement with f32 {:.2} %, logit SQNR {:.1} dB ({} calibration)",
            pct(&int8["accuracy"]),
            pct(&int8["agreement"]),
            int8["logit_sqnr_db"].as_f64().unwrap_or(0.0),
            int8["calibration"].as_str().unwrap_or_default()
        );
        if let Some(c) = int8.get("logits_crc32") {
            println!("int8 logits crc32 {}", c.as_str().unwrap_or_default());
        }
        println!(
            "int8 memory   arena {} bytes = {:.3} x the residual-stream bound ({} bytes); weights {} bytes; {} MACs",
            plan.arena_bytes,
            plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
            plan.residual_bound_bytes,
            plan.weights_bytes(),
            plan.macs()
        );
    }
    if let Some(b) = report.get("peak_memory_bytes").and_then(|b| b.as_u64()) {
        println!(
            "peak memory   {:.0} MB (streamed in chunks of {CHUNK} images)",
            b as f64 / 1e6
        );
    }
    Ok(())
}
