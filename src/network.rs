//! A network as a list of ops over one arena: what the host simulation runs,
//! and what generated firmware runs as straight-line calls. Also the
//! buffer checks of a forward pass and turning logits into classes.

use crate::kernels::block::{
    block_grn_in_place_probed, block_in_place_probed, block_in_place_tiled, BlockParams,
};
use crate::kernels::block_f16::{block_f16_in_place_probed, BlockF16Params};
use crate::kernels::downsample::{
    downsample_in_place_probed, downsample_in_place_tiled, DownsampleParams,
};
use crate::kernels::feature_map::{feature_map_probed, FeatureMapParams};
use crate::kernels::head::{head_probed, HeadParams};
use crate::kernels::in_place_map::HOST_GROUP_PIXELS;
use crate::kernels::prepared::Prepared;
use crate::kernels::probe::{NoProbe, Probe};
use crate::kernels::stem::{stem_in_place_probed, StemParams};
use crate::kernels::{OpFootprint, Placement};

/// One step of the fixed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Op<B = &'static [u8]> {
    /// Patchify conv + LayerNorm.
    Stem(StemParams<B>),
    /// A fused ConvNeXt block.
    Block(BlockParams<B>),
    /// A block kept in f16 weights / f32 arithmetic (mixed precision).
    BlockF16(BlockF16Params<B>),
    /// LayerNorm + 2x2 conv.
    Downsample(DownsampleParams<B>),
    /// Pool, LayerNorm, classifier.
    Head(HeadParams<B>),
    /// A backbone's feature map: the stream through its LayerNorm, into
    /// the caller's feature-map buffer.
    FeatureMap(FeatureMapParams<B>),
}

impl<B> AsRef<Op<B>> for Op<B> {
    fn as_ref(&self) -> &Op<B> {
        self
    }
}

/// Where a forward pass puts its results besides the arena.
#[derive(Debug)]
pub struct Outputs<'a> {
    /// int32 logits, `num_labels` of them (empty for a network without a head).
    pub logits: &'a mut [i32],
    /// int8 feature maps, one after another in `out_features` order (empty
    /// for a network without any).
    pub feature_maps: &'a mut [i8],
}

impl<'a> Outputs<'a> {
    /// Logits only (a classifier without feature maps).
    pub fn logits(logits: &'a mut [i32]) -> Self {
        Outputs {
            logits,
            feature_maps: &mut [],
        }
    }
}

impl<B: AsRef<[u8]>> Op<B> {
    /// Sizes, costs and placement of this op.
    pub fn footprint(&self) -> &dyn OpFootprint {
        match self {
            Op::Stem(p) => p,
            Op::Block(p) => p,
            Op::BlockF16(p) => p,
            Op::Downsample(p) => p,
            Op::Head(p) => p,
            Op::FeatureMap(p) => p,
        }
    }

    /// Where the op sits in the arena.
    pub fn placement(&self) -> Placement {
        match self {
            Op::Stem(p) => p.at,
            Op::Block(p) => p.at,
            Op::BlockF16(p) => p.at,
            Op::Downsample(p) => p.at,
            Op::Head(p) => p.at,
            Op::FeatureMap(p) => p.at,
        }
    }

    /// Place the op (the planner's job).
    pub fn set_placement(&mut self, at: Placement) {
        match self {
            Op::Stem(p) => p.at = at,
            Op::Block(p) => p.at = at,
            Op::BlockF16(p) => p.at = at,
            Op::Downsample(p) => p.at = at,
            Op::Head(p) => p.at = at,
            Op::FeatureMap(p) => p.at = at,
        }
    }

    /// Run this op over `arena`; the head writes `out.logits`, a feature
    /// map its part of `out.feature_maps`.
    pub fn run(&self, arena: &mut [i8], out: &mut Outputs<'_>, probe: &mut impl Probe) {
        match self {
            Op::Stem(p) => stem_in_place_probed(p, arena, probe),
            Op::Block(p) if p.grn.is_some() => block_grn_in_place_probed(p, arena, probe),
            Op::Block(p) => block_in_place_probed(p, arena, probe),
            Op::BlockF16(p) => block_f16_in_place_probed(p, arena, probe),
            Op::Downsample(p) => downsample_in_place_probed(p, arena, probe),
            Op::Head(p) => head_probed(p, arena, out.logits, probe),
            Op::FeatureMap(p) => feature_map_probed(p, arena, out.feature_maps, probe),
        }
    }

    /// [`Op::run`] with the host's wider block tiles where `arena` has
    /// their scratch ([`Op::host_scratch_bytes`]), and the host's prepared
    /// tables where it has them (`host`); the same bits.
    pub fn run_tiled(
        &self,
        host: Prepared<&[u8]>,
        arena: &mut [i8],
        out: &mut Outputs<'_>,
        probe: &mut impl Probe,
    ) {
        match self {
            Op::Block(p) => block_in_place_tiled(p, host, arena, probe),
            Op::Downsample(p) => downsample_in_place_tiled(p, host, arena, probe),
            _ => self.run(arena, out, probe),
        }
    }

