//! One conformance suite for every implementation of the kernel frame
//! ([`super::frame`]): each primitive against its naive reference on drawn
//! shapes and data (lengths that are not multiples of 4 or 8, one-pixel
//! tiles, the int8 extremes, zero points at both ends). [`run`] takes the
//! implementation as a type parameter, so the host checks
//! [`super::arch::Portable`], [`super::arch::Dsp`] (the exact Rust models
//! of the DSP instructions) and the x86 implementation
//! (`tests/conformance.rs`), and the conformance firmware checks
//! [`super::arch::Native`] on each emulated core: the DSP `asm!` loops on
//! the M4F, M7 and M33, the portable forms on Armv6-M
//! (`cargo xtask conformance`).
//!
//! `no_std`, no heap: every check works in fixed buffers on the stack (at
//! most a few KiB, one check at a time). A wider loop an implementation
//! does not have (it returns `None` or 0) is not counted; where it has one,
//! the check also asks that it did the rows or channels it should.

use super::arena::i32s;
use super::depthwise::{Tap, Window};
use super::frame::{
    Acc, ActTable, ActTable16, DepthwiseKernel, EpilogueKernel, FusedKernel, Kernels, NormKernel,
    PairDot, PairRun, QuadActivation, ResidualRun, StemKernel, StemPatch, Tables,
};
use super::layer_norm::{affine_i8, LayerNormParams, PixelNorm};
use super::linear::QLinear;
use super::pointwise::{paired_offset, paired_offset_whole};
use super::pointwise_wide::wide_offset;
use super::requantize::{
    clamp_i8, requant_at, requantize_plus, requantize_sum_i32, Halved, Requant, ResidualLayer,
};
use super::tables::i32_at;

