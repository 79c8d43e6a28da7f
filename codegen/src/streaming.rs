//! The row-streamed forward's memory plan (`convnext::streamed`): where the
//! band, the block rings, the pair and the scratch sit while the image
//! streams in, and the arena that needs against the in-place plan's.
//!
//! While rows stream, the arena holds the second stage's tensor (filled row
//! by row where the in-place plan's downsample writes it) and, above it, the
//! stem's band of `k` input rows, one ring of 7 rows per first-stage block,
//! two rows for the downsample and the kernels' scratch. After the last row
//! the rest of the network runs in its in-place placement.

use crate::plan::Plan;
use convnext::kernels::block::BlockParams;
use convnext::kernels::block::WINDOW_ROWS;
use convnext::kernels::in_place_map::TILE_PIXELS;
use convnext::kernels::OpFootprint;
use convnext::network::{Op, Outputs};
use convnext::streamed::{section_len, RowStream, StreamLayout, StreamedSection};

impl Plan {
    /// The row-streamed layout, or `None` when the schedule cannot stream
    /// (its first stage has GRN or f16 blocks, or there is no second stage).
    pub fn stream_layout(&self) -> Option<StreamLayout> {
        section_len(&self.model.ops)?;
        let ops: Vec<&Op<Vec<u8>>> = self.runtime_ops().collect();
        let Op::Stem(stem) = ops[0] else {
            return None;
        };
        let blocks: Vec<_> = ops[1..]
            .iter()
            .map_while(|o| match o {
                Op::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        let Op::Downsample(down) = ops[1 + blocks.len()] else {
            return None;
        };
        let map = blocks[0].map;
        let row = map.w * map.c;
        let stage2 = down.at.output_offset + down.output_bytes();
        let band = stage2;
        let windows = band + stem.k * stem.in_w * stem.cin;
        let pair = windows + blocks.len() * WINDOW_ROWS * row;
        let scratch = pair + 2 * row;
        let scratch_bytes = (4 * stem.cout)
            .max(TILE_PIXELS * 6 * map.c)
            .max(down.scratch_bytes_tiled(TILE_PIXELS));
        let streaming = scratch + scratch_bytes;
        // After the last row: the rest of the schedule as planned.
        let rest = self
            .ops
            .iter()
            .skip(2 + blocks.len())
            .map(|o| o.arena_live_bytes)
            .max()
            .unwrap_or(0);
        Some(StreamLayout {
            band,
            windows,
            pair,
            scratch,
            arena_bytes: streaming.max(rest),
        })
    }

    /// Run one u8 HWC image row-streamed, a row at a time, in an arena of the
    /// layout's `arena_bytes`, into `logits`: the same bits as
    /// [`Plan::run_one`].
    pub fn run_streamed_one(
        &self,
        image: &[u8],
        arena: &mut [i8],
        logits: &mut [i32],
    ) -> Result<(), convnext::network::ForwardError> {
        use convnext::network::ForwardError;
        let layout = self.stream_layout().ok_or(ForwardError::NotStreamable)?;
        let len = section_len(&self.model.ops).ok_or(ForwardError::NotStreamable)?;
        let ops: Vec<&Op<Vec<u8>>> = self.runtime_ops().collect();
        let blocks: Vec<&BlockParams<Vec<u8>>> = ops[1..len - 1]
            .iter()
            .filter_map(|o| match o {
                Op::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        let (Op::Stem(stem), Op::Downsample(downsample)) = (ops[0], ops[len - 1]) else {
            return Err(ForwardError::NotStreamable);
        };
        let section = StreamedSection {
            stem,
            blocks: &blocks,
            downsample,
        };
        let mut stream = RowStream::new(section, layout, arena)?;
        let row = self.model.input_w * self.model.input_c;
        for r in image.chunks(row.max(1)) {
            stream.push_row(r)?;
        }
        let arena = stream.finish()?;
        let mut out = Outputs::logits(logits);
        for op in &ops[len..] {
            op.run(arena, &mut out, &mut convnext::kernels::probe::NoProbe);
        }
        Ok(())
    }
}
