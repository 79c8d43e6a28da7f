//! The in-place int8 kernels against naive out-of-place versions of the same
//! integer math, on odd shapes: width or height 1, maps smaller than the
//! depthwise ring, channel counts that are not multiples of 4, widening and
//! narrowing downsamples. Outputs must match byte for byte.

use convnext::kernels::block::{block_in_place, block_in_place_tiled, hidden_bits, BlockParams};
use convnext::kernels::downsample::{
    downsample_in_place, downsample_in_place_tiled, DownsampleParams,
};
use convnext::kernels::grn::GrnParams;
use convnext::kernels::in_place_map::{
    ring_pixels, HOST_GROUP_PIXELS, HOST_TILE_PIXELS, TILE_PIXELS,
};
use convnext::kernels::layer_norm::{layer_norm, Q16};
use convnext::kernels::placement::OpFootprint;
use convnext::kernels::prepared::{NoHost, Prepared};
use convnext::kernels::probe::NoProbe;
use convnext::kernels::requantize::requant_table;
use convnext::kernels::stem::{stem_in_place, StemParams};
use convnext::kernels::tables::{i32_table, profile_table, PROFILE_MAX};
use convnext::kernels::{
    requantize_sum, saturate_i8, InPlaceMap, LayerNormParams, Placement, QLinear, Requant,
};
use convnext_codegen::host_wide::{block_prepared, downsample_prepared};
use convnext_codegen::quantize::paired_layout;

#[test]
fn the_kernel_variant_under_test_is_the_one_asked_for() {
    // `cargo xtask test` runs this file four times, once per
    // implementation the host can run: the x86 kernels (AVX2 where the CPU
    // has it), with CONVNEXT_HOST_NO_AVX2=1 the same without AVX2, with
    // CONVNEXT_PACKED_ON_HOST=1 the DSP-form kernels on modelled
    // instructions, with CONVNEXT_PORTABLE_ON_HOST=1 the portable ones.
    host_variant();
    let no_avx2 = std::env::var("CONVNEXT_HOST_NO_AVX2").is_ok_and(|v| v == "1");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(convnext::kernels::avx2_available(), !no_avx2);
    let _ = no_avx2;
    let portable = std::env::var("CONVNEXT_PORTABLE_ON_HOST").is_ok_and(|v| v == "1");
    assert_eq!(
        convnext::kernels::depthwise::VARIANT == "scalar-4ch",
        portable
    );
    let packed = std::env::var("CONVNEXT_PACKED_ON_HOST").is_ok_and(|v| v == "1");
    assert_eq!(
        convnext::kernels::pointwise::VARIANT.starts_with("dsp"),
        packed
    );
    assert_eq!(
        convnext::kernels::depthwise::VARIANT.starts_with("dsp"),
        packed
    );
}

/// With CONVNEXT_HOST_NO_AVX2=1, the host's AVX2 loops off for the whole
/// run (every check calls this before any kernel runs).
fn host_variant() {
    #[cfg(target_arch = "x86_64")]
    if std::env::var("CONVNEXT_HOST_NO_AVX2").is_ok_and(|v| v == "1") {
        convnext::kernels::disable_avx2();
    }
}

/// Block shapes: width or height 1, maps smaller than the ring, odd channels.
const BLOCK_SHAPES: [(usize, usize, usize); 12] = [
    (1, 1, 3),
    (5, 1, 7),
    (1, 9, 5),
    (2, 3, 1),
    (7, 7, 16),
    (4, 13, 9),
    (14, 14, 12),
    (3, 3, 6),
    (3, 5, 4),
    // Interior pixels (all 49 taps) in 8-channel groups, one and four a
    // pass: the host's tap-pair depthwise.
    (9, 11, 24),
    (10, 9, 40),
    // More pixels than the host's group: a full group, then one of 8
    // tiles and 3 pixels.
    (17, 19, 8),
];

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    i32_table(v).collect()
}

fn requant_bytes(v: &[Requant]) -> Vec<u8> {
    requant_table(v).collect()
}

/// Owned tables of a linear layer, borrowed into the kernel's `QLinear`.
struct Tables(Vec<u8>, Vec<u8>, Vec<u8>);

impl Tables {
    fn new(weights: &[u8], bias: &[i32], requant: &[Requant]) -> Self {
        Tables(weights.to_vec(), i32_bytes(bias), requant_bytes(requant))
    }
    fn linear(&self) -> QLinear<&[u8]> {
        QLinear {
            weights: &self.0,
            bias: &self.1,
            requant: &self.2,
        }
    }
}