/// Marsaglia's xorshift64 (shifts 13, 7, 17) from a fixed seed: every run,
/// on every core, draws the same values.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// Runs every check on implementation `K`, telling `report` each check's
/// name and whether it passed.
pub fn run<K: Kernels>(mut report: impl FnMut(&'static str, bool)) {
    report("dot_i8", dot_i8::<K>());
    report("dot_tile", dot_tile::<K>());
    report("dot_wide", dot_wide::<K>());
    report("depthwise_group", depthwise_group::<K>());
    let checks: [Check; 15] = [
        ("pairs_i8", pairs::<K, false>),
        ("pairs_wide", pairs::<K, true>),
        ("depthwise_wide_groups", depthwise_wide_groups::<K>),
        ("norm_statistics", norm_statistics::<K>),
        ("norm_outputs", norm_outputs::<K>),
        ("requantize_plus_in_place", requantize_in_place::<K>),
        ("quad_activation", quad_activation::<K>),
        ("residual_groups", residual_groups::<K>),
        ("fused_pw1_activate", fused_pw1::<K, PAIRED>),
        ("fused_pw1_activate_wide", fused_pw1::<K, WIDE>),
        ("fused_pw1_activate16", fused_pw1::<K, WIDE16>),
        ("fused_pw2_residual", fused_pw2::<K, false>),
        ("fused_pw2_residual_wide", fused_pw2::<K, true>),
        ("fused_conv_halved", fused_conv::<K>),
        ("stem_patch", stem_patch::<K>),
    ];
    for (name, check) in checks {
        if let Some(ok) = check() {
            report(name, ok);
        }
    }
}

/// A check of a wider loop: its name, and whether it passed (`None` where
/// the implementation has no such loop).
type Check = (&'static str, fn() -> Option<bool>);

/// How the drawn int8 data looks: random, or all at an extreme.
#[derive(Clone, Copy)]
enum Fill {
    Random,
    Min,
    Max,
    Edges,
}

const FILLS: [Fill; 4] = [Fill::Random, Fill::Min, Fill::Max, Fill::Edges];

/// `out` filled as `fill` says, from `next`.
fn fill(out: &mut [u8], fill: Fill, next: &mut impl FnMut() -> u64) {
    for v in out {
        *v = match fill {
            Fill::Random => next() as u8,
            Fill::Min => 0x80,
            Fill::Max => 0x7f,
            Fill::Edges => [0x80, 0x7f][(next() & 1) as usize],
        };
    }
}

/// `out` as signed bytes, filled as `fill` says.
fn fill_i8(out: &mut [i8], f: Fill, next: &mut impl FnMut() -> u64) {
    let mut b = [0u8; 1];
    for v in out {
        fill(&mut b, f, next);
        *v = b[0] as i8;
    }
}

/// A multiplier of about `2^-bits` (with a drawn mantissa): the halved
/// and high-word forms take it.
fn multiplier(next: &mut impl FnMut() -> u64, bits: i32) -> Requant {
    let m = 0.5 + (next() % 1000) as f64 / 2000.0;
    Requant::from_real(m / (1u64 << bits) as f64)
}

/// A layer's stream multipliers, one a row (`R` bytes: `R / 4` rows): each
/// row's mantissa drawn below the first's by up to 2^3, all sharing the
/// shift returned (a block whose stream channels have scales of their
/// own).
fn stream_mantissas<const R: usize>(next: &mut impl FnMut() -> u64) -> ([u8; R], i32) {
    let shift = multiplier(next, 1).shift;
    let mut t = [0u8; R];
    for i in 0..R / 4 {
        let m = multiplier(next, 1).mult >> (next() % 4);
        put_i32(&mut t, i, m);
    }
    (t, shift)
}

fn put_i32(b: &mut [u8], i: usize, v: i32) {
    if let Some(d) = b.get_mut(4 * i..4 * i + 4) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

fn put_requant(b: &mut [u8], i: usize, r: Requant) {
    let n = Requant::BYTES;
    if let Some(d) = b.get_mut(n * i..n * i + n) {
        d.copy_from_slice(&r.to_le_bytes());
    }
}

fn i32_of(b: &[u8], i: usize) -> i32 {
    b.get(4 * i..4 * i + 4)
        .map_or(0, |v| i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

fn dot_i8<K: PairDot>() -> bool {
    each_fill(0x5eed_0001, |a, b| {
        (0..=a.len()).all(|n| {
            let want: i32 = 7 + (0..n).map(|i| a[i] as i32 * b[i] as i8 as i32).sum::<i32>();
            K::dot_i8(7, &a[..n], &b[..n]) == want
        })
    })
}

/// `acc[p][r] == start + Σ_k xs[p len + k] ws[r len + k]` for every pixel
/// and row: the naive sums of plain rows.
fn sums_match<const P: usize, const R: usize>(
    acc: &Acc<P, R>,
    (xs, ws): (&[i8], &[u8]),
    (len, start): (usize, i32),
) -> bool {
    (0..P).all(|p| {
        (0..R).all(|r| {
            let row = |k: usize| xs[p * len + k] as i32 * ws[r * len + k] as i8 as i32;
            acc[p][r] == start + (0..len).map(row).sum::<i32>()
        })
    })
}

/// `rows` plain rows of `len` from `plain` into `out`, laid out paired.
fn pair_rows<T: Copy>(plain: &[T], (rows, len): (usize, usize), out: &mut [T]) {
    for r in 0..rows {
        for k in 0..len {
            out[paired_offset(r, k, rows, len)] = plain[r * len + k];
        }
    }
}

/// `check` on operands drawn in every fill from `seed`; whether all passed.
fn each_fill(seed: u64, mut check: impl FnMut(&[i8], &[u8]) -> bool) -> bool {
    let mut next = xorshift(seed);
    let (mut xs, mut ws) = ([0i8; 96], [0u8; 96]);
    FILLS.iter().fold(true, |ok, &f| {
        fill_i8(&mut xs, f, &mut next);
        fill(&mut ws, f, &mut next);
        check(&xs, &ws) && ok
    })
}

/// `dot_tile` on every tile shape and length 0..=37: `P` plain rows of
/// `x` and `R` of `w`, laid out paired, against a plain sum.
fn dot_tile<K: PairDot>() -> bool {
    fn one<K: PairDot, const P: usize, const R: usize>(xs: &[i8], ws: &[u8], len: usize) -> bool {
        let (mut x, mut w) = ([0i8; 80], [0u8; 80]);
        pair_rows(xs, (P, len), &mut x);
        pair_rows(ws, (R, len), &mut w);
        let mut acc = [[5i32; R]; P];
        K::dot_tile(&mut acc, (&x, &w), len);
        sums_match(&acc, (xs, ws), (len, 5))
    }
    each_fill(0x5eed_0002, |xs, ws| {
        (0..=37).all(|len| {
            one::<K, 2, 2>(xs, ws, len)
                && one::<K, 1, 2>(xs, ws, len)
                && one::<K, 2, 1>(xs, ws, len)
                && one::<K, 1, 1>(xs, ws, len)
        })
    })
}

/// `P` pixels' int8 values `xs` (`len` each) widened to i16 as
/// [`wide_offset`] lays them out.
fn widen<const P: usize>(xs: &[i8], len: usize, x: &mut [i8]) {
    widen_i16::<P>(|k| xs[k] as i16, len, x)
}

/// `P` pixels' i16 values `v(k)` (`len` each) as [`wide_offset`] lays
/// them out.
fn widen_i16<const P: usize>(v: impl Fn(usize) -> i16, len: usize, x: &mut [i8]) {
    for t in 0..P {
        for i in 0..len {
            let o = wide_offset(t, i, P);
            if let Some(d) = x.get_mut(o..o + 2) {
                let [lo, hi] = v(t * len + i).to_le_bytes();
                d.copy_from_slice(&[lo as i8, hi as i8]);
            }
        }
    }
}

/// `dot_wide` on one and two pixels, lengths 4..=48, over widened int8
/// inputs, and `dot_wide16` over i16 inputs of 12 bits (blocks' hidden
/// vectors with [`crate::kernels::block::BlockParams::hidden16`]).
fn dot_wide<K: PairDot>() -> bool {
    fn one<K: PairDot, const P: usize>(xs: &[i8], ws: &[u8], len: usize) -> bool {
        let (mut x, mut w) = ([0i8; 192], [0u8; 96]);
        widen::<P>(xs, len, &mut x);
        pair_rows(ws, (2, len), &mut w);
        let mut acc = [[3i32; 2]; P];
        K::dot_wide(&mut acc, (&x, &w[..2 * len]));
        // The same bytes as the high 8 of 12-bit values, low 4 from
        // elsewhere in `xs`.
        let v = |k: usize| (xs[k] as i16) * 16 + (xs[95 - k] as i16 & 15);
        widen_i16::<P>(v, len, &mut x);
        let mut acc16 = [[3i32; 2]; P];
        K::dot_wide16(&mut acc16, (&x, &w[..2 * len]));
        let want = |p: usize, r: usize| {
            let row = |k: usize| v(p * len + k) as i32 * ws[r * len + k] as i8 as i32;
            3 + (0..len).map(row).sum::<i32>()
        };
        let wide_ok = (0..P).all(|p| (0..2).all(|r| acc16[p][r] == want(p, r)));
        sums_match(&acc, (xs, ws), (len, 3)) && wide_ok
    }
    each_fill(0x5eed_0003, |xs, ws| {
        (4..=48)
            .step_by(4)
            .all(|len| one::<K, 2>(xs, ws, len) && one::<K, 1>(xs, ws, len))
    })
}

/// The row-pair runs over 2 and 8 pixels (widened inputs with `WIDE`),
/// with and without the host's widened weights, all pixels live and 3.
fn pairs<K: PairDot, const WIDE: bool>() -> Option<bool> {
    const PAIRS: usize = 5;
    fn one<K: PairDot, const P: usize, const WIDE: bool>(
        next: &mut impl FnMut() -> u64,
        f: Fill,
        len: usize,
        live: usize,
    ) -> Option<bool> {
        let (mut xs, mut ws) = ([0i8; 8 * 48], [0u8; 2 * PAIRS * 48]);
        fill_i8(&mut xs[..P * len], f, next);
        fill(&mut ws[..2 * PAIRS * len], f, next);
        let mut x = [0i8; 2 * 8 * 48];
        if WIDE {
            widen::<P>(&xs, len, &mut x);
        } else {
            for t in 0..P {
                for k in 0..len {
                    x[paired_offset_whole(t, k, P)] = xs[t * len + k];
                }
            }
        }
        // Pair j's two rows are rows 2j, 2j + 1 of `ws`.
        let mut w = [0u8; 2 * PAIRS * 48];
        for j in 0..PAIRS {
            for r in 0..2 {
                for k in 0..len {
                    w[2 * j * len + paired_offset(r, k, 2, len)] = ws[(2 * j + r) * len + k];
                }
            }
        }
        let mut bias = [0u8; 8 * PAIRS];
        for i in 0..2 * PAIRS {
            put_i32(&mut bias, i, (next() % 2001) as i32 - 1000);
        }
        // The host's widened copy: pw1's chunks in the widened input's
        // order (0, 2, 1, 3), pw2's as they are.
        let mut wide = [0u8; 4 * PAIRS * 48];
        for (q, c) in w[..2 * PAIRS * len].chunks_exact(4).enumerate() {
            let order = if WIDE { [0, 2, 1, 3] } else { [0, 1, 2, 3] };
            for (i, &o) in order.iter().enumerate() {
                let [lo, hi] = (c[o] as i8 as i16).to_le_bytes();
                wide[8 * q + 2 * i] = lo;
                wide[8 * q + 2 * i + 1] = hi;
            }
        }
        let mut ok = true;
        let mut any = false;
        for widened in [&[][..], &wide[..4 * PAIRS * len]] {
            let mut out = [[[0i32; 2]; P]; PAIRS + 1];
            let (w, x) = (&w[..2 * PAIRS * len], &x[..]);
            let run = PairRun {
                x,
                weights: w,
                wide: widened,
                bias: &bias,
                len,
                live,
            };
            let n = K::pairs::<WIDE, P>(&mut out, run);
            let Some(n) = n else { continue };
            any = true;
            ok &= n == PAIRS;
            for (j, o) in out.iter().take(n).enumerate() {
                for (t, o) in o.iter().take(live).enumerate() {
                    for (r, &got) in o.iter().enumerate() {
                        let want: i32 = i32_of(&bias, 2 * j + r)
                            + (0..len)
                                .map(|k| {
                                    xs[t * len + k] as i32 * ws[(2 * j + r) * len + k] as i8 as i32
                                })
                                .sum::<i32>();
                        ok &= got == want;
                    }
                }
            }
        }
        any.then_some(ok)
    }
    let mut next = xorshift(0x5eed_0004 + WIDE as u64);
    let mut ran = None;
    for f in FILLS {
        for len in (4..=48).step_by(4) {
            for (a, b) in [
                (one::<K, 2, WIDE>(&mut next, f, len, 2), None),
                (
                    one::<K, 8, WIDE>(&mut next, f, len, 8),
                    one::<K, 8, WIDE>(&mut next, f, len, 3),
                ),
            ] {
                for r in [a, b].into_iter().flatten() {
                    ran = Some(ran.unwrap_or(true) && r);
                }
            }
        }
    }
    ran
}

/// A depthwise window of drawn taps and inputs, and its naive sums.
struct WindowCase {
    x: [i8; 400],
    w: [u8; 400],
    taps: [Tap; 49],
    want: [i32; 40],
    c: usize,
    n: usize,
}

impl WindowCase {
    fn new() -> Self {
        WindowCase {
            x: [0; 400],
            w: [0; 400],
            taps: [Tap::default(); 49],
            want: [0; 40],
            c: 0,
            n: 0,
        }
    }

    /// Draws `n` taps over `c` channels, filled as `f`, and their sums
    /// with zero point `zx`.
    fn draw(&mut self, next: &mut impl FnMut() -> u64, f: Fill, (c, n, zx): (usize, usize, i32)) {
        fill_i8(&mut self.x, f, next);
        fill(&mut self.w, f, next);
        let (xl, wl) = (self.x.len(), self.w.len());
        for t in self.taps.iter_mut().take(n) {
            *t = Tap {
                x: (next() as usize % (xl - c + 1)) as u32,
                w: (next() as usize % (wl - c + 1)) as u32,
            };
        }
        let (x, w, taps) = (&self.x, &self.w, &self.taps[..n]);
        for (ch, v) in self.want.iter_mut().enumerate().take(c) {
            *v = taps
                .iter()
                .map(|t| (x[t.x as usize + ch] as i32 - zx) * w[t.w as usize + ch] as i8 as i32)
                .sum();
        }
        (self.c, self.n) = (c, n);
    }

    /// The window drawn last (`None` if a tap does not fit: never, by
    /// construction).
    fn window(&self) -> Option<Window<'_>> {
        Window::new(&self.x, &self.w, &self.taps[..self.n], self.c)
    }
}

/// The four-channel step on every group of 1..=40 channels, 1 and 49 taps,
/// zero points at both ends.
fn depthwise_group<K: DepthwiseKernel>() -> bool {
    let mut next = xorshift(0x5eed_0005);
    let mut case = WindowCase::new();
    let mut ok = true;
    for (i, zx) in [-128, -3, 0, 127].into_iter().enumerate() {
        for c in (1..=40).step_by(3) {
            let n = if i % 2 == 0 { 49 } else { 1 };
            case.draw(&mut next, FILLS[(c + i) % 4], (c, n, zx));
            let Some(win) = case.window() else {
                return false;
            };
            for g in 0..c / 4 {
                ok &= K::group(&win, 4 * g, zx)[..] == case.want[4 * g..4 * g + 4];
            }
        }
    }
    ok
}

/// The wider depthwise loops: the channels they say they did, from 0.
fn depthwise_wide_groups<K: DepthwiseKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0006);
    let mut case = WindowCase::new();
    let mut ran = None;
    for zx in [-128, -3, 0, 127] {
        for c in [4, 8, 15, 16, 24, 33, 40] {
            for (n, f) in [(49, Fill::Random), (48, Fill::Edges), (1, Fill::Max)] {
                case.draw(&mut next, f, (c, n, zx));
                let Some(win) = case.window() else {
                    return Some(false);
                };
                let mut out = [0i8; 4 * 40];
                let done = K::wide_groups(&win, zx, &mut out);
                if done == 0 {
                    continue;
                }
                let sums = i32s(&out).take(done);
                let ok = done <= c && sums.zip(case.want).all(|(a, b)| a == b);
                ran = Some(ran.unwrap_or(true) && ok);
            }
        }
    }
    ran
}

/// LayerNorm's statistics over int8 and i32 values.
fn norm_statistics<K: NormKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0007);
    let mut ran = None;
    for f in FILLS {
        for c in [4, 8, 12, 40, 64] {
            let mut v8 = [0i8; 64];
            fill_i8(&mut v8, f, &mut next);
            let (s, ss) = v8[..c].iter().fold((0i64, 0i64), |(s, ss), &v| {
                (s + v as i64, ss + (v as i64).pow(2))
            });
            if let Some(got) = K::statistics::<1>(&v8, c) {
                ran = Some(ran.unwrap_or(true) && got == (s, ss));
            }
            // i32 inputs inside LayerNorm's input range.
            let mut v32 = [0i8; 4 * 64];
            let mut want = (0i64, 0i64);
            for i in 0..c {
                let v = (next() % (1 << 21)) as i32 - (1 << 20);
                let v = if matches!(f, Fill::Min) {
                    -(1 << 20) + 1
                } else {
                    v
                };
                v32[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes().map(|b| b as i8));
                want = (want.0 + v as i64, want.1 + (v as i64).pow(2));
            }
            if let Some(got) = K::statistics::<4>(&v32, c) {
                ran = Some(ran.unwrap_or(true) && got == want);
            }
        }
    }
    ran
}

