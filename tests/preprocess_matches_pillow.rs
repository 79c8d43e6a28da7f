//! The runtime's preprocessing against HF's Pillow-based ConvNeXt image
//! processor on real photos (scikit-image's chelsea, coffee, astronaut,
//! camera): the resized u8 image must match byte for byte, and the
//! normalized pixel_values to float rounding.

mod common;

use convnext_codegen::dataset::ImageSet;
use convnext_codegen::npy::{self, NpyData};
use convnext_codegen::processor::parse_processor;

fn u8_array(rel: &str) -> (Vec<usize>, Vec<u8>) {
    let a = npy::read(&common::fixture(rel)).unwrap();
    match a.data {
        NpyData::U8(d) => (a.shape, d),
        other => panic!("{rel}: expected u8, got {other:?}"),
    }
}

fn photo(name: &str) -> ImageSet {
    let (shape, pixels) = u8_array(&format!("preprocess/{name}.npy"));
    ImageSet {
        pixels,
        count: 1,
        height: shape[0],
        width: shape[1],
        channels: shape[2],
    }
}

fn check_case(case: &str, photo_name: &str) {
    let cfg_path = common::fixture(&format!("preprocess/{case}.json"));
    let cfg = parse_processor(&cfg_path, &std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    let img = photo(photo_name);

    // Bytes after resize + crop: rescale and normalize off, so values are the u8s.
    let raw_cfg = convnext::preprocess::ProcessorConfig {
        do_rescale: false,
        do_normalize: false,
        ..cfg
    };
    let got = img.pixel_values(&raw_cfg).unwrap();
    let (shape, want) = u8_array(&format!("preprocess/{case}.u8.npy"));
    assert_eq!(got.shape[1..], shape[..], "{case}: shape");
    let mismatches = got
        .data
        .iter()
        .zip(&want)
        .filter(|(g, w)| **g != **w as f32)
        .count();
    assert_eq!(
        mismatches,
        0,
        "{case}: {mismatches} of {} resized bytes differ from Pillow",
        want.len()
    );

    let float_path = common::fixture(&format!("preprocess/{case}.npy"));
    if float_path.exists() {
        let want = npy::read(&float_path)
            .unwrap()
            .into_f32(&float_path)
            .unwrap();
        let got = img.pixel_values(&cfg).unwrap();
        assert_eq!(got.shape[1..], want.shape[..], "{case}: shape");
        let worst = got
            .data
            .iter()
            .zip(&want.data)
            .map(|(g, w)| (g - w).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "{case}: normalized values differ by up to {worst:e}"
        );
    }
}

#[test]
fn bicubic_224_with_crop_matches_pillow_on_chelsea() {
    check_case("chelsea_224_bicubic", "chelsea");
}

#[test]
fn bilinear_160_with_crop_matches_pillow_on_coffee() {
    check_case("coffee_160_bilinear", "coffee");
}

#[test]
fn bicubic_96_strong_downscale_matches_pillow_on_astronaut() {
    check_case("astronaut_96_bicubic", "astronaut");
}

#[test]
fn bilinear_384_warp_up_and_down_matches_pillow_on_chelsea() {
    check_case("chelsea_384_bilinear", "chelsea");
}

#[test]
fn bicubic_400_warp_matches_pillow_on_coffee() {
    check_case("coffee_400_bicubic", "coffee");
}

#[test]
fn grayscale_bilinear_64_matches_pillow_on_camera() {
    check_case("camera_64_bilinear", "camera");
}
