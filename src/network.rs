//! A network as a list of ops over one arena: what the host simulation runs,
//! and what generated firmware runs as straight-line calls.

use crate::kernels::block::{block_in_place, BlockParams};
use crate::kernels::block_f16::{block_f16_in_place, BlockF16Params};
use crate::kernels::downsample::{downsample_in_place, DownsampleParams};
use crate::kernels::head::{head, HeadParams};
use crate::kernels::stem::{stem_in_place, StemParams};

/// One step of the fixed schedule.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Patchify conv + LayerNorm.
    Stem(StemParams<'a>),
    /// A fused ConvNeXt block.
    Block(BlockParams<'a>),
    /// A block kept in f16 weights / f32 arithmetic (mixed precision).
    BlockF16(BlockF16Params<'a>),
    /// LayerNorm + 2x2 conv.
    Downsample(DownsampleParams<'a>),
    /// Pool, LayerNorm, classifier.
    Head(HeadParams<'a>),
}

/// Why a forward pass refused to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// Index of the largest value, the first one on ties: how host, tests and
/// boards all turn logits into a class.
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// Copy a u8 HWC image into the arena as the int8 input (`u8 - 128`).
pub fn load_input_u8(pixels: &[u8], arena: &mut [i8], offset: usize) {
    for (d, s) in arena[offset..offset + pixels.len()].iter_mut().zip(pixels) {
        *d = (*s as i16 - 128) as i8;
    }
}

/// Run `ops` in order over `arena` (already holding the input), writing the
/// int32 logits.
pub fn run_ops(ops: &[Op], arena: &mut [i8], logits: &mut [i32]) {
    for op in ops {
        match op {
            Op::Stem(p) => stem_in_place(p, arena),
            Op::Block(p) => block_in_place(p, arena),
            Op::BlockF16(p) => block_f16_in_place(p, arena),
            Op::Downsample(p) => downsample_in_place(p, arena),
            Op::Head(p) => head(p, arena, logits),
        }
    }
}

/// The fixed sizes of a planned network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkSpec {
    /// Arena bytes the plan needs.
    pub arena_bytes: usize,
    /// Where the int8 input goes in the arena.
    pub input_offset: usize,
    /// Input bytes (`H * W * C`, HWC order).
    pub input_bytes: usize,
    /// Number of logits.
    pub num_labels: usize,
}

/// Check buffer sizes, load the u8 HWC input and run: the whole int8 forward
/// pass. Never panics on bad sizes: they are errors.
pub fn forward_u8(
    spec: &NetworkSpec,
    ops: &[Op],
    input: &[u8],
    arena: &mut [i8],
    logits: &mut [i32],
) -> Result<(), ForwardError> {
    check_buffers(spec, input, arena, logits)?;
    load_input_u8(input, arena, spec.input_offset);
    run_ops(ops, arena, logits);
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