/// What the int8 tensors (activations and weights) hold: random bytes, or
/// the extremes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    Random,
    /// Every byte -128.
    Min,
    /// Every byte 127.
    Max,
    /// -128 or 127 at random.
    Edges,
}

/// The data of one kernel check: the seed, the fill, and the zero points
/// (input, pre-activation, output) where the kernel has them.
#[derive(Debug, Clone, Copy)]
struct Data {
    seed: u64,
    fill: Fill,
    zero: (i32, i32, i32),
}

impl Data {
    /// Random bytes, the zero points of the named tests.
    fn seeded(seed: u64) -> Data {
        Data {
            seed,
            fill: Fill::Random,
            zero: (-5, 3, 7),
        }
    }
}

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64, Fill);

impl Rng {
    fn new(d: Data) -> Rng {
        Rng(d.seed | 1, d.fill)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// One int8 tensor byte, as the fill says.
    fn byte(&mut self) -> u8 {
        match self.1 {
            Fill::Random => self.next() as u8,
            Fill::Min => 0x80,
            Fill::Max => 0x7f,
            Fill::Edges => [0x80, 0x7f][(self.next() >> 40) as usize & 1],
        }
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.byte() as i8).collect()
    }
    fn u8s(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
    fn i32s(&mut self, n: usize, range: i32) -> Vec<i32> {
        (0..n)
            .map(|_| (self.next() % (2 * range as u64 + 1)) as i32 - range)
            .collect()
    }
    fn requants(&mut self, n: usize, lo: f64, hi: f64) -> Vec<Requant> {
        (0..n)
            .map(|_| Requant::from_real(lo + (hi - lo) * (self.next() % 1000) as f64 / 1000.0))
            .collect()
    }
}

fn ln_i32(vals: &[i32], p: &LayerNormParams, scale: Requant) -> Vec<i32> {
    let mut out = vec![0; vals.len()];
    layer_norm(
        || vals.iter().copied(),
        vals.len(),
        p,
        scale,
        |i, y| out[i] = y,
    );
    out
}

/// The tightest in-place layout of a layer that changes shape: output at 0,
/// the input `input_lead_bytes` up (holding `x`), scratch right above both.
fn in_place_arena(p: &impl OpFootprint, x: &[i8]) -> (Placement, Vec<i8>) {
    let base = p.input_lead_bytes();
    let top = (base + x.len()).max(p.output_bytes());
    let mut arena = vec![0i8; top + p.scratch_bytes()];
    arena[base..base + x.len()].copy_from_slice(x);
    let at = Placement {
        input_offset: base,
        output_offset: 0,
        scratch_offset: top,
    };
    (at, arena)
}

fn check_block(h: usize, w: usize, c: usize, d: Data) {
    check_block_with(h, w, c, d, false)
}

/// [`check_block`], with a ConvNeXt V2 GRN between activation and pw2 when
/// `with_grn` (the naive side holds the whole hidden tensor).
fn check_block_with(h: usize, w: usize, c: usize, d: Data, with_grn: bool) {
    check_block_hidden(h, w, c, d, with_grn, false)
}

/// [`check_block_with`], with i16 hidden vectors where `hidden16` (blocks
/// whose `C` is a multiple of 4): v1's table entries drawn over 12 bits,
/// V2's GRN outputs clamped to them.
fn check_block_hidden(h: usize, w: usize, c: usize, d: Data, with_grn: bool, hidden16: bool) {
    host_variant();
    let mut rng = Rng::new(d);
    let table: Vec<i32> = match hidden16 && !with_grn {
        true => (0..256)
            .map(|_| (rng.next() % 4096) as i32 - 2048)
            .collect(),
        false => rng.i8s(256).into_iter().map(i32::from).collect(),
    };
    let (dw_w, dw_b, dw_rq) = (
        rng.u8s(49 * c),
        rng.i32s(c, 2000),
        rng.requants(c, 0.5, 4.0),
    );
    let (pw1_w, pw1_b, pw1_rq) = (
        rng.u8s(4 * c * c),
        rng.i32s(4 * c, 3000),
        rng.requants(4 * c, 0.001, 0.01),
    );
    // One multiplier too large for the prepared per-row forms: its row takes
    // the general requantization.
    let mut pw1_rq = pw1_rq;
    pw1_rq[4 * c - 2] = Requant::from_real(0.3);
    let (pw2_w, pw2_b, pw2_rq) = (
        rng.u8s(4 * c * c),
        rng.i32s(c, 3000),
        rng.requants(c, 0.0005, 0.005),
    );
    let ring = ring_pixels(h, w) * c;
    let x = rng.i8s(h * w * c);
    let mut arena = vec![0i8; h * w * c + ring + 2 * 6 * c + 7];
    arena[..x.len()].copy_from_slice(&x);
    let (dw, pw1, pw2) = (
        Tables::new(&dw_w, &dw_b, &dw_rq),
        Tables::new(&paired_layout(&pw1_w, 4 * c, c), &pw1_b, &pw1_rq),
        Tables::new(&paired_layout(&pw2_w, c, 4 * c), &pw2_b, &pw2_rq),
    );
    let table_bytes: Vec<u8> = match hidden16 && !with_grn {
        true => table
            .iter()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect(),
        false => table.iter().map(|&v| v as u8).collect(),
    };
    // GRN weights of both signs up to 2 (Q16), offsets around a zero point.
    let grn_weight: Vec<i32> = rng.i32s(4 * c, 1 << 17);
    let grn_offset: Vec<i32> = rng.i32s(4 * c, 40);
    let (grn_w, grn_o) = (i32_bytes(&grn_weight), i32_bytes(&grn_offset));
    let grn = with_grn.then(|| GrnParams {
        act_zero_point: d.zero.1,
        weight: &grn_w[..],
        offset: &grn_o[..],
        out_requant: Requant::from_real(1.0 / 65536.0 * 0.7),
        eps_sum: 300,
    });
    // Each channel's stream multiplier of its own (0.3 to 1.5), one shift.
    let stream = |o: usize| 0.3 + 1.2 * ((o * 7) % c) as f64 / c as f64;
    let residual_shift = Requant::from_real(1.5).shift;
    let residual: Vec<u8> = (0..c)
        .flat_map(|o| {
            Requant::with_shift(stream(o), residual_shift)
                .mult
                .to_le_bytes()
        })
        .collect();
    let p = BlockParams {
        map: InPlaceMap { h, w, c },
        at: Placement {
            input_offset: 0,
            output_offset: 0,
            scratch_offset: h * w * c,
        },
        x_zero_point: d.zero.0,
        dw: dw.linear(),
        ln: LayerNormParams::new(1000),
        ln_requant: Requant::from_real(30.0),
        pw1: pw1.linear(),
        pw1_zero_point: d.zero.1,
        act_table: &table_bytes[..],
        pw2: pw2.linear(),
        residual: &residual[..],
        residual_shift,
        out_zero_point: d.zero.2,
        grn,
        wide_hidden: false,
        hidden16,
    };
    if with_grn || hidden16 {
        arena.resize(h * w * c + p.scratch_bytes() + 7, 0);
    }
    assert_eq!(arena.len(), h * w * c + p.scratch_bytes() + 7);
    // The host's wide tiles, in an arena with their scratch (and spare
    // lanes past the map's last pixel, whose results must be dropped).
    let mut wide = vec![0i8; h * w * c + p.scratch_bytes_tiled(HOST_TILE_PIXELS)];
    wide[..x.len()].copy_from_slice(&x);
    let tile = if c.is_multiple_of(4) {
        HOST_TILE_PIXELS
    } else {
        TILE_PIXELS
    };
    assert_eq!(p.host_tile(wide.len()), tile, "{h}x{w}x{c}");
    assert_eq!(p.host_tile(arena.len()), TILE_PIXELS);
    // Once more with the host's prepared copies (what codegen's plan gives
    // on x86-64): the widened pointwise weights and the depthwise's
    // multipliers unpacked, which the AVX2 loops read.
    let prepared_tables = block_prepared(&p);
    let parts = prepared_tables.view();
    let prepared = Prepared::Block(parts);
    assert_eq!(parts.pw1.len(), 2 * p.pw1.weights.len());
    assert_eq!(parts.dw_requant.len(), 8 * c);
    assert_eq!(parts.dw_rows.is_empty(), !c.is_multiple_of(8));
    let mut wide_prepared = wide.clone();
    // And in groups of tiles (blocks without GRN whose arena has room).
    let mut grouped = vec![0i8; h * w * c + p.scratch_bytes_tiled(HOST_GROUP_PIXELS)];
    grouped[..x.len()].copy_from_slice(&x);
    let group = match (tile, with_grn) {
        (HOST_TILE_PIXELS, false) => HOST_GROUP_PIXELS,
        _ => tile,
    };
    assert_eq!(p.host_tile(grouped.len()), group, "{h}x{w}x{c}");
    let mut grouped_prepared = grouped.clone();
    block_in_place_tiled(&p, prepared, &mut grouped_prepared, &mut NoProbe);
    block_in_place_tiled(&p, NoHost, &mut grouped, &mut NoProbe);
    block_in_place_tiled(&p, prepared, &mut wide_prepared, &mut NoProbe);
    block_in_place_tiled(&p, NoHost, &mut wide, &mut NoProbe);
    block_in_place(&p, &mut arena);

    // Naive: every pixel's depthwise window from an untouched copy of x,
    // the whole hidden tensor, then pw2.
    let mut want = vec![0i8; h * w * c];
    let mut hidden = Vec::new();
    for r in 0..h {
        for col in 0..w {
            let mut d = vec![0i32; c];
            for (ch, dv) in d.iter_mut().enumerate() {
                let mut acc = 0;
                for ky in 0..7 {
                    for kx in 0..7 {
                        let (yy, xx) =
                            (r as isize + ky as isize - 3, col as isize + kx as isize - 3);
                        if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                            let v =
                                x[(yy as usize * w + xx as usize) * c + ch] as i32 - p.x_zero_point;
                            acc += v * dw_w[(ky * 7 + kx) * c + ch] as i8 as i32;
                        }
                    }
                }
                // The bias is in the LayerNorm input's units, added after.
                *dv = (dw_rq[ch]
                    .apply(acc as i64)
                    .clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                    .saturating_add(dw_b[ch]);
            }
            let y: Vec<i8> = ln_i32(&d, &p.ln, p.ln_requant)
                .iter()
                .map(|&v| saturate_i8(v as i64))
                .collect();
            let hid: Vec<i32> = (0..4 * c)
                .map(|j| {
                    let acc: i32 = pw1_b[j]
                        + (0..c)
                            .map(|i| y[i] as i32 * pw1_w[j * c + i] as i8 as i32)
                            .sum::<i32>();
                    let pre = saturate_i8(pw1_rq[j].apply(acc as i64) + p.pw1_zero_point as i64);
                    table[(pre as i32 + 128) as usize]
                })
                .collect();
            hidden.push(hid);
        }
    }
    if let Some(g) = &p.grn {
        // Σ (a - z)² per channel over the whole tensor, u32 saturating.
        let mut sums = vec![0u32; 4 * c];
        for hid in &hidden {
            for (s, &a) in sums.iter_mut().zip(hid) {
                let d = a - g.act_zero_point;
                *s = s.saturating_add((d * d) as u32);
            }
        }
        let mut stats: Vec<i8> = sums
            .iter()
            .flat_map(|s| s.to_le_bytes().map(|b| b as i8))
            .collect();
        g.factors(&mut stats, 4 * c);
        for hid in hidden.iter_mut() {
            for (j, a) in hid.iter_mut().enumerate() {
                let f = i32::from_le_bytes(
                    <[i8; 4]>::try_from(&stats[4 * j..4 * j + 4])
                        .unwrap()
                        .map(|b| b as u8),
                );
                *a = match hidden16 {
                    true => {
                        let limit = 1 << (hidden_bits(c) - 1);
                        let v = g.apply_i32(*a as i8, g.act_zero_point, j, f);
                        v.clamp(-limit, limit - 1)
                    }
                    false => g.apply(*a as i8, g.act_zero_point, j, f) as i32,
                };
            }
        }
    }
    for r in 0..h {
        for col in 0..w {
            let hid = &hidden[r * w + col];
            for o in 0..c {
                let acc: i32 = pw2_b[o]
                    + (0..4 * c)
                        .map(|j| hid[j] * pw2_w[o * 4 * c + j] as i8 as i32)
                        .sum::<i32>();
                let orig = x[(r * w + col) * c + o] as i64 - p.x_zero_point as i64;
                let v = requantize_sum(orig, p.residual_at(o), acc as i64, pw2_rq[o]);
                want[(r * w + col) * c + o] = saturate_i8(v + p.out_zero_point as i64);
            }
        }
    }
    assert_eq!(&arena[..h * w * c], &want[..], "block {h}x{w}x{c}");
    assert_eq!(
        &wide[..h * w * c],
        &want[..],
        "host tiles: block {h}x{w}x{c}"
    );
    assert_eq!(
        &wide_prepared[..h * w * c],
        &want[..],
        "host tiles, widened weights: block {h}x{w}x{c}"
    );
    assert_eq!(
        &grouped[..h * w * c],
        &want[..],
        "host groups: block {h}x{w}x{c}"
    );
    assert_eq!(
        &grouped_prepared[..h * w * c],
        &want[..],
        "host groups, widened weights: block {h}x{w}x{c}"
    );
}

#[test]
fn grn_block_in_place_matches_naive_on_odd_shapes() {
    for (i, &(h, w, c)) in BLOCK_SHAPES.iter().enumerate() {
        check_block_with(h, w, c, Data::seeded(100 + i as u64), true);
    }
}

#[test]
fn hidden16_block_in_place_matches_naive_on_odd_shapes() {
    for (i, &(h, w, c)) in BLOCK_SHAPES.iter().enumerate() {
        if c.is_multiple_of(4) {
            check_block_hidden(h, w, c, Data::seeded(200 + i as u64), false, true);
            check_block_hidden(h, w, c, Data::seeded(300 + i as u64), true, true);
        }
    }
}

#[test]
fn block_in_place_matches_naive_on_odd_shapes() {
    for (i, &(h, w, c)) in BLOCK_SHAPES.iter().enumerate() {
        check_block(h, w, c, Data::seeded(1 + i as u64));
    }
}

fn check_downsample(in_h: usize, in_w: usize, cin: usize, cout: usize, d: Data) {
    host_variant();
    let mut rng = Rng::new(d);
    let (oh, ow) = (in_h / 2, in_w / 2);
    let (wts, bias, rq) = (
        rng.u8s(cout * 4 * cin),
        rng.i32s(cout, 5000),
        rng.requants(cout, 0.001, 0.01),
    );
    let x = rng.i8s(in_h * in_w * cin);
    // Half the draws read a per-channel stream: multipliers from 1 to the
    // largest, the widest the LayerNorm's input limit allows.
    let multipliers: Vec<u16> = match d.seed % 2 {
        0 => (0..cin)
            .map(|_| 1 + (rng.next() % PROFILE_MAX as u64) as u16)
            .collect(),
        _ => Vec::new(),
    };
    let profile: Vec<u8> = profile_table(&multipliers).collect();
    let conv = Tables::new(&paired_layout(&wts, cout, 4 * cin), &bias, &rq);
    let mut p = DownsampleParams {
        in_h,
        in_w,
        cin,
        cout,
        at: Placement::default(),
        x_zero_point: d.zero.0,
        profile: &profile[..],
        ln: LayerNormParams::new(77),
        ln_requant: Requant::from_real(25.0),
        conv: conv.linear(),
        out_zero_point: d.zero.2,
    };
    let mut arena;
    (p.at, arena) = in_place_arena(&p, &x);
    let mut wide = arena.clone();
    wide.resize(
        p.at.scratch_offset + p.scratch_bytes_tiled(HOST_TILE_PIXELS),
        0,
    );
    let tile = if cin.is_multiple_of(4) {
        HOST_TILE_PIXELS
    } else {
        TILE_PIXELS
    };
    assert_eq!(p.host_tile(wide.len()), tile);
    // Once more with the host's prepared copy (the widened weights).
    let widened = downsample_prepared(&p);
    let prepared = Prepared::Downsample(&widened[..]);
    let mut wide_prepared = wide.clone();
    // And in groups of tiles, where the arena has room.
    let mut grouped = arena.clone();
    grouped.resize(
        p.at.scratch_offset + p.scratch_bytes_tiled(HOST_GROUP_PIXELS),
        0,
    );
    let group = match tile {
        HOST_TILE_PIXELS => HOST_GROUP_PIXELS,
        _ => tile,
    };
    assert_eq!(p.host_tile(grouped.len()), group);
    let mut grouped_prepared = grouped.clone();
    downsample_in_place_tiled(&p, prepared, &mut grouped_prepared, &mut NoProbe);
    downsample_in_place_tiled(&p, NoHost, &mut grouped, &mut NoProbe);
    downsample_in_place_tiled(&p, prepared, &mut wide_prepared, &mut NoProbe);
    downsample_in_place_tiled(&p, NoHost, &mut wide, &mut NoProbe);
    downsample_in_place(&p, &mut arena);
    let mut want = vec![0i8; oh * ow * cout];
    for r in 0..oh {
        for col in 0..ow {
            let mut ys = Vec::new();
            for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let px: Vec<i32> = (0..cin)
                    .map(|i| {
                        let q = x[((2 * r + ky) * in_w + 2 * col + kx) * cin + i] as i32;
                        match multipliers.get(i) {
                            Some(&m) => (q - p.x_zero_point) * m as i32,
                            None => q,
                        }
                    })
                    .collect();
                ys.extend(
                    ln_i32(&px, &p.ln, p.ln_requant)
                        .iter()
                        .map(|&v| saturate_i8(v as i64)),
                );
            }
            for o in 0..cout {
                let acc: i32 = bias[o]
                    + (0..4 * cin)
                        .map(|t| ys[t] as i32 * wts[o * 4 * cin + t] as i8 as i32)
                        .sum::<i32>();
                want[(r * ow + col) * cout + o] =
                    saturate_i8(rq[o].apply(acc as i64) + p.out_zero_point as i64);
            }
        }
    }
    assert_eq!(
        &arena[..want.len()],
        &want[..],
        "downsample {in_h}x{in_w}x{cin}->{cout}"
    );
    assert_eq!(
        &wide[..want.len()],
        &want[..],
        "host tiles: downsample {in_h}x{in_w}x{cin}->{cout}"
    );
    assert_eq!(
        &wide_prepared[..want.len()],
        &want[..],
        "host tiles, widened weights: downsample {in_h}x{in_w}x{cin}->{cout}"
    );
    assert_eq!(
        &grouped[..want.len()],
        &want[..],
        "host groups: downsample {in_h}x{in_w}x{cin}->{cout}"
    );
    assert_eq!(
        &grouped_prepared[..want.len()],
        &want[..],
        "host groups, widened weights: downsample {in_h}x{in_w}x{cin}->{cout}"
    );
}

