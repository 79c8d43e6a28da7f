//! What a firmware's call graph proves, read from its disassembly
//! (`llvm-objdump` of the toolchain's `llvm-tools`), from every function
//! of the generated `forward`:
//!
//! * [`check`]: no panic is reachable (`core::panicking::*`, the slice index
//!   failures, `unwrap`/`expect` failures, the panic handler). Direct calls
//!   and branches are edges; an indirect call (a `blx` through a register,
//!   e.g. a `dyn` call) cannot be followed, so it fails the check too,
//!   naming the function: the kernels must not make one.
//! * [`stack_bound`]: a static bound on `forward`'s stack, every frame along
//!   the deepest chain of calls (prologue pushes and `sp` adjustments).

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
    /// Bytes each function's prologue (and any later pushes) take off the
    /// stack: `push`, `vpush`, `str rX, [sp, #-4]!`, `sub sp, #N`.
    frames: BTreeMap<String, u64>,
}

/// Stack bytes one instruction takes, when it pushes or lowers `sp`.
fn stack_bytes(op: &str, operands: &str) -> u64 {
    let regs = || {
        operands
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map_or(0, |(r, _)| r.split(',').count() as u64)
    };
    match op {
        "push" | "push.w" | "stmdb" if operands.contains('{') => 4 * regs(),
        "vpush" | "vpush.64" => 8 * regs(),
        "vpush.32" => 4 * regs(),
        "str" | "str.w" if operands.contains("[sp, #-4]!") => 4,
        "sub" | "sub.w" | "subw" if operands.starts_with("sp,") => operands
            .rsplit('#')
            .next()
            .and_then(|n| {
                let n = n.trim();
                n.strip_prefix("0x")
                    .map_or_else(|| n.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
            })
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
fn graph(disassembly: &str) -> Graph {
    graph_sized(disassembly, &BTreeMap::new())
}

/// Function sizes from `llvm-objdump -t` (`start address -> bytes`): the
/// bytes after a function's last instruction (alignment padding, which
/// can decode as a branch) are no part of it.
fn sizes(symbols: &str) -> BTreeMap<u64, u64> {
    symbols
        .lines()
        .filter(|l| l.contains(" F "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let start = u64::from_str_radix(words.next()?, 16).ok()?;
            let size = words.skip_while(|w| !w.starts_with('.')).nth(1)?;
            Some((start, u64::from_str_radix(size, 16).ok()?))
        })
        .collect()
}

/// The graph of a listing, each function's instructions cut at its size
/// where `sizes` has it.
fn graph_sized(disassembly: &str, sizes: &BTreeMap<u64, u64>) -> Graph {
    let mut g = Graph {
        edges: BTreeMap::new(),
        indirect: BTreeSet::new(),
        frames: BTreeMap::new(),
    };
    let mut current: Option<String> = None;
    let mut end = u64::MAX;
    for line in disassembly.lines() {
        // `00001234 <name>:` starts a function.
        if let Some((addr, name)) = line
            .strip_suffix(">:")
            .and_then(|l| l.split_once(" <"))
            .filter(|(addr, _)| addr.chars().all(|c| c.is_ascii_hexdigit()))
        {
            let start = u64::from_str_radix(addr, 16).unwrap_or(0);
            end = sizes.get(&start).map_or(u64::MAX, |s| start + s);
            g.edges.entry(name.to_string()).or_default();
            current = Some(name.to_string());
            continue;
        }
        let Some(f) = &current else { continue };
        let at = line
            .split_once(':')
            .and_then(|(a, _)| u64::from_str_radix(a.trim(), 16).ok());
        if at.is_some_and(|a| a >= end) {
            continue;
        }
        let mut words = line.split_whitespace().skip(1);
        let Some(op) = words.next() else { continue };
        let operands = words.collect::<Vec<_>>().join(" ");
        *g.frames.entry(f.clone()).or_default() += stack_bytes(op, &operands);
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

/// The call graph of the ELF at `elf`.
fn read(elf: &Path) -> Result<Graph, String> {
    let out = Command::new(objdump()?)
        .args(["-d", "--no-show-raw-insn", "-C"])
        .arg(elf)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))?;
    let symbols = Command::new(objdump()?)
        .args(["-t", "-C"])
        .arg(elf)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))?;
    Ok(graph_sized(
        &String::from_utf8_lossy(&out.stdout),
        &sizes(&String::from_utf8_lossy(&symbols.stdout)),
    ))
}

/// A static bound on the stack `forward` uses: its frame plus, along the
/// deepest chain of direct calls, every callee's (a tail branch counted as
/// a call, so the bound only errs high). `Ok((bytes, chain))`, or an error
/// for recursion or an indirect call (no bound then). Run after [`check`]:
/// the panic machinery is not followed.
pub fn stack_bound(elf: &Path) -> Result<(u64, Vec<String>), String> {
    stack_bound_from(elf, |n| n.contains("::forward::"))
}

/// [`stack_bound`] from the function `is_root` picks (the first).
pub fn stack_bound_from(
    elf: &Path,
    is_root: impl Fn(&str) -> bool,
) -> Result<(u64, Vec<String>), String> {
    let g = read(elf)?;
    let root = g
        .edges
        .keys()
        .find(|n| is_root(n))
        .ok_or_else(|| format!("{}: no `forward` function", elf.display()))?;
    // Depth-first with memo; `open` marks the current chain (recursion).
    fn deepest<'a>(
        g: &'a Graph,
        f: &'a String,
        open: &mut BTreeSet<&'a String>,
        memo: &mut BTreeMap<&'a String, (u64, Vec<String>)>,
    ) -> Result<(u64, Vec<String>), String> {
        if let Some(m) = memo.get(f) {
            return Ok(m.clone());
        }
        if g.indirect.contains(f) {
            return Err(format!("indirect call in {f}: no static bound"));
        }
        if !open.insert(f) {
            return Err(format!("recursion through {f}: no static bound"));
        }
        let mut best = (0u64, Vec::new());
        for t in g.edges.get(f).into_iter().flatten().filter(|t| !panics(t)) {
            let d = deepest(g, t, open, memo)?;
            if d.0 > best.0 {
                best = d;
            }
        }
        open.remove(f);
        let mut chain = vec![format!(
            "{f} ({} bytes)",
            g.frames.get(f).copied().unwrap_or(0)
        )];
        chain.extend(best.1);
        let r = (g.frames.get(f).copied().unwrap_or(0) + best.0, chain);
        memo.insert(f, r.clone());
        Ok(r)
    }
    deepest(&g, root, &mut BTreeSet::new(), &mut BTreeMap::new())
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
    check_from(elf, |n| {
        n.contains("::forward::") || n.contains("::forward_probed::")
    })
}

