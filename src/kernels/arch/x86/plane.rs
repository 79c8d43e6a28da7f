//! The host's 7x7 depthwise over a padded, pair-interleaved copy of the
//! block's input (the plane), which the host's blocks build once before
//! their first tile ([`build_plane`]) and read instead of the map and its
//! ring.
//!
//! The plane is the map padded by 3 pixels on every side with the zero
//! point `zx` (so a padded tap adds `(zx − zx) w = 0`, as the map's edge
//! leaves it out), and at each padded pixel `(y, x)` and channel holds the
//! i16 pair `(X[y][x], X[y][x + 1])`: one 32-byte load is two horizontally
//! adjacent taps of 8 channels, ready for VPMADDWD against the weights the
//! planner paired the same way ([`crate::kernels::prepared::BlockPrepared::dw_rows`]: per
//! window row, taps (0, 1), (2, 3), (4, 5), (6, none)). So every pixel,
//! border or not, is 28 loads, VPMADDWDs and adds per 8 channels, with no
//! shuffles; two pixels a pass share the weight loads. No zero point is
//! subtracted per tap: `Σ (x − zx) w = Σ x w − zx Σ w` exactly, and `zx Σ
//! w` (all 49 taps' weights) is the other prepared part
//! ([`crate::kernels::prepared::BlockPrepared::dw_zero`]).
//!
//! Measured against the loops this replaced (tap pairs of the raster order,
//! each pair's inputs interleaved and widened per pixel, at interior pixels
//! only; `cargo bench --bench kernels`): the default model's 14x14x40 block
//! 130 -> 95 µs, atto-224's 56x56x40 block 2.14 -> 1.50 ms, tiny-224's
//! 56x56x96 block 5.56 -> 5.07 ms.
//!
//! The `unsafe` here: entering `#[target_feature(enable = "avx2")]` code
//! once AVX2 is known present, and loads and stores inside the bounds each
//! entry checks.

#![allow(unsafe_code)]

use super::avx2::available;
use super::requant::plus8;
use crate::kernels::frame::DwRequant;
use crate::kernels::prepared::{dw_rows_bytes as host_dw_rows_bytes, ROW_PAIRS};
use crate::kernels::requantize::{requantize_plus_each, Requant};
use core::arch::x86_64::{
    __m128i, __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16, _mm256_loadu_si256,
    _mm256_madd_epi16, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi32,
    _mm_loadl_epi64, _mm_set1_epi8, _mm_unpacklo_epi8,
};

/// Pixels of padding on each side of the plane (a 7x7 window's reach).
const PAD: usize = 3;

/// Bytes of the plane of an `h x w x c` map: `(h + 6)(w + 6)` padded
/// pixels of `4c` bytes; 0 (no plane) unless `c` is a multiple of 8.
pub fn plane_bytes(h: usize, w: usize, c: usize) -> usize {
    if c.is_multiple_of(8) {
        (h + 2 * PAD) * (w + 2 * PAD) * 4 * c
    } else {
        0
    }
}

