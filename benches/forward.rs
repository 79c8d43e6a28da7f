//! Host latency of one inference of the default model: the int8 plan (the
//! kernels the firmware runs) and the f32 reference. `cargo bench --bench forward`.

use convnext::network::{load_input_u8, run_ops, run_ops_tiled};
use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::processor::load_processor;
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

criterion_group!(benches, default_model);
criterion_main!(benches);
