//! The C side: `convnext_status.h`, each model's `NAME.h` (C99, include
//! guards, `extern "C"`, only `stdint.h` and `stddef.h`) and the CMake
//! imported target.

use super::{is_backbone, Entry, STATUSES};
use std::fmt::Write as _;

/// `convnext_status.h`: the status codes and their messages, shared by
/// every model's header.
pub(super) fn status_header() -> String {
    let mut s = String::from(
        "/* Status codes of the libraries `convnext export-c` writes. Do not edit. */\n\
         #ifndef CONVNEXT_STATUS_H\n\
         #define CONVNEXT_STATUS_H\n\
         \n\
         #include <stddef.h>\n\
         #include <stdint.h>\n\
         \n\
         #ifdef __cplusplus\n\
         extern \"C\" {\n\
         #endif\n\
         \n\
         /** What a call did: CONVNEXT_OK (0), or why it refused (negative; no\n\
         \x20*  output was written). */\n\
         typedef enum {\n",
    );
    for (i, (name, code, message)) in STATUSES.iter().enumerate() {
        let comma = if i + 1 < STATUSES.len() { "," } else { "" };
        let _ = writeln!(s, "    {name} = {code}{comma} /**< {message} */");
    }
    s.push_str(
        "} convnext_status;\n\
         \n\
         /** A sentence for `status`; never NULL (an unknown code gets one too). */\n\
         const char *convnext_status_message(convnext_status status);\n\
         \n\
         /** One of a backbone's feature maps in its buffer: real value =\n\
         \x20*  scale * (q - zero_point) for each int8 q, HWC from `offset`. */\n\
         typedef struct {\n\
         \x20   const char *name; /**< stem, stage1, ... (HF out_features) */\n\
         \x20   size_t channels;\n\
         \x20   size_t height;\n\
         \x20   size_t width;\n\
         \x20   size_t offset; /**< first byte in the buffer */\n\
         \x20   float scale;\n\
         \x20   int32_t zero_point;\n\
         } convnext_feature_map;\n\
         \n\
         /** A row-streamed classification's progress, kept by the caller\n\
         \x20*  between NAME_stream_* calls (the buffers are in the arena). */\n\
         typedef struct {\n\
         \x20   uint32_t opaque[17];\n\
         } convnext_stream;\n\
         \n\
         #ifdef __cplusplus\n\
         }\n\
         #endif\n\
         \n\
         #endif /* CONVNEXT_STATUS_H */\n",
    );
    s
}

/// `NAME.h`: one model's sizes and functions.
pub(super) fn model_header(e: &Entry) -> String {
    if is_backbone(e) {
        return backbone_header(e);
    }
    let n = &e.name;
    let u = n.to_uppercase();
    let m = &e.plan.model;
    format!(
        "{top}\
         /** Number of labels (logits). */\n\
         #define {u}_NUM_LABELS {labels}u\n\
         /** Real value of one logit step: logit = int32 x {u}_LOGIT_SCALE. */\n\
         #define {u}_LOGIT_SCALE {scale:e}f\n\
         \n\
         /** Classify one image: u8 pixels at the input size, HWC, as a camera\n\
         \x20*  gives them ({u}_INPUT_BYTES bytes). Writes {u}_NUM_LABELS int32\n\
         \x20*  logits. Refuses (writing nothing) a NULL pointer, a wrong\n\
         \x20*  image_bytes, an arena under {u}_ARENA_BYTES or num_logits under\n\
         \x20*  {u}_NUM_LABELS. The same bits on every target. */\n\
         convnext_status {n}_forward(const uint8_t *image, size_t image_bytes,\n\
         {fw}void *arena, size_t arena_bytes,\n\
         {fw}int32_t *logits, size_t num_logits);\n\
         \n\
         /** Label `index` (NUL-terminated), or NULL past the last. */\n\
         const char *{n}_label(size_t index);\n\
         \n\
         /** The indices of the `k` largest logits, best first (ties: the lower\n\
         \x20*  index), into `indices`; 1 <= k <= {u}_NUM_LABELS. */\n\
         convnext_status {n}_top_k(const int32_t *logits, size_t num_logits,\n\
         {tk}size_t *indices, size_t k);\n\
         {stream}\
         \n\
         {bottom}",
        top = header_top(e, "classifier", &format!("{n}_forward")),
        bottom = header_bottom(&u),
        labels = m.num_labels,
        scale = m.logit_scale as f32,
        fw = indent(&format!("convnext_status {n}_forward(")),
        tk = indent(&format!("convnext_status {n}_top_k(")),
        stream = match e.plan.stream_layout().filter(|_| e.plan.streams()) {
            Some(l) => stream_declarations(n, l.arena_bytes),
            None => String::new(),
        },
    )
}

