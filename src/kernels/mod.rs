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
//!
//! The op files here orchestrate; the hot primitives are the traits of
//! [`frame`], implemented once per instruction set under [`arch`] (the
//! only place that names a target), and [`conformance`] checks every
//! implementation against the naive reference.

pub mod activation;
pub mod arch;
pub mod arena;
pub mod block;
pub mod block_f16;
pub mod conformance;
pub mod depthwise;
pub mod dot;
pub mod downsample;
pub mod feature_map;
pub mod frame;
pub mod grn;
pub mod head;
pub mod in_place_map;
pub mod layer_norm;
pub mod linear;
mod mlp;
pub mod placement;
pub mod pointwise;
pub mod pointwise_wide;
pub mod prepared;
pub mod probe;
pub mod requantize;
pub mod stem;
pub mod tables;

pub use arch::{avx2_available, disable_avx2, Native};
pub use in_place_map::InPlaceMap;
pub use layer_norm::{LayerNormParams, LN_FRAC_BITS};
pub use linear::QLinear;
pub use placement::{OpFootprint, Placement};
pub use requantize::{requantize_sum, saturate_i8, Requant};
