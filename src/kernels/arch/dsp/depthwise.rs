//! The DSP form of the depthwise window: one word of 4 inputs and one of 4
//! weights a tap, the input zero point subtracted while sign-extending
//! (SXTAB16), one SMLABB/SMLATT per channel.

/// The DSP variant.
pub mod packed {
    use super::super::simd32::{
        smlabb, smlatt, splat16, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8,
    };
    use crate::kernels::depthwise::Window;

    /// Channels `ch..ch + 4` over every tap of `win`.
    #[inline(always)]
    pub fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        let nz = splat16(-zx);
        let mut a = [0i32; 4];
        for &t in win.taps {
            let (xv, wv) = (
                u32::from_le_bytes(win.xs::<4>(t, ch)),
                u32::from_le_bytes(win.ws::<4>(t, ch)),
            );
            let (xe, xo) = (sxtab16(nz, xv), sxtab16_ror8(nz, xv));
            let (we, wo) = (sxtb16(wv), sxtb16_ror8(wv));
            a[0] = smlabb(xe, we, a[0]);
            a[2] = smlatt(xe, we, a[2]);
            a[1] = smlabb(xo, wo, a[1]);
            a[3] = smlatt(xo, wo, a[3]);
        }
        a
    }
}
