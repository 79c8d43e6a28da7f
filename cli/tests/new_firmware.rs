//! `convnext new-firmware` on every board: the crate's files, its CRC line
//! against `convnext eval --crc`, rustfmt-clean sources, and its refusals.
//! (`cargo xtask new-firmware` builds and runs the M4F crate under QEMU.)

mod common;

use common::{convnext, root, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)]
#[path = "../../boards/boards.rs"]
mod boards;

use boards::{Run, BOARDS};

const MODEL: &str = "models/fmnist-convnext";

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The int8 CRC `convnext eval` prints for the first `n` test images.
fn eval_crc(n: usize) -> String {
    let o = convnext(&[
        "eval",
        "--model",
        MODEL,
        "--precision",
        "int8",
        "--limit",
        &n.to_string(),
        "--crc",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("int8 logits crc32 "))
        .expect("a crc line")
        .to_string()
}

#[test]
fn new_firmware_writes_a_runnable_crate_for_every_board() {
    let cal = scratch("new_firmware_cal.json");
    let o = convnext(&[
        "calibrate",
        "--model",
        MODEL,
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let crc = eval_crc(3);
    for b in &BOARDS {
        let out = scratch(&format!("new_firmware_{}", b.dir));
        let o = convnext(&[
            "new-firmware",
            "--board",
            b.dir,
            "--model",
            MODEL,
            "--calibration-file",
            cal.to_str().unwrap(),
            "--images",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}: {}", b.dir, stderr(&o));
        let said = stdout(&o);
        let line = format!("{}: 3 images, logits crc32 {crc}", b.name);
        assert!(said.contains(&line), "{}: {said}", b.dir);
        assert!(read(&out.join("README.md")).contains(&line));
        // 3 images of 28x28x1 at the model's input size.
        assert_eq!(
            std::fs::metadata(out.join("images.bin")).unwrap().len(),
            3 * 784
        );
        // The checkpoint and the saved calibration, byte for byte.
        for f in ["config.json", "model.safetensors"] {
            assert_eq!(
                std::fs::read(out.join("model").join(f)).unwrap(),
                std::fs::read(root().join(MODEL).join(f)).unwrap(),
                "{f}"
            );
        }
        assert_eq!(read(&out.join("memory.x")), b.memory_x());
        let config = read(&out.join(".cargo/config.toml"));
        assert!(config.contains(&format!("target = \"{}\"", b.target)));
        assert!(config.contains(&format!("target-cpu={}", b.cpu)));
        let manifest = read(&out.join("Cargo.toml"));
        let main = read(&out.join("src/main.rs"));
        match b.run {
            Run::Qemu { machine, .. } => {
                assert!(config.contains(&format!("-machine {machine} ")));
                assert!(manifest.contains("defmt-semihosting"));
                assert!(main.contains("semihosting::process::exit(0)"));
            }
            Run::ProbeRs { chip } => {
                assert!(config.contains(&format!("probe-rs run --chip {chip}")));
                assert!(manifest.contains("defmt-rtt"));
                assert!(main.contains("bkpt"));
            }
        }
        assert_eq!(manifest.contains("rp2040-boot2"), b.boot2_bytes > 0);
        assert_eq!(main.contains(".boot2"), b.boot2_bytes > 0);
        assert!(manifest.contains(&format!(
            "convnext-codegen = {{ path = '{}' }}",
            root().join("codegen").canonicalize().unwrap().display()
        )));
        assert!(main.lines().count() <= 70, "{}: main.rs is long", b.dir);
        if b.dir == "qemu-mps2-an386" {
            // The README shows this crate's build.rs and main.rs, as written.
            let readme = read(&root().join("README.md"));
            for f in ["build.rs", "src/main.rs"] {
                let indented: String = read(&out.join(f))
                    .lines()
                    .map(|l| {
                        if l.is_empty() {
                            "\n".into()
                        } else {
                            format!("   {l}\n")
                        }
                    })
                    .collect();
                assert!(
                    readme.contains(&indented),
                    "README.md lacks {f} as generated"
                );
            }
        }
        let fmt = Command::new("rustfmt")
            .args(["--edition", "2021", "--check"])
            .arg(out.join("src/main.rs"))
            .arg(out.join("build.rs"))
            .output()
            .expect("rustfmt (rustup component add rustfmt)");
        assert!(
            fmt.status.success(),
            "{}: not rustfmt-clean:\n{}",
            b.dir,
            stdout(&fmt)
        );
    }
}

#[test]
fn new_firmware_depends_on_git_when_asked() {
    let out = scratch("new_firmware_git");
    let o = convnext(&[
        "new-firmware",
        "--board",
        "qemu-an505",
        "--model",
        MODEL,
        "--images",
        "1",
        "--engine-git",
        "https://example.com/convnext.git",
        "--engine-rev",
        "v0.1.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read(&out.join("Cargo.toml"));
    assert!(
        manifest.contains(
            "convnext = { git = 'https://example.com/convnext.git', rev = 'v0.1.0', features = [\"dsp\"] }"
        ),
        "{manifest}"
    );
    assert!(manifest.contains(
        "convnext-codegen = { git = 'https://example.com/convnext.git', rev = 'v0.1.0' }"
    ));
}

#[test]
fn new_firmware_refuses_what_it_cannot_do_and_writes_nothing() {
    let out = scratch("new_firmware_refused");
    let o_str = out.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["--board", "esp32", "--model", MODEL, "--out", o_str],
            2,
            "--board \"esp32\": not a board of boards/boards.rs (one of qemu-mps2-an386,",
        ),
        (
            &[
                "--board", "rpi-pico", "--model", MODEL, "--images", "0", "--out", o_str,
            ],
            2,
            "--images 0",
        ),
        (
            &["--board", "rpi-pico", "--model", "tests", "--out", o_str],
            1,
            "config.json",
        ),
        (
            &[
                "--board",
                "rpi-pico",
                "--model",
                MODEL,
                "--engine-path",
                "/nonexistent",
                "--out",
                o_str,
            ],
            2,
            "--engine-path /nonexistent: not a checkout of the engine",
        ),
    ];
    for (args, code, message) in cases {
        let mut all = vec!["new-firmware"];
        all.extend_from_slice(args);
        let o = convnext(&all);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // A folder with something in it is never written into.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = convnext(&[
        "new-firmware",
        "--board",
        "rpi-pico",
        "--model",
        MODEL,
        "--out",
        o_str,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}
