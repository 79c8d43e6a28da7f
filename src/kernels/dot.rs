//! A single int8 dot product, for the stem convolution and the classifier
//! (the blocks and downsamples use the tiled [`super::pointwise`]), in the
//! form this target runs ([`super::frame::PairDot::dot_i8`]).

use super::arch::Native;
use super::frame::PairDot;

/// `sum a[i] * b[i]` with `b` holding int8 two's-complement bytes; `acc` is the
/// starting value.
#[inline]
pub fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
    Native::dot_i8(acc, a, b)
}
