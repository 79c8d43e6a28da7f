//! Host-only: the f32 reference's hot loops (codegen's reference model
//! calls them; they live here because this crate holds the project's
//! audited `unsafe` and codegen has none): matrix products
//! `out[p] = bias + Σ_i x[p][i] w[i]` ([`linear_rows`], `w` laid out
//! `[cin][cout]`, blocked 4 rows x 16 outputs so the accumulators stay in
//! registers and each weight load feeds 4 rows), the 7x7 depthwise
//! ([`depthwise7x7`]) and GELU ([`gelu_in_place`]). Each is compiled twice,
//! for the x86-64 baseline and for AVX2, chosen at run time. Every sum runs
//! in the order of the plain loop and Rust never fuses a multiply and an
//! add, so the blocking and the vector width change no bits.

/// Rows per block.
const ROWS: usize = 4;
/// Outputs per block.
const COLS: usize = 16;

/// `out = bias + x w` row by row (`x`: rows of `cin`, `out`: rows of
/// `bias.len()`, `w`: `cin` rows of `bias.len()`).
pub fn linear_rows(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32]) {
    let cout = bias.len();
    if cout == 0 {
        return;
    }
    let cin = w.len() / cout;
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2_available() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU runs AVX2 (CPUID and XGETBV said so).
        unsafe {
            blocked_avx2(x, w, bias, out, cin)
        };
        return;
    }
    blocked(x, w, bias, out, cin);
}

/// [`blocked`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn blocked_avx2(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], cin: usize) {
    blocked(x, w, bias, out, cin)
}

#[inline(always)]
fn blocked(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], cin: usize) {
    let cout = bias.len();
    if cin == 0 {
        for o in out.chunks_exact_mut(cout) {
            o.copy_from_slice(bias);
        }
        return;
    }
    // Column blocks outside, row blocks inside: a block's weight columns
    // (`cin x 16` floats) stay in cache over every row, where the other
    // order streamed the whole matrix once per 4 rows.
    let whole = x.len() / (ROWS * cin) * ROWS;
    let (xs, rest) = x.split_at(whole * cin);
    let (os, os_rest) = out.split_at_mut((whole * cout).min(out.len()));
    let mut j0 = 0;
    while j0 + COLS <= cout {
        for (xb, ob) in xs
            .chunks_exact(ROWS * cin)
            .zip(os.chunks_exact_mut(ROWS * cout))
        {
            block::<COLS>(xb, w, bias, ob, (cin, j0));
        }
        j0 += COLS;
    }
    // The last columns 8 at a time, then plainly.
    while j0 + 8 <= cout {
        for (xb, ob) in xs
            .chunks_exact(ROWS * cin)
            .zip(os.chunks_exact_mut(ROWS * cout))
        {
            block::<8>(xb, w, bias, ob, (cin, j0));
        }
        j0 += 8;
    }
    for (xp, op) in xs.chunks_exact(cin).zip(os.chunks_exact_mut(cout)) {
        plain(xp, w, bias, op, j0);
    }
    // The last rows (fewer than ROWS) one at a time, their sums in
    // registers too: a 3x3 map's ninth row done plainly cost as much as
    // two of the other blocks.
    for (xp, op) in rest.chunks_exact(cin).zip(os_rest.chunks_exact_mut(cout)) {
        let mut j0 = 0;
        while j0 + COLS <= cout {
            row_block::<COLS>(xp, w, bias, op, j0);
            j0 += COLS;
        }
        plain(xp, w, bias, op, j0);
    }
}

