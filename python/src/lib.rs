//! `convnext_mcu._native`: the Python door. A checkpoint folder as
//! [`Model`] (the float reference, f32 or f16 weights) and its int8
//! network as [`Int8`], the firmware's arithmetic bit for bit; numpy arrays
//! in and out, the GIL released while they compute (the batches spread over
//! the machine's cores). The Python package (`convnext_mcu/__init__.py`)
//! re-exports these with the type stubs beside it.

use convnext::preprocess::ProcessorConfig;
use convnext_codegen::calibrate::Calibration;
use convnext_codegen::compile::{calibrate_to_save, load_calibration, round_weights_to_f16};
use convnext_codegen::compile::{CalibrationChoices, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::ImageSet;
use convnext_codegen::emit::{emit, Provenance};
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::quantize::Numerics;
use convnext_codegen::reference::{check_pixel_values, forward, logits};
use convnext_codegen::saved_calibration::SavedCalibration;
use convnext_codegen::{load_model, Tensor};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

create_exception!(
    convnext_mcu,
    Error,
    PyValueError,
    "What the engine refuses (a bad checkpoint, a wrong input shape, an unknown option), with the CLI's message."
);

/// The engine's error as [`Error`].
fn err(e: impl std::fmt::Display) -> PyErr {
    Error::new_err(e.to_string())
}

/// Images or pixel values from Python: u8 images `(N, H, W[, C])` as a
/// camera gives them, or float32 `pixel_values` `(N, C, H, W)`.
enum Input {
    Images(ImageSet),
    PixelValues(Tensor),
}

impl Input {
    /// Read `array` (a numpy array of uint8 or float32; float64 is taken as
    /// float32).
    fn from_py(array: &Bound<'_, PyAny>) -> PyResult<Input> {
        if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, u8>>() {
            let pixels = a.as_array().iter().copied().collect();
            return ImageSet::from_shape(pixels, a.shape())
                .map(Input::Images)
                .map_err(err);
        }
        let floats = match array.extract::<PyReadonlyArrayDyn<'_, f32>>() {
            Ok(a) => (a.shape().to_vec(), a.as_array().iter().copied().collect()),
            Err(_) => match array.extract::<PyReadonlyArrayDyn<'_, f64>>() {
                Ok(a) => (
                    a.shape().to_vec(),
                    a.as_array().iter().map(|&v| v as f32).collect(),
                ),
                Err(_) => {
                    return Err(err(
                        "expected a numpy array: uint8 images (N, H, W[, C]) or float32 pixel_values (N, C, H, W)",
                    ))
                }
            },
        };
        let (shape, data): (Vec<usize>, Vec<f32>) = floats;
        if shape.len() != 4 {
            return Err(err(format!(
                "float pixel_values must be (N, C, H, W), got {shape:?}"
            )));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(err("pixel_values hold NaN or infinite values"));
        }
        Ok(Input::PixelValues(Tensor::new(&shape, data)))
    }

    /// The float pixel_values, and for images their bytes at the model's
    /// input size (what a camera-input int8 network takes as they are).
    fn model_inputs(self, processor: &ProcessorConfig) -> PyResult<(Tensor, Option<Vec<u8>>)> {
        match self {
            Input::Images(set) => {
                let (x, bytes) = set.model_inputs(processor).map_err(err)?;
                Ok((x, Some(bytes)))
            }
            Input::PixelValues(x) => Ok((x, None)),
        }
    }
}

/// A float32 numpy array of `shape` from `data`.
fn f32_array<'py>(py: Python<'py>, t: Tensor) -> PyResult<Bound<'py, PyAny>> {
    let shape = t.shape.clone();
    Ok(PyArray1::from_vec(py, t.data).reshape(shape)?.into_any())
}

/// The model's class names (`LABEL_i` where the checkpoint names none).
fn label_names(model: &convnext_codegen::Model) -> Vec<String> {
    let n = model
        .classifier
        .as_ref()
        .map_or(model.config.labels.len(), |c| c.bias.len());
    (0..n)
        .map(|i| match model.config.labels.get(i) {
            Some(l) if !l.is_empty() => l.clone(),
            _ => format!("LABEL_{i}"),
        })
        .collect()
}

/// A checkpoint folder (`config.json` + `model.safetensors`, as
/// `save_pretrained` writes it): the float reference network.
#[pyclass(module = "convnext_mcu", frozen)]
struct Model {
    dir: PathBuf,
    model: convnext_codegen::Model,
    processor: ProcessorConfig,
}

