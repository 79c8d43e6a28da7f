//! Parameter tables as little-endian bytes. Generated firmware pulls every
//! table (weights, biases, multipliers, activation tables) in with
//! `include_bytes!`, so the kernels read them from `&[u8]`; the encoders sit
//! beside the decoders so codegen writes exactly what the kernels read.

/// The i32 at index `i` of a table of little-endian i32s.
#[inline]
pub fn i32_at(table: &[u8], i: usize) -> i32 {
    // Past the table's end: 0, never a panic.
    let at = i.checked_mul(4).and_then(|at| table.get(at..));
    at.and_then(|t| t.first_chunk::<4>())
        .map_or(0, |b| i32::from_le_bytes(*b))
}

/// The f16 at index `i` of a table of little-endian f16s, widened to f32
/// (0 past the table's end).
#[inline]
pub fn f16_at(table: &[u8], i: usize) -> f32 {
    let at = i.checked_mul(2).and_then(|at| table.get(at..));
    at.and_then(|t| t.first_chunk::<2>())
        .map_or(0.0, |b| half::f16::from_le_bytes(*b).to_f32())
}

/// The multiplier of channel `i` in a stream's channel profile: the
/// stream's channel `i` has the scale `unit * profile[i]`, so
/// `(q - zero_point) * profile_at(..)` puts every channel in the common
/// `unit` (what a LayerNorm over the channels needs). A profile is
/// little-endian u16s; an empty one (a per-tensor stream) and any index past
/// its end give 1.
#[inline]
pub fn profile_at(table: &[u8], i: usize) -> i32 {
    let at = i.checked_mul(2).and_then(|at| table.get(at..));
    at.and_then(|t| t.first_chunk::<2>())
        .map_or(1, |b| u16::from_le_bytes(*b) as i32)
}

/// Largest multiplier of a channel profile: `255 * 4096` stays inside the
/// LayerNorm's input limit (`super::layer_norm::LN_INPUT_LIMIT`), so
/// `(q - zero_point) * m` of any int8 `q` and zero point goes in unclamped.
pub const PROFILE_MAX: u16 = 4096;

/// Encode a channel profile as the table [`profile_at`] reads.
pub fn profile_table(values: &[u16]) -> impl Iterator<Item = u8> + '_ {
    values.iter().flat_map(|v| v.to_le_bytes())
}

/// Encode i32s as the table [`i32_at`] reads.
pub fn i32_table(values: &[i32]) -> impl Iterator<Item = u8> + '_ {
    values.iter().flat_map(|v| v.to_le_bytes())
}

/// Encode f32s, rounded to f16, as the table [`f16_at`] reads.
pub fn f16_table(values: impl IntoIterator<Item = f32>) -> impl Iterator<Item = u8> {
    values
        .into_iter()
        .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_decode_what_they_encode() {
        let v = [0, -1, i32::MIN, i32::MAX, 123_456];
        let t: [u8; 20] = core::array::from_fn(|i| i32_table(&v).nth(i).unwrap());
        for (i, &x) in v.iter().enumerate() {
            assert_eq!(i32_at(&t, i), x);
        }
        let h: [u8; 4] = core::array::from_fn(|i| f16_table([0.5, -2.0]).nth(i).unwrap());
        assert_eq!((f16_at(&h, 0), f16_at(&h, 1)), (0.5, -2.0));
        let p: [u8; 4] = core::array::from_fn(|i| profile_table(&[3, PROFILE_MAX]).nth(i).unwrap());
        assert_eq!(
            (profile_at(&p, 0), profile_at(&p, 1), profile_at(&p, 2)),
            (3, 4096, 1)
        );
        assert_eq!(profile_at(&[], 7), 1);
    }
}