#[test]
fn downsample_in_place_matches_naive_widening_narrowing_and_odd_sizes() {
    for (i, &(h, w, ci, co)) in [
        (2, 2, 3, 6),
        (7, 7, 8, 16),
        (5, 9, 4, 13),
        (6, 3, 10, 5),
        (14, 14, 6, 12),
        (3, 2, 1, 7),
        (10, 12, 8, 20),
        // More outputs than the host's group (306: a group, then 6 tiles
        // and 2 pixels).
        (36, 34, 4, 6),
    ]
    .iter()
    .enumerate()
    {
        check_downsample(h, w, ci, co, Data::seeded(100 + i as u64));
    }
}

fn check_stem(in_h: usize, in_w: usize, cin: usize, k: usize, cout: usize, d: Data) {
    host_variant();
    let mut rng = Rng::new(d);
    let (oh, ow) = (in_h / k, in_w / k);
    let (wts, bias, crq) = (
        rng.u8s(cout * k * k * cin),
        rng.i32s(cout, 5000),
        rng.requants(cout, 1.0, 8.0),
    );
    let (orq, off) = (rng.requants(cout, 1e-6, 2e-6), rng.i32s(cout, 20));
    let x = rng.i8s(in_h * in_w * cin);
    let conv = Tables::new(&wts, &bias, &crq);
    let (orq_bytes, off_bytes) = (requant_bytes(&orq), i32_bytes(&off));
    let mut p = StemParams {
        in_h,
        in_w,
        cin,
        k,
        cout,
        at: Placement::default(),
        conv: conv.linear(),
        ln: LayerNormParams::new(5),
        out_requant: &orq_bytes[..],
        out_offset: &off_bytes[..],
    };
    let mut arena;
    (p.at, arena) = in_place_arena(&p, &x);
    stem_in_place(&p, &mut arena);
    let mut want = vec![0i8; oh * ow * cout];
    for r in 0..oh {
        for col in 0..ow {
            let v: Vec<i32> = (0..cout)
                .map(|o| {
                    let mut acc = 0;
                    for ky in 0..k {
                        for kx in 0..k {
                            for ci in 0..cin {
                                let xv = x[((r * k + ky) * in_w + col * k + kx) * cin + ci] as i32;
                                acc += xv * wts[((o * k + ky) * k + kx) * cin + ci] as i8 as i32;
                            }
                        }
                    }
                    // The bias is in the LayerNorm input's units, added after.
                    (crq[o]
                        .apply(acc as i64)
                        .clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                        .saturating_add(bias[o])
                })
                .collect();
            for (o, y) in ln_i32(&v, &p.ln, Q16).iter().enumerate() {
                want[(r * ow + col) * cout + o] =
                    saturate_i8(orq[o].apply(*y as i64) + off[o] as i64);
            }
        }
    }
    assert_eq!(
        &arena[..want.len()],
        &want[..],
        "stem {in_h}x{in_w}x{cin} k{k} ->{cout}"
    );
}

#[test]
fn stem_in_place_matches_naive_when_output_grows_or_shrinks() {
    for (i, &(h, w, ci, k, co)) in [
        (28, 28, 1, 2, 40),
        (9, 7, 3, 4, 5),
        (8, 8, 3, 4, 48),
        (4, 4, 2, 4, 3),
        (5, 13, 1, 1, 6),
    ]
    .iter()
    .enumerate()
    {
        check_stem(h, w, ci, k, co, Data::seeded(200 + i as u64));
    }
}

fn f16s(rng: &mut Rng, n: usize, scale: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|_| {
            let v = ((rng.next() % 2001) as f32 / 1000.0 - 1.0) * scale;
            half::f16::from_f32(v).to_le_bytes()
        })
        .collect()
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[2 * i], b[2 * i + 1]]).to_f32()
}

