//! The subcommands. Each parses its flags, does its job through
//! `convnext-codegen`, and reports failures as [`Failure`].

use crate::args::Args;
use convnext::network::argmax;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::{
    build_mixed_plan, choose_f16_blocks, load_calibration, logit_sqnr_db, round_weights_to_f16,
    DEFAULT_CALIBRATION,
};
use convnext_codegen::dataset::{load_test_set, read_images};
use convnext_codegen::emit::Provenance;
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::pixel_values_to_u8;
use convnext_codegen::{forward, load_model, npy, Error, Model, Tensor};
use std::path::Path;

/// Why a command failed: bad usage (exit 2) or bad data (exit 1).
pub enum Failure {
    /// Flags were wrong.
    Usage(String),
    /// The model, input or output was wrong.
    Model(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Model(e)
    }
}

fn usage(e: String) -> Failure {
    Failure::Usage(e)
}

/// Which precision to run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    F32,
    F16,
    Int8,
}

fn precision(s: Option<&str>) -> Result<Precision, Failure> {
    match s.unwrap_or("f32") {
        "f32" => Ok(Precision::F32),
        "f16" => Ok(Precision::F16),
        "int8" => Ok(Precision::Int8),
        other => Err(usage(format!(
            "--precision {other:?}: expected f32, f16 or int8"
        ))),
    }
}

/// `convnext run`.
pub fn run(argv: &[String]) -> Result<(), Failure> {
    let a = Args::parse(
        argv,
        &with_int8_flags(&["model", "precision", "input", "output", "output-kind"]),
        &[],
    )
    .map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    let input = Path::new(a.required("input").map_err(usage)?);
    let output = Path::new(a.required("output").map_err(usage)?);
    let kind = a.optional("output-kind").unwrap_or("logits");
    if !["logits", "pooler_output", "last_hidden_state"].contains(&kind) {
        return Err(usage(format!(
            "--output-kind {kind:?}: expected logits, pooler_output or last_hidden_state"
        )));
    }
    let p = precision(a.optional("precision"))?;
    let model = load_model(dir)?;
    let x = npy::read(input)?.into_f32(input)?;
    let y = match p {
        Precision::Int8 => {
            if kind != "logits" {
                return Err(Failure::Model(Error::Input {
                    message: format!("--precision int8 computes logits only, not {kind}"),
                }));
            }
            let (plan, _) = int8_plan(dir, &model, &a)?;
            int8_logits(&plan, &x)?
        }
        Precision::F16 | Precision::F32 => {
            let model = if p == Precision::F16 {
                round_weights_to_f16(&model)
            } else {
                model
            };
            let out = forward(&model, &x)?;
            match kind {
                "pooler_output" => out.pooler_output,
                "last_hidden_state" => out.last_hidden_state,
                _ => out.logits.ok_or_else(|| Error::Input {
                    message: format!(
                        "{} has no classifier head (a ConvNextModel checkpoint); use --output-kind pooler_output or last_hidden_state",
                        dir.display()
                    ),
                })?,
            }
        }
    };
    npy::write_f32(output, &y)?;
    Ok(())
}

/// `convnext preprocess`.
pub fn preprocess(argv: &[String]) -> Result<(), Failure> {
    let a = Args::parse(argv, &["model", "input", "output"], &[]).map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    let input = Path::new(a.required("input").map_err(usage)?);
    let output = Path::new(a.required("output").map_err(usage)?);
    let cfg = load_processor(dir)?;
    let x = read_images(input)?.pixel_values(&cfg)?;
    npy::write_f32(output, &x)?;
    Ok(())
}

fn calibration_method(s: Option<&str>) -> Result<Calibration, Failure> {
    match s {
        None => Ok(DEFAULT_CALIBRATION),
        Some("minmax") => Ok(Calibration::MinMax),
        Some(p) => p
            .strip_prefix("percentile:")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| (0.5..=1.0).contains(v))
            .map(Calibration::Percentile)
            .ok_or_else(|| {
                usage(format!(
                    "--calibration-method {p:?}: expected minmax or percentile:P (0.5 <= P <= 1)"
                ))
            }),
    }
}

/// `flags` plus the flags every command that builds an int8 plan takes.
fn with_int8_flags<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    let mut all = flags.to_vec();
    all.extend(["calibration", "calibration-method", "f16-blocks"]);
    all
}

