//! The head (see `convnext::kernels::head`): pooling as a sum, the final
//! LayerNorm's affine folded into the classifier, int32 logits at one scale.

use super::{bias_q, fold_norm, linear, ln_params, quantize_rows, range, StreamQuant, Q24};
use crate::calibrate::Ranges;
use crate::error::{Error, Result};
use crate::model::{Linear, Model};
use crate::reference::Point;
use convnext::kernels::head::HeadParams;
use convnext::kernels::layer_norm::LN_INPUT_LIMIT;
use convnext::kernels::{InPlaceMap, Placement, Requant};

/// The head over the last `h x w` map on the `input` stream, and the real
/// value of one logit step.
pub(super) fn quantize(
    model: &Model,
    classifier: &Linear,
    ranges: &Ranges,
    (h, w): (usize, usize),
    input: &StreamQuant,
) -> Result<(HeadParams<Vec<u8>>, f64)> {
    let c = *model.config.hidden_sizes.last().expect("non-empty");
    // The pooled sums feed the LayerNorm, which clamps beyond its limit.
    if 255 * h * w > LN_INPUT_LIMIT as usize {
        return Err(Error::input(format!(
            "the last feature map ({h}x{w}) is too large for the int8 head: its pooled \
             sums exceed the LayerNorm's input range (at most {} pixels)",
            LN_INPUT_LIMIT / 255
        )));
    }
    let norm = model.final_norm.as_ref().ok_or_else(|| {
        Error::input("the model has a classifier but no final LayerNorm to pool into it")
    })?;
    // Each channel's sum times its profile multiplier, shifted right until
    // the widest fits the LayerNorm's input range too.
    let widest = input.profile.iter().copied().max().unwrap_or(1) as usize;
    let mut profile_shift = 0u32;
    while (255 * h * w * widest) >> profile_shift > LN_INPUT_LIMIT as usize {
        profile_shift += 1;
    }
    let hw = (h * w) as f64 / (1u64 << profile_shift) as f64;
    // The normalised values over the head's bits.
    let levels = ((1 << (convnext::kernels::head::HEAD_BITS - 1)) - 1) as f64;
    let s_y = (range(ranges, Point::HeadNorm)?.abs_max() as f64).max(1e-12) / levels;
    let (wf, bf) = fold_norm(&classifier.weight.data, &classifier.bias, norm, |i| i);
    let labels = classifier.bias.len();
    let (weights, s_w) = quantize_rows(&wf, labels);
    // int32 logits: the calibrated maximum maps to 2^24, far from saturation.
    let logit_scale = (range(ranges, Point::Logits)?.abs_max() as f64).max(1e-6) / Q24;
    let bias: Vec<i32> = (0..labels).map(|o| bias_q(bf[o], s_y * s_w[o])).collect();
    let head = HeadParams {
        map: InPlaceMap { h, w, c },
        at: Placement::default(),
        x_zero_point: input.zero_point(),
        profile: input.profile_table(),
        profile_shift,
        ln: ln_params(c, norm.eps, input.unit.scale / hw),
        ln_requant: Requant::from_real(1.0 / s_y),
        classifier: linear(
            weights,
            &bias,
            s_w.iter()
                .map(|sw| Requant::from_real(s_y * sw / logit_scale)),
        ),
    };
    Ok((head, logit_scale))
}
