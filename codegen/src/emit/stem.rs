//! Emits `StemParams` (`convnext::kernels::stem`).

use super::parts::{layer_norm, linear, placement};
use super::rust_text::Expr;
use super::{EmitContext, OpItem};
use crate::error::Result;
use convnext::kernels::stem::StemParams;

pub(super) fn emit(p: &StemParams<Vec<u8>>, cx: &mut EmitContext, op: &str) -> Result<OpItem> {
    let StemParams {
        in_h,
        in_w,
        cin,
        k,
        cout,
        at,
        conv,
        ln,
        out_requant,
        out_offset,
    } = p;
    let doc = format!(
        "Patchify conv {k}x{k} stride {k}, {cin} -> {cout} channels, + LayerNorm.\n\
         conv int8 [{cout}][{k}][{k}][{cin}] per output channel, input normalisation folded in."
    );
    let value = Expr::Struct(
        "StemParams",
        vec![
            ("in_h", Expr::text(in_h)),
            ("in_w", Expr::text(in_w)),
            ("cin", Expr::text(cin)),
            ("k", Expr::text(k)),
            ("cout", Expr::text(cout)),
            ("at", placement(cx, at)),
            ("conv", linear(conv, cx, op, "conv")?),
            ("ln", layer_norm(cx, *ln)),
            ("out_requant", cx.file(op, "norm.requant", out_requant)?),
            ("out_offset", cx.file(op, "norm.offset", out_offset)?),
        ],
    );
    Ok(OpItem::new(
        doc,
        "convnext::kernels::stem",
        "StemParams",
        value,
        "stem_in_place_probed",
    ))
}
