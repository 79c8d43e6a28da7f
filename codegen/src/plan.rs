//! Memory plan: where every op reads and writes in one arena, and what that
//! costs. The residual stream of each stage lives at one offset and every op
//! works in place; the stage offsets are chosen back to front so no
//! in-place write lands on input a later output still needs. Scratch (the
//! depthwise ring, per-pixel temporaries) sits above the tensors.

use crate::quantize::{OpQ, QuantizedModel};
use convnext::kernels::block::{ring_pixels, BlockParams};
use convnext::kernels::block_f16::BlockF16Params;
use convnext::kernels::downsample::DownsampleParams;
use convnext::kernels::head::HeadParams;
use convnext::kernels::stem::StemParams;
use convnext::network::{run_ops, Op};

/// Arena placement of one op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Where the op reads its tensor.
    pub input_offset: usize,
    /// Where it writes (equal to input for blocks).
    pub output_offset: usize,
    /// The depthwise ring (blocks only).
    pub ring_offset: usize,
    /// Per-pixel scratch.
    pub scratch_offset: usize,
}

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
}

/// A quantized model with its memory plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The quantized network.
    pub model: QuantizedModel,
    /// One placement per op.
    pub placements: Vec<Placement>,
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

/// Lowest `base` such that writing output pixel `i` (bytes `[i*out_px, (i+1)*out_px)`
/// from offset 0) never reaches input bytes (at `base`) a later output pixel reads.
/// `first_input(i)` is the lowest input byte output pixel `i` reads.
pub fn in_place_base(
    out_pixels: usize,
    out_px_bytes: usize,
    first_input: impl Fn(usize) -> usize,
) -> usize {
    (0..out_pixels.saturating_sub(1))
        .map(|i| ((i + 1) * out_px_bytes).saturating_sub(first_input(i + 1)))
        .max()
        .unwrap_or(0)
}

fn name_of(op: &OpQ) -> String {
    match op {
        OpQ::Stem(_) => "stem".into(),
        OpQ::Block(b) => format!("stage{}_block{}", b.index.0 + 1, b.index.1),
        OpQ::BlockF16(b) => format!("stage{}_block{}_f16", b.index.0 + 1, b.index.1),
        OpQ::Downsample(d) => format!("stage{}_downsample", d.stage + 1),
        OpQ::Head(_) => "head".into(),
    }
}

