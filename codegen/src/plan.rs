//! Memory plan: where every op reads and writes in one arena, and what that
//! costs. The residual stream of each stage lives at one offset and every op
//! works in place; the stream offsets are chosen back to front so no in-place
//! write lands on input a later output still needs (each op states how far
//! above its output its input must start: `OpFootprint::input_lead_bytes`).
//! Scratch (the depthwise ring, per-pixel temporaries) sits above the tensors
//! live during the op, sized by the op itself (`scratch_bytes`).

use crate::error::{Error, Result};
use crate::quantize::QuantizedModel;
use crate::tensor::Tensor;
use convnext::kernels::block::BlockParams;
use convnext::kernels::prepared::Prepared;
use convnext::kernels::{OpFootprint, Placement};
use convnext::network::{load_input_u8, run_ops_tiled, Op, Outputs};

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
        Op::FeatureMap(m) => [m.map.c, m.map.h, m.map.w],
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
    /// Total arena bytes (the firmware's, and the generated `ARENA_BYTES`).
    pub arena_bytes: usize,
    /// Arena bytes of the host's runs ([`Plan::run_one`]): the same
    /// placement, with scratch for the host's wider block tiles.
    pub host_arena_bytes: usize,
    /// The largest tensor that must be resident (input or any stream).
    pub residual_bound_bytes: usize,
    /// What a layer-by-layer schedule would need.
    pub layerwise_arena_bytes: usize,
    /// Bytes of the caller's feature-map buffer (0 for a classifier).
    pub feature_map_bytes: usize,
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
        Op::Head(h) => input + 2 * h.map.c,
        // The stream and its normalised copy.
        Op::FeatureMap(_) => 2 * input,
    }
}

/// Turns on [`convnext::kernels::block::BlockParams::wide_hidden`] for
/// every v1 block whose `C` is a multiple of 8 and whose scratch, with the
/// widened hidden vectors' room, stays within `arena_bytes` (the peak
/// without it): DSP cores then run its pw2 on halfwords, and the arena
/// does not grow. `ops` (the report) gets the blocks' new live bytes.
fn widen_hidden_where_free(model: &mut QuantizedModel, ops: &mut [OpReport], arena_bytes: usize) {
    for (q, report) in model.ops.iter_mut().zip(ops) {
        let Op::Block(b) = &mut q.op else {
            continue;
        };
        // (A block with i16 hidden vectors has them widened already.)
        if b.grn.is_some() || b.hidden16 || !b.map.c.is_multiple_of(8) {
            continue;
        }
        let wide = BlockParams {
            wide_hidden: true,
            ..b.clone()
        };
        let live = b.at.scratch_offset + wide.scratch_bytes();
        if live <= arena_bytes {
            *b = wide;
            report.arena_live_bytes = live;
        }
    }
}

