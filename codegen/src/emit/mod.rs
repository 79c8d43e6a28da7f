//! Rust source for a plan: one `forward()` of straight-line kernel calls
//! that reads like the model, one `static` params value per layer, every
//! table (weights, biases, multipliers, activation tables) a binary file
//! pulled in with `include_bytes!` (fast to compile, no `unsafe`), and the
//! sizes as consts. The output is formatted as `rustfmt` would format it.
//! Calling the generated `forward` gives the same bytes as [`Plan::run_u8`].
//!
//! One emitter per kernel (`stem.rs`, `block.rs`, ...), mirroring
//! `src/kernels/`; each destructures its params without `..`, so a new
//! field fails to compile until it is emitted.

mod block;
mod block_f16;
mod downsample;
mod feature_map;
mod head;
mod parts;
mod rust_text;
mod stem;
mod streamed;

use crate::calibrate::Calibration;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::quantize::InputQuantization;
use convnext::network::Op;
use rust_text::{item, Expr};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files an emission wrote.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// The Rust module.
    pub source: PathBuf,
    /// The table files it includes.
    pub weight_files: Vec<PathBuf>,
}

/// What produced a generated module, for its header comment.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The checkpoint (folder name or path).
    pub checkpoint: String,
    /// The calibration images and method.
    pub calibration: String,
    /// Other options (precision per block, ...).
    pub options: String,
}

impl Provenance {
    /// Describe a plan built from the checkpoint in `model_dir`, calibrated on
    /// `images` images from `source` with `method`.
    pub fn new(
        model_dir: &Path,
        source: &str,
        images: usize,
        method: Calibration,
        plan: &Plan,
    ) -> Self {
        let f16: Vec<&str> = plan
            .ops
            .iter()
            .filter_map(|o| o.name.strip_suffix("_f16"))
            .collect();
        Provenance {
            checkpoint: model_dir.display().to_string(),
            calibration: format!("{images} images from {source}, {method}"),
            options: {
                let ops = if f16.is_empty() {
                    "all int8".to_string()
                } else {
                    format!("int8, f16 blocks: {}", f16.join(", "))
                };
                match plan.model.input {
                    InputQuantization::Camera => ops,
                    InputQuantization::Calibrated(q) => format!(
                        "{ops}; input calibrated: byte = round(x / {:e}) + {} + 128",
                        q.scale, q.zero_point
                    ),
                }
            },
        }
    }
}

/// State of one emission: where table files go and which names the module
/// must import.
pub(crate) struct EmitContext<'a> {
    dir: &'a Path,
    prefix: &'a str,
    files: Vec<PathBuf>,
    uses: BTreeMap<&'static str, BTreeSet<&'static str>>,
}

impl EmitContext<'_> {
    /// Write `<prefix>.<op>.<part>.bin` and return its `include_bytes!`.
    fn file(&mut self, op: &str, part: &str, bytes: &[u8]) -> Result<Expr> {
        let name = format!("{}.{op}.{part}.bin", self.prefix);
        let path = self.dir.join(&name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        self.files.push(path);
        Ok(Expr::text(format!("include_bytes!(\"{name}\")")))
    }

    /// Record that the module uses `module::name`.
    fn uses(&mut self, module: &'static str, name: &'static str) {
        self.uses.entry(module).or_default().insert(name);
    }

    /// The `use` lines, ordered and grouped as rustfmt orders them.
    fn use_lines(&self) -> String {
        let mut lines: Vec<String> = self
            .uses
            .iter()
            .map(|(module, names)| {
                let mut names: Vec<&str> = names.iter().copied().collect();
                // rustfmt: snake_case items before CamelCase ones, each sorted.
                names.sort_by_key(|n| (n.starts_with(char::is_uppercase), *n));
                match names[..] {
                    [one] => format!("use {module}::{one};\n"),
                    _ => {
                        let line = format!("use {module}::{{{}}};\n", names.join(", "));
                        if line.len() <= 101 {
                            return line;
                        }
                        // rustfmt fills lines of 100 columns inside the braces.
                        let mut text = format!("use {module}::{{\n");
                        let mut row = String::from("   ");
                        for n in names {
                            if row.len() + 1 + n.len() + 1 > 100 {
                                text.push_str(&row);
                                text.push('\n');
                                row = String::from("   ");
                            }
                            row.push(' ');
                            row.push_str(n);
                            row.push(',');
                        }
                        text.push_str(&row);
                        text.push_str("\n};\n");
                        text
                    }
                }
            })
            .collect();
        // rustfmt orders `use` lines by their text (`::{` after `::name`).
        lines.sort();
        lines.concat()
    }
}

