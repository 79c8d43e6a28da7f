//! The library crate's `lib.rs`: the status codes' messages and, per
//! model, its generated module and C entry points (a classifier's
//! `NAME_forward`, `NAME_label`, `NAME_top_k`; a backbone's
//! `NAME_forward_features` and map table). Every pointer and length is
//! checked before memory is touched.

use super::{is_backbone, Entry, STATUSES};
use std::fmt::Write as _;

/// A NUL-terminated byte-string literal for `s`.
fn c_bytes(s: &str) -> String {
    let mut out = String::from("b\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push_str("\\0\"");
    out
}

/// `lib.rs`: the status messages and, per model, its module and its C
/// entry points.
pub(super) fn lib_rs(entries: &[Entry]) -> String {
    let mut s = String::from(
        "//! C entry points (`convnext export-c`): every pointer and length is checked\n\
         //! before any memory is touched, and a bad one is a status, never a panic.\n\
         #![no_std]\n\
         \n\
         use convnext::network::ForwardError;\n\
         #[allow(unused_imports)] // used where a model streams\n\
         use convnext::streamed::StreamState;\n\
         use core::ffi::{c_char, c_void};\n\
         \n",
    );
    for (name, code, _) in STATUSES {
        let _ = writeln!(s, "const {name}: i32 = {code};");
    }
    s.push_str(
        "\n/// A forward pass's result as a status.\n\
         fn status(r: Result<(), ForwardError>) -> i32 {\n\
         \x20   match r {\n\
         \x20       Ok(()) => CONVNEXT_OK,\n\
         \x20       Err(ForwardError::InputSize { .. }) => CONVNEXT_ERROR_IMAGE_SIZE,\n\
         \x20       Err(ForwardError::ArenaTooSmall { .. }) => CONVNEXT_ERROR_ARENA_TOO_SMALL,\n\
         \x20       Err(ForwardError::FeatureMapsSize { .. }) => CONVNEXT_ERROR_FEATURE_MAPS_TOO_SMALL,\n\
         \x20       Err(ForwardError::LogitsSize { .. }) => CONVNEXT_ERROR_LOGITS_TOO_SMALL,\n\
         \x20       Err(ForwardError::ImageRows { .. } | ForwardError::NotStreamable) => {\n\
         \x20           CONVNEXT_ERROR_ROWS\n\
         \x20       }\n\
         \x20   }\n\
         }\n\
         \n\
         /// What a status means (never NULL; an unknown code gets a message too).\n\
         #[no_mangle]\n\
         pub extern \"C\" fn convnext_status_message(status: i32) -> *const c_char {\n\
         \x20   let m: &'static [u8] = match status {\n",
    );
    for (name, _, message) in STATUSES {
        let _ = writeln!(s, "        {name} => {},", c_bytes(message));
    }
    s.push_str(
        "        _ => b\"unknown convnext_status\\0\",\n\
         \x20   };\n\
         \x20   m.as_ptr().cast()\n\
         }\n\
         \n\
         /// The indices of the `k` largest of `logits`, best first (ties: the\n\
         /// lower index), into `indices`: each pick the best of those ranked\n\
         /// below the one before (no memory but the indices). Unused where\n\
         /// every model of the library is a backbone.\n\
         #[allow(dead_code)]\n\
         fn top_k(logits: &[i32], indices: &mut [usize]) {\n\
         \x20   let rank = |i: usize| (logits[i], core::cmp::Reverse(i));\n\
         \x20   let mut prev: Option<usize> = None;\n\
         \x20   for slot in indices.iter_mut() {\n\
         \x20       let mut best: Option<usize> = None;\n\
         \x20       for i in 0..logits.len() {\n\
         \x20           let below = prev.is_none_or(|p| rank(i) < rank(p));\n\
         \x20           if below && best.is_none_or(|b| rank(i) > rank(b)) {\n\
         \x20               best = Some(i);\n\
         \x20           }\n\
         \x20       }\n\
         \x20       *slot = best.unwrap_or(0);\n\
         \x20       prev = best;\n\
         \x20   }\n\
         }\n\
         \n\
         #[panic_handler]\n\
         fn panic(_: &core::panic::PanicInfo) -> ! {\n\
         \x20   // Unreachable from the entry points (they check their input first).\n\
         \x20   loop {}\n\
         }\n",
    );
    if entries.iter().any(is_backbone) {
        s.push_str(FEATURE_MAP_TYPES);
    }
    for e in entries.iter().filter(|e| is_backbone(e)) {
        s.push_str(&backbone_rs(e));
    }
    for e in entries.iter().filter(|e| !is_backbone(e)) {
        let n = &e.name;
        let labels: Vec<String> = e.labels.iter().map(|l| c_bytes(l)).collect();
        let _ = write!(
            s,
            "{module}\
             /// {n}'s labels, NUL-terminated.\n\
             static {upper}_LABELS: [&[u8]; {count}] = [{labels}];\n\
             {forward}\
             \n\
             /// Label `index`, or NULL past the last.\n\
             #[no_mangle]\n\
             pub extern \"C\" fn {n}_label(index: usize) -> *const c_char {{\n\
             \x20   match {upper}_LABELS.get(index) {{\n\
             \x20       Some(l) => l.as_ptr().cast(),\n\
             \x20       None => core::ptr::null(),\n\
             \x20   }}\n\
             }}\n\
             \n\
             /// The `k` best labels' indices, best first (see {n}.h).\n\
             ///\n\
             /// # Safety\n\
             ///\n\
             /// `logits` must hold `num_logits` int32s and `indices` `k` size_ts.\n\
             #[no_mangle]\n\
             pub unsafe extern \"C\" fn {n}_top_k(\n\
             \x20   logits: *const i32,\n\
             \x20   num_logits: usize,\n\
             \x20   indices: *mut usize,\n\
             \x20   k: usize,\n\
             ) -> i32 {{\n\
             \x20   if logits.is_null() || indices.is_null() {{\n\
             \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
             \x20   }}\n\
             \x20   if num_logits < {n}::NUM_LABELS {{\n\
             \x20       return CONVNEXT_ERROR_LOGITS_TOO_SMALL;\n\
             \x20   }}\n\
             \x20   if k == 0 || k > {n}::NUM_LABELS {{\n\
             \x20       return CONVNEXT_ERROR_TOP_K;\n\
             \x20   }}\n\
             \x20   // SAFETY: non-NULL (checked) and as long as the caller says.\n\
             \x20   let (logits, indices) = unsafe {{\n\
             \x20       (\n\
             \x20           core::slice::from_raw_parts(logits, {n}::NUM_LABELS),\n\
             \x20           core::slice::from_raw_parts_mut(indices, k),\n\
             \x20       )\n\
             \x20   }};\n\
             \x20   top_k(logits, indices);\n\
             \x20   CONVNEXT_OK\n\
             }}\n",
            upper = n.to_uppercase(),
            count = labels.len(),
            labels = labels.join(", "),
            module = module(n),
            forward = forward_entry(n, "forward", "Classify one image", LOGITS),
        );
        if e.plan.streams() {
            s.push_str(&stream_entries(n));
        }
    }
    s
}

