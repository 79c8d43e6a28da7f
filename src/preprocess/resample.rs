//! Pillow's separable, antialiased resize (`ImagingResample` in
//! `libImaging/Resample.c`) for 8-bit images, reproduced bit for bit:
//! filter weights computed in f64, normalised, rounded to Q22 fixed point;
//! the horizontal pass runs first and rounds and clamps to u8 before the
//! vertical pass.

use super::{check_len, PreprocessError, MAX_CHANNELS};

/// Most filter taps one output pixel may use. Bicubic downscaling by a factor
/// `s` needs about `4 s + 1` taps, so this allows about 60x.
pub const RESIZE_MAX_TAPS: usize = 256;

/// Pillow's `PRECISION_BITS` for 8-bit images: 32 - 8 - 2.
const PRECISION_BITS: u32 = 22;

/// A resampling filter, numbered as in Pillow (`Image.Resampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// `BOX` (4): area average.
    Box,
    /// `BILINEAR` (2): triangle filter.
    Bilinear,
    /// `BICUBIC` (3): Keys cubic with a = -0.5.
    Bicubic,
}

impl Resample {
    /// The filter for Pillow's numeric code, or `None` for codes not supported
    /// here (0 nearest, 1 lanczos, 5 hamming).
    pub fn from_pil(code: i64) -> Option<Self> {
        match code {
            2 => Some(Self::Bilinear),
            3 => Some(Self::Bicubic),
            4 => Some(Self::Box),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Self::Box => 0.5,
            Self::Bilinear => 1.0,
            Self::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Self::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Bilinear => {
                let x = if x < 0.0 { -x } else { x };
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Self::Bicubic => {
                const A: f64 = -0.5;
                let x = if x < 0.0 { -x } else { x };
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// The taps of one output pixel: source start, count and Q22 weights.
struct Window {
    start: usize,
    weights: [i32; RESIZE_MAX_TAPS],
    len: usize,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for output index `out`.
fn window(
    filter: Resample,
    in_size: usize,
    out_size: usize,
    out: usize,
) -> Result<Window, PreprocessError> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = if scale < 1.0 { 1.0 } else { scale };
    let support = filter.support() * filterscale;
    let center = (out as f64 + 0.5) * scale;
    let ss = 1.0 / filterscale;
    // C's (int) cast truncates toward zero, as `as` does.
    let xmin = ((center - support + 0.5) as i64).max(0) as usize;
    let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
    let len = xmax.saturating_sub(xmin);
    if len > RESIZE_MAX_TAPS {
        return Err(PreprocessError::ScaleTooLarge);
    }
    let mut w = [0f64; RESIZE_MAX_TAPS];
    let mut total = 0.0;
    for (x, wx) in w.iter_mut().enumerate().take(len) {
        *wx = filter.weight(((x + xmin) as f64 - center + 0.5) * ss);
        total += *wx;
    }
    let mut weights = [0i32; RESIZE_MAX_TAPS];
    for (q, &wx) in weights.iter_mut().zip(&w).take(len) {
        let k = if total != 0.0 { wx / total } else { wx };
        let scaled = k * (1u32 << PRECISION_BITS) as f64;
        *q = if k < 0.0 {
            (scaled - 0.5) as i32
        } else {
            (scaled + 0.5) as i32
        };
    }
    Ok(Window {
        start: xmin,
        weights,
        len,
    })
}

/// Round a Q22 accumulator to u8 as Pillow's `clip8` does.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resize an interleaved (HWC) u8 image from `src_w x src_h` to `dst_w x
/// dst_h` exactly as Pillow's `Image.resize(..., reducing_gap=None)` does.
/// `tmp` holds the horizontal pass: at least `dst_w * src_h * channels` bytes
/// when both passes run.
#[allow(clippy::too_many_arguments)]
pub fn resize_u8(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    channels: usize,
    dst: &mut [u8],
    dst_w: usize,
    dst_h: usize,
    filter: Resample,
    tmp: &mut [u8],
) -> Result<(), PreprocessError> {
    if src_w == 0 || src_h == 0 {
        return Err(PreprocessError::EmptyImage);
    }
    if dst_w == 0 || dst_h == 0 {
        return Err(PreprocessError::BadSize);
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(PreprocessError::BadChannels(channels));
    }
    check_len(src.len(), src_w * src_h * channels)?;
    check_len(dst.len(), dst_w * dst_h * channels)?;
    let need_h = dst_w != src_w;
    let need_v = dst_h != src_h;
    match (need_h, need_v) {
        (false, false) => dst[..src.len()].copy_from_slice(&src[..src_w * src_h * channels]),
        (true, false) => horizontal(src, src_w, src_h, channels, dst, dst_w, filter)?,
        (false, true) => vertical(src, src_w, src_h, channels, dst, dst_h, filter)?,
        (true, true) => {
            let tmp_len = dst_w * src_h * channels;
            check_len(tmp.len(), tmp_len)?;
            let tmp = &mut tmp[..tmp_len];
            horizontal(src, src_w, src_h, channels, tmp, dst_w, filter)?;
            vertical(tmp, dst_w, src_h, channels, dst, dst_h, filter)?;
        }
    }
    Ok(())
}

fn horizontal(
    src: &[u8],
    src_w: usize,
    rows: usize,
    channels: usize,
    dst: &mut [u8],
    dst_w: usize,
    filter: Resample,
) -> Result<(), PreprocessError> {
    for xx in 0..dst_w {
        let win = window(filter, src_w, dst_w, xx)?;
        let k = &win.weights[..win.len];
        for y in 0..rows {
            let row = &src[(y * src_w + win.start) * channels..];
            for c in 0..channels {
                let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                for (x, &kx) in k.iter().enumerate() {
                    acc += row[x * channels + c] as i32 * kx;
                }
                dst[(y * dst_w + xx) * channels + c] = clip8(acc);
            }
        }
    }
    Ok(())
}

fn vertical(
    src: &[u8],
    width: usize,
    src_h: usize,
    channels: usize,
    dst: &mut [u8],
    dst_h: usize,
    filter: Resample,
) -> Result<(), PreprocessError> {
    let stride = width * channels;
    for yy in 0..dst_h {
        let win = window(filter, src_h, dst_h, yy)?;
        let k = &win.weights[..win.len];
        for i in 0..stride {
            let mut acc: i32 = 1 << (PRECISION_BITS - 1);
            for (y, &ky) in k.iter().enumerate() {
                acc += src[(win.start + y) * stride + i] as i32 * ky;
            }
            dst[yy * stride + i] = clip8(acc);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_of_each_window_sum_to_one_in_q22() {
        for filter in [Resample::Box, Resample::Bilinear, Resample::Bicubic] {
            for (inp, out) in [(451, 224), (28, 96), (300, 7), (5, 5)] {
                for o in 0..out {
                    let w = window(filter, inp, out, o).unwrap();
                    let s: i32 = w.weights[..w.len].iter().sum();
                    assert!(
                        (s - (1 << 22)).abs() <= w.len as i32,
                        "{filter:?} {inp}->{out} [{o}] sum {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = [77u8; 13 * 9 * 3];
        let mut dst = [0u8; 5 * 20 * 3];
        let mut tmp = [0u8; 5 * 9 * 3];
        resize_u8(&src, 13, 9, 3, &mut dst, 5, 20, Resample::Bicubic, &mut tmp).unwrap();
        assert!(dst.iter().all(|&v| v == 77));
    }

    #[test]
    fn extreme_downscale_is_an_error_not_a_panic() {
        let src = [0u8; 4000];
        let mut dst = [0u8; 1];
        let mut tmp = [0u8; 1];
        let e = resize_u8(
            &src,
            4000,
            1,
            1,
            &mut dst,
            1,
            1,
            Resample::Bicubic,
            &mut tmp,
        );
        assert_eq!(e, Err(PreprocessError::ScaleTooLarge));
    }
}
