//! Image preprocessing as HF's Pillow-based ConvNeXt image processor does it:
//! resize (shortest edge to `size / crop_pct`, then a centre crop, or a
//! straight resize to `size x size` from 384 up), rescale, normalize.
//!
//! Everything works on caller-provided buffers so it runs on a device,
//! straight from camera bytes.

mod resample;

pub use resample::{resize_u8, Resample, RESIZE_MAX_TAPS};

/// Most channels an image may have (grey, RGB, RGBA).
pub const MAX_CHANNELS: usize = 4;

/// What can go wrong while preprocessing an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreprocessError {
    /// The source image has a zero width or height.
    EmptyImage,
    /// More channels than [`MAX_CHANNELS`], or zero.
    BadChannels(usize),
    /// A buffer is shorter than the shapes need.
    BufferTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements given.
        given: usize,
    },
    /// Downscaling so strong that a filter window exceeds [`RESIZE_MAX_TAPS`].
    ScaleTooLarge,
    /// `crop_pct` above 1 (HF would pad; not supported) or not positive.
    BadCropPct,
    /// The target size is zero.
    BadSize,
}

impl core::fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::EmptyImage => write!(f, "image has zero width or height"),
            Self::BadChannels(c) => write!(
                f,
                "image has {c} channels; 1 to {MAX_CHANNELS} are supported"
            ),
            Self::BufferTooSmall { needed, given } => {
                write!(f, "buffer holds {given} elements, {needed} needed")
            }
            Self::ScaleTooLarge => {
                write!(f, "downscale factor too large for the resampling window")
            }
            Self::BadCropPct => write!(f, "crop_pct must be in (0, 1]"),
            Self::BadSize => write!(f, "target size must be positive"),
        }
    }
}

/// Whose resize-and-crop rule [`ProcessorConfig::plan`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropRule {
    /// HF's `ConvNextImageProcessor`: from `shortest_edge` 384 up, a warp to
    /// the square; below it, a resize of the shortest edge, then the centre
    /// crop at `floor(d / 2)` of the `d` extra pixels.
    Hf,
    /// timm's eval transform (torchvision's `Resize` then `CenterCrop`): the
    /// resize and the crop at every size, the crop at `d / 2` rounded half to
    /// even (Python's `round`).
    Timm,
}

/// The settings of HF's `ConvNextImageProcessor` (`preprocessor_config.json`),
/// or of timm's eval transform (`pretrained_cfg`, [`CropRule::Timm`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessorConfig {
    /// Resize (and crop) at all.
    pub do_resize: bool,
    /// `size["shortest_edge"]`: the output is `shortest_edge` square.
    pub shortest_edge: usize,
    /// Below 384, resize the shortest edge to `shortest_edge / crop_pct`, then crop.
    pub crop_pct: f64,
    /// Resampling filter.
    pub resample: Resample,
    /// Multiply by `rescale_factor`.
    pub do_rescale: bool,
    /// Usually 1/255.
    pub rescale_factor: f64,
    /// Subtract `image_mean`, divide by `image_std`, per channel.
    pub do_normalize: bool,
    /// Per-channel mean (first `channels` entries used).
    pub image_mean: [f32; MAX_CHANNELS],
    /// Per-channel standard deviation.
    pub image_std: [f32; MAX_CHANNELS],
    /// HF's resize-and-crop rule or timm's.
    pub crop_rule: CropRule,
}

impl Default for ProcessorConfig {
    /// HF's class defaults: 384, crop_pct 224/256, bilinear, mean/std 0.5.
    fn default() -> Self {
        Self {
            do_resize: true,
            shortest_edge: 384,
            crop_pct: 224.0 / 256.0,
            resample: Resample::Bilinear,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: [0.5; MAX_CHANNELS],
            image_std: [0.5; MAX_CHANNELS],
            crop_rule: CropRule::Hf,
        }
    }
}

