//! The DSP cores' pointwise loops, each one `asm!` block over a tile's two
//! pixels, row pair after row pair: the pair's four accumulators start from
//! its biases, its turns (two 4-channel steps: 39 instructions for 32 MACs
//! with widened inputs, 43 with int8 ones) run, and then the pair's sums
//! are either stored ([`wide_2x2`], [`i8_2x2`], for the general loops of
//! [`crate::kernels::pointwise::dot_pairs`] and [`crate::kernels::pointwise_wide::dot_pairs`])
//! or taken to their outputs inside the block: pw1's halved requantization
//! and activation table ([`wide_2x2_act`], [`wide_2x2_act_wide`]), pw2's
//! layer scale and residual ([`i8_2x2_residual`], [`wide_2x2_residual`]),
//! the downsample's requantization ([`i8_2x2_halved`]). The inner loop
//! needs 12 registers (4 accumulators, 4 sign-extended weight halves, 2
//! input words, 2 pointers), all the compiler gives an `asm!` block on
//! Thumb (r6, r7 and sp are its own), so bounds, pointers and the layer's
//! constants live in words the block pushes. A fused loop stops before a
//! row pair whose multiplier has no fast form stores anything and returns
//! the rows it did; the caller's general loop (the same bits, integer sums
//! being exact in any order) goes on from there. The boards' CRC checks
//! every one of these against the portable loops.

#![allow(unsafe_code)]

use crate::kernels::frame::{ActTable, ActTable16};
use core::arch::asm;

/// The text of one 4-channel step of the pair loops: both pixels against
/// both rows of a pair (8 weight bytes, SXTB16 on each word; `$xa` leaves a
/// pixel's next 4 channels in `xe`, `xo`).
macro_rules! step {
    ($($xa:literal),+) => {
        concat!(
            "ldr {w0}, [{wp}], #4\n",
            "ldr {w1}, [{wp}], #4\n",
            "sxtb16 {t0}, {w0}\n",
            "sxtb16 {w0}, {w0}, ror #8\n",
            "sxtb16 {t1}, {w1}\n",
            "sxtb16 {w1}, {w1}, ror #8\n",
            $($xa, "\n",)+
            "smlad {a0}, {xe}, {t0}, {a0}\n",
            "smlad {a1}, {xe}, {t1}, {a1}\n",
            "smlad {a0}, {xo}, {w0}, {a0}\n",
            "smlad {a1}, {xo}, {w1}, {a1}\n",
            $($xa, "\n",)+
            "smlad {b0}, {xe}, {t0}, {b0}\n",
            "smlad {b1}, {xe}, {t1}, {b1}\n",
            "smlad {b0}, {xo}, {w0}, {b0}\n",
            "smlad {b1}, {xo}, {w1}, {b1}\n",
        )
    };
}

/// The text of one turn of the pair loops: two [`step!`]s (8 channels).
macro_rules! turn {
    ($($xa:literal),+) => {
        concat!(step!($($xa),+), step!($($xa),+))
    };
}

/// The text that runs one row pair's sums of both pixels: the four
/// accumulators from the pair's biases (the pointer at `[sp, #8]`), then
/// its turns over `x` (`[sp, #4]` to `[sp]`; `$xa` as [`turn!`]'s).
macro_rules! pair_sums {
    ($($xa:literal),+) => {
        concat!(
            "ldr {t0}, [sp, #8]\n",
            "ldr {a0}, [{t0}], #4\n",
            "ldr {a1}, [{t0}], #4\n",
            "str {t0}, [sp, #8]\n",
            "mov {b0}, {a0}\n",
            "mov {b1}, {a1}\n",
            "ldr {xp}, [sp, #4]\n",
            "2:\n",
            turn!($($xa),+),
            "ldr {xe}, [sp]\n",
            "cmp {xp}, {xe}\n",
            "bne 2b\n",
        )
    };
}

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
                    pair_sums!($($xa),+),
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
    /// Widened inputs ([`crate::kernels::pointwise_wide::wide_offset`]): `x` is
    /// both pixels' vectors, 32 bytes per 8 channels; `out` takes two
    /// entries a pair (pixel a's two rows, then pixel b's).
    wide_2x2,
    32,
    "ldr {xe}, [{xp}], #4",
    "ldr {xo}, [{xp}], #4"
);

