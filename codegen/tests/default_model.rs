//! The bundled default model (`models/fmnist-convnext`): the Rust f32
//! reference, fed by the runtime's preprocessing, reproduces HF's logits on
//! the whole 10k test set and reaches the accuracy in the model card.

mod common;

use convnext_codegen::dataset::{load_test_set, read_images};
use convnext_codegen::processor::load_processor;
use convnext_codegen::{forward, load_model, npy};

#[test]
fn f32_reference_reproduces_hf_logits_and_accuracy_on_the_full_test_set() {
    let dir = common::model_dir("fmnist-convnext");
    let model = load_model(&dir).unwrap();
    let test = load_test_set(&dir).unwrap();
    assert_eq!(test.images.count, 10_000);
    let x = test
        .images
        .pixel_values(&load_processor(&dir).unwrap())
        .unwrap();
    let logits = forward(&model, &x).unwrap().logits.unwrap();
    let want_path = dir.join("test_logits.npy");
    let want = npy::read(&want_path).unwrap().into_f32(&want_path).unwrap();
    let err = logits.relative_max_error(&want);
    assert!(err <= 1e-4, "relative max logit error {err:e}");

    let correct = logits
        .data
        .chunks_exact(10)
        .zip(&test.labels)
        .filter(|(row, &label)| {
            row.iter()
                .enumerate()
                .all(|(i, &v)| i == label || v < row[label])
        })
        .count();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let hf_accuracy = reference["f32_accuracy"].as_f64().unwrap();
    assert_eq!(correct as f64 / 10_000.0, hf_accuracy);
    assert!(
        hf_accuracy >= 0.925,
        "the default model must reach 92.5% float accuracy"
    );
}

#[test]
fn default_model_fits_a_microcontroller_budget() {
    let dir = common::model_dir("fmnist-convnext");
    let model = load_model(&dir).unwrap();
    // int8 weights <= 512 KiB.
    assert!(
        model.parameters() <= 512 * 1024,
        "{} parameters",
        model.parameters()
    );
    // Largest activation <= 32 KiB in int8 (the 4C MLP hidden never exists in full).
    let cfg = &model.config;
    let mut side = cfg.image_size / cfg.patch_size;
    let mut largest = 0;
    for (i, &c) in cfg.hidden_sizes.iter().enumerate() {
        if i > 0 {
            side /= 2;
        }
        largest = largest.max(side * side * c);
    }
    assert!(largest <= 32 * 1024, "largest activation {largest} bytes");
}

#[test]
fn calibration_images_come_from_the_training_split_and_match_the_input_size() {
    let dir = common::model_dir("fmnist-convnext");
    let cal = read_images(&dir.join("calibration_images.npy")).unwrap();
    let test = load_test_set(&dir).unwrap();
    assert!(cal.count >= 256);
    assert_eq!((cal.height, cal.width, cal.channels), (28, 28, 1));
    // No calibration image may be a test image.
    let per = 28 * 28;
    let test_set: std::collections::HashSet<&[u8]> = test.images.pixels.chunks_exact(per).collect();
    assert!(cal
        .pixels
        .chunks_exact(per)
        .all(|img| !test_set.contains(img)));
}
