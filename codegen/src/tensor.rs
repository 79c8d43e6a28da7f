//! A plain owned f32 tensor: a shape and row-major data.

/// Row-major f32 data with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            shape: shape.to_vec(),
            data: vec![0.0; shape.iter().product()],
        }
    }

    /// Wrap data; panics if the lengths disagree (a programming error, not data).
    pub fn new(shape: &[usize], data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape {shape:?}"
        );
        Self {
            shape: shape.to_vec(),
            data,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// `max |self - other| / max |other|`: the error measure the fixtures use.
    pub fn relative_max_error(&self, reference: &Tensor) -> f32 {
        assert_eq!(self.shape, reference.shape, "shapes differ");
        let scale = reference
            .data
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(f32::MIN_POSITIVE);
        let diff = self
            .data
            .iter()
            .zip(&reference.data)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        diff / scale
    }
}