/// Where the resize and crop of one image land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizePlan {
    /// Width after the resize, before the crop.
    pub resized_width: usize,
    /// Height after the resize, before the crop.
    pub resized_height: usize,
    /// Left edge of the crop in the resized image.
    pub crop_left: usize,
    /// Top edge of the crop in the resized image.
    pub crop_top: usize,
    /// Output width.
    pub width: usize,
    /// Output height.
    pub height: usize,
}

impl ProcessorConfig {
    /// The resize and crop HF applies to a `width x height` image.
    pub fn plan(&self, width: usize, height: usize) -> Result<ResizePlan, PreprocessError> {
        if width == 0 || height == 0 {
            return Err(PreprocessError::EmptyImage);
        }
        if !self.do_resize {
            return Ok(ResizePlan {
                resized_width: width,
                resized_height: height,
                crop_left: 0,
                crop_top: 0,
                width,
                height,
            });
        }
        let size = self.shortest_edge;
        if size == 0 {
            return Err(PreprocessError::BadSize);
        }
        if size >= 384 && self.crop_rule == CropRule::Hf {
            // HF warps to a square from 384 up: no crop.
            return Ok(ResizePlan {
                resized_width: size,
                resized_height: size,
                crop_left: 0,
                crop_top: 0,
                width: size,
                height: size,
            });
        }
        if !(self.crop_pct > 0.0 && self.crop_pct <= 1.0) {
            return Err(PreprocessError::BadCropPct);
        }
        // Python: int(shortest_edge / crop_pct), then int(short * long / short_in).
        let short = (size as f64 / self.crop_pct) as usize;
        let (rw, rh) = if width <= height {
            (
                short,
                (short as f64 * height as f64 / width as f64) as usize,
            )
        } else {
            (
                (short as f64 * width as f64 / height as f64) as usize,
                short,
            )
        };
        if rw == 0 || rh == 0 {
            return Err(PreprocessError::BadSize);
        }
        // (`short >= size`, and so is the other side: nothing underflows.)
        let centre = |d: usize| match self.crop_rule {
            CropRule::Hf => d / 2,
            // round(d / 2), half to even: k + 1 where d = 2k + 1 and k is odd.
            CropRule::Timm => d / 2 + (d % 2 == 1 && (d / 2) % 2 == 1) as usize,
        };
        Ok(ResizePlan {
            resized_width: rw,
            resized_height: rh,
            crop_left: centre(rw - size),
            crop_top: centre(rh - size),
            width: size,
            height: size,
        })
    }

    /// Rescale and normalize one u8 value of channel `c` exactly as HF's numpy
    /// code does: rescale in f64, cast to f32, then normalize in f32.
    pub fn normalize_value(&self, value: u8, c: usize) -> f32 {
        let mut v = value as f32;
        if self.do_rescale {
            v = (value as f64 * self.rescale_factor) as f32;
        }
        if self.do_normalize {
            v = (v - self.image_mean[c]) / self.image_std[c];
        }
        v
    }

    /// Scratch bytes [`ProcessorConfig::preprocess`] needs for a `width x
    /// height x channels` source image.
    pub fn scratch_len(
        &self,
        width: usize,
        height: usize,
        channels: usize,
    ) -> Result<usize, PreprocessError> {
        let p = self.plan(width, height)?;
        // Resized image + the horizontal pass's intermediate (resized width x source height).
        Ok(channels * (p.resized_width * p.resized_height + p.resized_width * height))
    }

