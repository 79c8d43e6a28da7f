//! Image sets stored in a model folder (`test_images.npy` + `test_labels.npy`,
//! `calibration_images.npy`): u8 images `(N, H, W)` or `(N, H, W, C)`, turned
//! into `pixel_values` with the runtime's preprocessing.

use crate::error::{Error, Result};
use crate::npy::{self, NpyData};
use crate::tensor::Tensor;
use convnext::preprocess::ProcessorConfig;
use std::path::Path;

/// u8 images, interleaved (HWC) and stacked.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// `count * height * width * channels` bytes.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Channels per pixel.
    pub channels: usize,
}

impl ImageSet {
    /// The first `n` images.
    pub fn take(&self, n: usize) -> ImageSet {
        let n = n.min(self.count);
        let per = self.height * self.width * self.channels;
        ImageSet {
            pixels: self.pixels[..n * per].to_vec(),
            count: n,
            ..*self
        }
    }

    /// Images `range` (clipped to the set).
    pub fn slice(&self, range: std::ops::Range<usize>) -> ImageSet {
        let end = range.end.min(self.count);
        let start = range.start.min(end);
        let per = self.height * self.width * self.channels;
        ImageSet {
            pixels: self.pixels[start * per..end * per].to_vec(),
            count: end - start,
            ..*self
        }
    }

    /// The images as the model takes them: their `pixel_values`
    /// `(N, C, H', W')`, and the int8 network's input bytes (the images
    /// themselves where they are already at the input size, else the
    /// preprocessed values back to u8).
    pub fn model_inputs(self, cfg: &ProcessorConfig) -> Result<(Tensor, Vec<u8>)> {
        let x = self.pixel_values(cfg)?;
        let u8s = if x.shape[2..] == [self.height, self.width] {
            self.pixels
        } else {
            crate::quantize::pixel_values_to_u8(&x, cfg)
        };
        Ok((x, u8s))
    }

    /// Preprocess every image into `pixel_values` `(N, C, H', W')`.
    pub fn pixel_values(&self, cfg: &ProcessorConfig) -> Result<Tensor> {
        let plan = cfg
            .plan(self.width, self.height)
            .map_err(|e| Error::input(format!("preprocessing: {e}")))?;
        let per_in = self.height * self.width * self.channels;
        let per_out = self.channels * plan.height * plan.width;
        let mut out = vec![0.0f32; self.count * per_out];
        let scratch_len = cfg
            .scratch_len(self.width, self.height, self.channels)
            .map_err(|e| Error::input(format!("preprocessing: {e}")))?;
        let mut scratch = vec![0u8; scratch_len];
        for (img, dst) in self
            .pixels
            .chunks_exact(per_in)
            .zip(out.chunks_exact_mut(per_out))
        {
            cfg.preprocess(
                img,
                self.width,
                self.height,
                self.channels,
                &mut scratch,
                dst,
            )
            .map_err(|e| Error::input(format!("preprocessing: {e}")))?;
        }
        Ok(Tensor::new(
            &[self.count, self.channels, plan.height, plan.width],
            out,
        ))
    }
}

/// Read u8 images from a `.npy` of shape `(N, H, W)` or `(N, H, W, C)`.
pub fn read_images(path: &Path) -> Result<ImageSet> {
    images_from_npy(path, npy::read(path)?)
}

/// An already-read `.npy` array (from `path`) as u8 images.
pub fn images_from_npy(path: &Path, a: npy::NpyArray) -> Result<ImageSet> {
    let pixels = match a.data {
        NpyData::U8(d) => d,
        _ => return Err(Error::format(path, "images must be uint8")),
    };
    ImageSet::from_shape(pixels, &a.shape).map_err(|m| Error::format(path, m))
}

impl ImageSet {
    /// u8 images of `shape` `(N, H, W)` or `(N, H, W, C)` (`pixels` in that
    /// order); another shape is refused with what it should be.
    pub fn from_shape(pixels: Vec<u8>, shape: &[usize]) -> std::result::Result<ImageSet, String> {
        let (count, height, width, channels) = match shape[..] {
            [n, h, w] => (n, h, w, 1),
            [n, h, w, c] => (n, h, w, c),
            _ => {
                return Err(format!(
                    "images must be (N, H, W) or (N, H, W, C), got {shape:?}"
                ))
            }
        };
        Ok(ImageSet {
            pixels,
            count,
            height,
            width,
            channels,
        })
    }
}

/// u8 images `(N, H, W[, C])` in a `.npy`, read a range at a time: a set
/// of any size costs one chunk of memory.
#[derive(Debug, Clone)]
pub struct ImageFile {
    rows: npy::NpyRows,
    path: std::path::PathBuf,
}

impl ImageFile {
    /// Open `path`: its header must say uint8 images.
    pub fn open(path: &Path) -> Result<ImageFile> {
        let rows = npy::NpyRows::open(path)?;
        // The shape and dtype checked on an empty range.
        images_from_npy(path, rows.read(0..0)?)?;
        Ok(ImageFile {
            rows,
            path: path.to_path_buf(),
        })
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.rows.rows()
    }

    /// Images `range` (clamped to the set).
    pub fn read(&self, range: std::ops::Range<usize>) -> Result<ImageSet> {
        images_from_npy(&self.path, self.rows.read(range)?)
    }
}

/// Read class indices from a `.npy` of shape `(N,)`.
pub fn read_labels(path: &Path) -> Result<Vec<usize>> {
    let a = npy::read(path)?;
    let labels: Vec<i64> = match a.data {
        NpyData::U8(d) => d.into_iter().map(i64::from).collect(),
        NpyData::I64(d) => d,
        NpyData::F32(_) => return Err(Error::format(path, "labels must be integers")),
    };
    if a.shape.len() != 1 {
        return Err(Error::format(
            path,
            format!("labels must be (N,), got {:?}", a.shape),
        ));
    }
    labels
        .into_iter()
        .map(|l| usize::try_from(l).map_err(|_| Error::format(path, format!("negative label {l}"))))
        .collect()
}

/// A labelled test set from a model folder.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// The images.
    pub images: ImageSet,
    /// One class index per image.
    pub labels: Vec<usize>,
}

/// Read `test_images.npy` and `test_labels.npy` from a model folder.
pub fn load_test_set(dir: &Path) -> Result<TestSet> {
    let images = read_images(&dir.join("test_images.npy"))?;
    let labels_path = dir.join("test_labels.npy");
    let labels = read_labels(&labels_path)?;
    if labels.len() != images.count {
        return Err(Error::format(
            labels_path,
            format!("{} labels for {} test images", labels.len(), images.count),
        ));
    }
    Ok(TestSet { images, labels })
}
