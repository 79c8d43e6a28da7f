//! The DSP cores' pointwise loop: row pairs in turn against a tile's two
//! pixels, each pair's accumulators started from its biases and stored when
//! its rows are done, as one `asm!` block. The inner loop needs 12
//! registers (4 accumulators, 4 sign-extended weight halves, 2 input words,
//! 2 pointers), all the compiler can give an `asm!` block on Thumb (r6, r7
//! and sp are its own), so the loop's bounds and the per-pair pointers live
//! in 5 words the block pushes. Each turn is two 4-channel steps: 39
//! instructions for 32 MACs with widened inputs ([`wide_2x2`], pw1), 43
//! with int8 inputs ([`i8_2x2`], pw2); a pair adds 17. Called through
//! [`super::pointwise::dot_pairs`] and [`super::pointwise_wide::dot_pairs`],
//! whose portable loops give the same bits on every other target (integer
//! sums are exact in any order); the boards' CRC checks these against them.

#![allow(unsafe_code)]

use core::arch::asm;

/// Writes `fn $name(out, x, w, bias) -> pairs`, the pair loop whose
/// per-pixel input step is `$xa` (leaves the pixel's next 4 channels in
/// `xe`, `xo` as SMLAD pairs matching `t0`/`w0` and `t1`/`w1`), reading
/// `$xbytes` bytes of `x` per 8 channels of both pixels.
macro_rules! pair_loop {
    ($(#[$doc:meta])* $name:ident, $xbytes:literal, $($xa:literal),+) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(out: &mut [[i32; 2]], x: &[i8], w: &[u8], bias: &[u8]) -> usize {
            let turns = x.len() / $xbytes;
            let pairs = (out.len() / 2)
                .min(w.len() / (16 * turns).max(1))
                .min(bias.len() / 8);
            if turns == 0 || pairs == 0 {
                return 0;
            }
            let x = &x[..$xbytes * turns];
            let (xs, xend) = (x.as_ptr(), x.as_ptr_range().end);
            let out = &mut out[..2 * pairs];
            let (op, opend) = (out.as_mut_ptr(), out.as_mut_ptr_range().end);
            // SAFETY: for each of `pairs` (at least 1) pairs the loop reads
            // 8 bytes of `bias` and 16 `turns` bytes of `w` (each pair where
            // the last stopped), and all of `x` (from `xs` to `xend`, `turns`
            // at least 1), and writes 16 bytes (two `[i32; 2]`) of `out`;
            // `pairs` is at most what `out`, `w` and `bias` hold (checked
            // above), and the loop stops when the output pointer reaches
            // `opend`. LDR and STR allow unaligned addresses on every core
            // with the DSP extension. The 5 words pushed are popped before
            // the block ends; it calls nothing.
            unsafe {
                asm!(
                    "str {t1}, [sp, #-4]!",
                    "str {t0}, [sp, #-4]!",
                    "str {w0}, [sp, #-4]!",
                    "str {xo}, [sp, #-4]!",
                    "str {xe}, [sp, #-4]!",
                    // Stack: x end, x start, bias, output, output end.
                    "3:",
                    "ldr {t0}, [sp, #8]",
                    "ldr {a0}, [{t0}], #4",
                    "ldr {a1}, [{t0}], #4",
                    "str {t0}, [sp, #8]",
                    "mov {b0}, {a0}",
                    "mov {b1}, {a1}",
                    "ldr {xp}, [sp, #4]",
                    "2:",
                    "ldr {w0}, [{wp}], #4",
                    "ldr {w1}, [{wp}], #4",
                    "sxtb16 {t0}, {w0}",
                    "sxtb16 {w0}, {w0}, ror #8",
                    "sxtb16 {t1}, {w1}",
                    "sxtb16 {w1}, {w1}, ror #8",
                    $($xa,)+
                    "smlad {a0}, {xe}, {t0}, {a0}",
                    "smlad {a1}, {xe}, {t1}, {a1}",
                    "smlad {a0}, {xo}, {w0}, {a0}",
                    "smlad {a1}, {xo}, {w1}, {a1}",
                    $($xa,)+
                    "smlad {b0}, {xe}, {t0}, {b0}",
                    "smlad {b1}, {xe}, {t1}, {b1}",
                    "smlad {b0}, {xo}, {w0}, {b0}",
                    "smlad {b1}, {xo}, {w1}, {b1}",
                    "ldr {w0}, [{wp}], #4",
                    "ldr {w1}, [{wp}], #4",
                    "sxtb16 {t0}, {w0}",
                    "sxtb16 {w0}, {w0}, ror #8",
                    "sxtb16 {t1}, {w1}",
                    "sxtb16 {w1}, {w1}, ror #8",
                    $($xa,)+
                    "smlad {a0}, {xe}, {t0}, {a0}",
                    "smlad {a1}, {xe}, {t1}, {a1}",
                    "smlad {a0}, {xo}, {w0}, {a0}",
                    "smlad {a1}, {xo}, {w1}, {a1}",
                    $($xa,)+
                    "smlad {b0}, {xe}, {t0}, {b0}",
                    "smlad {b1}, {xe}, {t1}, {b1}",
                    "smlad {b0}, {xo}, {w0}, {b0}",
                    "smlad {b1}, {xo}, {w1}, {b1}",
                    "ldr {xe}, [sp]",
                    "cmp {xp}, {xe}",
                    "bne 2b",
                    "ldr {t0}, [sp, #12]",
                    "str {a0}, [{t0}], #4",
                    "str {a1}, [{t0}], #4",
                    "str {b0}, [{t0}], #4",
                    "str {b1}, [{t0}], #4",
                    "str {t0}, [sp, #12]",
                    "ldr {t1}, [sp, #16]",
                    "cmp {t0}, {t1}",
                    "bne 3b",
                    "add sp, #20",
                    a0 = out(reg) _,
                    a1 = out(reg) _,
                    b0 = out(reg) _,
                    b1 = out(reg) _,
                    xp = out(reg) _,
                    wp = inout(reg) w.as_ptr() => _,
                    xe = inout(reg) xend => _,
                    xo = inout(reg) xs => _,
                    w0 = inout(reg) bias.as_ptr() => _,
                    w1 = out(reg) _,
                    t0 = inout(reg) op => _,
                    t1 = inout(reg) opend => _,
                );
            }
            pairs
        }
    };
}

pair_loop!(
    /// Widened inputs ([`super::pointwise_wide::wide_offset`]): `x` is
    /// both pixels' vectors, 32 bytes per 8 channels; `out` takes two
    /// entries a pair (pixel a's two rows, then pixel b's).
    wide_2x2,
    32,
    "ldr {xe}, [{xp}], #4",
    "ldr {xo}, [{xp}], #4"
);

pair_loop!(
    /// Int8 inputs, paired ([`super::pointwise::paired_offset`]): `x` is
    /// both pixels' vectors, 16 bytes per 8 channels; `out` as
    /// [`wide_2x2`]'s.
    i8_2x2,
    16,
    "ldr {xe}, [{xp}], #4",
    "sxtb16 {xo}, {xe}, ror #8",
    "sxtb16 {xe}, {xe}"
);
