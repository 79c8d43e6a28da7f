//! The f32 reference forward pass. Plain, obviously-correct loops over
//! channels-last (HWC) images; it defines what the quantized paths are
//! measured against and matches HF transformers to ~1e-6.
//!
//! Dot products run as "axpy" over transposed weights so the compiler
//! vectorises them without reassociating any sum.

use crate::error::{Error, Result};
use crate::model::{Block, LayerNorm, Linear, Model, PatchConv};
use crate::tensor::Tensor;

/// A tensor inside the network that calibration watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Point {
    /// Stem convolution output (LayerNorm input).
    StemConv,
    /// The residual stream after the n-th op that writes it (stem, blocks, downsamples in order).
    Stream(usize),
    /// Channel `c` of [`Point::Stream`] `n` (calibration records these from
    /// the stream's values; the forward pass never observes them itself).
    StreamChannel(usize, usize),
    /// Depthwise output of block `(stage, block)`.
    Dw(usize, usize),
    /// Normalised (pre-affine) LayerNorm output of block `(stage, block)`.
    BlockNorm(usize, usize),
    /// pwconv1 output (pre-activation) of block `(stage, block)`.
    Pw1(usize, usize),
    /// Activation output of block `(stage, block)`.
    Act(usize, usize),
    /// GRN output (pwconv2's input) of V2 block `(stage, block)`.
    Grn(usize, usize),
    /// Feature map `k` (the k-th `out_features` entry, after its norm).
    Feature(usize),
    /// Normalised (pre-affine) LayerNorm output before the downsample of a stage.
    DownNorm(usize),
    /// Normalised (pre-affine) final LayerNorm output.
    HeadNorm,
    /// Logits.
    Logits,
}

/// Receives intermediate values during a forward pass.
pub trait Observer {
    /// `values` of tensor `point` for one image (any layout).
    fn observe(&mut self, point: Point, values: &[f32]);
}

/// An observer that ignores everything.
struct Ignore;

impl Observer for Ignore {
    fn observe(&mut self, _: Point, _: &[f32]) {}
}

/// What one forward pass returns, in HF's layouts.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Stem output and each stage's output, `(N, C, H, W)` each.
    pub hidden_states: Vec<Tensor>,
    /// The last stage's output, `(N, C, H, W)`.
    pub last_hidden_state: Tensor,
    /// Final LayerNorm of the spatial mean, `(N, C)` (`None` for a backbone
    /// checkpoint, which has no final norm).
    pub pooler_output: Option<Tensor>,
    /// HF `ConvNextBackbone`'s `feature_maps`: one `(name, (N, C, H, W))` per
    /// `out_features` entry, each stage's output through its own LayerNorm.
    pub feature_maps: Vec<(String, Tensor)>,
    /// Classifier output `(N, num_labels)`, when the model has a head.
    pub logits: Option<Tensor>,
}

/// An HWC feature map of one image.
struct Map {
    h: usize,
    w: usize,
    c: usize,
    data: Vec<f32>,
}

/// Weights re-laid for the loops below, prepared once per forward call.
struct Prepared {
    stem: ConvT,
    downsample: Vec<Option<ConvT>>,
    /// Per block: its weights in the order the loops read them.
    blocks: Vec<Vec<BlockT>>,
}

/// One block's weights as the loops read them: depthwise `[49][C]`,
/// pwconv1ᵀ `[C][4C]`, pwconv2ᵀ `[4C][C]`.
struct BlockT {
    dw: Vec<f32>,
    pw1: Vec<f32>,
    pw2: Vec<f32>,
}

impl BlockT {
    fn new(b: &Block) -> Self {
        let c = b.dw_bias.len();
        let mut dw = vec![0.0; 49 * c];
        for ch in 0..c {
            for t in 0..49 {
                dw[t * c + ch] = b.dw_weight.data[ch * 49 + t];
            }
        }
        BlockT {
            dw,
            pw1: transpose(&b.pwconv1),
            pw2: transpose(&b.pwconv2),
        }
    }
}

/// A patch conv's weights as `[(ky, kx, cin)][cout]`.
struct ConvT {
    k: usize,
    cin: usize,
    cout: usize,
    w: Vec<f32>,
}

