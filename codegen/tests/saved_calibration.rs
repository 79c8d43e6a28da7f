//! A saved calibration reproduces the plan it was made from, bit for bit,
//! in the host plan and in the generated firmware source; a file for another
//! checkpoint, or a damaged one, is refused with its name.

use convnext_codegen::build_script::{generate, generate_with_calibration};
use convnext_codegen::compile::{
    calibrate_to_save, load_calibration, CalibrationChoices, DEFAULT_CALIBRATION,
};
use convnext_codegen::load_model;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::{Hidden, InputQuantization, Numerics, StreamScales};
use convnext_codegen::saved_calibration::SavedCalibration;
use std::path::{Path, PathBuf};

/// The default choices: all int8, u8 camera input.
const CAMERA: CalibrationChoices = CalibrationChoices {
    method: DEFAULT_CALIBRATION,
    f16_count: 0,
    numerics: Numerics {
        input: InputQuantization::Camera,
        stream_scales: StreamScales::PerChannel,
        hidden: Hidden::Int16,
    },
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn generated_source_from_a_saved_calibration_is_the_freshly_calibrated_one() {
    let dir = root().join("models/fmnist-convnext");
    let out = scratch("saved_calibration");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let saved = calibrate_to_save(
        &dir,
        &model,
        &processor,
        &cal,
        "calibration_images.npy",
        CAMERA,
    )
    .unwrap();
    let file = out.join("cal.json");
    saved.write(&file).unwrap();
    assert_eq!(SavedCalibration::read(&file, &dir).unwrap(), saved);

    let (fresh_dir, saved_dir) = (out.join("fresh"), out.join("saved"));
    std::fs::create_dir_all(&fresh_dir).unwrap();
    std::fs::create_dir_all(&saved_dir).unwrap();
    let (fresh, _) = generate(&dir, &fresh_dir, "model").unwrap();
    let (from_file, plan) = generate_with_calibration(&dir, &file, &saved_dir, "model").unwrap();
    assert_eq!(fresh.weight_files.len(), from_file.weight_files.len());
    for (a, b) in fresh.weight_files.iter().zip(&from_file.weight_files) {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{}",
            a.display()
        );
    }
    // The sources differ only in the header line naming the calibration.
    let (a, b) = (
        std::fs::read_to_string(&fresh.source).unwrap(),
        std::fs::read_to_string(&from_file.source).unwrap(),
    );
    let differing: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(a.lines().count(), b.lines().count());
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert!(
        differing[0].1.contains("(saved in cal.json)"),
        "{differing:?}"
    );
    assert_eq!(
        plan.arena_bytes,
        saved.plan(&model, &processor).unwrap().arena_bytes
    );
}

#[test]
fn a_calibration_for_another_checkpoint_or_a_damaged_file_is_refused_by_name() {
    let dir = root().join("models/fmnist-convnext");
    let other = root().join("tests/fixtures/models/gray_28");
    let out = scratch("saved_calibration_errors");
    let model = load_model(&other).unwrap();
    let processor = load_processor(&other).unwrap();
    let cal = load_calibration(&other, Some(&other.join("inputs.npy")), &processor).unwrap();
    let saved = calibrate_to_save(&other, &model, &processor, &cal, "inputs.npy", CAMERA).unwrap();
    let file = out.join("gray.json");
    saved.write(&file).unwrap();
    let e = SavedCalibration::read(&file, &dir).unwrap_err().to_string();
    assert!(
        e.contains("gray.json") && e.contains("another checkpoint"),
        "{e}"
    );

    let text = std::fs::read_to_string(&file).unwrap();
    for (name, damaged, says) in [
        (
            "truncated.json",
            text[..text.len() / 2].to_string(),
            "not JSON",
        ),
        (
            "other.json",
            "{\"format\": \"something/2\"}".to_string(),
            "not a calibration file",
        ),
        (
            "nan.json",
            text.replacen(
                "\"ranges\": {",
                "\"ranges\": {\n    \"stream.99\": [1.0, -1.0],",
                1,
            ),
            "must be [min, max]",
        ),
        (
            "point.json",
            text.replacen(
                "\"ranges\": {",
                "\"ranges\": {\n    \"gamma\": [0.0, 1.0],",
                1,
            ),
            "unknown range \"gamma\"",
        ),
    ] {
        let p = out.join(name);
        std::fs::write(&p, damaged).unwrap();
        let e = SavedCalibration::read(&p, &other).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(says), "{name}: {e}");
    }
}

#[test]
fn a_calibration_saved_before_per_channel_streams_keeps_its_numerics() {
    let dir = root().join("models/fmnist-convnext");
    let out = scratch("saved_calibration_old");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let old = CalibrationChoices {
        numerics: Numerics {
            stream_scales: StreamScales::PerTensor,
            hidden: Hidden::Int8,
            ..CAMERA.numerics
        },
        ..CAMERA
    };
    let saved = calibrate_to_save(&dir, &model, &processor, &cal, "cal", old).unwrap();
    let file = out.join("cal.json");
    saved.write(&file).unwrap();
    // As a file of the format's first release was: no numerics keys, no
    // per-channel ranges.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("stream_scales");
    o.remove("hidden");
    o["ranges"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("stream_channel."));
    let old_file = out.join("old.json");
    std::fs::write(&old_file, v.to_string()).unwrap();
    let read = SavedCalibration::read(&old_file, &dir).unwrap();
    assert_eq!(read.stream_scales, StreamScales::PerTensor);
    assert_eq!(read.hidden, Hidden::Int8);
    let (a, b) = (
        saved.plan(&model, &processor).unwrap(),
        read.plan(&model, &processor).unwrap(),
    );
    let test = convnext_codegen::dataset::load_test_set(&dir).unwrap();
    let images = test.images.take(20);
    assert_eq!(a.run_u8(&images.pixels), b.run_u8(&images.pixels));
    // Asking for per-channel streams without their ranges names the gap.
    let mut per_channel = read.clone();
    per_channel.stream_scales = StreamScales::PerChannel;
    let e = per_channel
        .plan(&model, &processor)
        .unwrap_err()
        .to_string();
    assert!(e.contains("per-channel ranges"), "{e}");
}