/// The C layout of a feature map's entry, and the table type (shared by
/// every backbone of the library).
const FEATURE_MAP_TYPES: &str = "
/// One feature map, as `convnext_feature_map` in the header lays it out.
#[repr(C)]
pub struct FeatureMap {
    name: *const c_char,
    channels: usize,
    height: usize,
    width: usize,
    offset: usize,
    scale: f32,
    zero_point: i32,
}

/// A backbone's table of maps.
pub struct FeatureMaps<const N: usize>([FeatureMap; N]);

// SAFETY: read-only data whose pointers are to static NUL-terminated names.
unsafe impl<const N: usize> Sync for FeatureMaps<N> {}
";

/// A backbone's module, its map table and its C entry points.
fn backbone_rs(e: &Entry) -> String {
    let n = &e.name;
    let upper = n.to_uppercase();
    let maps = &e.plan.model.feature_maps;
    let mut table = String::new();
    for (i, m) in maps.iter().enumerate() {
        let _ = write!(
            table,
            "    FeatureMap {{\n\
             \x20       name: {name}.as_ptr().cast(),\n\
             \x20       channels: {n}::FEATURE_MAPS[{i}].shape[0],\n\
             \x20       height: {n}::FEATURE_MAPS[{i}].shape[1],\n\
             \x20       width: {n}::FEATURE_MAPS[{i}].shape[2],\n\
             \x20       offset: {n}::FEATURE_MAPS[{i}].offset,\n\
             \x20       scale: {n}::FEATURE_MAPS[{i}].scale,\n\
             \x20       zero_point: {n}::FEATURE_MAPS[{i}].zero_point,\n\
             \x20   }},\n",
            name = c_bytes(&m.name),
        );
    }
    format!(
        "{module}\
         /// {n}'s feature maps, in the buffer's order.\n\
         static {upper}_MAPS: FeatureMaps<{count}> = FeatureMaps([\n{table}]);\n\
         {forward}\
         \n\
         /// Feature map `index`'s entry, or NULL past the last.\n\
         #[no_mangle]\n\
         pub extern \"C\" fn {n}_feature_map(index: usize) -> *const FeatureMap {{\n\
         \x20   match {upper}_MAPS.0.get(index) {{\n\
         \x20       Some(m) => m,\n\
         \x20       None => core::ptr::null(),\n\
         \x20   }}\n\
         }}\n",
        count = maps.len(),
        module = module(n),
        forward = forward_entry(n, "forward_features", "Run the backbone on one image", MAPS),
    )
}