/// Calibrate and plan the int8 network for a model folder, from the
/// `--calibration`, `--calibration-method` and `--f16-blocks` flags. Returns
/// the plan and the number of calibration images.
fn int8_plan(dir: &Path, model: &Model, a: &Args) -> Result<(Plan, usize), Failure> {
    let processor = load_processor(dir)?;
    let cal = load_calibration(dir, a.optional("calibration").map(Path::new), &processor)?;
    let method = calibration_method(a.optional("calibration-method"))?;
    let f16_count = match a.optional("f16-blocks") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| usage(format!("--f16-blocks {v:?} is not a count")))?,
        None => 0,
    };
    let chosen = choose_f16_blocks(model, &processor, &cal, method, f16_count)?;
    let blocks: Vec<(usize, usize)> = chosen.iter().map(|(b, _)| *b).collect();
    Ok((
        build_mixed_plan(model, &processor, &cal, method, &blocks)?,
        cal.shape[0],
    ))
}

/// int8 logits for float pixel_values, dequantized to f32.
fn int8_logits(plan: &Plan, x: &Tensor) -> Result<Tensor, Failure> {
    let m = &plan.model;
    let want = [m.input_c, m.input_h, m.input_w];
    if x.shape.len() != 4 || x.shape[1..] != want {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "int8 plan was calibrated for (N, {}, {}, {}) inputs, got {:?}; calibrate at this size with --calibration",
                want[0], want[1], want[2], x.shape
            ),
        }));
    }
    let u8s = pixel_values_to_u8(x, &m.processor);
    let l = plan.run_u8(&u8s);
    Ok(Tensor::new(
        &[x.shape[0], m.num_labels],
        l.iter()
            .map(|&v| (v as f64 * m.logit_scale) as f32)
            .collect(),
    ))
}

/// Top-1 agreement between two sets of predictions.
fn agreement(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
}

/// `convnext eval`.
pub fn eval(argv: &[String]) -> Result<(), Failure> {
    let a = Args::parse(
        argv,
        &with_int8_flags(&["model", "limit", "precision"]),
        &["json", "crc"],
    )
    .map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    let limit = match a.optional("limit") {
        Some(s) => Some(
            s.parse::<usize>()
                .map_err(|_| usage(format!("--limit {s:?} is not a count")))?,
        ),
        None => None,
    };
    let method = calibration_method(a.optional("calibration-method"))?;
    // f32 always runs (it is what agreement is measured against).
    let only = a
        .optional("precision")
        .map(|p| precision(Some(p)))
        .transpose()?;
    let want = |p: Precision| only.is_none() || only == Some(p);
    let model = load_model(dir)?;
    let processor = load_processor(dir)?;
    let mut test = load_test_set(dir)?;
    if let Some(n) = limit {
        test.images = test.images.take(n);
        test.labels.truncate(n);
    }
    let n = test.images.count;
    let x = test.images.pixel_values(&processor)?;
    let no_head = || Error::Input {
        message: format!("{} has no classifier head to evaluate", dir.display()),
    };
    let logits = forward(&model, &x)?.logits.ok_or_else(no_head)?;
    let classes = logits.shape[1];
    let accuracy = |p: &[usize]| {
        p.iter().zip(&test.labels).filter(|(p, l)| p == l).count() as f64 / n.max(1) as f64
    };
    let f32_pred: Vec<usize> = logits.data.chunks_exact(classes).map(argmax).collect();
    let mut f32_obj = serde_json::json!({ "accuracy": accuracy(&f32_pred) });
    let ref_path = dir.join("test_logits.npy");
    if ref_path.exists() {
        let mut reference = npy::read(&ref_path)?.into_f32(&ref_path)?;
        reference.data.truncate(n * classes);
        reference.shape[0] = n.min(reference.shape[0]);
        if reference.shape != logits.shape {
            return Err(Failure::Model(Error::Input {
                message: format!(
                    "{} has shape {:?}, expected {:?}",
                    ref_path.display(),
                    reference.shape,
                    logits.shape
                ),
            }));
        }
        let ref_pred: Vec<usize> = reference.data.chunks_exact(classes).map(argmax).collect();
        f32_obj["reference_agreement"] = serde_json::json!(agreement(&f32_pred, &ref_pred));
        f32_obj["reference_max_rel_error"] =
            serde_json::json!(logits.relative_max_error(&reference));
    }

    let mut report = serde_json::json!({
        "model": dir.display().to_string(),
        "test_images": n,
        "f32": f32_obj,
    });
    if want(Precision::F16) {
        let f16_logits = forward(&round_weights_to_f16(&model), &x)?
            .logits
            .ok_or_else(no_head)?;
        let f16_pred: Vec<usize> = f16_logits.data.chunks_exact(classes).map(argmax).collect();
        report["f16"] = serde_json::json!({
            "accuracy": accuracy(&f16_pred),
            "agreement": agreement(&f16_pred, &f32_pred),
            "logit_max_rel_error": f16_logits.relative_max_error(&logits),
        });
    }
    if !want(Precision::Int8) {
        return print_eval(&report, a.switch("json"), None);
    }
    let (plan, calibration_images) = int8_plan(dir, &model, &a)?;
    let int8 = plan.run_u8(&test.images.pixels);
    let int8_pred: Vec<usize> = int8.chunks_exact(classes).map(argmax).collect();
    let mut int8_obj = serde_json::json!({
        "accuracy": accuracy(&int8_pred),
        "agreement": agreement(&int8_pred, &f32_pred),
        "logit_sqnr_db": logit_sqnr_db(&int8, plan.model.logit_scale, &logits.data),
        "calibration": method.to_string(),
        "calibration_images": calibration_images,
        "f16_blocks": plan.ops.iter().filter(|o| o.name.ends_with("_f16")).map(|o| o.name.clone()).collect::<Vec<_>>(),
    });
    if a.switch("crc") {
        let mut crc = convnext::crc32::Crc32::new();
        crc.update_i32(&int8);
        int8_obj["logits_crc32"] = serde_json::json!(format!("0x{:08x}", crc.finish()));
    }
    report["int8"] = int8_obj;
    print_eval(&report, a.switch("json"), Some(&plan))
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
    let Some(plan) = plan else {
        return Ok(());
    };
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
    Ok(())
}