/// One op as generated code: its `static` and the kernel that runs it.
pub(crate) struct OpItem {
    doc: String,
    module: &'static str,
    ty: &'static str,
    value: Expr,
    kernel: &'static str,
}

impl OpItem {
    fn new(
        doc: String,
        module: &'static str,
        ty: &'static str,
        value: Expr,
        kernel: &'static str,
    ) -> Self {
        OpItem {
            doc,
            module,
            ty,
            value,
            kernel,
        }
    }
}

fn op_item(op: &Op<Vec<u8>>, cx: &mut EmitContext, name: &str) -> Result<OpItem> {
    match op {
        Op::Stem(p) => stem::emit(p, cx, name),
        Op::Block(p) => block::emit(p, cx, name),
        Op::BlockF16(p) => block_f16::emit(p, cx, name),
        Op::Downsample(p) => downsample::emit(p, cx, name),
        Op::Head(p) => head::emit(p, cx, name),
        Op::FeatureMap(p) => feature_map::emit(p, cx, name),
    }
}

/// Write `<name>.rs` and its table files into `dir`. `labels` are the class
/// names; `provenance` goes in the header.
pub fn emit(
    plan: &Plan,
    dir: &Path,
    name: &str,
    provenance: &Provenance,
    labels: &[String],
) -> Result<Emitted> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut cx = EmitContext {
        dir,
        prefix: name,
        files: Vec::new(),
        uses: BTreeMap::new(),
    };
    cx.uses("convnext::network", "check_buffers");
    if plan.feature_map_bytes > 0 {
        cx.uses("convnext::network", "check_feature_maps");
        cx.uses("convnext::network", "FeatureMapSpec");
    }
    cx.uses("convnext::network", "load_input_u8");
    cx.uses("convnext::network", "ForwardError");
    cx.uses("convnext::network", "NetworkSpec");
    cx.uses("convnext::kernels::probe", "NoProbe");
    cx.uses("convnext::kernels::probe", "Probe");
    let mut statics = String::new();
    let mut calls = String::new();
    let stream = streamed::section(plan, &mut cx);
    let mut rest_calls = String::new();
    for (i, q) in plan.model.ops.iter().enumerate() {
        let it = op_item(&q.op, &mut cx, &q.name)?;
        cx.uses(it.module, it.ty);
        let kernel = it.kernel;
        cx.uses(it.module, kernel);
        let id = q.name.to_uppercase();
        statics.push('\n');
        statics.push_str(&item(&it.doc, "static", &id, it.ty, &it.value));
        let output = match kernel {
            "head_probed" => ", logits",
            "feature_map_probed" => ", feature_maps",
            _ => "",
        };
        let _ = writeln!(calls, "    {kernel}(&{id}, arena{output}, probe);");
        let _ = writeln!(calls, "    probe.op_done({i});");
        if stream.is_some_and(|len| i >= len) {
            let _ = writeln!(rest_calls, "    {kernel}(&{id}, arena{output}, probe);");
        }
    }
    let m = &plan.model;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by convnext-codegen {}. Do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, "//");
    let _ = writeln!(s, "// Checkpoint: {}", provenance.checkpoint);
    let _ = writeln!(s, "// Calibration: {}", provenance.calibration);
    let _ = writeln!(s, "// Options: {}", provenance.options);
    let _ = writeln!(
        s,
        "// Input {}x{}x{} (HWC u8), {} MACs, arena {} bytes ({:.3} x the residual-stream",
        m.input_h,
        m.input_w,
        m.input_c,
        plan.macs(),
        plan.arena_bytes,
        plan.arena_bytes as f64 / plan.residual_bound_bytes as f64,
    );
    let _ = writeln!(
        s,
        "// bound of {} bytes), {} parameter bytes.",
        plan.residual_bound_bytes,
        plan.weights_bytes()
    );
    s.push('\n');
    s.push_str(&cx.use_lines());
    let consts: [(&str, &str, &str, String); 7] = [
        (
            "Bytes of working memory `forward` needs (checked at build time by the plan).",
            "ARENA_BYTES",
            "usize",
            plan.arena_bytes.to_string(),
        ),
        (
            "Input height, width, channels (u8, HWC, already resized).",
            "INPUT_SHAPE",
            "[usize; 3]",
            format!("[{}, {}, {}]", m.input_h, m.input_w, m.input_c),
        ),
        (
            "Input bytes.",
            "INPUT_BYTES",
            "usize",
            plan.input_bytes.to_string(),
        ),
        (
            "Number of classes.",
            "NUM_LABELS",
            "usize",
            m.num_labels.to_string(),
        ),
        (
            "Real value of one int32 logit step.",
            "LOGIT_SCALE",
            "f32",
            format!("{:e}", m.logit_scale as f32),
        ),
        (
            "Multiply-accumulates per inference.",
            "MACS",
            "u64",
            plan.macs().to_string(),
        ),
        (
            "Parameter bytes (all tables).",
            "WEIGHTS_BYTES",
            "usize",
            plan.weights_bytes().to_string(),
        ),
    ];
    for (doc, id, ty, v) in consts {
        s.push('\n');
        s.push_str(&item(doc, "pub const", id, ty, &Expr::text(v)));
    }
    let _ = writeln!(
        s,
        "\n/// Op names in schedule order (`forward_probed`'s op indices)."
    );
    let _ = writeln!(s, "#[rustfmt::skip]");
    let _ = writeln!(
        s,
        "pub const OP_NAMES: [&str; {}] = [",
        plan.model.ops.len()
    );
    for q in &plan.model.ops {
        let _ = writeln!(s, "    {:?},", q.name);
    }
    let _ = writeln!(s, "];");
    let _ = writeln!(s, "\n/// Class names, by logit index.");
    let _ = writeln!(s, "#[rustfmt::skip]");
    let _ = writeln!(s, "pub const LABELS: [&str; {}] = [", labels.len());
    for l in labels {
        let _ = writeln!(s, "    {l:?},");
    }
    let _ = writeln!(s, "];");
    feature_map_consts(&mut s, plan);
    let spec = Expr::Struct(
        "NetworkSpec",
        vec![
            ("arena_bytes", Expr::text("ARENA_BYTES")),
            ("input_offset", Expr::text(plan.input_offset)),
            ("input_bytes", Expr::text("INPUT_BYTES")),
            ("num_labels", Expr::text("NUM_LABELS")),
            ("feature_map_bytes", Expr::text("FEATURE_MAP_BYTES")),
        ],
    );
    s.push('\n');
    s.push_str(&item(
        "Sizes `forward` checks its buffers against.",
        "pub const",
        "SPEC",
        "NetworkSpec",
        &spec,
    ));
    s.push_str(&statics);
    s.push_str(&forward_fns(plan.feature_map_bytes > 0, &calls));
    if let Some(len) = stream {
        s.push_str(&streamed::items(plan, len, &rest_calls));
    }
    let source = dir.join(format!("{name}.rs"));
    let s = allow_dead_code(&s);
    std::fs::write(&source, s).map_err(|e| Error::io(&source, e))?;
    Ok(Emitted {
        source,
        weight_files: cx.files,
    })
}

