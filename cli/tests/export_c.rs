//! `convnext export-c` end to end on the host: the bundled v1 and V2 models
//! in one library, a C99 program (`tests/c/two_models.c`) built with the
//! system `cc -std=c99 -Wall -Wextra -Werror -pedantic` that knows only the
//! headers, logits bit-identical to `convnext run --precision int8`, every
//! refusal its own status, and the headers valid C++.

mod common;

use common::{convnext, root, stderr};
use convnext_codegen::npy;
use std::path::{Path, PathBuf};
use std::process::Command;

const IMAGES: usize = 12;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The firmware's int32 logits of `model` for `images`, from `convnext run`.
fn host_logits(model: &str, images: &Path, cal: &Path, out: &Path) -> Vec<i64> {
    let o = convnext(&[
        "run",
        "--model",
        model,
        "--precision",
        "int8",
        "--output-kind",
        "int32_logits",
        "--calibration-file",
        cal.to_str().unwrap(),
        "--input",
        images.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    match npy::read(out).unwrap().data {
        npy::NpyData::I64(v) => v,
        other => panic!("int32 logits expected, got {other:?}"),
    }
}

#[test]
fn a_c_program_links_two_models_and_gets_the_hosts_logits() {
    let dir = scratch("export_c");
    let out = dir.join("c");
    let models = [
        ("fashion", "models/fmnist-convnext"),
        ("fashion_v2", "models/fmnist-convnextv2"),
    ];
    // Saved calibrations, so the library and `convnext run` quantize alike.
    let cals: Vec<PathBuf> = models
        .iter()
        .map(|(name, model)| {
            let cal = dir.join(format!("{name}.json"));
            let o = convnext(&[
                "calibrate",
                "--model",
                model,
                "--out",
                cal.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            cal
        })
        .collect();
    let mut args = vec![
        "export-c",
        "--out",
        out.to_str().unwrap(),
        "--library",
        "fashion_models",
    ];
    for ((name, model), cal) in models.iter().zip(&cals) {
        args.extend(["--model", model, "--name", name]);
        args.extend(["--calibration-file", cal.to_str().unwrap()]);
    }
    // One target dir for every run of this test: the library builds once.
    let o = Command::new(env!("CARGO_BIN_EXE_convnext"))
        .args(&args)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", root().join("target/export-c"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "fashion.h",
        "fashion_v2.h",
        "convnext_status.h",
        "libfashion_models.a",
        "CMakeLists.txt",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }

    // The headers: C99 and C++, warnings as errors.
    let program = root().join("cli/tests/c/two_models.c");
    let exe = dir.join("two_models");
    let cc = Command::new("cc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
        ])
        .arg("-I")
        .arg(&out)
        .arg(&program)
        .arg(out.join("libfashion_models.a"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc (the system C compiler)");
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    for h in ["fashion.h", "fashion_v2.h", "convnext_status.h"] {
        let cxx = Command::new("g++")
            .args([
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-x",
                "c++",
            ])
            .arg(out.join(h))
            .output()
            .expect("g++");
        assert!(
            cxx.status.success(),
            "{h} as C++: {}",
            String::from_utf8_lossy(&cxx.stderr)
        );
    }

    // The README's C example compiles against the same header.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("    #include <stdio.h>\n    #include \"fashion.h\"")
        .expect("README's C example");
    let end = start + readme[start..].find("\n    }\n").expect("its end") + 7;
    let example: String = readme[start..end]
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let example_c = dir.join("readme_example.c");
    std::fs::write(&example_c, example).unwrap();
    let cc = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"])
        .arg("-I")
        .arg(&out)
        .arg(&example_c)
        .arg("-o")
        .arg(dir.join("readme_example.o"))
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "README's C example: {}",
        String::from_utf8_lossy(&cc.stderr)
    );

    // The first images of the bundled test set, as raw bytes and as a .npy.
    let test = root().join("models/fmnist-convnext/test_images.npy");
    let set = npy::NpyRows::open(&test).unwrap().read(0..IMAGES).unwrap();
    let npy::NpyData::U8(pixels) = &set.data else {
        panic!("u8 images expected")
    };
    let raw = dir.join("images.bin");
    std::fs::write(&raw, pixels).unwrap();
    let images = dir.join("images.npy");
    npy::write_u8(&images, &set.shape, pixels).unwrap();

    let run = Command::new(&exe).arg(&raw).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(text.ends_with("refusals ok\n"), "{text}");
    for ((name, model), cal) in models.iter().zip(&cals) {
        let want = host_logits(model, &images, cal, &dir.join(format!("{name}.npy")));
        let got: Vec<i64> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{name} ")))
            .flat_map(|l| {
                l.split(" | ")
                    .next()
                    .unwrap()
                    .split(' ')
                    .map(|v| v.parse::<i64>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got.len(), IMAGES * 10, "{name}");
        assert_eq!(
            got, want,
            "{name}: the C library's logits differ from the host's"
        );
    }
}

#[test]
fn export_c_refuses_bad_names_and_counts() {
    let out = scratch("export_c_refused").join("c");
    let o_str = out.to_str().unwrap();
    let m = "models/fmnist-convnext";
    let cases: [(&[&str], &str); 4] = [
        (&["--model", m, "--name", "Fashion"], "--name \"Fashion\""),
        (&["--model", m, "--model", m], "name each model"),
        (
            &["--model", m, "--name", "a", "--model", m, "--name", "a"],
            "--name a is given twice",
        ),
        (
            &[
                "--model",
                m,
                "--calibration-file",
                "x.json",
                "--calibration-file",
                "y.json",
            ],
            "give one per model",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["export-c", "--out", o_str];
        all.extend_from_slice(args);
        let o = convnext(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!out.exists());
    }
}

#[test]
fn a_c_program_gets_a_backbones_feature_maps_as_the_host_computes_them() {
    let dir = scratch("export_c_backbone");
    let fx = root().join("tests/fixtures/models/backbone_all");
    let (model, out) = (fx.to_str().unwrap(), dir.join("c"));
    let cal = dir.join("cal.json");
    let o = convnext(&[
        "calibrate",
        "--model",
        model,
        "--calibration",
        fx.join("inputs.npy").to_str().unwrap(),
        "--out",
        cal.to_str().unwrap(),
        "--min-sqnr=-inf",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_convnext"))
        .args(["export-c", "--model", model, "--name", "backbone"])
        .args(["--calibration-file", cal.to_str().unwrap(), "--out"])
        .arg(&out)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", root().join("target/export-c"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let exe = dir.join("backbone");
    let cc = Command::new("cc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
        ])
        .arg("-I")
        .arg(&out)
        .arg(root().join("cli/tests/c/backbone.c"))
        .arg(out.join("libbackbone.a"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );

    // Two u8 images at the backbone's input size (68x92, RGB).
    let (n, h, w, c) = (2, 68, 92, 3);
    let pixels: Vec<u8> = (0..n * h * w * c)
        .map(|i| ((i * 2_654_435_761_usize) >> 13) as u8)
        .collect();
    let raw = dir.join("images.bin");
    std::fs::write(&raw, &pixels).unwrap();
    let images = dir.join("images.npy");
    npy::write_u8(&images, &[n, h, w, c], &pixels).unwrap();
    let run = Command::new(&exe).arg(&raw).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(text.ends_with("refusals ok\n"), "{text}");

    let host = dir.join("maps");
    let o = convnext(&[
        "run",
        "--model",
        model,
        "--precision",
        "int8",
        "--output-kind",
        "feature_maps",
        "--calibration-file",
        cal.to_str().unwrap(),
        "--input",
        images.to_str().unwrap(),
        "--output",
        host.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let per_image: Vec<Vec<i64>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("maps "))
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(per_image.len(), n);
    let table: Vec<Vec<&str>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("map "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert_eq!(table.len(), 5);
    for m in &table {
        let [name, ch, mh, mw, offset, scale, zp] = m[..] else {
            panic!("{m:?}")
        };
        let [ch, mh, mw, offset]: [usize; 4] = [ch, mh, mw, offset].map(|v| v.parse().unwrap());
        let (scale, zp): (f64, i64) = (scale.parse().unwrap(), zp.parse().unwrap());
        let p = host.join(format!("{name}.npy"));
        let want = npy::read(&p).unwrap().into_f32(&p).unwrap();
        assert_eq!(want.shape, [n, ch, mh, mw], "{name}");
        for (img, q) in per_image.iter().enumerate() {
            for y in 0..mh {
                for x in 0..mw {
                    for k in 0..ch {
                        let got = scale * (q[offset + (y * mw + x) * ch + k] - zp) as f64;
                        let host = want.data[((img * ch + k) * mh + y) * mw + x] as f64;
                        assert!(
                            (got - host).abs() <= scale * 1e-3,
                            "{name}[{img}, {k}, {y}, {x}]: C {got}, host {host}"
                        );
                    }
                }
            }
        }
    }
}
