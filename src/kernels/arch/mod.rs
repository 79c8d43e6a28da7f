//! One folder per instruction set, each implementing the kernel frame's
//! traits ([`super::frame`]), and the one place that picks the
//! implementation a target runs ([`Native`]):
//!
//! | folder | implementation | runs on |
//! |---|---|---|
//! | `portable/` | [`Portable`] | cores without DSP (Cortex-M0+, an M33 built without `dsp`), hosts other than x86-64; on the host with `CONVNEXT_PORTABLE_ON_HOST=1` |
//! | `dsp/` | [`Dsp`] | Armv7E-M (M4F, M7) and Armv8-M with the DSP extension (`cfg(convnext_dsp)`, set by `build.rs`); on the host with `CONVNEXT_PACKED_ON_HOST=1`, as exact Rust models of the instructions |
//! | `x86/` | `X86` | x86-64 hosts: AVX2 where CPUID says so, else SSE2 |
//!
//! `cfg` on the target lives here and in these folders only. Every
//! implementation is compiled on the host (but for the DSP `asm!` loops
//! and x86 code off x86-64), so [`super::conformance`] checks each there
//! and on each emulated core.

pub mod dsp;
pub mod portable;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub mod x86;

pub use dsp::Dsp;
pub use portable::Portable;
#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
pub use x86::X86;

/// The implementation this target runs.
#[cfg(any(convnext_dsp, convnext_packed))]
pub type Native = Dsp;
/// The implementation this target runs.
#[cfg(all(
    not(any(convnext_dsp, convnext_packed, convnext_portable)),
    target_arch = "x86_64",
    not(target_os = "none")
))]
pub type Native = X86;
/// The implementation this target runs (on the host too with
/// `CONVNEXT_PORTABLE_ON_HOST=1`, for the tests).
#[cfg(all(
    not(any(convnext_dsp, convnext_packed)),
    any(
        convnext_portable,
        not(all(target_arch = "x86_64", not(target_os = "none")))
    )
))]
pub type Native = Portable;

/// Whether the host's AVX2 loops run on this CPU (asked once; false off
/// x86-64).
pub fn avx2_available() -> bool {
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    return x86::avx2::available();
    #[cfg(not(all(target_arch = "x86_64", not(target_os = "none"))))]
    false
}

/// Turns the host's AVX2 loops off for the rest of the process (the SSE2
/// and portable loops then run, with the same bits); nothing off x86-64.
pub fn disable_avx2() {
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    x86::avx2::disable();
}
