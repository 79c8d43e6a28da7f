//! The int8 kernels. Each works in place on one byte arena (`&mut [i8]`)
//! at offsets a codegen plan chose, so a whole network runs in one static
//! buffer whose size is known at build time. i32 temporaries live in the
//! arena as little-endian bytes.
//!
//! Weight tensors are `&[u8]` holding int8 two's-complement bytes (read with
//! `as i8`): generated code pulls them in with `include_bytes!`, no `unsafe`.

pub mod activation;
pub mod block;
pub mod block_f16;
pub mod dot;
pub mod downsample;
pub mod head;
pub mod layer_norm;
pub mod requantize;
pub mod stem;

pub use layer_norm::{LayerNormParams, LN_FRAC_BITS};
pub use requantize::{saturate_i8, Requant};

/// Read an i32 stored at `arena[off..off + 4]`.
#[inline]
pub(crate) fn load_i32(arena: &[i8], off: usize) -> i32 {
    i32::from_le_bytes([
        arena[off] as u8,
        arena[off + 1] as u8,
        arena[off + 2] as u8,
        arena[off + 3] as u8,
    ])
}

/// Store an i32 at `arena[off..off + 4]`.
#[inline]
pub(crate) fn store_i32(arena: &mut [i8], off: usize, v: i32) {
    for (i, b) in v.to_le_bytes().iter().enumerate() {
        arena[off + i] = *b as i8;
    }
}

/// Clamp an i64 to the i32 range.
#[inline]
pub(crate) fn saturate_i32(v: i64) -> i32 {
    v.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `round(a * ra + b * rb)` with one rounding: both products are brought to
/// the finer of the two fixed-point positions before the sum.
#[inline]
pub fn requantize_sum(a: i64, ra: Requant, b: i64, rb: Requant) -> i64 {
    let ta = 31 + ra.shift;
    let tb = 31 + rb.shift;
    let t = ta.min(tb);
    if !(1..=62).contains(&t) || ta > 62 || tb > 62 {
        return ra.apply(a) + rb.apply(b);
    }
    let pa = (a * ra.mult as i64) >> (ta - t);
    let pb = (b * rb.mult as i64) >> (tb - t);
    (pa + pb + (1i64 << (t - 1))) >> t
}