/// LayerNorm's output passes through a pixel's fast map: the widened
/// layout (i32 inputs), the int8 groups (int8 inputs) and the stem's affine,
/// each against the map applied one channel at a time.
fn norm_outputs<K: NormKernel + EpilogueKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0011);
    let mut ran = None;
    let mut record = |ok: bool| ran = Some(ran.unwrap_or(true) && ok);
    for c in [4, 8, 12, 40, 64] {
        let ln = LayerNormParams::new(next() % 1000);
        // i32 inputs and their map to a multiplier of about 1/64.
        let (mut v32, mut q32) = ([0i8; 4 * 64], [0i32; 64]);
        for (i, q) in q32.iter_mut().enumerate().take(c) {
            *q = (next() % (1 << 18)) as i32 - (1 << 17);
            v32[4 * i..4 * i + 4].copy_from_slice(&q.to_le_bytes().map(|b| b as i8));
        }
        // Normalised values (about ±3) to int8 outputs: a multiplier near 30.
        let to_int8 =
            |next: &mut dyn FnMut() -> u64| Requant::from_real(20.0 + (next() % 200) as f64 / 10.0);
        let norm = PixelNorm::new(q32[..c].iter().copied(), c, &ln, to_int8(&mut next));
        if let Some(fast) = norm.fast() {
            let mut ok = true;
            let widened = K::widened_groups(&v32, fast, c, |g, bytes| {
                let ch = [0, 2, 1, 3].map(|k| clamp_i8(fast.apply(q32[4 * g + k])) as i16);
                let want: [u8; 8] = core::array::from_fn(|b| ch[b / 2].to_le_bytes()[b % 2]);
                ok &= bytes == want;
            });
            if widened {
                record(ok);
            }
        }
        // int8 inputs.
        let mut v8 = [0i8; 64];
        fill_i8(&mut v8, Fill::Random, &mut next);
        let norm = PixelNorm::new(
            v8[..c].iter().map(|&v| v as i32),
            c,
            &ln,
            multiplier(&mut next, 2),
        );
        if let Some(fast) = norm.fast() {
            let mut ok = true;
            let done = K::int8_groups(&v8, fast, c, |g, bytes| {
                let want =
                    core::array::from_fn(|k| clamp_i8(fast.apply(v8[4 * g + k] as i32)) as u8);
                ok &= bytes == want;
            });
            if done {
                record(ok);
            }
        }
        // The stem's affine after a Q16 map.
        let norm = PixelNorm::new(q32[..c].iter().copied(), c, &ln, super::layer_norm::Q16);
        let Some(fast) = norm.fast() else {
            continue;
        };
        let (mut requant, mut offset) = ([0u8; 5 * 64], [0u8; 4 * 64]);
        for ch in 0..c {
            put_requant(&mut requant, ch, multiplier(&mut next, 10));
            put_i32(&mut offset, ch, (next() % 255) as i32 - 127);
        }
        let mut unpacked = [0u8; 8 * 64];
        for unpack in [false, true] {
            let prepared = match unpack {
                true => K::unpack_requants(&requant[..5 * c], c, &mut unpacked),
                false => &[],
            };
            let mut out = [0i8; 64];
            let affine = (&requant[..5 * c], &offset[..4 * c], prepared);
            if K::affine_out(&v32, fast, affine, &mut out, c) {
                let want = |i: usize| affine_i8(&requant, &offset, i, fast.apply(q32[i]));
                record((0..c).all(|i| out[i] == want(i)));
            }
        }
    }
    ran
}

