//! Activation ranges from calibration images: run the f32 reference and
//! record every tensor the int8 plan quantizes, as min/max or as
//! percentiles of a histogram (a second pass over the same images).

use crate::model::Model;
use crate::reference::{check_pixel_values, observe_images_parallel, Observer, Point};
use crate::tensor::Tensor;
use crate::Result;
use std::collections::BTreeMap;

/// How to turn observed values into a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// The extremes seen.
    MinMax,
    /// The `p` and `1 - p` quantiles (e.g. 0.9999), per tensor.
    Percentile(f64),
}

impl std::fmt::Display for Calibration {
    /// The CLI's spelling: `minmax` or `percentile:P`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Calibration::MinMax => write!(f, "minmax"),
            Calibration::Percentile(p) => write!(f, "percentile:{p}"),
        }
    }
}

impl std::str::FromStr for Calibration {
    type Err = String;

    /// The CLI's spelling back: `minmax` or `percentile:P` with
    /// `0.5 <= P <= 1`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "minmax" {
            return Ok(Calibration::MinMax);
        }
        s.strip_prefix("percentile:")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| (0.5..=1.0).contains(v))
            .map(Calibration::Percentile)
            .ok_or_else(|| format!("{s:?}: expected minmax or percentile:P (0.5 <= P <= 1)"))
    }
}

/// The range chosen for one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower end.
    pub min: f32,
    /// Upper end.
    pub max: f32,
}

impl Range {
    /// Largest magnitude.
    pub fn abs_max(&self) -> f32 {
        self.min.abs().max(self.max.abs())
    }
}

/// Ranges of every observed tensor.
pub type Ranges = BTreeMap<Point, Range>;

/// Channels of each residual stream, in [`Point::Stream`] order: the
/// stem's, then per stage its downsample's (if any) and its blocks'.
pub fn stream_channels(model: &Model) -> Vec<usize> {
    let sizes = &model.config.hidden_sizes;
    let mut out = vec![sizes.first().copied().unwrap_or(0)];
    for (s, stage) in model.stages.iter().enumerate() {
        let c = sizes.get(s).copied().unwrap_or(0);
        let ops = stage.downsample.iter().count() + stage.blocks.len();
        out.extend(std::iter::repeat_n(c, ops));
    }
    out
}

/// The channels of stream `n` when its values (HWC) hold whole pixels.
fn per_channel(channels: &[usize], n: usize, values: &[f32]) -> Option<usize> {
    let c = channels.get(n).copied().filter(|&c| c > 0)?;
    values.len().is_multiple_of(c).then_some(c)
}

struct MinMax<'a> {
    ranges: Ranges,
    channels: &'a [usize],
}

impl MinMax<'_> {
    fn extend(&mut self, point: Point, values: &[f32]) {
        let r = self.ranges.entry(point).or_insert(Range {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        });
        // Eight lanes side by side (one running min and max would be a
        // dependency chain per value), then folded: the same extremes.
        let (mut lo, mut hi) = ([r.min; 8], [r.max; 8]);
        let mut chunks = values.chunks_exact(8);
        for c in &mut chunks {
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
                *l = l.min(v);
                *h = h.max(v);
            }
        }
        for &v in chunks.remainder() {
            lo[0] = lo[0].min(v);
            hi[0] = hi[0].max(v);
        }
        r.min = lo.iter().fold(r.min, |m, &v| m.min(v));
        r.max = hi.iter().fold(r.max, |m, &v| m.max(v));
    }
}

impl Observer for MinMax<'_> {
    fn observe(&mut self, point: Point, values: &[f32]) {
        self.extend(point, values);
        // A stream's channels each on their own too.
        if let Point::Stream(n) = point {
            if let Some(c) = per_channel(self.channels, n, values) {
                for ch in 0..c {
                    let (lo, hi) = values
                        .iter()
                        .skip(ch)
                        .step_by(c)
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                            (a.min(v), b.max(v))
                        });
                    self.extend(Point::StreamChannel(n, ch), &[lo, hi]);
                }
            }
        }
    }
}

const BINS: usize = 4096;

/// Bins of one stream channel's histogram (a model has thousands of them).
const CHANNEL_BINS: usize = 512;

