//! The subcommands. Each parses its flags, does its job through
//! `convnext-codegen`, and reports failures as [`Failure`].

use crate::failure::{usage, Failure};
use crate::fit::{self, kib};
use crate::int8::{calibrate_and_gate, calibration_method, int8_plan, Int8Plan};
use crate::options::{
    CalibrateArgs, CompileArgs, OutputKind, Precision, PreprocessArgs, ReportArgs, RunArgs,
};
use clap::ValueEnum;
use convnext_codegen::compile::{
    choose_f16_blocks_with_numerics, load_calibration, round_weights_to_f16,
};
use convnext_codegen::dataset::{images_from_npy, read_images};
use convnext_codegen::emit::Provenance;
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quality::check_quality;
use convnext_codegen::quantize::input_bytes;
use convnext_codegen::reference::logits;
use convnext_codegen::{forward, load_model, npy, Error, Model, Tensor};
use std::path::Path;

/// Bytes of float pixel_values `run` holds at a time: the input is read,
/// and the output written, a chunk of images at a time.
const RUN_CHUNK_BYTES: usize = 16 << 20;

/// `convnext run`.
pub fn run(a: &RunArgs) -> Result<(), Failure> {
    let (dir, input, output) = (a.model.as_path(), a.input.as_path(), a.output.as_path());
    let (p, kind) = (a.precision, a.output_kind);
    let model = load_model(dir)?;
    if a.out_features.is_some() && kind != OutputKind::FeatureMaps {
        return Err(usage(
            "--out-features goes with --output-kind feature_maps".into(),
        ));
    }
    if kind == OutputKind::Int32Logits && p != Precision::Int8 {
        return Err(usage(
            "--output-kind int32_logits goes with --precision int8".into(),
        ));
    }
    if p == Precision::Int8
        && !matches!(
            kind,
            OutputKind::Logits | OutputKind::Int32Logits | OutputKind::FeatureMaps
        )
    {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "--precision int8 computes logits only, not {}",
                kind.to_possible_value()
                    .map_or(String::new(), |v| v.get_name().to_string())
            ),
        }));
    }
    let inputs = RunInputs::open(input, dir)?;
    if kind == OutputKind::FeatureMaps {
        let (x, _) = inputs.read(0..inputs.count())?;
        convnext_codegen::reference::check_pixel_values(&model, &x)?;
        let model = match &a.out_features {
            Some(names) => model.with_out_features(names)?,
            None => model,
        };
        return write_feature_maps(a, dir, &model, &x, output);
    }
    // The first image checked before calibrating (the rest chunk by chunk).
    let (first, _) = inputs.read(0..1)?;
    convnext_codegen::reference::check_pixel_values(&model, &first)?;
    let plan = match p {
        Precision::Int8 => Some(int8_plan(dir, &model, &a.int8)?.plan),
        _ => None,
    };
    let model = match p {
        Precision::F16 => round_weights_to_f16(&model),
        _ => model,
    };
    let n = inputs.count();
    let chunk = inputs.chunk_rows();
    let mut writer: Option<npy::NpyWriter> = None;
    let mut warned = std::collections::BTreeSet::new();
    // An empty batch still runs once, for its output's shape.
    let starts: Vec<usize> = if n == 0 {
        vec![0]
    } else {
        (0..n).step_by(chunk).collect()
    };
    for start in starts {
        let (x, u8s) = inputs.read(start..(start + chunk).min(n))?;
        convnext_codegen::reference::check_pixel_values(&model, &x)?;
        let rows = x.shape[0];
        let mut warn = |w: String| {
            if warned.insert(w.clone()) {
                eprintln!("warning: {w}");
            }
        };
        match &plan {
            Some(plan) => {
                let logits = plan.run_inputs(&x, u8s.as_deref(), &mut warn)?;
                let labels = plan.model.num_labels;
                let w = match &mut writer {
                    Some(w) => w,
                    None if kind == OutputKind::Int32Logits => {
                        writer.insert(npy::NpyWriter::i32(output, &[n, labels])?)
                    }
                    None => writer.insert(npy::NpyWriter::f32(output, &[n, labels])?),
                };
                if kind == OutputKind::Int32Logits {
                    w.append(&logits)?;
                } else {
                    let scale = plan.model.logit_scale;
                    let f: Vec<f32> = logits.iter().map(|&v| (v as f64 * scale) as f32).collect();
                    w.append(&f)?;
                }
            }
            None => {
                let y = float_output(&model, dir, kind, &x)?;
                let w = match &mut writer {
                    Some(w) => w,
                    None => {
                        let mut shape = y.shape.clone();
                        shape[0] = n;
                        writer.insert(npy::NpyWriter::f32(output, &shape)?)
                    }
                };
                debug_assert_eq!(y.shape[0], rows);
                w.append(&y.data)?;
            }
        }
    }
    match writer {
        Some(w) => Ok(w.finish()?),
        None => Ok(()),
    }
}

