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
    let h = parse_header(path, &bytes)?;
    let body = &bytes[h.data_start..];
    let n: usize = h.shape.iter().product();
    let data = h.decode(path, body, n)?;
    Ok(NpyArray {
        shape: h.shape,
        data,
    })
}

/// A `.npy` file's header: element type, shape, where the data starts.
#[derive(Debug, Clone)]
struct Header {
    descr: String,
    shape: Vec<usize>,
    data_start: usize,
}

/// Bytes that always hold a header's length field.
const PREAMBLE: usize = 12;

fn parse_header(path: &Path, b: &[u8]) -> Result<Header> {
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
    let h = Header {
        descr: descr.to_string(),
        shape,
        data_start: start + hlen,
    };
    h.element_bytes(path)?;
    Ok(h)
}

impl Header {
    /// Bytes per element; an unsupported dtype is an error.
    fn element_bytes(&self, path: &Path) -> Result<usize> {
        Ok(match self.descr.as_str() {
            "<f4" | "<i4" => 4,
            "<f8" | "<i8" => 8,
            "|u1" | "<u1" | "|i1" | "<i1" => 1,
            other => {
                return Err(Error::format(
                    path,
                    format!(
                        "not a valid .npy file: dtype {other} is not supported (float32, float64, uint8, int8, int32, int64 are)"
                    ),
                ))
            }
        })
    }

    /// The whole array's data bytes.
    fn data_bytes(&self, path: &Path) -> Result<usize> {
        Ok(self.shape.iter().product::<usize>() * self.element_bytes(path)?)
    }

    /// The first `n` elements of `body`, decoded.
    fn decode(&self, path: &Path, body: &[u8], n: usize) -> Result<NpyData> {
        let size = self.element_bytes(path)?;
        let bytes = body.get(..n * size).ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "truncated: shape {:?} needs {} data bytes, file has {}",
                    self.shape,
                    self.data_bytes(path).unwrap_or(n * size),
                    body.len()
                ),
            )
        })?;
        Ok(match self.descr.as_str() {
            "<f4" => NpyData::F32(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                    .collect(),
            ),
            "<f8" => NpyData::F32(
                bytes
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
                    .collect(),
            ),
            "|u1" | "<u1" => NpyData::U8(bytes.to_vec()),
            "|i1" | "<i1" => NpyData::I64(bytes.iter().map(|&v| v as i8 as i64).collect()),
            "<i4" => NpyData::I64(
                bytes
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("4")) as i64)
                    .collect(),
            ),
            _ => NpyData::I64(
                bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
                    .collect(),
            ),
        })
    }
}

/// A `.npy` file read a range of rows (its first dimension) at a time, so
/// a set of any size is never all in memory. Opening reads the header and
/// checks the file holds all the data it declares.
#[derive(Debug, Clone)]
pub struct NpyRows {
    path: std::path::PathBuf,
    header: Header,
}

impl NpyRows {
    /// Open `path` and read its header.
    pub fn open(path: &Path) -> Result<NpyRows> {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = f.metadata().map_err(|e| Error::io(path, e))?.len() as usize;
        // The preamble, then as much header as it declares.
        let mut head = vec![0u8; PREAMBLE.min(len)];
        f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
        let hlen = match head.get(6) {
            Some(1) if head.len() >= 10 => u16::from_le_bytes([head[8], head[9]]) as usize + 10,
            Some(2 | 3) if head.len() >= 12 => {
                u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize + 12
            }
            _ => head.len(),
        };
        if hlen > head.len() {
            let mut rest = vec![0u8; (hlen - head.len()).min(len - head.len())];
            f.read_exact(&mut rest).map_err(|e| Error::io(path, e))?;
            head.extend_from_slice(&rest);
        }
        let header = parse_header(path, &head)?;
        if header.shape.is_empty() {
            return Err(Error::format(path, "a scalar has no rows"));
        }
        let need = header.data_bytes(path)?;
        let have = len.saturating_sub(header.data_start);
        if have < need {
            return Err(Error::format(
                path,
                format!(
                    "truncated: shape {:?} needs {need} data bytes, file has {have}",
                    header.shape
                ),
            ));
        }
        Ok(NpyRows {
            path: path.to_path_buf(),
            header,
        })
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// Number of rows (the first dimension).
    pub fn rows(&self) -> usize {
        self.header.shape[0]
    }

    /// Rows `range` (clamped to the array) as an array of their own.
    pub fn read(&self, range: std::ops::Range<usize>) -> Result<NpyArray> {
        use std::io::{Read, Seek, SeekFrom};
        let path = &self.path;
        let end = range.end.min(self.rows());
        let start = range.start.min(end);
        let per: usize = self.header.shape[1..].iter().product();
        let size = self.header.element_bytes(path)?;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let at = self.header.data_start + start * per * size;
        f.seek(SeekFrom::Start(at as u64))
            .map_err(|e| Error::io(path, e))?;
        let mut bytes = vec![0u8; (end - start) * per * size];
        f.read_exact(&mut bytes).map_err(|e| Error::io(path, e))?;
        let mut shape = self.header.shape.clone();
        shape[0] = end - start;
        Ok(NpyArray {
            data: self.header.decode(path, &bytes, (end - start) * per)?,
            shape,
        })
    }
}

/// The text after `'key':` in a header dict, up to the end.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let i = header.find(&format!("'{key}'"))?;
    let rest = &header[i + key.len() + 2..];
    Some(rest[rest.find(':')? + 1..].trim_start())
}

