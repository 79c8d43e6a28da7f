//! A scratch folder of this fuzzing process's own, for the targets whose
//! parsers read files.

use std::path::PathBuf;

/// `$TMPDIR/convnext-fuzz-<pid>`, created once.
pub fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("convnext-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}
