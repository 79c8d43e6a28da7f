//! `convnext` with no command (what `cargo run --release` at the repository
//! root runs): a short tour on the bundled default model. It calibrates once
//! (saving the ranges), classifies two bundled pictures in f32 and int8,
//! evaluates the first 1000 test images, summarises the int8 plan against
//! the boards, writes the report's pictures, and says where everything went.

use crate::commands;
use crate::failure::Failure;
use crate::options::{
    CalibrateArgs, CalibrationFlags, ClassifyArgs, EvalArgs, Int8Args, Precision, QualityGate,
    ReportArgs,
};
use std::path::{Path, PathBuf};

/// Where the default model sits, from the repository root.
const MODEL: &str = "models/fmnist-convnext";

/// Run the tour, or say how to start when the model is not here.
pub fn tour() -> Result<(), Failure> {
    let model = PathBuf::from(MODEL);
    if !model.join("config.json").exists() {
        println!(
            "convnext: no command given, and no {MODEL} here for the tour.\n\
             Run it from the repository root (cargo run --release), or see convnext --help."
        );
        return Ok(());
    }
    let out = Path::new("target/convnext-tour");
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::Model(convnext_codegen::Error::Input {
            message: format!("{}: cannot create: {e}", out.display()),
        })
    })?;
    let cal = out.join("calibration.json");
    let saved = |precision| Int8Args {
        calibrate: CalibrationFlags::defaults(),
        calibration_file: (precision == Precision::Int8).then(|| cal.clone()),
    };

    step("1. Calibrate the int8 network once on the model's 512 calibration images, and save it");
    println!(
        "   $ convnext calibrate --model {MODEL} --out {}",
        cal.display()
    );
    commands::calibrate(&CalibrateArgs {
        model: model.clone(),
        out: cal.clone(),
        gate: QualityGate::default(),
        calibrate: CalibrationFlags::defaults(),
    })?;

    let pictures: Vec<PathBuf> = ["sneaker.png", "coat.png"]
        .iter()
        .map(|p| model.join("examples").join(p))
        .collect();
    for precision in [Precision::F32, Precision::Int8] {
        step(&format!(
            "2. Classify two bundled pictures ({})",
            if precision == Precision::F32 {
                "f32, the reference"
            } else {
                "int8, the firmware's integers"
            }
        ));
        println!(
            "   $ convnext classify --model {MODEL}{} {}",
            if precision == Precision::Int8 {
                format!(" --precision int8 --calibration-file {}", cal.display())
            } else {
                String::new()
            },
            pictures
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        crate::classify::classify(&ClassifyArgs {
            model: model.clone(),
            images: pictures.clone(),
            precision,
            top: 3,
            json: false,
            int8: saved(precision),
        })?;
    }

    step("3. Evaluate the first 1000 test images in f32, f16 and int8");
    println!(
        "   $ convnext eval --model {MODEL} --limit 1000 --calibration-file {}",
        cal.display()
    );
    crate::eval::eval(&EvalArgs {
        model: model.clone(),
        precision: None,
        json: false,
        limit: Some(1000),
        crc: true,
        data: None,
        images: None,
        labels: None,
        quiet: false,
        int8: saved(Precision::Int8),
    })?;

    let svg = out.join("report");
    step("4. The int8 plan, op by op, and whether it fits a Raspberry Pi Pico");
    println!(
        "   $ convnext report --model {MODEL} --board rpi-pico --svg {0} --html {0}/report.html --calibration-file {1}",
        svg.display(),
        cal.display()
    );
    commands::report(&ReportArgs {
        model: model.clone(),
        precision: Precision::Int8,
        json: false,
        board: Some("rpi-pico".into()),
        flash: None,
        ram: None,
        sensitivity: false,
        feature_maps: false,
        out_features: None,
        svg: Some(svg.clone()),
        html: Some(svg.join("report.html")),
        int8: saved(Precision::Int8),
    })?;

    step("Where things went");
    println!("   {}: the saved calibration", cal.display());
    println!(
        "   {0}/report.html, {0}/arena.svg, {0}/sqnr.svg: the report's page and pictures (open them in a browser)",
        svg.display()
    );
    println!(
        "   {MODEL}/examples/*.png: the pictures classified above (try your own with convnext classify)"
    );
    println!("\nNext: convnext --help, and the README (firmware: boards/, build.rs: convnext_codegen::build_script).");
    Ok(())
}

/// A step's heading.
fn step(title: &str) {
    println!("\n== {title}");
}