/// The per-channel requantization in place, with the multipliers gathered
/// and unpacked; sums on and off its fast path.
fn requantize_in_place<K: EpilogueKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0008);
    let mut ran = None;
    for c in [1, 7, 8, 16, 40] {
        let (mut bias, mut table) = ([0u8; 4 * 40], [0u8; Requant::BYTES * 40]);
        let mut sums = [0i32; 40];
        for (ch, sum) in sums.iter_mut().enumerate().take(c) {
            put_i32(&mut bias, ch, (next() % 20001) as i32 - 10000);
            let bits = (next() % 12) as i32;
            put_requant(&mut table, ch, multiplier(&mut next, bits));
            // Mostly small sums, some past 2^21 (off the fast path).
            *sum = match next() % 8 {
                0 => (next() as i32) >> 2,
                _ => (next() % (1 << 20)) as i32 - (1 << 19),
            };
        }
        let mut unpacked_buf = [0u8; 8 * 40];
        let unpacked = K::unpack_requants(&table[..Requant::BYTES * c], c, &mut unpacked_buf);
        for prepared in [&[][..], unpacked] {
            let mut out = [0i8; 4 * 40];
            for (ch, s) in sums.iter().enumerate().take(c) {
                out[4 * ch..4 * ch + 4].copy_from_slice(&s.to_le_bytes().map(|b| b as i8));
            }
            let (bias, table) = (&bias[..4 * c], &table[..Requant::BYTES * c]);
            if !K::requantize_plus_in_place(&mut out[..4 * c], bias, (table, prepared), c) {
                continue;
            }
            let ok = i32s(&out[..4 * c]).enumerate().all(|(ch, got)| {
                got == requantize_plus(sums[ch], requant_at(table, ch), i32_of(bias, ch))
            });
            ran = Some(ran.unwrap_or(true) && ok);
        }
    }
    ran
}

