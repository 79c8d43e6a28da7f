//! `.npy` reading: any bytes give an array or an error; an f32 array passes
//! or fails the model's input checks (shape, NaN) without a panic.
#![no_main]

mod scratch;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = scratch::dir().join("input.npy");
    std::fs::write(&p, data).expect("write");
    let Ok(a) = convnext_codegen::npy::read(&p) else {
        return;
    };
    let _ = convnext_codegen::dataset::images_from_npy(&p, a.clone());
    if let Ok(t) = a.into_f32(&p) {
        let model = convnext_codegen::synthetic::synthetic_model(&[8, 8], &[1, 1], 3);
        let _ = convnext_codegen::reference::check_pixel_values(&model, &t);
    }
});
