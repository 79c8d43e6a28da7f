//! Picture files as `convnext classify` reads them: any bytes, decoded by
//! the CLI's own code (`cli/src/pictures.rs`: PNG, JPEG, BMP through the
//! `image` crate, then grey or RGB as Pillow converts), then preprocessed to
//! `pixel_values`: an image or an error, never a panic.
#![no_main]

mod scratch;

#[path = "../../cli/src/pictures.rs"]
#[allow(dead_code)]
mod pictures;

use convnext::preprocess::ProcessorConfig;
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
