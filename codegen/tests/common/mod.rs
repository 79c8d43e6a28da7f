//! Paths shared by codegen's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/fixtures/<rel>` (made by `scripts/make_fixtures.py`).
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// `models/<name>`.
pub fn model_dir(name: &str) -> PathBuf {
    root().join("models").join(name)
}

/// A fresh, empty scratch directory under the target dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
