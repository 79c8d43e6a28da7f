//! The kernel tests' pseudo-random numbers: Marsaglia's xorshift64 (shifts
//! 13, 7, 17) from a fixed seed, so every run draws the same values.

/// Each call, the generator's next state after `seed`.
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}