/// [`Plan::numerics_cost`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericsCost {
    /// Arena bytes the i16 hidden vectors add.
    pub arena_bytes: usize,
    /// Table bytes the 16-bit activation tables and the stream profiles add.
    pub table_bytes: usize,
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
        let mut host_arena_bytes = 0usize;
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
            host_arena_bytes = host_arena_bytes.max(tensor_top + q.op.host_scratch_bytes());
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
        widen_hidden_where_free(&mut model, &mut ops, arena_bytes);
        if cfg!(target_arch = "x86_64") {
            crate::host_wide::prepare(&mut model);
        }
        let input_offset = model
            .ops
            .first()
            .map_or(0, |q| q.op.placement().input_offset);
        let input_bytes = model.input_h * model.input_w * model.input_c;
        let feature_map_bytes = model.feature_maps.iter().map(|m| m.bytes()).sum();
        Plan {
            feature_map_bytes,
            model,
            input_offset,
            input_bytes,
            arena_bytes,
            host_arena_bytes: host_arena_bytes.max(arena_bytes),
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

    /// What this network's numerics beyond per-tensor int8 cost
    /// ([`crate::quantize::Numerics`]): the arena bytes its blocks' i16
    /// hidden vectors add, and the table bytes of its 16-bit activation
    /// tables (their second halves) and stream profiles.
    pub fn numerics_cost(&self) -> NumericsCost {
        let mut narrow = self.model.clone();
        let mut table_bytes = 0;
        for q in &mut narrow.ops {
            table_bytes += match &mut q.op {
                Op::Block(b) => {
                    let wide_table = b.hidden16 && b.grn.is_none();
                    b.hidden16 = false;
                    if wide_table {
                        256
                    } else {
                        0
                    }
                }
                Op::Downsample(d) => d.profile.len(),
                Op::Head(h) => h.profile.len(),
                Op::FeatureMap(f) => f.profile.len(),
                Op::BlockF16(b) => b.profile.len() + b.out_profile.len(),
                _ => 0,
            };
        }
        NumericsCost {
            arena_bytes: self
                .arena_bytes
                .saturating_sub(Plan::new(narrow).arena_bytes),
            table_bytes,
        }
    }

    /// The placed ops in schedule order, as the runtime runs them.
    pub fn runtime_ops(&self) -> impl Iterator<Item = &Op<Vec<u8>>> + Clone {
        self.model.ops.iter().map(|q| &q.op)
    }

    /// The placed ops with the host's prepared tables, as the host runs
    /// them ([`convnext::network::run_ops_tiled`]).
    pub fn host_ops(&self) -> impl Iterator<Item = (&Op<Vec<u8>>, Prepared<&[u8]>)> + Clone {
        self.model.ops.iter().map(|q| (&q.op, q.host.view()))
    }

    /// Run the int8 network on one u8 HWC image on the calling thread, in
    /// `arena` (`host_arena_bytes` long for the host's wider tiles; an
    /// `arena_bytes` one runs the firmware's tiles), into `logits`
    /// (`num_labels`). The same bits either way.
    pub fn run_one(&self, image: &[u8], arena: &mut [i8], logits: &mut [i32]) {
        self.run_one_into(image, arena, &mut Outputs::logits(logits));
    }

    /// [`Plan::run_one`] into logits and feature maps
    /// (`feature_map_bytes`).
    pub fn run_one_into(&self, image: &[u8], arena: &mut [i8], out: &mut Outputs<'_>) {
        load_input_u8(image, arena, self.input_offset);
        run_ops_tiled(self.host_ops(), arena, out);
    }

    /// The int8 feature maps of u8 HWC images (`input_bytes` each), spread
    /// over the machine's cores: `feature_map_bytes` per image, the maps one
    /// after another as `model.feature_maps` places them.
    pub fn run_feature_maps_u8(&self, images: &[u8]) -> Vec<i8> {
        self.run_parallel(images, self.feature_map_bytes, |img, arena, maps| {
            let mut out = Outputs {
                logits: &mut [],
                feature_maps: maps,
            };
            self.run_one_into(img, arena, &mut out);
        })
    }

    /// [`Plan::run_feature_maps_u8`] dequantized: per map, its name and
    /// `(N, C, H, W)` float32, as HF's `ConvNextBackbone` returns them.
    pub fn feature_maps_f32(&self, images: &[u8]) -> Vec<(String, Tensor)> {
        let maps = self.run_feature_maps_u8(images);
        let n = images.len() / self.input_bytes.max(1);
        self.model
            .feature_maps
            .iter()
            .map(|m| {
                let [c, h, w] = m.shape;
                let mut t = Tensor::zeros(&[n, c, h, w]);
                for i in 0..n {
                    let hwc = &maps[i * self.feature_map_bytes + m.offset..][..m.bytes()];
                    for (p, px) in hwc.chunks_exact(c).enumerate() {
                        for (ch, &q) in px.iter().enumerate() {
                            t.data[((i * c + ch) * h * w) + p] =
                                (m.quant.scale * (q as i32 - m.quant.zero_point) as f64) as f32;
                        }
                    }
                }
                (m.name.clone(), t)
            })
            .collect()
    }

    /// Check pixel_values `x` for this network: inputs of another size than
    /// the plan's are an error; `warn` hears of pixel_values that are not u8
    /// images under a camera-input plan (they are clipped and rounded), unless
    /// `from_u8` (they came from u8 images, whose bytes it takes).
    pub fn check_inputs(
        &self,
        x: &Tensor,
        from_u8: bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<()> {
        use crate::quantize::{u8_loss, InputQuantization};
        let m = &self.model;
        let want = [m.input_c, m.input_h, m.input_w];
        if x.shape.len() != 4 || x.shape[1..] != want {
            return Err(Error::input(format!(
                "int8 plan was calibrated for (N, {}, {}, {}) inputs, got {:?}; calibrate at this size with --calibration",
                want[0], want[1], want[2], x.shape
            )));
        }
        if m.input == InputQuantization::Camera && !from_u8 {
            let loss = u8_loss(x, &m.processor);
            if loss.is_lossy() {
                warn(format!(
                    "the int8 network takes u8 images, and these pixel_values are not u8 images under the model's normalisation: {:.2} % of values fall outside [0, 255] and are clipped, and values are rounded to the nearest level by up to {:.2} of a level. Feed images preprocessed by this model's processor (convnext preprocess, or classify for picture files); for other inputs, calibrate on such inputs with --input-quantization calibrated (or run f32 or f16).",
                    100.0 * loss.clipped,
                    loss.max_rounding
                ));
            }
        }
        Ok(())
    }

    /// The int8 network's int32 logits (`num_labels` an image) of the
    /// pixel_values `x`, as the firmware returns them, checked as
    /// [`Plan::check_inputs`] says; where they came from u8 images, `u8s`
    /// are those images' bytes at the input size, which a camera-input
    /// network takes as they are.
    pub fn run_inputs(
        &self,
        x: &Tensor,
        u8s: Option<&[u8]>,
        warn: &mut dyn FnMut(String),
    ) -> Result<Vec<i32>> {
        use crate::quantize::{input_bytes, InputQuantization};
        self.check_inputs(x, u8s.is_some(), warn)?;
        Ok(match u8s {
            Some(bytes) if self.model.input == InputQuantization::Camera => self.run_u8(bytes),
            _ => self.run_u8(&input_bytes(x, &self.model)),
        })
    }

    /// Run the int8 network on u8 HWC images (`input_bytes` each), spread
    /// over the machine's cores; returns int32 logits, `num_labels` per image.
    pub fn run_u8(&self, images: &[u8]) -> Vec<i32> {
        self.run_parallel(images, self.model.num_labels, |img, arena, logits| {
            self.run_one(img, arena, logits)
        })
    }

    /// `run` over u8 HWC images (`input_bytes` each), spread over the
    /// machine's cores, each thread in an arena of its own
    /// (`host_arena_bytes`); `per` outputs an image, in image order.
    fn run_parallel<T: Copy + Default + Send>(
        &self,
        images: &[u8],
        per: usize,
        run: impl Fn(&[u8], &mut [i8], &mut [T]) + Sync,
    ) -> Vec<T> {
        let size = self.input_bytes.max(1);
        let n = images.len() / size;
        let mut out = vec![T::default(); n * per];
        if per == 0 {
            return out;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (imgs, outs) in images.chunks(chunk * size).zip(out.chunks_mut(chunk * per)) {
                let run = &run;
                s.spawn(move || {
                    let mut arena = vec![0i8; self.host_arena_bytes];
                    for (img, o) in imgs.chunks_exact(size).zip(outs.chunks_exact_mut(per)) {
                        run(img, &mut arena, o);
                    }
                });
            }
        });
        out
    }
}

