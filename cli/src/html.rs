//! `convnext report --html FILE`: the report as one self-contained page
//! (no script, no external file): the model summary, where the calibration
//! came from, the per-op table, both charts as inline SVG and the board
//! fit, for a person to open or mail on.

use crate::fit::kib;
use serde_json::Value;
use std::fmt::Write;

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON array's numbers joined by `sep` (a shape).
fn joined(v: &Value, sep: &str) -> String {
    let parts: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.to_string())
        .collect();
    parts.join(sep)
}

/// The page of the report `j` (`convnext report --json`'s object),
/// `calibrated` (how the network was calibrated), the fit's lines and the
/// two charts.
pub fn page(j: &Value, calibrated: &str, fit: &[String], charts: &[String; 2]) -> String {
    let n = |k: &str| j[k].as_f64().unwrap_or(0.0);
    let model = j["model"].as_str().unwrap_or_default();
    let numerics = &j["numerics"];
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>int8 report: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; max-width: 75em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ margin: 1.5em 0; }}
.fit {{ font-family: monospace; white-space: pre; }}
</style></head><body>
<h1>int8 report: {title}</h1>
"#,
        title = esc(model)
    );
    let rows = [
        ("input (C, H, W)", joined(&j["input"], " x ")),
        ("parameters", format!("{:.0}", n("parameters"))),
        (
            "weights",
            format!(
                "{:.1} KiB ({:.0} bytes)",
                kib(n("weights_bytes") as usize),
                n("weights_bytes")
            ),
        ),
        (
            "arena",
            format!(
                "{:.0} bytes = {:.3} x the residual-stream bound ({:.0}); layer by layer {:.0}",
                n("arena_bytes"),
                n("arena_to_bound"),
                n("residual_bound_bytes"),
                n("layerwise_arena_bytes")
            ),
        ),
        ("MACs per inference", format!("{:.0}", n("macs"))),
        (
            "numerics",
            format!(
                "{} stream scales, {} hidden values",
                numerics["stream_scales"].as_str().unwrap_or_default(),
                numerics["hidden"].as_str().unwrap_or_default()
            ),
        ),
        ("calibration", calibrated.to_string()),
    ];
    s.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n");
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    s.push_str("</table>\n<h2>Ops</h2>\n<table id=\"ops\">\n");
    s.push_str("<tr><th>op</th><th>output</th><th>MMAC</th><th>weights KiB</th><th>arena KiB</th><th>layer by layer KiB</th><th>SQNR dB</th></tr>\n");
    for o in j["ops"].as_array().into_iter().flatten() {
        let f = |k: &str| o[k].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.1}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>",
            esc(o["name"].as_str().unwrap_or_default()),
            joined(&o["output_shape"], "x"),
            f("macs") / 1e6,
            kib(f("weights_bytes") as usize),
            kib(f("arena_live_bytes") as usize),
            kib(f("layerwise_bytes") as usize),
            o["sqnr_db"]
                .as_f64()
                .map_or("-".into(), |d| format!("{d:.1}"))
        );
    }
    s.push_str("</table>\n");
    if let Some(note) = j["sqnr_note"].as_str() {
        let _ = writeln!(s, "<p>{}</p>", esc(note));
    }
    s.push_str("<h2>Charts</h2>\n");
    for (id, chart) in ["arena", "sqnr"].iter().zip(charts) {
        let _ = writeln!(s, "<figure id=\"{id}\">\n{chart}</figure>");
    }
    if !fit.is_empty() {
        let _ = writeln!(
            s,
            "<h2>Fit</h2>\n<p class=\"fit\">{}</p>",
            esc(&fit.join("\n"))
        );
    }
    s.push_str("</body></html>\n");
    s
}
