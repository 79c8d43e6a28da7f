//! Loads and stores of wider values kept in the byte arena. The arena is
//! `&mut [i8]`; i32 and f32 temporaries live in it as little-endian bytes, so
//! no alignment is assumed and no `unsafe` is needed.

/// Little-endian word from the first 4 bytes (one unaligned LDR on
/// Armv7-M and up).
#[inline(always)]
pub fn word(b: &[i8]) -> u32 {
    let b: [i8; 4] = b[..4].try_into().unwrap_or_default();
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// Little-endian word from the first 4 bytes.
#[inline(always)]
pub fn word_u8(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap_or_default())
}

/// Read the i32 stored at `arena[off..off + 4]`.
#[inline]
pub fn load_i32(arena: &[i8], off: usize) -> i32 {
    // Past the arena's end: 0, never a panic.
    let b = arena.get(off..).and_then(|a| a.first_chunk::<4>());
    b.map_or(0, |b| i32::from_le_bytes(b.map(|v| v as u8)))
}

/// The i32s stored back to back in `bytes` (a trailing partial one is
/// ignored): one unaligned load each, no bounds checks.
#[inline(always)]
pub fn i32s(bytes: &[i8]) -> impl Iterator<Item = i32> + Clone + '_ {
    bytes
        .chunks_exact(4)
        // Every chunk is 4 bytes; the pattern says so without an index
        // check (the chunk size is not always known where this is inlined).
        .map(|b| match b {
            [a, b, c, d] => i32::from_le_bytes([*a as u8, *b as u8, *c as u8, *d as u8]),
            _ => 0,
        })
}

/// Store `v` at `arena[off..off + 4]`.
#[inline]
pub fn store_i32(arena: &mut [i8], off: usize, v: i32) {
    // Past the arena's end: nothing is written, never a panic.
    let d = arena.get_mut(off..).and_then(|a| a.first_chunk_mut::<4>());
    if let Some(d) = d {
        *d = v.to_le_bytes().map(|b| b as i8);
    }
}

/// Read the f32 stored at `arena[off..off + 4]`.
#[inline]
pub fn load_f32(arena: &[i8], off: usize) -> f32 {
    f32::from_bits(load_i32(arena, off) as u32)
}

/// Store `v` at `arena[off..off + 4]`.
#[inline]
pub fn store_f32(arena: &mut [i8], off: usize, v: f32) {
    store_i32(arena, off, v.to_bits() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_at_unaligned_offsets() {
        let mut arena = [0i8; 11];
        store_i32(&mut arena, 3, -123_456_789);
        assert_eq!(load_i32(&arena, 3), -123_456_789);
        store_f32(&mut arena, 6, -1.5e-7);
        assert_eq!(load_f32(&arena, 6), -1.5e-7);
        store_i32(&mut arena, 1, 7);
        assert_eq!(
            i32s(&arena[1..]).take(2).collect::<Vec<_>>(),
            [7, load_i32(&arena, 5)]
        );
    }
}
