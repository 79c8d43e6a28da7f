//! `convnext export-c`: one static library and one header per model for C
//! (and C++) programs. The library is a `no_std` Rust crate written under
//! `OUT/rust/` (the runtime, each model's generated forward pass, and C
//! entry points that check every pointer and length before touching
//! memory), built with cargo for the target asked, `panic = "abort"`.
//! Several models go into one library, since two Rust static libraries in
//! one program clash on `core`'s symbols.

use crate::boards::Board;
use crate::engine::{engine, engine_dep, Engine};
use crate::failure::{usage, Failure};
use crate::int8::calibrate_and_gate;
use crate::options::{CalibrationFlags, ExportCArgs};
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::saved_calibration::SavedCalibration;
use convnext_codegen::{load_model, Error};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The status codes, as `convnext_status.h` names them and the library
/// returns them; the message `convnext_status_message` gives each.
pub const STATUSES: [(&str, i32, &str); 7] = [
    ("CONVNEXT_OK", 0, "ok"),
    (
        "CONVNEXT_ERROR_NULL_POINTER",
        -1,
        "a pointer argument is NULL",
    ),
    (
        "CONVNEXT_ERROR_IMAGE_SIZE",
        -2,
        "image_bytes is not the model's input size (NAME_INPUT_BYTES)",
    ),
    (
        "CONVNEXT_ERROR_ARENA_TOO_SMALL",
        -3,
        "arena_bytes is below NAME_ARENA_BYTES",
    ),
    (
        "CONVNEXT_ERROR_LOGITS_TOO_SMALL",
        -4,
        "num_logits is below NAME_NUM_LABELS",
    ),
    (
        "CONVNEXT_ERROR_TOP_K",
        -5,
        "k is 0 or more than NAME_NUM_LABELS",
    ),
    (
        "CONVNEXT_ERROR_FEATURE_MAPS_TOO_SMALL",
        -6,
        "feature_map_bytes is below NAME_FEATURE_MAP_BYTES",
    ),
];

/// One model going into the library.
struct Entry {
    name: String,
    dir: PathBuf,
    saved: SavedCalibration,
    plan: Plan,
    labels: Vec<String>,
}

/// `convnext export-c`.
pub fn export_c(a: &ExportCArgs) -> Result<(), Failure> {
    let names = names(a)?;
    if !a.calibration_file.is_empty() && a.calibration_file.len() != a.model.len() {
        return Err(usage(format!(
            "{} --calibration-file for {} --model: give one per model, in order, or none",
            a.calibration_file.len(),
            a.model.len()
        )));
    }
    let library = a.library.clone().unwrap_or_else(|| names[0].clone());
    check_name("--library", &library)?;
    let engine = engine(&a.engine)?;
    let board = a.board.as_deref().map(crate::firmware::board).transpose()?;
    let target = board
        .map(|b| b.target.to_string())
        .or_else(|| a.target.clone());
    let mut entries = Vec::new();
    for (i, (dir, name)) in a.model.iter().zip(&names).enumerate() {
        let model = load_model(dir)?;
        let processor = load_processor(dir)?;
        let saved = match a.calibration_file.get(i) {
            Some(file) => SavedCalibration::read(file, dir)?,
            None => calibrate_and_gate(dir, &CalibrationFlags::defaults(), a.gate.min_sqnr)?,
        };
        let plan = saved.plan(&model, &processor)?;
        if plan.feature_map_bytes == 0 && plan.model.num_labels == 0 {
            return Err(Failure::Model(Error::Input {
                message: format!(
                    "{}: no head and no out_features, so nothing to return; export-c takes classifiers and backbones",
                    dir.display()
                ),
            }));
        }
        entries.push(Entry {
            name: name.clone(),
            dir: dir.clone(),
            saved,
            plan,
            labels: model.config.labels.clone(),
        });
    }
    let out = a.out.as_path();
    let crate_dir = out.join("rust");
    write_crate(&crate_dir, &library, &entries, &engine, board)?;
    let built = build(&crate_dir, target.as_deref(), &library)?;
    let lib = out.join(format!("lib{library}.a"));
    std::fs::copy(&built, &lib).map_err(|e| io(&lib, e))?;
    write(&out.join("convnext_status.h"), &status_header())?;
    for e in &entries {
        write(&out.join(format!("{}.h", e.name)), &model_header(e))?;
    }
    write(&out.join("CMakeLists.txt"), &cmake(&library))?;
    let headers: Vec<String> = entries.iter().map(|e| format!("{}.h", e.name)).collect();
    println!(
        "wrote {}: lib{library}.a ({}), {}, convnext_status.h, CMakeLists.txt",
        out.display(),
        target.as_deref().unwrap_or("the host"),
        headers.join(", ")
    );
    for e in &entries {
        let m = &e.plan.model;
        let out = if is_backbone(e) {
            format!(
                "{} feature maps, {} bytes",
                m.feature_maps.len(),
                e.plan.feature_map_bytes
            )
        } else {
            format!("{} labels", m.num_labels)
        };
        println!(
            "{}: arena {} bytes, input {}x{}x{} u8, {out}",
            e.name, e.plan.arena_bytes, m.input_h, m.input_w, m.input_c
        );
    }
    Ok(())
}

