//! Randomly initialised ConvNeXt models of any shape, with weights of
//! realistic magnitude (fan-in scaled, LayerNorm near identity, layer scale
//! present), and random images: for the memory-plan tests on shapes no
//! checkpoint ships with, and for the per-kernel benchmarks. Deterministic
//! (a fixed LCG), so every run sees the same model.

use crate::config::{Activation, ModelConfig, Naming};
use crate::model::{Block, LayerNorm, Linear, Model, PatchConv, Stage};
use crate::Tensor;

/// A linear congruential generator of values in [-1, 1).
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

/// A randomly initialised 3-channel, patch-4 model of stage widths `widths`
/// and depths `depths` with a `labels`-way classifier.
pub fn synthetic_model(widths: &[usize], depths: &[usize], labels: usize) -> Model {
    let mut r = Lcg(42);
    let config = ModelConfig {
        num_channels: 3,
        patch_size: 4,
        hidden_sizes: widths.to_vec(),
        depths: depths.to_vec(),
        hidden_act: Activation::Gelu,
        layer_norm_eps: 1e-12,
        layer_scale: true,
        version: crate::config::Version::V1,
        backbone_architecture: false,
        classifier_declared: false,
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
                grn: None,
            })
            .collect();
        stages.push(Stage { downsample, blocks });
    }
    let last = widths.last().copied().unwrap_or(0);
    Model {
        config,
        stem,
        stem_norm,
        stages,
        final_norm: Some(r.norm(last)),
        classifier: Some(Linear {
            weight: r.tensor(&[labels, last], last),
            bias: r.vec(labels, 0.1),
        }),
        feature_norms: Vec::new(),
    }
}

/// `n` random `(n, 3, size, size)` pixel values of spread about 1.5 (as a
/// normalised image has), from `seed`.
pub fn random_images(n: usize, size: usize, seed: u64) -> Tensor {
    let mut r = Lcg(seed);
    Tensor::new(&[n, 3, size, size], r.vec(n * 3 * size * size, 1.5))
}

/// The atto-shaped network the benches and tests use (widths 40/80/160/320,
/// depths 2/2/6/2, 1000 classes) planned for `size x size` inputs, min/max
/// calibrated on 4 random images: the model and its int8 plan.
pub fn atto_plan(size: usize) -> crate::Result<(Model, crate::plan::Plan)> {
    shaped_plan(&[40, 80, 160, 320], &[2, 2, 6, 2], size)
}

/// The tiny-shaped network the benches time (widths 96/192/384/768, depths
/// 3/3/9/3, 1000 classes), planned as [`atto_plan`] plans its own.
pub fn tiny_plan(size: usize) -> crate::Result<(Model, crate::plan::Plan)> {
    shaped_plan(&[96, 192, 384, 768], &[3, 3, 9, 3], size)
}

/// A 1000-class network of `widths` and `depths` at `size x size`, min/max
/// calibrated on 4 random images.
fn shaped_plan(
    widths: &[usize],
    depths: &[usize],
    size: usize,
) -> crate::Result<(Model, crate::plan::Plan)> {
    let model = synthetic_model(widths, depths, 1000);
    let cal = random_images(4, size, 7);
    let plan = crate::compile::build_plan(
        &model,
        &convnext::preprocess::ProcessorConfig::default(),
        &cal,
        crate::calibrate::Calibration::MinMax,
    )?;
    Ok((model, plan))
}