fn check_block_f16(h: usize, w: usize, c: usize, seed: u64) {
    use convnext::kernels::activation::Activation;
    use convnext::kernels::block_f16::{block_f16_in_place, BlockF16Params, F16Linear};
    host_variant();
    let mut rng = Rng::new(Data::seeded(seed));
    let ring = ring_pixels(h, w) * c;
    let x = rng.i8s(h * w * c);
    let p_dw = f16s(&mut rng, 49 * c, 0.3);
    let (dwb, lnw, lnb) = (
        f16s(&mut rng, c, 0.1),
        f16s(&mut rng, c, 1.0),
        f16s(&mut rng, c, 0.2),
    );
    let (pw1, pw1b) = (f16s(&mut rng, 4 * c * c, 0.5), f16s(&mut rng, 4 * c, 0.1));
    let (pw2, pw2b, gamma) = (
        f16s(&mut rng, 4 * c * c, 0.3),
        f16s(&mut rng, c, 0.1),
        f16s(&mut rng, c, 0.8),
    );
    let mut arena = vec![0i8; h * w * c + ring + 20 * c];
    arena[..x.len()].copy_from_slice(&x);
    // Odd seeds: a per-channel stream.
    let multipliers: Vec<u16> = match seed % 2 {
        1 => (0..c).map(|_| 1 + (rng.next() % 8) as u16).collect(),
        _ => Vec::new(),
    };
    // The output's profile of its own (the input's reversed).
    let out_multipliers: Vec<u16> = multipliers.iter().rev().copied().collect();
    let profile: Vec<u8> = profile_table(&multipliers).collect();
    let out_profile: Vec<u8> = profile_table(&out_multipliers).collect();
    let m = |ch: usize| multipliers.get(ch).map_or(1.0, |&m| m as f32);
    let m_out = |ch: usize| out_multipliers.get(ch).map_or(1.0, |&m| m as f32);
    let p = BlockF16Params {
        map: InPlaceMap { h, w, c },
        at: Placement {
            input_offset: 0,
            output_offset: 0,
            scratch_offset: h * w * c,
        },
        x_scale: 0.05,
        x_zero_point: 4,
        profile: &profile[..],
        dw: F16Linear {
            weights: &p_dw[..],
            bias: &dwb[..],
        },
        ln_weight: &lnw[..],
        ln_bias: &lnb[..],
        ln_eps: 1e-6,
        pw1: F16Linear {
            weights: &pw1[..],
            bias: &pw1b[..],
        },
        act: Activation::Gelu,
        pw2: F16Linear {
            weights: &pw2[..],
            bias: &pw2b[..],
        },
        gamma: &gamma[..],
        out_scale: 0.06,
        out_zero_point: -3,
        out_profile: &out_profile[..],
    };
    assert_eq!(arena.len(), h * w * c + p.scratch_bytes());
    block_f16_in_place(&p, &mut arena);
    let deq = |q: i8, ch: usize| (q as i32 - p.x_zero_point) as f32 * p.x_scale * m(ch);
    let mut want = vec![0i8; h * w * c];
    for r in 0..h {
        for col in 0..w {
            let mut y: Vec<f32> = (0..c)
                .map(|ch| {
                    let mut acc = f16_at(&dwb, ch);
                    for yy in r.saturating_sub(3)..(r + 4).min(h) {
                        for xx in col.saturating_sub(3)..(col + 4).min(w) {
                            let v = deq(x[(yy * w + xx) * c + ch], ch);
                            acc += v * f16_at(&p_dw, ((yy + 3 - r) * 7 + xx + 3 - col) * c + ch);
                        }
                    }
                    acc
                })
                .collect();
            let mean = y.iter().sum::<f32>() / c as f32;
            let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>();
            let inv = 1.0 / libm::sqrtf(var / c as f32 + p.ln_eps);
            for (ch, v) in y.iter_mut().enumerate() {
                *v = (*v - mean) * inv * f16_at(&lnw, ch) + f16_at(&lnb, ch);
            }
            let hid: Vec<f32> = (0..4 * c)
                .map(|j| {
                    let mut acc = f16_at(&pw1b, j);
                    for (i, yi) in y.iter().enumerate() {
                        acc += yi * f16_at(&pw1, j * c + i);
                    }
                    p.act.apply(acc)
                })
                .collect();
            for o in 0..c {
                let mut acc = f16_at(&pw2b, o);
                for (j, hj) in hid.iter().enumerate() {
                    acc += hj * f16_at(&pw2, o * 4 * c + j);
                }
                let v = deq(x[(r * w + col) * c + o], o) + f16_at(&gamma, o) * acc;
                let q = libm::roundf(v / (p.out_scale * m_out(o))) as i64 + p.out_zero_point as i64;
                want[(r * w + col) * c + o] = saturate_i8(q);
            }
        }
    }
    assert_eq!(&arena[..h * w * c], &want[..], "f16 block {h}x{w}x{c}");
}

