//! The int8 plan builder on random small ConvNeXt shapes: import-free
//! models (`convnext_codegen::synthetic`) of 1 to 3 stages, widths 1 to 24,
//! depths 0 to 2, inputs 4 to 40 pixels; calibration, quantization, the
//! memory plan and the forward pass run without a panic, and the generated
//! forward's function (`forward_u8` in the plan's arena) gives the host
//! plan's logits bit for bit.
#![no_main]

use convnext::network::{forward_u8, NetworkSpec};
use convnext::preprocess::ProcessorConfig;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::build_plan;
use convnext_codegen::synthetic::{random_images, synthetic_model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let stages = 1 + head[0] as usize % 3;
    let widths: Vec<usize> = (0..stages)
        .map(|s| 1 + rest.get(s).map_or(3, |b| *b as usize % 24))
        .collect();
    let depths: Vec<usize> = (0..stages)
        .map(|s| rest.get(stages + s).map_or(1, |b| *b as usize % 3))
        .collect();
    let size = 4 + head[1] as usize % 37;
    let labels = 1 + head[2] as usize % 5;
    let model = synthetic_model(&widths, &depths, labels);
    let cal = random_images(2, size, head[3] as u64);
    let Ok(plan) = build_plan(
        &model,
        &ProcessorConfig::default(),
        &cal,
        Calibration::MinMax,
    ) else {
        return;
    };
    let image: Vec<u8> = (0..plan.input_bytes)
        .map(|i| rest.get(i % rest.len().max(1)).copied().unwrap_or(7))
        .collect();
    let spec = NetworkSpec {
        arena_bytes: plan.arena_bytes,
        input_offset: plan.input_offset,
        input_bytes: plan.input_bytes,
        num_labels: labels,
        feature_map_bytes: 0,
    };
    let mut arena = vec![0i8; plan.arena_bytes];
    let mut logits = vec![0i32; labels];
    forward_u8(&spec, plan.runtime_ops(), &image, &mut arena, &mut logits)
        .expect("sizes from the plan");
    assert_eq!(
        logits,
        plan.run_u8(&image),
        "firmware tiles and host tiles differ"
    );
});
