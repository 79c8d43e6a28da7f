//! Writes the default model's example pictures,
//! `models/fmnist-convnext/examples/<label>.png`: for each class, the first
//! test image the f32 reference classifies correctly, as an 8-bit grey PNG.
//! `convnext classify` reads them in the README's quick start and in the
//! CLI's tests.
//!
//!     cargo run -p convnext-cli --example write_example_pictures

use convnext::network::argmax;
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::load_model;
use convnext_codegen::processor::load_processor;
use convnext_codegen::reference::logits;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fmnist-convnext");
    let model = load_model(&dir).expect("default model");
    let processor = load_processor(&dir).expect("preprocessor config");
    let test = load_test_set(&dir).expect("test set");
    let out = dir.join("examples");
    std::fs::create_dir_all(&out).expect("examples folder");
    let classes = model.config.labels.len();
    let mut done = vec![false; classes];
    for i in 0..test.images.count {
        let label = test.labels[i];
        if done[label] {
            continue;
        }
        let img = test.images.slice(i..i + 1);
        let x = img.pixel_values(&processor).expect("preprocess");
        let y = logits(&model, &x).expect("forward").expect("classifier");
        if argmax(&y.data) != label {
            continue;
        }
        let name = model.config.labels[label]
            .to_lowercase()
            .replace(['/', ' '], "-");
        let path = out.join(format!("{name}.png"));
        image::save_buffer(
            &path,
            &img.pixels,
            img.width as u32,
            img.height as u32,
            image::ExtendedColorType::L8,
        )
        .expect("write png");
        println!("{} (test image {i})", path.display());
        done[label] = true;
        if done.iter().all(|&d| d) {
            break;
        }
    }
}