#[test]
fn f16_block_in_place_matches_naive_on_odd_shapes() {
    for (i, &(h, w, c)) in BLOCK_SHAPES.iter().enumerate() {
        check_block_f16(h, w, c, 300 + i as u64);
    }
}

mod properties {
    //! The same checks on shapes, data and zero points proptest draws:
    //! extremes included (all -128, all 127, only -128 and 127, zero points
    //! at both ends, 1-pixel and 1-channel maps, channel counts the planner
    //! makes), shrunk to the smallest failing case when one fails.

    use super::*;
    use proptest::prelude::*;

    fn fill() -> impl Strategy<Value = Fill> {
        prop_oneof![
            2 => Just(Fill::Random),
            1 => Just(Fill::Min),
            1 => Just(Fill::Max),
            1 => Just(Fill::Edges),
        ]
    }

    fn zero_point() -> impl Strategy<Value = i32> {
        prop_oneof![Just(-128), Just(127), Just(0), -128..=127i32]
    }

    fn data() -> impl Strategy<Value = Data> {
        (
            any::<u64>(),
            fill(),
            zero_point(),
            zero_point(),
            zero_point(),
        )
            .prop_map(|(seed, fill, a, b, c)| Data {
                seed,
                fill,
                zero: (a, b, c),
            })
    }

