//! What every board runs: classify the bundled test images one by one, log
//! each prediction with defmt, and sum up accuracy, the CRC-32 of all int32
//! logits (little-endian, in order) and the time per inference.
#![no_std]
#![deny(missing_docs)]

use convnext::crc32::Crc32;
use convnext::network::{argmax, ForwardError};

/// Most labels a model may have here (logits live on the stack).
pub const MAX_LABELS: usize = 64;

/// The outcome of a run.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Images classified.
    pub images: usize,
    /// Correct predictions.
    pub correct: usize,
    /// CRC-32 of all logits.
    pub crc: u32,
    /// Mean timer ticks per inference.
    pub ticks_per_inference: u64,
}

impl Summary {
    /// Accuracy as a fraction.
    pub fn accuracy(&self) -> f32 {
        self.correct as f32 / self.images.max(1) as f32
    }
}

/// Classify `images` (`input_bytes` each) with `forward`, timing each call
/// with `now` (an up-counting tick source; wrapping is handled).
pub fn classify_all(
    images: &[u8],
    labels: &[u8],
    input_bytes: usize,
    names: &[&str],
    mut forward: impl FnMut(&[u8], &mut [i32]) -> Result<(), ForwardError>,
    mut now: impl FnMut() -> u32,
) -> Result<Summary, ForwardError> {
    let n = names.len().min(MAX_LABELS);
    let mut crc = Crc32::new();
    let (mut correct, mut ticks, mut count) = (0, 0u64, 0);
    for (i, (img, &label)) in images.chunks_exact(input_bytes).zip(labels).enumerate() {
        let mut logits = [0i32; MAX_LABELS];
        let t0 = now();
        forward(img, &mut logits[..n])?;
        ticks += now().wrapping_sub(t0) as u64;
        let p = argmax(&logits[..n]);
        crc.update_i32(&logits[..n]);
        correct += (p == label as usize) as usize;
        count += 1;
        defmt::println!(
            "image {}: predicted {=str}, label {=str}",
            i,
            names[p],
            names[label as usize % n]
        );
    }
    Ok(Summary {
        images: count,
        correct,
        crc: crc.finish(),
        ticks_per_inference: ticks / count.max(1) as u64,
    })
}

/// What the host plan computed for the bundled images (from `build.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// Images bundled.
    pub images: usize,
    /// CRC-32 of the host's logits.
    pub crc: u32,
    /// The host's correct predictions.
    pub correct: usize,
}

impl Expected {
    /// True when a board run reproduced the host bit for bit.
    pub fn matches(&self, s: &Summary) -> bool {
        s.images == self.images && s.crc == self.crc && s.correct == self.correct
    }
}

#[cfg(feature = "qemu")]
pub mod qemu;

#[cfg(feature = "hardware")]
pub mod hardware;

/// Declare what `board-build-support` generated in the calling crate's
/// `OUT_DIR`: `mod model` (the int8 network), `mod expected` (the host's
/// CRC), `mod board` (the board table's constants), the bundled `IMAGES`
/// and `LABELS`, and `classify_bundled(arena, now)` over them (with
/// `static_arena()` for boards that keep the arena in a static).
#[macro_export]
macro_rules! bundled_model {
    () => {
        #[allow(dead_code)]
        mod board {
            include!(concat!(env!("OUT_DIR"), "/board.rs"));
        }
        #[allow(dead_code)]
        mod model {
            include!(concat!(env!("OUT_DIR"), "/model.rs"));
        }
        mod expected {
            include!(concat!(env!("OUT_DIR"), "/expected.rs"));
        }
        static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
        static LABELS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));

        /// The arena as a static buffer, handed out once.
        #[allow(dead_code)]
        fn static_arena() -> &'static mut [i8] {
            cortex_m::singleton!(: [i8; model::ARENA_BYTES] = [0; model::ARENA_BYTES])
                .expect("arena taken once")
        }

        /// Classify the bundled images in `arena`, timing with `now`.
        #[allow(dead_code)]
        fn classify_bundled(
            arena: &mut [i8],
            now: impl FnMut() -> u32,
        ) -> Result<$crate::Summary, convnext::network::ForwardError> {
            $crate::classify_all(
                IMAGES,
                LABELS,
                model::INPUT_BYTES,
                &model::LABELS,
                |img, logits| model::forward(img, arena, logits),
                now,
            )
        }
    };
}