/// A `.npy` header (format 1.0) for `descr` and `shape`, padded so the data
/// starts on a 64-byte boundary.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

fn write_raw(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> Result<()> {
    let mut out = header_bytes(descr, shape);
    out.extend_from_slice(data);
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

/// A `.npy` file written a range of rows at a time: the header (the whole
/// shape) first, then the rows as they come; [`NpyWriter::finish`] checks
/// that all of them came.
pub struct NpyWriter {
    file: std::io::BufWriter<std::fs::File>,
    path: std::path::PathBuf,
    left: usize,
}

impl NpyWriter {
    /// Create `path` for an array of `shape`, `<f4` or `<i4`.
    fn create(path: &Path, descr: &str, shape: &[usize]) -> Result<NpyWriter> {
        use std::io::Write;
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut file = std::io::BufWriter::new(file);
        file.write_all(&header_bytes(descr, shape))
            .map_err(|e| Error::io(path, e))?;
        Ok(NpyWriter {
            file,
            path: path.to_path_buf(),
            left: shape.iter().product::<usize>() * 4,
        })
    }

    /// An f32 array of `shape`.
    pub fn f32(path: &Path, shape: &[usize]) -> Result<NpyWriter> {
        Self::create(path, "<f4", shape)
    }

    /// An i32 array of `shape`.
    pub fn i32(path: &Path, shape: &[usize]) -> Result<NpyWriter> {
        Self::create(path, "<i4", shape)
    }

    /// Append elements (f32 or i32, as created), little-endian.
    pub fn append<T: Copy + Into<Element>>(&mut self, values: &[T]) -> Result<()> {
        use std::io::Write;
        let bytes: Vec<u8> = values.iter().flat_map(|&v| v.into().0).collect();
        if bytes.len() > self.left {
            return Err(Error::format(&self.path, "more data than the shape holds"));
        }
        self.left -= bytes.len();
        self.file
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Flush; an error unless the whole shape was written.
    pub fn finish(mut self) -> Result<()> {
        use std::io::Write;
        if self.left != 0 {
            return Err(Error::format(
                &self.path,
                format!("{} data bytes short of its shape", self.left),
            ));
        }
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// One 4-byte element's little-endian bytes (f32 or i32).
pub struct Element([u8; 4]);

impl From<f32> for Element {
    fn from(v: f32) -> Element {
        Element(v.to_le_bytes())
    }
}

impl From<i32> for Element {
    fn from(v: i32) -> Element {
        Element(v.to_le_bytes())
    }
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
    fn rows_are_read_a_range_at_a_time() {
        let dir = std::env::temp_dir().join(format!("npy-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.npy");
        let data: Vec<u8> = (0..5 * 2 * 3).map(|v| v as u8).collect();
        write_u8(&p, &[5, 2, 3], &data).unwrap();
        let r = NpyRows::open(&p).unwrap();
        assert_eq!((r.rows(), r.shape()), (5, &[5, 2, 3][..]));
        let a = r.read(1..3).unwrap();
        assert_eq!(a.shape, [2, 2, 3]);
        assert_eq!(a.data, NpyData::U8(data[6..18].to_vec()));
        // Clamped to the array; an empty range is an empty array.
        assert_eq!(r.read(4..9).unwrap().shape, [1, 2, 3]);
        assert_eq!(r.read(7..9).unwrap().shape, [0, 2, 3]);
        let t = Tensor::new(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        write_f32(&p, &t).unwrap();
        let r = NpyRows::open(&p).unwrap();
        assert_eq!(r.read(2..3).unwrap().data, NpyData::F32(vec![5.0, 6.0]));
        // A truncated file is refused when opened, with the sizes.
        let mut b = std::fs::read(&p).unwrap();
        b.truncate(b.len() - 1);
        std::fs::write(&p, b).unwrap();
        let e = NpyRows::open(&p).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("24 data bytes"),
            "{e}"
        );
        std::fs::write(&p, b"\x93NUMPY").unwrap();
        assert!(NpyRows::open(&p).is_err());
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