/// A drawn activation table.
fn table(next: &mut impl FnMut() -> u64) -> [u8; 256] {
    let mut t = [0u8; 256];
    fill(&mut t, Fill::Random, next);
    t
}

/// pw1's four-row activation epilogue over 8 pixels.
fn quad_activation<K: EpilogueKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0009);
    let mut ran = None;
    for zp in [-128i8, -5, 0, 127] {
        let t = table(&mut next);
        let mut rq = [0u8; 4 * Requant::BYTES];
        for i in 0..4 {
            put_requant(&mut rq, i, multiplier(&mut next, 4 + i as i32));
        }
        let Some(quad) = K::Quad::from_requants(&rq) else {
            continue;
        };
        let mut acc = [[0i32; 2]; 16];
        for a in acc.as_flattened_mut() {
            *a = (next() % (1 << 14)) as i32 - (1 << 13);
        }
        let mut out = [0i8; 32];
        let act = ActTable {
            table: &t,
            plus: Halved::plus(zp),
        };
        if !quad.activate32(&acc, act, &mut out) {
            continue;
        }
        // Row 2q + r of pixel t: pair q's entry 8q + t, lane r.
        let ok = (0..8).all(|px| {
            (0..4).all(|row| {
                let a = acc[8 * (row / 2) + px][row % 2];
                let pre = clamp_i8(requant_at(&rq, row).apply_i32(a).saturating_add(zp as i32));
                out[4 * px + row] == t[(pre as i32 + 128) as usize] as i8
            })
        });
        ran = Some(ran.unwrap_or(true) && ok);
    }
    ran
}

