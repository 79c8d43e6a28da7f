//! Emitters of the building blocks several kernels' params share. Each
//! destructures its value without `..`: a new field fails to compile here
//! until it is emitted.

use super::rust_text::Expr;
use super::EmitContext;
use crate::error::Result;
use convnext::kernels::block_f16::F16Linear;
use convnext::kernels::{InPlaceMap, LayerNormParams, Placement, QLinear, Requant};

/// `Placement { .. }`.
pub(super) fn placement(cx: &mut EmitContext, p: &Placement) -> Expr {
    cx.uses("convnext::kernels", "Placement");
    let Placement {
        input_offset,
        output_offset,
        scratch_offset,
    } = *p;
    Expr::Struct(
        "Placement",
        vec![
            ("input_offset", Expr::text(input_offset)),
            ("output_offset", Expr::text(output_offset)),
            ("scratch_offset", Expr::text(scratch_offset)),
        ],
    )
}

/// `InPlaceMap { h, w, c }`.
pub(super) fn map(cx: &mut EmitContext, m: &InPlaceMap) -> Expr {
    cx.uses("convnext::kernels", "InPlaceMap");
    let InPlaceMap { h, w, c } = *m;
    Expr::Struct(
        "InPlaceMap",
        vec![
            ("h", Expr::text(h)),
            ("w", Expr::text(w)),
            ("c", Expr::text(c)),
        ],
    )
}

/// `Requant::new(mult, shift)`.
pub(super) fn requant(cx: &mut EmitContext, r: Requant) -> Expr {
    cx.uses("convnext::kernels", "Requant");
    let Requant { mult, shift } = r;
    Expr::text(format!("Requant::new({mult}, {shift})"))
}

/// `LayerNormParams::new(eps_w)`.
pub(super) fn layer_norm(cx: &mut EmitContext, p: LayerNormParams) -> Expr {
    cx.uses("convnext::kernels", "LayerNormParams");
    let LayerNormParams { eps_w } = p;
    Expr::text(format!("LayerNormParams::new({eps_w})"))
}

/// `QLinear { .. }`, its three tables written as `<op>.<layer>.*.bin`.
pub(super) fn linear(
    l: &QLinear<Vec<u8>>,
    cx: &mut EmitContext,
    op: &str,
    layer: &str,
) -> Result<Expr> {
    cx.uses("convnext::kernels", "QLinear");
    let QLinear {
        weights,
        bias,
        requant,
    } = l;
    Ok(Expr::Struct(
        "QLinear",
        vec![
            ("weights", cx.file(op, &format!("{layer}.weight"), weights)?),
            ("bias", cx.file(op, &format!("{layer}.bias"), bias)?),
            (
                "requant",
                cx.file(op, &format!("{layer}.requant"), requant)?,
            ),
        ],
    ))
}

/// `F16Linear { .. }`, its two tables written as `<op>.<layer>.*.f16.bin`.
pub(super) fn f16_linear(
    l: &F16Linear<Vec<u8>>,
    cx: &mut EmitContext,
    op: &str,
    layer: &str,
) -> Result<Expr> {
    cx.uses("convnext::kernels::block_f16", "F16Linear");
    let F16Linear { weights, bias } = l;
    Ok(Expr::Struct(
        "F16Linear",
        vec![
            (
                "weights",
                cx.file(op, &format!("{layer}.weight.f16"), weights)?,
            ),
            ("bias", cx.file(op, &format!("{layer}.bias.f16"), bias)?),
        ],
    ))
}

/// A stream's channel profile (`convnext::kernels::tables::profile_at`):
/// `&[]` for a per-tensor stream, else its table's file.
pub(super) fn profile(cx: &mut EmitContext, op: &str, bytes: &[u8]) -> Result<Expr> {
    named_profile(cx, op, "stream_profile", bytes)
}

/// [`profile`] under a file name of its own (an op with two streams).
pub(super) fn named_profile(
    cx: &mut EmitContext,
    op: &str,
    name: &str,
    bytes: &[u8],
) -> Result<Expr> {
    if bytes.is_empty() {
        return Ok(Expr::text("&[]"));
    }
    cx.file(op, name, bytes)
}