fn transpose(l: &Linear) -> Vec<f32> {
    let (o, i) = (l.weight.shape[0], l.weight.shape[1]);
    let mut t = vec![0.0; o * i];
    for r in 0..o {
        for c in 0..i {
            t[c * o + r] = l.weight.data[r * i + c];
        }
    }
    t
}

fn prepare_conv(conv: &PatchConv) -> ConvT {
    let s = &conv.weight.shape;
    let (cout, cin, k) = (s[0], s[1], s[2]);
    let mut w = vec![0.0; cout * cin * k * k];
    for o in 0..cout {
        for c in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    w[((ky * k + kx) * cin + c) * cout + o] =
                        conv.weight.data[((o * cin + c) * k + ky) * k + kx];
                }
            }
        }
    }
    ConvT { k, cin, cout, w }
}

impl Prepared {
    fn new(m: &Model) -> Self {
        Self {
            stem: prepare_conv(&m.stem),
            downsample: m
                .stages
                .iter()
                .map(|s| s.downsample.as_ref().map(|(_, c)| prepare_conv(c)))
                .collect(),
            blocks: m
                .stages
                .iter()
                .map(|s| s.blocks.iter().map(BlockT::new).collect())
                .collect(),
        }
    }
}

/// Check an input's shape against the model: `(N, C, H, W)` with the model's
/// channels and a size every stage can still downsample.
pub fn check_input(model: &Model, shape: &[usize]) -> Result<()> {
    let cfg = &model.config;
    if shape.len() != 4 {
        return Err(Error::input(format!(
            "pixel_values must be (N, C, H, W), got shape {shape:?}"
        )));
    }
    if shape[1] != cfg.num_channels {
        return Err(Error::input(format!(
            "pixel_values has {} channels, the model takes {} (shape {shape:?})",
            shape[1], cfg.num_channels
        )));
    }
    let min = cfg.min_input_size();
    if shape[2] < min || shape[3] < min {
        return Err(Error::input(format!(
            "image is {}x{} (HxW); this model needs at least {min}x{min} (patch {} and {} downsamples)",
            shape[2],
            shape[3],
            cfg.patch_size,
            cfg.hidden_sizes.len() - 1
        )));
    }
    Ok(())
}

/// [`check_input`] on `pixel_values`' shape, then its values: a NaN or an
/// infinity is an error naming the image, channel, row and column where the
/// first one sits (the f32 path would carry it to every output, the int8
/// path would quantize it to an arbitrary code).
pub fn check_pixel_values(model: &Model, pixel_values: &Tensor) -> Result<()> {
    check_input(model, &pixel_values.shape)?;
    let Some(at) = pixel_values.data.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let (c, h, w) = (
        pixel_values.shape[1],
        pixel_values.shape[2],
        pixel_values.shape[3],
    );
    let (img, rest) = (at / (c * h * w), at % (c * h * w));
    Err(Error::input(format!(
        "pixel_values holds {} at image {img}, channel {}, row {}, column {} (shape {:?}); inputs must be finite",
        pixel_values.data[at],
        rest / (h * w),
        rest % (h * w) / w,
        rest % w,
        pixel_values.shape
    )))
}

/// Run the model on `pixel_values` `(N, C, H, W)`. Images are spread over the
/// machine's cores.
pub fn forward(model: &Model, pixel_values: &Tensor) -> Result<Outputs> {
    Ok(stack(model, run_images(model, pixel_values, true)?))
}

/// The logits alone (`(N, num_labels)`, `None` without a classifier head):
/// like [`forward`], but no image's hidden states are kept, so memory is the
/// inputs, the logits and one image's maps per core.
pub fn logits(model: &Model, pixel_values: &Tensor) -> Result<Option<Tensor>> {
    let Some(cls) = &model.classifier else {
        return Ok(None);
    };
    let n = pixel_values.shape.first().copied().unwrap_or(0);
    let results = run_images(model, pixel_values, false)?;
    let data = results
        .into_iter()
        .flat_map(|r| r.logits.unwrap_or_default())
        .collect();
    Ok(Some(Tensor::new(&[n, cls.bias.len()], data)))
}

