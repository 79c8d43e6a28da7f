//! Emits `FeatureMapParams` (`convnext::kernels::feature_map`).

use super::parts::{layer_norm, map, placement, profile};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::feature_map::FeatureMapParams;

pub(super) fn emit(
    p: &FeatureMapParams<Vec<u8>>,
    cx: &mut EmitContext,
    op: &str,
) -> Result<OpItem> {
    let FeatureMapParams {
        map: shape,
        at,
        x_zero_point,
        profile: stream_profile,
        output_offset,
        ln,
        out_requant,
        out_offset,
    } = p;
    let (h, w, c) = (shape.h, shape.w, shape.c);
    let doc = format!(
        "Feature map: LayerNorm of the {h}x{w}x{c} stream with its affine, int8 HWC\n\
         at byte {output_offset} of the feature-map buffer."
    );
    let value = Expr::Struct(
        "FeatureMapParams",
        vec![
            ("map", map(cx, shape)),
            ("at", placement(cx, at)),
            ("x_zero_point", Expr::text(x_zero_point)),
            ("profile", profile(cx, op, stream_profile)?),
            ("output_offset", Expr::text(output_offset)),
            ("ln", layer_norm(cx, *ln)),
            ("out_requant", cx.file(op, "norm.requant", out_requant)?),
            ("out_offset", cx.file(op, "norm.offset", out_offset)?),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::feature_map",
        "FeatureMapParams",
        value,
        "feature_map_probed",
    ))
}