/// `FEATURE_MAP_BYTES` and `FEATURE_MAPS` (empty for a classifier).
fn feature_map_consts(s: &mut String, plan: &Plan) {
    let maps = &plan.model.feature_maps;
    s.push('\n');
    s.push_str(&item(
        "Bytes of the feature-map buffer `forward` fills (0: this network has a head).",
        "pub const",
        "FEATURE_MAP_BYTES",
        "usize",
        &Expr::text(plan.feature_map_bytes),
    ));
    let _ = writeln!(
        s,
        "\n/// The feature maps (HF `out_features`) in the buffer, in order."
    );
    let _ = writeln!(s, "#[rustfmt::skip]");
    let ty = if maps.is_empty() {
        "[convnext::network::FeatureMapSpec; 0]".to_string()
    } else {
        format!("[FeatureMapSpec; {}]", maps.len())
    };
    let _ = writeln!(s, "pub const FEATURE_MAPS: {ty} = [");
    for m in maps {
        let [c, h, w] = m.shape;
        let _ = writeln!(
            s,
            "    FeatureMapSpec {{ name: {:?}, shape: [{c}, {h}, {w}], offset: {}, scale: {:e}, zero_point: {} }},",
            m.name, m.offset, m.quant.scale as f32, m.quant.zero_point
        );
    }
    let _ = writeln!(s, "];");
}