/// A streaming classifier's row-streamed functions and sizes.
fn stream_declarations(n: &str, arena: usize) -> String {
    let u = n.to_uppercase();
    let (b, p, f) = (
        indent(&format!("convnext_status {n}_stream_begin(")),
        indent(&format!("convnext_status {n}_stream_push_row(")),
        indent(&format!("convnext_status {n}_stream_finish(")),
    );
    format!(
        "\n\
         /** Row-streamed classification: the image a row at a time, as a camera's\n\
         \x20*  line buffer gives it, in a smaller arena ({u}_STREAM_ARENA_BYTES),\n\
         \x20*  the same logits as {n}_forward. begin, then push_row for each of\n\
         \x20*  the {u}_INPUT_HEIGHT rows top to bottom ({u}_STREAM_ROW_BYTES u8\n\
         \x20*  each, HWC), then finish; the stream and the arena stay the caller's\n\
         \x20*  and untouched between calls. A row too many or a finish too early is\n\
         \x20*  CONVNEXT_ERROR_ROWS. */\n\
         #define {u}_STREAM_ARENA_BYTES {arena}u\n\
         #define {u}_STREAM_ROW_BYTES ({u}_INPUT_WIDTH * {u}_INPUT_CHANNELS)\n\
         convnext_status {n}_stream_begin(convnext_stream *stream, void *arena,\n\
         {b}size_t arena_bytes);\n\
         convnext_status {n}_stream_push_row(convnext_stream *stream, void *arena,\n\
         {p}size_t arena_bytes, const uint8_t *row,\n\
         {p}size_t row_bytes);\n\
         convnext_status {n}_stream_finish(convnext_stream *stream, void *arena,\n\
         {f}size_t arena_bytes, int32_t *logits,\n\
         {f}size_t num_logits);\n"
    )
}

