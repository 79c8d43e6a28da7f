//! Enables the DSP kernels (SXTB16, SXTAB16, SMLAD, SMLABB/SMLATT) where the
//! core has the DSP extension: always on Armv7E-M (Cortex-M4/M7); on Armv8-M
//! Mainline, where it is optional, when the firmware turns on the `dsp`
//! feature (and builds with a CPU that has it, e.g.
//! `-C target-cpu=cortex-m33`). Everything else runs the scalar kernels.
//!
//! `CONVNEXT_PACKED_ON_HOST=1` makes a host build run the DSP-form kernels
//! too (their instructions are exact Rust models there), and
//! `CONVNEXT_PORTABLE_ON_HOST=1` the portable ones (the Armv6-M forms), so
//! `cargo xtask test` checks every implementation's ops against the naive
//! references on the host.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(convnext_dsp)");
    println!("cargo::rustc-check-cfg=cfg(convnext_packed)");
    println!("cargo::rustc-check-cfg=cfg(convnext_portable)");
    println!("cargo:rerun-if-env-changed=CONVNEXT_PACKED_ON_HOST");
    println!("cargo:rerun-if-env-changed=CONVNEXT_PORTABLE_ON_HOST");
    if std::env::var_os("CONVNEXT_PACKED_ON_HOST").is_some_and(|v| v == "1") {
        println!("cargo:rustc-cfg=convnext_packed");
    } else if std::env::var_os("CONVNEXT_PORTABLE_ON_HOST").is_some_and(|v| v == "1") {
        println!("cargo:rustc-cfg=convnext_portable");
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let dsp_feature = std::env::var_os("CARGO_FEATURE_DSP").is_some();
    if target.starts_with("thumbv7em") || (dsp_feature && target.starts_with("thumbv8m.main")) {
        println!("cargo:rustc-cfg=convnext_dsp");
    }
}
