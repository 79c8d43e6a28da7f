//! The host's per-channel requantization with AVX2: each channel's sum
//! through its own multiplier plus its bias ([`crate::kernels::requantize::requantize_plus`]), 8
//! channels a step, for the 7x7 depthwise of every block pixel and the
//! stem's patches.
//!
//! Per 8 channels: the sums from the output (i32s), the multipliers and
//! shifts (loaded from an unpacked copy where the caller has one, else
//! gathered from the 5-byte table entries), then the fast path of
//! [`crate::kernels::requantize::requantize_plus`] (high word of `(acc << 10) mult`, shifted, halved
//! with rounding) and the bias. Where a lane is off that path (a sum of
//! 2^21 or more, a shift outside it, a bias past ±2^30 so that the add
//! could saturate) the 8 channels go the scalar way: the same bits.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once [`super::avx2::available`] said yes, and gathers, loads and stores
//! whose bounds [`requantize_plus_in_place`] checks per step.

#![allow(unsafe_code)]

use super::lanes::{any_outside, high_words, multipliers8, Prepared};
use crate::kernels::requantize::{requant_at, requantize_plus_each, Requant};
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_setzero_si256,
    _mm256_slli_epi32, _mm256_srai_epi32, _mm256_srav_epi32, _mm256_storeu_si256,
};

/// `out` holds `c` i32 sums (little-endian); each becomes
/// `requantize_plus(sum, requant[ch], bias[ch])`, in place. `prepared` is
/// empty or the multipliers as `c` i32 mantissas then `c` i32 shifts
/// ([`crate::kernels::prepared::BlockPrepared`]): loaded, not gathered from
/// the table. `false` (nothing done) without AVX2.
pub fn requantize_plus_in_place(
    out: &mut [i8],
    bias: &[u8],
    (requant, prepared): (&[u8], &[u8]),
    c: usize,
) -> bool {
    if !super::avx2::available() {
        return false;
    }
    let prepared = (prepared.len() == 8 * c).then(|| prepared.split_at(4 * c));
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { requantize_plus_in_place_avx2(out, bias, (requant, prepared), c) };
    true
}

/// The `c` multipliers of the table `requant` unpacked into `buf` as the
/// prepared form [`requantize_plus_in_place`] and
/// [`super::norm::affine_out`] load (`c` i32 mantissas, then `c` i32
/// shifts): for an op that would otherwise gather them from the 5-byte
/// entries at every pixel. Empty when `buf` or the table is short.
pub fn unpack_requants<'a>(requant: &[u8], c: usize, buf: &'a mut [u8]) -> &'a [u8] {
    if requant.len() < Requant::BYTES * c || buf.len() < 8 * c {
        return &[];
    }
    let (mult, shift) = buf.split_at_mut(4 * c);
    let each = mult.chunks_exact_mut(4).zip(shift.chunks_exact_mut(4));
    for (ch, (m, sh)) in each.enumerate() {
        let r = requant_at(requant, ch);
        m.copy_from_slice(&r.mult.to_le_bytes());
        sh.copy_from_slice(&r.shift.to_le_bytes());
    }
    buf.get(..8 * c).unwrap_or_default()
}

/// [`crate::kernels::requantize::requantize_plus`] of 8 sums `acc` with their multipliers' mantissas
/// and shifts and biases `b`, by its fast path: `None` when a lane is off
/// it (a sum of 2^21 or more, a shift outside it, a bias past ±2^30 that
/// the add could saturate with), for the caller's scalar form.
#[target_feature(enable = "avx2")]
pub(super) fn plus8(
    acc: __m256i,
    (mult, shift): (__m256i, __m256i),
    b: __m256i,
) -> Option<__m256i> {
    let sh = _mm256_add_epi32(shift, _mm256_set1_epi32(8));
    let off = any_outside([
        (acc, -(1 << 21) + 1, (1 << 21) - 1),
        (sh, 0, 29),
        (b, -(1 << 30), 1 << 30),
    ]);
    if off {
        return None;
    }
    let hi = high_words(_mm256_slli_epi32::<10>(acc), mult, _mm256_setzero_si256());
    let one = _mm256_set1_epi32(1);
    let v = _mm256_srai_epi32::<1>(_mm256_add_epi32(_mm256_srav_epi32(hi, sh), one));
    // |v| < 2^29 and |bias| <= 2^30: the add cannot saturate.
    Some(_mm256_add_epi32(v, b))
}

