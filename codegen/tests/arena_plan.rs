//! The memory plan on an atto-shaped ConvNeXt (widths 40/80/160/320, depths
//! 2/2/6/2) at 96x96 and 224x224: peak arena within 1.25x the residual-stream
//! bound, and the int8 forward pass runs in exactly that arena.

use convnext::network::{forward_u8, NetworkSpec};
use convnext::preprocess::ProcessorConfig;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::build_plan;
use convnext_codegen::config::{Activation, ModelConfig, Naming};
use convnext_codegen::model::{Block, LayerNorm, Linear, Model, PatchConv, Stage};
use convnext_codegen::Tensor;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
    fn tensor(&mut self, shape: &[usize], fan_in: usize) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape, self.vec(n, 1.7 / (fan_in as f32).sqrt()))
    }
    fn norm(&mut self, c: usize) -> LayerNorm {
        LayerNorm {
            weight: self.vec(c, 0.2).iter().map(|v| 1.0 + v).collect(),
            bias: self.vec(c, 0.1),
            eps: 1e-6,
        }
    }
}

/// A randomly initialised model of the given shape.
fn synthetic(widths: &[usize], depths: &[usize], labels: usize) -> Model {
    let mut r = Lcg(42);
    let config = ModelConfig {
        num_channels: 3,
        patch_size: 4,
        hidden_sizes: widths.to_vec(),
        depths: depths.to_vec(),
        hidden_act: Activation::Gelu,
        layer_norm_eps: 1e-12,
        layer_scale: true,
        image_size: 224,
        labels: (0..labels).map(|i| format!("c{i}")).collect(),
        out_features: Vec::new(),
        naming: Naming::Hf,
    };
    let stem = PatchConv {
        weight: r.tensor(&[widths[0], 3, 4, 4], 48),
        bias: r.vec(widths[0], 0.1),
    };
    let stem_norm = r.norm(widths[0]);
    let mut stages = Vec::new();
    for (s, (&c, &d)) in widths.iter().zip(depths).enumerate() {
        let downsample = (s > 0).then(|| {
            let p = widths[s - 1];
            (
                r.norm(p),
                PatchConv {
                    weight: r.tensor(&[c, p, 2, 2], 4 * p),
                    bias: r.vec(c, 0.1),
                },
            )
        });
        let blocks = (0..d)
            .map(|_| Block {
                dw_weight: r.tensor(&[c, 7, 7], 49),
                dw_bias: r.vec(c, 0.1),
                norm: r.norm(c),
                pwconv1: Linear {
                    weight: r.tensor(&[4 * c, c], c),
                    bias: r.vec(4 * c, 0.1),
                },
                pwconv2: Linear {
                    weight: r.tensor(&[c, 4 * c], 4 * c),
                    bias: r.vec(c, 0.1),
                },
                gamma: Some(r.vec(c, 0.5).iter().map(|v| v.abs() + 0.1).collect()),
            })
            .collect();
        stages.push(Stage { downsample, blocks });
    }
    let last = *widths.last().unwrap();
    Model {
        config,
        stem,
        stem_norm,
        stages,
        final_norm: r.norm(last),
        classifier: Some(Linear {
            weight: r.tensor(&[labels, last], last),
            bias: r.vec(labels, 0.1),
        }),
    }
}

fn check_atto(size: usize) {
    let model = synthetic(&[40, 80, 160, 320], &[2, 2, 6, 2], 10);
    let mut r = Lcg(size as u64);
    let cal = Tensor::new(&[2, 3, size, size], r.vec(2 * 3 * size * size, 1.5));
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
