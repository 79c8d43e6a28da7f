//! Enables the Armv7E-M DSP dot products (SXTB16 + SMLAD) on targets that
//! always have them. Armv8-M mainline makes DSP optional, so M33 builds keep
//! the portable loop.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(convnext_dsp)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo:rustc-cfg=convnext_dsp");
    }
}
