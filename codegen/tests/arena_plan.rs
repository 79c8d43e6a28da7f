//! The memory plan on an atto-shaped ConvNeXt (widths 40/80/160/320, depths
//! 2/2/6/2) at 96x96 and 224x224: peak arena within 1.25x the residual-stream
//! bound, and the int8 forward pass runs in exactly that arena.

use convnext::network::{forward_u8, NetworkSpec};
use convnext::preprocess::ProcessorConfig;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::build_plan;
use convnext_codegen::synthetic::{random_images, synthetic_model};

fn check_atto(size: usize) {
    let model = synthetic_model(&[40, 80, 160, 320], &[2, 2, 6, 2], 10);
    let cal = random_images(2, size, size as u64);
    let processor = ProcessorConfig::default();
    let plan = build_plan(&model, &processor, &cal, Calibration::MinMax).unwrap();
    let ratio = plan.arena_bytes as f64 / plan.residual_bound_bytes as f64;
    eprintln!(
        "atto {size}x{size}: arena {} bytes, bound {}, ratio {ratio:.3}, layer by layer {}",
        plan.arena_bytes, plan.residual_bound_bytes, plan.layerwise_arena_bytes
    );
    assert!(ratio <= 1.25, "atto at {size}: arena/bound {ratio}");
    assert!(plan.layerwise_arena_bytes > 3 * plan.arena_bytes);

    // The forward pass runs in exactly `arena_bytes` and refuses a smaller arena.
    let spec = NetworkSpec {
        arena_bytes: plan.arena_bytes,
        input_offset: plan.input_offset,
        input_bytes: plan.input_bytes,
        num_labels: 10,
        feature_map_bytes: 0,
    };
    let image: Vec<u8> = (0..plan.input_bytes).map(|i| (i * 7 % 251) as u8).collect();
    let mut arena = vec![0i8; plan.arena_bytes];
    let mut logits = [0i32; 10];
    forward_u8(&spec, plan.runtime_ops(), &image, &mut arena, &mut logits).unwrap();
    assert_eq!(logits.to_vec(), plan.run_u8(&image));
    let mut small = vec![0i8; plan.arena_bytes - 1];
    assert!(forward_u8(&spec, plan.runtime_ops(), &image, &mut small, &mut logits).is_err());
    assert!(forward_u8(
        &spec,
        plan.runtime_ops(),
        &image[1..],
        &mut arena,
        &mut logits
    )
    .is_err());
}

#[test]
fn atto_at_96_fits_within_1_25x_the_residual_bound() {
    check_atto(96);
}

#[test]
fn atto_at_224_fits_within_1_25x_the_residual_bound() {
    check_atto(224);
}