/// True for a backbone: `NAME_forward_features` and a map table, no head.
fn is_backbone(e: &Entry) -> bool {
    e.plan.feature_map_bytes > 0
}

/// The models' names: `--name` once per `--model`, or the default for one.
fn names(a: &ExportCArgs) -> Result<Vec<String>, Failure> {
    let names = match (a.name.len(), a.model.len()) {
        (0, 1) => vec!["convnext_model".to_string()],
        (n, m) if n == m => a.name.clone(),
        (n, m) => {
            return Err(usage(format!(
                "{n} --name for {m} --model: name each model (one --name per --model, in order)"
            )))
        }
    };
    for n in &names {
        check_name("--name", n)?;
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(usage(format!("--name {n} is given twice")));
        }
    }
    Ok(names)
}

/// A C identifier prefix: lower-case letters, digits and `_`, not starting
/// with a digit, not `convnext` (the shared names' prefix).
fn check_name(flag: &str, n: &str) -> Result<(), Failure> {
    let ok = n
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && n != "convnext";
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "{flag} {n:?}: use lower-case letters, digits and _, starting with a letter (not \"convnext\")"
        )))
    }
}

/// A failed write of `path`.
fn io(path: &Path, source: std::io::Error) -> Failure {
    Failure::Model(Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `text` to `path`, creating its folder.
fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// The library crate: manifest, build script, entry points, and each
/// model's checkpoint and calibration under `models/NAME/`.
fn write_crate(
    dir: &Path,
    library: &str,
    entries: &[Entry],
    engine: &Engine,
    board: Option<&Board>,
) -> Result<(), Failure> {
    for e in entries {
        let to = dir.join("models").join(&e.name);
        std::fs::create_dir_all(&to).map_err(|err| io(&to, err))?;
        for f in [
            "config.json",
            "model.safetensors",
            "preprocessor_config.json",
        ] {
            let from = e.dir.join(f);
            if from.exists() {
                std::fs::copy(&from, to.join(f)).map_err(|err| io(&from, err))?;
            }
        }
        e.saved.write(&to.join("calibration.json"))?;
    }
    let manifest = format!(
        "# Made by `convnext export-c`: the C library lib{library}.a.\n\
         [package]\n\
         name = \"{library}\"\n\
         version = \"0.1.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [workspace]\n\
         \n\
         [lib]\n\
         name = \"{library}\"\n\
         path = \"lib.rs\"\n\
         crate-type = [\"staticlib\"]\n\
         \n\
         [dependencies]\n\
         {runtime}\n\
         \n\
         [build-dependencies]\n\
         {codegen}\n\
         \n\
         # Nothing unwinds across the C boundary; nothing in the library panics\n\
         # on input (every pointer and length is checked first).\n\
         [profile.release]\n\
         opt-level = 3\n\
         codegen-units = 1\n\
         lto = \"fat\"\n\
         panic = \"abort\"\n\
         \n\
         [profile.dev]\n\
         panic = \"abort\"\n\
         \n\
         [profile.release.build-override]\n\
         opt-level = 3\n",
        runtime = engine_dep(
            engine,
            "convnext",
            "",
            board.map_or(&[], |b| b.runtime_features())
        ),
        codegen = engine_dep(engine, "convnext-codegen", "codegen", &[]),
    );
    write(&dir.join("Cargo.toml"), &manifest)?;
    let mut build = String::from(
        "//! Generate each model's int8 forward pass from models/NAME/ (checkpoint and\n\
         //! saved calibration) into OUT_DIR/NAME.rs.\n\
         use std::path::PathBuf;\n\
         \n\
         fn main() {\n\
         \x20   let out = PathBuf::from(std::env::var(\"OUT_DIR\").expect(\"cargo sets OUT_DIR\"));\n",
    );
    for e in entries {
        let _ = writeln!(
            build,
            "    convnext_codegen::build_script::generate_with_calibration(\n\
             \x20       \"models/{n}\".as_ref(),\n\
             \x20       \"models/{n}/calibration.json\".as_ref(),\n\
             \x20       &out,\n\
             \x20       \"{n}\",\n\
             \x20   )\n\
             \x20   .unwrap_or_else(|e| panic!(\"convnext codegen: {{e}}\"));",
            n = e.name
        );
    }
    build.push_str("}\n");
    write(&dir.join("build.rs"), &build)?;
    write(&dir.join("lib.rs"), &lib_rs(entries))?;
    if let Some(b) = board {
        // Scheduled for the board's core, as its Rust firmware is.
        write(
            &dir.join(".cargo/config.toml"),
            &format!(
                "[target.{}]\nrustflags = [\"-C\", \"target-cpu={}\"]\n",
                b.target, b.cpu
            ),
        )?;
    }
    write(&dir.join(".gitignore"), "target/\n")
}

/// Build the library; the path of the `.a` cargo wrote.
fn build(dir: &Path, target: Option<&str>, library: &str) -> Result<PathBuf, Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release"]).current_dir(dir);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    eprintln!(
        "building lib{library}.a: cargo build --release{} in {}",
        target.map_or(String::new(), |t| format!(" --target {t}")),
        dir.display()
    );
    let status = cmd.status().map_err(|e| {
        usage(format!(
            "cannot run cargo ({e}); export-c builds the library with cargo"
        ))
    })?;
    if !status.success() {
        return Err(Failure::Model(Error::Input {
            message: format!(
                "cargo build of the library failed ({status}) in {}; its output is above",
                dir.display()
            ),
        }));
    }
    let mut built = target_dir;
    if let Some(t) = target {
        built.push(t);
    }
    Ok(built.join("release").join(format!("lib{library}.a")))
}

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
fn lib_rs(entries: &[Entry]) -> String {
    let mut s = String::from(
        "//! C entry points (`convnext export-c`): every pointer and length is checked\n\
         //! before any memory is touched, and a bad one is a status, never a panic.\n\
         #![no_std]\n\
         \n\
         use convnext::network::ForwardError;\n\
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
         \x20       Err(_) => CONVNEXT_ERROR_LOGITS_TOO_SMALL,\n\
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
            "\n\
             mod {n} {{\n\
             \x20   include!(concat!(env!(\"OUT_DIR\"), \"/{n}.rs\"));\n\
             }}\n\
             \n\
             /// {n}'s labels, NUL-terminated.\n\
             static {upper}_LABELS: [&[u8]; {count}] = [{labels}];\n\
             \n\
             /// Classify one image (see {n}.h).\n\
             ///\n\
             /// # Safety\n\
             ///\n\
             /// Each non-NULL pointer must point to as many bytes (or int32s) as its\n\
             /// length says.\n\
             #[no_mangle]\n\
             pub unsafe extern \"C\" fn {n}_forward(\n\
             \x20   image: *const u8,\n\
             \x20   image_bytes: usize,\n\
             \x20   arena: *mut c_void,\n\
             \x20   arena_bytes: usize,\n\
             \x20   logits: *mut i32,\n\
             \x20   num_logits: usize,\n\
             ) -> i32 {{\n\
             \x20   if image.is_null() || arena.is_null() || logits.is_null() {{\n\
             \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
             \x20   }}\n\
             \x20   if image_bytes != {n}::INPUT_BYTES {{\n\
             \x20       return CONVNEXT_ERROR_IMAGE_SIZE;\n\
             \x20   }}\n\
             \x20   if arena_bytes < {n}::ARENA_BYTES {{\n\
             \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
             \x20   }}\n\
             \x20   if num_logits < {n}::NUM_LABELS {{\n\
             \x20       return CONVNEXT_ERROR_LOGITS_TOO_SMALL;\n\
             \x20   }}\n\
             \x20   // SAFETY: non-NULL (checked) and as long as the caller says (the\n\
             \x20   // header's contract); only the first NUM_LABELS logits are written.\n\
             \x20   let (image, arena, logits) = unsafe {{\n\
             \x20       (\n\
             \x20           core::slice::from_raw_parts(image, image_bytes),\n\
             \x20           core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes),\n\
             \x20           core::slice::from_raw_parts_mut(logits, {n}::NUM_LABELS),\n\
             \x20       )\n\
             \x20   }};\n\
             \x20   status({n}::forward(image, arena, logits))\n\
             }}\n\
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
        );
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
        "\n\
         mod {n} {{\n\
         \x20   include!(concat!(env!(\"OUT_DIR\"), \"/{n}.rs\"));\n\
         }}\n\
         \n\
         /// {n}'s feature maps, in the buffer's order.\n\
         static {upper}_MAPS: FeatureMaps<{count}> = FeatureMaps([\n{table}]);\n\
         \n\
         /// Run the backbone on one image (see {n}.h).\n\
         ///\n\
         /// # Safety\n\
         ///\n\
         /// Each non-NULL pointer must point to as many bytes as its length says.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn {n}_forward_features(\n\
         \x20   image: *const u8,\n\
         \x20   image_bytes: usize,\n\
         \x20   arena: *mut c_void,\n\
         \x20   arena_bytes: usize,\n\
         \x20   feature_maps: *mut i8,\n\
         \x20   feature_map_bytes: usize,\n\
         ) -> i32 {{\n\
         \x20   if image.is_null() || arena.is_null() || feature_maps.is_null() {{\n\
         \x20       return CONVNEXT_ERROR_NULL_POINTER;\n\
         \x20   }}\n\
         \x20   if image_bytes != {n}::INPUT_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_IMAGE_SIZE;\n\
         \x20   }}\n\
         \x20   if arena_bytes < {n}::ARENA_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_ARENA_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   if feature_map_bytes < {n}::FEATURE_MAP_BYTES {{\n\
         \x20       return CONVNEXT_ERROR_FEATURE_MAPS_TOO_SMALL;\n\
         \x20   }}\n\
         \x20   // SAFETY: non-NULL (checked) and as long as the caller says (the\n\
         \x20   // header's contract); only the first FEATURE_MAP_BYTES are written.\n\
         \x20   let (image, arena, maps) = unsafe {{\n\
         \x20       (\n\
         \x20           core::slice::from_raw_parts(image, image_bytes),\n\
         \x20           core::slice::from_raw_parts_mut(arena.cast::<i8>(), arena_bytes),\n\
         \x20           core::slice::from_raw_parts_mut(feature_maps, {n}::FEATURE_MAP_BYTES),\n\
         \x20       )\n\
         \x20   }};\n\
         \x20   status({n}::forward(image, arena, maps))\n\
         }}\n\
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
    )
}

