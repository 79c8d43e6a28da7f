//! The portable form of the depthwise window: four channels a tap.

/// The variant for cores without DSP.
pub mod scalar {
    use crate::kernels::depthwise::Window;

    /// Channels `ch..ch + 4` over every tap of `win`.
    #[inline(always)]
    pub fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4] {
        let mut a = [0i32; 4];
        for &t in win.taps {
            let (xs, ws) = (win.xs::<4>(t, ch), win.ws::<4>(t, ch));
            for i in 0..4 {
                a[i] += (xs[i] as i8 as i32 - zx) * ws[i] as i8 as i32;
            }
        }
        a
    }
}