/// pw2's layer scale and residual over groups of 4 row pairs, 1 to 8
/// pixels.
fn residual_groups<K: EpilogueKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_000a);
    let mut ran = None;
    for (zx, zo) in [(-128, 127), (0, 0), (127, -128), (-7, 3)] {
        let (residual, shift) = stream_mantissas::<{ 4 * 16 }>(&mut next);
        let Some(layer) = ResidualLayer::new(zx, shift, zo) else {
            continue;
        };
        for n in [1, 3, 8] {
            let c = 16;
            let mut x = [0i8; 8 * 16];
            fill_i8(&mut x, Fill::Random, &mut next);
            let orig = x;
            let mut rq = [0u8; 16 * Requant::BYTES];
            for i in 0..16 {
                put_requant(&mut rq, i, multiplier(&mut next, 6));
            }
            let mut accs = [[0i32; 2]; 8 * 8];
            for a in accs.as_flattened_mut() {
                *a = (next() % (1 << 16)) as i32 - (1 << 15);
            }
            let run = ResidualRun {
                c,
                pixels: n,
                first_row: 0,
                accs: &accs,
                requant: &rq,
                residual: &residual,
                layer,
            };
            let done = K::residual_groups(&mut x[..n * c], run);
            if done == 0 {
                continue;
            }
            // Pair j's rows 2j, 2j + 1 of pixel t at accs[8j + t].
            let ok = (0..n).all(|t| {
                (0..2 * done).all(|o| {
                    let acc = accs[8 * (o / 2) + t][o % 2];
                    let s = requantize_sum_i32(
                        orig[t * c + o] as i32 - zx,
                        Requant::new(i32_at(&residual, o), shift),
                        acc,
                        requant_at(&rq, o),
                    );
                    x[t * c + o] == clamp_i8(s.saturating_add(zo))
                })
            });
            ran = Some(ran.unwrap_or(true) && ok && done.is_multiple_of(4));
        }
    }
    ran
}

/// A layer of `rows` rows of `len` drawn weights, paired, with biases and
/// multipliers of about `2^-bits`; `plain` keeps the weights row by row.
struct Layer<const W: usize, const R: usize> {
    plain: [u8; W],
    paired: [u8; W],
    bias: [u8; R],
    requant: [u8; R],
}

