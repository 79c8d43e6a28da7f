//! The proof that no panic is reachable from a firmware's `forward`: the
//! ELF's call graph, read from its disassembly (`llvm-objdump` of the
//! toolchain's `llvm-tools`), searched from every function of the generated
//! `forward` for the panic machinery (`core::panicking::*`, the slice
//! index failures, `unwrap`/`expect` failures, the panic handler). Direct
//! calls and branches are edges; an indirect call (a `blx` through a
//! register, e.g. a `dyn` call) cannot be followed, so it fails the check
//! too, naming the function: the kernels must not make one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `llvm-objdump` of the active toolchain (`rustup component add
/// llvm-tools`).
fn objdump() -> Result<PathBuf, String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("rustc --print sysroot: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let host = Command::new("rustc")
        .args(["-vV"])
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap_or_default();
    let p = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host)
        .join("bin/llvm-objdump");
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: rustup component add llvm-tools",
            p.display()
        ))
    }
}

/// Whether `name` (demangled) is part of the panic machinery.
fn panics(name: &str) -> bool {
    [
        "core::panicking::",
        "slice_index_fail",
        "slice_start_index_len_fail",
        "slice_end_index_len_fail",
        "slice_index_order_fail",
        "len_mismatch_fail",
        "unwrap_failed",
        "expect_failed",
        "rust_begin_unwind",
        "panic_fmt",
    ]
    .iter()
    .any(|p| name.contains(p))
}

/// The call graph: function -> the functions it branches or calls to, and
/// the functions that make an indirect call.
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    indirect: BTreeSet<String>,
}

fn graph(disassembly: &str) -> Graph {
    let mut g = Graph {
        edges: BTreeMap::new(),
        indirect: BTreeSet::new(),
    };
    let mut current: Option<String> = None;
    for line in disassembly.lines() {
        // `00001234 <name>:` starts a function.
        if let Some(name) = line
            .strip_suffix(">:")
            .and_then(|l| l.split_once(" <"))
            .filter(|(addr, _)| addr.chars().all(|c| c.is_ascii_hexdigit()))
            .map(|(_, n)| n.to_string())
        {
            g.edges.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(f) = &current else { continue };
        let mut words = line.split_whitespace().skip(1);
        let Some(op) = words.next() else { continue };
        let branch = op.starts_with('b') || op.starts_with("cb");
        if !branch {
            continue;
        }
        if let Some(target) = line
            .split_once('<')
            .and_then(|(_, t)| t.split_once('>'))
            .map(|(t, _)| t.split('+').next().unwrap_or(t).to_string())
        {
            if &target != f {
                g.edges.entry(f.clone()).or_default().insert(target);
            }
        } else if op.starts_with("blx") || op == "bx" && !line.contains("lr") {
            g.indirect.insert(f.clone());
        }
    }
    g
}

/// The call chain from a root to `f`, one function a line.
fn chain(parent: &BTreeMap<&String, &String>, f: &String) -> String {
    let mut names = vec![f.clone()];
    let mut at = f;
    while let Some(p) = parent.get(at) {
        names.push((*p).clone());
        at = p;
    }
    names.reverse();
    names.join("\n      -> ")
}

/// Check the ELF at `elf`: `Ok(functions reachable from forward)`, or the
/// panic paths and indirect calls found.
pub fn check(elf: &Path) -> Result<usize, String> {
    let out = Command::new(objdump()?)
        .args(["-d", "--no-show-raw-insn", "-C"])
        .arg(elf)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))?;
    let g = graph(&String::from_utf8_lossy(&out.stdout));
    let roots: Vec<&String> = g
        .edges
        .keys()
        .filter(|n| n.contains("::forward::") || n.contains("::forward_probed::"))
        .collect();
    if roots.is_empty() {
        return Err(format!(
            "{}: no `forward` function (the generated forward is #[inline(never)])",
            elf.display()
        ));
    }
    let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
    let mut seen: BTreeSet<&String> = roots.iter().copied().collect();
    let mut queue: VecDeque<&String> = roots.iter().copied().collect();
    while let Some(f) = queue.pop_front() {
        // The panic machinery's own callees (the handler, its logging) are
        // past the point that matters.
        if panics(f) {
            continue;
        }
        for t in g.edges.get(f).into_iter().flatten() {
            if seen.insert(t) {
                parent.insert(t, f);
                queue.push_back(t);
            }
        }
    }
    let path = |f: &String| chain(&parent, f);
    // Each function that calls into the panic machinery itself, once, with
    // the path that reaches it.
    let mut problems: Vec<String> = seen
        .iter()
        .filter(|f| !panics(f))
        .filter_map(|f| {
            let calls: Vec<&String> = g.edges.get(*f)?.iter().filter(|t| panics(t)).collect();
            (!calls.is_empty()).then(|| {
                let names: Vec<&str> = calls.iter().map(|c| c.as_str()).collect();
                format!(
                    "panic reachable: {}\n      calls {}",
                    path(f),
                    names.join(", ")
                )
            })
        })
        .collect();
    problems.extend(
        seen.iter()
            .filter(|f| g.indirect.contains(**f))
            .map(|f| format!("indirect call (not followed) in: {}", path(f))),
    );
    if problems.is_empty() {
        Ok(seen.len())
    } else {
        Err(problems.join("\n"))
    }
}
