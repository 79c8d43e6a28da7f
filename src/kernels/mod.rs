//! The int8 kernels (and the f16 block of mixed precision). Each works in
//! place on one byte arena (`&mut [i8]`) at offsets a codegen plan chose
//! ([`Placement`]), so a whole network runs in one static buffer whose size
//! is known at build time.
//!
//! Every kernel takes a params struct generic over its table storage `B`:
//! `&'static [u8]` from `include_bytes!` in generated firmware, `Vec<u8>` in
//! codegen's plan on the host. The params struct is the one description of
//! an op: codegen quantizes into it, the planner sizes it through
//! [`OpFootprint`], the emitter writes it out field by field.

pub mod activation;
pub mod arena;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_activation;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_depthwise;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_lanes;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_norm;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_pairs;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_requant;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
mod avx2_residual;
pub mod block;
pub mod block_f16;
pub mod depthwise;
pub mod dot;
pub mod downsample;
pub mod feature_map;
pub mod grn;
pub mod head;
pub mod in_place_map;
pub mod layer_norm;
pub mod linear;
mod mlp;
#[cfg(convnext_dsp)]
mod pair_loop;
pub mod placement;
pub mod pointwise;
pub mod pointwise_wide;
pub mod probe;
pub mod requantize;
pub mod simd32;
pub mod stem;
pub mod tables;
#[cfg(test)]
mod test_rng;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Whether the host's AVX2 loops run on this CPU (asked once).
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub use avx2::available as avx2_available;
/// Turns the host's AVX2 loops off for the rest of the process (the SSE2
/// and portable loops then run, with the same bits).
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub use avx2::disable as disable_avx2;
pub use in_place_map::InPlaceMap;
pub use layer_norm::{LayerNormParams, LN_FRAC_BITS};
pub use linear::QLinear;
pub use placement::{OpFootprint, Placement};
pub use requantize::{requantize_sum, saturate_i8, Requant};