/// The f32 (or f16-weight) network's output `kind` for pixel_values `x`.
fn float_output(
    model: &Model,
    dir: &Path,
    kind: OutputKind,
    x: &Tensor,
) -> Result<Tensor, Failure> {
    Ok(match kind {
        OutputKind::PoolerOutput => {
            forward(model, x)?.pooler_output.ok_or_else(|| Error::Input {
                message: format!(
                    "{} is a backbone checkpoint (no final LayerNorm, so no pooler_output); use --output-kind feature_maps",
                    dir.display()
                ),
            })?
        }
        OutputKind::LastHiddenState => forward(model, x)?.last_hidden_state,
        // Logits alone keep no image's hidden states.
        OutputKind::Logits => logits(model, x)?.ok_or_else(|| Error::Input {
            message: format!(
                "{} has no classifier head (a ConvNextModel checkpoint); use --output-kind pooler_output or last_hidden_state",
                dir.display()
            ),
        })?,
        OutputKind::FeatureMaps | OutputKind::Int32Logits => {
            unreachable!("run handles these before")
        }
    })
}

/// `run`'s input: float pixel_values `(N, C, H, W)`, or u8 images `(N, H,
/// W[, C])` preprocessed as the model folder says (their bytes at the input
/// size are what the int8 network takes, as the firmware does), read a
/// chunk at a time.
struct RunInputs {
    rows: npy::NpyRows,
    path: std::path::PathBuf,
    /// The model's preprocessing, for u8 images.
    processor: Option<convnext::preprocess::ProcessorConfig>,
}

impl RunInputs {
    fn open(path: &Path, dir: &Path) -> Result<RunInputs, Failure> {
        let rows = npy::NpyRows::open(path)?;
        let processor = match rows.read(0..0)?.data {
            npy::NpyData::U8(_) => Some(load_processor(dir)?),
            _ => None,
        };
        Ok(RunInputs {
            rows,
            path: path.to_path_buf(),
            processor,
        })
    }

    fn count(&self) -> usize {
        self.rows.rows()
    }

    /// Images per chunk: [`RUN_CHUNK_BYTES`] of f32 pixel_values (u8 images
    /// counted at their own size: a resize changes it little).
    fn chunk_rows(&self) -> usize {
        let per: usize = self.rows.shape()[1..].iter().product();
        (RUN_CHUNK_BYTES / (4 * per.max(1))).max(1)
    }

    /// Images `range`: pixel_values, and for u8 images their bytes.
    fn read(&self, range: std::ops::Range<usize>) -> Result<(Tensor, Option<Vec<u8>>), Failure> {
        let array = self.rows.read(range)?;
        Ok(match &self.processor {
            Some(processor) => {
                let (x, u8s) = images_from_npy(&self.path, array)?.model_inputs(processor)?;
                (x, Some(u8s))
            }
            None => (array.into_f32(&self.path)?, None),
        })
    }
}