    /// Scratch bytes [`Op::run_tiled`] uses for its wider tiles.
    pub fn host_scratch_bytes(&self) -> usize {
        match self {
            Op::Block(p) => p.scratch_bytes_tiled(HOST_GROUP_PIXELS),
            Op::Downsample(p) => p.scratch_bytes_tiled(HOST_GROUP_PIXELS),
            _ => self.footprint().scratch_bytes(),
        }
    }
}

/// Why a forward pass refused to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ForwardError {
    /// The arena is smaller than the plan needs.
    ArenaTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The input has the wrong number of bytes.
    InputSize {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        given: usize,
    },
    /// The logits buffer has the wrong length.
    LogitsSize {
        /// Labels expected.
        expected: usize,
        /// Length given.
        given: usize,
    },
    /// The feature-map buffer has the wrong length.
    FeatureMapsSize {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        given: usize,
    },
    /// A row-streamed forward got more or fewer image rows than the model
    /// takes.
    ImageRows {
        /// Rows the model takes.
        expected: usize,
        /// Rows given (so far).
        given: usize,
    },
    /// The schedule does not start with what the row-streamed forward runs
    /// (a stem, int8 blocks without GRN, a downsample).
    NotStreamable,
}

impl core::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ArenaTooSmall { needed, given } => {
                write!(f, "arena of {given} bytes; the plan needs {needed}")
            }
            Self::InputSize { expected, given } => {
                write!(f, "input of {given} bytes; the model takes {expected}")
            }
            Self::LogitsSize { expected, given } => {
                write!(
                    f,
                    "logits buffer of {given}; the model has {expected} labels"
                )
            }
            Self::ImageRows { expected, given } => {
                write!(f, "{given} image rows; the model takes {expected}")
            }
            Self::NotStreamable => write!(
                f,
                "this network cannot run row-streamed (it needs a stem, int8 blocks without GRN, then a downsample)"
            ),
            Self::FeatureMapsSize { expected, given } => {
                write!(
                    f,
                    "feature-map buffer of {given} bytes; the model's maps take {expected}"
                )
            }
        }
    }
}

impl core::error::Error for ForwardError {}

/// Index of the largest value, the first one on ties: how host, tests and
/// boards all turn logits into a class.
///
/// ```
/// assert_eq!(convnext::network::argmax(&[3, 9, -1, 9]), 1);
/// ```
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// One ranked class.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Class<'a> {
    /// Logit index.
    pub index: usize,
    /// Its name (`""` when `labels` is shorter than the logits).
    pub label: &'a str,
    /// Softmax probability over all logits.
    pub score: f32,
}

/// The `K` most likely classes, best first (ties: lower index first), with
/// softmax probabilities of `logit * logit_scale`. No heap: the result is a
/// `heapless::Vec`.
///
/// ```
/// use convnext::network::top_k;
///
/// let top = top_k::<2>(&[0, 200, 100], 0.01, &["cat", "dog", "bird"]);
/// assert_eq!((top[0].index, top[0].label), (1, "dog"));
/// assert_eq!(top[1].label, "bird");
/// assert!((top[0].score - 0.6652).abs() < 1e-3);
/// ```
pub fn top_k<'a, const K: usize>(
    logits: &[i32],
    logit_scale: f32,
    labels: &[&'a str],
) -> heapless::Vec<Class<'a>, K> {
    let mut top: heapless::Vec<Class<'a>, K> = heapless::Vec::new();
    if logits.is_empty() {
        return top;
    }
    let max = logits[argmax(logits)];
    let weight = |l: i32| libm::expf((l as i64 - max as i64) as f32 * logit_scale);
    let total: f32 = logits.iter().map(|&l| weight(l)).sum();
    for (index, &l) in logits.iter().enumerate() {
        // Insert after every entry at least as large: ties keep index order.
        let at = top
            .iter()
            .position(|c| logits[c.index] < l)
            .unwrap_or(top.len());
        if at == K {
            continue;
        }
        if top.len() == K {
            top.pop();
        }
        let class = Class {
            index,
            label: labels.get(index).copied().unwrap_or(""),
            score: weight(l) / total,
        };
        // Cannot fail: there is room after the pop above.
        let _ = top.insert(at, class);
    }
    top
}

/// Copy a u8 HWC image into the arena as the int8 input (`u8 - 128`).
pub fn load_input_u8(pixels: &[u8], arena: &mut [i8], offset: usize) {
    for (d, s) in arena[offset..offset + pixels.len()].iter_mut().zip(pixels) {
        *d = (*s as i16 - 128) as i8;
    }
}

