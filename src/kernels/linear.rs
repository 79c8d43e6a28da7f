//! A quantized linear map: int8 weight rows, an int32 bias and a requant
//! multiplier per output. Every pointwise layer, the downsample and stem
//! convolutions, the classifier and (per channel) the depthwise filter are one.

use super::dot::dot_i8;
use super::requantize::{requant_at, Requant};
use super::tables::i32_at;

/// Weights, biases and multipliers of one layer, as byte tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QLinear<B = &'static [u8]> {
    /// int8 weights, one row per output (the row layout is the kernel's).
    pub weights: B,
    /// int32 bias per output, little-endian ([`super::tables::i32_at`]).
    pub bias: B,
    /// Requant multiplier per output ([`super::requantize::requant_at`]).
    pub requant: B,
}

impl<B: AsRef<[u8]>> QLinear<B> {
    /// Number of outputs.
    #[inline]
    pub fn outputs(&self) -> usize {
        self.bias.as_ref().len() / 4
    }

    /// Bias of output `o`.
    #[inline]
    pub fn bias(&self, o: usize) -> i32 {
        i32_at(self.bias.as_ref(), o)
    }

    /// Multiplier of output `o`.
    #[inline]
    pub fn requant(&self, o: usize) -> Requant {
        requant_at(self.requant.as_ref(), o)
    }

    /// Weight row of output `o`, `len` weights long.
    #[inline]
    pub fn row(&self, o: usize, len: usize) -> &[u8] {
        &self.weights.as_ref()[o * len..(o + 1) * len]
    }

    /// `bias[o] + row(o) · x`: the accumulator of output `o`.
    #[inline]
    pub fn acc(&self, o: usize, x: &[i8]) -> i32 {
        dot_i8(self.bias(o), x, self.row(o, x.len()))
    }

    /// Output `o` requantized (not yet offset or saturated).
    #[inline]
    pub fn output(&self, o: usize, x: &[i8]) -> i64 {
        self.requant(o).apply(self.acc(o, x) as i64)
    }

    /// Parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        let QLinear {
            weights,
            bias,
            requant,
        } = self;
        weights.as_ref().len() + bias.as_ref().len() + requant.as_ref().len()
    }
}