impl Plan {
    /// Lay out `model` in one arena.
    pub fn new(model: QuantizedModel) -> Plan {
        let n = model.ops.len();
        // Stream offsets, back to front: a downsample reads at `o_in`, writes at `o_out`.
        let mut stream_offset = vec![0usize; n];
        let mut next = 0usize;
        for (i, op) in model.ops.iter().enumerate().rev() {
            match op {
                OpQ::Head(_) | OpQ::Block(_) | OpQ::BlockF16(_) => stream_offset[i] = next,
                OpQ::Downsample(d) => {
                    let (ow, cin, cout, in_w) = (d.in_w / 2, d.cin, d.cout, d.in_w);
                    let base = in_place_base((d.in_h / 2) * ow, cout, |j| {
                        let (r, c) = (j / ow, j % ow);
                        (2 * r * in_w + 2 * c) * cin
                    });
                    stream_offset[i] = next; // output
                    next += base; // the input stream sits this much higher
                }
                OpQ::Stem(_) => stream_offset[i] = next,
            }
        }
        let mut placements = vec![Placement::default(); n];
        let mut live_top = vec![0usize; n];
        let mut input_offset = 0;
        let mut residual_bound = 0usize;
        let mut cur = 0usize; // offset of the current stream
        for (i, op) in model.ops.iter().enumerate() {
            let p = &mut placements[i];
            match op {
                OpQ::Stem(s) => {
                    let (oh, ow) = (s.in_h / s.k, s.in_w / s.k);
                    let base = in_place_base(oh * ow, s.cout, |j| {
                        let (r, c) = (j / ow, j % ow);
                        (r * s.k * s.in_w + c * s.k) * s.cin
                    });
                    let out_off = stream_offset[i];
                    let in_bytes = s.in_h * s.in_w * s.cin;
                    input_offset = out_off + base;
                    p.input_offset = input_offset;
                    p.output_offset = out_off;
                    live_top[i] = (input_offset + in_bytes).max(out_off + oh * ow * s.cout);
                    residual_bound = residual_bound.max(in_bytes).max(oh * ow * s.cout);
                    cur = out_off;
                }
                OpQ::Block(_) | OpQ::BlockF16(_) => {
                    let (h, w, c) = op.block_dims().expect("a block");
                    p.input_offset = cur;
                    p.output_offset = cur;
                    live_top[i] = cur + h * w * c;
                    residual_bound = residual_bound.max(h * w * c);
                }
                OpQ::Downsample(d) => {
                    let out_off = stream_offset[i];
                    p.input_offset = cur;
                    p.output_offset = out_off;
                    let out_bytes = (d.in_h / 2) * (d.in_w / 2) * d.cout;
                    live_top[i] = (cur + d.in_h * d.in_w * d.cin).max(out_off + out_bytes);
                    residual_bound = residual_bound.max(out_bytes);
                    cur = out_off;
                }
                OpQ::Head(hd) => {
                    p.input_offset = cur;
                    p.output_offset = cur;
                    live_top[i] = cur + hd.h * hd.w * hd.c;
                    residual_bound = residual_bound.max(hd.h * hd.w * hd.c);
                }
            }
        }
        let mut arena_bytes = 0usize;
        let mut ops = Vec::with_capacity(n);
        let mut layerwise = 0usize;
        for (i, op) in model.ops.iter().enumerate() {
            let p = &mut placements[i];
            // Scratch sits just above the tensors live during this op.
            let tensor_top = live_top[i];
            let (scratch, macs, weights_bytes, live, naive) = match op {
                OpQ::Stem(s) => {
                    let out = (s.in_h / s.k) * (s.in_w / s.k) * s.cout;
                    let input = s.in_h * s.in_w * s.cin;
                    p.scratch_offset = tensor_top;
                    let macs = (out * s.k * s.k * s.cin) as u64;
                    let wb = s.weights.len()
                        + 4 * s.bias.len()
                        + 8 * s.conv_requant.len()
                        + 12 * s.out_requant.len();
                    // Naive: input, conv output and normalised output all held.
                    (4 * s.cout, macs, wb, input.max(out), input + 2 * out)
                }
                OpQ::Block(_) | OpQ::BlockF16(_) => {
                    let (h, w, c) = op.block_dims().expect("a block");
                    let x = h * w * c;
                    let ring = ring_pixels(h, w) * c;
                    p.ring_offset = tensor_top;
                    p.scratch_offset = tensor_top + ring;
                    let macs = (h * w * (49 * c + 8 * c * c)) as u64;
                    // Per-pixel scratch: the int8 hidden vector, or the f32
                    // LayerNorm output and hidden vector.
                    let (scratch, wb) = match op {
                        OpQ::Block(b) => (
                            4 * c,
                            b.dw_weights.len()
                                + b.pw1_weights.len()
                                + b.pw2_weights.len()
                                + 4 * (b.dw_bias.len() + b.pw1_bias.len() + b.pw2_bias.len())
                                + 8 * (b.dw_requant.len()
                                    + b.pw1_requant.len()
                                    + b.pw2_requant.len())
                                + 256,
                        ),
                        OpQ::BlockF16(b) => (20 * c, b.weights_bytes()),
                        _ => unreachable!("matched a block above"),
                    };
                    // Naive: x, dw(x) and the 4C hidden tensor at once.
                    (ring + scratch, macs, wb, x, 6 * x)
                }
                OpQ::Downsample(d) => {
                    let input = d.in_h * d.in_w * d.cin;
                    let out = (d.in_h / 2) * (d.in_w / 2) * d.cout;
                    p.scratch_offset = tensor_top;
                    let macs = (out * 4 * d.cin) as u64;
                    let wb = d.weights.len() + 4 * d.bias.len() + 8 * d.requant.len();
                    (d.cout, macs, wb, input.max(out), 2 * input + out)
                }
                OpQ::Head(hd) => {
                    p.scratch_offset = tensor_top;
                    let labels = hd.bias.len();
                    let macs = (hd.h * hd.w * hd.c + hd.c * labels) as u64;
                    let wb = hd.weights.len() + 4 * hd.bias.len() + 8 * hd.requant.len();
                    (
                        5 * hd.c,
                        macs,
                        wb,
                        hd.h * hd.w * hd.c,
                        hd.h * hd.w * hd.c + 2 * hd.c,
                    )
                }
            };
            arena_bytes = arena_bytes.max(tensor_top + scratch);
            layerwise = layerwise.max(naive);
            ops.push(OpReport {
                name: name_of(op),
                macs,
                weights_bytes,
                arena_live_bytes: tensor_top.max(live) + scratch,
                layerwise_bytes: naive,
            });
        }
        let input_bytes = model.input_h * model.input_w * model.input_c;
        Plan {
            model,
            placements,
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

    /// The ops as the runtime takes them, borrowing this plan's parameters.
    pub fn runtime_ops(&self) -> Vec<Op<'_>> {
        self.model
            .ops
            .iter()
            .zip(&self.placements)
            .map(|(op, p)| match op {
                OpQ::Stem(s) => Op::Stem(StemParams {
                    in_h: s.in_h,
                    in_w: s.in_w,
                    cin: s.cin,
                    k: s.k,
                    cout: s.cout,
                    input_offset: p.input_offset,
                    output_offset: p.output_offset,
                    scratch_offset: p.scratch_offset,
                    weights: &s.weights,
                    bias: &s.bias,
                    conv_requant: &s.conv_requant,
                    ln: s.ln,
                    out_requant: &s.out_requant,
                    out_offset: &s.out_offset,
                }),
                OpQ::Block(b) => Op::Block(BlockParams {
                    h: b.h,
                    w: b.w,
                    c: b.c,
                    x_offset: p.input_offset,
                    ring_offset: p.ring_offset,
                    scratch_offset: p.scratch_offset,
                    x_zero_point: b.input.zero_point,
                    dw_weights: &b.dw_weights,
                    dw_bias: &b.dw_bias,
                    dw_requant: &b.dw_requant,
                    ln: b.ln,
                    ln_requant: b.ln_requant,
                    pw1_weights: &b.pw1_weights,
                    pw1_bias: &b.pw1_bias,
                    pw1_requant: &b.pw1_requant,
                    pw1_zero_point: b.pw1_zero_point,
                    act_table: &b.act_table,
                    pw2_weights: &b.pw2_weights,
                    pw2_bias: &b.pw2_bias,
                    pw2_requant: &b.pw2_requant,
                    residual_requant: b.residual_requant,
                    out_zero_point: b.out.zero_point,
                }),
                OpQ::BlockF16(b) => Op::BlockF16(BlockF16Params {
                    h: b.h,
                    w: b.w,
                    c: b.c,
                    x_offset: p.input_offset,
                    ring_offset: p.ring_offset,
                    scratch_offset: p.scratch_offset,
                    x_scale: b.input.scale as f32,
                    x_zero_point: b.input.zero_point,
                    dw_weights: &b.dw_weights,
                    dw_bias: &b.dw_bias,
                    ln_weight: &b.ln_weight,
                    ln_bias: &b.ln_bias,
                    ln_eps: b.ln_eps,
                    pw1_weights: &b.pw1_weights,
                    pw1_bias: &b.pw1_bias,
                    act: b.act,
                    pw2_weights: &b.pw2_weights,
                    pw2_bias: &b.pw2_bias,
                    gamma: &b.gamma,
                    out_scale: b.out.scale as f32,
                    out_zero_point: b.out.zero_point,
                }),
                OpQ::Downsample(d) => Op::Downsample(DownsampleParams {
                    in_h: d.in_h,
                    in_w: d.in_w,
                    cin: d.cin,
                    cout: d.cout,
                    input_offset: p.input_offset,
                    output_offset: p.output_offset,
                    scratch_offset: p.scratch_offset,
                    ln: d.ln,
                    ln_requant: d.ln_requant,
                    weights: &d.weights,
                    bias: &d.bias,
                    requant: &d.requant,
                    out_zero_point: d.out.zero_point,
                }),
                OpQ::Head(hd) => Op::Head(HeadParams {
                    h: hd.h,
                    w: hd.w,
                    c: hd.c,
                    x_offset: p.input_offset,
                    x_zero_point: hd.input.zero_point,
                    scratch_offset: p.scratch_offset,
                    ln: hd.ln,
                    ln_requant: hd.ln_requant,
                    weights: &hd.weights,
                    bias: &hd.bias,
                    requant: &hd.requant,
                }),
            })
            .collect()
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
                    let ops = self.runtime_ops();
                    let mut arena = vec![0i8; self.arena_bytes];
                    for (img, l) in imgs.chunks_exact(per).zip(logits.chunks_exact_mut(labels)) {
                        convnext::network::load_input_u8(img, &mut arena, self.input_offset);
                        run_ops(&ops, &mut arena, l);
                    }
                });
            }
        });
        out
    }
}