impl<const W: usize, const R: usize> Layer<W, R> {
    fn new(
        next: &mut impl FnMut() -> u64,
        f: Fill,
        (rows, len): (usize, usize),
        bits: i32,
    ) -> Self {
        let mut l = Layer {
            plain: [0; W],
            paired: [0; W],
            bias: [0; R],
            requant: [0; R],
        };
        fill(&mut l.plain[..rows * len], f, next);
        for r in 0..rows {
            for k in 0..len {
                l.paired[paired_offset(r, k, rows, len)] = l.plain[r * len + k];
            }
            put_i32(&mut l.bias, r, (next() % 4001) as i32 - 2000);
            put_requant(&mut l.requant, r, multiplier(next, bits));
        }
        l
    }

    fn tables(&self, (rows, len): (usize, usize)) -> Tables<'_> {
        QLinear {
            weights: &self.paired[..rows * len],
            bias: &self.bias[..4 * rows],
            requant: &self.requant[..Requant::BYTES * rows],
        }
    }

    /// Row `r`'s bias plus its dot product with `x` (`len` values).
    fn sum(&self, r: usize, x: &[i8], len: usize) -> i32 {
        let w = &self.plain[r * len..(r + 1) * len];
        i32_of(&self.bias, r)
            + x.iter()
                .zip(w)
                .map(|(&a, &b)| a as i32 * b as i8 as i32)
                .sum::<i32>()
    }
}

/// The output forms of the fused pw1 loops [`fused_pw1`] checks.
const PAIRED: u8 = 0;
/// Widened int8 hidden vectors.
const WIDE: u8 = 1;
/// Widened hidden vectors from a 16-bit table.
const WIDE16: u8 = 2;

/// pw1 + activation of two pixels into the paired int8 (`FORM` [`PAIRED`]),
/// widened int8 ([`WIDE`]) or, through a 16-bit table, widened i16
/// ([`WIDE16`]) hidden vectors: every row, each as the general
/// requantization and the table give it.
fn fused_pw1<K: FusedKernel, const FORM: u8>() -> Option<bool> {
    if !K::FUSED {
        return None;
    }
    let mut next = xorshift([0x5eed_000b, 0x5eed_000c, 0x5eed_0016][FORM as usize % 3]);
    let mut ok = true;
    for (i, c) in [8, 16].into_iter().enumerate() {
        for zp in [-128i8, 0, 127] {
            let f = FILLS[(i + zp as usize) % 4];
            let l = Layer::<{ 64 * 16 }, { 5 * 64 }>::new(&mut next, f, (4 * c, c), 9);
            // The table's entries: int8, or i16 over 12 bits, both signs.
            let t8 = table(&mut next);
            let mut t16 = [0u8; 512];
            for e in t16.chunks_exact_mut(2).filter(|_| FORM == WIDE16) {
                let v = (next() % 4096) as i16 - 2048;
                e.copy_from_slice(&v.to_le_bytes());
            }
            let mut xs = [0i8; 2 * 16];
            fill_i8(&mut xs, f, &mut next);
            let mut x = [0i8; 4 * 16];
            widen::<2>(&xs, c, &mut x);
            let mut out = [0i8; 16 * 16];
            let layer = l.tables((4 * c, c));
            let plus = Halved::plus(zp);
            let (x, act8) = (&x[..4 * c], ActTable { table: &t8, plus });
            let done = match FORM {
                PAIRED => K::pw1_activate::<false>(&mut out[..8 * c], x, (layer, act8)),
                WIDE => K::pw1_activate::<true>(&mut out[..16 * c], x, (layer, act8)),
                _ => {
                    let act = ActTable16 { table: &t16, plus };
                    K::pw1_activate16(&mut out[..16 * c], x, (layer, act))
                }
            };
            ok &= done == 4 * c;
            for px in 0..2 {
                for j in 0..done {
                    let acc = l.sum(j, &xs[px * c..(px + 1) * c], c);
                    let rq = requant_at(layer.requant, j);
                    let pre = clamp_i8(rq.apply_i32(acc).saturating_add(zp as i32));
                    let e = (pre as i32 + 128) as usize;
                    let want = match FORM {
                        WIDE16 => i16::from_le_bytes([t16[2 * e], t16[2 * e + 1]]),
                        _ => t8[e] as i8 as i16,
                    };
                    ok &= match FORM {
                        PAIRED => out[paired_offset(px, j, 2, 4 * c)] as i16 == want,
                        _ => {
                            let at = wide_offset(px, j, 2);
                            i16::from_le_bytes([out[at] as u8, out[at + 1] as u8]) == want
                        }
                    };
                }
            }
        }
    }
    Some(ok)
}

