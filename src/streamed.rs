//! The row-streamed forward pass: the image arrives a row at a time, as a
//! camera's line buffer delivers it, and the stem and the first stage run
//! as the rows come, so neither the whole input nor the whole first-stage
//! tensor is ever resident (MCUNetV2's idea on ConvNeXt's blocks). Each
//! first-stage block keeps a ring of the 7 input rows its 7x7 window needs
//! ([`WINDOW_ROWS`]); a finished row goes straight into the next block's
//! ring, the last block's rows pair up into the downsample, whose output rows
//! fill the second stage's tensor where the in-place plan expects it. Once
//! the last row is in, [`RowStream::finish`] hands the arena back and the
//! rest of the network runs as usual (generated code: `forward_rest`). The
//! kernels are the whole-image ones (their row forms), so the logits are the
//! same bits as [`crate::network::forward_u8`]'s.
//!
//! ```text
//! rows -> band (k rows) -> stem row -> ring 0 -> block 0 row -> ring 1 -> ...
//!      -> last block row -> pair -> downsample row -> stage-2 tensor -> rest
//! ```

use crate::kernels::block::{block_row, BlockParams, WINDOW_ROWS};
use crate::kernels::downsample::{downsample_rows, DownsampleParams};
use crate::kernels::prepared::NoHost;
use crate::kernels::probe::NoProbe;
use crate::kernels::stem::{stem_rows, StemParams};
use crate::kernels::Placement;
use crate::network::{ForwardError, Op};

/// The most blocks a streamed first stage may have (ConvNeXt's have 1 to 3).
pub const MAX_STREAMED_BLOCKS: usize = 8;

/// Where the streamed section's buffers sit in the arena (chosen by the
/// codegen planner, above the second stage's tensor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StreamLayout {
    /// The stem's band of `k` input rows (int8).
    pub band: usize,
    /// The first block's ring of [`WINDOW_ROWS`] rows; block `b`'s starts
    /// `b` rings above.
    pub windows: usize,
    /// Two output rows of the last first-stage block (the downsample's input).
    pub pair: usize,
    /// Every streamed kernel's scratch.
    pub scratch: usize,
    /// Arena bytes the streamed forward needs (its peak, the rest of the
    /// network included).
    pub arena_bytes: usize,
}

/// The streamed part of a schedule: the stem, the first stage's blocks (int8,
/// without GRN) and the downsample after them. Generated code has one as
/// `STREAM_SECTION`; on the host, [`section_len`] finds it in a schedule.
#[derive(Debug)]
pub struct StreamedSection<'a, B = &'static [u8]> {
    /// The stem.
    pub stem: &'a StemParams<B>,
    /// The first stage's blocks, in order (1 to [`MAX_STREAMED_BLOCKS`]).
    pub blocks: &'a [&'a BlockParams<B>],
    /// The second stage's downsample.
    pub downsample: &'a DownsampleParams<B>,
}

impl StreamLayout {
    /// The layout of `section`'s buffers above the second stage's tensor
    /// (where the downsample writes it), in order: the band of `k` input
    /// rows, one ring per block, the pair, the largest scratch any of the
    /// section's kernels takes; `rest_arena_bytes` is what the schedule after
    /// the section needs (the peak is the larger).
    pub fn of<B: AsRef<[u8]>>(section: &StreamedSection<'_, B>, rest_arena_bytes: usize) -> Self {
        use crate::kernels::in_place_map::TILE_PIXELS;
        use crate::kernels::OpFootprint;
        let (stem, down) = (section.stem, section.downsample);
        let map = section.blocks.first().map(|b| b.map).unwrap_or_default();
        let row = map.w * map.c;
        let band = down.at.output_offset + down.output_bytes();
        let windows = band + stem.k * stem.in_w * stem.cin;
        let pair = windows + section.blocks.len() * WINDOW_ROWS * row;
        let scratch = pair + 2 * row;
        // The stem's per-pixel sums, a block row's tile (no ring), the
        // downsample's tile.
        let scratch_bytes = stem
            .scratch_bytes()
            .max(
                section
                    .blocks
                    .iter()
                    .map(|b| TILE_PIXELS * b.tile_pixel_bytes())
                    .max()
                    .unwrap_or(0),
            )
            .max(down.scratch_bytes_tiled(TILE_PIXELS));
        StreamLayout {
            band,
            windows,
            pair,
            scratch,
            arena_bytes: (scratch + scratch_bytes).max(rest_arena_bytes),
        }
    }
}

