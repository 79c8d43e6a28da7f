//! `preprocessor_config.json`: any text gives a configuration or an error;
//! a configuration gives a resize plan or an error for any image size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = convnext_codegen::processor::parse_processor(Path::new("fuzz.json"), text) {
        for (w, h) in [(1, 1), (28, 28), (640, 3), (3, 640)] {
            let _ = cfg.plan(w, h);
        }
    }
});