/// `run --output-kind feature_maps`: `<output>/<stage>.npy` per out feature,
/// in the precision asked (int8 runs the backbone's own network, which stops
/// after the last stage a map needs, and dequantizes the maps).
fn write_feature_maps(
    a: &RunArgs,
    dir: &Path,
    model: &Model,
    x: &Tensor,
    output: &Path,
) -> Result<(), Failure> {
    if model.feature_norms.is_empty() {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "{}/config.json names no out_features (or out_indices), so there are no feature maps to write",
                dir.display()
            ),
        }));
    }
    let maps = match a.precision {
        Precision::Int8 => {
            let backbone = model.as_backbone();
            let plan = int8_plan(dir, &backbone, &a.int8)?.plan;
            plan.check_inputs(x, false, &mut |w| eprintln!("warning: {w}"))?;
            plan.feature_maps_f32(&input_bytes(x, &plan.model))
        }
        Precision::F16 => forward(&round_weights_to_f16(model), x)?.feature_maps,
        Precision::F32 => forward(model, x)?.feature_maps,
    };
    std::fs::create_dir_all(output).map_err(|source| Error::Io {
        path: output.to_path_buf(),
        source,
    })?;
    for (stage, t) in &maps {
        npy::write_f32(&output.join(format!("{stage}.npy")), t)?;
    }
    Ok(())
}

/// `convnext preprocess`.
pub fn preprocess(a: &PreprocessArgs) -> Result<(), Failure> {
    let (dir, input, output) = (a.model.as_path(), a.input.as_path(), a.output.as_path());
    let cfg = load_processor(dir)?;
    let x = read_images(input)?.pixel_values(&cfg)?;
    npy::write_f32(output, &x)?;
    Ok(())
}

