//! What the host's SSE2 kernels (`pointwise::sse2`, `depthwise::sse2`)
//! share. SSE2 is the x86-64 baseline, so these need no run-time detection.

use core::arch::x86_64::{__m128i, _mm_cvtsi128_si32, _mm_srli_si128};

/// The four i32 lanes of `v`.
#[target_feature(enable = "sse2")]
pub(super) fn lanes(v: __m128i) -> [i32; 4] {
    [
        _mm_cvtsi128_si32(v),
        _mm_cvtsi128_si32(_mm_srli_si128::<4>(v)),
        _mm_cvtsi128_si32(_mm_srli_si128::<8>(v)),
        _mm_cvtsi128_si32(_mm_srli_si128::<12>(v)),
    ]
}