#[pymethods]
impl Model {
    /// Load the checkpoint in folder `path`; an incomplete or unsupported
    /// checkpoint raises `convnext_mcu.Error`.
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let model = load_model(&path).map_err(err)?;
        let processor = load_processor(&path).map_err(err)?;
        Ok(Model {
            dir: path,
            model,
            processor,
        })
    }

    /// The class names, index by index.
    #[getter]
    fn labels(&self) -> Vec<String> {
        label_names(&self.model)
    }

    /// `(C, H, W)` of the pixel_values the processor makes (H and W: its
    /// output size).
    #[getter]
    fn input_size(&self) -> (usize, usize, usize) {
        let s = self.processor.shortest_edge;
        (self.model.config.num_channels, s, s)
    }

    /// The checkpoint's `config.json`, as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = std::fs::read_to_string(self.dir.join("config.json")).map_err(err)?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// The checkpoint's folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Run the float network on `pixel_values` (float32 `(N, C, H, W)`) or
    /// on u8 images `(N, H, W[, C])` (through the model's processor):
    /// `precision` "f32" (the reference, HF's numbers) or "f16" (weights
    /// rounded to f16); `output` "logits", "pooler_output" or
    /// "last_hidden_state". Returns float32, the numbers `convnext run`
    /// writes.
    #[pyo3(signature = (pixel_values, precision = "f32", output = "logits"))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        pixel_values: &Bound<'py, PyAny>,
        precision: &str,
        output: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (x, _) = Input::from_py(pixel_values)?.model_inputs(&self.processor)?;
        let f16 = match precision {
            "f32" => false,
            "f16" => true,
            "int8" => {
                return Err(err(
                    "precision \"int8\": use model.int8() (the network needs a calibration), then .run()",
                ))
            }
            p => return Err(err(format!("precision {p:?}: expected \"f32\" or \"f16\""))),
        };
        if !["logits", "pooler_output", "last_hidden_state"].contains(&output) {
            return Err(err(format!(
                "output {output:?}: expected \"logits\", \"pooler_output\" or \"last_hidden_state\""
            )));
        }
        let dir = self.dir.display().to_string();
        let y = py.detach(|| -> convnext_codegen::Result<Tensor> {
            check_pixel_values(&self.model, &x)?;
            let rounded;
            let model = if f16 {
                rounded = round_weights_to_f16(&self.model);
                &rounded
            } else {
                &self.model
            };
            let missing = |what: &str| convnext_codegen::Error::Input {
                message: format!("{dir} {what}"),
            };
            match output {
                "logits" => logits(model, &x)?.ok_or_else(|| {
                    missing("has no classifier (a backbone checkpoint): no logits; use output=\"pooler_output\" or feature_maps()")
                }),
                "pooler_output" => forward(model, &x)?.pooler_output.ok_or_else(|| {
                    missing("is a backbone checkpoint (no final LayerNorm, so no pooler_output); use feature_maps()")
                }),
                _ => Ok(forward(model, &x)?.last_hidden_state),
            }
        });
        f32_array(py, y.map_err(err)?)
    }

    /// The backbone's feature maps of `pixel_values` (as [`Model::run`]
    /// takes them): a dict from stage name to float32 `(N, C, H, W)`, for
    /// `out_features` (stage names; default: `config.json`'s).
    #[pyo3(signature = (pixel_values, out_features = None))]
    fn feature_maps<'py>(
        &self,
        py: Python<'py>,
        pixel_values: &Bound<'py, PyAny>,
        out_features: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (x, _) = Input::from_py(pixel_values)?.model_inputs(&self.processor)?;
        let maps = py.detach(|| -> convnext_codegen::Result<Vec<(String, Tensor)>> {
            let model = match &out_features {
                Some(names) => self.model.with_out_features(names)?,
                None => self.model.clone(),
            };
            check_pixel_values(&model, &x)?;
            Ok(forward(&model, &x)?.feature_maps)
        });
        let dict = PyDict::new(py);
        for (name, t) in maps.map_err(err)? {
            dict.set_item(name, f32_array(py, t)?)?;
        }
        Ok(dict)
    }

    /// The firmware's int8 network: calibrated on `calibration` (uint8
    /// images `(N, H, W[, C])`, float32 pixel_values, or a `.npy` path;
    /// default: the folder's `calibration_images.npy`) with the range rule
    /// `method` and the `f16_blocks` most sensitive blocks kept in f16, or
    /// read from a saved `calibration_file` (`convnext calibrate`'s).
    #[pyo3(signature = (calibration = None, calibration_file = None, method = "percentile:0.9999", f16_blocks = 0))]
    fn int8(
        &self,
        py: Python<'_>,
        calibration: Option<&Bound<'_, PyAny>>,
        calibration_file: Option<PathBuf>,
        method: &str,
        f16_blocks: usize,
    ) -> PyResult<Int8> {
        let mut images = None;
        let saved = match (calibration, calibration_file) {
            (Some(_), Some(_)) => return Err(err(
                "calibration and calibration_file: the saved calibration already fixes the network",
            )),
            (None, Some(file)) => {
                if self.dir.join("calibration_images.npy").exists() {
                    images = Some(load_calibration(&self.dir, None, &self.processor).map_err(err)?);
                }
                SavedCalibration::read(&file, &self.dir).map_err(err)?
            }
            (cal, None) => {
                let method: Calibration = method.parse().map_err(|e| err(format!("method {e}")))?;
                let (cal, source) = match cal {
                    None => (
                        load_calibration(&self.dir, None, &self.processor).map_err(err)?,
                        "calibration_images.npy".to_string(),
                    ),
                    Some(c) => match c.extract::<PathBuf>() {
                        Ok(path) => (
                            load_calibration(&self.dir, Some(&path), &self.processor)
                                .map_err(err)?,
                            path.file_name()
                                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
                        ),
                        Err(_) => (
                            Input::from_py(c)?.model_inputs(&self.processor)?.0,
                            "images passed from Python".to_string(),
                        ),
                    },
                };
                let choices = CalibrationChoices {
                    method,
                    f16_count: f16_blocks,
                    numerics: Numerics::default(),
                };
                let saved = py
                    .detach(|| {
                        check_pixel_values(&self.model, &cal)?;
                        calibrate_to_save(
                            &self.dir,
                            &self.model,
                            &self.processor,
                            &cal,
                            &source,
                            choices,
                        )
                    })
                    .map_err(err)?;
                images = Some(cal);
                saved
            }
        };
        let plan = py
            .detach(|| saved.plan(&self.model, &self.processor))
            .map_err(err)?;
        Ok(Int8 {
            dir: self.dir.clone(),
            model: self.model.clone(),
            calibration: images,
            labels: label_names(&self.model),
            processor: self.processor,
            saved,
            plan,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "convnext_mcu.Model({:?}, {} labels)",
            self.dir.display().to_string(),
            label_names(&self.model).len()
        )
    }
}