/// Fills `plane` ([`plane_bytes`] long) from the `h x w x c` map `x` with
/// zero point `zx`; `false` (and no plane) when the sizes do not fit, `zx`
/// is not int8, or the CPU has no AVX2.
pub fn build_plane(x: &[i8], (h, w, c): (usize, usize, usize), zx: i32, plane: &mut [i8]) -> bool {
    let want = plane_bytes(h, w, c);
    let (Ok(zx), true) = (i8::try_from(zx), want > 0) else {
        return false;
    };
    if plane.len() < want || x.len() < h * w * c || !available() {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2; the bounds are checked.
    unsafe { build_avx2(x, (h, w, c), zx, plane) };
    true
}

/// [`build_plane`], 8 channels (32 plane bytes) a step.
#[target_feature(enable = "avx2")]
fn build_avx2(x: &[i8], (h, w, c): (usize, usize, usize), zx: i8, plane: &mut [i8]) {
    let wp = w + 2 * PAD;
    let z = _mm_set1_epi8(zx);
    let xp = x.as_ptr();
    let mut out = plane.as_mut_ptr();
    for py in 0..h + 2 * PAD {
        // The map row this padded row shows, if any.
        let row = py.checked_sub(PAD).filter(|&r| r < h);
        for px in 0..wp {
            // The map pixels of the pair's two taps (columns px − 3 and
            // px − 2), where inside the map.
            let at = |dx: usize| -> Option<usize> {
                let col = (px + dx).checked_sub(PAD).filter(|&col| col < w)?;
                Some((row? * w + col) * c)
            };
            let (a, b) = (at(0), at(1));
            for ch in (0..c).step_by(8) {
                // SAFETY: a map pixel's channels `ch..ch + 8` are inside
                // `x` (checked: `h w c` bytes); `out` advances 32 bytes a
                // step, `(h + 6)(w + 6) 4c` in all, inside `plane`.
                unsafe {
                    let load = |q: Option<usize>| -> __m128i {
                        q.map_or(z, |q| _mm_loadl_epi64(xp.add(q + ch).cast()))
                    };
                    let v = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(load(a), load(b)));
                    _mm256_storeu_si256(out.cast(), v);
                    out = out.add(32);
                }
            }
        }
    }
}

/// The depthwise of the map pixels `p0..p0 + n` (of an `h x w x c` map,
/// `c` a multiple of 8) from the plane: `Σ_taps (x − zx) w` with the
/// prepared `rows` and `zero`, requantized with the bias
/// ([`crate::kernels::requantize::requantize_plus`]), as little-endian i32s into
/// `out` (`4c` bytes a pixel, in pixel order); `false` (nothing written)
/// when a size does not fit or the CPU has no AVX2.
pub fn plane_depthwise(
    plane: &[i8],
    (h, w, c): (usize, usize, usize),
    (rows, zero, rq): (&[u8], &[u8], DwRequant),
    (p0, n): (usize, usize),
    out: &mut [i8],
) -> bool {
    if plane_bytes(h, w, c) == 0
        || plane.len() < plane_bytes(h, w, c)
        || (rows.len(), zero.len()) != host_dw_rows_bytes(c)
        || rq.bias.len() < 4 * c
        || rq.table.len() < Requant::BYTES * c
        || rq.unpacked.len() != 8 * c
        || p0 + n > h * w
        || out.len() < 4 * c * n
        || !available()
    {
        return false;
    }
    // SAFETY: `available` said this CPU runs AVX2; the bounds are checked.
    unsafe { pixels_avx2(plane, (w, c), (rows, zero, rq), (p0, n), out) };
    true
}

/// The prepared parts [`groups_of`] reads.
type Parts<'a> = (&'a [u8], &'a [u8], DwRequant<'a>);

/// Four channel groups a pass (then one), over every pixel two at a time
/// (one for an odd last): channels outermost, so a pass reads 128 bytes
/// of each plane pixel and the windows of neighbouring pixels, which
/// overlap, stay in L1.
#[target_feature(enable = "avx2")]
fn pixels_avx2(
    plane: &[i8],
    (w, c): (usize, usize),
    parts: Parts,
    (p0, n): (usize, usize),
    out: &mut [i8],
) {
    let groups = c / 8;
    let mut g = 0;
    while g + 4 <= groups {
        pixel_passes::<4>(plane, (w, c), parts, (p0, n), out, g);
        g += 4;
    }
    while g < groups {
        pixel_passes::<1>(plane, (w, c), parts, (p0, n), out, g);
        g += 1;
    }
}