/// Columns `j0..j0 + N` of [`ROWS`] rows `xb` into `ob`, the accumulators
/// in registers over every input.
#[inline(always)]
fn block<const N: usize>(
    xb: &[f32],
    w: &[f32],
    bias: &[f32],
    ob: &mut [f32],
    (cin, j0): (usize, usize),
) {
    let cout = bias.len();
    let mut acc = [[0f32; N]; ROWS];
    for a in acc.iter_mut() {
        a.copy_from_slice(&bias[j0..j0 + N]);
    }
    // The 4 rows zipped with the weight rows: no index checks inside.
    let (r0, rest) = xb.split_at(cin);
    let (r1, rest) = rest.split_at(cin);
    let (r2, r3) = rest.split_at(cin);
    let columns = w.chunks_exact(cout).zip(r0).zip(r1).zip(r2).zip(r3);
    for ((((wr, &v0), &v1), &v2), &v3) in columns {
        let wr: &[f32; N] = wr[j0..j0 + N].try_into().unwrap_or(&[0.0; N]);
        for (a, v) in acc.iter_mut().zip([v0, v1, v2, v3]) {
            for (a, wv) in a.iter_mut().zip(wr) {
                *a += v * wv;
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        ob[p * cout + j0..p * cout + j0 + N].copy_from_slice(a);
    }
}

/// Columns `j0..j0 + N` of one row `x` into `o`, the sums in registers.
#[inline(always)]
fn row_block<const N: usize>(x: &[f32], w: &[f32], bias: &[f32], o: &mut [f32], j0: usize) {
    let cout = bias.len();
    let (Some(b), Some(ws)) = (bias.get(j0..j0 + N), w.get(j0..)) else {
        return;
    };
    let mut acc = [0f32; N];
    acc.copy_from_slice(b);
    for (&v, wr) in x.iter().zip(ws.chunks(cout)) {
        let Some(wr) = wr.first_chunk::<N>() else {
            break;
        };
        for (a, wv) in acc.iter_mut().zip(wr) {
            *a += v * wv;
        }
    }
    if let Some(o) = o.get_mut(j0..j0 + N) {
        o.copy_from_slice(&acc);
    }
}

/// A 7x7 depthwise convolution with zero padding 3 over an `h x w` HWC map
/// of `c = bias.len()` channels, weights `[7][7][c]`: each output starts at
/// its bias and adds the taps in raster order, skipping those outside the
/// map (AVX2 where the CPU has it; the same bits either way).
pub fn depthwise7x7(
    x: &[f32],
    (h, w): (usize, usize),
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2_available() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU runs AVX2 (CPUID and XGETBV said so).
        unsafe {
            depthwise_avx2(x, (h, w), weights, bias, out)
        };
        return;
    }
    depthwise_plain(x, (h, w), weights, bias, out)
}

/// [`depthwise_plain`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn depthwise_avx2(x: &[f32], hw: (usize, usize), weights: &[f32], bias: &[f32], out: &mut [f32]) {
    depthwise_plain(x, hw, weights, bias, out)
}

#[inline(always)]
fn depthwise_plain(
    x: &[f32],
    (h, w): (usize, usize),
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let c = bias.len();
    if c == 0 {
        return;
    }
    for (i, o) in out.chunks_exact_mut(c).take(h * w).enumerate() {
        let (y, xx) = (i / w, i % w);
        // The window's taps in raster order: (input offset, weight offset).
        let mut taps = [(0usize, 0usize); 49];
        let mut n = 0;
        for ky in y.saturating_sub(3)..(y + 4).min(h) {
            for kx in xx.saturating_sub(3)..(xx + 4).min(w) {
                taps[n] = ((ky * w + kx) * c, ((ky + 3 - y) * 7 + kx + 3 - xx) * c);
                n += 1;
            }
        }
        let taps = &taps[..n];
        // Channels 64 at a time, then the rest of the multiples of 8 in one
        // group (40 channels: one pass over the taps with five independent
        // sums, not a pass of four and one of one), then one by one; each
        // group's sums in registers over every tap: each sum is still its
        // bias plus the taps in raster order.
        let mut ch = 0;
        while ch + 64 <= c {
            channel_group::<64>((x, weights, bias, taps, ch), o);
            ch += 64;
        }
        let g = (c - ch) / 8 * 8;
        let args = (x, weights, bias, taps, ch);
        match g {
            56 => channel_group::<56>(args, o),
            48 => channel_group::<48>(args, o),
            40 => channel_group::<40>(args, o),
            32 => channel_group::<32>(args, o),
            24 => channel_group::<24>(args, o),
            16 => channel_group::<16>(args, o),
            8 => channel_group::<8>(args, o),
            _ => {}
        }
        for ch in ch + g..c {
            channel_group::<1>((x, weights, bias, taps, ch), o);
        }
    }
}

/// What a channel group reads: the input map, the weights, the bias, the
/// window's taps (input offset, weight offset) and its first channel.
type Group<'a> = (&'a [f32], &'a [f32], &'a [f32], &'a [(usize, usize)], usize);

/// Channels `ch..ch + N` of one output pixel `o` over its window's `taps`.
#[inline(always)]
fn channel_group<const N: usize>((x, weights, bias, taps, ch): Group, o: &mut [f32]) {
    let Some(b) = bias.get(ch..ch + N) else {
        return;
    };
    let mut acc = [0f32; N];
    acc.copy_from_slice(b);
    for &(xt, wt) in taps {
        let (Some(src), Some(wv)) = (
            x.get(xt + ch..xt + ch + N),
            weights.get(wt + ch..wt + ch + N),
        ) else {
            continue;
        };
        for ((a, &v), &wv) in acc.iter_mut().zip(src).zip(wv) {
            *a += v * wv;
        }
    }
    if let Some(o) = o.get_mut(ch..ch + N) {
        o.copy_from_slice(&acc);
    }
}

