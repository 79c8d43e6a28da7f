//! Host latency of one inference per model: the default model and an
//! atto-shaped model at 224x224 (`networks`), each as the int8 plan (the
//! firmware's kernels, in the host's wide tiles; for the default model also
//! in the firmware's own tiles) and the f32 reference. `cargo bench --bench
//! forward`.

mod networks;

use convnext::network::{load_input_u8, run_ops, run_ops_tiled, Outputs};
use convnext_codegen::forward;
use criterion::{criterion_group, criterion_main, Criterion};
use networks::Network;
use std::hint::black_box;

/// The int8 plan in `arena_bytes` of arena (`host_arena_bytes` gives the
/// host's wide tiles, `arena_bytes` the firmware's).
fn int8(c: &mut Criterion, name: &str, n: &Network, wide: bool) {
    let plan = &n.plan;
    let bytes = if wide {
        plan.host_arena_bytes
    } else {
        plan.arena_bytes
    };
    let mut arena = vec![0i8; bytes];
    let mut logits = vec![0i32; plan.model.num_labels];
    c.bench_function(name, |b| {
        b.iter(|| {
            load_input_u8(black_box(&n.image), &mut arena, plan.input_offset);
            if wide {
                run_ops_tiled(
                    plan.host_ops(),
                    &mut arena,
                    &mut Outputs::logits(&mut logits),
                );
            } else {
                run_ops(plan.runtime_ops(), &mut arena, &mut logits);
            }
            black_box(&logits);
        })
    });
}

fn f32_reference(c: &mut Criterion, name: &str, n: &Network) {
    c.bench_function(name, |b| {
        b.iter(|| black_box(forward(&n.model, black_box(&n.pixel_values)).expect("forward")))
    });
}

fn models(c: &mut Criterion) {
    let n = networks::default_model();
    int8(c, "fmnist_int8_plan_one_image", &n, true);
    int8(c, "fmnist_int8_firmware_tiles_one_image", &n, false);
    f32_reference(c, "fmnist_f32_reference_one_image", &n);
    let n = networks::atto_224();
    int8(c, "atto_224_int8_plan_one_image", &n, true);
    f32_reference(c, "atto_224_f32_reference_one_image", &n);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = models
}
criterion_main!(benches);