pair_loop!(
    /// Int8 inputs, paired ([`crate::kernels::pointwise::paired_offset`]): `x` is
    /// both pixels' vectors, 16 bytes per 8 channels; `out` as
    /// [`wide_2x2`]'s.
    i8_2x2,
    16,
    "ldr {xe}, [{xp}], #4",
    "sxtb16 {xo}, {xe}, ror #8",
    "sxtb16 {xe}, {xe}"
);

/// The text that requantizes a pair's four sums in the halved form
/// ([`crate::kernels::requantize::Halved`]): SMMUL by the row's multiplier, a shift
/// by its amount less 2, `plus` (at `[sp, #28]`) added, SSAT to int8 with a
/// shift by one; leaves `t0` holding the word at `[sp, #24]`. The
/// multipliers are read at `[sp, #20]`, which moves on by the pair's 10
/// bytes. A row whose shift has no halved form leaves the
/// loop (to `9:`) before anything of its pair is stored or moved.
macro_rules! halved_pair {
    () => {
        concat!(
            "ldr {t0}, [sp, #20]\n",
            "ldrsb {w1}, [{t0}, #4]\n",
            "ldrsb {xe}, [{t0}, #9]\n",
            "sub {w1}, {w1}, #2\n",
            "cmp {w1}, #29\n",
            "bhi 9f\n",
            "sub {xe}, {xe}, #2\n",
            "cmp {xe}, #29\n",
            "bhi 9f\n",
            "ldr {w0}, [{t0}]\n",
            "ldr {t1}, [{t0}, #5]\n",
            "add {t0}, {t0}, #10\n",
            "str {t0}, [sp, #20]\n",
            "smmul {a0}, {a0}, {w0}\n",
            "smmul {b0}, {b0}, {w0}\n",
            "smmul {a1}, {a1}, {t1}\n",
            "smmul {b1}, {b1}, {t1}\n",
            "asr {a0}, {a0}, {w1}\n",
            "asr {b0}, {b0}, {w1}\n",
            "asr {a1}, {a1}, {xe}\n",
            "asr {b1}, {b1}, {xe}\n",
            "ldrd {t0}, {t1}, [sp, #24]\n",
            "add {a0}, {a0}, {t1}\n",
            "add {b0}, {b0}, {t1}\n",
            "add {a1}, {a1}, {t1}\n",
            "add {b1}, {b1}, {t1}\n",
            "ssat {a0}, #8, {a0}, asr #1\n",
            "ssat {b0}, #8, {b0}, asr #1\n",
            "ssat {a1}, #8, {a1}, asr #1\n",
            "ssat {b1}, #8, {b1}, asr #1\n",
        )
    };
}

/// The `asm!` block of a loop over row pairs that keeps its state in 8
/// pushed words: `[sp]` x end, `[sp, #4]` x start, `[sp, #8]` biases,
/// `[sp, #12]` output, `[sp, #16]` output end, `[sp, #20]` multipliers,
/// `[sp, #24]` and `[sp, #28]` the loop's two constants (`$c0`, `$c1`).
/// `$body` is one turn of the outer loop (it moves the output); the loop
/// ends when the output reaches its end, or at `9:` when the body leaves
/// early; the block's value is the output pointer then. To be used inside
/// `unsafe`, with the caller's SAFETY argument.
macro_rules! pair_asm {
    ([$($body:tt)*], ($c0:expr, $c1:expr), $w:expr, ($xs:expr, $xend:expr), $bias:expr, $rq:expr, ($op:expr, $opend:expr)) => {{
        let stop: *mut i8;
        asm!(
            "str {a1}, [sp, #-4]!",
            "str {a0}, [sp, #-4]!",
            "str {w1}, [sp, #-4]!",
            "str {t1}, [sp, #-4]!",
            "str {t0}, [sp, #-4]!",
            "str {w0}, [sp, #-4]!",
            "str {xo}, [sp, #-4]!",
            "str {xe}, [sp, #-4]!",
            "3:",
            $($body)*,
            "ldrd {t0}, {t1}, [sp, #12]",
            "cmp {t0}, {t1}",
            "bne 3b",
            "9:",
            "ldr {t0}, [sp, #12]",
            "add sp, #32",
            a0 = inout(reg) $c0 => _,
            a1 = inout(reg) $c1 => _,
            b0 = out(reg) _,
            b1 = out(reg) _,
            xp = out(reg) _,
            wp = inout(reg) $w => _,
            xe = inout(reg) $xend => _,
            xo = inout(reg) $xs => _,
            w0 = inout(reg) $bias => _,
            w1 = inout(reg) $rq => _,
            t0 = inout(reg) $op => stop,
            t1 = inout(reg) $opend => _,
        );
        stop
    }};
}