/// The int8 network of a [`Model`], as the firmware computes it.
#[pyclass(module = "convnext_mcu", frozen)]
struct Int8 {
    dir: PathBuf,
    model: convnext_codegen::Model,
    /// The images it was calibrated on (for a saved calibration: the
    /// folder's calibration images, where it has them), for the report's
    /// SQNR.
    calibration: Option<Tensor>,
    labels: Vec<String>,
    processor: ProcessorConfig,
    saved: SavedCalibration,
    plan: Plan,
}

impl Int8 {
    /// The firmware's int32 logits of `images` (see [`Int8::run_raw`]); the
    /// engine's warning about pixel_values as a `UserWarning`.
    fn raw(&self, py: Python<'_>, images: &Bound<'_, PyAny>) -> PyResult<(usize, Vec<i32>)> {
        let (x, bytes) = Input::from_py(images)?.model_inputs(&self.processor)?;
        let mut warnings = Vec::new();
        let logits = py
            .detach(|| {
                self.plan
                    .run_inputs(&x, bytes.as_deref(), &mut |w| warnings.push(w))
            })
            .map_err(err)?;
        for w in warnings {
            let message = std::ffi::CString::new(w).unwrap_or_default();
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 2)?;
        }
        Ok((x.shape[0], logits))
    }
}