/// Channel groups `g..g + G` of every pixel, two a step.
#[target_feature(enable = "avx2")]
fn pixel_passes<const G: usize>(
    plane: &[i8],
    (w, c): (usize, usize),
    parts: Parts,
    (p0, n): (usize, usize),
    out: &mut [i8],
    g: usize,
) {
    let stride = (w + 2 * PAD) * 4 * c;
    // The window's top-left in the plane: padded (r, col) for map (r, col).
    let top = |t: usize| {
        let pix = p0 + t;
        (pix / w) * stride + (pix % w) * 4 * c
    };
    let mut t = 0;
    while t + 1 < n {
        groups_of::<2, G>(plane, [top(t), top(t + 1)], (stride, c), parts, out, (t, g));
        t += 2;
    }
    if t < n {
        groups_of::<1, G>(plane, [top(t)], (stride, c), parts, out, (t, g));
    }
}

/// Channel groups `g0..g0 + G` of `PIX` pixels.
#[target_feature(enable = "avx2")]
fn groups_of<const PIX: usize, const G: usize>(
    plane: &[i8],
    tops: [usize; PIX],
    (stride, c): (usize, usize),
    (rows, zero, rq): Parts,
    out: &mut [i8],
    (t, g0): (usize, usize),
) {
    let mut acc = [[_mm256_setzero_si256(); G]; PIX];
    let (xp, wp) = (plane.as_ptr(), rows.as_ptr());
    for ky in 0..7 {
        for kp in 0..ROW_PAIRS {
            let wo = (ky * ROW_PAIRS + kp) * 4 * c + 32 * g0;
            let xo = ky * stride + 2 * kp * 4 * c + 32 * g0;
            for i in 0..G {
                // SAFETY: `rows` holds 28 rows of `4c` bytes (checked) and
                // group `g0 + i` < c / 8; the window of a map pixel lies in
                // the padded plane (checked: `p0 + n <= h w`, and the plane
                // is `(h + 6)(w + 6) 4c` bytes), its last pair at padded
                // column `col + 6 < w + 6`.
                unsafe {
                    let wv = _mm256_loadu_si256(wp.add(wo + 32 * i).cast());
                    for (q, acc) in acc.iter_mut().enumerate() {
                        let xv = _mm256_loadu_si256(xp.add(tops[q] + xo + 32 * i).cast());
                        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(xv, wv));
                    }
                }
            }
        }
    }
    for i in 0..G {
        let ch = 8 * (g0 + i);
        // SAFETY: `zero`, the biases and each half of the unpacked
        // multipliers hold `4c` bytes (checked), channel `ch + 7 < c`.
        let (z, b, m, sh) = unsafe {
            let at = |v: &[u8], from: usize| -> __m256i {
                _mm256_loadu_si256(v.as_ptr().add(from + 4 * ch).cast())
            };
            let u = rq.unpacked;
            (at(zero, 0), at(rq.bias, 0), at(u, 0), at(u, 4 * c))
        };
        for (q, acc) in acc.iter().enumerate() {
            let at = 4 * c * (t + q) + 4 * ch;
            let sum = _mm256_sub_epi32(acc[i], z);
            let v = plus8(sum, (m, sh), b);
            // SAFETY: `out` holds `4c` bytes a pixel for `n` pixels, `t +
            // q < n`; the store allows any alignment.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(at).cast(), v.unwrap_or(sum)) };
            if v.is_none() {
                // A lane off the vector form: these 8 the scalar way.
                let (Some(o), Some(bb), Some(r)) = (
                    out.get_mut(at..at + 32),
                    rq.bias.get(4 * ch..4 * ch + 32),
                    rq.table.get(Requant::BYTES * ch..Requant::BYTES * (ch + 8)),
                ) else {
                    continue;
                };
                requantize_plus_each(o, bb, r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conformance::xorshift;
    use crate::kernels::requantize::{requant_table, requantize_plus};

    /// Every pixel of small maps (all border, and some interior) against
    /// the plain sum over the window's taps inside the map, requantized
    /// with its bias, on extreme values, for channel counts with and
    /// without a 4-group pass (some multipliers off the vector form).
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no CPUID, so no AVX2")]
    fn plane_depthwise_matches_the_plain_sum() {
        assert!(available(), "this x86-64 host has no AVX2");
        let mut rng = xorshift(7);
        for (h, w, c) in [(1, 1, 8), (3, 5, 40), (7, 7, 64), (9, 4, 96), (2, 11, 8)] {
            for zx in [-128, -5, 0, 127] {
                let mut byte = || match rng() % 5 {
                    0 => -128i8,
                    1 => 127,
                    _ => rng() as i8,
                };
                let x: Vec<i8> = (0..h * w * c).map(|_| byte()).collect();
                let wts: Vec<i8> = (0..49 * c).map(|_| byte()).collect();
                let wt = |ky: usize, kx: usize, ch: usize| -> i16 {
                    if kx < 7 {
                        wts[(ky * 7 + kx) * c + ch] as i16
                    } else {
                        0
                    }
                };
                let rows: Vec<u8> = (0..7 * ROW_PAIRS)
                    .flat_map(|j| {
                        let (ky, kp) = (j / ROW_PAIRS, j % ROW_PAIRS);
                        (0..c).flat_map(move |ch| [wt(ky, 2 * kp, ch), wt(ky, 2 * kp + 1, ch)])
                    })
                    .flat_map(i16::to_le_bytes)
                    .collect();
                let zero: Vec<u8> = (0..c)
                    .flat_map(|ch| {
                        let s: i32 = (0..49).map(|t| wts[t * c + ch] as i32).sum();
                        (zx * s).to_le_bytes()
                    })
                    .collect();
                let rqs: Vec<Requant> = (0..c)
                    .map(|ch| match ch % 13 {
                        // Off the vector form: a shift outside it.
                        5 => Requant::from_real(900.0),
                        _ => Requant::from_real(0.001 + (rng() % 1000) as f64 / 4000.0),
                    })
                    .collect();
                let biases: Vec<i32> = (0..c).map(|_| (rng() as i32) >> 10).collect();
                let table: Vec<u8> = requant_table(&rqs).collect();
                let unpacked: Vec<u8> = rqs
                    .iter()
                    .flat_map(|r| r.mult.to_le_bytes())
                    .chain(rqs.iter().flat_map(|r| r.shift.to_le_bytes()))
                    .collect();
                let bias: Vec<u8> = biases.iter().flat_map(|b| b.to_le_bytes()).collect();
                let rq = DwRequant {
                    bias: &bias,
                    table: &table,
                    unpacked: &unpacked,
                };
                let mut plane = vec![0i8; plane_bytes(h, w, c)];
                assert!(build_plane(&x, (h, w, c), zx, &mut plane));
                // From pixel 1 on (a pair pass, then maybe an odd one).
                let n = h * w - 1;
                let mut out = vec![0i8; 4 * c * n];
                let parts = (&rows[..], &zero[..], rq);
                assert!(plane_depthwise(&plane, (h, w, c), parts, (1, n), &mut out));
                for t in 0..n {
                    let (r, col) = ((1 + t) / w, (1 + t) % w);
                    for ch in 0..c {
                        let mut want = 0i32;
                        for ky in 0..7 {
                            for kx in 0..7 {
                                let (y, xx) = (r + ky, col + kx);
                                if (PAD..h + PAD).contains(&y) && (PAD..w + PAD).contains(&xx) {
                                    let v = x[((y - PAD) * w + xx - PAD) * c + ch] as i32;
                                    want += (v - zx) * wt(ky, kx, ch) as i32;
                                }
                            }
                        }
                        let want = requantize_plus(want, rqs[ch], biases[ch]);
                        let at = 4 * (c * t + ch);
                        let got = i32::from_le_bytes(core::array::from_fn(|k| out[at + k] as u8));
                        assert_eq!(got, want, "{h}x{w}x{c} zx {zx} pixel {t} channel {ch}");
                    }
                }
                assert!(!plane_depthwise(
                    &plane,
                    (h, w, c),
                    parts,
                    (1, n + 1),
                    &mut out
                ));
            }
        }
    }
}