/// Where a `forward` writes: the C parameter, its element type, its
/// length parameter, the module's constant it must reach, the status when
/// it does not.
struct Output {
    name: &'static str,
    ty: &'static str,
    len: &'static str,
    need: &'static str,
    short: &'static str,
}

/// A classifier's int32 logits.
const LOGITS: Output = Output {
    name: "logits",
    ty: "i32",
    len: "num_logits",
    need: "NUM_LABELS",
    short: "CONVNEXT_ERROR_LOGITS_TOO_SMALL",
};

/// A backbone's int8 feature maps.
const MAPS: Output = Output {
    name: "feature_maps",
    ty: "i8",
    len: "feature_map_bytes",
    need: "FEATURE_MAP_BYTES",
    short: "CONVNEXT_ERROR_FEATURE_MAPS_TOO_SMALL",
};

/// The row-streamed entry points of classifier `n`: begin, push a row,
/// finish; the stream's state lives in the caller's `convnext_stream` and
/// its buffers in the arena, between calls.
fn stream_entries(n: &str) -> String {
    format!(
        "\n\
         const _: () = assert!(core::mem::size_of::<StreamState>() == 4 * 17);\n\
         \n\
         /// Start a row-streamed classification (see {n}.h).\n\
         ///\n\
         /// # Safety\n\
         ///\n\
         /// `stream` must point to a `convnext_stream`, `arena` to `arena_bytes`.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn {n}_stream_begin(\n\
         \x20   stream: *mut StreamState,\n\
         \x20   arena: *mut c_void,\n\
         \x20   arena_bytes: usize,\n\
         ) -> i32 {{\n\
         \x20   if stream.is_null() || arena.is_null() {{\n\
         \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
         \x20   }}\n\
         \x20   if arena_bytes < {n}::STREAM_ARENA_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   // SAFETY: non-NULL (checked), as long as the caller says.\n\
         \x20   let arena = unsafe {{ core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes) }};\n\
         \x20   match {n}::forward_rows(arena) {{\n\
         \x20       Ok(s) => {{\n\
         \x20           // SAFETY: non-NULL (checked), a `convnext_stream` (17 words).\n\
         \x20           unsafe {{ stream.write_unaligned(s.state()) }};\n\
         \x20           CONVNEXT_OK\n\
         \x20       }}\n\
         \x20       Err(e) => status(Err(e)),\n\
         \x20   }}\n\
         }}\n\
         \n\
         /// Push the image's next row (see {n}.h).\n\
         ///\n\
         /// # Safety\n\
         ///\n\
         /// As for `{n}_stream_begin`; `row` must point to `row_bytes`.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn {n}_stream_push_row(\n\
         \x20   stream: *mut StreamState,\n\
         \x20   arena: *mut c_void,\n\
         \x20   arena_bytes: usize,\n\
         \x20   row: *const u8,\n\
         \x20   row_bytes: usize,\n\
         ) -> i32 {{\n\
         \x20   if stream.is_null() || arena.is_null() || row.is_null() {{\n\
         \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
         \x20   }}\n\
         \x20   if arena_bytes < {n}::STREAM_ARENA_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   if row_bytes != {n}::INPUT_SHAPE[1] * {n}::INPUT_SHAPE[2] {{\n\
         \x20       return CONVNEXT_ERROR_IMAGE_SIZE;\n\
         \x20   }}\n\
         \x20   // SAFETY: non-NULL (checked), as long as the caller says; the state\n\
         \x20   // is 17 words the library wrote (any bits are checked on resume).\n\
         \x20   let (state, arena, row) = unsafe {{\n\
         \x20       (\n\
         \x20           stream.read_unaligned(),\n\
         \x20           core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes),\n\
         \x20           core::slice::from_raw_parts(row, row_bytes),\n\
         \x20       )\n\
         \x20   }};\n\
         \x20   let mut s = match {n}::forward_rows_resume(arena, state) {{\n\
         \x20       Ok(s) => s,\n\
         \x20       Err(e) => return status(Err(e)),\n\
         \x20   }};\n\
         \x20   if let Err(e) = s.push_row(row) {{\n\
         \x20       return status(Err(e));\n\
         \x20   }}\n\
         \x20   // SAFETY: as above.\n\
         \x20   unsafe {{ stream.write_unaligned(s.state()) }};\n\
         \x20   CONVNEXT_OK\n\
         }}\n\
         \n\
         /// After the last row: the rest of the network, into `logits` (see {n}.h).\n\
         ///\n\
         /// # Safety\n\
         ///\n\
         /// As for `{n}_stream_begin`; `logits` must hold `num_logits` int32s.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn {n}_stream_finish(\n\
         \x20   stream: *mut StreamState,\n\
         \x20   arena: *mut c_void,\n\
         \x20   arena_bytes: usize,\n\
         \x20   logits: *mut i32,\n\
         \x20   num_logits: usize,\n\
         ) -> i32 {{\n\
         \x20   if stream.is_null() || arena.is_null() || logits.is_null() {{\n\
         \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
         \x20   }}\n\
         \x20   if arena_bytes < {n}::STREAM_ARENA_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   if num_logits < {n}::NUM_LABELS {{\n\
         \x20       return CONVNEXT_ERROR_LOGITS_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   // SAFETY: non-NULL (checked), as long as the caller says.\n\
         \x20   let (state, arena, logits) = unsafe {{\n\
         \x20       (\n\
         \x20           stream.read_unaligned(),\n\
         \x20           core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes),\n\
         \x20           core::slice::from_raw_parts_mut(logits, {n}::NUM_LABELS),\n\
         \x20       )\n\
         \x20   }};\n\
         \x20   match {n}::forward_rows_resume(arena, state) {{\n\
         \x20       Ok(s) => status({n}::forward_rest(s, logits)),\n\
         \x20       Err(e) => status(Err(e)),\n\
         \x20   }}\n\
         }}\n"
    )
}

