//! The report's pictures as SVG, written by hand (no dependency): grouped
//! bars, one group per op, with an optional horizontal reference line. Each
//! bar carries `data-series`, `data-op` and `data-value`, so a script (or a
//! test) can read the numbers back.

use std::fmt::Write;

/// One series of bars: its name, colour and one value per op.
pub struct Series<'a> {
    /// Legend name, also the bars' `data-series`.
    pub name: &'a str,
    /// Fill colour.
    pub color: &'a str,
    /// One value per op (`None`: no bar).
    pub values: Vec<Option<f64>>,
}

/// Escape text for XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A grouped bar chart of `series` over `ops`, `y_label` on the axis, and
/// `line` (label, value) drawn across when given.
pub fn bars(
    title: &str,
    y_label: &str,
    ops: &[String],
    series: &[Series],
    line: Option<(&str, f64)>,
) -> String {
    let (left, top, bottom, right) = (70.0, 40.0, 120.0, 20.0);
    let group = 14.0 * series.len().max(1) as f64 + 10.0;
    let plot_w = group * ops.len().max(1) as f64;
    let plot_h = 260.0;
    let (w, h) = (left + plot_w + right, top + plot_h + bottom);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(line.map(|l| l.1))
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.1;
    let y = |v: f64| top + plot_h - plot_h * (v.max(0.0) / max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<title>{}</title>"#, esc(title));
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14">{}</text>"#,
        esc(title)
    );
    // Axis, with five ticks.
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>"#,
        top + plot_h
    );
    for i in 0..=4 {
        let v = max / 1.1 * i as f64 / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y(v) + 4.0,
            tick(v)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        esc(y_label)
    );
    for (i, op) in ops.iter().enumerate() {
        let x0 = left + group * i as f64 + 5.0;
        for (k, ser) in series.iter().enumerate() {
            let Some(v) = ser.values.get(i).copied().flatten() else {
                continue;
            };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="12" height="{:.1}" fill="{}" data-series="{}" data-op="{}" data-value="{v}"/>"#,
                x0 + 14.0 * k as f64,
                y(v),
                top + plot_h - y(v),
                ser.color,
                esc(ser.name),
                esc(op)
            );
        }
        let lx = x0 + group / 2.0 - 5.0;
        let ly = top + plot_h + 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" transform="rotate(60 {lx:.1} {ly:.1})">{}</text>"#,
            esc(op)
        );
    }
    if let Some((label, v)) = line {
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="crimson" stroke-dasharray="6 3" data-series="{}" data-value="{v}"/>"#,
            y(v),
            left + plot_w,
            y(v),
            esc(label)
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="crimson">{}</text>"#,
            left + plot_w,
            y(v) - 4.0,
            esc(label)
        );
    }
    // Legend.
    for (k, ser) in series.iter().enumerate() {
        let lx = left + 200.0 + 170.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="10" width="10" height="10" fill="{}"/><text x="{:.1}" y="19">{}</text>"#,
            ser.color,
            lx + 14.0,
            esc(ser.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A tick label: short, in the value's own scale.
fn tick(v: f64) -> String {
    if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bar_carries_its_numbers_and_the_text_is_escaped() {
        let ops = vec!["a<b".to_string(), "c".to_string()];
        let s = bars(
            "t & u",
            "bytes",
            &ops,
            &[Series {
                name: "live",
                color: "teal",
                values: vec![Some(10.0), None],
            }],
            Some(("bound", 7.0)),
        );
        assert!(s.starts_with("<svg ") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains(r#"data-series="live" data-op="a&lt;b" data-value="10""#));
        assert_eq!(s.matches("data-series=\"live\"").count(), 1);
        assert!(s.contains(r#"data-series="bound" data-value="7""#));
        assert!(s.contains("<title>t &amp; u</title>"));
    }
}
