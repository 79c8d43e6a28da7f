//! A backbone's feature map (see `convnext::kernels::feature_map`): the
//! stream's integer LayerNorm, its affine to the map's calibrated scale.

use super::{i32s, ln_params, range, requants, QParams};
use crate::calibrate::Ranges;
use crate::error::Result;
use crate::model::FeatureNorm;
use crate::reference::Point;
use convnext::kernels::feature_map::FeatureMapParams;
use convnext::kernels::{Placement, Requant, LN_FRAC_BITS};

/// Feature map `k` (`norm`) of the `(h, w)` stream quantized as `stream`,
/// written at `output_offset` of the feature-map buffer; and the map's own
/// quantization.
pub(super) fn quantize(
    norm: &FeatureNorm,
    k: usize,
    ranges: &Ranges,
    (h, w): (usize, usize),
    stream: QParams,
    output_offset: usize,
) -> Result<(FeatureMapParams<Vec<u8>>, QParams)> {
    let out = QParams::asymmetric(range(ranges, Point::Feature(k))?);
    let ln = &norm.norm;
    let c = ln.weight.len();
    let out_offset: Vec<i32> = ln
        .bias
        .iter()
        .map(|&b| (b as f64 / out.scale).round() as i32 + out.zero_point)
        .collect();
    let params =
        FeatureMapParams {
            h,
            w,
            c,
            at: Placement::default(),
            x_zero_point: stream.zero_point,
            output_offset,
            ln: ln_params(c, ln.eps, stream.scale),
            out_requant: requants(ln.weight.iter().map(|&g| {
                Requant::from_real(g as f64 / ((1u64 << LN_FRAC_BITS) as f64 * out.scale))
            })),
            out_offset: i32s(&out_offset),
        };
    Ok((params, out))
}