#[pymethods]
impl Int8 {
    /// The firmware's int32 logits, bit for bit, of uint8 images
    /// `(N, H, W[, C])` (as a camera gives them; resized by the model's
    /// processor where their size differs) or float32 pixel_values (with a
    /// warning where they are not u8 images under the model's
    /// normalisation): int32 `(N, labels)`.
    fn run_raw<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (n, logits) = self.raw(py, images)?;
        let labels = self.plan.model.num_labels;
        Ok(PyArray1::from_vec(py, logits)
            .reshape([n, labels])?
            .into_any())
    }

    /// [`Int8::run_raw`] in float: each int32 logit times
    /// [`Int8::logit_scale`], float32 `(N, labels)`.
    fn run<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (n, logits) = self.raw(py, images)?;
        let (labels, scale) = (self.plan.model.num_labels, self.plan.model.logit_scale);
        let y: Vec<f32> = logits.iter().map(|&v| (v as f64 * scale) as f32).collect();
        f32_array(py, Tensor::new(&[n, labels], y))
    }

    /// A logit is the int32 logit times this.
    #[getter]
    fn logit_scale(&self) -> f64 {
        self.plan.model.logit_scale
    }

    /// `(C, H, W)` of the inputs the network was calibrated for.
    #[getter]
    fn input_size(&self) -> (usize, usize, usize) {
        let m = &self.plan.model;
        (m.input_c, m.input_h, m.input_w)
    }

    /// The class names, index by index.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }

    /// Bytes of the arena the firmware's `forward` needs.
    #[getter]
    fn arena_bytes(&self) -> usize {
        self.plan.arena_bytes
    }

    /// Bytes of the int8 (and f16) parameters.
    #[getter]
    fn weights_bytes(&self) -> usize {
        self.plan.weights_bytes()
    }

    /// Multiply-accumulates of one inference.
    #[getter]
    fn macs(&self) -> u64 {
        self.plan.macs()
    }

    /// Each op of the plan: a list of dicts (name, output shape `(C, H,
    /// W)`, MACs, weight bytes, arena bytes live while it runs).
    fn ops<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for q in &self.plan.ops {
            let d = PyDict::new(py);
            d.set_item("name", &q.name)?;
            d.set_item("output_shape", q.output_shape)?;
            d.set_item("macs", q.macs)?;
            d.set_item("weights_bytes", q.weights_bytes)?;
            d.set_item("arena_live_bytes", q.arena_live_bytes)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// `convnext report --json` as a dict: the input, sizes, arena, MACs,
    /// numerics and every op with its SQNR against f32 on the calibration
    /// images (`sqnr_db` None where there were none to measure on).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let sqnr = match &self.calibration {
            Some(c) => py
                .detach(|| self.plan.op_sqnr(&self.model, c))
                .map_err(err)?,
            None => Vec::new(),
        };
        let j = convnext_codegen::report::plan_json(&self.dir, &self.model, &self.plan, &sqnr);
        py.import("json")?.call_method1("loads", (j.to_string(),))
    }

    /// Write the calibration to `path` (JSON, as `convnext calibrate`
    /// writes it), for `Model.int8(calibration_file=...)`, `convnext
    /// compile --calibration-file` or a board's build script.
    fn save_calibration(&self, path: PathBuf) -> PyResult<()> {
        self.saved.write(&path).map_err(err)
    }

    /// Generate the firmware's Rust module into `out_dir` (`NAME.rs` and
    /// its weight files, as `convnext compile` writes them); returns the
    /// module's path.
    #[pyo3(signature = (out_dir, name = "model"))]
    fn compile(&self, out_dir: PathBuf, name: &str) -> PyResult<PathBuf> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(format!("name {name:?}: use letters, digits and _")));
        }
        let s = &self.saved;
        let provenance = Provenance::new(&self.dir, &s.source, s.images, s.method, &self.plan);
        let e = emit(&self.plan, &out_dir, name, &provenance, &self.labels).map_err(err)?;
        Ok(e.source)
    }

    fn __repr__(&self) -> String {
        format!(
            "convnext_mcu.Int8({:?}, input {:?}, arena {} bytes)",
            self.dir.display().to_string(),
            self.input_size(),
            self.plan.arena_bytes
        )
    }
}

/// Decode the picture files `paths` (PNG, JPEG, BMP) as a model with
/// `channels` channels takes them (grey as Pillow's `convert("L")`
/// computes it): one uint8 array `(H, W)` or `(H, W, 3)` each.
#[pyfunction]
fn read_pictures<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    channels: usize,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    paths
        .iter()
        .map(|p| {
            let set = convnext_codegen::pictures::decode(p, channels).map_err(err)?;
            let shape = match channels {
                1 => vec![set.height, set.width],
                c => vec![set.height, set.width, c],
            };
            Ok(PyArray1::from_vec(py, set.pixels)
                .reshape(shape)?
                .into_any())
        })
        .collect()
}

/// The range rule used unless told otherwise.
#[pyfunction]
fn default_calibration_method() -> String {
    DEFAULT_CALIBRATION.to_string()
}

/// The native module.
#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add_class::<Model>()?;
    m.add_class::<Int8>()?;
    m.add_function(wrap_pyfunction!(default_calibration_method, m)?)?;
    m.add_function(wrap_pyfunction!(read_pictures, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
