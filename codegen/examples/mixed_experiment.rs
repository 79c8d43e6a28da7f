//! Scratch: per-block f16 sensitivity and mixed-precision accuracy.
use convnext_codegen::compile::*;
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::processor::load_processor;
fn main() {
    let dir = std::path::Path::new("models/fmnist-convnext");
    let p = load_processor(dir).unwrap();
    let model = convnext_codegen::load_model(dir).unwrap();
    let cal = load_calibration(dir, None, &p).unwrap();
    let t = std::time::Instant::now();
    let scored = choose_f16_blocks(&model, &p, &cal, DEFAULT_CALIBRATION, 5).unwrap();
    println!(
        "sensitivity {:?} ({:.1}s)",
        scored,
        t.elapsed().as_secs_f64()
    );
    let mut test = load_test_set(dir).unwrap();
    test.images = test.images.take(2000);
    test.labels.truncate(2000);
    let x = test.images.pixel_values(&p).unwrap();
    let f = convnext_codegen::forward(&model, &x)
        .unwrap()
        .logits
        .unwrap();
    let am = |r: &[f32]| (0..10).fold(0, |b, i| if r[i] > r[b] { i } else { b });
    let ami = |r: &[i32]| (0..10).fold(0, |b, i| if r[i] > r[b] { i } else { b });
    for k in 0..=2 {
        let blocks: Vec<_> = scored.iter().take(k).map(|s| s.0).collect();
        let plan = build_mixed_plan(&model, &p, &cal, DEFAULT_CALIBRATION, &blocks).unwrap();
        let q = plan.run_u8(&test.images.pixels);
        let acc = q
            .chunks(10)
            .zip(&test.labels)
            .filter(|(r, l)| ami(r) == **l)
            .count() as f64
            / 2e3;
        let agree = q
            .chunks(10)
            .zip(f.data.chunks(10))
            .filter(|(a, b)| ami(a) == am(b))
            .count() as f64
            / 2e3;
        println!(
            "k={k} {blocks:?}: acc {acc:.4} agree {agree:.4} sqnr {:.1} arena {} weights {}",
            logit_sqnr_db(&plan, &test.images.pixels, &f.data),
            plan.arena_bytes,
            plan.weights_bytes()
        );
    }
}
