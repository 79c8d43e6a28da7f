//! `convnext`: run, evaluate and inspect ConvNeXt checkpoints with the same
//! numerics the firmware uses.

mod args;
mod bench;
mod commands;
mod eval;

use std::process::ExitCode;

const USAGE: &str = "\
convnext: ConvNeXt inference for microcontrollers, on the host

USAGE:
  convnext run --model DIR --precision f32|f16|int8 --input X.npy --output Y.npy
               [--output-kind logits|pooler_output|last_hidden_state] [--calibration CAL.npy]
      X is (N, C, H, W) float32 pixel_values; Y is (N, num_labels) float32 logits
      (or the HF output named by --output-kind; int8 gives logits only).
  convnext eval --model DIR [--precision f16|int8] [--json] [--limit N] [--crc] [--calibration CAL.npy]
      f32, f16 and int8 (or f32 and the one named) accuracy on the model folder's test set (test_images.npy,
      test_labels.npy), top-1 agreement with f32, and f32 against the committed HF
      logits (test_logits.npy) if present. --crc adds the CRC-32 of the int8 logits.
  convnext report --model DIR --precision int8 [--json] [--calibration CAL.npy]
      The int8 plan: MACs, weight bytes and arena bytes per op, the residual-stream
      bound and what a layer-by-layer schedule would need.

  convnext compile --model DIR --out DIR [--name NAME] [--calibration CAL.npy]
      Emit the int8 network as Rust source (NAME.rs + weight .bin files) to check in;
      board crates do the same from build.rs with convnext_codegen::build_script.

  --calibration-method minmax|percentile:P   (default percentile:0.9999)
  --f16-blocks K   keep the K blocks int8 hurts most (measured on the calibration
      images) in f16 weights with f32 arithmetic; the rest stays int8
      CAL.npy: (N, C, H, W) float32 pixel_values or u8 images (N, H, W[, C]); default:
      the model folder's calibration_images.npy.
  convnext bench --model DIR --precision f32|f16|int8 [--iterations N] [--json]
      Latency of one image on one thread (median of N runs, default 200) on the
      folder's first test (or calibration) image.
  convnext preprocess --model DIR --input IMAGES.npy --output X.npy
      u8 images (N, H, W[, C]) to pixel_values with the model's preprocessor_config.json,
      exactly as HF's Pillow-based ConvNextImageProcessor does.
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &argv[1..];
    let result = match cmd.as_str() {
        "run" => commands::run(rest),
        "eval" => eval::eval(rest),
        "bench" => bench::bench(rest),
        "report" => commands::report(rest),
        "compile" => commands::compile(rest),
        "preprocess" => commands::preprocess(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(commands::Failure::Usage(format!(
            "unknown command {other:?}"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::Usage(m)) => {
            eprintln!("error: {m}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(commands::Failure::Model(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
