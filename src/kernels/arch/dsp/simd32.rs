//! SIMD within a 32-bit register: the Armv7E-M / Armv8-M DSP instructions the
//! fast kernels are written in. On cores with the DSP extension
//! (`cfg(convnext_dsp)`, set by `build.rs`) each is one instruction through
//! `asm!`; everywhere else (the host, Armv6-M) an exact Rust model of the
//! same instruction, so the DSP kernels compile on the host and the host
//! tests check the very code the boards run.
//!
//! The `unsafe` here: register-only instructions with no memory access.

pub use crate::kernels::arena::{word, word_u8};

#[cfg(not(convnext_dsp))]
mod model {
    #[inline(always)]
    fn lo(x: u32) -> i32 {
        x as u16 as i16 as i32
    }
    #[inline(always)]
    fn hi(x: u32) -> i32 {
        (x >> 16) as u16 as i16 as i32
    }
    #[inline(always)]
    fn pack(lo: i32, hi: i32) -> u32 {
        (lo as u16 as u32) | ((hi as u16 as u32) << 16)
    }
    /// Sign-extend bytes 0 and 2 into halfwords.
    #[inline(always)]
    pub fn sxtb16(x: u32) -> u32 {
        pack(x as u8 as i8 as i32, (x >> 16) as u8 as i8 as i32)
    }
    /// Sign-extend bytes 1 and 3 into halfwords.
    #[inline(always)]
    pub fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }
    /// Halfwords of `a` plus sign-extended bytes 0 and 2 of `x`.
    #[inline(always)]
    pub fn sxtab16(a: u32, x: u32) -> u32 {
        let e = sxtb16(x);
        pack(lo(a) + lo(e), hi(a) + hi(e))
    }
    /// Halfwords of `a` plus sign-extended bytes 1 and 3 of `x`.
    #[inline(always)]
    pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        sxtab16(a, x.rotate_right(8))
    }
    /// `acc + a.lo * b.lo + a.hi * b.hi`.
    #[inline(always)]
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b)).wrapping_add(hi(a) * hi(b))
    }
    /// `acc + a.lo * b.lo`.
    #[inline(always)]
    pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b))
    }
    /// `acc + a.hi * b.hi`.
    #[inline(always)]
    pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(hi(a) * hi(b))
    }
}

#[cfg(convnext_dsp)]
#[allow(unsafe_code)]
mod model {
    use core::arch::asm;

    macro_rules! unary {
        ($(#[$doc:meta])* $name:ident, $insn:literal) => {
            $(#[$doc])*
            #[inline(always)]
            pub fn $name(x: u32) -> u32 {
                let r: u32;
                // SAFETY: a register-only DSP instruction (no memory access),
                // present on every core this cfg is set for.
                unsafe { asm!($insn, r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack)) };
                r
            }
        };
    }
    macro_rules! binary {
        ($(#[$doc:meta])* $name:ident, $insn:literal) => {
            $(#[$doc])*
            #[inline(always)]
            pub fn $name(a: u32, x: u32) -> u32 {
                let r: u32;
                // SAFETY: as above.
                unsafe { asm!($insn, r = lateout(reg) r, a = in(reg) a, x = in(reg) x, options(pure, nomem, nostack)) };
                r
            }
        };
    }
    macro_rules! mla {
        ($(#[$doc:meta])* $name:ident, $insn:literal) => {
            $(#[$doc])*
            #[inline(always)]
            pub fn $name(a: u32, b: u32, mut acc: i32) -> i32 {
                // SAFETY: as above. The accumulator is read and written in
                // place, as the instruction allows, to spare a register.
                unsafe { asm!($insn, c = inout(reg) acc, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack)) };
                acc
            }
        };
    }
    unary!(
        /// Sign-extend bytes 0 and 2 into halfwords.
        sxtb16, "sxtb16 {r}, {x}");
    unary!(
        /// Sign-extend bytes 1 and 3 into halfwords.
        sxtb16_ror8, "sxtb16 {r}, {x}, ror #8");
    binary!(
        /// Halfwords of `a` plus sign-extended bytes 0 and 2 of `x`.
        sxtab16, "sxtab16 {r}, {a}, {x}");
    binary!(
        /// Halfwords of `a` plus sign-extended bytes 1 and 3 of `x`.
        sxtab16_ror8, "sxtab16 {r}, {a}, {x}, ror #8");
    mla!(
        /// `acc + a.lo * b.lo + a.hi * b.hi`.
        smlad, "smlad {c}, {a}, {b}, {c}");
    mla!(
        /// `acc + a.lo * b.lo`.
        smlabb, "smlabb {c}, {a}, {b}, {c}");
    mla!(
        /// `acc + a.hi * b.hi`.
        smlatt, "smlatt {c}, {a}, {b}, {c}");
}

pub use model::{smlabb, smlad, smlatt, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8};

/// Both halfwords set to `v`.
#[inline(always)]
pub fn splat16(v: i32) -> u32 {
    (v as u16 as u32) * 0x0001_0001
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_follow_the_instruction_definitions() {
        let x = 0x80_7F_FE_03u32; // bytes 0x03, 0xFE(-2), 0x7F, 0x80(-128)
        assert_eq!(sxtb16(x), 0x007F_0003);
        assert_eq!(sxtb16_ror8(x), 0xFF80_FFFE);
        assert_eq!(sxtab16(splat16(-5), x), 0x007A_FFFE);
        assert_eq!(smlad(0x0002_FFFF, 0x0003_0004, 10), 10 - 4 + 6);
        assert_eq!(smlabb(0x0002_FFFF, 0x0003_0004, 10), 6);
        assert_eq!(smlatt(0x0002_FFFF, 0x0003_0004, 10), 16);
    }
}
