//! Memory plan: where every op reads and writes in one arena, and what that
//! costs. The residual stream of each stage lives at one offset and every op
//! works in place; the stream offsets are chosen back to front so no in-place
//! write lands on input a later output still needs (each op states how far
//! above its output its input must start: `OpFootprint::input_lead_bytes`).
//! Scratch (the depthwise ring, per-pixel temporaries) sits above the tensors
//! live during the op, sized by the op itself (`scratch_bytes`).

use crate::quantize::QuantizedModel;
use convnext::kernels::Placement;
use convnext::network::{load_input_u8, run_ops, Op};

/// Cost of one op, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct OpReport {
    /// `stem`, `stage1_block0`, `stage2_downsample`, `head`.
    pub name: String,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Parameter bytes (int8 weights, int32 biases, multipliers, tables).
    pub weights_bytes: usize,
    /// Arena bytes in use while it runs (tensors + scratch).
    pub arena_live_bytes: usize,
    /// Bytes a layer-by-layer schedule would hold live for it.
    pub layerwise_bytes: usize,
    /// Output shape `(C, H, W)` (the head's: `(num_labels, 1, 1)`).
    pub output_shape: [usize; 3],
}

/// Output shape `(C, H, W)` of `op`.
fn output_shape(op: &Op<Vec<u8>>) -> [usize; 3] {
    match op {
        Op::Stem(s) => [s.cout, s.in_h / s.k.max(1), s.in_w / s.k.max(1)],
        Op::Block(b) => [b.map.c, b.map.h, b.map.w],
        Op::BlockF16(b) => [b.map.c, b.map.h, b.map.w],
        Op::Downsample(d) => [d.cout, d.in_h / 2, d.in_w / 2],
        Op::Head(h) => [h.classifier.outputs(), 1, 1],
    }
}

/// A quantized model with its memory plan: every op's [`Placement`] is set.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The quantized, placed network.
    pub model: QuantizedModel,
    /// Where the int8 input goes.
    pub input_offset: usize,
    /// Input bytes (`H * W * C`).
    pub input_bytes: usize,
    /// Total arena bytes.
    pub arena_bytes: usize,
    /// The largest tensor that must be resident (input or any stream).
    pub residual_bound_bytes: usize,
    /// What a layer-by-layer schedule would need.
    pub layerwise_arena_bytes: usize,
    /// Per-op costs.
    pub ops: Vec<OpReport>,
}

/// Bytes a layer-by-layer schedule holds live for `op`: its input, its
/// output and every intermediate tensor at once.
fn layerwise_bytes(op: &Op<Vec<u8>>) -> usize {
    let f = op.footprint();
    let (input, output) = (f.input_bytes(), f.output_bytes());
    match op {
        // Input, conv output and normalised output.
        Op::Stem(_) => input + 2 * output,
        // x, dw(x) and the 4C hidden tensor.
        Op::Block(_) | Op::BlockF16(_) => 6 * input,
        // Input, normalised input and output.
        Op::Downsample(_) => 2 * input + output,
        // The map, the pooled and the normalised vector.
        Op::Head(h) => input + 2 * h.c,
    }
}

impl Plan {
    /// Lay out `model` in one arena.
    pub fn new(mut model: QuantizedModel) -> Plan {
        // Stream offsets, back to front: each op writes at `next` and reads
        // `input_lead_bytes` above it, where the op before it wrote.
        let mut next = 0usize;
        for q in model.ops.iter_mut().rev() {
            let lead = q.op.footprint().input_lead_bytes();
            q.op.set_placement(Placement {
                input_offset: next + lead,
                output_offset: next,
                scratch_offset: 0,
            });
            next += lead;
        }
        let (mut arena_bytes, mut residual_bound, mut layerwise) = (0usize, 0usize, 0usize);
        let mut ops = Vec::with_capacity(model.ops.len());
        for q in &mut model.ops {
            let naive = layerwise_bytes(&q.op);
            let mut at = q.op.placement();
            let f = q.op.footprint();
            // Scratch sits just above the tensors live during this op.
            let tensor_top =
                (at.input_offset + f.input_bytes()).max(at.output_offset + f.output_bytes());
            let live = tensor_top + f.scratch_bytes();
            arena_bytes = arena_bytes.max(live);
            residual_bound = residual_bound.max(f.input_bytes()).max(f.output_bytes());
            layerwise = layerwise.max(naive);
            ops.push(OpReport {
                name: q.name.clone(),
                macs: f.macs(),
                weights_bytes: f.weights_bytes(),
                arena_live_bytes: live,
                layerwise_bytes: naive,
                output_shape: output_shape(&q.op),
            });
            at.scratch_offset = tensor_top;
            q.op.set_placement(at);
        }
        let input_offset = model
            .ops
            .first()
            .map_or(0, |q| q.op.placement().input_offset);
        let input_bytes = model.input_h * model.input_w * model.input_c;
        Plan {
            model,
            input_offset,
            input_bytes,
            arena_bytes,
            residual_bound_bytes: residual_bound,
            layerwise_arena_bytes: layerwise,
            ops,
        }
    }

    /// Total multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        self.ops.iter().map(|o| o.macs).sum()
    }

    /// Total parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        self.ops.iter().map(|o| o.weights_bytes).sum()
    }

    /// The placed ops in schedule order, as the runtime runs them.
    pub fn runtime_ops(&self) -> impl Iterator<Item = &Op<Vec<u8>>> + Clone {
        self.model.ops.iter().map(|q| &q.op)
    }

    /// Run the int8 network on one u8 HWC image on the calling thread, in
    /// `arena` (`arena_bytes` long), into `logits` (`num_labels`).
    pub fn run_one(&self, image: &[u8], arena: &mut [i8], logits: &mut [i32]) {
        load_input_u8(image, arena, self.input_offset);
        run_ops(self.runtime_ops(), arena, logits);
    }

    /// Run the int8 network on u8 HWC images (`input_bytes` each), spread
    /// over the machine's cores; returns int32 logits, `num_labels` per image.
    pub fn run_u8(&self, images: &[u8]) -> Vec<i32> {
        let per = self.input_bytes;
        let n = images.len() / per;
        let labels = self.model.num_labels;
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        let mut out = vec![0i32; n * labels];
        std::thread::scope(|s| {
            for (imgs, logits) in images
                .chunks(chunk * per)
                .zip(out.chunks_mut(chunk * labels))
            {
                s.spawn(move || {
                    let mut arena = vec![0i8; self.arena_bytes];
                    for (img, l) in imgs.chunks_exact(per).zip(logits.chunks_exact_mut(labels)) {
                        self.run_one(img, &mut arena, l);
                    }
                });
            }
        });
        out
    }
}