/// The text of one row pair of the activation loops ([`wide_2x2_act`],
/// [`wide_2x2_act_wide`]): its sums, requantized ([`halved_pair!`]),
/// looked up in the table (`[sp, #24]`, its entry for -128), stored by
/// `$store` (the output at `[sp, #12]`, moved on by `$adv` to the next
/// pair's bytes).
macro_rules! act_pair {
    ($store:ident, $adv:literal) => {
        concat!(
            pair_sums!("ldr {xe}, [{xp}], #4", "ldr {xo}, [{xp}], #4"),
            halved_pair!(),
            $store!(),
            "add {t0}, {t0}, #",
            $adv,
            "\n",
            "str {t0}, [sp, #12]\n",
        )
    };
}

/// [`act_pair!`]'s stores into the paired int8 hidden vectors
/// ([`crate::kernels::pointwise::paired_offset`]): a pair's two rows are two bytes
/// of each pixel's 4-byte group (pixel b's 4 bytes on); the output moves 2
/// after the first pair of a group of four rows, 6 after the second.
macro_rules! store_paired {
    () => {
        concat!(
            "ldrb {a0}, [{t0}, {a0}]\n",
            "ldrb {b0}, [{t0}, {b0}]\n",
            "ldrb {a1}, [{t0}, {a1}]\n",
            "ldrb {b1}, [{t0}, {b1}]\n",
            "orr {a0}, {a0}, {a1}, lsl #8\n",
            "orr {b0}, {b0}, {b1}, lsl #8\n",
            "ldr {t0}, [sp, #12]\n",
            "strh {a0}, [{t0}]\n",
            "strh {b0}, [{t0}, #4]\n",
        )
    };
}

/// [`act_pair!`]'s stores into the widened hidden vectors
/// ([`crate::kernels::pointwise_wide::wide_offset`]): each value sign-extended to a
/// halfword, a pair's rows 4 bytes apart in each pixel's 8-byte group
/// (pixel b's 8 bytes on); the output moves 2 after the first pair of a
/// group of four rows, 14 after the second.
macro_rules! store_wide {
    () => {
        concat!(
            "ldrsb {a0}, [{t0}, {a0}]\n",
            "ldrsb {b0}, [{t0}, {b0}]\n",
            "ldrsb {a1}, [{t0}, {a1}]\n",
            "ldrsb {b1}, [{t0}, {b1}]\n",
            "ldr {t0}, [sp, #12]\n",
            "strh {a0}, [{t0}]\n",
            "strh {a1}, [{t0}, #4]\n",
            "strh {b0}, [{t0}, #8]\n",
            "strh {b1}, [{t0}, #12]\n",
        )
    };
}

/// [`store_wide`] from a 16-bit table ([`ActTable16`]): each entry loaded
/// as a halfword (the SSAT result scaled by 2), stored as it is.
macro_rules! store_wide16 {
    () => {
        concat!(
            "ldrsh {a0}, [{t0}, {a0}, lsl #1]\n",
            "ldrsh {b0}, [{t0}, {b0}, lsl #1]\n",
            "ldrsh {a1}, [{t0}, {a1}, lsl #1]\n",
            "ldrsh {b1}, [{t0}, {b1}, lsl #1]\n",
            "ldr {t0}, [sp, #12]\n",
            "strh {a0}, [{t0}]\n",
            "strh {a1}, [{t0}, #4]\n",
            "strh {b0}, [{t0}, #8]\n",
            "strh {b1}, [{t0}, #12]\n",
        )
    };
}