/// [`check`] from the functions `is_root` picks (a C entry point, say).
pub fn check_from(elf: &Path, is_root: impl Fn(&str) -> bool) -> Result<usize, String> {
    let g = read(elf)?;
    let roots: Vec<&String> = g.edges.keys().filter(|n| is_root(n)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
00000100 <fw::model::forward::h1>:
     100:      \tpush\t{r4, r5, r7, lr}
     102:      \tsub\tsp, #0x10
     104:      \tbl\t0x200 <convnext::kernels::block::block_tiles::h2>
     108:      \tbl\t0x300 <leaf::h3>
     10c:      \tpop\t{r4, r5, r7, pc}

00000200 <convnext::kernels::block::block_tiles::h2>:
     200:      \tpush.w\t{r8, r9, r10, r11}
     204:      \tstr\tr11, [sp, #-4]!
     208:      \tsub.w\tsp, sp, #0x700
     20c:      \tbhi.w\t0x400 <core::panicking::panic_bounds_check>
     210:      \tb\t0x300 <leaf::h3>

00000300 <leaf::h3>:
     300:      \tbic\tr0, r0, #3
     302:      \tbx\tlr

00000400 <core::panicking::panic_bounds_check>:
     400:      \tbl\t0x500 <core::panicking::panic_fmt>
";

    #[test]
    fn the_graph_holds_calls_frames_and_panics() {
        let g = graph(LISTING);
        let tiles = "convnext::kernels::block::block_tiles::h2".to_string();
        assert_eq!(g.frames["fw::model::forward::h1"], 16 + 16);
        assert_eq!(g.frames[&tiles], 16 + 4 + 0x700);
        assert!(g.edges[&tiles].contains("core::panicking::panic_bounds_check"));
        assert!(g.edges[&tiles].contains("leaf::h3"));
        assert!(g.indirect.is_empty(), "bx lr is a return, bic no branch");
        let g = graph(&LISTING.replace("\tbx\tlr", "\tblx\tr3"));
        assert!(g.indirect.contains("leaf::h3"));
        assert!(panics("core::panicking::panic_bounds_check"));
        assert!(!panics("leaf::h3"));
    }
}
