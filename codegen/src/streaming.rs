//! The row-streamed forward of a plan (`convnext::streamed`): its section of
//! kernels, its layout (`StreamLayout::of`, above the second stage's tensor;
//! after the last row the rest of the network runs in its in-place
//! placement) and a host runner for the tests.

use crate::plan::Plan;
use convnext::kernels::block::BlockParams;
use convnext::kernels::downsample::DownsampleParams;
use convnext::kernels::probe::NoProbe;
use convnext::kernels::stem::StemParams;
use convnext::network::{ForwardError, Op, Outputs};
use convnext::streamed::{section_len, RowStream, StreamLayout, StreamedSection};

impl Plan {
    /// The streamed section's kernels (stem, first-stage blocks, downsample)
    /// and how many ops it is, or `None` when the schedule cannot stream.
    fn streamed_parts(&self) -> Option<(Parts<'_>, usize)> {
        let len = section_len(&self.model.ops)?;
        let ops: Vec<&Op<Vec<u8>>> = self.runtime_ops().take(len).collect();
        let (Op::Stem(stem), Op::Downsample(downsample)) = (ops[0], ops[len - 1]) else {
            return None;
        };
        let blocks = ops[1..len - 1]
            .iter()
            .filter_map(|o| match o {
                Op::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        Some(((stem, blocks, downsample), len))
    }

    /// True when the generated module has a row-streamed forward
    /// (`forward_rows`, `forward_rows_resume`, `forward_rest`): a classifier
    /// whose first stage streams.
    pub fn streams(&self) -> bool {
        self.feature_map_bytes == 0 && self.stream_layout().is_some()
    }

    /// The row-streamed layout, or `None` when the schedule cannot stream
    /// (its first stage has GRN or f16 blocks, or there is no second stage).
    pub fn stream_layout(&self) -> Option<StreamLayout> {
        let ((stem, blocks, downsample), len) = self.streamed_parts()?;
        let section = StreamedSection {
            stem,
            blocks: &blocks,
            downsample,
        };
        // After the last row: the rest of the schedule as planned, less
        // the widened hidden vectors' room, which the blocks use only where
        // the arena has it (so streaming costs no more for it).
        let rest = self.ops[len..]
            .iter()
            .zip(&self.model.ops[len..])
            .map(|(o, q)| match &q.op {
                Op::Block(b) => o.arena_live_bytes - b.wide_hidden_bytes(),
                _ => o.arena_live_bytes,
            })
            .max();
        Some(StreamLayout::of(&section, rest.unwrap_or(0)))
    }

    /// Run one u8 HWC image row-streamed, a row at a time, in an arena of the
    /// layout's `arena_bytes`, into `logits`: the same bits as
    /// [`Plan::run_one`].
    pub fn run_streamed_one(
        &self,
        image: &[u8],
        arena: &mut [i8],
        logits: &mut [i32],
    ) -> Result<(), ForwardError> {
        let layout = self.stream_layout().ok_or(ForwardError::NotStreamable)?;
        let ((stem, blocks, downsample), len) =
            self.streamed_parts().ok_or(ForwardError::NotStreamable)?;
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
        for op in self.runtime_ops().skip(len) {
            op.run(arena, &mut out, &mut NoProbe);
        }
        Ok(())
    }
}

/// A section's kernels: the stem, the blocks, the downsample.
type Parts<'a> = (
    &'a StemParams<Vec<u8>>,
    Vec<&'a BlockParams<Vec<u8>>>,
    &'a DownsampleParams<Vec<u8>>,
);