    /// Turn an interleaved (HWC) u8 image into HF's `pixel_values` layout:
    /// channels first (CHW) f32, `out.len() == channels * plan.height * plan.width`.
    pub fn preprocess(
        &self,
        image: &[u8],
        width: usize,
        height: usize,
        channels: usize,
        scratch: &mut [u8],
        out: &mut [f32],
    ) -> Result<ResizePlan, PreprocessError> {
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(PreprocessError::BadChannels(channels));
        }
        let p = self.plan(width, height)?;
        check_len(image.len(), width * height * channels)?;
        check_len(out.len(), channels * p.width * p.height)?;
        let resized_len = p.resized_width * p.resized_height * channels;
        let resized: &[u8] = if (p.resized_width, p.resized_height) == (width, height) {
            // Pillow returns a copy when the size does not change.
            image
        } else {
            check_len(scratch.len(), self.scratch_len(width, height, channels)?)?;
            let (dst, tmp) = scratch.split_at_mut(resized_len);
            resize_u8(
                image,
                width,
                height,
                channels,
                dst,
                p.resized_width,
                p.resized_height,
                self.resample,
                tmp,
            )?;
            dst
        };
        for c in 0..channels {
            for y in 0..p.height {
                let row = (y + p.crop_top) * p.resized_width + p.crop_left;
                for x in 0..p.width {
                    let v = resized[(row + x) * channels + c];
                    out[(c * p.height + y) * p.width + x] = self.normalize_value(v, c);
                }
            }
        }
        Ok(p)
    }
}

fn check_len(given: usize, needed: usize) -> Result<(), PreprocessError> {
    if given < needed {
        Err(PreprocessError::BufferTooSmall { needed, given })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_crops_shortest_edge_like_hf() {
        let cfg = ProcessorConfig {
            shortest_edge: 224,
            crop_pct: 0.875,
            ..Default::default()
        };
        // chelsea is 451 x 300: shortest edge 300 -> 256, long 451 -> int(256*451/300) = 384.
        let p = cfg.plan(451, 300).unwrap();
        assert_eq!((p.resized_width, p.resized_height), (384, 256));
        assert_eq!(
            (p.crop_left, p.crop_top, p.width, p.height),
            (80, 16, 224, 224)
        );
    }

    #[test]
    fn timm_crops_at_every_size_and_rounds_the_centre_half_to_even() {
        let timm = ProcessorConfig {
            shortest_edge: 224,
            crop_pct: 0.875,
            crop_rule: CropRule::Timm,
            ..Default::default()
        };
        // 259 x 256 -> 259 x 256: 35 extra columns, round(17.5) = 18 (HF:
        // 17); 33 -> round(16.5) = 16, as HF.
        let p = timm.plan(259, 256).unwrap();
        assert_eq!((p.crop_left, p.crop_top), (18, 16));
        let hf = ProcessorConfig {
            crop_rule: CropRule::Hf,
            ..timm
        };
        assert_eq!(hf.plan(259, 256).unwrap().crop_left, 17);
        assert_eq!(timm.plan(257, 256).unwrap().crop_left, 16);
        // From 384 up timm still resizes by crop_pct and crops.
        let big = ProcessorConfig {
            shortest_edge: 384,
            crop_pct: 1.0,
            ..timm
        };
        let p = big.plan(451, 300).unwrap();
        assert_eq!((p.resized_width, p.resized_height), (577, 384));
        assert_eq!((p.crop_left, p.width, p.height), (96, 384, 384));
    }

    #[test]
    fn plan_warps_from_384_up() {
        let cfg = ProcessorConfig::default();
        let p = cfg.plan(451, 300).unwrap();
        assert_eq!(
            (p.resized_width, p.resized_height, p.width),
            (384, 384, 384)
        );
    }

    #[test]
    fn preprocess_rejects_short_buffers_without_panicking() {
        let cfg = ProcessorConfig {
            shortest_edge: 8,
            crop_pct: 1.0,
            ..Default::default()
        };
        let img = [0u8; 16 * 16];
        let mut out = [0f32; 63];
        let mut scratch = [0u8; 1024];
        let e = cfg
            .preprocess(&img, 16, 16, 1, &mut scratch, &mut out)
            .unwrap_err();
        assert_eq!(
            e,
            PreprocessError::BufferTooSmall {
                needed: 64,
                given: 63
            }
        );
        let mut out = [0f32; 64];
        let e = cfg
            .preprocess(&img, 16, 16, 1, &mut scratch[..10], &mut out)
            .unwrap_err();
        assert!(matches!(e, PreprocessError::BufferTooSmall { .. }));
        assert_eq!(
            cfg.preprocess(&img, 16, 16, 5, &mut scratch, &mut out),
            Err(PreprocessError::BadChannels(5))
        );
    }
}
