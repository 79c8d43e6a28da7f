//! The error catalogue, end to end through the `convnext` binary: every kind
//! of bad checkpoint or bad input the README's "Guarantees" section lists gets
//! exit code 1 and one line on stderr that names the culprit (the file, the
//! tensor, the field, or where in the input), and never a panic. The
//! catalogue's one non-error, an empty batch, gives an empty result.

mod common;

use common::{convnext, model_io, root};
use convnext_codegen::npy;
use convnext_codegen::Tensor;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A fresh copy of the `relu` fixture (checkpoint and its inputs).
fn fixture_copy(name: &str) -> PathBuf {
    let src = root().join("tests/fixtures/models/relu");
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("catalogue_{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["config.json", "model.safetensors", "inputs.npy"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    d
}

/// Where outputs go: a scratch file, never a model folder.
fn out_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "catalogue_out_{:?}.npy",
        std::thread::current().id()
    ))
}

/// `convnext run` of `dir`'s model on `input` (f32 unless `extra` says),
/// into [`out_path`].
fn run(dir: &Path, input: &Path, extra: &[&str]) -> Output {
    model_io("run", dir, (input, &out_path()), extra)
}

/// Exit 1, one line on stderr that starts `error:` and holds every one of
/// `culprits`, no panic.
fn assert_one_line_error(o: &Output, culprits: &[&str], case: &str) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{case}: {e}");
    assert!(!e.contains("panicked"), "{case}: {e}");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "{case}: one line, got {e}");
    assert!(lines[0].starts_with("error: "), "{case}: {e}");
    for c in culprits {
        assert!(lines[0].contains(c), "{case}: no {c:?} in {e}");
    }
}