// By hand: the derives would ask `B: Copy`, but only references are copied.
impl<B> Clone for StreamedSection<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for StreamedSection<'_, B> {}

/// How many ops the streamed section at the start of a schedule is (stem,
/// blocks, downsample), or `None` when it cannot stream: it needs a stem, 1
/// to [`MAX_STREAMED_BLOCKS`] int8 blocks without GRN, then a downsample.
pub fn section_len<B: AsRef<[u8]>, O: AsRef<Op<B>>>(ops: &[O]) -> Option<usize> {
    let op = |i: usize| ops.get(i).map(AsRef::as_ref);
    if !matches!(op(0), Some(Op::Stem(_))) {
        return None;
    }
    let blocks = (1..ops.len())
        .take_while(|&i| matches!(op(i), Some(Op::Block(b)) if b.grn.is_none()))
        .count();
    ((1..=MAX_STREAMED_BLOCKS).contains(&blocks)
        && matches!(op(1 + blocks), Some(Op::Downsample(_))))
    .then_some(blocks + 2)
}

/// A [`RowStream`]'s progress without the arena it borrows: what a caller
/// that cannot keep the stream between rows (the C door, whose stream
/// lives in the caller's memory) holds, to [`RowStream::resume`] it in the
/// same arena. 17 words, `#[repr(C)]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct StreamState {
    rows: u32,
    have: [u32; MAX_STREAMED_BLOCKS],
    done: [u32; MAX_STREAMED_BLOCKS],
}

/// A forward pass fed one image row at a time ([`RowStream::push_row`]);
/// [`RowStream::finish`] then hands the arena back, holding the second
/// stage's input where the in-place schedule expects it.
pub struct RowStream<'a, B: AsRef<[u8]> = &'static [u8]> {
    section: StreamedSection<'a, B>,
    layout: StreamLayout,
    arena: &'a mut [i8],
    /// Image rows received.
    rows: usize,
    /// Per block: input rows in its ring so far, output rows made.
    have: [usize; MAX_STREAMED_BLOCKS],
    done: [usize; MAX_STREAMED_BLOCKS],
}

impl<'a, B: AsRef<[u8]>> RowStream<'a, B> {
    /// Start a streamed forward of `section` in `arena` (at least the
    /// layout's `arena_bytes`).
    pub fn new(
        section: StreamedSection<'a, B>,
        layout: StreamLayout,
        arena: &'a mut [i8],
    ) -> Result<Self, ForwardError> {
        let n = section.blocks.len();
        let fits = (1..=MAX_STREAMED_BLOCKS).contains(&n)
            && section.blocks.iter().all(|b| b.grn.is_none());
        if !fits {
            return Err(ForwardError::NotStreamable);
        }
        if arena.len() < layout.arena_bytes {
            return Err(ForwardError::ArenaTooSmall {
                needed: layout.arena_bytes,
                given: arena.len(),
            });
        }
        Ok(RowStream {
            section,
            layout,
            arena,
            rows: 0,
            have: [0; MAX_STREAMED_BLOCKS],
            done: [0; MAX_STREAMED_BLOCKS],
        })
    }

    /// Continue a stream of `section` in `arena` from `state`, which
    /// [`RowStream::state`] gave for the same section, layout and arena
    /// (whose contents the stream left there). A state no stream of the
    /// section reaches (more rows than the image, a block ahead of its
    /// input) is refused with [`ForwardError::ImageRows`].
    pub fn resume(
        section: StreamedSection<'a, B>,
        layout: StreamLayout,
        arena: &'a mut [i8],
        state: StreamState,
    ) -> Result<Self, ForwardError> {
        let mut s = Self::new(section, layout, arena)?;
        let in_h = section.stem.in_h;
        let rows = state.rows as usize;
        let reachable = rows <= in_h
            && (0..MAX_STREAMED_BLOCKS).all(|b| {
                let (have, done) = (state.have[b] as usize, state.done[b] as usize);
                match section.blocks.get(b) {
                    Some(p) => have <= p.map.h && done <= have,
                    None => have == 0 && done == 0,
                }
            });
        if !reachable {
            return Err(ForwardError::ImageRows {
                expected: in_h,
                given: rows,
            });
        }
        s.rows = rows;
        for b in 0..MAX_STREAMED_BLOCKS {
            s.have[b] = state.have[b] as usize;
            s.done[b] = state.done[b] as usize;
        }
        Ok(s)
    }

