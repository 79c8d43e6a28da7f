//! pw1's epilogue on the host: two row pairs' accumulators over an 8-pixel
//! tile, requantized ([`Halved`]), saturated to int8 and looked up in the
//! activation table, 32 hidden bytes in registers ([`activate32`]).
//!
//! The table lookup is VPSHUFB's: each 16-byte row of the 256-entry table
//! is one shuffle by the index's low nibble, and a tree of 15 blends picks
//! the row by the high nibble's four bits, so 32 lookups cost 16 shuffles
//! and 15 blends. Measured on this project's Zen 3 host (`cargo bench
//! --bench kernels -- tiny-224/block`), the form it replaced (8 lanes
//! requantized at a time, then 16 scalar loads and byte stores a row pair)
//! spent about 3 cycles a hidden value.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once AVX2 is known present, and loads and stores of references of
//! exactly the register's size.

#![allow(unsafe_code)]

use super::avx2::available;
use super::lanes::high_words;
use crate::kernels::requantize::Halved;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_blendv_epi8, _mm256_broadcastsi128_si256,
    _mm256_loadu_si256, _mm256_packs_epi16, _mm256_packs_epi32, _mm256_permutevar8x32_epi32,
    _mm256_set1_epi32, _mm256_set1_epi8, _mm256_setr_epi32, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_srai_epi32, _mm256_srav_epi32,
    _mm256_storeu_si256, _mm256_unpackhi_epi64, _mm256_unpacklo_epi64, _mm256_xor_si256,
    _mm_loadu_si128,
};

/// Two row pairs' activations over 8 pixels: `acc` holds pair 0's 8
/// pixels (rows r, s each), then pair 1's; `rows` are the four rows'
/// multipliers (r0, s0, r1, s1). Pixel `t`'s 4 bytes land at `out[4t..]`
/// in row order: `table[clamp(rows[i].apply(acc, plus)) + 128]`
/// ([`Halved::apply`]), the paired hidden layout of a group of four rows.
/// `false` (nothing written) without AVX2.
pub fn activate32(
    acc: &[[i32; 2]; 16],
    rows: [Halved; 4],
    plus: i32,
    table: &[u8; 256],
    out: &mut [i8; 32],
) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2.
    unsafe { activate32_avx2(acc, rows, plus, table, out) };
    true
}

#[target_feature(enable = "avx2")]
fn activate32_avx2(
    acc: &[[i32; 2]; 16],
    rows: [Halved; 4],
    plus: i32,
    table: &[u8; 256],
    out: &mut [i8; 32],
) {
    let [(m0, s0), (m1, s1), (m2, s2), (m3, s3)] = rows.map(Halved::parts);
    let mult = _mm256_setr_epi32(m0, m1, m2, m3, m0, m1, m2, m3);
    let [s0, s1, s2, s3] = [s0, s1, s2, s3].map(|s| s as i32);
    let shift = _mm256_setr_epi32(s0, s1, s2, s3, s0, s1, s2, s3);
    let plus = _mm256_set1_epi32(plus);
    let requant = |v: __m256i| {
        let high = high_words(v, mult, _mm256_setzero_si256());
        _mm256_srai_epi32::<1>(_mm256_add_epi32(_mm256_srav_epi32(high, shift), plus))
    };
    // SAFETY: `acc` is 128 bytes; each load reads 32 of them.
    let [a0, a1, b0, b1] =
        [0, 4, 8, 12].map(|i| unsafe { _mm256_loadu_si256(acc.as_ptr().add(i).cast::<__m256i>()) });
    // Pair 0's and pair 1's (r, s) of one pixel side by side: pixels 0 and
    // 2 (one per 128-bit half), 1 and 3, 4 and 6, 5 and 7.
    let p02 = requant(_mm256_unpacklo_epi64(a0, b0));
    let p13 = requant(_mm256_unpackhi_epi64(a0, b0));
    let p46 = requant(_mm256_unpacklo_epi64(a1, b1));
    let p57 = requant(_mm256_unpackhi_epi64(a1, b1));
    // Saturating packs clamp to int8 (`clamp_i8`); their halves leave the
    // pixels' dwords in the order 0, 1, 4, 5, 2, 3, 6, 7.
    let packed = _mm256_packs_epi16(_mm256_packs_epi32(p02, p13), _mm256_packs_epi32(p46, p57));
    let pre = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
    // The table's index: the pre-activation + 128.
    let index = _mm256_xor_si256(pre, _mm256_set1_epi8(-128));
    let found = lookup(table, index);
    // SAFETY: `out` is 32 writable bytes; the store allows any alignment.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), found) };
}

/// `table[index]` in every byte lane: 16 shuffles (one per 16-byte row,
/// by the low nibble), then the row picked by the index's bits 4 to 7, one
/// level of blends a bit (VPBLENDVB reads each byte's top bit, so the
/// index goes left by 3, 2, 1 and 0 bits; 16-bit shifts, whose carries
/// across bytes land below the top bit).
#[target_feature(enable = "avx2")]
fn lookup(table: &[u8; 256], index: __m256i) -> __m256i {
    let low = _mm256_and_si256(index, _mm256_set1_epi8(0x0f));
    let mut level: [__m256i; 16] = core::array::from_fn(|row| {
        // SAFETY: row 16 row + 15 < 256: 16 bytes inside `table`.
        let t = unsafe { _mm_loadu_si128(table.as_ptr().add(16 * row).cast()) };
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), low)
    });
    let picks = [
        _mm256_slli_epi16::<3>(index),
        _mm256_slli_epi16::<2>(index),
        _mm256_slli_epi16::<1>(index),
        index,
    ];
    let mut n = 16;
    for pick in picks {
        n /= 2;
        for i in 0..n {
            level[i] = _mm256_blendv_epi8(level[2 * i], level[2 * i + 1], pick);
        }
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;
    use crate::kernels::requantize::Requant;

    /// Every lane against the scalar requantization and table, on
    /// accumulators across i32's range and multipliers of every shift the
    /// halved form takes.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn activate32_matches_the_scalar_form() {
        assert!(available(), "this x86-64 host has no AVX2");
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let table: [u8; 256] = core::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x5a);
        for round in 0..400 {
            let acc: [[i32; 2]; 16] = core::array::from_fn(|_| {
                let v = next();
                let big = [v as i32, (v >> 32) as i32];
                // Small sums most rounds (the table's whole range), any i32
                // in some.
                if round % 4 == 0 {
                    big
                } else {
                    big.map(|b| b >> (8 + round % 17))
                }
            });
            let rows: [Halved; 4] = core::array::from_fn(|_| {
                let v = next();
                let rq = Requant {
                    mult: (0x4000_0000 | (v as u32 >> 2)) as i32,
                    shift: 2 + (v >> 40) as i32 % 30,
                };
                rq.halved().expect("shift in the halved range")
            });
            let zp = (next() as u8 as i8).clamp(-120, 120);
            let plus = Halved::plus(zp);
            let mut out = [0i8; 32];
            assert!(activate32(&acc, rows, plus, &table, &mut out));
            for t in 0..8 {
                for i in 0..4 {
                    let a = acc[8 * (i / 2) + t][i % 2];
                    let pre = rows[i].apply(a, plus).clamp(-128, 127);
                    let want = table[(pre + 128) as usize] as i8;
                    assert_eq!(out[4 * t + i], want, "round {round} pixel {t} row {i}");
                }
            }
        }
    }
}