/// The safetensors header (JSON) and the data after it.
fn read_checkpoint(dir: &Path) -> (serde_json::Value, Vec<u8>) {
    let b = std::fs::read(dir.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    (
        serde_json::from_slice(&b[8..8 + n]).unwrap(),
        b[8 + n..].to_vec(),
    )
}

fn write_checkpoint(dir: &Path, header: &serde_json::Value, data: &[u8]) {
    let h = serde_json::to_vec(header).unwrap();
    let mut b = (h.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(&h);
    b.extend_from_slice(data);
    std::fs::write(dir.join("model.safetensors"), b).unwrap();
}

/// `config.json` with one field replaced.
fn set_config(dir: &Path, field: &str, value: serde_json::Value) {
    let p = dir.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    c[field] = value;
    std::fs::write(p, serde_json::to_string(&c).unwrap()).unwrap();
}

const STEM: &str = "convnext.embeddings.patch_embeddings.weight";

#[test]
fn bad_checkpoints_get_one_line_naming_the_culprit() {
    // A truncated file.
    let d = fixture_copy("truncated");
    let p = d.join("model.safetensors");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    assert_one_line_error(
        &run(&d, &d.join("inputs.npy"), &[]),
        &["model.safetensors"],
        "truncated",
    );

    // Bad JSON.
    let d = fixture_copy("bad_json");
    std::fs::write(d.join("config.json"), "{\"hidden_sizes\": [8, ").unwrap();
    assert_one_line_error(
        &run(&d, &d.join("inputs.npy"), &[]),
        &["config.json"],
        "bad JSON",
    );

    // Header edits: wrong dtype, an element count that overflows, bytes that
    // disagree with dtype x shape, a missing tensor.
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &[&str]); 4] = [
        ("dtype", |h| h[STEM]["dtype"] = "I64".into(), &[STEM, "I64"]),
        (
            "overflow",
            |h| h[STEM]["shape"] = serde_json::json!([1u64 << 40, 1u64 << 40, 1u64 << 40]),
            &[STEM],
        ),
        (
            "bytes",
            |h| {
                let end = h[STEM]["data_offsets"][1].as_u64().unwrap();
                h[STEM]["data_offsets"][1] = (end - 4).into();
            },
            &[STEM],
        ),
        (
            "missing",
            |h| {
                h.as_object_mut().unwrap().remove(STEM);
            },
            &[STEM],
        ),
    ];
    for (case, edit, culprits) in edits {
        let d = fixture_copy(case);
        let (mut h, data) = read_checkpoint(&d);
        edit(&mut h);
        write_checkpoint(&d, &h, &data);
        assert_one_line_error(&run(&d, &d.join("inputs.npy"), &[]), culprits, case);
    }

    // An incomplete head: config.json declares a classifier with 10 labels,
    // the checkpoint has its bias but not its weights. An error naming the
    // missing tensor in every precision, never a headless model.
    let d = fixture_copy("missing_head");
    let (mut h, data) = read_checkpoint(&d);
    h.as_object_mut().unwrap().remove("classifier.weight");
    write_checkpoint(&d, &h, &data);
    let inputs = d.join("inputs.npy");
    let cal = inputs.to_str().unwrap();
    for precision in ["f32", "f16", "int8"] {
        let extra = ["--precision", precision, "--calibration", cal];
        let case = format!("missing head, {precision}");
        assert_one_line_error(
            &run(&d, &inputs, &extra),
            &["classifier.weight", "missing"],
            &case,
        );
    }
    let o = common::convnext(&[
        "report",
        "--model",
        d.to_str().unwrap(),
        "--calibration",
        cal,
    ]);
    assert_one_line_error(&o, &["classifier.weight"], "missing head, report");

    // NaN weights: the stem's first weight.
    let d = fixture_copy("nan_weight");
    let (h, mut data) = read_checkpoint(&d);
    let at = h[STEM]["data_offsets"][0].as_u64().unwrap() as usize;
    data[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_checkpoint(&d, &h, &data);
    assert_one_line_error(
        &run(&d, &d.join("inputs.npy"), &[]),
        &[STEM, "NaN"],
        "NaN weight",
    );

    // Config fields: widths that disagree with the weights, an unsupported
    // activation, a zero and a negative size.
    let fields: [(&str, serde_json::Value, &[&str]); 4] = [
        (
            "hidden_sizes",
            serde_json::json!([16, 32, 48, 72]),
            &["shape"],
        ),
        ("hidden_act", "swish2".into(), &["hidden_act", "swish2"]),
        (
            "hidden_sizes",
            serde_json::json!([0, 16]),
            &["hidden_sizes"],
        ),
        ("depths", serde_json::json!([-1, 1]), &["depths"]),
    ];
    for (i, (field, value, culprits)) in fields.into_iter().enumerate() {
        let d = fixture_copy(&format!("config_{i}"));
        set_config(&d, field, value);
        assert_one_line_error(&run(&d, &d.join("inputs.npy"), &[]), culprits, field);
    }
}

#[test]
fn an_unexpected_tensor_is_a_warning_and_the_model_still_runs() {
    let d = fixture_copy("extra_tensor");
    let (mut h, data) = read_checkpoint(&d);
    h["extra.weight"] = serde_json::json!({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]});
    write_checkpoint(&d, &h, &data);
    let o = run(&d, &d.join("inputs.npy"), &[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("warning") && e.contains("extra.weight"), "{e}");
}

#[test]
fn bad_inputs_get_one_line_saying_where_and_an_empty_batch_an_empty_result() {
    let d = fixture_copy("inputs");
    let x = npy::read(&d.join("inputs.npy"))
        .unwrap()
        .into_f32(&d)
        .unwrap();
    let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
    let write = |name: &str, t: &Tensor| {
        let p = d.join(name);
        npy::write_f32(&p, t).unwrap();
        p
    };
    // NaN and infinity, named by image, channel, row and column, in f32 and
    // in int8 (where it would otherwise quantize to an arbitrary code).
    let mut bad = x.clone();
    bad.data[(c * h + 1) * w + 2] = f32::NAN;
    let nan = write("nan.npy", &bad);
    let where_ = ["NaN", "image 1", "channel 0", "row 1", "column 2"];
    assert_one_line_error(&run(&d, &nan, &[]), &where_, "NaN input f32");
    let cal = root().join("models/fmnist-convnext/calibration_images.npy");
    let int8 = [
        "--precision",
        "int8",
        "--calibration",
        cal.to_str().unwrap(),
    ];
    let fm = root().join("models/fmnist-convnext");
    let mut one = Tensor::new(&[1, 1, 28, 28], vec![0.25; 784]);
    one.data[30] = f32::INFINITY;
    let inf = write("inf.npy", &one);
    assert_one_line_error(
        &run(&fm, &inf, &int8),
        &["inf", "row 1", "column 2"],
        "inf input int8",
    );
    let mut bad_cal = Tensor::new(&[2, 1, 28, 28], vec![0.5; 2 * 784]);
    bad_cal.data[784] = f32::NAN;
    let nan_cal = write("nan_cal.npy", &bad_cal);
    let o = run(
        &fm,
        &write("one.npy", &Tensor::new(&[1, 1, 28, 28], vec![0.1; 784])),
        &[
            "--precision",
            "int8",
            "--calibration",
            nan_cal.to_str().unwrap(),
        ],
    );
    assert_one_line_error(
        &o,
        &["calibration images", "NaN", "image 1"],
        "NaN calibration",
    );
    let empty_cal = write("empty_cal.npy", &Tensor::new(&[0, 1, 28, 28], vec![]));
    let o = run(
        &fm,
        &d.join("one.npy"),
        &[
            "--precision",
            "int8",
            "--calibration",
            empty_cal.to_str().unwrap(),
        ],
    );
    assert_one_line_error(&o, &["calibration set is empty"], "empty calibration");

    // Wrong channel count, too small for the downsampling, a truncated file.
    let wrong_c = write(
        "wrong_c.npy",
        &Tensor::new(&[1, c + 1, h, w], vec![0.0; (c + 1) * h * w]),
    );
    assert_one_line_error(&run(&d, &wrong_c, &[]), &["channels"], "channels");
    let small = write("small.npy", &Tensor::new(&[1, c, 2, 2], vec![0.0; c * 4]));
    assert_one_line_error(&run(&d, &small, &[]), &["needs at least"], "too small");
    let cut = d.join("cut.npy");
    let b = std::fs::read(d.join("inputs.npy")).unwrap();
    std::fs::write(&cut, &b[..b.len() - 7]).unwrap();
    assert_one_line_error(&run(&d, &cut, &[]), &["cut.npy"], "truncated input");

    // An empty batch: an empty result, in f32 and int8.
    let none = write("none.npy", &Tensor::new(&[0, 1, 28, 28], vec![]));
    for extra in [&[][..], &["--precision", "int8"][..]] {
        let o = run(&fm, &none, extra);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = out_path();
        let y = npy::read(&out).unwrap().into_f32(&out).unwrap();
        assert_eq!(y.shape, vec![0, 10]);
    }
}

#[test]
fn the_quality_gate_refuses_a_network_below_the_threshold_and_names_the_op() {
    let fm = root().join("models/fmnist-convnext");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalogue_gate");
    let _ = std::fs::remove_dir_all(&out);
    let (m, o) = (fm.to_str().unwrap(), out.to_str().unwrap());
    // The default model's int8 logits are at about 32 dB on its calibration
    // images: a 40 dB gate refuses, naming the op where the most noise
    // comes in (the stem's output is above 40 dB, the first block's is
    // not) with a block's remedy, and writes nothing; the default gate
    // passes.
    let refused = convnext(&["compile", "--model", m, "--out", o, "--min-sqnr", "40"]);
    assert_one_line_error(
        &refused,
        &[
            "quality:",
            "dB on 512 calibration images",
            "40.0 dB",
            "stage1_block0",
            "--f16-blocks",
        ],
        "gate 40",
    );
    assert!(!out.join("model.rs").exists());
    let cal = out.join("cal.json");
    let c = cal.to_str().unwrap();
    let refused = convnext(&["calibrate", "--model", m, "--out", c, "--min-sqnr", "40"]);
    assert_one_line_error(
        &refused,
        &["quality:", "below the required 40.0 dB"],
        "calibrate 40",
    );
    assert!(!cal.exists());
    let passed = convnext(&["compile", "--model", m, "--out", o]);
    let text = String::from_utf8_lossy(&passed.stdout);
    assert_eq!(
        passed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&passed.stderr)
    );
    assert!(
        text.contains("int8 logit SQNR ") && text.contains("(gate 15.0 dB)"),
        "{text}"
    );
}