/// pw2, layer scale and residual of two pixels from their paired (or,
/// `WIDE_IN`, widened) hidden vectors: every row.
fn fused_pw2<K: FusedKernel, const WIDE_IN: bool>() -> Option<bool> {
    if !K::FUSED {
        return None;
    }
    let mut next = xorshift(0x5eed_000d + WIDE_IN as u64);
    let mut ok = true;
    for (i, c) in [8, 16, 10].into_iter().enumerate() {
        for (zx, zo) in [(-128, 127), (0, 0), (127, -128)] {
            let f = FILLS[(i + zx as usize) % 4];
            let l = Layer::<{ 16 * 64 }, { 5 * 16 }>::new(&mut next, f, (c, 4 * c), 10);
            let (residual, shift) = stream_mantissas::<{ 4 * 16 }>(&mut next);
            let Some(layer) = ResidualLayer::new(zx, shift, zo) else {
                return Some(false);
            };
            let mut hs = [0i8; 2 * 64];
            fill_i8(&mut hs, f, &mut next);
            let mut hidden = [0i8; 4 * 64];
            if WIDE_IN {
                widen::<2>(&hs, 4 * c, &mut hidden);
            } else {
                for px in 0..2 {
                    for k in 0..4 * c {
                        hidden[paired_offset(px, k, 2, 4 * c)] = hs[px * 4 * c + k];
                    }
                }
            }
            let mut x = [0i8; 2 * 16];
            fill_i8(&mut x, Fill::Random, &mut next);
            let orig = x;
            let n = if WIDE_IN { 16 * c } else { 8 * c };
            let tables = l.tables((c, 4 * c));
            let l3 = (tables, layer, &residual[..]);
            let done = K::pw2_residual::<WIDE_IN>(&mut x[..2 * c], &hidden[..n], l3);
            ok &= done == c;
            for px in 0..2 {
                for o in 0..done {
                    let acc = l.sum(o, &hs[px * 4 * c..(px + 1) * 4 * c], 4 * c);
                    let at = px * c + o;
                    let s = requantize_sum_i32(
                        orig[at] as i32 - zx,
                        Requant::new(i32_at(&residual, o), shift),
                        acc,
                        requant_at(tables.requant, o),
                    );
                    ok &= x[at] == clamp_i8(s.saturating_add(zo));
                }
            }
        }
    }
    Some(ok)
}

/// A conv's row pairs over two pixels' paired windows, requantized in the
/// halved form: every row.
fn fused_conv<K: FusedKernel>() -> Option<bool> {
    if !K::FUSED {
        return None;
    }
    let mut next = xorshift(0x5eed_000f);
    let mut ok = true;
    for (len, cout) in [(16, 8), (32, 6), (24, 16)] {
        for zp in [-128i8, 0, 127] {
            let l = Layer::<{ 16 * 32 }, { 5 * 16 }>::new(&mut next, Fill::Random, (cout, len), 8);
            let mut xs = [0i8; 2 * 32];
            fill_i8(&mut xs, Fill::Random, &mut next);
            let mut x = [0i8; 2 * 32];
            for px in 0..2 {
                for k in 0..len {
                    x[paired_offset(px, k, 2, len)] = xs[px * len + k];
                }
            }
            let mut out = [0i8; 2 * 16];
            let tables = l.tables((cout, len));
            let plus = Halved::plus(zp);
            let done = K::conv_halved(&mut out[..2 * cout], &x[..2 * len], (tables, plus));
            ok &= done == cout;
            for px in 0..2 {
                for o in 0..done {
                    let acc = l.sum(o, &xs[px * len..(px + 1) * len], len);
                    let v = requant_at(tables.requant, o)
                        .apply_i32(acc)
                        .saturating_add(zp as i32);
                    ok &= out[px * cout + o] == clamp_i8(v);
                }
            }
        }
    }
    Some(ok)
}

/// The stem's patch loop: every output's requantized sum.
fn stem_patch<K: StemKernel>() -> Option<bool> {
    let mut next = xorshift(0x5eed_0010);
    let mut ran = None;
    for (len, cout) in [(4, 8), (16, 24), (48, 40), (12, 96)] {
        let l = Layer::<{ 48 * 96 }, { 5 * 96 }>::new(&mut next, Fill::Random, (cout, len), 4);
        let mut patch = [0i8; 48];
        fill_i8(&mut patch, Fill::Random, &mut next);
        // The stem's weights are plain, row after row.
        let conv = QLinear {
            weights: &l.plain[..cout * len],
            ..l.tables((cout, len))
        };
        let Some(mut prep) = K::prepare(conv, conv.requant, (len, cout)) else {
            continue;
        };
        let mut out = [0i8; 4 * 96];
        prep.conv_patch(&patch[..len], conv, &mut out[..4 * cout]);
        let ok = i32s(&out[..4 * cout]).enumerate().all(|(o, got)| {
            let bias = i32_of(conv.bias, o);
            let acc = l.sum(o, &patch[..len], len) - bias;
            got == requantize_plus(acc, requant_at(conv.requant, o), bias)
        });
        ran = Some(ran.unwrap_or(true) && ok);
    }
    ran
}
