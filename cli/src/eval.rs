//! `convnext eval`: accuracy of f32, f16 and int8 on a model folder's test
//! set, streamed in chunks of [`CHUNK`] images so memory does not grow with
//! the test set (each chunk is spread over the machine's cores).

use crate::failure::Failure;
use crate::int8::{int8_plan, Int8Plan};
use crate::labelled::{Chunk, Labelled};
use crate::options::{EvalArgs, Precision};
use crate::progress::progress_bar;
use convnext::network::argmax;
use convnext_codegen::compile::{round_weights_to_f16, LogitSqnr};
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::{input_bytes, InputQuantization};
use convnext_codegen::reference::logits;
use convnext_codegen::{load_model, npy, Error, Tensor};

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
    let mut test = match (&a.data, &a.images, &a.labels) {
        (Some(d), _, _) => Labelled::folder(d, &model)?,
        (None, Some(x), Some(y)) => Labelled::npy(x, y, classes)?,
        _ => Labelled::model_test_set(dir)?,
    };
    if let Some(n) = limit {
        test.truncate(n);
    }
    let n = test.len();
    let ref_path = dir.join("test_logits.npy");
    let reference = if test.is_model_test_set && ref_path.exists() {
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
    let bar = progress_bar(n as u64, "evaluating", a.quiet || a.json);
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let Chunk { x, u8s } = test.chunk(start..end, &model, &processor)?;
        let f32_logits = chunk_logits(&model, &x)?;
        pred.f32
            .extend(f32_logits.data.chunks_exact(classes).map(argmax));
        if let Some(r) = &reference {
            let rows = &r.data[start * classes..end * classes];
            pred.reference
                .extend(rows.chunks_exact(classes).map(argmax));
            ref_err.add(&f32_logits.data, rows);
        }
        if let Some(m) = &f16_model {
            let l = chunk_logits(m, &x)?;
            pred.f16.extend(l.data.chunks_exact(classes).map(argmax));
            f16_err.add(&l.data, &f32_logits.data);
        }
        if let Some(Int8Plan { plan, .. }) = &plan {
            let m = &plan.model;
            if x.shape[1..] != [m.input_c, m.input_h, m.input_w] {
                return Err(Failure::Model(Error::Input {
                    message: format!(
                        "the images preprocess to {:?}, the int8 plan was calibrated for {:?}; calibrate at this size with --calibration",
                        &x.shape[1..],
                        [m.input_c, m.input_h, m.input_w]
                    ),
                }));
            }
            // A calibrated input has its own bytes.
            let int8 = match m.input {
                InputQuantization::Camera => plan.run_u8(&u8s),
                InputQuantization::Calibrated(_) => plan.run_u8(&input_bytes(&x, m)),
            };
            pred.int8.extend(int8.chunks_exact(classes).map(argmax));
            sqnr.add(&int8, plan.model.logit_scale, &f32_logits.data);
            crc.update_i32(&int8);
        }
        bar.inc((end - start) as u64);
    }
    bar.finish_and_clear();
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
    if let Some(Int8Plan {
        plan,
        images: calibration_images,
        method,
        ..
    }) = &plan
    {
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
    // Per class, the confusion matrix of the network that ships (int8 when
    // it ran), and the images int8 and f32 disagree on.
    let names: Vec<String> = (0..classes).map(|i| label(&model, i)).collect();
    let (shipped, shipped_name) = if pred.int8.is_empty() {
        (&pred.f32, "f32")
    } else {
        (&pred.int8, "int8")
    };
    report["per_class"] = per_class(&test.labels, &names, &pred);
    report["confusion"] = serde_json::json!({
        "precision": shipped_name,
        "labels": names,
        "matrix": confusion(&test.labels, shipped, classes),
    });
    if !pred.int8.is_empty() {
        let d: Vec<serde_json::Value> = (0..n)
            .filter(|&i| pred.int8[i] != pred.f32[i])
            .map(|i| {
                serde_json::json!({
                    "image": test.name(i),
                    "label": names[test.labels[i]],
                    "f32": names[pred.f32[i]],
                    "int8": names[pred.int8[i]],
                })
            })
            .collect();
        report["int8_f32_disagreements"] = serde_json::json!(d);
    }
    if let Some(b) = peak_memory_bytes() {
        report["peak_memory_bytes"] = serde_json::json!(b);
    }
    print_eval(&report, a.json, plan.as_ref().map(|p| &p.plan))
}

