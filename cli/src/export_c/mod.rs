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
use headers::{cmake, model_header, status_header};
use library::lib_rs;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod headers;
mod library;

/// The status codes, as `convnext_status.h` names them and the library
/// returns them; the message `convnext_status_message` gives each.
pub const STATUSES: [(&str, i32, &str); 8] = [
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
    (
        "CONVNEXT_ERROR_ROWS",
        -7,
        "a row past the image's last, a finish before it, or a stream state no stream reaches",
    ),
];

/// One model going into the library.
pub(super) struct Entry {
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
pub(super) fn is_backbone(e: &Entry) -> bool {
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
