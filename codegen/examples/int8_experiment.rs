//! Scratch experiment: int8 vs f32 on the default model.
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::{build_plan, load_calibration};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::processor::load_processor;
use convnext_codegen::{forward, load_model};
use std::path::Path;

fn argmax<T: PartialOrd + Copy>(r: &[T]) -> usize {
    (0..r.len()).fold(0, |b, i| if r[i] > r[b] { i } else { b })
}

fn main() {
    let dir = Path::new("models/fmnist-convnext");
    let model = load_model(dir).unwrap();
    let proc = load_processor(dir).unwrap();
    let cal = load_calibration(dir, None, &proc).unwrap();
    let test = load_test_set(dir).unwrap();
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10000, |s| s.parse().unwrap());
    let imgs = test.images.take(n);
    let x = imgs.pixel_values(&proc).unwrap();
    let f = forward(&model, &x).unwrap().logits.unwrap();
    let fp: Vec<usize> = f.data.chunks(10).map(argmax).collect();
    for method in [
        Calibration::MinMax,
        Calibration::Percentile(0.9999),
        Calibration::Percentile(0.99999),
    ] {
        let t = std::time::Instant::now();
        let plan = build_plan(&model, &proc, &cal, method).unwrap();
        let l = plan.run_u8(&imgs.pixels);
        let qp: Vec<usize> = l.chunks(10).map(argmax).collect();
        let acc = qp.iter().zip(&test.labels).filter(|(a, b)| a == b).count() as f64 / n as f64;
        let facc = fp.iter().zip(&test.labels).filter(|(a, b)| a == b).count() as f64 / n as f64;
        let agree = qp.iter().zip(&fp).filter(|(a, b)| a == b).count() as f64 / n as f64;
        // logit SQNR
        let mut sig = 0f64;
        let mut noise = 0f64;
        for (q, r) in l.iter().zip(&f.data) {
            let qv = *q as f64 * plan.model.logit_scale;
            sig += (*r as f64).powi(2);
            noise += (qv - *r as f64).powi(2);
        }
        println!("{method:?}: f32 {facc:.4} int8 {acc:.4} agree {agree:.4} sqnr {:.1} dB arena {} bound {} ratio {:.3} layerwise {} macs {} wbytes {} ({:.1}s)",
            10.0 * (sig / noise).log10(), plan.arena_bytes, plan.residual_bound_bytes, plan.arena_bytes as f64 / plan.residual_bound_bytes as f64, plan.layerwise_arena_bytes, plan.macs(), plan.weights_bytes(), t.elapsed().as_secs_f64());
    }
}
