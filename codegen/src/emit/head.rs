//! Emits `HeadParams` (`convnext::kernels::head`).

use super::parts::{layer_norm, linear, map, placement, profile, requant};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::head::HeadParams;

pub(super) fn emit(p: &HeadParams<Vec<u8>>, cx: &mut EmitContext, op: &str) -> Result<OpItem> {
    let HeadParams {
        map: shape,
        at,
        x_zero_point,
        profile: stream_profile,
        profile_shift,
        ln,
        ln_requant,
        classifier,
    } = p;
    let (h, w, c) = (shape.h, shape.w, shape.c);
    let labels = classifier.outputs();
    let doc = format!(
        "Mean pool of {h}x{w}x{c} + LayerNorm + classifier int8 [{labels}][{c}]\n\
         (LayerNorm folded in), int32 logits."
    );
    let value = Expr::Struct(
        "HeadParams",
        vec![
            ("map", map(cx, shape)),
            ("at", placement(cx, at)),
            ("x_zero_point", Expr::text(x_zero_point)),
            ("profile", profile(cx, op, stream_profile)?),
            ("profile_shift", Expr::text(profile_shift)),
            ("ln", layer_norm(cx, *ln)),
            ("ln_requant", requant(cx, *ln_requant)),
            ("classifier", linear(classifier, cx, op, "classifier")?),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::head",
        "HeadParams",
        value,
        "head_probed",
    ))
}