/// LayerNorm's normalisation (no affine) of every `c`-long row of `data`
/// in place, in f64 as the reference computes it: the mean, the mean square
/// deviation, `(v - mean) / sqrt(var + eps)`. Four rows go in lockstep, each
/// summed in its own order, so the four dependency chains overlap and the
/// bits are those of one row at a time.
pub fn normalize_rows(data: &mut [f32], c: usize, eps: f64) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2_available() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU runs AVX2 (CPUID and XGETBV said so).
        unsafe {
            normalize_avx2(data, c, eps)
        };
        return;
    }
    normalize_plain(data, c, eps)
}

/// [`normalize_plain`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn normalize_avx2(data: &mut [f32], c: usize, eps: f64) {
    normalize_plain(data, c, eps)
}

#[inline(always)]
fn normalize_plain(data: &mut [f32], c: usize, eps: f64) {
    if c == 0 {
        return;
    }
    let n = c as f64;
    let mut blocks = data.chunks_exact_mut(4 * c);
    for b in &mut blocks {
        let (r0, rest) = b.split_at_mut(c);
        let (r1, rest) = rest.split_at_mut(c);
        let (r2, r3) = rest.split_at_mut(c);
        // `Sum` for floats starts at -0.0: so do these.
        let mut s = [-0.0f64; 4];
        for (((a, b), cc), d) in r0.iter().zip(&*r1).zip(&*r2).zip(&*r3) {
            s[0] += *a as f64;
            s[1] += *b as f64;
            s[2] += *cc as f64;
            s[3] += *d as f64;
        }
        let mean = s.map(|v| v / n);
        let mut q = [-0.0f64; 4];
        for (((a, b), cc), d) in r0.iter().zip(&*r1).zip(&*r2).zip(&*r3) {
            let e = [
                *a as f64 - mean[0],
                *b as f64 - mean[1],
                *cc as f64 - mean[2],
                *d as f64 - mean[3],
            ];
            for (q, e) in q.iter_mut().zip(e) {
                *q += e * e;
            }
        }
        let inv = q.map(|v| 1.0 / sqrt(v / n + eps));
        for (p, row) in [r0, r1, r2, r3].into_iter().enumerate() {
            for v in row.iter_mut() {
                *v = ((*v as f64 - mean[p]) * inv[p]) as f32;
            }
        }
    }
    for row in blocks.into_remainder().chunks_exact_mut(c) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum::<f64>()
            / n;
        let inv = 1.0 / sqrt(var + eps);
        for v in row.iter_mut() {
            *v = ((*v as f64 - mean) * inv) as f32;
        }
    }
}

/// `x.sqrt()`, correctly rounded, without std (whose method it is): on
/// x86-64 SSE2's SQRTSD (the baseline; an intrinsic the compiler schedules
/// with the loop around it, where libm's inline assembly stalled it: the f32
/// reference took 15 % longer), elsewhere libm's. Both are IEEE's square
/// root, so the bits are the same.
#[inline(always)]
fn sqrt(x: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU runs it.
    return unsafe { sqrt_sse2(x) };
    #[cfg(not(target_arch = "x86_64"))]
    libm::sqrt(x)
}

/// [`sqrt`] on x86-64: SQRTSD (SSE2 is the baseline, so any caller may).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sqrt_sse2(x: f64) -> f64 {
    use core::arch::x86_64::{_mm_cvtsd_f64, _mm_set_sd, _mm_sqrt_pd};
    _mm_cvtsd_f64(_mm_sqrt_pd(_mm_set_sd(x)))
}

/// Outputs `from..` of one row, the plain way.
#[inline(always)]
fn plain(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], from: usize) {
    let cout = bias.len();
    out[from..].copy_from_slice(&bias[from..]);
    for (&v, wr) in x.iter().zip(w.chunks_exact(cout)) {
        for (o, wv) in out[from..].iter_mut().zip(&wr[from..]) {
            *o += v * wv;
        }
    }
}

/// `exp(x)` for `x <= 0` (here `-z^2`), to about 2 ulp; 0 below -87.
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    let x = x.max(-87.0);
    // n = round(x / ln 2) by the 1.5 * 2^23 trick (no call to round).
    let magic = 12_582_912.0f32;
    let t = x * core::f32::consts::LOG2_E + magic;
    let n = t - magic;
    // n is a whole number in [-126, 0], so t lies in [2^23, 2^24) where the
    // float's low bits count units: its bits less the magic's are n (what
    // `n as i32` gives, without the saturating conversion that would keep
    // the loop from vectorising).
    let n_int = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    // exp(r) on [-ln2/2, ln2/2], Cephes' coefficients.
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// `gelu(x) = x (1 + erf(x / sqrt 2)) / 2` for every element of `v`, the
/// way PyTorch's CPU kernel computes it: `erf` by Abramowitz & Stegun 7.1.26
/// (absolute error below 1.5e-7) with `exp` by a range-reduced polynomial,
/// both without calls or branches so the loop vectorises (AVX2 where the CPU
/// has it; the same bits either way). The negative side is computed as
/// `erfc(|z|)` directly, so it loses nothing to cancellation.
pub fn gelu_in_place(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2_available() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU runs AVX2 (CPUID and XGETBV said so).
        unsafe {
            gelu_avx2(v)
        };
        return;
    }
    gelu_plain(v)
}