/// `convnext_status.h`: the status codes and their messages, shared by
/// every model's header.
pub fn status_header() -> String {
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
         #ifdef __cplusplus\n\
         }\n\
         #endif\n\
         \n\
         #endif /* CONVNEXT_STATUS_H */\n",
    );
    s
}

/// `NAME.h`: one model's sizes and functions.
fn model_header(e: &Entry) -> String {
    if is_backbone(e) {
        return backbone_header(e);
    }
    let n = &e.name;
    let u = n.to_uppercase();
    let m = &e.plan.model;
    format!(
        "/* {n}: an int8 ConvNeXt classifier from {checkpoint}, made by\n\
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
         /** Bytes of working memory {n}_forward needs (the caller owns it). */\n\
         #define {u}_ARENA_BYTES {arena}u\n\
         /** Alignment the arena needs, in bytes (any address will do). */\n\
         #define {u}_ARENA_ALIGN 1u\n\
         /** Input image height, width and channels (u8 pixels, HWC). */\n\
         #define {u}_INPUT_HEIGHT {h}u\n\
         #define {u}_INPUT_WIDTH {w}u\n\
         #define {u}_INPUT_CHANNELS {c}u\n\
         /** Bytes of one input image: height x width x channels. */\n\
         #define {u}_INPUT_BYTES {bytes}u\n\
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
         \n\
         #ifdef __cplusplus\n\
         }}\n\
         #endif\n\
         \n\
         #endif /* {u}_H */\n",
        checkpoint = e.dir.file_name().map_or_else(
            || e.dir.display().to_string(),
            |f| f.to_string_lossy().into_owned()
        ),
        version = env!("CARGO_PKG_VERSION"),
        arena = e.plan.arena_bytes,
        h = m.input_h,
        w = m.input_w,
        c = m.input_c,
        bytes = e.plan.input_bytes,
        labels = m.num_labels,
        scale = m.logit_scale as f32,
        fw = indent(&format!("convnext_status {n}_forward(")),
        tk = indent(&format!("convnext_status {n}_top_k(")),
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
        "/* {n}: an int8 ConvNeXt backbone from {checkpoint}, made by\n\
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
         /** Bytes of working memory {n}_forward_features needs (the caller owns it). */\n\
         #define {u}_ARENA_BYTES {arena}u\n\
         /** Alignment the arena needs, in bytes (any address will do). */\n\
         #define {u}_ARENA_ALIGN 1u\n\
         /** Input image height, width and channels (u8 pixels, HWC). */\n\
         #define {u}_INPUT_HEIGHT {h}u\n\
         #define {u}_INPUT_WIDTH {w}u\n\
         #define {u}_INPUT_CHANNELS {c}u\n\
         /** Bytes of one input image: height x width x channels. */\n\
         #define {u}_INPUT_BYTES {bytes}u\n\
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
         #ifdef __cplusplus\n\
         }}\n\
         #endif\n\
         \n\
         #endif /* {u}_H */\n",
        checkpoint = e.dir.file_name().map_or_else(
            || e.dir.display().to_string(),
            |f| f.to_string_lossy().into_owned()
        ),
        version = env!("CARGO_PKG_VERSION"),
        arena = e.plan.arena_bytes,
        h = m.input_h,
        w = m.input_w,
        c = m.input_c,
        bytes = e.plan.input_bytes,
        map_bytes = e.plan.feature_map_bytes,
        count = m.feature_maps.len(),
        names = names.join(", "),
        ff = indent(&format!("convnext_status {n}_forward_features(")),
    )
}

/// `CMakeLists.txt`: the library as an imported target, for
/// `add_subdirectory(OUT)` then `target_link_libraries(app PRIVATE NAME)`.
fn cmake(library: &str) -> String {
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
