//! Head: global average pool (as a sum: LayerNorm is scale invariant), the
//! final LayerNorm (affine folded into the classifier), the classifier. The
//! logits stay int32 at one common scale, so argmax is exact and integer.

use super::arena::{i32s, store_i32};
use super::in_place_map::InPlaceMap;
use super::layer_norm::{layer_norm, LayerNormParams};
use super::linear::QLinear;
use super::placement::{OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::{clamp_i8, Requant};
use super::tables::profile_at;

/// Constants and placement of the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams<B = &'static [u8]> {
    /// Shape of the last map.
    pub map: InPlaceMap,
    /// Arena placement (the last map; scratch `5 * c`).
    pub at: Placement,
    /// Zero point of the last map.
    pub x_zero_point: i32,
    /// The last map's channel profile ([`super::tables::profile_at`];
    /// empty: per tensor).
    pub profile: B,
    /// Right shift (rounding) of each channel's sum times its profile
    /// multiplier, so the LayerNorm's inputs stay inside its limit.
    pub profile_shift: u32,
    /// LayerNorm constants (over the channel sums).
    pub ln: LayerNormParams,
    /// Normalised value to int8 (zero point 0).
    pub ln_requant: Requant,
    /// `[labels][c]`, LayerNorm γ and β folded in, to the common logit scale.
    pub classifier: QLinear<B>,
}

impl<B: AsRef<[u8]>> OpFootprint for HeadParams<B> {
    fn input_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn output_bytes(&self) -> usize {
        0
    }
    fn scratch_bytes(&self) -> usize {
        5 * self.map.c
    }
    fn weights_bytes(&self) -> usize {
        self.classifier.weights_bytes() + self.profile.as_ref().len()
    }
    fn macs(&self) -> u64 {
        (self.input_bytes() + self.map.c * self.classifier.outputs()) as u64
    }
}

/// Compute the int32 logits; `logits.len()` labels are written.
pub fn head<B: AsRef<[u8]>>(p: &HeadParams<B>, arena: &mut [i8], logits: &mut [i32]) {
    head_probed(p, arena, logits, &mut NoProbe)
}

/// [`head`], telling `probe` where its phases start.
pub fn head_probed<B: AsRef<[u8]>>(
    p: &HeadParams<B>,
    arena: &mut [i8],
    logits: &mut [i32],
    probe: &mut impl Probe,
) {
    let (hw, c) = (p.map.h * p.map.w, p.map.c);
    probe.enter(Phase::Pool, (hw * c) as u32);
    let (x, s) = (p.at.input_offset, p.at.scratch_offset);
    // (An arena shorter than the plan's: nothing is computed, and nothing
    // panics; `forward` checked its length already.)
    // The map lies below the scratch (the plan puts scratch above the live
    // tensors).
    let Some((map, scratch)) = arena
        .split_at_mut_checked(s)
        .and_then(|(lo, hi)| Some((lo.get(x..x + hw * c)?, hi)))
    else {
        return;
    };
    for ch in 0..c {
        let sum: i32 = map
            .iter()
            .skip(ch)
            .step_by(c.max(1))
            .map(|&v| v as i32 - p.x_zero_point)
            .sum();
        let scaled = sum as i64 * profile_at(p.profile.as_ref(), ch) as i64;
        let half = (1i64 << p.profile_shift.min(62)) >> 1;
        let v = (scaled + half) >> p.profile_shift.min(62);
        store_i32(
            scratch,
            4 * ch,
            v.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        );
    }
    let y_at = s + 4 * c;
    probe.enter(Phase::LayerNorm, 0);
    let Some((sums, y)) = arena
        .get_mut(s..)
        .and_then(|a| a.split_at_mut_checked(4 * c))
    else {
        return;
    };
    layer_norm(
        || i32s(sums),
        c,
        &p.ln,
        p.ln_requant,
        |i, v| {
            if let Some(o) = y.get_mut(i) {
                *o = clamp_i8(v);
            }
        },
    );
    probe.enter(Phase::Conv, (c * logits.len()) as u32);
    let Some(y) = arena.get(y_at..y_at + c) else {
        return;
    };
    for (o, out) in logits.iter_mut().enumerate() {
        *out = p.classifier.output(o, y);
    }
}
