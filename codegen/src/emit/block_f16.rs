//! Emits `BlockF16Params` (`convnext::kernels::block_f16`).

use super::parts::{f16_linear, map, named_profile, placement, profile};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::block_f16::BlockF16Params;

pub(super) fn emit(p: &BlockF16Params<Vec<u8>>, cx: &mut EmitContext, op: &str) -> Result<OpItem> {
    let BlockF16Params {
        map: shape,
        at,
        x_scale,
        x_zero_point,
        profile: stream_profile,
        dw,
        ln_weight,
        ln_bias,
        ln_eps,
        pw1,
        act,
        pw2,
        gamma,
        out_scale,
        out_zero_point,
        out_profile,
    } = p;
    cx.uses("convnext::kernels::activation", "Activation");
    let (h, w, c) = (shape.h, shape.w, shape.c);
    let hid = 4 * c;
    let doc = format!(
        "Block on {h}x{w}x{c} kept in f16 (f32 arithmetic, int8 streams in and out):\n\
         dwconv [7][7][{c}], pwconv1 [{hid}][{c}], pwconv2 [{c}][{hid}]."
    );
    let value = Expr::Struct(
        "BlockF16Params",
        vec![
            ("map", map(cx, shape)),
            ("at", placement(cx, at)),
            ("x_scale", Expr::text(format!("{x_scale:e}"))),
            ("x_zero_point", Expr::text(x_zero_point)),
            ("profile", profile(cx, op, stream_profile)?),
            ("dw", f16_linear(dw, cx, op, "dwconv")?),
            ("ln_weight", cx.file(op, "norm.weight.f16", ln_weight)?),
            ("ln_bias", cx.file(op, "norm.bias.f16", ln_bias)?),
            ("ln_eps", Expr::text(format!("{ln_eps:e}"))),
            ("pw1", f16_linear(pw1, cx, op, "pwconv1")?),
            ("act", Expr::text(format!("Activation::{act:?}"))),
            ("pw2", f16_linear(pw2, cx, op, "pwconv2")?),
            ("gamma", cx.file(op, "layer_scale.f16", gamma)?),
            ("out_scale", Expr::text(format!("{out_scale:e}"))),
            ("out_zero_point", Expr::text(out_zero_point)),
            (
                "out_profile",
                named_profile(cx, op, "out_profile", out_profile)?,
            ),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::block_f16",
        "BlockF16Params",
        value,
        "block_f16_in_place_probed",
    ))
}
