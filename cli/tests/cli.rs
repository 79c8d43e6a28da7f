//! The `convnext` command end to end: outputs, exit codes and error text.

mod common;

use common::{convnext, model_io, root, stderr};
use convnext_codegen::npy;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn run_writes_logits_and_other_outputs_matching_hf() {
    let out = scratch("run");
    let fx = root().join("tests/fixtures/models/non_square");
    for kind in ["logits", "pooler_output", "last_hidden_state"] {
        let y = out.join(format!("{kind}.npy"));
        let o = convnext(&[
            "run",
            "--model",
            fx.to_str().unwrap(),
            "--precision",
            "f32",
            "--input",
            fx.join("inputs.npy").to_str().unwrap(),
            "--output",
            y.to_str().unwrap(),
            "--output-kind",
            kind,
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let got = npy::read(&y).unwrap().into_f32(&y).unwrap();
        let p = fx.join(format!("{kind}.npy"));
        let want = npy::read(&p).unwrap().into_f32(&p).unwrap();
        assert!(got.relative_max_error(&want) <= 1e-4, "{kind}");
    }
}

#[test]
fn bad_input_gives_a_clear_error_and_no_backtrace() {
    let fx = root().join("tests/fixtures/models/relu");
    let gray = root().join("tests/fixtures/models/gray_28/inputs.npy");
    let o = convnext(&[
        "run",
        "--model",
        fx.to_str().unwrap(),
        "--input",
        gray.to_str().unwrap(),
        "--output",
        "/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with("error: input: pixel_values has 1 channels"),
        "{e}"
    );
    assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");

    let o = convnext(&[
        "run",
        "--model",
        "/nonexistent",
        "--input",
        "x.npy",
        "--output",
        "y.npy",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/config.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn base_model_without_head_refuses_logits_but_gives_pooler_output() {
    let fx = root().join("tests/fixtures/models/base_model_f16");
    let y = scratch("base").join("pooled.npy");
    let args = |kind: &'static str| {
        vec![
            "run".to_string(),
            "--model".into(),
            fx.to_str().unwrap().into(),
            "--input".into(),
            fx.join("inputs.npy").to_str().unwrap().into(),
            "--output".into(),
            y.to_str().unwrap().into(),
            "--output-kind".into(),
            kind.into(),
        ]
    };
    let a = args("logits");
    let o = convnext(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no classifier head"), "{}", stderr(&o));
    let a = args("pooler_output");
    let o = convnext(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let o = convnext(&["run", "--model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a value is required for '--model <DIR>'"));
    let o = convnext(&["run", "--modle", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unexpected argument '--modle'"));
    assert!(stderr(&o).contains("a similar argument exists: '--model'"));
    let o = convnext(&["clasify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a similar subcommand exists: 'classify'"));
    let o = convnext(&["eval", "--model", "m", "--precision", "int4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[possible values: f32, f16, int8]"));
}

#[test]
fn help_on_every_subcommand_shows_an_example_and_version_answers() {
    for cmd in [
        "classify",
        "run",
        "eval",
        "report",
        "compile",
        "bench",
        "preprocess",
    ] {
        let o = convnext(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            help.contains("Usage: convnext ") && help.contains("Example"),
            "{cmd}: {help}"
        );
    }
    let o = convnext(&["--version"]);
    assert!(o.status.success());
    let v = String::from_utf8_lossy(&o.stdout);
    assert_eq!(v.trim(), format!("convnext {}", env!("CARGO_PKG_VERSION")));
}

/// The bundled example pictures and the label each shows (from its name).
fn example_pictures() -> Vec<(PathBuf, String)> {
    let dir = root().join("models/fmnist-convnext/examples");
    let mut v: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (p, stem)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn classify_names_the_class_of_every_bundled_picture_in_every_precision() {
    let pictures = example_pictures();
    assert_eq!(pictures.len(), 10, "one picture per class");
    let mut args = vec![
        "classify",
        "--model",
        "models/fmnist-convnext",
        "--json",
        "--top",
        "2",
    ];
    let paths: Vec<String> = pictures
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    for precision in ["f32", "f16", "int8"] {
        let mut a = args.clone();
        a.extend(["--precision", precision]);
        let o = convnext(&a);
        assert!(o.status.success(), "{precision}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["precision"], precision);
        let images = j["images"].as_array().unwrap();
        assert_eq!(images.len(), pictures.len());
        for (img, (path, want)) in images.iter().zip(&pictures) {
            assert_eq!(img["image"], path.display().to_string());
            assert_eq!(img["size"], serde_json::json!([28, 28]));
            let top = img["top"].as_array().unwrap();
            assert_eq!(top.len(), 2);
            // Names like "t-shirt-top" for "T-shirt/top".
            let label = top[0]["label"].as_str().unwrap();
            assert_eq!(
                &label.to_lowercase().replace(['/', ' '], "-"),
                want,
                "{precision}"
            );
            let (p0, p1) = (
                top[0]["probability"].as_f64().unwrap(),
                top[1]["probability"].as_f64().unwrap(),
            );
            assert!(
                p0 > 0.5 && p1 <= p0 && p1 > 0.0,
                "{precision} {want}: {p0} {p1}"
            );
        }
    }
    // The text form: one line per picture, its label first.
    let o = convnext(&["classify", "--model", "models/fmnist-convnext", &paths[0]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with(&format!("{}: Ankle boot ", paths[0])),
        "{text}"
    );
}

#[test]
fn classify_says_which_file_is_not_an_image_or_has_the_wrong_shape() {
    let out = scratch("classify_bad");
    let fake = out.join("photo.png");
    std::fs::write(&fake, b"not a png at all").unwrap();
    let o = convnext(&[
        "classify",
        "--model",
        "models/fmnist-convnext",
        fake.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("photo.png") && stderr(&o).contains("not a PNG, JPEG or BMP"));
    let missing = out.join("missing.jpg");
    let o = convnext(&[
        "classify",
        "--model",
        "models/fmnist-convnext",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.jpg: cannot open"));
    let o = convnext(&["classify", "--model", "models/fmnist-convnext"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn eval_json_on_the_default_model_reports_accuracy_and_agreement() {
    let o = convnext(&[
        "eval",
        "--model",
        "models/fmnist-convnext",
        "--json",
        "--limit",
        "500",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["test_images"], 500);
    let acc = j["f32"]["accuracy"].as_f64().unwrap();
    assert!((0.85..=1.0).contains(&acc), "{acc}");
    assert_eq!(j["f32"]["reference_agreement"].as_f64(), Some(1.0));
    assert!(j["f32"]["reference_max_rel_error"].as_f64().unwrap() <= 1e-4);
}

/// The default model's first `n` test images through `convnext preprocess`:
/// the path of their `pixel_values` in `dir`.
fn preprocessed_test_images(dir: &Path, n: usize) -> PathBuf {
    let model = root().join("models/fmnist-convnext");
    let images = dir.join("images.npy");
    let test = convnext_codegen::dataset::read_images(&model.join("test_images.npy"))
        .unwrap()
        .take(n);
    npy::write_u8(&images, &[n, 28, 28], &test.pixels).unwrap();
    let x = dir.join("x.npy");
    let o = model_io("preprocess", &model, (&images, &x), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    x
}

#[test]
fn preprocess_matches_the_committed_pixel_values_path() {
    // The default model's test images through `convnext preprocess`, then `run`,
    // give the committed HF logits.
    let dir = scratch("pre");
    let model = root().join("models/fmnist-convnext");
    let x = preprocessed_test_images(&dir, 64);
    let y = dir.join("y.npy");
    let o = model_io("run", &model, (&x, &y), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = npy::read(&y).unwrap().into_f32(&y).unwrap();
    let p = model.join("test_logits.npy");
    let mut want = npy::read(&p).unwrap().into_f32(&p).unwrap();
    want.data.truncate(64 * 10);
    want.shape[0] = 64;
    assert!(got.relative_max_error(&want) <= 1e-4);
}

#[test]
fn report_says_what_the_numerics_cost_and_each_can_be_turned_off() {
    let report = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "report",
            "--model",
            "models/fmnist-convnext",
            "--precision",
            "int8",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = convnext(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["numerics"].clone()
    };
    // The defaults: per-channel stream scales (2 bytes a channel of each
    // table that reads the stream), i16 hidden vectors (4C bytes a tile
    // pixel, 256 bytes a v1 table).
    let on = report(&[]);
    assert_eq!(on["stream_scales"], "per-channel");
    assert_eq!(on["hidden"], "int16");
    assert_eq!(on["arena_cost_bytes"], 320, "{on}");
    assert!(on["table_cost_bytes"].as_u64().unwrap() > 5 * 256, "{on}");
    let off = report(&["--stream-scales", "per-tensor", "--hidden", "int8"]);
    assert_eq!(off["stream_scales"], "per-tensor");
    assert_eq!(off["hidden"], "int8");
    assert_eq!(off["arena_cost_bytes"], 0);
    assert_eq!(off["table_cost_bytes"], 0);
}

#[test]
fn report_json_has_the_contract_keys_and_the_arena_within_the_bound() {
    let o = convnext(&[
        "report",
        "--model",
        "models/fmnist-convnext",
        "--precision",
        "int8",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in [
        "weights_bytes",
        "arena_bytes",
        "residual_bound_bytes",
        "layerwise_arena_bytes",
        "macs",
    ] {
        assert!(j[k].as_u64().unwrap() > 0, "{k}");
    }
    let ops = j["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 9);
    for op in ops {
        for k in ["name", "macs", "weights_bytes", "arena_live_bytes"] {
            assert!(!op[k].is_null(), "{k}");
        }
    }
    let macs: u64 = ops.iter().map(|o| o["macs"].as_u64().unwrap()).sum();
    assert_eq!(macs, j["macs"].as_u64().unwrap());
    // The in-place plan with two-pixel tiles stays within 1.35x the bound
    // (its blocks' i16 hidden vectors included).
    assert!(
        j["arena_bytes"].as_f64().unwrap() <= 1.35 * j["residual_bound_bytes"].as_f64().unwrap()
    );
    assert_eq!(ops[0]["output_shape"], serde_json::json!([40, 14, 14]));
    assert_eq!(
        ops.last().unwrap()["output_shape"],
        serde_json::json!([10, 1, 1])
    );
    assert!(j["fit"].is_null());
}

#[test]
fn report_says_whether_the_model_fits_a_board_and_by_how_much_it_does_not() {
    let report = |extra: &[&str]| {
        let mut a = vec!["report", "--model", "models/fmnist-convnext"];
        a.extend(extra);
        convnext(&a)
    };
    let o = report(&["--board", "rpi-pico", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fit = &j["fit"];
    assert_eq!(fit["fits"], true);
    assert_eq!(fit["flash_kib"], 2048.0);
    assert_eq!(fit["ram_kib"], 264.0);
    let params_kib = j["weights_bytes"].as_f64().unwrap() / 1024.0;
    // The Pico's Armv6-M build: 64 KiB of code beside the parameters.
    assert_eq!(fit["flash_need_kib"].as_f64().unwrap(), params_kib + 64.0);

    // 256 KiB of flash and 8 KiB of RAM: short of both, by the difference.
    let o = report(&["--flash", "256", "--ram", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let flash_short = params_kib + 48.0 - 256.0;
    assert!(
        text.contains(&format!("does not fit, by {flash_short:.1} KiB")),
        "{text}"
    );
    assert!(
        text.contains("RAM") && text.matches("does not fit").count() == 2,
        "{text}"
    );
    assert!(text.contains("MMAC") && text.contains("40x14x14"), "{text}");

    // The pictures: one bar per op and series, holding the JSON's numbers.
    let svg = scratch("report_svg");
    let o = report(&["--json", "--svg", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ops = j["ops"].as_array().unwrap();
    let arena = std::fs::read_to_string(svg.join("arena.svg")).unwrap();
    let sqnr = std::fs::read_to_string(svg.join("sqnr.svg")).unwrap();
    for text in [&arena, &sqnr] {
        assert!(
            text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
                && text.trim_end().ends_with("</svg>")
        );
        assert_eq!(text.matches('<').count(), text.matches('>').count());
    }
    for o in ops {
        let name = o["name"].as_str().unwrap();
        let live = format!(
            "data-series=\"in-place plan\" data-op=\"{name}\" data-value=\"{}\"",
            o["arena_live_bytes"]
        );
        assert!(arena.contains(&live), "{live}");
        let db = o["sqnr_db"].as_f64().unwrap();
        assert!((15.0..60.0).contains(&db), "{name}: {db} dB");
        let key = format!("data-series=\"SQNR\" data-op=\"{name}\" data-value=\"");
        let at = sqnr.find(&key).unwrap_or_else(|| panic!("{key}")) + key.len();
        let value: f64 = sqnr[at..].split('"').next().unwrap().parse().unwrap();
        assert!((value - db).abs() < 1e-9, "{name}: {value} {db}");
    }
    assert_eq!(
        arena.matches("data-series=\"layer by layer\"").count(),
        ops.len()
    );
    assert!(arena.contains(&format!(
        "data-series=\"residual-stream bound\" data-value=\"{}\"",
        j["residual_bound_bytes"]
    )));

    // The mixed-precision ranking, on a small checkpoint: every block, best
    // first.
    let fx = root().join("tests/fixtures/models/gray_28");
    let o = convnext(&[
        "report",
        "--model",
        fx.to_str().unwrap(),
        "--calibration",
        fx.join("inputs.npy").to_str().unwrap(),
        "--sensitivity",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rank = j["f16_sensitivity"].as_array().unwrap();
    assert_eq!(rank.len(), 3, "{rank:?}");
    let dbs: Vec<f64> = rank
        .iter()
        .map(|r| r["logit_sqnr_db_with_it_in_f16"].as_f64().unwrap())
        .collect();
    assert!(dbs.windows(2).all(|w| w[0] >= w[1]), "{dbs:?}");

    let o = report(&["--board", "pico"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rpi-pico"));
    let o = report(&["--flash", "256"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn int8_and_f16_run_from_the_command_line() {
    let dir = scratch("run8");
    let model = root().join("models/fmnist-convnext");
    let x = preprocessed_test_images(&dir, 32);
    let p = model.join("test_logits.npy");
    let want = npy::read(&p).unwrap().into_f32(&p).unwrap();
    for precision in ["f16", "int8"] {
        let y = dir.join(format!("{precision}.npy"));
        let o = convnext(&[
            "run",
            "--model",
            "models/fmnist-convnext",
            "--precision",
            precision,
            "--input",
            x.to_str().unwrap(),
            "--output",
            y.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{precision}: {}", stderr(&o));
        let got = npy::read(&y).unwrap().into_f32(&y).unwrap();
        assert_eq!(got.shape, vec![32, 10]);
        let mut agree = 0;
        for (g, w) in got.data.chunks(10).zip(want.data.chunks(10)) {
            agree += (convnext::network::argmax(g) == convnext::network::argmax(w)) as usize;
        }
        assert!(agree >= 31, "{precision}: {agree}/32 agree with HF");
        assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    }
    // pixel_values that are not u8 images (another normalisation): int8
    // says what it loses.
    let mut other = npy::read(&x).unwrap().into_f32(&x).unwrap();
    other.data.iter_mut().for_each(|v| *v = *v * 1.7 + 0.013);
    let (x2, y2) = (dir.join("other.npy"), dir.join("other_y.npy"));
    npy::write_f32(&x2, &other).unwrap();
    let o = convnext(&[
        "run",
        "--model",
        "models/fmnist-convnext",
        "--precision",
        "int8",
        "--input",
        x2.to_str().unwrap(),
        "--output",
        y2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning: the int8 network takes u8 images")
            && e.contains("% of values fall outside [0, 255]"),
        "{e}"
    );
}

/// `convnext compile` the default model as `name` (plus `extra` flags) into a
/// fresh folder, and check the generated code is one a person can read:
/// rustfmt-clean, no line over 100 characters, tables in binary files, a
/// header saying what produced it (`options` among it). Returns the folder.
fn compile_and_check(name: &str, extra: &[&str], options: &str) -> PathBuf {
    let dir = scratch(&format!("compile_{name}"));
    let mut args = vec![
        "compile",
        "--model",
        "models/fmnist-convnext",
        "--out",
        dir.to_str().unwrap(),
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    let o = convnext(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = dir.join(format!("{name}.rs"));
    let src = std::fs::read_to_string(&path).unwrap();
    assert!(src.contains("pub const ARENA_BYTES: usize = ") && src.contains("pub fn forward("));
    assert!(
        src.contains("// Checkpoint: models/fmnist-convnext"),
        "{src}"
    );
    assert!(
        src.contains("// Calibration: 512 images from calibration_images.npy, percentile:0.9999"),
        "{src}"
    );
    assert!(src.contains(&format!("// Options: {options}")), "{src}");
    for (i, line) in src.lines().enumerate() {
        assert!(
            line.len() <= 100,
            "{name}.rs:{}: {} chars",
            i + 1,
            line.len()
        );
        // No literal tables: at most a handful of values on a line.
        assert!(
            line.matches(',').count() <= 4,
            "{name}.rs:{}: {line}",
            i + 1
        );
    }
    let fmt = Command::new("rustfmt")
        .args(["--edition", "2021", "--check"])
        .arg(&path)
        .output()
        .expect("rustfmt (rustup component add rustfmt)");
    assert!(
        fmt.status.success(),
        "{name}.rs is not rustfmt-clean:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    dir
}

#[test]
fn compile_writes_a_readable_module_and_table_files() {
    let dir = compile_and_check("fm", &[], "all int8");
    for table in ["weight", "bias", "requant"] {
        assert!(dir
            .join(format!("fm.stage1_block0.pwconv1.{table}.bin"))
            .exists());
    }
    assert_eq!(
        std::fs::metadata(dir.join("fm.stage1_block0.act.table.bin"))
            .unwrap()
            .len(),
        512,
        "the activation table: 256 i16s (the blocks' i16 hidden vectors)"
    );
}

#[test]
fn compile_of_a_mixed_precision_plan_is_readable_too() {
    // Which block is the most sensitive is the calibration's call (the
    // README quotes it); the header must name one.
    compile_and_check("mixed", &["--f16-blocks", "1"], "int8, f16 blocks: stage");
}

/// `eval --json` on the default model with `extra` flags.
fn eval_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["eval", "--model", "models/fmnist-convnext", "--json"];
    args.extend(extra);
    let o = convnext(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn eval_on_a_picture_folder_gives_the_numbers_of_the_same_images_as_npy() {
    let out = scratch("eval_user_data");
    let model = root().join("models/fmnist-convnext");
    let test = convnext_codegen::dataset::load_test_set(&model).unwrap();
    let n = 150;
    let images = test.images.take(n);
    let labels = &test.labels[..n];
    let names = [
        "t-shirt-top",
        "Trouser",
        "pullover",
        "DRESS",
        "Coat",
        "5",
        "Shirt",
        "sneaker",
        "Bag",
        "ankle boot",
    ];
    // Pictures as PNG, sorted by label (sub-folder names in every accepted
    // spelling); the same images in that order as .npy.
    let data = out.join("pictures");
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (names[labels[i]], i));
    let mut pixels = Vec::new();
    for &i in &order {
        let sub = data.join(names[labels[i]]);
        std::fs::create_dir_all(&sub).unwrap();
        let img = &images.pixels[i * 784..(i + 1) * 784];
        image::save_buffer(
            sub.join(format!("{i:04}.png")),
            img,
            28,
            28,
            image::ExtendedColorType::L8,
        )
        .unwrap();
        pixels.extend_from_slice(img);
    }
    let (x, y) = (out.join("x.npy"), out.join("y.npy"));
    npy::write_u8(&x, &[n, 28, 28], &pixels).unwrap();
    let sorted: Vec<u8> = order.iter().map(|&i| labels[i] as u8).collect();
    npy::write_u8(&y, &[n], &sorted).unwrap();

    let from_folder = eval_json(&["--data", data.to_str().unwrap(), "--crc"]);
    let from_npy = eval_json(&[
        "--images",
        x.to_str().unwrap(),
        "--labels",
        y.to_str().unwrap(),
        "--crc",
    ]);
    assert_eq!(from_folder["test_images"], n);
    for key in ["f32", "f16", "int8", "per_class", "confusion"] {
        assert_eq!(from_folder[key], from_npy[key], "{key}");
    }
    // The same images in the model's own order: the same accuracies and
    // matrix (the CRC follows the order, so it is not compared).
    let own = eval_json(&["--limit", "150"]);
    assert_eq!(own["int8"]["accuracy"], from_npy["int8"]["accuracy"]);
    assert_eq!(own["confusion"], from_npy["confusion"]);
    let m = &own["confusion"]["matrix"];
    let total: u64 = (0..10)
        .flat_map(|r| (0..10).map(move |c| (r, c)))
        .map(|(r, c)| m[r][c].as_u64().unwrap())
        .sum();
    assert_eq!(total, n as u64);
    assert_eq!(own["per_class"][0]["label"], "T-shirt/top");
    // Every disagreement names its file in the folder form.
    for d in from_folder["int8_f32_disagreements"].as_array().unwrap() {
        assert!(d["image"].as_str().unwrap().ends_with(".png"));
        assert_ne!(d["f32"], d["int8"]);
    }
    assert_eq!(
        from_folder["int8_f32_disagreements"]
            .as_array()
            .unwrap()
            .len(),
        own["int8_f32_disagreements"].as_array().unwrap().len()
    );

    // A sub-folder that names no label is an error that lists the labels.
    std::fs::create_dir_all(data.join("socks")).unwrap();
    let o = convnext(&[
        "eval",
        "--model",
        "models/fmnist-convnext",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("\"socks\" names no label") && stderr(&o).contains("Ankle boot"));
    // --images needs --labels.
    let o = convnext(&[
        "eval",
        "--model",
        "models/fmnist-convnext",
        "--images",
        x.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_saved_calibration_gives_every_command_the_same_int8_network() {
    let out = scratch("calibrate");
    let file = out.join("cal.json");
    let o = convnext(&[
        "calibrate",
        "--model",
        "models/fmnist-convnext",
        "--f16-blocks",
        "1",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(j["format"], "convnext-calibration/1");
    assert_eq!(j["images"], 512);
    assert_eq!(j["f16_blocks"].as_array().unwrap().len(), 1);

    // Recalibrating and reusing the file give the same logits bit for bit.
    let fresh = eval_json(&[
        "--precision",
        "int8",
        "--limit",
        "100",
        "--crc",
        "--f16-blocks",
        "1",
    ]);
    let reused = eval_json(&[
        "--precision",
        "int8",
        "--limit",
        "100",
        "--crc",
        "--calibration-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(fresh["int8"], reused["int8"]);
    // report plans the same network.
    let report = |extra: &[&str]| {
        let mut a = vec!["report", "--model", "models/fmnist-convnext", "--json"];
        a.extend(extra);
        let o = convnext(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let ops = report(&["--calibration-file", file.to_str().unwrap()])["ops"].clone();
    let f16: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str().filter(|n| n.ends_with("_f16")))
        .collect();
    assert_eq!(serde_json::json!(f16), fresh["int8"]["f16_blocks"]);
    // It belongs to one checkpoint, and does not mix with recalibration flags.
    let fx = root().join("tests/fixtures/models/gray_28");
    let o = convnext(&[
        "report",
        "--model",
        fx.to_str().unwrap(),
        "--calibration-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cal.json") && stderr(&o).contains("another checkpoint"));
    let o = convnext(&[
        "report",
        "--model",
        "models/fmnist-convnext",
        "--calibration-file",
        file.to_str().unwrap(),
        "--f16-blocks",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_command_from_the_root_is_a_tour_of_the_default_model() {
    let o = convnext(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    // Both pictures named right, in f32 and in int8.
    assert_eq!(
        text.matches("examples/sneaker.png: Sneaker ").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("examples/coat.png: Coat ").count(),
        2,
        "{text}"
    );
    for want in [
        "f32 accuracy",
        "int8 accuracy",
        "fits, ",
        "calibration.json: the saved calibration",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let svg = root().join("target/convnext-tour/report/arena.svg");
    assert!(std::fs::read_to_string(svg).unwrap().starts_with("<svg "));
    // Elsewhere, it says how to start instead.
    let away = scratch("tour_elsewhere");
    let o = Command::new(env!("CARGO_BIN_EXE_convnext"))
        .current_dir(&away)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("convnext --help"));
}

#[test]
fn inputs_that_are_not_images_run_in_int8_with_a_calibrated_input_quantization() {
    let dir = scratch("calibrated_input");
    let model = root().join("models/fmnist-convnext");
    // Another normalisation (what a different training pipeline might feed):
    // stretched and shifted, so the u8 path would clip and round.
    let other = |x: &std::path::Path, name: &str| {
        let mut t = npy::read(x).unwrap().into_f32(x).unwrap();
        t.data.iter_mut().for_each(|v| *v = *v * 1.7 + 0.013);
        let p = dir.join(name);
        npy::write_f32(&p, &t).unwrap();
        p
    };
    let x = other(&preprocessed_test_images(&dir, 64), "x.npy");
    let cal_images = dir.join("cal_images.npy");
    let cal_u8 = model.join("calibration_images.npy");
    let o = model_io("preprocess", &model, (&cal_u8, &cal_images), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cal = other(&cal_images, "cal.npy");
    let run = |name: &str, extra: &[&str]| {
        let y = dir.join(name);
        let mut a = vec![
            "run",
            "--model",
            "models/fmnist-convnext",
            "--input",
            x.to_str().unwrap(),
            "--output",
            y.to_str().unwrap(),
        ];
        a.extend(extra);
        let o = convnext(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        (npy::read(&y).unwrap().into_f32(&y).unwrap(), stderr(&o))
    };
    let (f32_logits, _) = run("f32.npy", &["--precision", "f32"]);
    let sqnr = |q: &convnext_codegen::Tensor| {
        let s: f64 = f32_logits.data.iter().map(|v| (*v as f64).powi(2)).sum();
        let n: f64 = q
            .data
            .iter()
            .zip(&f32_logits.data)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum();
        10.0 * (s / n).log10()
    };
    let (camera, warned) = run("camera.npy", &["--precision", "int8"]);
    assert!(
        warned.contains("--input-quantization calibrated"),
        "{warned}"
    );
    let cal_flag = cal.to_str().unwrap();
    let (calibrated, quiet) = run(
        "calibrated.npy",
        &[
            "--precision",
            "int8",
            "--calibration",
            cal_flag,
            "--input-quantization",
            "calibrated",
        ],
    );
    assert!(!quiet.contains("warning"), "{quiet}");
    let (cam_db, cal_db) = (sqnr(&camera), sqnr(&calibrated));
    println!("logit SQNR: u8 input {cam_db:.1} dB, calibrated input {cal_db:.1} dB");
    assert!(
        cal_db > 20.0 && cal_db > cam_db + 3.0,
        "camera {cam_db:.1} dB, calibrated {cal_db:.1} dB"
    );

    // The choice is saved with the calibration, and the generated firmware says so.
    let file = dir.join("cal.json");
    let o = convnext(&[
        "calibrate",
        "--model",
        "models/fmnist-convnext",
        "--calibration",
        cal_flag,
        "--input-quantization",
        "calibrated",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(j["input_quantization"]["scale"].as_f64().unwrap() > 0.0);
    let (reused, _) = run(
        "reused.npy",
        &[
            "--precision",
            "int8",
            "--calibration-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(reused.data, calibrated.data);
    let out = dir.join("generated");
    let o = convnext(&[
        "compile",
        "--model",
        "models/fmnist-convnext",
        "--out",
        out.to_str().unwrap(),
        "--calibration-file",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let src = std::fs::read_to_string(out.join("model.rs")).unwrap();
    assert!(
        src.contains("input calibrated: byte = round(x / "),
        "{}",
        &src[..600]
    );
}

#[test]
fn bench_times_one_image_on_one_thread() {
    for precision in ["f32", "int8"] {
        let o = convnext(&[
            "bench",
            "--model",
            "models/fmnist-convnext",
            "--precision",
            precision,
            "--iterations",
            "5",
            "--json",
        ]);
        assert!(o.status.success(), "{precision}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["precision"], precision);
        assert_eq!(
            (j["threads"].as_u64(), j["iterations"].as_u64()),
            (Some(1), Some(5))
        );
        let (median, min) = (
            j["median_ms"].as_f64().unwrap(),
            j["min_ms"].as_f64().unwrap(),
        );
        assert!(min > 0.0 && min <= median, "{min} {median}");
    }
}

#[test]
fn run_writes_one_feature_map_per_out_feature_in_every_precision() {
    let fx = root().join("tests/fixtures/models/backbone_all");
    for precision in ["f32", "f16", "int8"] {
        let out = scratch(&format!("feature_maps_{precision}"));
        let o = convnext(&[
            "run",
            "--model",
            fx.to_str().unwrap(),
            "--precision",
            precision,
            "--input",
            fx.join("inputs.npy").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--output-kind",
            "feature_maps",
            "--calibration",
            fx.join("inputs.npy").to_str().unwrap(),
            "--input-quantization",
            "calibrated",
        ]);
        assert!(o.status.success(), "{precision}: {}", stderr(&o));
        for stage in ["stem", "stage1", "stage2", "stage3", "stage4"] {
            let y = out.join(format!("{stage}.npy"));
            let got = npy::read(&y).unwrap().into_f32(&y).unwrap();
            let p = fx.join(format!("feature_maps_{stage}.npy"));
            let want = npy::read(&p).unwrap().into_f32(&p).unwrap();
            assert_eq!(got.shape, want.shape, "{precision} {stage}");
            let err = got.relative_max_error(&want);
            let bound = match precision {
                "f32" => 1e-4,
                "f16" => 2e-2,
                _ => 0.2,
            };
            assert!(
                err <= bound,
                "{precision} {stage}: relative max error {err}"
            );
        }
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5, "{precision}");
    }
    // A backbone has no pooler_output, and says what to ask for instead.
    let y = scratch("backbone_pooler").join("p.npy");
    let o = convnext(&[
        "run",
        "--model",
        fx.to_str().unwrap(),
        "--input",
        fx.join("inputs.npy").to_str().unwrap(),
        "--output",
        y.to_str().unwrap(),
        "--output-kind",
        "pooler_output",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--output-kind feature_maps"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_takes_u8_images_and_writes_the_firmwares_int32_logits() {
    let dir = scratch("run_u8");
    let model = root().join("models/fmnist-convnext");
    let n = 16;
    let test = convnext_codegen::dataset::read_images(&model.join("test_images.npy"))
        .unwrap()
        .take(n);
    let images = dir.join("images.npy");
    npy::write_u8(&images, &[n, 28, 28], &test.pixels).unwrap();
    // f32 on u8 images: the logits of their preprocessed pixel_values.
    let x = preprocessed_test_images(&dir, n);
    let (from_u8, from_x) = (dir.join("from_u8.npy"), dir.join("from_x.npy"));
    for (input, out) in [(&images, &from_u8), (&x, &from_x)] {
        let o = model_io("run", &model, (input, out), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let read = |p: &Path| npy::read(p).unwrap();
    assert_eq!(read(&from_u8), read(&from_x));
    // int8's int32 logits: the firmware's, whose CRC eval prints.
    let raw = dir.join("raw.npy");
    let int8 = ["--precision", "int8", "--output-kind", "int32_logits"];
    let o = model_io("run", &model, (&images, &raw), &int8);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = read(&raw);
    assert_eq!(a.shape, [n, 10]);
    let convnext_codegen::npy::NpyData::I64(logits) = a.data else {
        panic!("int32 logits expected")
    };
    let mut crc = convnext::crc32::Crc32::new();
    let logits: Vec<i32> = logits.iter().map(|&v| v as i32).collect();
    crc.update_i32(&logits);
    let limit = n.to_string();
    let eval = eval_json(&["--precision", "int8", "--limit", &limit, "--crc"]);
    let want = eval["int8"]["logits_crc32"].as_str().unwrap().to_string();
    assert_eq!(format!("0x{:08x}", crc.finish()), want);
    // The dequantized logits of the same run are those integers scaled.
    let scaled = dir.join("scaled.npy");
    let o = model_io("run", &model, (&images, &scaled), &int8[..2]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = read(&scaled).into_f32(&scaled).unwrap();
    let ratio = f.data[0] as f64 / logits[0] as f64;
    for (v, l) in f.data.iter().zip(&logits) {
        assert!((*v as f64 - ratio * *l as f64).abs() <= 1e-3 * v.abs().max(1.0) as f64);
    }
    // Integers from a float network are refused, as usage.
    let o = model_io("run", &model, (&images, &raw), &int8[2..]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("int32_logits"), "{}", stderr(&o));
}

#[test]
fn report_measures_sqnr_with_a_saved_calibration_on_the_images_given_and_says_when_it_cannot() {
    // A model folder with no calibration images of its own.
    let out = scratch("report_saved");
    let src = root().join("models/fmnist-convnext");
    let dir = out.join("model");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let images = src.join("calibration_images.npy");
    let (file, images) = (out.join("cal.json"), images.to_str().unwrap());
    let o = convnext(&[
        "calibrate",
        "--model",
        dir.to_str().unwrap(),
        "--calibration",
        images,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = |extra: &[&str]| {
        let mut a = vec!["report", "--model", dir.to_str().unwrap(), "--json"];
        a.extend(["--calibration-file", file.to_str().unwrap()]);
        a.extend(extra);
        let o = convnext(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    // Nothing to measure on: no SQNR, and the report says why.
    let none = report(&[]);
    assert!(none["ops"][0]["sqnr_db"].is_null());
    assert!(none["sqnr_note"]
        .as_str()
        .unwrap()
        .contains("--calibration"));
    // Images given beside the file: every op measured, the same network.
    let measured = report(&["--calibration", images]);
    assert!(measured["sqnr_note"].is_null());
    for op in measured["ops"].as_array().unwrap() {
        assert!(op["sqnr_db"].as_f64().unwrap() > 10.0, "{op}");
    }
    assert_eq!(measured["weights_bytes"], none["weights_bytes"]);
    // Other commands refuse the pair: the file already fixes the network.
    let pair = [
        "--precision",
        "int8",
        "--calibration-file",
        file.to_str().unwrap(),
        "--calibration",
        images,
    ];
    let (input, y) = (Path::new(images), out.join("y.npy"));
    let o = model_io("run", &dir, (input, &y), &pair);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--calibration-file"), "{}", stderr(&o));
}