/// `convnext report`.
pub fn report(a: &ReportArgs) -> Result<(), Failure> {
    let dir = a.model.as_path();
    if a.precision != Precision::Int8 {
        return Err(usage(
            "report describes the int8 plan: use --precision int8".into(),
        ));
    }
    let mut model = load_model(dir)?;
    if a.feature_maps {
        if let Some(names) = &a.out_features {
            model = model.with_out_features(names)?;
        }
        model = model.as_backbone();
    }
    // With a saved calibration, --calibration names the images to measure
    // SQNR on, not a network to calibrate.
    let mut int8 = a.int8.clone();
    let measure = match &int8.calibration_file {
        Some(_) => int8.calibrate.calibration.take(),
        None => None,
    };
    let Int8Plan {
        plan,
        calibration,
        images,
        method,
        source,
    } = int8_plan(dir, &model, &int8)?;
    // Per-op SQNR on the calibration images (with a saved calibration:
    // --calibration's, else the folder's, when it has them).
    let processor = load_processor(dir)?;
    let cal = match (calibration, measure) {
        (Some(c), _) => Some(c),
        (None, Some(path)) => Some(load_calibration(dir, Some(&path), &processor)?),
        (None, None) if dir.join("calibration_images.npy").exists() => {
            Some(load_calibration(dir, None, &processor)?)
        }
        (None, None) => None,
    };
    let sqnr = match &cal {
        Some(c) => plan.op_sqnr(&model, c)?,
        None => Vec::new(),
    };
    let sqnr_note = cal.is_none().then_some(
        "SQNR not measured: no images to measure on (the saved calibration keeps only ranges, and the model folder has no calibration_images.npy); give --calibration CAL.npy",
    );
    let sensitivity = match (&cal, a.sensitivity) {
        (Some(_), true) if a.feature_maps => {
            return Err(usage(
                "--sensitivity ranks blocks by logit SQNR; it does not go with --feature-maps"
                    .into(),
            ))
        }
        (Some(c), true) => {
            let method = calibration_method(&a.int8.calibrate.calibration_method)?;
            let blocks: usize = model.stages.iter().map(|s| s.blocks.len()).sum();
            let ranked = choose_f16_blocks_with_numerics(
                &model,
                &processor,
                c,
                method,
                blocks,
                plan.model.numerics(),
            )?;
            serde_json::json!(ranked
                .iter()
                .map(|((s, b), db)| serde_json::json!({
                    "block": format!("stage{}_block{b}", s + 1),
                    "logit_sqnr_db_with_it_in_f16": db,
                }))
                .collect::<Vec<_>>())
        }
        _ => serde_json::Value::Null,
    };
    let charts = charts(&plan, &sqnr);
    if let Some(out) = &a.svg {
        write_svgs(out, &charts)?;
    }
    let m = &plan.model;
    let fit = fit::check(a, &plan)?;
    let cost = plan.numerics_cost();
    let mut j = convnext_codegen::report::plan_json(dir, &model, &plan, &sqnr);
    if let Some(o) = j.as_object_mut() {
        o.insert("fit".into(), fit.clone());
        o.insert("f16_sensitivity".into(), sensitivity.clone());
        o.insert("sqnr_note".into(), serde_json::json!(sqnr_note));
    }
    if let Some(path) = &a.html {
        let calibrated = format!("{images} images from {source}, {method}");
        let page = crate::html::page(&j, &calibrated, &fit::lines(&fit), &charts);
        std::fs::write(path, page).map_err(|e| {
            Failure::Model(Error::Input {
                message: format!("{}: cannot write: {e}", path.display()),
            })
        })?;
    }
    if a.json {
        println!("{j}");
        return Ok(());
    }
    let mmac = |m: u64| m as f64 / 1e6;
    if let Some(note) = sqnr_note {
        eprintln!("note: {note}");
    }
    println!(
        "{:<22} {:>14} {:>9} {:>13} {:>12} {:>12} {:>10}",
        "op", "output", "MMAC", "weights KiB", "arena KiB", "layerwise", "SQNR dB"
    );
    for (i, o) in plan.ops.iter().enumerate() {
        let [c, h, w] = o.output_shape;
        println!(
            "{:<22} {:>14} {:>9.3} {:>13.1} {:>12.2} {:>12.2} {:>10}",
            o.name,
            format!("{c}x{h}x{w}"),
            mmac(o.macs),
            kib(o.weights_bytes),
            kib(o.arena_live_bytes),
            kib(o.layerwise_bytes),
            sqnr.get(i).map_or("-".into(), |d| format!("{d:.1}"))
        );
    }
    println!(
        "total: {:.2} MMAC, {:.1} KiB of parameters; arena {:.2} KiB ({} bytes) = {:.3} x the residual-stream bound {:.2} KiB (layer by layer: {:.2} KiB)",
        mmac(plan.macs()),
        kib(plan.weights_bytes()),
        kib(plan.arena_bytes),
        plan.arena_bytes,
        plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
        kib(plan.residual_bound_bytes),
        kib(plan.layerwise_arena_bytes)
    );
    println!(
        "numerics: {} stream scales, {} hidden values; against per-tensor int8 they cost {} arena bytes and {} table bytes (--stream-scales, --hidden)",
        m.stream_scales, m.hidden, cost.arena_bytes, cost.table_bytes
    );
    match plan.stream_layout() {
        Some(l) => println!(
            "row-streamed (convnext::streamed, the image a row at a time): arena {:.2} KiB ({} bytes) = {:.3} x the bound; the in-place plan holds the whole input",
            kib(l.arena_bytes),
            l.arena_bytes,
            l.arena_bytes as f64 / plan.residual_bound_bytes as f64
        ),
        None => println!("row-streamed: not possible for this network (GRN or f16 blocks in the first stage, or one stage only)"),
    }
    if plan.feature_map_bytes > 0 {
        let names: Vec<&str> = m.feature_maps.iter().map(|f| f.name.as_str()).collect();
        println!(
            "feature maps {}: {} bytes in the caller's buffer (FEATURE_MAP_BYTES), none in the arena",
            names.join(", "),
            plan.feature_map_bytes
        );
    }
    if let Some(rank) = sensitivity.as_array() {
        println!("\nmixed precision: logit SQNR with one block in f16, best first");
        for r in rank {
            println!(
                "  {:<18} {:.1} dB",
                r["block"].as_str().unwrap_or_default(),
                r["logit_sqnr_db_with_it_in_f16"].as_f64().unwrap_or(0.0)
            );
        }
    }
    fit::print(&fit);
    if let Some(out) = &a.svg {
        println!("\nwrote {0}/arena.svg and {0}/sqnr.svg", out.display());
    }
    if let Some(path) = &a.html {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The report's two pictures as SVG: arena bytes and SQNR per op.
fn charts(plan: &Plan, sqnr: &[f64]) -> [String; 2] {
    use crate::svg::{bars, Series};
    let names: Vec<String> = plan.ops.iter().map(|o| o.name.clone()).collect();
    let arena = bars(
        "Arena bytes live during each op",
        "bytes",
        &names,
        &[
            Series {
                name: "in-place plan",
                color: "teal",
                values: plan
                    .ops
                    .iter()
                    .map(|o| Some(o.arena_live_bytes as f64))
                    .collect(),
            },
            Series {
                name: "layer by layer",
                color: "#bbbbbb",
                values: plan
                    .ops
                    .iter()
                    .map(|o| Some(o.layerwise_bytes as f64))
                    .collect(),
            },
        ],
        Some(("residual-stream bound", plan.residual_bound_bytes as f64)),
    );
    let sq = bars(
        "int8 output against f32, per op (SQNR on the calibration images)",
        "dB",
        &names,
        &[Series {
            name: "SQNR",
            color: "steelblue",
            values: names
                .iter()
                .enumerate()
                .map(|(i, _)| sqnr.get(i).copied())
                .collect(),
        }],
        None,
    );
    [arena, sq]
}

/// The report's two pictures into `out`.
fn write_svgs(out: &Path, [arena, sq]: &[String; 2]) -> Result<(), Failure> {
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::Model(Error::Input {
            message: format!("{}: cannot create: {e}", out.display()),
        })
    })?;
    for (file, text) in [("arena.svg", arena), ("sqnr.svg", sq)] {
        let p = out.join(file);
        std::fs::write(&p, text).map_err(|e| {
            Failure::Model(Error::Input {
                message: format!("{}: cannot write: {e}", p.display()),
            })
        })?;
    }
    Ok(())
}

