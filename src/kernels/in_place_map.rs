//! The geometry both block kernels (int8 and f16) share: an `h x w x c` map
//! updated in place in raster order, with a ring of original pixels.
//!
//! Before pixel `p` is overwritten its original goes to ring slot
//! `p mod ring_pixels`. A 7x7 window needs up to 3 rows and 3 columns back,
//! so with a ring of `3W + 3` pixels every pixel a later window reads is
//! either still original in `x` (index >= p) or in the ring (index < p).
//! `tests/kernels_match_naive.rs` shows `3W + 2` breaks.

/// Shape of a map updated in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InPlaceMap {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
}

/// Pixels of originals an in-place 7x7 depthwise keeps for an `h x w` map:
/// `3W + 3`, or the whole map if that is smaller.
pub fn ring_pixels(h: usize, w: usize) -> usize {
    (3 * w + 3).min(h * w)
}

impl InPlaceMap {
    /// Bytes of the map itself.
    pub fn bytes(&self) -> usize {
        self.h * self.w * self.c
    }

    /// Pixels in the ring.
    pub fn ring_pixels(&self) -> usize {
        ring_pixels(self.h, self.w)
    }

    /// Bytes of the ring.
    pub fn ring_bytes(&self) -> usize {
        self.ring_pixels() * self.c
    }

    /// Offset (from the map's start) of pixel `pix`.
    #[inline]
    pub fn pixel(&self, pix: usize) -> usize {
        pix * self.c
    }

    /// Offset (from the ring's start) of pixel `pix`'s ring slot.
    #[inline]
    pub fn ring_slot(&self, pix: usize) -> usize {
        (pix % self.ring_pixels()) * self.c
    }

    /// Arena offset of the original of pixel `q` while pixel `pix` is being
    /// computed: the ring for `q < pix`, the map itself from `pix` on.
    #[inline]
    pub fn original(&self, x_offset: usize, ring_offset: usize, q: usize, pix: usize) -> usize {
        if q < pix {
            ring_offset + self.ring_slot(q)
        } else {
            x_offset + self.pixel(q)
        }
    }

    /// Rows `y0..y1` and columns `x0..x1` of the 7x7 window around `(r, col)`,
    /// clipped to the map.
    #[inline]
    pub fn window(&self, r: usize, col: usize) -> (usize, usize, usize, usize) {
        (
            r.saturating_sub(3),
            (r + 4).min(self.h),
            col.saturating_sub(3),
            (col + 4).min(self.w),
        )
    }

    /// Depthwise taps (all 49 per channel, padding included) per inference.
    pub fn depthwise_macs(&self) -> u64 {
        (49 * self.bytes()) as u64
    }
}