struct Histograms<'a> {
    ranges: &'a Ranges,
    channels: &'a [usize],
    hist: BTreeMap<Point, Vec<u64>>,
}

impl Observer for Histograms<'_> {
    fn observe(&mut self, point: Point, values: &[f32]) {
        self.count(point, values, BINS);
        if let Point::Stream(n) = point {
            if let Some(c) = per_channel(self.channels, n, values) {
                let mut column = Vec::with_capacity(values.len() / c);
                for ch in 0..c {
                    column.clear();
                    column.extend(values.iter().skip(ch).step_by(c));
                    self.count(Point::StreamChannel(n, ch), &column, CHANNEL_BINS);
                }
            }
        }
    }
}

impl Histograms<'_> {
    fn count(&mut self, point: Point, values: &[f32], bins_n: usize) {
        let Some(&r) = self.ranges.get(&point) else {
            return;
        };
        let h = self.hist.entry(point).or_insert_with(|| vec![0; bins_n]);
        let width = (r.max - r.min).max(f32::MIN_POSITIVE);
        // The bins of 64 values at a time in a loop of their own (it
        // vectorises), then the counts.
        let mut bins = [0u16; 64];
        for chunk in values.chunks(64) {
            for (b, &v) in bins.iter_mut().zip(chunk) {
                // Clamped as a float (NaN and below 0 to 0, as `as usize`
                // saturates them), so the conversion is a plain one.
                let at = (((v - r.min) / width) * bins_n as f32)
                    .max(0.0)
                    .min((bins_n - 1) as f32);
                *b = at as u16;
            }
            for &b in &bins[..chunk.len()] {
                h[b as usize] += 1;
            }
        }
    }
}

/// Observe `pixel_values` `(N, C, H, W)` through the model and choose ranges.
pub fn calibrate(model: &Model, pixel_values: &Tensor, method: Calibration) -> Result<Ranges> {
    // NaN or infinite calibration images would poison every range.
    check_pixel_values(model, pixel_values).map_err(|e| match e {
        crate::Error::Input { message } => {
            crate::Error::input(format!("calibration images: {message}"))
        }
        other => other,
    })?;
    if pixel_values.shape.first() == Some(&0) {
        return Err(crate::Error::input(
            "the calibration set is empty: give at least one image (--calibration CAL.npy)",
        ));
    }
    // Each pass over the cores, each thread's observations merged.
    let channels = stream_channels(model);
    let min_max = || MinMax {
        ranges: Ranges::new(),
        channels: &channels,
    };
    let mut mm = min_max();
    for part in observe_images_parallel(model, pixel_values, min_max) {
        for (point, r) in part.ranges {
            mm.extend(point, &[r.min, r.max]);
        }
    }
    let Calibration::Percentile(p) = method else {
        return Ok(mm.ranges);
    };
    let histograms = || Histograms {
        ranges: &mm.ranges,
        channels: &channels,
        hist: BTreeMap::new(),
    };
    let mut hs = histograms();
    for part in observe_images_parallel(model, pixel_values, histograms) {
        for (point, h) in part.hist {
            let sum = hs.hist.entry(point).or_insert_with(|| vec![0; h.len()]);
            for (s, v) in sum.iter_mut().zip(h) {
                *s += v;
            }
        }
    }
    let mut out = Ranges::new();
    for (point, h) in &hs.hist {
        let r = mm.ranges[point];
        let bins_n = h.len();
        let total: u64 = h.iter().sum();
        let tail = ((1.0 - p) * total as f64).floor() as u64;
        let width = (r.max - r.min) / bins_n as f32;
        let (mut lo, mut acc) = (0, 0);
        while lo < bins_n - 1 && acc + h[lo] <= tail {
            acc += h[lo];
            lo += 1;
        }
        let (mut hi, mut acc) = (bins_n - 1, 0);
        while hi > 0 && acc + h[hi] <= tail {
            acc += h[hi];
            hi -= 1;
        }
        out.insert(
            *point,
            Range {
                min: r.min + lo as f32 * width,
                max: r.min + (hi + 1) as f32 * width,
            },
        );
    }
    Ok(out)
}
