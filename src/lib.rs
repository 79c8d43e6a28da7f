//! `convnext`: the `no_std` runtime of a ConvNeXt inference engine for
//! microcontrollers.
//!
//! It holds what runs on the device: image preprocessing that matches HF's
//! Pillow-based `ConvNextImageProcessor` bit for bit, and (as they land) the
//! in-place int8 kernels that a generated `forward()` calls. Nothing here
//! allocates; functions that can fail on data return a `Result`.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod crc32;
pub mod kernels;
pub mod network;
pub mod preprocess;
