//! Host latency of every int8 op (the kernels with the host's wide tiles,
//! AVX2 where the CPU has it), one criterion bench per op of three
//! networks: the default model (28x28x1, widths 40/80/160) and atto- and
//! tiny-shaped models at 224x224 (widths 40/80/160/320, depths 2/2/6/2;
//! 96/192/384/768, 3/3/9/3; random weights of realistic magnitude,
//! `convnext_codegen::synthetic`). Each op runs on the
//! arena as the network leaves it just before that op, restored for every
//! iteration. `cargo bench --bench kernels [-- FILTER]`.

mod networks;

use convnext::kernels::probe::NoProbe;
use convnext::network::{load_input_u8, Op, Outputs};
use convnext_codegen::plan::Plan;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::time::Duration;

/// What an op is, for the bench's name: `block 14x14x40`, ...
fn describe(op: &Op<Vec<u8>>) -> String {
    match op {
        Op::Stem(s) => format!("stem {}x{}x{}->{}", s.in_h, s.in_w, s.cin, s.cout),
        Op::Block(b) => format!("block {}x{}x{}", b.map.h, b.map.w, b.map.c),
        Op::BlockF16(b) => format!("block_f16 {}x{}x{}", b.map.h, b.map.w, b.map.c),
        Op::Downsample(d) => format!("downsample {}x{}x{}->{}", d.in_h, d.in_w, d.cin, d.cout),
        Op::Head(h) => format!("head {}x{}x{}", h.map.h, h.map.w, h.map.c),
        Op::FeatureMap(m) => format!("feature_map {}x{}x{}", m.map.h, m.map.w, m.map.c),
    }
}

/// One bench per distinct op of `plan` on `image` (u8 HWC).
fn bench_ops(c: &mut Criterion, model: &str, plan: &Plan, image: &[u8]) {
    let mut arena = vec![0i8; plan.host_arena_bytes];
    let mut logits = vec![0i32; plan.model.num_labels];
    load_input_u8(image, &mut arena, plan.input_offset);
    let mut seen = Vec::new();
    let mut group = c.benchmark_group(model);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    for (op, host) in plan.host_ops() {
        let name = describe(op);
        if !seen.contains(&name) {
            let before = arena.clone();
            group.bench_function(&name, |b| {
                b.iter_batched_ref(
                    || before.clone(),
                    |a| op.run_tiled(host, a, &mut Outputs::logits(&mut logits), &mut NoProbe),
                    BatchSize::LargeInput,
                )
            });
            seen.push(name);
        }
        op.run_tiled(
            host,
            &mut arena,
            &mut Outputs::logits(&mut logits),
            &mut NoProbe,
        );
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    let n = networks::default_model();
    bench_ops(c, "default", &n.plan, &n.image);
    let n = networks::atto_224();
    bench_ops(c, "atto-224", &n.plan, &n.image);
    let n = networks::tiny_224();
    bench_ops(c, "tiny-224", &n.plan, &n.image);
}

criterion_group!(benches, kernels);
criterion_main!(benches);