/// The residual stream, the feature maps and the logits of one image
/// through the f32 reference (what each int8 op's output approximates).
#[derive(Default)]
struct Streams {
    streams: Vec<Vec<f32>>,
    features: Vec<Vec<f32>>,
    logits: Vec<f32>,
}

impl crate::reference::Observer for Streams {
    fn observe(&mut self, point: crate::reference::Point, values: &[f32]) {
        use crate::reference::Point;
        match point {
            Point::Stream(i) => {
                self.streams
                    .resize(self.streams.len().max(i + 1), Vec::new());
                self.streams[i] = values.to_vec();
            }
            Point::Feature(k) => {
                self.features
                    .resize(self.features.len().max(k + 1), Vec::new());
                self.features[k] = values.to_vec();
            }
            Point::Logits => self.logits = values.to_vec(),
            _ => {}
        }
    }
}

impl Plan {
    /// Signal-to-quantization-noise ratio (dB) of every op's output against
    /// the f32 reference's same tensor, over `pixel_values` `(N, C, H, W)`
    /// at the plan's input size: TFLite's quantization debugger's per-layer
    /// view. An op's int8 output is dequantized from the arena right after
    /// it runs (the head's int32 logits with the logit scale). Errors
    /// accumulate along the schedule, so a drop from one op to the next
    /// points at the op that adds the noise.
    pub fn op_sqnr(&self, model: &crate::model::Model, pixel_values: &Tensor) -> Result<Vec<f64>> {
        let shape = [self.model.input_c, self.model.input_h, self.model.input_w];
        if pixel_values.shape.len() != 4 || pixel_values.shape[1..] != shape {
            return Err(Error::input(format!(
                "per-op SQNR needs (N, {}, {}, {}) images, got {:?}",
                shape[0], shape[1], shape[2], pixel_values.shape
            )));
        }
        let images = crate::quantize::input_bytes(pixel_values, &self.model);
        let per = shape.iter().product::<usize>();
        let n = images.len() / per.max(1);
        let ops = self.model.ops.len();
        // Images spread over the cores; each thread sums its own.
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        let sums: Vec<(Vec<f64>, Vec<f64>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(n);
                    let (images, x) = (&images, &pixel_values.data);
                    s.spawn(move || self.sqnr_sums(model, x, images, start..end, shape))
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let (mut signal, mut noise) = (vec![0.0f64; ops], vec![0.0f64; ops]);
        for (sg, ns) in &sums {
            for i in 0..ops {
                signal[i] += sg[i];
                noise[i] += ns[i];
            }
        }
        Ok(signal
            .iter()
            .zip(&noise)
            .map(|(s, n)| 10.0 * (s / n.max(f64::MIN_POSITIVE)).log10())
            .collect())
    }
}

impl Plan {
    /// Per-op `(Σ f32², Σ (int8 - f32)²)` over images `range` (see
    /// [`Plan::op_sqnr`]).
    fn sqnr_sums(
        &self,
        model: &crate::model::Model,
        x: &[f32],
        images: &[u8],
        range: std::ops::Range<usize>,
        shape: [usize; 3],
    ) -> (Vec<f64>, Vec<f64>) {
        let per = shape.iter().product::<usize>();
        let ops = &self.model.ops;
        let (mut signal, mut noise) = (vec![0.0f64; ops.len()], vec![0.0f64; ops.len()]);
        let mut arena = vec![0i8; self.arena_bytes];
        let mut logits = vec![0i32; self.model.num_labels];
        let mut maps = vec![0i8; self.feature_map_bytes];
        for k in range {
            let one = Tensor::new(
                &[1, shape[0], shape[1], shape[2]],
                x[k * per..(k + 1) * per].to_vec(),
            );
            let mut f = Streams::default();
            crate::reference::observe_images(model, &one, &mut f);
            load_input_u8(
                &images[k * per..(k + 1) * per],
                &mut arena,
                self.input_offset,
            );
            // Which stream the op writes, and which map.
            let (mut stream, mut map) = (0usize, 0usize);
            for (i, q) in ops.iter().enumerate() {
                let mut out = Outputs {
                    logits: &mut logits,
                    feature_maps: &mut maps,
                };
                q.op.run(&mut arena, &mut out, &mut convnext::kernels::probe::NoProbe);
                // HWC bytes, channel by channel at the stream's scales.
                let dequantize = |bytes: &[i8], qp: &crate::quantize::StreamQuant| -> Vec<f64> {
                    let c = qp.profile.len().max(1);
                    bytes
                        .iter()
                        .enumerate()
                        .map(|(k, &v)| qp.dequantize(v, k % c))
                        .collect()
                };
                let (got, want): (Vec<f64>, &[f32]) = match (&q.op, &q.output) {
                    (Op::FeatureMap(p), Some(qp)) => {
                        let bytes = &maps[p.output_offset..][..p.map_bytes()];
                        map += 1;
                        let want = f.features.get(map - 1).map_or(&[][..], Vec::as_slice);
                        (dequantize(bytes, qp), want)
                    }
                    (_, Some(qp)) => {
                        let at = q.op.placement().output_offset;
                        let n = q.op.footprint().output_bytes();
                        stream += 1;
                        let want = f.streams.get(stream - 1).map_or(&[][..], Vec::as_slice);
                        (dequantize(&arena[at..at + n], qp), want)
                    }
                    (_, None) => (
                        logits
                            .iter()
                            .map(|&v| v as f64 * self.model.logit_scale)
                            .collect(),
                        &f.logits,
                    ),
                };
                for (g, w) in got.iter().zip(want) {
                    signal[i] += (*w as f64).powi(2);
                    noise[i] += (g - *w as f64).powi(2);
                }
            }
        }
        (signal, noise)
    }
}
