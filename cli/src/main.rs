//! `convnext`: run, evaluate and inspect ConvNeXt checkpoints with the same
//! numerics the firmware uses.

mod args;
mod commands;

use std::process::ExitCode;

const USAGE: &str = "\
convnext: ConvNeXt inference for microcontrollers, on the host

USAGE:
  convnext run --model DIR --precision f32|f16|int8 --input X.npy --output Y.npy
               [--output-kind logits|pooler_output|last_hidden_state] [--calibration CAL.npy]
      X is (N, C, H, W) float32 pixel_values; Y is (N, num_labels) float32 logits
      (or the HF output named by --output-kind).
  convnext eval --model DIR [--json] [--limit N]
      Accuracy on the model folder's test set (test_images.npy, test_labels.npy), and
      agreement with its committed float reference logits (test_logits.npy) if present.
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
        "eval" => commands::eval(rest),
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