/// The f32 reference with its weights laid out once, for one image at a
/// time on the calling thread (latency benchmarks).
pub struct SingleImage<'a> {
    model: &'a Model,
    prep: Prepared,
}

impl<'a> SingleImage<'a> {
    /// Lay out `model`'s weights for the loops.
    pub fn new(model: &'a Model) -> Self {
        SingleImage {
            model,
            prep: Prepared::new(model),
        }
    }

    /// The logits of one `(C, H, W)` image (`None` without a head).
    pub fn logits(&self, chw: &[f32], (c, h, w): (usize, usize, usize)) -> Option<Vec<f32>> {
        forward_image(
            self.model,
            &self.prep,
            chw,
            (c, h, w),
            false,
            false,
            &mut Ignore,
        )
        .logits
    }
}

/// Every image's outputs, spread over the machine's cores; the hidden states
/// only when `keep_hidden`.
fn run_images(
    model: &Model,
    pixel_values: &Tensor,
    keep_hidden: bool,
) -> Result<Vec<ImageOutputs>> {
    check_pixel_values(model, pixel_values)?;
    let (n, c, h, w) = (
        pixel_values.shape[0],
        pixel_values.shape[1],
        pixel_values.shape[2],
        pixel_values.shape[3],
    );
    let prep = Prepared::new(model);
    let per_image = c * h * w;
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, n.max(1));
    let chunk = n.div_ceil(threads).max(1);
    let mut results: Vec<ImageOutputs> = Vec::with_capacity(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let prep = &prep;
                s.spawn(move || {
                    (start..(start + chunk).min(n))
                        .map(|i| {
                            let img = &pixel_values.data[i * per_image..(i + 1) * per_image];
                            forward_image(
                                model,
                                prep,
                                img,
                                (c, h, w),
                                keep_hidden,
                                keep_hidden,
                                &mut Ignore,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for hnd in handles {
            results.extend(hnd.join().expect("reference worker panicked"));
        }
    });
    Ok(results)
}

struct ImageOutputs {
    hidden: Vec<Map>,
    features: Vec<Map>,
    pooled: Option<Vec<f32>>,
    logits: Option<Vec<f32>>,
}

/// HWC maps of `n` images stacked as one `(N, C, H, W)` tensor.
fn stack_maps<'a>(maps: impl Iterator<Item = &'a Map>, n: usize) -> Tensor {
    let mut maps = maps.peekable();
    let Some(m0) = maps.peek() else {
        return Tensor::zeros(&[0]);
    };
    let mut t = Tensor::zeros(&[n, m0.c, m0.h, m0.w]);
    let per = m0.c * m0.h * m0.w;
    for (i, m) in maps.enumerate() {
        for y in 0..m.h {
            for x in 0..m.w {
                for ch in 0..m.c {
                    t.data[i * per + (ch * m.h + y) * m.w + x] = m.data[(y * m.w + x) * m.c + ch];
                }
            }
        }
    }
    t
}

fn stack(model: &Model, results: Vec<ImageOutputs>) -> Outputs {
    let n = results.len();
    let stages = results.first().map_or(0, |r| r.hidden.len());
    let hidden_states: Vec<Tensor> = (0..stages)
        .map(|s| stack_maps(results.iter().map(|r| &r.hidden[s]), n))
        .collect();
    let feature_maps = model
        .feature_norms
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let maps = results.iter().filter_map(|r| r.features.get(k));
            (f.name.clone(), stack_maps(maps, n))
        })
        .collect();
    let pooler_output = model.final_norm.as_ref().map(|norm| {
        let c = norm.weight.len();
        Tensor::new(
            &[n, c],
            results
                .iter()
                .flat_map(|r| r.pooled.clone().unwrap_or_default())
                .collect(),
        )
    });
    let logits = model.classifier.as_ref().map(|cls| {
        Tensor::new(
            &[n, cls.bias.len()],
            results
                .iter()
                .flat_map(|r| r.logits.clone().unwrap_or_default())
                .collect(),
        )
    });
    let last_hidden_state = hidden_states
        .last()
        .cloned()
        .unwrap_or_else(|| Tensor::zeros(&[0]));
    Outputs {
        hidden_states,
        last_hidden_state,
        pooler_output,
        feature_maps,
        logits,
    }
}

