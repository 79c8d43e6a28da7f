//! The geometry both block kernels (int8 and f16) share: an `h x w x c` map
//! updated in place in raster order, with a ring of original pixels.
//!
//! Pixels go in tiles of [`TILE_PIXELS`] (the host's wide tiles:
//! [`HOST_TILE_PIXELS`]) starting at `p0`: first every
//! tile pixel's depthwise (reading originals), then each pixel's original
//! goes to ring slot `p mod R` (replacing pixel `p - R`) and `x[p]` is
//! overwritten. A 7x7 window at `p` reads back to pixel `p - L`,
//! `L = min(3, H-1) W + min(3, W-1)` (`3W + 3` on maps of 4x4 and up), so with
//! `R >= L` every pixel a window reads is either still original in `x`
//! (index >= p0) or in the ring (index < p0); with `R = L - 1` the oldest
//! pixel of the first window is gone. `R` is also at least a tile, so a
//! tile's own originals do not collide. The unit test below checks `L`
//! against every window; `tests/kernels_match_naive.rs` checks the kernels.

/// Shape of a map updated in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InPlaceMap {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels.
    pub c: usize,
}

/// Pixels the block kernels process together (their depthwise outputs, then
/// their MLPs as one 2-pixel tile).
pub const TILE_PIXELS: usize = 2;

/// Pixels per tile of the host's int8 blocks when their arena has room
/// ([`crate::kernels::block::block_in_place_tiled`]): each weight loaded
/// feeds 8 pixels (SIMD lanes on x86-64) instead of 2. Firmware keeps
/// [`TILE_PIXELS`] and its smaller scratch. The ring does not depend on the
/// tile: the next tile's windows read only the last `L` originals, and the
/// ring holds the last `R >= L` copied, whatever the tile.
pub const HOST_TILE_PIXELS: usize = 8;

/// Pixels of the host's int8 blocks taken together when their arena has
/// room ([`crate::kernels::block::block_in_place_tiled`]): the depthwise
/// and LayerNorm of all of them, then the MLP one batch of weight rows at
/// a time over their [`HOST_TILE_PIXELS`] tiles. Each batch of weights is
/// then fetched once per group, not once per tile: the large layers'
/// weights (a tiny-shaped model's last stages, megabytes) come from the
/// L3 cache or memory, the batch's from L1 and L2.
pub const HOST_GROUP_PIXELS: usize = 32 * HOST_TILE_PIXELS;

/// The tile the host runs an op in: [`HOST_TILE_PIXELS`] when its chunks
/// are whole (`channels_whole`, a multiple of 4 channels) and the arena
/// (`len` bytes) reaches `wide_scratch_end`, where the wide tile's scratch
/// ends; else [`TILE_PIXELS`] (always on microcontrollers).
pub fn host_tile(channels_whole: bool, len: usize, wide_scratch_end: usize) -> usize {
    if cfg!(target_os = "none") || !channels_whole || len < wide_scratch_end {
        TILE_PIXELS
    } else {
        HOST_TILE_PIXELS
    }
}

/// The lanes a tile of `n` pixels (of at most `tile`) runs as: the tile's
/// pixels on the firmware's tiles; all of the host's wide tile, even for
/// one pixel (its AVX2 loops on 8 lanes are quicker than the SSE2 2-pixel
/// tiles on 2; the pointwise pair loop, told how many pixels count, skips
/// lanes 4-7 when 4 or fewer do). A partial tile's spare lanes compute on
/// stale scratch and the ops drop their results.
pub fn tile_lanes(n: usize, tile: usize) -> usize {
    if tile == TILE_PIXELS {
        n
    } else {
        tile
    }
}

/// Pixels of originals an in-place 7x7 depthwise keeps for an `h x w` map:
/// the farthest a window looks back, `3W + 3` on maps of 4x4 and up, and at
/// least one tile (the tile's own originals are kept for the residual).
pub fn ring_pixels(h: usize, w: usize) -> usize {
    let lookback = 3.min(h.saturating_sub(1)) * w + 3.min(w.saturating_sub(1));
    lookback.max(TILE_PIXELS.min(h * w)).max(1)
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

    /// Arena offset of the original of pixel `q` while the tile starting at
    /// pixel `p0` is being computed: the ring for `q < p0`, the map itself
    /// from `p0` on.
    #[inline]
    pub fn original(&self, x_offset: usize, ring_offset: usize, q: usize, p0: usize) -> usize {
        if q < p0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The farthest back a 7x7 window at pixel `pix` reaches, over all pixels.
    fn max_lookback(m: &InPlaceMap) -> usize {
        let mut worst = 0;
        for r in 0..m.h {
            for col in 0..m.w {
                let (y0, _, x0, _) = m.window(r, col);
                worst = worst.max(r * m.w + col - (y0 * m.w + x0));
            }
        }
        worst
    }

    #[test]
    fn ring_of_3w_plus_3_is_the_least_that_keeps_every_window() {
        // While pixel p's window is read, ring slot q (q < p) still holds
        // pixel q iff p - q <= ring. The ring is exactly the worst lookback,
        // so one pixel less loses a pixel some window reads.
        for h in 1..9 {
            for w in 1..9 {
                let m = InPlaceMap { h, w, c: 1 };
                let tile = TILE_PIXELS.min(h * w);
                assert_eq!(max_lookback(&m).max(tile), m.ring_pixels(), "{h}x{w}");
            }
        }
        assert_eq!(ring_pixels(14, 14), 3 * 14 + 3);
    }
}
