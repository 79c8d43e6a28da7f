//! A backbone's feature map (HF `ConvNextBackbone`): one stage's output
//! through its own LayerNorm with the affine, written as int8 HWC into the
//! caller's feature-map buffer rather than the arena, so handing out a map
//! costs no arena bytes and leaves the stream as it was.

use super::in_place_map::InPlaceMap;
use super::layer_norm::{affine_i8, layer_norm, LayerNormParams, Q16};
use super::placement::{OpFootprint, Placement};
use super::probe::{NoProbe, Phase, Probe};
use super::tables::profile_at;

/// Constants and placement of one feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureMapParams<B = &'static [u8]> {
    /// Shape of the map.
    pub map: InPlaceMap,
    /// The stream it reads (`input_offset`; the op writes nothing there).
    pub at: Placement,
    /// The stream's zero point.
    pub x_zero_point: i32,
    /// The stream's channel profile ([`super::tables::profile_at`]; empty:
    /// per tensor).
    pub profile: B,
    /// Where the map starts in the feature-map buffer.
    pub output_offset: usize,
    /// LayerNorm constants for the stream's unit.
    pub ln: LayerNormParams,
    /// Per channel: Q16 normalised value times γ to the map's scale.
    pub out_requant: B,
    /// Per channel (i32): β in the map's units plus its zero point.
    pub out_offset: B,
}

impl<B> FeatureMapParams<B> {
    /// Bytes of the map (`h * w * c`), in the feature-map buffer.
    pub fn map_bytes(&self) -> usize {
        self.map.bytes()
    }
}

impl<B: AsRef<[u8]>> OpFootprint for FeatureMapParams<B> {
    fn input_bytes(&self) -> usize {
        self.map_bytes()
    }
    /// The stream, unchanged where it was (the map goes to the caller).
    fn output_bytes(&self) -> usize {
        self.map_bytes()
    }
    fn scratch_bytes(&self) -> usize {
        0
    }
    fn weights_bytes(&self) -> usize {
        self.out_requant.as_ref().len()
            + self.out_offset.as_ref().len()
            + self.profile.as_ref().len()
    }
    fn macs(&self) -> u64 {
        0
    }
}

/// Write the feature map of the stream in `arena` into `maps`.
pub fn feature_map<B: AsRef<[u8]>>(p: &FeatureMapParams<B>, arena: &[i8], maps: &mut [i8]) {
    feature_map_probed(p, arena, maps, &mut NoProbe)
}

/// [`feature_map`], telling `probe` where its LayerNorm starts. A `maps`
/// or `arena` shorter than the plan's gets nothing more written (no panic;
/// `forward` checked both lengths already).
pub fn feature_map_probed<B: AsRef<[u8]>>(
    p: &FeatureMapParams<B>,
    arena: &[i8],
    maps: &mut [i8],
    probe: &mut impl Probe,
) {
    let (c, profile) = (p.map.c, p.profile.as_ref());
    probe.enter(Phase::LayerNorm, 0);
    let (Some(x), Some(out)) = (
        arena.get(p.at.input_offset..p.at.input_offset + p.map_bytes()),
        maps.get_mut(p.output_offset..p.output_offset + p.map_bytes()),
    ) else {
        return;
    };
    for (px, out) in x.chunks_exact(c.max(1)).zip(out.chunks_exact_mut(c.max(1))) {
        layer_norm(
            || {
                px.iter()
                    .enumerate()
                    .map(|(i, &q)| (q as i32 - p.x_zero_point) * profile_at(profile, i))
            },
            c,
            &p.ln,
            Q16,
            |i, y| {
                if let Some(o) = out.get_mut(i) {
                    *o = affine_i8(p.out_requant.as_ref(), p.out_offset.as_ref(), i, y);
                }
            },
        );
    }
}