/// Every top-level item of the module marked `#[allow(dead_code)]`: a
/// program uses a few of them (`forward`, `LABELS`), and `mod model {
/// include!(...) }` must compile without a warning. (An `include!`d file
/// cannot carry the inner `#![allow]` that would say it once.)
fn allow_dead_code(text: &str) -> String {
    const ITEMS: [&str; 6] = [
        "pub const ",
        "pub static ",
        "pub fn ",
        "static ",
        "const ",
        "fn ",
    ];
    let mut out = String::with_capacity(text.len() + 4096);
    for line in text.split_inclusive('\n') {
        if ITEMS.iter().any(|k| line.starts_with(k)) {
            out.push_str("#[allow(dead_code)]\n");
        }
        out.push_str(line);
    }
    out
}

/// `head(params) -> Result<(), ForwardError> {` as rustfmt writes it: on
/// one line up to 100 columns, else one parameter a line.
fn signature(head: &str, params: &[&str]) -> String {
    let ret = "-> Result<(), ForwardError> {";
    let one = format!("{head}({}) {ret}", params.join(", "));
    if one.len() <= 100 {
        return one;
    }
    let list: String = params.iter().map(|p| format!("    {p},\n")).collect();
    format!("{head}(\n{list}) {ret}")
}

/// `forward` and `forward_probed`: the input and the arena in, the logits
/// out, or a backbone's feature maps (`maps`). `calls` are the kernel calls.
fn forward_fns(maps: bool, calls: &str) -> String {
    let (doc, out, checks) = if maps {
        (
            "Run the backbone on one image: `input` is `INPUT_BYTES` of u8 HWC pixels\n\
             /// (resized, not normalised), `arena` at least `ARENA_BYTES`. Writes every\n\
             /// feature map into `feature_maps` (`FEATURE_MAP_BYTES`, laid out as\n\
             /// `FEATURE_MAPS` says).",
            ("feature_maps", "&mut [i8]"),
            "check_buffers(&SPEC, input, arena, &[])?;\n    check_feature_maps(&SPEC, feature_maps)?;",
        )
    } else {
        (
            "Classify one image: `input` is `INPUT_BYTES` of u8 HWC pixels (resized, not\n\
             /// normalised: normalisation is folded into the stem), `arena` at least\n\
             /// `ARENA_BYTES`. Writes int32 logits (real value = logit * `LOGIT_SCALE`).",
            ("logits", "&mut [i32]"),
            "check_buffers(&SPEC, input, arena, logits)?;",
        )
    };
    let (name, ty) = out;
    let param = format!("{name}: {ty}");
    let mut s = format!(
        "\n/// {doc}\n\
         /// A function of its own, so the firmware's call graph from it can be\n\
         /// checked for panics (`cargo xtask boards`).\n\
         #[inline(never)]\n\
         {}\n\
         \x20   forward_probed(input, arena, {name}, &mut NoProbe)\n\
         }}\n\
         \n\
         /// [`forward`], telling `probe` where each op (`OP_NAMES[i]`) and each phase\n\
         /// inside it starts and ends: the profiling build's entry point.\n\
         {}\n\
         \x20   {checks}\n\
         \x20   load_input_u8(input, arena, SPEC.input_offset);\n",
        signature(
            "pub fn forward",
            &["input: &[u8]", "arena: &mut [i8]", &param]
        ),
        signature(
            "pub fn forward_probed",
            &[
                "input: &[u8]",
                "arena: &mut [i8]",
                &param,
                "probe: &mut impl Probe"
            ],
        ),
    );
    s.push_str(calls);
    s.push_str("    Ok(())\n}\n");
    s
}
