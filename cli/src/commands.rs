//! The subcommands. Each parses its flags, does its job through
//! `convnext-codegen`, and reports failures as [`Failure`].

use crate::args::Args;
use convnext_codegen::dataset::{load_test_set, read_images};
use convnext_codegen::processor::load_processor;
use convnext_codegen::{forward, load_model, npy, Error, Tensor};
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
        &[
            "model",
            "precision",
            "input",
            "output",
            "output-kind",
            "calibration",
        ],
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
    if p != Precision::F32 {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "--precision {p:?} is not supported yet; only f32 runs in this version"
            ),
        }));
    }
    let model = load_model(dir)?;
    let x = npy::read(input)?.into_f32(input)?;
    let out = forward(&model, &x)?;
    let y: Tensor = match kind {
        "pooler_output" => out.pooler_output,
        "last_hidden_state" => out.last_hidden_state,
        _ => out.logits.ok_or_else(|| {
            Error::Input {
                message: format!(
                    "{} has no classifier head (a ConvNextModel checkpoint); use --output-kind pooler_output or last_hidden_state",
                    dir.display()
                ),
            }
        })?,
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

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
}

/// `convnext eval`.
pub fn eval(argv: &[String]) -> Result<(), Failure> {
    let a = Args::parse(argv, &["model", "limit"], &["json"]).map_err(usage)?;
    let dir = Path::new(a.required("model").map_err(usage)?);
    let limit = match a.optional("limit") {
        Some(s) => Some(
            s.parse::<usize>()
                .map_err(|_| usage(format!("--limit {s:?} is not a count")))?,
        ),
        None => None,
    };
    let model = load_model(dir)?;
    let cfg = load_processor(dir)?;
    let mut test = load_test_set(dir)?;
    if let Some(n) = limit {
        test.images = test.images.take(n);
        test.labels.truncate(n);
    }
    let n = test.images.count;
    let x = test.images.pixel_values(&cfg)?;
    let logits = forward(&model, &x)?.logits.ok_or_else(|| Error::Input {
        message: format!("{} has no classifier head to evaluate", dir.display()),
    })?;
    let classes = logits.shape[1];
    let preds: Vec<usize> = logits.data.chunks_exact(classes).map(argmax).collect();
    let correct = preds
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| p == l)
        .count();
    let accuracy = correct as f64 / n.max(1) as f64;
    let mut f32_obj = serde_json::json!({ "accuracy": accuracy });
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
        let agree = preds
            .iter()
            .zip(reference.data.chunks_exact(classes))
            .filter(|(p, r)| **p == argmax(r))
            .count();
        f32_obj["reference_agreement"] = serde_json::json!(agree as f64 / n.max(1) as f64);
        f32_obj["reference_max_rel_error"] =
            serde_json::json!(logits.relative_max_error(&reference));
    }
    let report =
        serde_json::json!({ "model": dir.display().to_string(), "test_images": n, "f32": f32_obj });
    if a.switch("json") {
        println!("{report}");
    } else {
        println!("model        {}", dir.display());
        println!("test images  {n}");
        println!("f32 accuracy {:.4}", accuracy);
        if let Some(e) = report["f32"].get("reference_max_rel_error") {
            println!(
                "f32 vs HF    agreement {:.4}, max relative logit error {:.2e}",
                report["f32"]["reference_agreement"].as_f64().unwrap_or(0.0),
                e.as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