/// A model header's start: what it is, guard, includes, `extern "C"`, and
/// the sizes every model has (arena, input); `entry` is the function that
/// needs the arena.
fn header_top(e: &Entry, kind: &str, entry: &str) -> String {
    let (n, u) = (&e.name, e.name.to_uppercase());
    let m = &e.plan.model;
    let checkpoint = e.dir.file_name().map_or_else(
        || e.dir.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    format!(
        "/* {n}: an int8 ConvNeXt {kind} from {checkpoint}, made by\n\
         \x20* convnext export-c {version}. Link lib*.a from the same export. Do not edit. */\n\
         #ifndef {u}_H\n\
         #define {u}_H\n\
         \n\
         #include <stddef.h>\n\
         #include <stdint.h>\n\
         \n\
         #include \"convnext_status.h\"\n\
         \n\
         #ifdef __cplusplus\n\
         extern \"C\" {{\n\
         #endif\n\
         \n\
         /** Bytes of working memory {entry} needs (the caller owns it). */\n\
         #define {u}_ARENA_BYTES {arena}u\n\
         /** Alignment the arena needs, in bytes (any address will do). */\n\
         #define {u}_ARENA_ALIGN 1u\n\
         /** Input image height, width and channels (u8 pixels, HWC). */\n\
         #define {u}_INPUT_HEIGHT {h}u\n\
         #define {u}_INPUT_WIDTH {w}u\n\
         #define {u}_INPUT_CHANNELS {c}u\n\
         /** Bytes of one input image: height x width x channels. */\n\
         #define {u}_INPUT_BYTES {bytes}u\n",
        version = env!("CARGO_PKG_VERSION"),
        arena = e.plan.arena_bytes,
        h = m.input_h,
        w = m.input_w,
        c = m.input_c,
        bytes = e.plan.input_bytes,
    )
}

/// A model header's end.
fn header_bottom(u: &str) -> String {
    format!(
        "#ifdef __cplusplus\n\
         }}\n\
         #endif\n\
         \n\
         #endif /* {u}_H */\n"
    )
}

/// Spaces as wide as `head`: a declaration's continued parameters line up.
fn indent(head: &str) -> String {
    " ".repeat(head.len())
}

/// `NAME.h` of a backbone: its sizes, its map table, `NAME_forward_features`.
fn backbone_header(e: &Entry) -> String {
    let n = &e.name;
    let u = n.to_uppercase();
    let m = &e.plan.model;
    let names: Vec<&str> = m.feature_maps.iter().map(|f| f.name.as_str()).collect();
    format!(
        "{top}\
         /** Bytes of the feature-map buffer (every map, HWC int8, one after another). */\n\
         #define {u}_FEATURE_MAP_BYTES {map_bytes}u\n\
         /** Number of feature maps ({names}). */\n\
         #define {u}_NUM_FEATURE_MAPS {count}u\n\
         \n\
         /** Run the backbone on one image (u8 pixels at the input size, HWC,\n\
         \x20*  {u}_INPUT_BYTES bytes) and write every map into feature_maps, laid\n\
         \x20*  out as {n}_feature_map says. Refuses (writing nothing) a NULL pointer,\n\
         \x20*  a wrong image_bytes, an arena under {u}_ARENA_BYTES or a buffer\n\
         \x20*  under {u}_FEATURE_MAP_BYTES. The same bits on every target. */\n\
         convnext_status {n}_forward_features(const uint8_t *image, size_t image_bytes,\n\
         {ff}void *arena, size_t arena_bytes,\n\
         {ff}int8_t *feature_maps, size_t feature_map_bytes);\n\
         \n\
         /** Map `index`'s entry (name, shape, offset, scale, zero point), or NULL\n\
         \x20*  past the last. */\n\
         const convnext_feature_map *{n}_feature_map(size_t index);\n\
         \n\
         {bottom}",
        top = header_top(e, "backbone", &format!("{n}_forward_features")),
        bottom = header_bottom(&u),
        map_bytes = e.plan.feature_map_bytes,
        count = m.feature_maps.len(),
        names = names.join(", "),
        ff = indent(&format!("convnext_status {n}_forward_features(")),
    )
}

/// `CMakeLists.txt`: the library as an imported target, for
/// `add_subdirectory(OUT)` then `target_link_libraries(app PRIVATE NAME)`.
pub(super) fn cmake(library: &str) -> String {
    format!(
        "# lib{library}.a and its headers as the imported target `{library}`:\n\
         #   add_subdirectory(path/to/this/folder)\n\
         #   target_link_libraries(your_app PRIVATE {library})\n\
         # Made by convnext export-c; do not edit.\n\
         cmake_minimum_required(VERSION 3.13)\n\
         add_library({library} STATIC IMPORTED GLOBAL)\n\
         set_target_properties({library} PROPERTIES\n\
         \x20   IMPORTED_LOCATION \"${{CMAKE_CURRENT_LIST_DIR}}/lib{library}.a\"\n\
         \x20   INTERFACE_INCLUDE_DIRECTORIES \"${{CMAKE_CURRENT_LIST_DIR}}\")\n"
    )
}
