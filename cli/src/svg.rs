//! The report's pictures as SVG, written by hand (no dependency): grouped
//! bars, one group per op, with an optional horizontal reference line; the
//! title, then a legend entry for every series and the line, then the plot,
//! one number format on the axis. Each bar carries `data-series`, `data-op`
//! and `data-value`, so a script (or a test) can read the numbers back.

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

/// Approximate width of `text` at `size` px in a sans-serif face (the
/// layout keeps every text inside the picture and off the others by it).
fn text_width(text: &str, size: f64) -> f64 {
    0.6 * size * text.chars().count() as f64
}

/// The axis' ticks: a round step (1, 2, 2.5 or 5 times a power of ten)
/// from 0 to at least `max`, and the one number format all of them use.
fn ticks(max: f64) -> (Vec<f64>, impl Fn(f64) -> String) {
    let raw = (max / 4.0).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p);
    let n = (max / step).ceil().max(1.0) as usize;
    let values: Vec<f64> = (0..=n).map(|i| step * i as f64).collect();
    let top = step * n as f64;
    let (unit, div) = if top >= 1e4 { ("k", 1e3) } else { ("", 1.0) };
    let decimals = if (step / div).fract().abs() < 1e-9 {
        0
    } else if (step / div * 10.0).fract().abs() < 1e-9 {
        1
    } else {
        2
    };
    (values, move |v: f64| {
        format!("{:.*}{unit}", decimals, v / div)
    })
}

/// A grouped bar chart of `series` over `ops`, `y_label` on the axis, and
/// `line` (label, value) drawn across when given. The title is on the first
/// row, the legend (every series and the line) on the rows below it, the
/// plot under them; the picture is wide enough for each.
pub fn bars(
    title: &str,
    y_label: &str,
    ops: &[String],
    series: &[Series],
    line: Option<(&str, f64)>,
) -> String {
    let (left, right, bottom) = (70.0, 20.0, 120.0);
    // Each op's group of bars, 14 px a series at least, wider where the
    // title makes the picture wider (the plot spans the picture).
    let k = series.len().max(1) as f64;
    let n = ops.len().max(1) as f64;
    let w = (left + (14.0 * k + 10.0) * n + right).max(20.0 + text_width(title, 14.0) + 20.0);
    let plot_w = w - left - right;
    let group = plot_w / n;
    let pitch = ((group - 10.0) / k).min(40.0);
    let bar = pitch - 2.0;
    let lead = (group - pitch * k) / 2.0;
    // Legend entries (swatch, gap, text), laid out in rows that fit `w`.
    let entries: Vec<(&str, Option<&str>)> = series
        .iter()
        .map(|s| (s.name, Some(s.color)))
        .chain(line.map(|(label, _)| (label, None)))
        .collect();
    let mut legend = Vec::new();
    let (mut lx, mut row) = (20.0, 0usize);
    for (name, color) in &entries {
        let ew = 14.0 + text_width(name, 11.0) + 18.0;
        if lx + ew > w - 10.0 && lx > 20.0 {
            lx = 20.0;
            row += 1;
        }
        legend.push((lx, row, *name, *color));
        lx += ew;
    }
    let top = 36.0 + 16.0 * (row + 1) as f64 + 10.0;
    let plot_h = 260.0;
    let h = top + plot_h + bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(line.map(|l| l.1))
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let (tick_values, tick) = ticks(max);
    let axis_max = tick_values.last().copied().unwrap_or(max).max(max);
    let y = |v: f64| top + plot_h - plot_h * (v.max(0.0) / axis_max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<title>{}</title>"#, esc(title));
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="20" y="22" font-size="14" data-role="title">{}</text>"#,
        esc(title)
    );
    for (lx, row, name, color) in legend {
        let ly = 36.0 + 16.0 * row as f64;
        let swatch = match color {
            Some(c) => format!(
                r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{c}"/>"#,
                ly - 9.0
            ),
            None => format!(
                r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="crimson" stroke-dasharray="4 2"/>"#,
                ly - 4.0,
                lx + 10.0,
                ly - 4.0
            ),
        };
        let _ = writeln!(
            s,
            r#"{swatch}<text x="{:.1}" y="{ly:.1}" data-role="legend">{}</text>"#,
            lx + 14.0,
            esc(name)
        );
    }
    // Axis and its ticks.
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>"#,
        top + plot_h
    );
    for &v in &tick_values {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" data-role="tick">{}</text>"#,
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
        let x0 = left + group * i as f64 + lead;
        for (j, ser) in series.iter().enumerate() {
            let Some(v) = ser.values.get(i).copied().flatten() else {
                continue;
            };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{}" data-series="{}" data-op="{}" data-value="{v}"/>"#,
                x0 + pitch * j as f64,
                y(v),
                top + plot_h - y(v),
                ser.color,
                esc(ser.name),
                esc(op)
            );
        }
        let lx = left + group * (i as f64 + 0.5) - 5.0;
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
    }
    s.push_str("</svg>\n");
    s
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

    /// The texts' boxes (from `text_width`) of the title and legend rows.
    fn boxes(s: &str, role: &str) -> Vec<(f64, f64, f64)> {
        s.lines()
            .filter(|l| l.contains(&format!(r#"data-role="{role}""#)))
            .map(|l| {
                let attr = |name: &str| -> f64 {
                    let at = l.rfind(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    l[at..].split('"').next().unwrap().parse().unwrap()
                };
                let text = l.rsplit_once('>').unwrap().0.rsplit_once('>').unwrap().1;
                let text = text.trim_end_matches("</text");
                let size = if role == "title" { 14.0 } else { 11.0 };
                (attr("x"), attr("y"), text_width(text, size))
            })
            .collect()
    }

    #[test]
    fn every_series_has_a_legend_entry_and_no_text_leaves_the_picture_or_meets_another() {
        let ops: Vec<String> = (0..9).map(|i| format!("stage{i}_block0")).collect();
        let long_title = "int8 output against f32, per op (SQNR on the calibration images)";
        let s = bars(
            long_title,
            "bytes",
            &ops,
            &[
                Series {
                    name: "in-place plan",
                    color: "teal",
                    values: (0..9).map(|i| Some(8000.0 + 900.0 * i as f64)).collect(),
                },
                Series {
                    name: "layer by layer",
                    color: "#bbbbbb",
                    values: (0..9).map(|i| Some(20000.0 + 3000.0 * i as f64)).collect(),
                },
            ],
            Some(("residual-stream bound", 7840.0)),
        );
        let width: f64 = s
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let title = boxes(&s, "title");
        let legend = boxes(&s, "legend");
        assert_eq!(legend.len(), 3, "{s}");
        let all: Vec<_> = title.iter().chain(&legend).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(a.0 >= 0.0 && a.0 + a.2 <= width, "{a:?} outside {width}");
            for b in &all[i + 1..] {
                let same_row = (a.1 - b.1).abs() < 12.0;
                let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0;
                assert!(!same_row || apart, "{a:?} meets {b:?}");
            }
        }
        // One number format on the axis: every tick in thousands here.
        let ticks: Vec<&str> = s
            .lines()
            .filter(|l| l.contains(r#"data-role="tick""#))
            .map(|l| l.rsplit_once("\">").unwrap().1.trim_end_matches("</text>"))
            .collect();
        assert!(
            ticks.len() >= 3 && ticks.iter().all(|t| t.ends_with('k')),
            "{ticks:?}"
        );
    }
}
