//! The row-streamed forward pass: the image arrives a row at a time, as a
//! camera's line buffer delivers it, and the stem and the first stage run
//! as the rows come, so neither the whole input nor the whole first-stage
//! tensor is ever resident (MCUNetV2's idea on ConvNeXt's blocks). Each
//! first-stage block keeps a ring of the 7 input rows its 7x7 window needs
//! ([`WINDOW_ROWS`]); a finished row goes straight into the next block's
//! ring, the last block's rows pair up into the downsample, whose output rows
//! fill the second stage's tensor where the in-place plan expects it. Once
//! the last row is in, the rest of the network runs as usual. The kernels
//! are the whole-image ones (their row forms), so the logits are the same
//! bits as [`crate::network::forward_u8`]'s.
//!
//! ```text
//! rows -> band (k rows) -> stem row -> ring 0 -> block 0 row -> ring 1 -> ...
//!      -> last block row -> pair -> downsample row -> stage-2 tensor -> rest
//! ```

use crate::kernels::block::{block_row, BlockParams, WINDOW_ROWS};
use crate::kernels::downsample::downsample_rows;
use crate::kernels::probe::NoProbe;
use crate::kernels::stem::stem_rows;
use crate::kernels::Placement;
use crate::network::{ForwardError, Op, Outputs};

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

/// The shape of a schedule the streamer can run: a stem, `blocks` int8
/// blocks without GRN, a downsample, then the rest.
fn section<B: AsRef<[u8]>, O: AsRef<Op<B>>>(ops: &[O]) -> Option<usize> {
    let op = |i: usize| ops.get(i).map(AsRef::as_ref);
    if !matches!(op(0), Some(Op::Stem(_))) {
        return None;
    }
    let blocks = (1..ops.len())
        .take_while(|&i| matches!(op(i), Some(Op::Block(b)) if b.grn.is_none()))
        .count();
    let next = op(1 + blocks);
    (1..=MAX_STREAMED_BLOCKS)
        .contains(&blocks)
        .then_some(blocks)
        .filter(|_| matches!(next, Some(Op::Downsample(_))))
}

/// Whether `ops` can run row-streamed (a stem, 1 to [`MAX_STREAMED_BLOCKS`]
/// int8 blocks without GRN, then a downsample).
pub fn can_stream<B: AsRef<[u8]>, O: AsRef<Op<B>>>(ops: &[O]) -> bool {
    section(ops).is_some()
}

/// A forward pass fed one image row at a time ([`RowStream::push_row`]),
/// then finished into the logits ([`RowStream::finish`]). `ops` is the
/// schedule: `Op`s, or anything that holds one (`O: AsRef<Op<B>>`).
pub struct RowStream<'a, B: AsRef<[u8]>, O: AsRef<Op<B>> = Op<B>> {
    ops: &'a [O],
    _tables: core::marker::PhantomData<B>,
    layout: StreamLayout,
    arena: &'a mut [i8],
    blocks: usize,
    /// Image rows received.
    rows: usize,
    /// Per block: input rows in its ring so far, output rows made.
    have: [usize; MAX_STREAMED_BLOCKS],
    done: [usize; MAX_STREAMED_BLOCKS],
}

impl<'a, B: AsRef<[u8]> + 'a, O: AsRef<Op<B>>> RowStream<'a, B, O> {
    /// Start a streamed forward of `ops` (a plan's schedule) in `arena`.
    pub fn new(
        ops: &'a [O],
        layout: StreamLayout,
        arena: &'a mut [i8],
    ) -> Result<Self, ForwardError> {
        let blocks = section(ops).ok_or(ForwardError::NotStreamable)?;
        if arena.len() < layout.arena_bytes {
            return Err(ForwardError::ArenaTooSmall {
                needed: layout.arena_bytes,
                given: arena.len(),
            });
        }
        Ok(RowStream {
            ops,
            _tables: core::marker::PhantomData,
            layout,
            arena,
            blocks,
            rows: 0,
            have: [0; MAX_STREAMED_BLOCKS],
            done: [0; MAX_STREAMED_BLOCKS],
        })
    }

    fn stem(&self) -> Option<&'a crate::kernels::stem::StemParams<B>> {
        match self.ops.first().map(AsRef::as_ref) {
            Some(Op::Stem(s)) => Some(s),
            _ => None,
        }
    }

    fn block(&self, b: usize) -> Option<&'a BlockParams<B>> {
        match self.ops.get(1 + b).map(AsRef::as_ref) {
            Some(Op::Block(p)) => Some(p),
            _ => None,
        }
    }

    /// Feed the next image row (`W * C` u8 pixels, HWC, as the whole-image
    /// forward takes them); the stem and the first stage advance as far as
    /// the rows allow.
    pub fn push_row(&mut self, row: &[u8]) -> Result<(), ForwardError> {
        let Some(stem) = self.stem() else {
            return Err(ForwardError::NotStreamable);
        };
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
            let map = self.block(0).map(|b| b.map).unwrap_or_default();
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
        loop {
            let ready = (0..self.blocks).rev().find(|&b| self.can_make(b));
            match ready {
                Some(b) => self.make_row(b),
                None => return,
            }
        }
    }

    /// Block `b` has the input rows for its next output row, and the next
    /// ring has a free slot for it.
    fn can_make(&self, b: usize) -> bool {
        let Some(p) = self.block(b) else {
            return false;
        };
        let h = p.map.h;
        let (have, done) = (self.have[b], self.done[b]);
        let inputs_in = done < h && have >= (done + 4).min(h);
        // The next ring's slot for row `done` holds row `done - 7`, which
        // the next block's outputs up to `done - 4` read.
        let room = b + 1 >= self.blocks || self.done[b + 1] + 3 >= done;
        inputs_in && room
    }

    /// Block `b`'s next output row, into the next ring or the pair; a
    /// finished pair goes through the downsample.
    fn make_row(&mut self, b: usize) {
        let Some(p) = self.block(b) else {
            return;
        };
        let row = p.map.w * p.map.c;
        let ring = WINDOW_ROWS * row;
        let r = self.done[b];
        let window = self.layout.windows + b * ring;
        let last = b + 1 == self.blocks;
        let out = if last {
            self.layout.pair + (r % 2) * row
        } else {
            window + ring + (r % WINDOW_ROWS) * row
        };
        block_row(
            p,
            self.arena,
            (window, r, out, self.layout.scratch),
            &mut NoProbe,
        );
        self.done[b] += 1;
        if !last {
            self.have[b + 1] += 1;
        } else if r % 2 == 1 {
            if let Some(Op::Downsample(d)) = self.ops.get(1 + self.blocks).map(AsRef::as_ref) {
                let at = Placement {
                    input_offset: self.layout.pair,
                    output_offset: d.at.output_offset + (r / 2) * (d.in_w / 2) * d.cout,
                    scratch_offset: self.layout.scratch,
                };
                downsample_rows(d, at, 2, self.arena, &mut NoProbe);
            }
        }
    }

    /// After the last row: the rest of the network, into the logits (or
    /// feature maps) `out`.
    pub fn finish(self, out: &mut Outputs<'_>) -> Result<(), ForwardError> {
        let expected = self.stem().map_or(0, |s| s.in_h);
        if self.rows != expected {
            return Err(ForwardError::ImageRows {
                expected,
                given: self.rows,
            });
        }
        for op in self.ops.iter().skip(2 + self.blocks) {
            op.as_ref().run(self.arena, out, &mut NoProbe);
        }
        Ok(())
    }
}
