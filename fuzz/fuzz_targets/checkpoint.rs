//! Checkpoint import (`config.json` + `model.safetensors`): any bytes give a
//! model or an error, never a panic. The input's first two bytes say how
//! long the config is; the rest is the safetensors file.
#![no_main]

mod scratch;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = (u16::from_le_bytes(*len) as usize).min(rest.len());
    let (config, weights) = rest.split_at(n);
    let d = scratch::dir();
    std::fs::write(d.join("config.json"), config).expect("write");
    std::fs::write(d.join("model.safetensors"), weights).expect("write");
    let _ = convnext_codegen::import::load_model_with(&d, &mut |_| {});
});