/// Model `n`'s generated module.
fn module(n: &str) -> String {
    format!(
        "\n\
         mod {n} {{\n\
         \x20   include!(concat!(env!(\"OUT_DIR\"), \"/{n}.rs\"));\n\
         }}\n\
         \n"
    )
}

/// `{n}_{func}`: the generated `forward` behind checks of every pointer and
/// length (a short buffer is a status; a longer one gets the first `need`
/// elements written).
fn forward_entry(n: &str, func: &str, doc: &str, o: Output) -> String {
    let Output {
        name,
        ty,
        len,
        need,
        short,
    } = o;
    format!(
        "\n\
         /// {doc} (see {n}.h).\n\
         ///\n\
         /// # Safety\n\
         ///\n\
         /// Each non-NULL pointer must point to as many elements as its length says.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn {n}_{func}(\n\
         \x20   image: *const u8,\n\
         \x20   image_bytes: usize,\n\
         \x20   arena: *mut c_void,\n\
         \x20   arena_bytes: usize,\n\
         \x20   {name}: *mut {ty},\n\
         \x20   {len}: usize,\n\
         ) -> i32 {{\n\
         \x20   if image.is_null() || arena.is_null() || {name}.is_null() {{\n\
         \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
         \x20   }}\n\
         \x20   if image_bytes != {n}::INPUT_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_IMAGE_SIZE;\n\
         \x20   }}\n\
         \x20   if arena_bytes < {n}::ARENA_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   if {len} < {n}::{need} {{\n\
         \x20       return {short};\n\
         \x20   }}\n\
         \x20   // SAFETY: non-NULL (checked) and as long as the caller says (the\n\
         \x20   // header's contract); only the first {need} are written.\n\
         \x20   let (image, arena, out) = unsafe {{\n\
         \x20       (\n\
         \x20           core::slice::from_raw_parts(image, image_bytes),\n\
         \x20           core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes),\n\
         \x20           core::slice::from_raw_parts_mut({name}, {n}::{need}),\n\
         \x20       )\n\
         \x20   }};\n\
         \x20   status({n}::forward(image, arena, out))\n\
         }}\n"
    )
}
