//! Host latency of one inference per model: the default model and an
//! atto-shaped model at 224x224 (random weights of realistic magnitude,
//! `convnext_codegen::synthetic`), each as the int8 plan (the firmware's
//! kernels, in the host's wide tiles) and the f32 reference. `cargo bench
//! --bench forward`.

use convnext::network::{load_input_u8, run_ops, run_ops_tiled};
use convnext::preprocess::ProcessorConfig;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::processor::load_processor;
use convnext_codegen::synthetic::{random_images, synthetic_model};
use convnext_codegen::{forward, load_model, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;

fn default_model(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fmnist-convnext");
    let model = load_model(&dir).expect("model");
    let processor = load_processor(&dir).expect("processor");
    let cal = load_calibration(&dir, None, &processor).expect("calibration");
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).expect("plan");
    let image = load_test_set(&dir).expect("test set").images.take(1);
    let mut logits = vec![0i32; plan.model.num_labels];
    // The host's form (wider block tiles, `host_arena_bytes`), then the
    // firmware's tiles in its own arena size, for comparison.
    let mut arena = vec![0i8; plan.host_arena_bytes];
    c.bench_function("fmnist_int8_plan_one_image", |b| {
        b.iter(|| {
            load_input_u8(black_box(&image.pixels), &mut arena, plan.input_offset);
            run_ops_tiled(plan.runtime_ops(), &mut arena, &mut logits);
            black_box(&logits);
        })
    });
    let mut arena = vec![0i8; plan.arena_bytes];
    c.bench_function("fmnist_int8_firmware_tiles_one_image", |b| {
        b.iter(|| {
            load_input_u8(black_box(&image.pixels), &mut arena, plan.input_offset);
            run_ops(plan.runtime_ops(), &mut arena, &mut logits);
            black_box(&logits);
        })
    });
    let x: Tensor = image.pixel_values(&processor).expect("pixel values");
    c.bench_function("fmnist_f32_reference_one_image", |b| {
        b.iter(|| black_box(forward(&model, black_box(&x)).expect("forward")))
    });
}

fn atto_224(c: &mut Criterion) {
    let model = synthetic_model(&[40, 80, 160, 320], &[2, 2, 6, 2], 1000);
    let cal = random_images(4, 224, 7);
    let plan = build_plan(
        &model,
        &ProcessorConfig::default(),
        &cal,
        Calibration::MinMax,
    )
    .expect("atto plan");
    let image: Vec<u8> = (0..plan.input_bytes).map(|i| (i * 7 % 251) as u8).collect();
    let mut arena = vec![0i8; plan.host_arena_bytes];
    let mut logits = vec![0i32; plan.model.num_labels];
    let mut group = c.benchmark_group("atto_224");
    group.sample_size(20);
    group.bench_function("int8_plan_one_image", |b| {
        b.iter(|| {
            load_input_u8(black_box(&image), &mut arena, plan.input_offset);
            run_ops_tiled(plan.runtime_ops(), &mut arena, &mut logits);
            black_box(&logits);
        })
    });
    let x = random_images(1, 224, 11);
    group.bench_function("f32_reference_one_image", |b| {
        b.iter(|| black_box(forward(&model, black_box(&x)).expect("forward")))
    });
    group.finish();
}

criterion_group!(benches, default_model, atto_224);
criterion_main!(benches);
