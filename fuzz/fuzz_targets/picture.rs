//! Picture files as `convnext classify` and the Python package read them:
//! any bytes, decoded by their own code (`convnext_codegen::pictures`: PNG,
//! JPEG, BMP through the `image` crate, then grey or RGB as Pillow
//! converts), then preprocessed to `pixel_values`: an image or an error,
//! never a panic.
#![no_main]

mod scratch;

use convnext::preprocess::ProcessorConfig;
use convnext_codegen::pictures;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = scratch::dir().join("picture");
    std::fs::write(&p, data).expect("write");
    for channels in [1, 3] {
        let Ok(img) = pictures::decode(&p, channels) else {
            continue;
        };
        // Huge (valid) pictures only make the resize slow.
        if img.width * img.height > 1 << 22 {
            continue;
        }
        let cfg = ProcessorConfig {
            shortest_edge: 28,
            ..ProcessorConfig::default()
        };
        let _ = img.pixel_values(&cfg);
    }
});