/// `convnext compile`.
pub fn compile(a: &CompileArgs) -> Result<(), Failure> {
    let (dir, out, name) = (a.model.as_path(), a.out.as_path(), a.name.as_str());
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(usage(format!("--name {name:?}: use letters, digits and _")));
    }
    let model = load_model(dir)?;
    let Int8Plan {
        plan,
        images,
        method,
        source,
        calibration,
    } = int8_plan(dir, &model, &a.int8)?;
    // The quality gate, on the calibration images the plan was calibrated
    // on (a saved calibration has none here: it was gated when written).
    let min = a.gate.min_sqnr;
    let gate = match &calibration {
        None => String::new(),
        Some(cal) => {
            let db = check_quality(&model, &plan, cal, min)?;
            format!(", int8 logit SQNR {db:.1} dB on the calibration images (gate {min:.1} dB)")
        }
    };
    let provenance = Provenance::new(dir, &source, images, method, &plan);
    let e = convnext_codegen::emit::emit(&plan, out, name, &provenance, &model.config.labels)?;
    println!(
        "wrote {} and {} weight files: arena {} bytes, weights {} bytes, {} MACs{gate}",
        e.source.display(),
        e.weight_files.len(),
        plan.arena_bytes,
        plan.weights_bytes(),
        plan.macs()
    );
    Ok(())
}

/// `convnext calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<(), Failure> {
    let saved = calibrate_and_gate(&args.model, &args.calibrate, args.gate.min_sqnr)?;
    let method = saved.method;
    saved.write(&args.out)?;
    println!(
        "wrote {}: {} ranges from {} images of {:?} ({method}){}",
        args.out.display(),
        saved.ranges.len(),
        saved.images,
        saved.input,
        if saved.f16_blocks.is_empty() {
            String::new()
        } else {
            format!(", f16 blocks {:?}", saved.f16_blocks)
        }
    );
    Ok(())
}