    /// Channel counts: small odd ones, and the multiples of 4 the wide
    /// tiles take.
    fn channels() -> impl Strategy<Value = usize> {
        prop_oneof![1..=9usize, (1..=6usize).prop_map(|k| 4 * k)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn block_matches_naive(h in 1..=9usize, w in 1..=9usize, c in channels(), d in data()) {
            check_block(h, w, c, d);
        }

        #[test]
        fn grn_block_matches_naive(h in 1..=7usize, w in 1..=7usize, c in channels(), d in data()) {
            check_block_with(h, w, c, d, true);
        }

        #[test]
        fn hidden16_block_matches_naive(
            h in 1..=7usize, w in 1..=7usize, c4 in 1..=6usize, d in data(), grn in any::<bool>()
        ) {
            check_block_hidden(h, w, 4 * c4, d, grn, true);
        }

        #[test]
        fn downsample_matches_naive(
            oh in 1..=5usize, ow in 1..=5usize, cin in channels(), cout in 1..=13usize, d in data()
        ) {
            check_downsample(2 * oh, 2 * ow, cin, cout, d);
        }

        #[test]
        fn f16_block_matches_naive(h in 1..=7usize, w in 1..=7usize, c in channels(), seed in any::<u64>()) {
            check_block_f16(h, w, c, seed);
        }

        #[test]
        fn stem_matches_naive(
            oh in 1..=4usize, ow in 1..=4usize, cin in 1..=3usize, k in 1..=4usize,
            cout in 1..=12usize, d in data()
        ) {
            check_stem(k * oh, k * ow, cin, k, cout, d);
        }
    }
}
