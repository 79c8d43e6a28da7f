//! A strict reader for the safetensors format (`model.safetensors`, or shards
//! listed in `model.safetensors.index.json`): an 8-byte little-endian header
//! length, a JSON header mapping names to dtype, shape and byte range, then
//! the data. Every range is checked against the file, so a truncated or
//! corrupt file is an error naming the file and tensor, never a panic.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Element types a checkpoint tensor may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE single.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE double.
    F64,
}

impl Dtype {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "F32" => Some(Self::F32),
            "F16" => Some(Self::F16),
            "BF16" => Some(Self::BF16),
            "F64" => Some(Self::F64),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Self::F16 | Self::BF16 => 2,
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

/// One tensor's header entry and bytes.
#[derive(Debug, Clone)]
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    file: usize,
    start: usize,
    end: usize,
}

/// The tensors of a checkpoint, read and range-checked.
#[derive(Debug)]
pub struct Checkpoint {
    files: Vec<(PathBuf, Vec<u8>)>,
    entries: BTreeMap<String, Entry>,
}

impl Checkpoint {
    /// Read `model.safetensors`, or the shards named by
    /// `model.safetensors.index.json`, from a model folder.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.exists() {
            return Self::open_files(&[single]);
        }
        if index.exists() {
            let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::format(&index, format!("invalid JSON: {e}")))?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| Error::format(&index, "no `weight_map` object"))?;
            let mut shards: Vec<PathBuf> = Vec::new();
            for v in map.values() {
                let f = v.as_str().ok_or_else(|| {
                    Error::format(&index, "`weight_map` values must be file names")
                })?;
                let p = dir.join(f);
                if !shards.contains(&p) {
                    shards.push(p);
                }
            }
            return Self::open_files(&shards);
        }
        let hint = if dir.join("pytorch_model.bin").exists() {
            " (found pytorch_model.bin: re-save with safetensors, e.g. `save_pretrained(dir, safe_serialization=True)`)"
        } else {
            ""
        };
        Err(Error::format(
            dir,
            format!("no model.safetensors or model.safetensors.index.json{hint}"),
        ))
    }

    /// Read and check the given safetensors files as one checkpoint.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self> {
        let mut ck = Self {
            files: Vec::new(),
            entries: BTreeMap::new(),
        };
        for path in paths {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let file = ck.files.len();
            for (name, entry) in parse_header(path, &bytes, file)? {
                if ck.entries.insert(name.clone(), entry).is_some() {
                    return Err(Error::tensor(path, name, "appears in more than one shard"));
                }
            }
            ck.files.push((path.clone(), bytes));
        }
        Ok(ck)
    }

    /// Names of all tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|s| s.as_str())
    }

    /// True if the checkpoint holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    /// The file a tensor lives in (for error messages).
    pub fn path_of(&self, name: &str) -> &Path {
        let i = self.entries.get(name).map_or(0, |e| e.file);
        self.files
            .get(i)
            .map_or(Path::new("model.safetensors"), |(p, _)| p.as_path())
    }

    /// Tensor `name` as f32, checked to have `shape` (trailing size-1 axes of
    /// the stored tensor beyond `shape` are accepted, for timm's 1x1 convs) and
    /// to hold only finite values.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let e = self.entries.get(name).ok_or_else(|| {
            Error::tensor(self.path_of(name), name, "missing from the checkpoint")
        })?;
        let (path, bytes) = &self.files[e.file];
        let squeezed_ok = e.shape.len() > shape.len()
            && e.shape[..shape.len()] == *shape
            && e.shape[shape.len()..].iter().all(|&d| d == 1);
        if e.shape != shape && !squeezed_ok {
            return Err(Error::tensor(
                path,
                name,
                format!("has shape {:?}, the config implies {:?}", e.shape, shape),
            ));
        }
        let raw = &bytes[e.start..e.end];
        let data: Vec<f32> = match e.dtype {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        };
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::tensor(
                path,
                name,
                format!("holds a non-finite value ({}) at flat index {i}", data[i]),
            ));
        }
        Ok(Tensor::new(shape, data))
    }
}

fn parse_header(path: &Path, bytes: &[u8], file: usize) -> Result<Vec<(String, Entry)>> {
    if bytes.len() < 8 {
        return Err(Error::format(
            path,
            format!(
                "file is {} bytes: too short for a safetensors header",
                bytes.len()
            ),
        ));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > (bytes.len() - 8) as u64 {
        return Err(Error::format(
            path,
            format!("header claims {n} bytes but the file has {} after the length: truncated or not safetensors", bytes.len() - 8),
        ));
    }
    let header = &bytes[8..8 + n as usize];
    let data_start = 8 + n as usize;
    let data_len = bytes.len() - data_start;
    let json: serde_json::Value = serde_json::from_slice(header)
        .map_err(|e| Error::format(path, format!("header is not valid JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| Error::format(path, "header is not a JSON object"))?;
    let mut out = Vec::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            continue;
        }
        let bad = |m: &str| Error::tensor(path, name.clone(), m.to_string());
        let dtype_s = v
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| bad("no dtype"))?;
        let dtype = Dtype::parse(dtype_s).ok_or_else(|| {
            bad(&format!(
                "dtype {dtype_s} is not supported (F32, F16, BF16, F64 are)"
            ))
        })?;
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("shape is not a list of sizes"))?;
        let offs: Vec<usize> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .ok_or_else(|| bad("no data_offsets"))?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("data_offsets are not numbers"))?;
        if offs.len() != 2 || offs[0] > offs[1] {
            return Err(bad("data_offsets must be [begin, end]"));
        }
        let bytes = shape
            .iter()
            .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
            .ok_or_else(|| {
                bad(&format!(
                    "shape {shape:?} has more elements than memory can hold"
                ))
            })?;
        if offs[1] - offs[0] != bytes {
            return Err(bad(&format!(
                "byte range {}..{} does not match shape {shape:?} of {dtype_s}",
                offs[0], offs[1]
            )));
        }
        if offs[1] > data_len {
            return Err(bad(&format!(
                "data ends at byte {} but the file holds {data_len} data bytes: file truncated",
                offs[1]
            )));
        }
        out.push((
            name.clone(),
            Entry {
                dtype,
                shape,
                file,
                start: data_start + offs[0],
                end: data_start + offs[1],
            },
        ));
    }
    Ok(out)
}
