//! Emits `BlockParams` (`convnext::kernels::block`).

use super::parts::{layer_norm, linear, map, placement, requant};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::block::BlockParams;
use convnext::kernels::grn::GrnParams;

pub(super) fn emit(p: &BlockParams<Vec<u8>>, cx: &mut EmitContext, op: &str) -> Result<OpItem> {
    let BlockParams {
        map: shape,
        at,
        x_zero_point,
        dw,
        ln,
        ln_requant,
        pw1,
        pw1_zero_point,
        act_table,
        pw2,
        residual,
        residual_shift,
        out_zero_point,
        grn,
        wide_hidden,
        hidden16,
        // The host's copy: the boards widen as they go.
    } = p;
    let (h, w, c) = (shape.h, shape.w, shape.c);
    let hid = 4 * c;
    let doc = format!(
        "Block on {h}x{w}x{c}: dwconv int8 [7][7][{c}], pwconv1 int8 [{hid}][{c}] (LayerNorm\n\
         folded), activation table, pwconv2 int8 [{c}][{hid}] (layer scale in its multipliers)."
    );
    let doc = match grn {
        Some(_) => {
            format!("{doc}\nGRN (ConvNeXt V2) between the activation and pwconv2: two passes.")
        }
        None => doc,
    };
    let value = Expr::Struct(
        "BlockParams",
        vec![
            ("map", map(cx, shape)),
            ("at", placement(cx, at)),
            ("x_zero_point", Expr::text(x_zero_point)),
            ("dw", linear(dw, cx, op, "dwconv")?),
            ("ln", layer_norm(cx, *ln)),
            ("ln_requant", requant(cx, *ln_requant)),
            ("pw1", linear(pw1, cx, op, "pwconv1")?),
            ("pw1_zero_point", Expr::text(pw1_zero_point)),
            ("act_table", cx.file(op, "act.table", act_table)?),
            ("pw2", linear(pw2, cx, op, "pwconv2")?),
            ("residual", cx.file(op, "residual.i32", residual)?),
            ("residual_shift", Expr::text(residual_shift)),
            ("out_zero_point", Expr::text(out_zero_point)),
            ("grn", grn_params(grn.as_ref(), cx, op)?),
            ("wide_hidden", Expr::text(wide_hidden)),
            ("hidden16", Expr::text(hidden16)),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::block",
        "BlockParams",
        value,
        if grn.is_some() {
            "block_grn_in_place_probed"
        } else {
            "block_in_place_probed"
        },
    ))
}

/// `None`, or `Some(GrnParams { .. })` with its two tables as files.
fn grn_params(g: Option<&GrnParams<Vec<u8>>>, cx: &mut EmitContext, op: &str) -> Result<Expr> {
    let Some(GrnParams {
        act_zero_point,
        weight,
        offset,
        out_requant,
        eps_sum,
    }) = g
    else {
        return Ok(Expr::text("None"));
    };
    cx.uses("convnext::kernels::grn", "GrnParams");
    Ok(Expr::Some(Box::new(Expr::Struct(
        "GrnParams",
        vec![
            ("act_zero_point", Expr::text(act_zero_point)),
            ("weight", cx.file(op, "grn.weight", weight)?),
            ("offset", cx.file(op, "grn.offset", offset)?),
            ("out_requant", requant(cx, *out_requant)),
            ("eps_sum", Expr::text(eps_sum)),
        ],
    ))))
}
