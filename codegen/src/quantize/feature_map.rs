//! A backbone's feature map (see `convnext::kernels::feature_map`): the
//! stream's integer LayerNorm, its affine to the map's calibrated scale.

use super::{ln_params, norm_affine, range, QParams, StreamQuant};
use crate::calibrate::Ranges;
use crate::error::Result;
use crate::model::FeatureNorm;
use crate::reference::Point;
use convnext::kernels::feature_map::FeatureMapParams;
use convnext::kernels::{InPlaceMap, Placement};

/// Feature map `k` (`norm`) of the `(h, w)` stream quantized as `stream`,
/// written at `output_offset` of the feature-map buffer; and the map's own
/// quantization.
pub(super) fn quantize(
    norm: &FeatureNorm,
    k: usize,
    ranges: &Ranges,
    (h, w): (usize, usize),
    stream: &StreamQuant,
    output_offset: usize,
) -> Result<(FeatureMapParams<Vec<u8>>, QParams)> {
    let out = QParams::asymmetric(range(ranges, Point::Feature(k))?);
    let ln = &norm.norm;
    let c = ln.weight.len();
    let (out_requant, out_offset) = norm_affine(ln, &StreamQuant::per_tensor(out));
    let params = FeatureMapParams {
        map: InPlaceMap { h, w, c },
        at: Placement::default(),
        x_zero_point: stream.zero_point(),
        profile: stream.profile_table(),
        output_offset,
        ln: ln_params(c, ln.eps, stream.unit.scale),
        out_requant,
        out_offset,
    };
    Ok((params, out))
}
