//! Generate the default model's int8 forward pass into OUT_DIR.
fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let model =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fmnist-convnext");
    if let Err(e) = convnext_codegen::build_script::generate(&model, &out, "fmnist_convnext") {
        panic!("convnext codegen: {e}");
    }
}