#[target_feature(enable = "avx2")]
fn requantize_plus_in_place_avx2(
    out: &mut [i8],
    bias: &[u8],
    (requant, prepared): (&[u8], Option<Prepared>),
    c: usize,
) {
    let mut ch = 0;
    while ch + 8 <= c {
        let (Some(o), Some(bb), Some(r)) = (
            out.get_mut(4 * ch..4 * ch + 32),
            bias.get(4 * ch..4 * ch + 32),
            requant.get(Requant::BYTES * ch..Requant::BYTES * (ch + 8)),
        ) else {
            break;
        };
        let Some((mult, shift)) = multipliers8(prepared, ch, r) else {
            break;
        };
        // SAFETY: `o`, `bb` are 32 bytes; the loads allow any alignment.
        let (acc, b) = unsafe {
            (
                _mm256_loadu_si256(o.as_ptr().cast()),
                _mm256_loadu_si256(bb.as_ptr().cast()),
            )
        };
        match plus8(acc, (mult, shift), b) {
            // SAFETY: `o` is 32 writable bytes; the store allows any
            // alignment.
            Some(v) => unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), v) },
            None => requantize_plus_each(o, bb, r),
        }
        ch += 8;
    }
    let rest = (
        out.get_mut(4 * ch..4 * c),
        bias.get(4 * ch..4 * c),
        requant.get(Requant::BYTES * ch..Requant::BYTES * c),
    );
    if let (Some(o), Some(b), Some(r)) = rest {
        requantize_plus_each(o, b, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;
    use crate::kernels::requantize::{requant_table, requantize_plus};

    /// Both paths against [`crate::kernels::requantize::requantize_plus`]: groups of 8 on the vector
    /// path, and groups with one lane off it (a large sum, a shift outside
    /// the fast path, a bias near i32::MAX), with a tail of 5 channels.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn the_avx2_requantization_matches_the_plain_one() {
        assert!(
            super::super::avx2::available(),
            "this x86-64 host has no AVX2"
        );
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let c = 8 * 6 + 5;
        for round in 0..200 {
            let mut accs: Vec<i32> = (0..c).map(|_| (next() as i32) >> 12).collect();
            let mut rqs: Vec<Requant> = (0..c)
                .map(|_| Requant::from_real(0.5 + (next() % 1000) as f64 / 300.0))
                .collect();
            let mut biases: Vec<i32> = (0..c).map(|_| (next() as i32) >> 8).collect();
            // Group 1 a large sum, group 2 a large multiplier (shift < -8),
            // group 3 a bias that saturates.
            accs[8 + round % 8] = 1 << 22;
            // Group 5 the one sum whose magnitude does not fit an i32.
            accs[40 + round % 8] = i32::MIN;
            rqs[16 + round % 8] = Requant::from_real(600.0);
            biases[24 + round % 8] = i32::MAX - 3;
            let mut out: Vec<i8> = accs
                .iter()
                .flat_map(|a| a.to_le_bytes().map(|b| b as i8))
                .collect();
            let bias: Vec<u8> = biases.iter().flat_map(|b| b.to_le_bytes()).collect();
            let table: Vec<u8> = requant_table(&rqs).collect();
            // Both forms: the table gathered, and the prepared copy.
            let prepared: Vec<u8> = rqs
                .iter()
                .flat_map(|r| r.mult.to_le_bytes())
                .chain(rqs.iter().flat_map(|r| r.shift.to_le_bytes()))
                .collect();
            let mut out2 = out.clone();
            assert!(requantize_plus_in_place(&mut out, &bias, (&table, &[]), c));
            assert!(requantize_plus_in_place(
                &mut out2,
                &bias,
                (&table, &prepared),
                c
            ));
            assert_eq!(out, out2, "round {round}: prepared multipliers");
            for ch in 0..c {
                let got = i32::from_le_bytes(
                    <[i8; 4]>::try_from(&out[4 * ch..4 * ch + 4])
                        .unwrap()
                        .map(|b| b as u8),
                );
                let want = requantize_plus(accs[ch], rqs[ch], biases[ch]);
                assert_eq!(got, want, "round {round} channel {ch}");
            }
        }
    }
}
