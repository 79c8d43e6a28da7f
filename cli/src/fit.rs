//! Whether an int8 plan fits a board: the report's flash and RAM check
//! against `boards/boards.rs` or sizes the user gives.

use crate::boards::{Board, BOARDS};
use crate::failure::Failure;
use crate::options::ReportArgs;
use convnext_codegen::plan::Plan;

/// Flash for the runtime's code and constants beyond the parameter tables,
/// KiB, on cores with the DSP kernels: the default model's Cortex-M4F
/// firmware holds 47.5 KiB besides its 433.6 KiB of parameters and 76.6 KiB
/// of bundled images (`cargo xtask boards`), rounded up.
pub const CODE_KIB: f64 = 48.0;

/// The same on Armv6-M (the Cortex-M0+ of the Pico), whose scalar kernels
/// and checked forms take 60.2 KiB, rounded up.
pub const CODE_KIB_ARMV6M: f64 = 64.0;

/// RAM for the stack and static data beyond the arena, KiB: `forward`'s
/// static stack bound is 1.2 KiB (1.4 KiB on Armv6-M) and the emulated
/// boards paint 1.4 KiB (1.6 KiB) for the whole firmware (`cargo xtask
/// boards`), rounded up.
pub const STACK_KIB: f64 = 2.0;

/// Bytes in KiB.
pub fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// The flash and RAM to check against, and what to call them.
fn target(a: &ReportArgs) -> Result<Option<(String, f64, f64, f64)>, Failure> {
    if let Some(name) = &a.board {
        let b: &Board = BOARDS
            .iter()
            .find(|b| b.name == name || b.dir == name)
            .ok_or_else(|| {
                let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
                Failure::Usage(format!(
                    "--board {name:?}: not in boards/boards.rs (one of {})",
                    names.join(", ")
                ))
            })?;
        let code = if b.target.starts_with("thumbv6m") {
            CODE_KIB_ARMV6M
        } else {
            CODE_KIB
        };
        return Ok(Some((
            format!("{} ({})", b.name, b.core),
            b.flash.bytes as f64 / 1024.0,
            b.ram.bytes as f64 / 1024.0,
            code,
        )));
    }
    Ok(match (a.flash, a.ram) {
        (Some(f), Some(r)) => Some(("the given sizes".into(), f, r, CODE_KIB)),
        _ => None,
    })
}

/// The fit check as JSON (`null` when none was asked for).
pub fn check(a: &ReportArgs, plan: &Plan) -> Result<serde_json::Value, Failure> {
    let Some((what, flash, ram, code)) = target(a)? else {
        return Ok(serde_json::Value::Null);
    };
    let flash_need = kib(plan.weights_bytes()) + code;
    let ram_need = kib(plan.arena_bytes) + STACK_KIB;
    Ok(serde_json::json!({
        "target": what,
        "flash_kib": flash,
        "ram_kib": ram,
        "flash_need_kib": flash_need,
        "ram_need_kib": ram_need,
        "code_kib": code,
        "stack_kib": STACK_KIB,
        "fits": flash_need <= flash && ram_need <= ram,
        "flash_short_kib": (flash_need - flash).max(0.0),
        "ram_short_kib": (ram_need - ram).max(0.0),
    }))
}

/// The fit check as text lines (none without a target).
pub fn lines(fit: &serde_json::Value) -> Vec<String> {
    if fit.is_null() {
        return Vec::new();
    }
    let f = |k: &str| fit[k].as_f64().unwrap_or(0.0);
    let line = |what: &str, need: f64, have: f64, short: f64| {
        if short > 0.0 {
            format!("{what} {need:.1} KiB of {have:.1} KiB: does not fit, by {short:.1} KiB")
        } else {
            format!(
                "{what} {need:.1} KiB of {have:.1} KiB: fits, {:.1} KiB to spare",
                have - need
            )
        }
    };
    vec![
        format!("fit on {}:", fit["target"].as_str().unwrap_or_default()),
        line(
            "flash",
            f("flash_need_kib"),
            f("flash_kib"),
            f("flash_short_kib"),
        ),
        line("RAM  ", f("ram_need_kib"), f("ram_kib"), f("ram_short_kib")),
        format!(
            "(flash: parameters + {} KiB of runtime code; RAM: arena + {} KiB of stack, forward's measured bound 1.2 to 1.4 KiB)",
            f("code_kib"),
            f("stack_kib")
        ),
    ]
}

/// The fit check as text.
pub fn print(fit: &serde_json::Value) {
    for (i, l) in lines(fit).iter().enumerate() {
        match i {
            0 => println!("\n{l}"),
            _ => println!("  {l}"),
        }
    }
}
