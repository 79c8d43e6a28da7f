//! The runtime's preprocessing (resize, crop, rescale, normalise), as a board
//! runs it on a camera frame: any image size, channel count, filter and
//! target size gives `pixel_values` or an error, never a panic or a write
//! out of bounds.
#![no_main]

use convnext::preprocess::{ProcessorConfig, Resample};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, pixels)) = data.split_first_chunk::<6>() else {
        return;
    };
    let (w, h, ch) = (
        head[0] as usize % 40,
        head[1] as usize % 40,
        head[2] as usize % 5,
    );
    let filter = [Resample::Box, Resample::Bilinear, Resample::Bicubic][head[3] as usize % 3];
    let cfg = ProcessorConfig {
        do_resize: head[4] & 1 == 1,
        shortest_edge: head[5] as usize % 48,
        crop_pct: [0.875, 1.0, 0.5, 0.01][(head[4] >> 1) as usize % 4],
        resample: filter,
        ..ProcessorConfig::default()
    };
    let Ok(plan) = cfg.plan(w.max(1), h.max(1)) else {
        return;
    };
    let Ok(scratch_len) = cfg.scratch_len(w, h, ch.max(1)) else {
        return;
    };
    if scratch_len > 1 << 22 {
        return;
    }
    let image: Vec<u8> = pixels.iter().copied().cycle().take(w * h * ch).collect();
    let mut scratch = vec![0u8; scratch_len];
    let mut out = vec![0f32; ch * plan.width * plan.height];
    let _ = cfg.preprocess(&image, w, h, ch, &mut scratch, &mut out);
});
