//! NumPy `.npy` files (format 1.0-3.0, C order, little-endian): read f32,
//! f64, u8, i8, i32 and i64 arrays; write f32, i32 and u8.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// The elements of an array.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f4` (and `<f8`, narrowed).
    F32(Vec<f32>),
    /// `|u1`.
    U8(Vec<u8>),
    /// `|i1`, `<i4`, `<i8`, widened.
    I64(Vec<i64>),
}

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: NpyData,
}

impl NpyArray {
    /// The array as an f32 tensor; errors unless it holds floats.
    pub fn into_f32(self, path: &Path) -> Result<Tensor> {
        match self.data {
            NpyData::F32(d) => Ok(Tensor::new(&self.shape, d)),
            _ => Err(Error::format(path, "expected a float32 array")),
        }
    }
}

/// Read a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

fn parse(path: &Path, b: &[u8]) -> Result<NpyArray> {
    let bad = |m: &str| Error::format(path, format!("not a valid .npy file: {m}"));
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("missing magic"));
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(bad(&format!("unsupported version {v}"))),
    };
    let header = b
        .get(start..start + hlen)
        .ok_or_else(|| bad("header truncated"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad("no descr"))?;
    let descr = descr
        .strip_prefix(['\'', '"'])
        .and_then(|d| d.split(['\'', '"']).next())
        .ok_or_else(|| bad("descr is not a string"))?;
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad(
            "Fortran order is not supported; save with np.ascontiguousarray",
        ));
    }
    let shape_s = dict_value(header, "shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_s.trim_start_matches('(');
    let inner = &inner[..inner.find(')').ok_or_else(|| bad("bad shape"))?];
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let body = &b[start + hlen..];
    let need = |size: usize| -> Result<&[u8]> {
        body.get(..n * size).ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "truncated: shape {shape:?} needs {} data bytes, file has {}",
                    n * size,
                    body.len()
                ),
            )
        })
    };
    let data = match descr {
        "<f4" => NpyData::F32(
            need(4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
        ),
        "<f8" => NpyData::F32(
            need(8)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
                .collect(),
        ),
        "|u1" | "<u1" => NpyData::U8(need(1)?.to_vec()),
        "|i1" | "<i1" => NpyData::I64(need(1)?.iter().map(|&v| v as i8 as i64).collect()),
        "<i4" => NpyData::I64(
            need(4)?
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4")) as i64)
                .collect(),
        ),
        "<i8" => NpyData::I64(
            need(8)?
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
        ),
        other => {
            return Err(bad(&format!(
                "dtype {other} is not supported (float32, float64, uint8, int8, int32, int64 are)"
            )))
        }
    };
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` in a header dict, up to the end.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let i = header.find(&format!("'{key}'"))?;
    let rest = &header[i + key.len() + 2..];
    Some(rest[rest.find(':')? + 1..].trim_start())
}

fn write_raw(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Pad so the data starts on a 64-byte boundary, ending in '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

/// Write an f32 tensor as `<f4`.
pub fn write_f32(path: &Path, t: &Tensor) -> Result<()> {
    let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_raw(path, "<f4", &t.shape, &bytes)
}

/// Write i32s as `<i4`.
pub fn write_i32(path: &Path, shape: &[usize], data: &[i32]) -> Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_raw(path, "<i4", shape, &bytes)
}

/// Write bytes as `|u1`.
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> Result<()> {
    write_raw(path, "|u1", shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("npy-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let t = Tensor::new(&[2, 3], vec![1.0, -2.5, 3.0, 4.0, 5.0, f32::MAX]);
        write_f32(&p, &t).unwrap();
        assert_eq!(read(&p).unwrap().into_f32(&p).unwrap(), t);
        write_u8(&p, &[4], &[1, 2, 3, 255]).unwrap();
        assert_eq!(read(&p).unwrap().data, NpyData::U8(vec![1, 2, 3, 255]));
    }

    #[test]
    fn truncated_file_is_an_error_naming_the_sizes() {
        let dir = std::env::temp_dir().join(format!("npy-tr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.npy");
        write_f32(&p, &Tensor::zeros(&[8])).unwrap();
        let mut b = std::fs::read(&p).unwrap();
        b.truncate(b.len() - 3);
        std::fs::write(&p, b).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("32 data bytes"),
            "{e}"
        );
    }
}
