//! The labelled images `convnext eval` measures: the model folder's test set,
//! a user's `.npy` pair (`--images X.npy --labels Y.npy`), or a folder of
//! pictures sorted into one sub-folder per label (`--data DIR`,
//! `DIR/<label>/*.png`). Each is read a chunk at a time, so memory does not
//! grow with the set.

use convnext::preprocess::ProcessorConfig;
use convnext_codegen::dataset::{read_labels, ImageFile};
use convnext_codegen::pictures::decode;
use convnext_codegen::quantize::pixel_values_to_u8;
use convnext_codegen::{Error, Model, Tensor};
use std::path::{Path, PathBuf};

/// Where the images come from.
enum Source {
    /// u8 images in a `.npy`, read a chunk at a time.
    Images(ImageFile),
    /// Picture files, decoded when their chunk is read.
    Files(Vec<PathBuf>),
}

/// Labelled images, read a chunk at a time.
pub struct Labelled {
    source: Source,
    /// One class index per image.
    pub labels: Vec<usize>,
    /// Whether these are the model folder's own test images (whose HF logits
    /// `test_logits.npy` holds).
    pub is_model_test_set: bool,
}

/// A chunk: its float pixel_values and, for the int8 network, its u8 pixels
/// at the model's input size.
pub struct Chunk {
    /// `(n, C, H, W)` pixel_values.
    pub x: Tensor,
    /// The same images as the firmware's input bytes.
    pub u8s: Vec<u8>,
}

impl Labelled {
    /// The model folder's `test_images.npy` and `test_labels.npy`.
    pub fn model_test_set(dir: &Path) -> Result<Labelled, Error> {
        let images = dir.join("test_images.npy");
        let labels = dir.join("test_labels.npy");
        let mut set = Labelled::npy(&images, &labels, usize::MAX)?;
        set.is_model_test_set = true;
        Ok(set)
    }

    /// u8 images `(N, H, W[, C])` and their labels `(N,)`.
    pub fn npy(images: &Path, labels: &Path, classes: usize) -> Result<Labelled, Error> {
        let set = ImageFile::open(images)?;
        let labels_v = read_labels(labels)?;
        if labels_v.len() != set.count() {
            return Err(Error::Input {
                message: format!(
                    "{} holds {} images but {} holds {} labels",
                    images.display(),
                    set.count(),
                    labels.display(),
                    labels_v.len()
                ),
            });
        }
        check_labels(&labels_v, classes, labels)?;
        Ok(Labelled {
            source: Source::Images(set),
            labels: labels_v,
            is_model_test_set: false,
        })
    }

    /// Every picture in `dir/<label>/`, a sub-folder per label. A folder's
    /// name is matched to `id2label` exactly, ignoring case, with `/` and
    /// spaces written as `-` (`t-shirt-top` for `T-shirt/top`), or as the
    /// class index.
    pub fn folder(dir: &Path, model: &Model) -> Result<Labelled, Error> {
        let names = &model.config.labels;
        let bad = |m: String| Error::Input {
            message: format!("{}: {m}", dir.display()),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("cannot read: {e}")))?;
        let mut classes: Vec<(PathBuf, usize)> = Vec::new();
        for e in entries {
            let path = e.map_err(|e| bad(format!("cannot read: {e}")))?.path();
            if !path.is_dir() {
                continue;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let class = class_of(&name, names).ok_or_else(|| {
                bad(format!(
                    "sub-folder {name:?} names no label of the model (its labels: {})",
                    names.join(", ")
                ))
            })?;
            classes.push((path, class));
        }
        classes.sort();
        let (mut files, mut labels) = (Vec::new(), Vec::new());
        for (sub, class) in classes {
            let mut pics: Vec<PathBuf> = std::fs::read_dir(&sub)
                .map_err(|e| bad(format!("cannot read {}: {e}", sub.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_picture(p))
                .collect();
            pics.sort();
            labels.extend(std::iter::repeat_n(class, pics.len()));
            files.extend(pics);
        }
        if files.is_empty() {
            return Err(bad(
                "no pictures (.png, .jpg, .jpeg, .bmp) in a sub-folder named after a label".into(),
            ));
        }
        Ok(Labelled {
            source: Source::Files(files),
            labels,
            is_model_test_set: false,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Keep the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        self.labels.truncate(n);
        if let Source::Files(f) = &mut self.source {
            f.truncate(n);
        }
    }

    /// What to call image `i` in a report: its file, or its index.
    pub fn name(&self, i: usize) -> serde_json::Value {
        match &self.source {
            Source::Files(f) => serde_json::json!(f[i].display().to_string()),
            Source::Images(_) => serde_json::json!(i),
        }
    }

    /// Images `range` as the model takes them.
    pub fn chunk(
        &self,
        range: std::ops::Range<usize>,
        model: &Model,
        processor: &ProcessorConfig,
    ) -> Result<Chunk, Error> {
        match &self.source {
            Source::Images(s) => {
                let (x, u8s) = s.read(range).and_then(|s| s.model_inputs(processor))?;
                Ok(Chunk { x, u8s })
            }
            Source::Files(files) => {
                let mut data = Vec::new();
                let mut shape = None;
                for path in &files[range] {
                    let x = decode(path, model.config.num_channels)?.pixel_values(processor)?;
                    if shape.is_some_and(|s: [usize; 3]| s[..] != x.shape[1..]) {
                        return Err(Error::Input {
                            message: format!(
                                "{}: preprocesses to {:?}, the pictures before it to {:?}; preprocessor_config.json must crop to one size",
                                path.display(),
                                &x.shape[1..],
                                shape
                            ),
                        });
                    }
                    shape = Some([x.shape[1], x.shape[2], x.shape[3]]);
                    data.extend(x.data);
                }
                let [c, h, w] = shape.unwrap_or_default();
                let x = Tensor::new(&[data.len() / (c * h * w).max(1), c, h, w], data);
                let u8s = pixel_values_to_u8(&x, processor);
                Ok(Chunk { x, u8s })
            }
        }
    }
}

/// The class a sub-folder's name stands for.
fn class_of(name: &str, labels: &[String]) -> Option<usize> {
    let squash = |s: &str| s.to_lowercase().replace(['/', ' '], "-");
    labels
        .iter()
        .position(|l| l == name)
        .or_else(|| labels.iter().position(|l| l.eq_ignore_ascii_case(name)))
        .or_else(|| labels.iter().position(|l| squash(l) == squash(name)))
        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < labels.len()))
}

/// Whether a file's extension is a picture format `classify` decodes.
fn is_picture(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg", "bmp"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Every label a class index of the model.
fn check_labels(labels: &[usize], classes: usize, path: &Path) -> Result<(), Error> {
    match labels.iter().position(|&l| l >= classes) {
        Some(i) => Err(Error::Input {
            message: format!(
                "{}: label {} of image {i} is not a class of the model (0..{classes})",
                path.display(),
                labels[i]
            ),
        }),
        None => Ok(()),
    }
}
