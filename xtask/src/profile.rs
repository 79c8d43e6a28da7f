//! `cargo xtask profile-qemu [--board B] [--model DIR] [--json]`: where an
//! inference's instructions go, per op and per phase inside it, from the
//! board's profiling build (`--features profile`, see `boards/qemu-main.rs`),
//! checked against the plain firmware's count (within 1%).

use crate::board_run::{cargo_in_board, instructions_per_inference, summary_line};
use crate::boards::BOARDS;

/// One op phase as the profiling firmware printed it.
struct Row {
    op: String,
    phase: String,
    macs: u64,
    instructions: u64,
}

impl Row {
    /// `name` in the JSON: `op.phase`, or the op alone for one-phase ops.
    fn name(&self) -> String {
        format!("{}.{}", self.op, self.phase)
    }

    /// The JSON `kind`: what sort of kernel work this is.
    fn kind(&self) -> &'static str {
        match (self.phase.as_str(), self.op.as_str()) {
            ("layernorm", _) => "layernorm",
            ("depthwise", _) => "depthwise",
            ("pw1" | "pw2", _) => "pointwise",
            ("conv", "stem") => "stem",
            ("conv", op) if op.ends_with("_downsample") => "downsample",
            ("conv" | "pool", "head") => "head",
            _ => "other",
        }
    }
}

/// Parse `<board>: profile <op> <phase> macs <m> instructions <i>` lines.
fn rows(board: &str, text: &str) -> Vec<Row> {
    let prefix = format!("{board}: profile ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [op, phase, "macs", m, "instructions", i] => Some(Row {
                    op: op.into(),
                    phase: phase.into(),
                    macs: m.parse().ok()?,
                    instructions: i.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

fn per_mac(instructions: u64, macs: u64) -> String {
    if macs == 0 {
        "-".into()
    } else {
        format!("{:.2}", instructions as f64 / macs as f64)
    }
}

/// Run the profile and print it; false on any failure.
pub fn profile_qemu(args: &[String]) -> bool {
    let mut board_name = "qemu-an386";
    let (mut model, mut json, mut calibration) = (None, false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--board" => board_name = it.next().map_or("", |s| s.as_str()),
            "--model" => model = it.next().map(|s| s.as_str()),
            "--calibration-file" => {
                let file = it.next().map_or("", |s| s.as_str());
                match std::path::Path::new(file).canonicalize() {
                    // The boards' build scripts read it (children inherit it).
                    Ok(abs) => std::env::set_var("CONVNEXT_CALIBRATION_FILE", abs),
                    Err(e) => {
                        eprintln!("profile-qemu: --calibration-file {file}: {e}");
                        return false;
                    }
                }
                calibration = true;
            }
            "--json" => json = true,
            other => {
                eprintln!("profile-qemu: unexpected {other:?}; usage: cargo xtask profile-qemu [--board B] [--model DIR] [--calibration-file CAL.json] [--json]");
                return false;
            }
        }
    }
    if !calibration {
        std::env::remove_var("CONVNEXT_CALIBRATION_FILE");
    }
    let Some(b) = BOARDS.iter().find(|b| b.name == board_name && b.emulated()) else {
        let names: Vec<&str> = BOARDS
            .iter()
            .filter(|b| b.emulated())
            .map(|b| b.name)
            .collect();
        eprintln!(
            "profile-qemu: --board {board_name:?}: one of {}",
            names.join(", ")
        );
        return false;
    };
    let plain = match cargo_in_board(b, "run", None, model) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    let Some(plain_count) = summary_line(b, &plain).and_then(instructions_per_inference) else {
        eprintln!("{plain}\nno instruction count in the plain run");
        return false;
    };
    let text = match cargo_in_board(b, "run", Some("profile"), model) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    let rows = rows(b.name, &text);
    // The profiling build's own plain pass (its code is laid out a little
    // differently from the plain firmware's).
    let same_images = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{}: profile plain ", b.name)))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok());
    let Some(same_images) = same_images else {
        eprintln!("{text}\nno plain pass in the profile");
        return false;
    };
    let variants = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{}: profile kernels ", b.name)))
        .unwrap_or("unknown")
        .to_string();
    if rows.is_empty() {
        eprintln!("{text}\nno profile lines");
        return false;
    }
    let total: u64 = rows.iter().map(|r| r.instructions).sum();
    let macs: u64 = rows.iter().map(|r| r.macs).sum();
    // Checked against the profiling build's own plain pass over the same
    // images: the same code and images, so the phases must cover it. The
    // plain firmware is another link of the same source (the probed copies
    // of the kernels shift the compiler's inlining), reported beside it.
    let gap = (total as f64 - same_images as f64).abs() / same_images as f64;
    let build_gap = (same_images as f64 - plain_count as f64) / plain_count as f64;
    if json {
        let ops: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"name\":\"{}\",\"kind\":\"{}\",\"macs\":{},\"instructions\":{}}}",
                    r.name(),
                    r.kind(),
                    r.macs,
                    r.instructions
                )
            })
            .collect();
        println!(
            "{{\"board\":\"{}\",\"total_instructions\":{total},\"plain_instructions\":{same_images},\"plain_instructions_100_images\":{plain_count},\"total_macs\":{macs},\"kernels\":\"{variants}\",\"ops\":[{}]}}",
            b.name,
            ops.join(",")
        );
    } else {
        println!(
            "{} ({}), instructions per inference, QEMU -icount\n",
            b.name, b.core
        );
        println!("| op | phase | kind | MACs | instructions | per MAC |");
        println!("|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.op,
                r.phase,
                r.kind(),
                r.macs,
                r.instructions,
                per_mac(r.instructions, r.macs)
            );
        }
        println!("\nby kind:\n\n| kind | MACs | instructions | per MAC |\n|---|---|---|---|");
        for kind in [
            "stem",
            "depthwise",
            "layernorm",
            "pointwise",
            "downsample",
            "head",
            "other",
        ] {
            let (m, i) = rows
                .iter()
                .filter(|r| r.kind() == kind)
                .fold((0, 0), |(m, i), r| (m + r.macs, i + r.instructions));
            println!("| {kind} | {m} | {i} | {} |", per_mac(i, m));
        }
        println!(
            "\nphases sum to {total}; a plain pass of the profiling build over the same images \
             counts {same_images} ({:.2}% apart); the plain firmware counts {plain_count} \
             ({:.2}% {} than the profiling build)",
            gap * 100.0,
            build_gap.abs() * 100.0,
            if build_gap > 0.0 { "fewer" } else { "more" }
        );
    }
    if gap > 0.01 {
        eprintln!(
            "profile-qemu: phases ({total}) and the plain pass ({same_images}) differ by more than 1%"
        );
        return false;
    }
    true
}
