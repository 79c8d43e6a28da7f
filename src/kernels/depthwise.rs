//! A 7x7 depthwise convolution at one output pixel: for every channel,
//! `Σ_taps (x − zx) · w` over the window's valid taps (taps outside the map
//! are skipped, not padded).
//!
//! Channels go four at a time with their accumulators in registers, and the
//! taps are the inner loop, so each accumulator is loaded and stored once per
//! pixel rather than once per tap. The window's taps (where each input pixel
//! and its weights start) are listed once per pixel and checked once against
//! the input and the weights ([`Window::new`]); the loads inside the loop
//! rely on that check.
//!
//! The four-channel step and the wider loops are [`DepthwiseKernel`]'s,
//! one implementation per instruction set under [`super::arch`]; all give
//! the same bits (integer sums), which [`super::conformance`] checks.

use super::arch::Native;
use super::frame::DepthwiseKernel;

/// Taps of a 7x7 window.
pub const MAX_TAPS: usize = 49;

/// One tap of a window: where its input pixel starts in `x` and where its
/// weights (one per channel) start in `w`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tap {
    /// Offset of the input pixel's `c` values in `x`.
    pub x: u32,
    /// Offset of the tap's `c` weights in `w`.
    pub w: u32,
}

/// The taps of one output pixel, checked against the input and the weights.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    x: &'a [i8],
    w: &'a [u8],
    /// The taps, each checked against the input and the weights.
    pub(crate) taps: &'a [Tap],
    /// Channels.
    pub(crate) c: usize,
}

impl<'a> Window<'a> {
    /// The window of `taps` over `c` channels, or `None` if a tap's `c`
    /// values would run past `x` or `w`.
    #[inline(always)]
    pub fn new(x: &'a [i8], w: &'a [u8], taps: &'a [Tap], c: usize) -> Option<Self> {
        let (mx, mw) = taps
            .iter()
            .fold((0, 0), |(mx, mw), t| (t.x.max(mx), t.w.max(mw)));
        let fits = |at: u32, len: usize| (at as usize).checked_add(c).is_some_and(|e| e <= len);
        (fits(mx, x.len()) && fits(mw, w.len())).then_some(Window { x, w, taps, c })
    }

    /// `Σ_taps (x[tap.x + ch] − zx) · w[tap.w + ch]` for every channel, as
    /// little-endian i32s into `out` (as many as fit), with the variant this
    /// target runs.
    #[inline(always)]
    pub fn run(&self, zx: i32, out: &mut [i8]) {
        let done = Native::wide_groups(self, zx, out);
        self.run_from(done, zx, out);
    }

    /// [`Window::run`] from channel `start` (a multiple of 4) on, four
    /// channels at a time.
    #[inline(always)]
    fn run_from(&self, start: usize, zx: i32, out: &mut [i8]) {
        let groups = self.c.saturating_sub(start) / 4;
        let rest = out.get_mut(4 * start..).unwrap_or_default();
        for (g, o) in rest.chunks_exact_mut(16).take(groups).enumerate() {
            let acc = Native::group(self, start + 4 * g, zx);
            for (d, a) in o.chunks_exact_mut(4).zip(acc) {
                for (d, b) in d.iter_mut().zip(a.to_le_bytes()) {
                    *d = b as i8;
                }
            }
        }
        for ch in start + 4 * groups..self.c {
            let mut acc = 0i32;
            for t in self.taps {
                let xv = self.x.get(t.x as usize + ch).map_or(0, |&v| v as i32 - zx);
                let wv = self.w.get(t.w as usize + ch).map_or(0, |&v| v as i8 as i32);
                acc += xv * wv;
            }
            if let Some(d) = out.get_mut(4 * ch..4 * ch + 4) {
                for (d, b) in d.iter_mut().zip(acc.to_le_bytes()) {
                    *d = b as i8;
                }
            }
        }
    }

    /// The `N` input bytes of `tap` at channels `ch..ch + N`.
    #[inline(always)]
    pub(crate) fn xs<const N: usize>(&self, tap: Tap, ch: usize) -> [u8; N] {
        read_checked_once(
            self.x.as_ptr().cast(),
            tap.x as usize + ch,
            ch + N <= self.c,
        )
    }

    /// The `N` weight bytes of `tap` at channels `ch..ch + N`.
    #[inline(always)]
    pub(crate) fn ws<const N: usize>(&self, tap: Tap, ch: usize) -> [u8; N] {
        read_checked_once(self.w.as_ptr(), tap.w as usize + ch, ch + N <= self.c)
    }
}

/// `N` bytes at `base + at`, for a tap's channels `ch..ch + N` (`in_channels`
/// says `ch + N <= c`).
#[allow(unsafe_code)]
#[inline(always)]
fn read_checked_once<const N: usize>(base: *const u8, at: usize, in_channels: bool) -> [u8; N] {
    debug_assert!(in_channels);
    // SAFETY: `Window::new` checked `tap.x + c <= x.len()` and
    // `tap.w + c <= w.len()` for every tap, `base` is the start of `x` or
    // `w`, `at` is `tap.x + ch` or `tap.w + ch`, and every caller reads
    // channels `ch..ch + N` with `ch + N <= c`.
    unsafe { core::ptr::read_unaligned(base.add(at).cast()) }
}

/// Name of the variant [`Window::run`] runs, for profiles.
pub const VARIANT: &str = <Native as DepthwiseKernel>::VARIANT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_past_the_input_or_the_weights_is_refused() {
        let (x, w) = ([0i8; 10], [0u8; 10]);
        assert!(Window::new(&x, &w, &[Tap { x: 6, w: 0 }], 4).is_some());
        assert!(Window::new(&x, &w, &[Tap { x: 7, w: 0 }], 4).is_none());
        assert!(Window::new(&x, &w, &[Tap { x: 0, w: 7 }], 4).is_none());
        assert!(Window::new(&x, &w, &[Tap { x: u32::MAX, w: 0 }], 4).is_none());
    }
}