/// Run `ops` in order over `arena` (already holding the input), writing the
/// int32 logits.
pub fn run_ops<'o, B: AsRef<[u8]> + 'o>(
    ops: impl IntoIterator<Item = &'o Op<B>>,
    arena: &mut [i8],
    logits: &mut [i32],
) {
    let mut out = Outputs::logits(logits);
    for op in ops {
        op.run(arena, &mut out, &mut NoProbe);
    }
}

/// [`run_ops`] into logits and feature maps, with the host's wider block
/// tiles where `arena` is large enough for them and each op's prepared
/// tables ([`Op::run_tiled`]): the host simulation's fast form, the same
/// bits.
pub fn run_ops_tiled<'o, B: AsRef<[u8]> + 'o>(
    ops: impl IntoIterator<Item = (&'o Op<B>, Prepared<&'o [u8]>)>,
    arena: &mut [i8],
    out: &mut Outputs<'_>,
) {
    for (op, host) in ops {
        op.run_tiled(host, arena, out, &mut NoProbe);
    }
}

/// Where one int8 feature map sits in a backbone's feature-map buffer, and
/// what its bytes mean (generated code lists them as `FEATURE_MAPS`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeatureMapSpec {
    /// `stem`, `stage1`, ... (HF `out_features`).
    pub name: &'static str,
    /// `(C, H, W)`; the bytes are HWC.
    pub shape: [usize; 3],
    /// First byte in the buffer.
    pub offset: usize,
    /// Real value = `scale * (q - zero_point)`.
    pub scale: f32,
    /// The int8 value of real 0.
    pub zero_point: i32,
}

impl FeatureMapSpec {
    /// Bytes of the map.
    pub const fn bytes(&self) -> usize {
        self.shape[0] * self.shape[1] * self.shape[2]
    }

    /// This map's bytes in the whole feature-map buffer (empty if `maps`
    /// is too short).
    pub fn of<'m>(&self, maps: &'m [i8]) -> &'m [i8] {
        maps.get(self.offset..self.offset + self.bytes())
            .unwrap_or(&[])
    }
}

/// The fixed sizes of a planned network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NetworkSpec {
    /// Arena bytes the plan needs.
    pub arena_bytes: usize,
    /// Where the int8 input goes in the arena.
    pub input_offset: usize,
    /// Input bytes (`H * W * C`, HWC order).
    pub input_bytes: usize,
    /// Number of logits (0 for a backbone without a head).
    pub num_labels: usize,
    /// Bytes of all feature maps (0 for a classifier without any).
    pub feature_map_bytes: usize,
}

/// Check buffer sizes, load the u8 HWC input and run: the whole int8 forward
/// pass. Never panics on bad sizes: they are errors.
pub fn forward_u8<'o, B: AsRef<[u8]> + 'o>(
    spec: &NetworkSpec,
    ops: impl IntoIterator<Item = &'o Op<B>>,
    input: &[u8],
    arena: &mut [i8],
    logits: &mut [i32],
) -> Result<(), ForwardError> {
    check_buffers(spec, input, arena, logits)?;
    load_input_u8(input, arena, spec.input_offset);
    run_ops(ops, arena, logits);
    Ok(())
}

/// Check the feature-map buffer of a forward pass against the plan's size.
pub fn check_feature_maps(spec: &NetworkSpec, maps: &[i8]) -> Result<(), ForwardError> {
    if maps.len() != spec.feature_map_bytes {
        return Err(ForwardError::FeatureMapsSize {
            expected: spec.feature_map_bytes,
            given: maps.len(),
        });
    }
    Ok(())
}

/// Check the three buffers of a forward pass against the plan's sizes.
pub fn check_buffers(
    spec: &NetworkSpec,
    input: &[u8],
    arena: &[i8],
    logits: &[i32],
) -> Result<(), ForwardError> {
    if arena.len() < spec.arena_bytes {
        return Err(ForwardError::ArenaTooSmall {
            needed: spec.arena_bytes,
            given: arena.len(),
        });
    }
    if input.len() != spec.input_bytes {
        return Err(ForwardError::InputSize {
            expected: spec.input_bytes,
            given: input.len(),
        });
    }
    if logits.len() != spec.num_labels {
        return Err(ForwardError::LogitsSize {
            expected: spec.num_labels,
            given: logits.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_ranks_ties_by_index_and_handles_short_inputs() {
        let top = top_k::<3>(&[5, 7, 7, 1], 1.0, &["a", "b"]);
        let idx: Vec<usize> = top.iter().map(|c| c.index).collect();
        assert_eq!(idx, [1, 2, 0]);
        assert_eq!(top[1].label, "");
        let sum: f32 = top_k::<4>(&[5, 7, 7, 1], 1.0, &[])
            .iter()
            .map(|c| c.score)
            .sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!(top_k::<2>(&[], 1.0, &[]).is_empty());
        assert_eq!(top_k::<1>(&[3], 1.0, &["x"])[0].score, 1.0);
    }
}
