//! The command line, declared with clap: every subcommand, its flags, their
//! types and help. Usage errors exit 2 (clap's), bad data exits 1
//! (`main`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use convnext_codegen::compile::DEFAULT_CALIBRATION;
use std::path::PathBuf;

/// ConvNeXt inference for microcontrollers, on the host: classify, evaluate
/// and inspect a checkpoint with the numerics the firmware uses.
#[derive(Debug, Parser)]
#[command(name = "convnext", version, propagate_version = true)]
#[command(after_help = "\
With no command, from the repository root: a short tour on the default model.

Start here:
  convnext classify --model models/fmnist-convnext models/fmnist-convnext/examples/*.png
  convnext eval --model models/fmnist-convnext
  convnext report --model models/fmnist-convnext")]
pub struct Cli {
    /// What to do (none: a short tour on the bundled default model, from
    /// the repository root).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify image files (PNG, JPEG, BMP): the top labels by name.
    Classify(ClassifyArgs),
    /// Run a batch of float pixel_values (.npy) and write an output (.npy).
    Run(RunArgs),
    /// Accuracy, agreement with f32 and logit SQNR on the model folder's test set.
    Eval(EvalArgs),
    /// The int8 plan per op: MACs, weight bytes, arena bytes, against the bound.
    Report(ReportArgs),
    /// Emit the int8 network as Rust source and weight tables.
    Compile(CompileArgs),
    /// Calibrate once and save the ranges, to reuse everywhere.
    Calibrate(CalibrateArgs),
    /// Latency of one image on one thread.
    Bench(BenchArgs),
    /// u8 images (.npy) to pixel_values (.npy), exactly as HF preprocesses.
    Preprocess(PreprocessArgs),
    /// A firmware crate of your own for a board: the model, a few test
    /// images and a main.rs that classifies them.
    NewFirmware(NewFirmwareArgs),
    /// A static library and a header per model, for C and C++.
    ExportC(ExportCArgs),
}

/// Numerics to run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    /// The float reference (matches HF transformers).
    F32,
    /// f16 weights, f32 arithmetic.
    F16,
    /// The firmware's integer-only network.
    Int8,
}

/// Which output `run` writes (HF's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum OutputKind {
    /// (N, num_labels) classifier logits.
    Logits,
    /// (N, C) pooled, normalised features (HF `pooler_output`).
    PoolerOutput,
    /// (N, C, H, W) last stage's map (HF `last_hidden_state`).
    LastHiddenState,
    /// One DIR/<stage>.npy per config `out_features` entry, (N, C, H, W),
    /// as HF's `ConvNextBackbone` returns them.
    FeatureMaps,
    /// (N, num_labels) int32: the int8 network's logits as the firmware
    /// returns them (logit = int32 x LOGIT_SCALE); --precision int8 only.
    Int32Logits,
}

/// How the int8 network's input is quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputQuant {
    /// u8 pixels, as a camera gives them (exact for images)
    Camera,
    /// A scale and zero point calibrated on the calibration pixel_values,
    /// for inputs that are not u8 images
    Calibrated,
}

/// How to calibrate: the flags of `calibrate` and of every command that
/// builds an int8 plan.
#[derive(Debug, Clone, Args)]
pub struct CalibrationFlags {
    /// Calibration images: (N, C, H, W) float32 pixel_values or u8 images
    /// (N, H, W[, C]) [default: the model folder's calibration_images.npy]
    #[arg(long, value_name = "CAL.npy")]
    pub calibration: Option<PathBuf>,
    /// How activation ranges are chosen: minmax or percentile:P (0.5 <= P <= 1)
    #[arg(long, value_name = "METHOD", default_value_t = DEFAULT_CALIBRATION.to_string())]
    pub calibration_method: String,
    /// Keep the K blocks int8 hurts most (on the calibration images) in f16
    /// weights with f32 arithmetic
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub f16_blocks: usize,
    /// How the network's input is quantized
    #[arg(long, value_enum, default_value_t = InputQuant::Camera)]
    pub input_quantization: InputQuant,
    /// How the residual stream is scaled: per-channel (each stream's own)
    /// or per-tensor
    #[arg(long, value_enum, default_value_t = StreamScalesArg::PerChannel)]
    pub stream_scales: StreamScalesArg,
    /// How wide the hidden values pwconv2 reads are: int16 (a 16-bit
    /// activation table; v1 blocks) or int8
    #[arg(long, value_enum, default_value_t = HiddenArg::Int16)]
    pub hidden: HiddenArg,
}

/// How wide the int8 network's hidden values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HiddenArg {
    /// i16 from a 16-bit activation table, where the block allows (v1)
    Int16,
    /// int8
    Int8,
}

/// How the int8 network's residual stream is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamScalesArg {
    /// One scale per channel of each stream
    PerChannel,
    /// One scale per tensor
    PerTensor,
}

impl CalibrationFlags {
    /// The defaults: the folder's images, the default rule, all int8, u8
    /// input.
    pub fn defaults() -> CalibrationFlags {
        CalibrationFlags {
            calibration: None,
            calibration_method: DEFAULT_CALIBRATION.to_string(),
            f16_blocks: 0,
            input_quantization: InputQuant::Camera,
            stream_scales: StreamScalesArg::PerChannel,
            hidden: HiddenArg::Int16,
        }
    }
}

/// Flags of every command that builds an int8 plan.
#[derive(Debug, Clone, Args)]
pub struct Int8Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub calibrate: CalibrationFlags,
    /// A saved calibration (convnext calibrate --out): no recalibrating
    /// (report also takes --calibration beside it: the images to measure
    /// its SQNR on)
    #[arg(
        long,
        value_name = "FILE.json",
        conflicts_with_all = ["f16_blocks", "input_quantization", "stream_scales", "hidden"]
    )]
    pub calibration_file: Option<PathBuf>,
}

/// `convnext classify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  convnext classify --model models/fmnist-convnext models/fmnist-convnext/examples/*.png
  convnext classify --model models/fmnist-convnext --precision int8 --top 3 --json shoe.png")]
pub struct ClassifyArgs {
    /// Model folder (config.json, model.safetensors, preprocessor_config.json)
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Image files
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Numerics to classify with
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// How many labels to show per image
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub top: usize,
    /// One JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext run`.
#[derive(Debug, Args)]
#[command(after_help = "\
X is (N, C, H, W) float32 pixel_values; Y is (N, num_labels) float32 logits, or
the HF output --output-kind names (int8: logits, or feature_maps dequantized).
With --output-kind feature_maps, --output is a folder that gets one
<stage>.npy per out_features entry of the model's config.json.

Example:
  convnext run --model models/fmnist-convnext --precision int8 --input x.npy --output y.npy")]
pub struct RunArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Numerics to run in
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Input: float32 pixel_values (N, C, H, W), or u8 images (N, H, W[, C])
    /// that are preprocessed as preprocessor_config.json says
    #[arg(long, value_name = "X.npy")]
    pub input: PathBuf,
    /// Where the output goes (a folder for feature_maps)
    #[arg(long, value_name = "Y.npy")]
    pub output: PathBuf,
    /// Which output to write
    #[arg(long, value_enum, default_value_t = OutputKind::Logits)]
    pub output_kind: OutputKind,
    /// Feature maps to write instead of config.json's out_features, e.g.
    /// stem,stage2 (stages without a norm in the checkpoint get HF's new
    /// identity norm)
    #[arg(long, value_name = "STAGES", value_delimiter = ',')]
    pub out_features: Option<Vec<String>>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext eval`.
#[derive(Debug, Args)]
#[command(after_help = "\
f32 always runs (agreement is measured against it), then f16 and int8, or the
one --precision names. Reads the model folder's test_images.npy and
test_labels.npy (and compares f32 with HF's test_logits.npy when present), or
your data: --data DIR or --images X.npy --labels Y.npy. Reports accuracy per
class, the confusion matrix of the int8 network, and the images int8 and f32
disagree on (all of them with --json).

Examples:
  convnext eval --model models/fmnist-convnext --precision int8 --json
  convnext eval --model models/fmnist-convnext --data my_pictures/")]
pub struct EvalArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Evaluate only this precision (besides f32)
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// One JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,
    /// The first N test images only
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Add the CRC-32 of the int8 logits (what the boards print)
    #[arg(long)]
    pub crc: bool,
    /// Your pictures, one sub-folder per label (DIR/<label>/*.png; a label
    /// as in id2label, case and / or spaces aside, or its index)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["images", "labels"])]
    pub data: Option<PathBuf>,
    /// Your u8 images, (N, H, W[, C]) (with --labels)
    #[arg(long, value_name = "X.npy", requires = "labels")]
    pub images: Option<PathBuf>,
    /// Their class indices, (N,) (with --images)
    #[arg(long, value_name = "Y.npy", requires = "images")]
    pub labels: Option<PathBuf>,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext report`.
#[derive(Debug, Args)]
#[command(after_help = "\
Sizes in KiB (1024 bytes) and MMAC (10^6 multiply-accumulates). SQNR is each
op's int8 output against the f32 reference's same tensor on the calibration
images (errors accumulate along the schedule, as in TFLite's quantization
debugger; a drop points at the op that adds the noise). A fit check
counts flash as the parameter tables plus 48 KiB for the runtime's code and
constants (64 KiB on Armv6-M boards), and RAM as the arena plus 2 KiB of
stack (measured on the default model's firmware, rounded up).

Examples:
  convnext report --model models/fmnist-convnext --board rpi-pico
  convnext report --model my_model --flash 256 --ram 64 --json")]
pub struct ReportArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The plan to describe (only int8 has one)
    #[arg(long, value_enum, default_value_t = Precision::Int8)]
    pub precision: Precision,
    /// Check the fit on a board of boards/boards.rs (qemu-an386, qemu-an500,
    /// qemu-an505, qemu-an385, stm32f746g-disco, nrf52840-dk, rpi-pico)
    #[arg(long, value_name = "BOARD", conflicts_with_all = ["flash", "ram"])]
    pub board: Option<String>,
    /// Check the fit in this much flash, KiB (with --ram)
    #[arg(long, value_name = "KIB", requires = "ram")]
    pub flash: Option<f64>,
    /// Check the fit in this much RAM, KiB (with --flash)
    #[arg(long, value_name = "KIB", requires = "flash")]
    pub ram: Option<f64>,
    /// Describe the backbone's network instead: config.json's out_features
    /// maps (or --out-features), no head, stopping after the last stage a
    /// map needs; the maps go to the caller's buffer, not the arena
    #[arg(long)]
    pub feature_maps: bool,
    /// With --feature-maps: these stages instead of config.json's, e.g.
    /// stem,stage2
    #[arg(
        long,
        value_name = "STAGES",
        value_delimiter = ',',
        requires = "feature_maps"
    )]
    pub out_features: Option<Vec<String>>,
    /// Also rank the blocks by how much keeping each in f16 would help
    /// (mixed precision; one plan per block, slower)
    #[arg(long)]
    pub sensitivity: bool,
    /// Write arena.svg (live bytes per op against the bound and the
    /// layer-by-layer plan) and sqnr.svg (per-op SQNR) into DIR
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Write one self-contained HTML page: the model summary, the per-op
    /// table, both charts, the board fit (with --board) and where the
    /// calibration came from
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// One JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext compile`.
#[derive(Debug, Args)]
#[command(after_help = "\
Board crates do the same from build.rs with convnext_codegen::build_script.

Example:
  convnext compile --model models/fmnist-convnext --out src/generated --name fashion")]
pub struct CompileArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Folder for NAME.rs and its weight files
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Module name (letters, digits and _)
    #[arg(long, default_value = "model")]
    pub name: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub gate: QualityGate,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// Where a generated crate gets the engine from.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// The engine's checkout to depend on by path [default: the one this
    /// convnext was built from]
    #[arg(long, value_name = "DIR", conflicts_with = "engine_git")]
    pub engine_path: Option<PathBuf>,
    /// The engine's git repository to depend on instead of a path
    #[arg(long, value_name = "URL")]
    pub engine_git: Option<String>,
    /// The commit (or tag) of --engine-git [default: its default branch]
    #[arg(long, value_name = "REV", requires = "engine_git")]
    pub engine_rev: Option<String>,
}

/// `convnext new-firmware`.
#[derive(Debug, Args)]
#[command(after_help = "\
The crate is standalone (its own workspace, memory.x, .cargo/config.toml,
build.rs and src/main.rs) and depends on the engine by path (this checkout by
default, or --engine-path) or by git (--engine-git). It embeds the first N
images of the model folder's test_images.npy (else calibration_images.npy),
copies the checkpoint and its calibration into model/, and prints the CRC
the host computes for those images. For an emulated board, `cargo run
--release` in OUT runs it under QEMU (qemu-system-arm and defmt-print on the
PATH); for a real one, it flashes it with probe-rs.

Example:
  convnext new-firmware --board qemu-mps2-an386 --model models/fmnist-convnext --out ../my-firmware")]
pub struct NewFirmwareArgs {
    /// Board of boards/boards.rs, by crate folder or name (qemu-mps2-an386,
    /// qemu-an505, nrf52840-dk, rpi-pico, ...)
    #[arg(long, value_name = "BOARD")]
    pub board: String,
    /// Model folder (config.json, model.safetensors, preprocessor_config.json)
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Folder for the new crate (created; must not exist or be empty)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many test images to embed
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub images: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub gate: QualityGate,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext export-c`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes OUT/NAME.h per model, OUT/convnext_status.h, OUT/libLIBRARY.a (the
runtime and every model, no_std, panic = abort, built with cargo from the
crate it writes under OUT/rust/) and OUT/CMakeLists.txt (the imported target
LIBRARY: add_subdirectory(OUT), target_link_libraries(app PRIVATE LIBRARY)).
Several models go into one library: --model A --name a --model B --name b.

Example:
  convnext export-c --model models/fmnist-convnext --out c/ --name fashion
  cc -std=c99 main.c -Ic/ c/libfashion.a -o classify")]
pub struct ExportCArgs {
    /// Model folder (repeat for several models in one library)
    #[arg(long, value_name = "DIR", required = true)]
    pub model: Vec<PathBuf>,
    /// Folder for the headers, the library and CMakeLists.txt
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Each model's prefix, in --model order (lower case, digits, _)
    /// [default: convnext_model for one model]
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,
    /// The library's name [default: the first model's]
    #[arg(long, value_name = "LIBRARY")]
    pub library: Option<String>,
    /// Rust target triple to build for (thumbv7em-none-eabihf, ...)
    /// [default: the host]
    #[arg(long, value_name = "TRIPLE", conflicts_with = "board")]
    pub target: Option<String>,
    /// Build for a board of boards/boards.rs: its target, its core
    /// (-C target-cpu) and the runtime features it takes
    #[arg(long, value_name = "BOARD")]
    pub board: Option<String>,
    /// Saved calibrations (convnext calibrate --out), one per --model in
    /// order [default: calibrate each on its folder's images]
    #[arg(long, value_name = "CAL.json")]
    pub calibration_file: Vec<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub gate: QualityGate,
}

/// `convnext bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Times the folder's first test (or calibration) image: the median of N runs.

Example:
  convnext bench --model models/fmnist-convnext --precision int8 --iterations 500")]
pub struct BenchArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Numerics to time
    #[arg(long, value_enum)]
    pub precision: Precision,
    /// Runs to take the median of
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub iterations: usize,
    /// One JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub int8: Int8Args,
}

/// `convnext preprocess`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  convnext preprocess --model models/fmnist-convnext --input images.npy --output x.npy")]
pub struct PreprocessArgs {
    /// Model folder (its preprocessor_config.json)
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// u8 images, (N, H, W[, C])
    #[arg(long, value_name = "IMAGES.npy")]
    pub input: PathBuf,
    /// Where the float32 (N, C, H, W) pixel_values go
    #[arg(long, value_name = "X.npy")]
    pub output: PathBuf,
}

/// The quality gate of `compile` and `calibrate`.
#[derive(Debug, Args)]
pub struct QualityGate {
    /// Refuse (naming the op to blame, writing nothing) when the int8 logit
    /// SQNR on the calibration images is below DB; -inf turns the gate off
    #[arg(
        long = "min-sqnr",
        value_name = "DB",
        default_value_t = convnext_codegen::quality::DEFAULT_MIN_SQNR_DB,
        allow_negative_numbers = true
    )]
    pub min_sqnr: f64,
}

impl Default for QualityGate {
    fn default() -> Self {
        QualityGate {
            min_sqnr: convnext_codegen::quality::DEFAULT_MIN_SQNR_DB,
        }
    }
}

/// `convnext calibrate`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes the calibrated activation ranges, the input size, the method, the f16
blocks chosen and the checkpoint's fingerprint as JSON. classify, run, eval,
report, compile and bench take it as --calibration-file FILE.json, and a
board's build.rs as convnext_codegen::build_script::generate_with_calibration,
so the firmware and the host quantize identically without recalibrating.

Example:
  convnext calibrate --model models/fmnist-convnext --calibration my_images.npy --out cal.json")]
pub struct CalibrateArgs {
    /// Model folder
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Where the calibration goes
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub gate: QualityGate,
    /// What to calibrate on and for (all saved with the ranges)
    #[command(flatten)]
    pub calibrate: CalibrationFlags,
}