/// Writes `fn $name(out, x, w, bias, rq, act) -> rows`, pw1 and its
/// activation for two pixels, whole groups of four rows at a time, into
/// `out` (`$group` bytes a group, stored by `$store` with the moves
/// `$adv0`, `$adv1`), the activation from a table of type `$act` whose
/// entry for -128 is `$mid` bytes in.
macro_rules! act_loop {
    ($(#[$doc:meta])* $name:ident, $group:literal, $store:ident, $adv0:literal, $adv1:literal) => {
        act_loop!($(#[$doc])* $name, $group, $store, $adv0, $adv1, ActTable, 128);
    };
    ($(#[$doc:meta])* $name:ident, $group:literal, $store:ident, $adv0:literal, $adv1:literal, $act:ident, $mid:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(
            out: &mut [i8],
            x: &[i8],
            w: &[u8],
            bias: &[u8],
            rq: &[u8],
            act: $act,
        ) -> usize {
            const RQ: usize = crate::kernels::requantize::Requant::BYTES;
            let turns = x.len() / 32;
            if !x.len().is_multiple_of(32) {
                return 0;
            }
            let quads = (out.len() / $group)
                .min(w.len() / (32 * turns).max(1))
                .min(bias.len() / 16)
                .min(rq.len() / (4 * RQ));
            if turns == 0 || quads == 0 {
                return 0;
            }
            let (Some(x), Some(out)) = (x.get(..32 * turns), out.get_mut(..$group * quads)) else {
                return 0;
            };
            let (xs, xend) = (x.as_ptr(), x.as_ptr_range().end);
            let (op, opend) = (out.as_mut_ptr(), out.as_mut_ptr_range().end);
            // The table's entry for -128; SSAT's results index it from there.
            let table = act.table.as_ptr().wrapping_add($mid);
            // SAFETY: each group of four rows (at least 1 group) reads 16
            // bytes of `bias`, 20 of `rq` and 32 `turns` of `w`, each group
            // where the last stopped, and all of `x` (`xs` to `xend`, `turns`
            // at least 1) twice, and writes its `$group` bytes of `out`;
            // `quads` is at most what `out`, `w`, `bias` and `rq` hold
            // (checked above), and the loop stops when the output pointer
            // reaches `opend`. The table reads are at `table` plus an SSAT
            // result in -128..=127 (times 2 for the 16-bit table), inside
            // the table (256 bytes, or 512 for the 16-bit one). LDR, LDRSB, LDRSH
            // and STRH allow unaligned addresses on every core with the DSP
            // extension; LDRD reads the words this block pushed. The 8 words
            // pushed are popped before the block ends; it calls nothing.
            let stop = unsafe {
                pair_asm!(
                    [act_pair!($store, $adv0), act_pair!($store, $adv1)],
                    (table, act.plus),
                    w.as_ptr(),
                    (xs, xend),
                    bias.as_ptr(),
                    rq.as_ptr(),
                    (op, opend)
                )
            };
            // Whole groups before where the loop stopped.
            4 * ((stop as usize).wrapping_sub(op as usize) / $group).min(quads)
        }
    };
}

act_loop!(
    /// pw1 and its activation for two pixels into the paired int8 hidden
    /// vectors (8 bytes a group of four rows). `x` is both pixels' widened
    /// vectors ([`wide_2x2`]'s), `w`, `bias` and `rq` the layer's weights
    /// (paired), biases (4 bytes a row) and multipliers
    /// ([`crate::kernels::requantize::requant_at`]'s table). Returns how many rows
    /// it wrote: a multiple of 4, fewer than the tables hold only where a
    /// row's multiplier has no halved form
    /// ([`crate::kernels::requantize::Requant::halved`]), whose group the caller
    /// computes the general way. One `asm!` block, so each sum goes from
    /// its last SMLAD to its output byte in registers (51 instructions a
    /// pair besides the turns, against 79 with the activations computed
    /// after the loop).
    wide_2x2_act,
    8,
    store_paired,
    "2",
    "6"
);

act_loop!(
    /// [`wide_2x2_act`] into widened hidden vectors (16 bytes a group of
    /// four rows, [`crate::kernels::pointwise_wide::wide_offset`]), for a pw2 that
    /// reads them without sign-extending ([`wide_2x2_residual`]).
    wide_2x2_act_wide,
    16,
    store_wide,
    "2",
    "14"
);

act_loop!(
    /// [`wide_2x2_act_wide`] from a 16-bit activation table
    /// ([`crate::kernels::block::BlockParams::hidden16`]): the widened hidden
    /// vectors hold its i16 outputs.
    wide_2x2_act_wide16,
    16,
    store_wide16,
    "2",
    "14",
    ActTable16,
    256
);

/// The text of one output row of [`i8_2x2_residual`] for both pixels:
/// `$pa`, `$pb` the row's sums of pixels a and b, `w0` its multiplier,
/// `w1` its halved shift, `xo` its left shift of `x - zx`, `xp` pixel a's
/// byte (pixel b's `c` on). Each output is `x - zx` shifted, one SMULL by
/// the row's stream mantissa (the word at `4 xp` past the stack's stream
/// base), one SMLAL of the sum by the row's multiplier, the high
/// word shifted, `plus` added, SSAT with a shift by one
/// ([`crate::kernels::requantize::ResidualLayer::apply`]); `$pa` is free after its
/// use.
macro_rules! residual_row {
    ($pa:literal, $pb:literal) => {
        concat!(
            "ldrsb {t1}, [{xp}]\n",
            "ldr {xe}, [sp, #24]\n",
            "sub {t1}, {t1}, {xe}\n",
            "lsl {t1}, {t1}, {xo}\n",
            "ldr {xe}, [sp, #28]\n",
            "ldr {xe}, [{xe}, {xp}, lsl #2]\n",
            "smull {t1}, {xe}, {t1}, {xe}\n",
            "smlal {t1}, {xe}, ",
            $pa,
            ", {w0}\n",
            "asr {xe}, {xe}, {w1}\n",
            "ldr {t1}, [sp, #36]\n",
            "add {xe}, {xe}, {t1}\n",
            "ssat {xe}, #8, {xe}, asr #1\n",
            "strb {xe}, [{xp}]\n",
            "ldr {t1}, [sp, #40]\n",
            "ldrsb {xe}, [{xp}, {t1}]\n",
            "ldr ",
            $pa,
            ", [sp, #24]\n",
            "sub {xe}, {xe}, ",
            $pa,
            "\n",
            "lsl {xe}, {xe}, {xo}\n",
            "ldr ",
            $pa,
            ", [sp, #28]\n",
            "ldr ",
            $pa,
            ", [",
            $pa,
            ", {xp}, lsl #2]\n",
            "smull ",
            $pa,
            ", {xe}, {xe}, ",
            $pa,
            "\n",
            "smlal ",
            $pa,
            ", {xe}, ",
            $pb,
            ", {w0}\n",
            "asr {xe}, {xe}, {w1}\n",
            "ldr ",
            $pa,
            ", [sp, #36]\n",
            "add {xe}, {xe}, ",
            $pa,
            "\n",
            "ssat {xe}, #8, {xe}, asr #1\n",
            "strb {xe}, [{xp}, {t1}]\n",
        )
    };
}

/// Writes `fn $name(x, hidden, w, bias, rq, layer, c) -> rows`, pw2,
/// layer scale and residual for two pixels whose hidden vectors take
/// `$hbytes` bytes a turn (each pixel's next 4 channels read by `$xa`).
macro_rules! residual_loop {
    ($(#[$doc:meta])* $name:ident, $hbytes:literal, $($xa:literal),+) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(
            x: &mut [i8],
            hidden: &[i8],
            w: &[u8],
            bias: &[u8],
            rq: &[u8],
            (layer, residual): (crate::kernels::requantize::ResidualLayer, &[u8]),
            c: usize,
        ) -> usize {
            const RQ: usize = crate::kernels::requantize::Requant::BYTES;
            // Both pixels' hidden vectors, 4c values each, 8 a turn.
            let turns = c / 2;
            let pairs = (c / 2)
                .min(w.len() / (16 * turns).max(1))
                .min(bias.len() / 8)
                .min(rq.len() / (2 * RQ))
                .min(residual.len() / 8);
            if turns == 0 || pairs == 0 || !c.is_multiple_of(2) {
                return 0;
            }
            let (Some(hidden), Some(x)) = (hidden.get(..$hbytes * turns), x.get_mut(..2 * c)) else {
                return 0;
            };
            let (hs, hend) = (hidden.as_ptr(), hidden.as_ptr_range().end);
            let xs = x.as_mut_ptr();
            // Pixel a's bytes of every pair's rows; pixel b's are `c` on.
            let xend = xs.wrapping_add(2 * pairs);
            let [zx, uoff, plus] = layer.parts();
            // Row `k`'s stream mantissa is the word at `4 (xs + k)` past
            // this base (an address only the loop's loads complete).
            let streams = (residual.as_ptr() as usize).wrapping_sub(4 * xs as usize);
            let stop: *mut i8;
            // SAFETY: each of `pairs` (at least 1) pairs reads 8 bytes of `bias`,
            // 10 of `rq`, 8 of `residual` and 16 `turns` of `w`, each pair where
            // the last stopped, and all of `hidden` (`hs` to `hend`, `turns` at
            // least 1); it reads and writes bytes `2k`, `2k + 1`, `c + 2k` and
            // `c + 2k + 1` of `x` for pair `k < pairs <= c / 2`, all inside
            // `x`'s `2c` bytes; row `k`'s mantissa is `residual`'s word `k`.
            // `pairs` is at most what `w`, `bias`, `rq` and `residual` hold
            // (checked above), and the loop stops when the pixel-a pointer
            // reaches `xend`. LDR, LDRSB and STRB allow unaligned addresses on
            // every core with the DSP extension; LDRD and STRD touch the words
            // this block pushed. The 13 words are popped before the block ends;
            // it calls nothing.
            unsafe {
                asm!(
                    "sub sp, #8",
                    "str {xp}, [sp, #-4]!",
                    "str {b1}, [sp, #-4]!",
                    "str {b0}, [sp, #-4]!",
                    "str {a1}, [sp, #-4]!",
                    "str {a0}, [sp, #-4]!",
                    "str {w1}, [sp, #-4]!",
                    "str {t1}, [sp, #-4]!",
                    "str {t0}, [sp, #-4]!",
                    "str {w0}, [sp, #-4]!",
                    "str {xo}, [sp, #-4]!",
                    "str {xe}, [sp, #-4]!",
                    // Stack: hidden end, hidden start, bias, x (pixel a of the
                    // pair), x end, multipliers, zx, the stream mantissas' base,
                    // shift offset, plus, c, then the second row's shifts.
                    "3:",
                    pair_sums!($($xa),+),
                    // Both rows' shifts, checked before anything is stored.
                    "ldr {t0}, [sp, #20]",
                    "ldrsb {w1}, [{t0}, #4]",
                    "ldrsb {t1}, [{t0}, #9]",
                    "ldr {xe}, [sp, #32]",
                    "add {xo}, {w1}, {xe}",
                    "cmp {xo}, #22",
                    "bhi 9f",
                    "add {xe}, {t1}, {xe}",
                    "cmp {xe}, #22",
                    "bhi 9f",
                    "sub {w1}, {w1}, #2",
                    "cmp {w1}, #20",
                    "bhi 9f",
                    "sub {t1}, {t1}, #2",
                    "cmp {t1}, #20",
                    "bhi 9f",
                    "strd {t1}, {xe}, [sp, #44]",
                    "ldr {w0}, [{t0}]",
                    "ldr {xp}, [sp, #12]",
                    residual_row!("{a0}", "{b0}"),
                    "ldr {w0}, [{t0}, #5]",
                    "ldrd {w1}, {xo}, [sp, #44]",
                    "add {xp}, {xp}, #1",
                    residual_row!("{a1}", "{b1}"),
                    "add {t0}, {t0}, #10",
                    "str {t0}, [sp, #20]",
                    "add {xp}, {xp}, #1",
                    "str {xp}, [sp, #12]",
                    "ldrd {t0}, {t1}, [sp, #12]",
                    "cmp {t0}, {t1}",
                    "bne 3b",
                    "9:",
                    "ldr {t0}, [sp, #12]",
                    "add sp, #52",
                    a0 = inout(reg) zx => _,
                    a1 = inout(reg) streams => _,
                    b0 = inout(reg) uoff => _,
                    b1 = inout(reg) plus => _,
                    xp = inout(reg) c => _,
                    wp = inout(reg) w.as_ptr() => _,
                    xe = inout(reg) hend => _,
                    xo = inout(reg) hs => _,
                    w0 = inout(reg) bias.as_ptr() => _,
                    w1 = inout(reg) rq.as_ptr() => _,
                    t0 = inout(reg) xs => stop,
                    t1 = inout(reg) xend => _,
                );
            }
            // Two rows for each pair before where the loop stopped (the pointer
            // moves a byte a row).
            (stop as usize).wrapping_sub(xs as usize).min(2 * pairs) & !1
        }
    };
}

residual_loop!(
    /// pw2, layer scale and residual for two pixels, a row pair at a time:
    /// `x` holds the two pixels (`c` bytes each, the residual's originals,
    /// overwritten with the block's output), `hidden` their paired int8
    /// hidden vectors ([`i8_2x2`]'s `x`), `w`, `bias`, `rq` the layer's
    /// paired weights, biases and multipliers, `layer` its prepared residual
    /// form with each row's stream mantissa. Returns how many rows it wrote,
    /// from the first: all `c` but where a row's multiplier has no prepared
    /// form ([`crate::kernels::requantize::ResidualLayer::row`]); the loop
    /// stops before that pair stores anything, so the caller can compute it
    /// the general way.
    i8_2x2_residual,
    16,
    "ldr {xe}, [{xp}], #4",
    "sxtb16 {xo}, {xe}, ror #8",
    "sxtb16 {xe}, {xe}"
);

residual_loop!(
    /// [`i8_2x2_residual`] on widened hidden vectors
    /// ([`crate::kernels::pointwise_wide::wide_offset`], from [`wide_2x2_act_wide`]):
    /// no sign-extension, 4 instructions fewer a turn.
    wide_2x2_residual,
    32,
    "ldr {xe}, [{xp}], #4",
    "ldr {xo}, [{xp}], #4"
);

/// A conv's row pairs for two pixels with the halved requantization
/// (the downsample's 2x2 conv): `x` both pixels' paired int8 inputs
/// ([`i8_2x2`]'s), `w`, `bias`, `rq` the layer's paired weights, biases and
/// multipliers, `plus` from the output zero point
/// ([`crate::kernels::requantize::Halved::plus`]); pixel a's outputs go to `out[o]`,
/// pixel b's to `out[cout + o]`. Returns how many rows it wrote, from the
/// first: all of `cout` (rounded down to even) but where a row has no
/// halved form, whose pair the caller computes the general way.
#[inline(always)]
pub fn i8_2x2_halved(
    out: &mut [i8],
    cout: usize,
    x: &[i8],
    w: &[u8],
    bias: &[u8],
    rq: &[u8],
    plus: i32,
) -> usize {
    const RQ: usize = crate::kernels::requantize::Requant::BYTES;
    let turns = x.len() / 16;
    // A window whose length is not a whole number of turns takes the
    // general loop.
    if !x.len().is_multiple_of(16) {
        return 0;
    }
    let pairs = (cout / 2)
        .min(out.len().saturating_sub(cout) / 2)
        .min(w.len() / (16 * turns).max(1))
        .min(bias.len() / 8)
        .min(rq.len() / (2 * RQ));
    if turns == 0 || pairs == 0 {
        return 0;
    }
    let Some(x) = x.get(..16 * turns) else {
        return 0;
    };
    let (xs, xend) = (x.as_ptr(), x.as_ptr_range().end);
    let op = out.as_mut_ptr();
    let opend = op.wrapping_add(2 * pairs);
    // SAFETY: each of `pairs` (at least 1) pairs reads 8 bytes of `bias`,
    // 10 of `rq` and 16 `turns` of `w`, each pair where the last stopped,
    // and all of `x` (`xs` to `xend`, `turns` at least 1); pair `k` writes
    // bytes `2k`, `2k + 1`, `cout + 2k`, `cout + 2k + 1` of `out`, inside it
    // since `cout + 2 pairs <= out.len()`. `pairs` is at most what `w`,
    // `bias` and `rq` hold (checked above), and the loop stops when the
    // output pointer reaches `opend`. LDR, LDRSB and STRH allow unaligned
    // addresses on every core with the DSP extension; LDRD reads the words
    // this block pushed. The 8 words are popped before the block ends; it
    // calls nothing.
    let stop = unsafe {
        pair_asm!(
            [
                pair_sums!(
                    "ldr {xe}, [{xp}], #4",
                    "sxtb16 {xo}, {xe}, ror #8",
                    "sxtb16 {xe}, {xe}"
                ),
                halved_pair!(),
                "bfi {a0}, {a1}, #8, #8\n",
                "bfi {b0}, {b1}, #8, #8\n",
                "ldr {t1}, [sp, #12]\n",
                "strh {a0}, [{t1}]\n",
                "strh {b0}, [{t1}, {t0}]\n",
                "add {t1}, {t1}, #2\n",
                "str {t1}, [sp, #12]\n"
            ],
            (cout, plus),
            w.as_ptr(),
            (xs, xend),
            bias.as_ptr(),
            rq.as_ptr(),
            (op, opend)
        )
    };
    // Two rows for each pair before where the loop stopped.
    (stop as usize).wrapping_sub(op as usize).min(2 * pairs) & !1
}