#[test]
fn a_checkpoint_without_preprocessing_information_is_refused_where_it_matters() {
    // No preprocessor_config.json and no timm pretrained_cfg: the input
    // size, crop and normalisation are unknown, so every command that
    // preprocesses or quantizes the input refuses, saying what to add.
    let d = fixture_copy("no_processor");
    let (dir, inputs) = (d.to_str().unwrap(), d.join("inputs.npy"));
    let cal = inputs.to_str().unwrap();
    let picture = root().join("models/fmnist-convnext/examples/ankle-boot.png");
    let scratch = out_path().with_extension("d");
    let commands: [(&str, Vec<&str>); 5] = [
        ("classify", vec![picture.to_str().unwrap()]),
        (
            "calibrate",
            vec!["--calibration", cal, "--out", "/dev/null"],
        ),
        ("report", vec!["--calibration", cal]),
        (
            "compile",
            vec!["--calibration", cal, "--out", scratch.to_str().unwrap()],
        ),
        (
            "new-firmware",
            vec!["--board", "qemu-an386", "--out", scratch.to_str().unwrap()],
        ),
    ];
    for (cmd, extra) in commands {
        let mut args = vec![cmd, "--model", dir];
        args.extend(extra);
        assert_one_line_error(
            &common::convnext(&args),
            &["preprocessor_config.json", "missing", "pretrained_cfg"],
            cmd,
        );
        assert!(!scratch.exists(), "{cmd} wrote {}", scratch.display());
    }
    assert_one_line_error(
        &run(&d, &inputs, &["--precision", "int8", "--calibration", cal]),
        &["preprocessor_config.json"],
        "run --precision int8",
    );
    // Float pixel_values need no preprocessing: the f32 network runs.
    let o = run(&d, &inputs, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
