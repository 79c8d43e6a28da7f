//! `convnext`: the `no_std` runtime of a ConvNeXt inference engine for
//! microcontrollers.
//!
//! It holds what runs on the device: image preprocessing that matches HF's
//! Pillow-based `ConvNextImageProcessor` bit for bit ([`preprocess`]), the
//! in-place int8 kernels a generated `forward()` calls ([`kernels`]), and the
//! buffer checks and class ranking around them ([`network`]). Nothing here
//! allocates; functions that can fail on data return a `Result`. The ops
//! orchestrate; the hot primitives are the traits of [`kernels::frame`],
//! implemented once per instruction set under [`kernels::arch`], which
//! holds the `unsafe` (the DSP `asm!`, the x86 intrinsics entered once CPUID
//! said yes), besides the depthwise's two unchecked loads, whose bounds
//! [`kernels::depthwise::Window::new`] checks once per pixel, and the
//! host-only f32 reference's x86 entries (`host_f32.rs`).
//!
//! Codegen (`convnext-codegen`) writes a `forward()` that calls the kernels
//! with `static` params, one per layer. The same network, built by hand from
//! the same types (a 2x2 grey image, a 2x2 patchify stem to 2 channels, and a
//! head over 2 classes):
//!
//! ```
//! use convnext::kernels::head::HeadParams;
//! use convnext::kernels::requantize::requant_table;
//! use convnext::kernels::stem::StemParams;
//! use convnext::kernels::tables::i32_table;
//! use convnext::kernels::{InPlaceMap, LayerNormParams, Placement, QLinear, Requant};
//! use convnext::network::{forward_u8, top_k, NetworkSpec, Op};
//!
//! let one = Requant::from_real(1.0);
//! let bytes = |v: &[i32]| i32_table(v).collect::<Vec<u8>>();
//! let requants = |r: &[Requant]| requant_table(r).collect::<Vec<u8>>();
//! // Channel 0 sums the patch, channel 1 negates it.
//! let (conv_w, conv_b, conv_rq) = ([1u8, 1, 1, 1, 255, 255, 255, 255], bytes(&[0, 0]), requants(&[one; 2]));
//! let (ln_rq, ln_off) = (requants(&[Requant::from_real(100.0 / (1 << 24) as f64); 2]), bytes(&[0, 0]));
//! // Class 0 likes channel 0, class 1 likes channel 1.
//! let (fc_w, fc_b, fc_rq) = ([1u8, 0, 0, 1], bytes(&[0, 0]), requants(&[one; 2]));
//! let ops: [Op<&[u8]>; 2] = [
//!     Op::Stem(StemParams {
//!         in_h: 2, in_w: 2, cin: 1, k: 2, cout: 2,
//!         at: Placement { input_offset: 0, output_offset: 0, scratch_offset: 4 },
//!         conv: QLinear { weights: &conv_w, bias: &conv_b, requant: &conv_rq },
//!         ln: LayerNormParams::new(0),
//!         out_requant: &ln_rq,
//!         out_offset: &ln_off,
//!     }),
//!     Op::Head(HeadParams {
//!         map: InPlaceMap { h: 1, w: 1, c: 2 },
//!         at: Placement { input_offset: 0, output_offset: 0, scratch_offset: 2 },
//!         x_zero_point: 0,
//!         // A per-tensor stream: no channel profile.
//!         profile: &[],
//!         profile_shift: 0,
//!         ln: LayerNormParams::new(0),
//!         ln_requant: Requant::from_real(100.0),
//!         classifier: QLinear { weights: &fc_w, bias: &fc_b, requant: &fc_rq },
//!     }),
//! ];
//! let spec = NetworkSpec { arena_bytes: 12, input_offset: 0, input_bytes: 4, num_labels: 2, feature_map_bytes: 0 };
//! let (mut arena, mut logits) = ([0i8; 12], [0i32; 2]);
//! // A bright image: channel 0 wins after the LayerNorm, so class 0.
//! forward_u8(&spec, &ops, &[250, 250, 250, 250], &mut arena, &mut logits).unwrap();
//! let best = top_k::<1>(&logits, 0.01, &["bright", "dark"]);
//! assert_eq!(best[0].label, "bright");
//! // Wrong sizes are errors, never panics.
//! assert!(forward_u8(&spec, &ops, &[0; 3], &mut arena, &mut logits).is_err());
//! ```
//!
//! Builds for `thumbv6m-none-eabi`, `thumbv7em-none-eabihf` (SXTB16/SMLAD dot
//! products), `thumbv8m.main-none-eabihf` and the host; MSRV 1.87. The
//! `defmt` feature derives `defmt::Format` for the public types.
#![cfg_attr(not(test), no_std)]

pub mod crc32;
#[cfg(not(target_os = "none"))]
pub mod host_f32;
pub mod kernels;
pub mod network;
pub mod preprocess;
pub mod streamed;
