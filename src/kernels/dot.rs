//! int8 dot products, the inner loop of every pointwise layer. Integer sums
//! are exact whatever the order, so the DSP path gives the same bits as the
//! portable one.
//!
//! On Armv7E-M (Cortex-M4/M7) four int8 pairs go through two SXTB16 and two
//! SMLAD per 32-bit load; elsewhere a plain loop the compiler vectorises.

/// `sum a[i] * b[i]` with `b` holding int8 two's-complement bytes; `acc` is the
/// starting value.
#[inline]
pub fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32 {
    #[cfg(convnext_dsp)]
    {
        dsp::dot(acc, a, b)
    }
    #[cfg(not(convnext_dsp))]
    {
        portable(acc, a, b)
    }
}

#[cfg_attr(convnext_dsp, allow(dead_code))]
#[inline]
fn portable(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
    for (x, y) in a.iter().zip(b) {
        acc += *x as i32 * *y as i8 as i32;
    }
    acc
}

// The only `unsafe` in the runtime: three DSP instructions with no memory
// access, exactly as DESIGN allows ("audited DSP intrinsics").
#[cfg(convnext_dsp)]
#[allow(unsafe_code)]
mod dsp {
    use core::arch::asm;

    /// Sign-extend bytes 0 and 2 into two halfwords.
    #[inline(always)]
    fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only instruction present on every Armv7E-M core.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack))
        };
        r
    }

    /// Sign-extend bytes 1 and 3 into two halfwords.
    #[inline(always)]
    fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: as above.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack))
        };
        r
    }

    /// `acc + a.lo * b.lo + a.hi * b.hi` on signed halfwords.
    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: as above.
        unsafe {
            asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, c = in(reg) acc,
                 options(pure, nomem, nostack))
        };
        r
    }

    pub(super) fn dot(mut acc: i32, a: &[i8], b: &[u8]) -> i32 {
        let n = a.len().min(b.len());
        let (a4, b4) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
        let (ra, rb) = (a4.remainder(), b4.remainder());
        for (x, y) in a4.zip(b4) {
            let xa = u32::from_le_bytes([x[0] as u8, x[1] as u8, x[2] as u8, x[3] as u8]);
            let yb = u32::from_le_bytes([y[0], y[1], y[2], y[3]]);
            acc = smlad(sxtb16(xa), sxtb16(yb), acc);
            acc = smlad(sxtb16_ror8(xa), sxtb16_ror8(yb), acc);
        }
        super::portable(acc, ra, rb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        let a: [i8; 13] = [-128, 127, 5, -7, 0, 99, -100, 3, 1, -1, 64, -64, 17];
        let b: [u8; 13] = [0x80, 0x7f, 2, 250, 9, 1, 2, 200, 255, 1, 64, 192, 33];
        for n in 0..=13 {
            let want: i32 = (0..n).map(|i| a[i] as i32 * b[i] as i8 as i32).sum::<i32>() + 7;
            assert_eq!(dot_i8(7, &a[..n], &b[..n]), want, "n = {n}");
        }
    }
}