/// Run every image of `pixel_values` `(N, C, H, W)` in order, reporting
/// intermediates to `obs` (single thread; weights prepared once).
pub fn observe_images(model: &Model, pixel_values: &Tensor, obs: &mut dyn Observer) {
    let (c, h, w) = (
        pixel_values.shape[1],
        pixel_values.shape[2],
        pixel_values.shape[3],
    );
    let prep = Prepared::new(model);
    for img in pixel_values.data.chunks_exact(c * h * w) {
        forward_image(model, &prep, img, (c, h, w), false, true, obs);
    }
}

/// [`observe_images`] spread over the machine's cores: each thread runs its
/// share of the images past an observer of its own from `make`, and all of
/// them come back for the caller to merge (what it observes is a sum or an
/// extreme, so the order of the images does not matter).
pub fn observe_images_parallel<O: Observer + Send>(
    model: &Model,
    pixel_values: &Tensor,
    make: impl Fn() -> O + Sync,
) -> Vec<O> {
    let (c, h, w) = (
        pixel_values.shape[1],
        pixel_values.shape[2],
        pixel_values.shape[3],
    );
    let per_image = (c * h * w).max(1);
    let n = pixel_values.data.len() / per_image;
    let prep = Prepared::new(model);
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, n.max(1));
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = pixel_values
            .data
            .chunks(chunk * per_image)
            .map(|images| {
                let (prep, make) = (&prep, &make);
                s.spawn(move || {
                    let mut obs = make();
                    for img in images.chunks_exact(per_image) {
                        forward_image(model, prep, img, (c, h, w), false, true, &mut obs);
                    }
                    obs
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("calibration worker panicked"))
            .collect()
    })
}

