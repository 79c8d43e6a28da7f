//! The generated module's row-streamed forward (`convnext::streamed`): its
//! layout, its section of kernels, `forward_rows` to start one and
//! `forward_rest` to finish it. Emitted for classifiers whose first stage can
//! stream (int8 blocks without GRN).

use super::EmitContext;
use crate::plan::Plan;
use convnext::streamed::section_len;
use std::fmt::Write as _;

/// How many ops the streamed section is, when this plan gets a streamed
/// forward (registering the names it uses).
pub(super) fn section(plan: &Plan, cx: &mut EmitContext) -> Option<usize> {
    if !plan.streams() {
        return None;
    }
    let len = section_len(&plan.model.ops)?;
    cx.uses("convnext::streamed", "RowStream");
    cx.uses("convnext::streamed", "StreamLayout");
    cx.uses("convnext::streamed", "StreamedSection");
    cx.uses("convnext::streamed", "StreamState");
    Some(len)
}

/// The items, given the section's length and the kernel calls of the ops
/// after it (as `forward_probed` writes them).
pub(super) fn items(plan: &Plan, len: usize, rest_calls: &str) -> String {
    let Some(l) = plan.stream_layout() else {
        return String::new();
    };
    let ids: Vec<String> = plan.model.ops[..len]
        .iter()
        .map(|q| q.name.to_uppercase())
        .collect();
    let blocks = &ids[1..len - 1];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n/// Where the row-streamed forward keeps its band, rings, pair and scratch."
    );
    let _ = writeln!(s, "pub const STREAM_LAYOUT: StreamLayout = StreamLayout {{");
    for (f, v) in [
        ("band", l.band),
        ("windows", l.windows),
        ("pair", l.pair),
        ("scratch", l.scratch),
        ("arena_bytes", l.arena_bytes),
    ] {
        let _ = writeln!(s, "    {f}: {v},");
    }
    let _ = writeln!(s, "}};");
    let _ = writeln!(
        s,
        "\n/// Bytes of working memory the row-streamed forward needs (`ARENA_BYTES` is\n/// the whole-image forward's)."
    );
    let _ = writeln!(
        s,
        "pub const STREAM_ARENA_BYTES: usize = STREAM_LAYOUT.arena_bytes;"
    );
    let _ = writeln!(s, "\n/// The first stage's blocks, in order.");
    let _ = writeln!(
        s,
        "static STREAM_BLOCKS: [&BlockParams; {}] = [{}];",
        blocks.len(),
        blocks
            .iter()
            .map(|b| format!("&{b}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "\n/// The stem, the first stage and the downsample, which run as rows arrive."
    );
    let _ = writeln!(
        s,
        "pub static STREAM_SECTION: StreamedSection<'static> = StreamedSection {{\n    stem: &{},\n    blocks: &STREAM_BLOCKS,\n    downsample: &{},\n}};",
        ids[0],
        ids[len - 1]
    );
    s.push_str(
        "\n/// Start a row-streamed forward in `arena` (at least `STREAM_ARENA_BYTES`):\n\
         /// push the image's rows (`RowStream::push_row`, `INPUT_SHAPE[1] * INPUT_SHAPE[2]`\n\
         /// u8 each, top to bottom), then call [`forward_rest`]. The same logits as\n\
         /// [`forward`], without the whole image or first-stage tensor in memory.\n\
         pub fn forward_rows(arena: &mut [i8]) -> Result<RowStream<'_>, ForwardError> {\n\
         \x20   RowStream::new(STREAM_SECTION, STREAM_LAYOUT, arena)\n\
         }\n\
         \n\
         /// Continue a row-streamed forward from its `state` (`RowStream::state`) in the\n\
         /// arena it left: for callers that keep only the state between rows.\n\
         pub fn forward_rows_resume(\n\
         \x20   arena: &mut [i8],\n\
         \x20   state: StreamState,\n\
         ) -> Result<RowStream<'_>, ForwardError> {\n\
         \x20   RowStream::resume(STREAM_SECTION, STREAM_LAYOUT, arena, state)\n\
         }\n\
         \n\
         /// After the last row: the rest of the network, into `logits` (`NUM_LABELS`).\n\
         #[inline(never)]\n\
         pub fn forward_rest(stream: RowStream<'_>, logits: &mut [i32]) -> Result<(), ForwardError> {\n\
         \x20   if logits.len() != NUM_LABELS {\n\
         \x20       return Err(ForwardError::LogitsSize {\n\
         \x20           expected: NUM_LABELS,\n\
         \x20           given: logits.len(),\n\
         \x20       });\n\
         \x20   }\n\
         \x20   let arena = stream.finish()?;\n\
         \x20   let probe = &mut NoProbe;\n",
    );
    s.push_str(rest_calls);
    s.push_str("    Ok(())\n}\n");
    s
}