/// The label of class `i` (`id2label`, or `LABEL_i` as HF names them).
pub(crate) fn label(model: &convnext_codegen::Model, i: usize) -> String {
    match model.config.labels.get(i) {
        Some(l) if !l.is_empty() => l.clone(),
        _ => format!("LABEL_{i}"),
    }
}

/// Accuracy of every precision that ran, class by class.
fn per_class(labels: &[usize], names: &[String], pred: &Predictions) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let of: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            let acc = |p: &[usize]| {
                (!p.is_empty() && !of.is_empty())
                    .then(|| of.iter().filter(|&&i| p[i] == c).count() as f64 / of.len() as f64)
            };
            let mut row =
                serde_json::json!({ "label": name, "images": of.len(), "f32": acc(&pred.f32) });
            if !pred.f16.is_empty() {
                row["f16"] = serde_json::json!(acc(&pred.f16));
            }
            if !pred.int8.is_empty() {
                row["int8"] = serde_json::json!(acc(&pred.int8));
            }
            row
        })
        .collect();
    serde_json::json!(rows)
}

/// `m[true][predicted]` counts.
fn confusion(labels: &[usize], pred: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; classes]; classes];
    for (&l, &p) in labels.iter().zip(pred) {
        m[l][p] += 1;
    }
    m
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
    print_classes(report);
    if let Some(b) = report.get("peak_memory_bytes").and_then(|b| b.as_u64()) {
        println!(
            "peak memory   {:.0} MB (streamed in chunks of {CHUNK} images)",
            b as f64 / 1e6
        );
    }
    Ok(())
}

/// The per-class accuracies, the confusion matrix and the first
/// disagreements, as text.
fn print_classes(report: &serde_json::Value) {
    let pct = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("-".to_string(), |v| format!("{:.1} %", 100.0 * v))
    };
    let Some(rows) = report["per_class"].as_array() else {
        return;
    };
    println!(
        "\n{:<16} {:>7} {:>9} {:>9} {:>9}",
        "class", "images", "f32", "f16", "int8"
    );
    for r in rows {
        println!(
            "{:<16} {:>7} {:>9} {:>9} {:>9}",
            r["label"].as_str().unwrap_or_default(),
            r["images"].as_u64().unwrap_or_default(),
            pct(&r["f32"]),
            pct(&r["f16"]),
            pct(&r["int8"])
        );
    }
    let c = &report["confusion"];
    if let Some(m) = c["matrix"].as_array() {
        println!(
            "\nconfusion ({}): rows are the true class, columns the predicted one",
            c["precision"].as_str().unwrap_or_default()
        );
        for (i, row) in m.iter().enumerate() {
            let cells: Vec<String> = row
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|v| format!("{:>6}", v.as_u64().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            println!("{i:>3} {}", cells.join(""));
        }
    }
    if let Some(d) = report["int8_f32_disagreements"].as_array() {
        println!("\nint8 and f32 disagree on {} images", d.len());
        for x in d.iter().take(10) {
            let s = |k: &str| match &x[k] {
                serde_json::Value::String(v) => v.clone(),
                v => v.to_string(),
            };
            println!(
                "  {}: label {}, f32 {}, int8 {}",
                s("image"),
                s("label"),
                s("f32"),
                s("int8")
            );
        }
        if d.len() > 10 {
            println!("  ... (--json lists all)");
        }
    }
}