    /// Where the stream stands, for [`RowStream::resume`].
    pub fn state(&self) -> StreamState {
        // Counts are bounded by the image's rows (checked on push).
        let mut st = StreamState {
            rows: self.rows as u32,
            ..StreamState::default()
        };
        for b in 0..MAX_STREAMED_BLOCKS {
            st.have[b] = self.have[b] as u32;
            st.done[b] = self.done[b] as u32;
        }
        st
    }

    /// Feed the next image row (`W * C` u8 pixels, HWC, as the whole-image
    /// forward takes them); the stem and the first stage advance as far as
    /// the rows allow.
    pub fn push_row(&mut self, row: &[u8]) -> Result<(), ForwardError> {
        let stem = self.section.stem;
        let bytes = stem.in_w * stem.cin;
        if row.len() != bytes {
            return Err(ForwardError::InputSize {
                expected: bytes,
                given: row.len(),
            });
        }
        if self.rows >= stem.in_h {
            return Err(ForwardError::ImageRows {
                expected: stem.in_h,
                given: self.rows + 1,
            });
        }
        let k = stem.k.max(1);
        let used = stem.out_h() * k;
        let at = self.layout.band + (self.rows % k) * bytes;
        self.rows += 1;
        // Rows below the last whole patch are not used (as in the
        // whole-image stem).
        if self.rows > used {
            return Ok(());
        }
        if let Some(band) = self.arena.get_mut(at..at + bytes) {
            for (d, s) in band.iter_mut().zip(row) {
                *d = (*s as i16 - 128) as i8;
            }
        }
        if self.rows.is_multiple_of(k) {
            let s = self.rows / k - 1;
            let map = self
                .section
                .blocks
                .first()
                .map(|b| b.map)
                .unwrap_or_default();
            let out = self.layout.windows + (s % WINDOW_ROWS) * map.w * map.c;
            let at = Placement {
                input_offset: self.layout.band,
                output_offset: out,
                scratch_offset: self.layout.scratch,
            };
            stem_rows(stem, at, k, self.arena, &mut NoProbe);
            self.have[0] += 1;
            self.pump();
        }
        Ok(())
    }

    /// Make every block row the rings allow, deepest block first (so a ring
    /// slot is free before the block below refills it).
    fn pump(&mut self) {
        let n = self.section.blocks.len();
        while let Some(b) = (0..n).rev().find(|&b| self.can_make(b)) {
            self.make_row(b);
        }
    }

    /// Block `b` has the input rows for its next output row, and the next
    /// ring has a free slot for it.
    fn can_make(&self, b: usize) -> bool {
        let Some(p) = self.section.blocks.get(b) else {
            return false;
        };
        let h = p.map.h;
        let (have, done) = (self.have[b], self.done[b]);
        let inputs_in = done < h && have >= (done + 4).min(h);
        // The next ring's slot for row `done` holds row `done - 7`, which
        // the next block's outputs up to `done - 4` read.
        let last = b + 1 >= self.section.blocks.len();
        inputs_in && (last || self.done[b + 1] + 3 >= done)
    }

    /// Block `b`'s next output row, into the next ring or the pair; a
    /// finished pair goes through the downsample.
    fn make_row(&mut self, b: usize) {
        let Some(p) = self.section.blocks.get(b) else {
            return;
        };
        let row = p.map.w * p.map.c;
        let ring = WINDOW_ROWS * row;
        let r = self.done[b];
        let window = self.layout.windows + b * ring;
        let last = b + 1 == self.section.blocks.len();
        let out = if last {
            self.layout.pair + (r % 2) * row
        } else {
            window + ring + (r % WINDOW_ROWS) * row
        };
        block_row(
            p,
            NoHost,
            self.arena,
            (window, r, out, self.layout.scratch),
            &mut NoProbe,
        );
        self.done[b] += 1;
        if !last {
            self.have[b + 1] += 1;
        } else if r % 2 == 1 {
            let d = self.section.downsample;
            let at = Placement {
                input_offset: self.layout.pair,
                output_offset: d.at.output_offset + (r / 2) * (d.in_w / 2) * d.cout,
                scratch_offset: self.layout.scratch,
            };
            downsample_rows(d, at, 2, self.arena, &mut NoProbe);
        }
    }

    /// After the last row: the arena back, with the second stage's input in
    /// place for the rest of the schedule (the ops after the section).
    pub fn finish(self) -> Result<&'a mut [i8], ForwardError> {
        let expected = self.section.stem.in_h;
        if self.rows != expected {
            return Err(ForwardError::ImageRows {
                expected,
                given: self.rows,
            });
        }
        Ok(self.arena)
    }
}
