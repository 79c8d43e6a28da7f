//! A network as a list of ops over one arena: what the host simulation runs,
//! and what generated firmware runs as straight-line calls.

use crate::kernels::block::{block_in_place, BlockParams};
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
            Op::Downsample(p) => downsample_in_place(p, arena),
            Op::Head(p) => head(p, arena, logits),
        }
    }
}

/// Check buffer sizes, load the input and run: the whole int8 forward pass.
pub fn forward_u8(
    ops: &[Op],
    arena_bytes: usize,
    input_offset: usize,
    input: &[u8],
    input_bytes: usize,
    arena: &mut [i8],
    logits: &mut [i32],
    num_labels: usize,
) -> Result<(), ForwardError> {
    if arena.len() < arena_bytes {
        return Err(ForwardError::ArenaTooSmall {
            needed: arena_bytes,
            given: arena.len(),
        });
    }
    if input.len() != input_bytes {
        return Err(ForwardError::InputSize {
            expected: input_bytes,
            given: input.len(),
        });
    }
    if logits.len() != num_labels {
        return Err(ForwardError::LogitsSize {
            expected: num_labels,
            given: logits.len(),
        });
    }
    load_input_u8(input, arena, input_offset);
    run_ops(ops, arena, logits);
    Ok(())
}
