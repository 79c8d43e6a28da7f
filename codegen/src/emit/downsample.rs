//! Emits `DownsampleParams` (`convnext::kernels::downsample`).

use super::parts::{layer_norm, linear, placement, profile, requant};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::downsample::DownsampleParams;

pub(super) fn emit(
    p: &DownsampleParams<Vec<u8>>,
    cx: &mut EmitContext,
    op: &str,
) -> Result<OpItem> {
    let DownsampleParams {
        in_h,
        in_w,
        cin,
        cout,
        at,
        x_zero_point,
        profile: stream_profile,
        ln,
        ln_requant,
        conv,
        out_zero_point,
    } = p;
    let doc = format!(
        "LayerNorm + 2x2 stride-2 conv, {in_h}x{in_w}x{cin} -> {cout} channels.\n\
         conv int8 [{cout}][2][2][{cin}] per output channel, LayerNorm folded in."
    );
    let value = Expr::Struct(
        "DownsampleParams",
        vec![
            ("in_h", Expr::text(in_h)),
            ("in_w", Expr::text(in_w)),
            ("cin", Expr::text(cin)),
            ("cout", Expr::text(cout)),
            ("at", placement(cx, at)),
            ("x_zero_point", Expr::text(x_zero_point)),
            ("profile", profile(cx, op, stream_profile)?),
            ("ln", layer_norm(cx, *ln)),
            ("ln_requant", requant(cx, *ln_requant)),
            ("conv", linear(conv, cx, op, "conv")?),
            ("out_zero_point", Expr::text(out_zero_point)),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::downsample",
        "DownsampleParams",
        value,
        "downsample_in_place_probed",
    ))
}