/// `convnext report`.
pub fn report(argv: &[String]) -> Result<(), Failure> {
    let a =
        Args::parse(argv, &with_int8_flags(&["model", "precision"]), &["json"]).map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    if precision(a.optional("precision"))? != Precision::Int8 {
        return Err(usage(
            "report describes the int8 plan: use --precision int8".into(),
        ));
    }
    let model = load_model(dir)?;
    let (plan, _) = int8_plan(dir, &model, &a)?;
    let ops: Vec<serde_json::Value> = plan
        .ops
        .iter()
        .map(|o| {
            serde_json::json!({
                "name": o.name,
                "macs": o.macs,
                "weights_bytes": o.weights_bytes,
                "arena_live_bytes": o.arena_live_bytes,
                "layerwise_bytes": o.layerwise_bytes,
            })
        })
        .collect();
    let m = &plan.model;
    let j = serde_json::json!({
        "model": dir.display().to_string(),
        "precision": "int8",
        "input": [m.input_c, m.input_h, m.input_w],
        "parameters": model.parameters(),
        "weights_bytes": plan.weights_bytes(),
        "arena_bytes": plan.arena_bytes,
        "residual_bound_bytes": plan.residual_bound_bytes,
        "arena_to_bound": plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
        "layerwise_arena_bytes": plan.layerwise_arena_bytes,
        "macs": plan.macs(),
        "ops": ops,
    });
    if a.switch("json") {
        println!("{j}");
        return Ok(());
    }
    println!(
        "{:<22} {:>12} {:>14} {:>12} {:>12}",
        "op", "MACs", "weights bytes", "arena live", "layerwise"
    );
    for o in &plan.ops {
        println!(
            "{:<22} {:>12} {:>14} {:>12} {:>12}",
            o.name, o.macs, o.weights_bytes, o.arena_live_bytes, o.layerwise_bytes
        );
    }
    println!(
        "total: {} MACs, {} weight bytes; arena {} bytes = {:.3} x the residual-stream bound {} (layer by layer: {})",
        plan.macs(),
        plan.weights_bytes(),
        plan.arena_bytes,
        plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
        plan.residual_bound_bytes,
        plan.layerwise_arena_bytes
    );
    Ok(())
}

/// `convnext compile`.
pub fn compile(argv: &[String]) -> Result<(), Failure> {
    let a = Args::parse(argv, &with_int8_flags(&["model", "out", "name"]), &[]).map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    let out = Path::new(a.required("out").map_err(usage)?);
    let name = a.optional("name").unwrap_or("model");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(usage(format!("--name {name:?}: use letters, digits and _")));
    }
    let model = load_model(dir)?;
    let (plan, images) = int8_plan(dir, &model, &a)?;
    let source = a
        .optional("calibration")
        .unwrap_or("calibration_images.npy");
    let method = calibration_method(a.optional("calibration-method"))?;
    let provenance = Provenance::new(dir, source, images, method, &plan);
    let e = convnext_codegen::emit::emit(&plan, out, name, &provenance, &model.config.labels)?;
    println!(
        "wrote {} and {} weight files: arena {} bytes, weights {} bytes, {} MACs",
        e.source.display(),
        e.weight_files.len(),
        plan.arena_bytes,
        plan.weights_bytes(),
        plan.macs()
    );
    Ok(())
}
