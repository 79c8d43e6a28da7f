//! Head: global average pool (as a sum: LayerNorm is scale invariant), the
//! final LayerNorm (affine folded into the classifier) to i16 values over
//! [`HEAD_BITS`] bits (a few hundred channels: finer than int8 for `C`
//! bytes of scratch), the classifier. The logits stay int32 at one common
//! scale, so argmax is exact and integer.

use super::arena::{i32s, store_i32};
use super::in_place_map::InPlaceMap;
use super::layer_norm::{layer_norm, LayerNormParams};
use super::linear::QLinear;
use super::placement::{OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::Requant;
use super::tables::profile_at;

/// Bits of the head's normalised values (i16 in its scratch).
pub const HEAD_BITS: u32 = 12;

/// Constants and placement of the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams<B = &'static [u8]> {
    /// Shape of the last map.
    pub map: InPlaceMap,
    /// Arena placement (the last map; scratch `6 * c`: the sums, then the
    /// normalised values as i16).
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
    /// Normalised value to a [`HEAD_BITS`]-bit integer (zero point 0).
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
        6 * self.map.c
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
    let limit = 1 << (HEAD_BITS - 1);
    layer_norm(
        || i32s(sums),
        c,
        &p.ln,
        p.ln_requant,
        |i, v| {
            // (As a 2-byte array: no length to check, no panic.)
            if let Some(o) = y.get_mut(2 * i..).and_then(|y| y.first_chunk_mut::<2>()) {
                // (max and min, not clamp: clamp's own check of its bounds
                // would be a panic path in the firmware.)
                let [lo, hi] = (v.max(-limit).min(limit - 1) as i16).to_le_bytes();
                *o = [lo as i8, hi as i8];
            }
        },
    );
    probe.enter(Phase::Conv, (c * logits.len()) as u32);
    let Some(y) = arena.get(y_at..y_at + 2 * c) else {
        return;
    };
    for (o, out) in logits.iter_mut().enumerate() {
        let row = p.classifier.row(o, c);
        let dot = y
            .chunks_exact(2)
            .zip(row)
            .map(|(v, &w)| i16::from_le_bytes([v[0] as u8, v[1] as u8]) as i32 * w as i8 as i32)
            .fold(p.classifier.bias(o), i32::wrapping_add);
        *out = p.classifier.requant(o).apply_i32(dot);
    }
}
