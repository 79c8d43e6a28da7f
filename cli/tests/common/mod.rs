//! What the CLI's end-to-end tests share: running the `convnext` binary
//! from the repository root. (Each test crate uses its own subset.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (commands run there, as a user would).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `convnext ARGS...` from the repository root.
pub fn convnext(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convnext"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// What a command wrote on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `convnext CMD --model MODEL --input INPUT --output OUTPUT EXTRA...`.
pub fn model_io(
    cmd: &str,
    model: &Path,
    (input, output): (&Path, &Path),
    extra: &[&str],
) -> Output {
    let (model, input, output) = (
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        output.to_str().unwrap(),
    );
    let mut args = vec![cmd, "--model", model, "--input", input, "--output", output];
    args.extend_from_slice(extra);
    convnext(&args)
}
