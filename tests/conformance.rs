//! The conformance suite ([`convnext::kernels::conformance`]) on every
//! implementation the host can run: the portable forms, the DSP forms on
//! exact Rust models of the instructions, and on x86-64 the host's SSE2 and
//! AVX2 loops (the AVX2 ones where the CPU has them; they say so when not).

use convnext::kernels::arch::{Dsp, Portable};
use convnext::kernels::conformance;
use convnext::kernels::frame::Kernels;

/// Runs the suite on `K`, names every failed check, and returns how many
/// passed.
fn passes<K: Kernels>(what: &str) -> usize {
    let (mut passed, mut failed) = (0, Vec::new());
    conformance::run::<K>(|name, ok| {
        if ok {
            passed += 1;
        } else {
            failed.push(name);
        }
    });
    eprintln!(
        "conformance {what}: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{what}: failed {failed:?}");
    passed
}

#[test]
fn portable_kernels_match_the_naive_references() {
    // The inner loops: dot_i8, dot_tile, dot_wide, depthwise_group.
    assert_eq!(passes::<Portable>("portable"), 4);
}

#[test]
fn dsp_kernels_on_modelled_instructions_match_the_naive_references() {
    // The host has the instruction models, not the fused `asm!` loops.
    assert_eq!(passes::<Dsp>("dsp (models)"), 4);
}

#[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
#[test]
fn x86_kernels_match_the_naive_references() {
    use convnext::kernels::arch::{avx2_available, disable_avx2, X86};
    // `cargo xtask test` runs this file again with the AVX2 loops off.
    if std::env::var("CONVNEXT_HOST_NO_AVX2").is_ok_and(|v| v == "1") {
        disable_avx2();
    }
    let n = passes::<X86>("x86");
    if avx2_available() {
        // Every check but the DSP cores' fused loops.
        assert_eq!(n, 13);
    } else {
        eprintln!("x86: this CPU has no AVX2; its loops were not checked");
        assert_eq!(n, 5);
    }
}