/// [`gelu_plain`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn gelu_avx2(v: &mut [f32]) {
    gelu_plain(v)
}

#[inline(always)]
fn gelu_plain(v: &mut [f32]) {
    for x in v.iter_mut() {
        let z = (*x * core::f32::consts::FRAC_1_SQRT_2).abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * z);
        let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
            + 0.254_829_6)
            * t;
        // erfc(|z|) ~ poly exp(-z^2); 1 + erf(z) is that for z < 0, 2 minus
        // it otherwise.
        let q = poly * exp_neg(-z * z);
        let one_plus_erf = if *x < 0.0 { q } else { 2.0 - q };
        *x *= 0.5 * one_plus_erf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_rows_give_the_bits_of_one_row_at_a_time() {
        for (rows, c) in [(1, 5), (4, 40), (9, 33), (7, 1)] {
            let x: Vec<f32> = (0..rows * c)
                .map(|i| {
                    ((i * 37 % 101) as f32 - 50.0) / 7.0 + if i % 3 == 0 { -0.0 } else { 1e-3 }
                })
                .collect();
            let mut got = x.clone();
            normalize_rows(&mut got, c, 1e-6);
            for (row, g) in x.chunks_exact(c).zip(got.chunks_exact(c)) {
                let mean = row.iter().map(|&v| v as f64).sum::<f64>() / c as f64;
                let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / c as f64;
                let inv = 1.0 / (var + 1e-6).sqrt();
                for (v, g) in row.iter().zip(g) {
                    assert_eq!(g.to_bits(), (((*v as f64 - mean) * inv) as f32).to_bits());
                }
            }
        }
    }

    #[test]
    fn exp_neg_takes_the_exponent_from_the_bits_as_a_conversion_would() {
        let magic = 12_582_912.0f32;
        for i in 0..=87_000 {
            let x = -(i as f32) * 0.001;
            let t = x * core::f32::consts::LOG2_E + magic;
            assert_eq!(
                (t.to_bits() as i32).wrapping_sub(0x4B40_0000),
                (t - magic) as i32,
                "{x}"
            );
        }
    }

    #[test]
    fn the_depthwise_gives_the_bits_of_one_sum_per_output() {
        // Channel counts through every group size (32, 8, single), maps
        // smaller and larger than the window.
        for (h, w, c) in [(3, 3, 41), (7, 5, 8), (9, 9, 3), (2, 11, 72)] {
            let x: Vec<f32> = (0..h * w * c)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let wt: Vec<f32> = (0..49 * c)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 13.0)
                .collect();
            let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 1.0).collect();
            let mut got = vec![f32::NAN; h * w * c];
            depthwise7x7(&x, (h, w), &wt, &bias, &mut got);
            for y in 0..h {
                for xx in 0..w {
                    for ch in 0..c {
                        let mut want = bias[ch];
                        for ky in 0..7 {
                            for kx in 0..7 {
                                let (sy, sx) = (y + ky, xx + kx);
                                if sy < 3 || sx < 3 || sy - 3 >= h || sx - 3 >= w {
                                    continue;
                                }
                                let v = x[((sy - 3) * w + sx - 3) * c + ch];
                                want += v * wt[(ky * 7 + kx) * c + ch];
                            }
                        }
                        let at = (y * w + xx) * c + ch;
                        assert_eq!(
                            got[at].to_bits(),
                            want.to_bits(),
                            "{h}x{w}x{c} at {y},{xx},{ch}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn blocked_rows_give_the_bits_of_the_plain_loop() {
        for (rows, cin, cout) in [(1, 3, 5), (4, 40, 160), (9, 160, 40), (6, 7, 33), (5, 0, 4)] {
            let x: Vec<f32> = (0..rows * cin)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let w: Vec<f32> = (0..cin * cout)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 13.0)
                .collect();
            let bias: Vec<f32> = (0..cout).map(|i| i as f32 * 0.1 - 1.0).collect();
            let mut got = vec![f32::NAN; rows * cout];
            linear_rows(&x, &w, &bias, &mut got);
            for p in 0..rows {
                for j in 0..cout {
                    let mut want = bias[j];
                    for i in 0..cin {
                        want += x[p * cin + i] * w[i * cout + j];
                    }
                    assert_eq!(
                        got[p * cout + j].to_bits(),
                        want.to_bits(),
                        "{rows}x{cin}x{cout} at {p},{j}"
                    );
                }
            }
        }
    }
}
