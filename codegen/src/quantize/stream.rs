//! The residual stream's quantization. ConvNeXt's stream has a few channels
//! far wider than the rest (the default model's last stage: one channel to
//! ±142 where the median is ±8), so one scale per tensor spends most of its
//! 256 steps on them. Per channel, each stream's channel `c` has the scale
//! `unit * profile[c]`: the integer `profile` (1..=[`PROFILE_MAX`]) from the
//! channel's calibrated ranges, the `unit` and zero point the stream's. A
//! block adds its input to its output channel by channel with a multiplier
//! each (`BlockParams::residual`), its depthwise and pwconv2 multipliers,
//! per channel already, absorb the profiles; the LayerNorms that read the
//! stream itself (downsample, feature map, head) first multiply each channel
//! by its profile entry.

use super::QParams;
use crate::calibrate::{Range, Ranges};
use crate::error::{Error, Result};
use crate::reference::Point;
use convnext::kernels::tables::{profile_table, PROFILE_MAX};

/// How the residual stream is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamScales {
    /// One scale per channel of each stream (the default: 2 bytes of flash
    /// a channel of each downsample, feature map and head, a multiply an
    /// element in their LayerNorms).
    #[default]
    PerChannel,
    /// One scale per tensor.
    PerTensor,
}

impl std::fmt::Display for StreamScales {
    /// The CLI's spelling: `per-channel` or `per-tensor`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamScales::PerChannel => "per-channel",
            StreamScales::PerTensor => "per-tensor",
        })
    }
}

impl std::str::FromStr for StreamScales {
    type Err = String;

    /// The CLI's spelling back.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "per-channel" => Ok(StreamScales::PerChannel),
            "per-tensor" => Ok(StreamScales::PerTensor),
            _ => Err(format!("{s:?}: expected per-channel or per-tensor")),
        }
    }
}

/// One stream's quantization: channel `c`'s real value is
/// `unit.scale * profile[c] * (q - unit.zero_point)` (an empty profile: 1
/// for every channel, a per-tensor stream).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamQuant {
    /// The common unit and the zero point.
    pub unit: QParams,
    /// Each channel's multiplier of the unit; empty for one per tensor.
    pub profile: Vec<u16>,
}

impl StreamQuant {
    /// A stream with one scale for every channel.
    pub fn per_tensor(unit: QParams) -> Self {
        StreamQuant {
            unit,
            profile: Vec::new(),
        }
    }

    /// Channel `c`'s multiplier of the unit.
    pub fn multiplier(&self, c: usize) -> f64 {
        self.profile.get(c).map_or(1.0, |&m| m as f64)
    }

    /// Channel `c`'s scale.
    pub fn scale(&self, c: usize) -> f64 {
        self.unit.scale * self.multiplier(c)
    }

    /// The zero point (every channel's).
    pub fn zero_point(&self) -> i32 {
        self.unit.zero_point
    }

    /// The profile as the runtime's table (empty for a per-tensor stream).
    pub fn profile_table(&self) -> Vec<u8> {
        profile_table(&self.profile).collect()
    }

    /// Real value of byte `q` of channel `c`.
    pub fn dequantize(&self, q: i8, c: usize) -> f64 {
        self.scale(c) * (q as i32 - self.unit.zero_point) as f64
    }
}

/// Every stream's quantization for a network over `groups` (each: the
/// channels and the stream indices of one stage group, in order).
pub(super) fn stream_quants(
    ranges: &Ranges,
    groups: &[(usize, Vec<usize>)],
    scales: StreamScales,
) -> Result<Vec<(usize, StreamQuant)>> {
    let mut out = Vec::new();
    for (c, streams) in groups {
        match scales {
            StreamScales::PerTensor => {
                for &t in streams {
                    let r = super::range(ranges, Point::Stream(t))?;
                    out.push((t, StreamQuant::per_tensor(QParams::asymmetric(r))));
                }
            }
            StreamScales::PerChannel => out.extend(group(ranges, *c, streams)?),
        }
    }
    Ok(out)
}

/// One stage group's streams (the stream the stem or a downsample writes,
/// and the blocks after it): channel `ch` of stream `t` has a multiplier
/// the geometric mean of its own largest calibrated magnitude and the
/// group's (the geometric mean over the group's streams), scaled so the
/// widest is [`PROFILE_MAX`] (rounded up, at least 1); the unit then
/// covers every channel's range divided by its multiplier. The group's
/// share keeps a channel whose calibration images were quiet from
/// clipping on others.
fn group(ranges: &Ranges, c: usize, streams: &[usize]) -> Result<Vec<(usize, StreamQuant)>> {
    let channel = |t: usize, ch: usize| -> Result<Range> {
        ranges
            .get(&Point::StreamChannel(t, ch))
            .copied()
            .ok_or_else(|| {
                Error::input(format!(
                    "calibration has no per-channel ranges for stream {t} (a calibration saved \
                 before per-channel streams: calibrate again, or quantize per tensor)"
                ))
            })
    };
    // Natural logarithms of each channel's magnitude (a channel that never
    // moves counts as a tiny one).
    let ln_width = |t: usize, ch: usize| -> Result<f64> {
        Ok((channel(t, ch)?.abs_max() as f64).max(1e-12).ln())
    };
    let mut shared = vec![0f64; c];
    for &t in streams {
        for (ch, g) in shared.iter_mut().enumerate() {
            *g += ln_width(t, ch)? / streams.len().max(1) as f64;
        }
    }
    streams
        .iter()
        .map(|&t| {
            let rel = (0..c)
                .map(|ch| Ok(((ln_width(t, ch)? + shared[ch]) / 2.0).exp()))
                .collect::<Result<Vec<f64>>>()?;
            let top = rel.iter().copied().fold(0.0, f64::max);
            let max = PROFILE_MAX as f64;
            let profile: Vec<u16> = rel
                .iter()
                .map(|&r| match top > 0.0 {
                    true => (max * r / top).ceil().clamp(1.0, max) as u16,
                    false => 1,
                })
                .collect();
            let (mut min, mut max) = (0f32, 0f32);
            for (ch, &m) in profile.iter().enumerate() {
                let r = channel(t, ch)?;
                min = min.min(r.min / m as f32);
                max = max.max(r.max / m as f32);
            }
            let unit = QParams::asymmetric(Range { min, max });
            Ok((t, StreamQuant { unit, profile }))
        })
        .collect()
}
