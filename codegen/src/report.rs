//! The int8 plan described as JSON: what `convnext report --json` prints
//! (the CLI adds the board fit, the f16 sensitivity and a note where no
//! SQNR was measured) and the Python package's `Int8.report()` returns.

use crate::model::Model;
use crate::plan::Plan;
use serde_json::{json, Value};
use std::path::Path;

/// The plan of the checkpoint in `model_dir`: its input, sizes, arena,
/// MACs, feature maps, numerics and every op, with `sqnr` (dB per op, in
/// op order; empty where none was measured).
pub fn plan_json(model_dir: &Path, model: &Model, plan: &Plan, sqnr: &[f64]) -> Value {
    let ops: Vec<Value> = plan
        .ops
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({
                "name": o.name,
                "output_shape": o.output_shape,
                "macs": o.macs,
                "weights_bytes": o.weights_bytes,
                "arena_live_bytes": o.arena_live_bytes,
                "layerwise_bytes": o.layerwise_bytes,
                "sqnr_db": sqnr.get(i),
            })
        })
        .collect();
    let m = &plan.model;
    let cost = plan.numerics_cost();
    json!({
        "model": model_dir.display().to_string(),
        "precision": "int8",
        "input": [m.input_c, m.input_h, m.input_w],
        "parameters": model.parameters(),
        "weights_bytes": plan.weights_bytes(),
        "arena_bytes": plan.arena_bytes,
        "residual_bound_bytes": plan.residual_bound_bytes,
        "arena_to_bound": plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
        "layerwise_arena_bytes": plan.layerwise_arena_bytes,
        "macs": plan.macs(),
        "feature_map_bytes": plan.feature_map_bytes,
        "streamed_arena_bytes": plan.stream_layout().map(|l| l.arena_bytes),
        "feature_maps": m.feature_maps.iter().map(|f| json!({
            "name": f.name,
            "shape": f.shape,
            "offset": f.offset,
            "bytes": f.bytes(),
            "scale": f.quant.scale,
            "zero_point": f.quant.zero_point,
        })).collect::<Vec<_>>(),
        "ops": ops,
        "numerics": {
            "stream_scales": m.stream_scales.to_string(),
            "hidden": m.hidden.to_string(),
            "arena_cost_bytes": cost.arena_bytes,
            "table_cost_bytes": cost.table_bytes,
        },
    })
}