/// One image through the model; each stage's output is kept (copied into
/// `hidden`) only when `keep_hidden`.
fn forward_image(
    model: &Model,
    prep: &Prepared,
    chw: &[f32],
    (c, h, w): (usize, usize, usize),
    keep_hidden: bool,
    with_features: bool,
    obs: &mut dyn Observer,
) -> ImageOutputs {
    let mut hwc = vec![0.0; c * h * w];
    for ch in 0..c {
        for i in 0..h * w {
            hwc[i * c + ch] = chw[ch * h * w + i];
        }
    }
    let input = Map { h, w, c, data: hwc };
    let mut x = patch_conv(&input, &prep.stem, &model.stem.bias);
    obs.observe(Point::StemConv, &x.data);
    layer_norm(&mut x.data, x.c, &model.stem_norm, |_| {});
    let mut stream = 0;
    obs.observe(Point::Stream(stream), &x.data);
    let (mut hidden, mut features) = (Vec::new(), Vec::new());
    // Stage `stage`'s output (0: the stem's): kept as a hidden state, and
    // through its norm as a feature map when `out_features` names it.
    let keep = |x: &Map,
                stage: usize,
                hidden: &mut Vec<Map>,
                features: &mut Vec<Map>,
                obs: &mut dyn Observer| {
        if keep_hidden {
            hidden.push(Map {
                h: x.h,
                w: x.w,
                c: x.c,
                data: x.data.clone(),
            });
        }
        if !with_features {
            return;
        }
        for (k, f) in model.feature_norms.iter().enumerate() {
            if f.stage == stage {
                let mut data = x.data.clone();
                layer_norm(&mut data, x.c, &f.norm, |_| {});
                obs.observe(Point::Feature(k), &data);
                features.push(Map { data, ..*x });
            }
        }
    };
    for (s, stage) in model.stages.iter().enumerate() {
        if let Some((norm, conv)) = &stage.downsample {
            layer_norm(&mut x.data, x.c, norm, |v| {
                obs.observe(Point::DownNorm(s), v)
            });
            let wt = prep.downsample[s].as_ref().expect("prepared");
            x = patch_conv(&x, wt, &conv.bias);
            stream += 1;
            obs.observe(Point::Stream(stream), &x.data);
        }
        if s == 0 {
            keep(&x, 0, &mut hidden, &mut features, obs);
        }
        for (b, block) in stage.blocks.iter().enumerate() {
            let bt = &prep.blocks[s][b];
            let act = model.config.hidden_act;
            convnext_block(&mut x, block, act, bt, (s, b), obs);
            stream += 1;
            obs.observe(Point::Stream(stream), &x.data);
        }
        keep(&x, s + 1, &mut hidden, &mut features, obs);
    }
    let mut pooled = vec![0f64; x.c];
    for px in x.data.chunks_exact(x.c) {
        for (p, v) in pooled.iter_mut().zip(px) {
            *p += *v as f64;
        }
    }
    let hw = (x.h * x.w) as f64;
    let mut pooled: Vec<f32> = pooled.iter().map(|v| (v / hw) as f32).collect();
    let pooled = model.final_norm.as_ref().map(|norm| {
        layer_norm(&mut pooled, x.c, norm, |v| obs.observe(Point::HeadNorm, v));
        pooled
    });
    let logits = model
        .classifier
        .as_ref()
        .zip(pooled.as_ref())
        .map(|(cls, pooled)| {
            let mut out = cls.bias.clone();
            for (o, row) in out.iter_mut().zip(cls.weight.data.chunks_exact(x.c)) {
                *o += dot(row, pooled);
            }
            out
        });
    if let Some(l) = &logits {
        obs.observe(Point::Logits, l);
    }
    ImageOutputs {
        hidden,
        features,
        pooled,
        logits,
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum::<f64>() as f32
}

/// k x k, stride k convolution over an HWC map.
fn patch_conv(x: &Map, wt: &ConvT, bias: &[f32]) -> Map {
    let (k, cin, cout) = (wt.k, wt.cin, wt.cout);
    let (oh, ow) = (x.h / k, x.w / k);
    // Each output pixel's patch gathered in weight order `(ky, kx, cin)`,
    // then one matrix product (the sums in that order, as HF's conv).
    let patch = k * k * cin;
    let mut patches = vec![0.0; oh * ow * patch];
    for oy in 0..oh {
        for ox in 0..ow {
            let dst = &mut patches[(oy * ow + ox) * patch..][..patch];
            for ky in 0..k {
                let src = &x.data[((oy * k + ky) * x.w + ox * k) * cin..][..k * cin];
                dst[ky * k * cin..][..k * cin].copy_from_slice(src);
            }
        }
    }
    let mut out = vec![0.0; oh * ow * cout];
    convnext::host_f32::linear_rows(&patches, &wt.w, bias, &mut out);
    Map {
        h: oh,
        w: ow,
        c: cout,
        data: out,
    }
}

/// LayerNorm over the channels of every pixel, in place; `normalized` sees
/// the values before the affine.
fn layer_norm(data: &mut [f32], c: usize, ln: &LayerNorm, mut normalized: impl FnMut(&[f32])) {
    // Mean, variance and 1 / sqrt(var + eps) in f64 per pixel.
    convnext::host_f32::normalize_rows(data, c, ln.eps as f64);
    normalized(data);
    for px in data.chunks_exact_mut(c) {
        for ((v, g), b) in px.iter_mut().zip(&ln.weight).zip(&ln.bias) {
            *v = *v * g + b;
        }
    }
}

fn convnext_block(
    x: &mut Map,
    b: &Block,
    act: crate::config::Activation,
    bt: &BlockT,
    (s, bi): (usize, usize),
    obs: &mut dyn Observer,
) {
    let (h, w, c) = (x.h, x.w, x.c);
    // Depthwise 7x7, zero padding 3.
    let mut dw = vec![0.0f32; h * w * c];
    convnext::host_f32::depthwise7x7(&x.data, (h, w), &bt.dw, &b.dw_bias, &mut dw);
    obs.observe(Point::Dw(s, bi), &dw);
    layer_norm(&mut dw, c, &b.norm, |v| {
        obs.observe(Point::BlockNorm(s, bi), v)
    });
    if let Some(grn) = &b.grn {
        return grn_mlp(x, &dw, b, act, bt, grn, (s, bi), obs);
    }
    // The MLP over chunks of pixels: pw1, activation, pw2, residual.
    let hidden = 4 * c;
    let mut mid = vec![0.0f32; MLP_PIXELS * hidden];
    let mut out = vec![0.0f32; MLP_PIXELS * c];
    for (px, res) in dw
        .chunks(MLP_PIXELS * c)
        .zip(x.data.chunks_mut(MLP_PIXELS * c))
    {
        let n = px.len() / c.max(1);
        let (mid, out) = (&mut mid[..n * hidden], &mut out[..n * c]);
        convnext::host_f32::linear_rows(px, &bt.pw1, &b.pwconv1.bias, mid);
        obs.observe(Point::Pw1(s, bi), mid);
        activate(mid, act);
        obs.observe(Point::Act(s, bi), mid);
        convnext::host_f32::linear_rows(mid, &bt.pw2, &b.pwconv2.bias, out);
        add_residual(res, out, c, b.gamma.as_deref());
    }
}

/// The activation in place over a chunk of hidden vectors.
fn activate(mid: &mut [f32], act: crate::config::Activation) {
    if act == crate::config::Activation::Gelu {
        crate::gelu::gelu_in_place(mid);
    } else {
        for m in mid.iter_mut() {
            *m = act.apply(*m);
        }
    }
}

/// The MLP of a V2 block: GRN needs each hidden channel's L2 norm over all
/// pixels, so the whole 4C tensor is computed first (the host reference can
/// afford it; the int8 kernel recomputes instead).
#[allow(clippy::too_many_arguments)]
fn grn_mlp(
    x: &mut Map,
    normed: &[f32],
    b: &Block,
    act: crate::config::Activation,
    bt: &BlockT,
    grn: &crate::model::Grn,
    (s, bi): (usize, usize),
    obs: &mut dyn Observer,
) {
    let (c, hidden) = (x.c, 4 * x.c);
    let mut mid = vec![0.0f32; x.h * x.w * hidden];
    convnext::host_f32::linear_rows(normed, &bt.pw1, &b.pwconv1.bias, &mut mid);
    obs.observe(Point::Pw1(s, bi), &mid);
    activate(&mut mid, act);
    obs.observe(Point::Act(s, bi), &mid);
    let mut sq = vec![0f64; hidden];
    for px in mid.chunks_exact(hidden) {
        for (a, v) in sq.iter_mut().zip(px) {
            *a += *v as f64 * *v as f64;
        }
    }
    let g: Vec<f64> = sq.iter().map(|v| v.sqrt()).collect();
    let mean = g.iter().sum::<f64>() / hidden as f64;
    let n: Vec<f32> = g
        .iter()
        .map(|g| (g / (mean + crate::model::GRN_EPS as f64)) as f32)
        .collect();
    for px in mid.chunks_exact_mut(hidden) {
        for (((v, n), w), bias) in px.iter_mut().zip(&n).zip(&grn.weight).zip(&grn.bias) {
            *v += w * (*v * n) + bias;
        }
    }
    obs.observe(Point::Grn(s, bi), &mid);
    let mut out = vec![0.0f32; x.h * x.w * c];
    convnext::host_f32::linear_rows(&mid, &bt.pw2, &b.pwconv2.bias, &mut out);
    add_residual(&mut x.data, &out, c, b.gamma.as_deref());
}

/// `res += γ · out` per pixel of `c` channels (`γ = 1` without a layer scale).
fn add_residual(res: &mut [f32], out: &[f32], c: usize, gamma: Option<&[f32]>) {
    for (res, out) in res.chunks_exact_mut(c).zip(out.chunks_exact(c)) {
        match gamma {
            Some(g) => res
                .iter_mut()
                .zip(out)
                .zip(g)
                .for_each(|((r, o), g)| *r += g * o),
            None => res.iter_mut().zip(out).for_each(|(r, o)| *r += o),
        }
    }
}

/// Pixels whose hidden vectors the f32 block holds at once.
const MLP_PIXELS: usize = 16;
