//! Where an op sits in the arena, and the rule that lets a layer whose output
//! is laid out differently from its input (stem, downsample) work in place.

/// Byte offsets of one op's tensors and scratch in the arena, chosen by the
/// codegen planner. Ops that update their tensor in place (blocks, head)
/// have `input_offset == output_offset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Placement {
    /// Where the op's input tensor starts.
    pub input_offset: usize,
    /// Where its output tensor starts.
    pub output_offset: usize,
    /// Where its scratch starts (`scratch_bytes()` of the op's params).
    pub scratch_offset: usize,
}

/// How far above the output the input must start so that writing output
/// pixel `i` (bytes `[i * out_px_bytes, (i + 1) * out_px_bytes)` from the
/// output's start) never reaches input bytes a later output pixel reads.
/// `first_input(i)` is the lowest input byte (from the input's start) that
/// output pixel `i` reads; outputs are written in increasing `i`.
///
/// ```
/// use convnext::kernels::placement::in_place_lead;
///
/// // A 1x1 map of 4 pixels growing from 1 to 2 bytes a pixel: pixel 3 reads
/// // input byte 3 but pixels 0..3 write up to byte 6, so the input starts 3 up.
/// assert_eq!(in_place_lead(4, 2, |i| i), 3);
/// ```
pub fn in_place_lead(
    out_pixels: usize,
    out_px_bytes: usize,
    first_input: impl Fn(usize) -> usize,
) -> usize {
    (1..out_pixels)
        .map(|i| (i * out_px_bytes).saturating_sub(first_input(i)))
        .max()
        .unwrap_or(0)
}

/// What the planner and the report need to know about an op: its tensors,
/// its scratch, its parameters and its work. Each kernel's params type
/// implements it beside the kernel, so the sizes a kernel uses and the sizes
/// the planner reserves are one definition. (Where the op sits is its
/// `at: Placement` field.)
pub trait OpFootprint {
    /// Bytes of the input tensor.
    fn input_bytes(&self) -> usize;
    /// Bytes of the output tensor in the arena (0 for the head, whose
    /// logits go to the caller's buffer).
    fn output_bytes(&self) -> usize;
    /// Bytes of scratch above the tensors.
    fn scratch_bytes(&self) -> usize;
    /// How far above its output the input must start ([`in_place_lead`]);
    /// 0 for ops that update their tensor where it is.
    fn input_lead_bytes(&self) -> usize {
        0
    }
    /// Parameter bytes (weights, biases, multipliers, tables).
    fn weights_bytes(&self) -> usize;
    /// Multiply-accumulates per inference.
    fn macs(&self) -> u64;
}
