//! Where a generated crate (`new-firmware`, `export-c`) gets the engine
//! from: a checkout by path, or a git repository, the same for the runtime
//! and the codegen.

use crate::failure::{usage, Failure};
use crate::options::EngineArgs;
use std::path::{Path, PathBuf};

/// Where the new crate gets the engine from.
pub enum Engine {
    /// A checkout on disk.
    Path(PathBuf),
    /// A git repository, at a revision or its default branch.
    Git {
        /// Its URL.
        url: String,
        /// A commit or tag, or its default branch.
        rev: Option<String>,
    },
}

/// The engine the crate depends on: `--engine-git`, `--engine-path`, or
/// the checkout this binary was built from while it still exists.
pub fn engine(a: &EngineArgs) -> Result<Engine, Failure> {
    if let Some(url) = &a.engine_git {
        return Ok(Engine::Git {
            url: url.clone(),
            rev: a.engine_rev.clone(),
        });
    }
    let (root, given) = match &a.engine_path {
        Some(p) => (p.clone(), true),
        None => (Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), false),
    };
    let is_checkout =
        root.join("Cargo.toml").is_file() && root.join("codegen/Cargo.toml").is_file();
    match root.canonicalize() {
        Ok(abs) if is_checkout => Ok(Engine::Path(abs)),
        _ if given => Err(usage(format!(
            "--engine-path {}: not a checkout of the engine (no Cargo.toml and codegen/Cargo.toml)",
            root.display()
        ))),
        _ => Err(usage(format!(
            "the checkout this convnext was built from ({}) is gone; pass --engine-path DIR or --engine-git URL",
            root.display()
        ))),
    }
}

/// A TOML string for `s`.
pub fn toml_str(s: &str) -> String {
    if s.contains('\'') || s.contains('\n') {
        format!("{s:?}")
    } else {
        format!("'{s}'")
    }
}

/// The dependency line of one of the engine's crates.
pub fn engine_dep(engine: &Engine, krate: &str, sub: &str, features: &[&str]) -> String {
    let source = match engine {
        Engine::Path(root) => {
            let dir = if sub.is_empty() {
                root.clone()
            } else {
                root.join(sub)
            };
            format!("path = {}", toml_str(&dir.display().to_string()))
        }
        Engine::Git { url, rev } => match rev {
            Some(r) => format!("git = {}, rev = {}", toml_str(url), toml_str(r)),
            None => format!("git = {}", toml_str(url)),
        },
    };
    let features = if features.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
        format!(", features = [{}]", quoted.join(", "))
    };
    format!("{krate} = {{ {source}{features} }}")
}
