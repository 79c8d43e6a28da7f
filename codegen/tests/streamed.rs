//! The row-streamed forward (`convnext::streamed`) gives the whole-image
//! forward's logits bit for bit, on the default model and on an atto-shaped
//! model at 224x224, in the arena its layout asks for; and refuses what it
//! cannot stream or a wrong number of rows.

mod common;

use convnext::network::{ForwardError, Op};
use convnext::streamed::{RowStream, StreamedSection};
use convnext_codegen::compile::{build_plan, load_calibration, DEFAULT_CALIBRATION};
use convnext_codegen::dataset::load_test_set;
use convnext_codegen::load_model;
use convnext_codegen::plan::Plan;
use convnext_codegen::processor::load_processor;
use convnext_codegen::synthetic::atto_plan;

/// The default model's folder and int8 plan.
fn default_plan() -> (std::path::PathBuf, Plan) {
    let dir = common::model_dir("fmnist-convnext");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    (dir, plan)
}

fn check_bit_exact(plan: &Plan, images: &[u8], what: &str) {
    let layout = plan.stream_layout().expect("streamable");
    eprintln!(
        "{what}: streamed arena {} bytes, in-place arena {}, residual-stream bound {}",
        layout.arena_bytes, plan.arena_bytes, plan.residual_bound_bytes
    );
    let labels = plan.model.num_labels;
    let mut arena = vec![0i8; layout.arena_bytes];
    for (i, img) in images.chunks_exact(plan.input_bytes).enumerate() {
        let (mut want, mut got) = (vec![0i32; labels], vec![0i32; labels]);
        let mut whole = vec![0i8; plan.host_arena_bytes];
        plan.run_one(img, &mut whole, &mut want);
        arena.fill(0x55);
        plan.run_streamed_one(img, &mut arena, &mut got).unwrap();
        assert_eq!(got, want, "{what}: image {i}");
    }
}

#[test]
fn streamed_default_model_is_bit_exact_with_the_whole_image_forward() {
    let (dir, plan) = default_plan();
    let test = load_test_set(&dir).unwrap().images.take(200);
    check_bit_exact(&plan, &test.pixels, "default");
}

#[test]
fn streamed_atto_224_is_bit_exact_and_needs_less_than_the_whole_input() {
    let (_, plan) = atto_plan(224).unwrap();
    let images: Vec<u8> = (0..2 * plan.input_bytes)
        .map(|i| (i * 7 % 251) as u8 ^ (i / 4000) as u8)
        .collect();
    check_bit_exact(&plan, &images, "atto-224");
    let layout = plan.stream_layout().unwrap();
    assert!(layout.arena_bytes < plan.input_bytes, "{layout:?}");
}

#[test]
fn streamed_forward_refuses_wrong_rows_and_unstreamable_networks() {
    let dir = common::model_dir("fmnist-convnext");
    let model = load_model(&dir).unwrap();
    let processor = load_processor(&dir).unwrap();
    let cal = load_calibration(&dir, None, &processor).unwrap();
    let plan = build_plan(&model, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    let layout = plan.stream_layout().unwrap();
    let mut arena = vec![0i8; layout.arena_bytes];
    let ops: Vec<_> = plan.runtime_ops().collect();
    let (Op::Stem(stem), Op::Block(b0), Op::Block(b1), Op::Downsample(downsample)) =
        (ops[0], ops[1], ops[2], ops[3])
    else {
        panic!("the default model's first stage has two blocks");
    };
    let section = StreamedSection {
        stem,
        blocks: &[b0, b1],
        downsample,
    };
    let mut s = RowStream::new(section, layout, &mut arena).unwrap();
    assert_eq!(
        s.push_row(&[0u8; 27]),
        Err(ForwardError::InputSize {
            expected: 28,
            given: 27
        })
    );
    for _ in 0..27 {
        s.push_row(&[0u8; 28]).unwrap();
    }
    assert_eq!(
        s.finish().err(),
        Some(ForwardError::ImageRows {
            expected: 28,
            given: 27
        })
    );
    let mut small = vec![0i8; layout.arena_bytes - 1];
    assert!(RowStream::new(section, layout, &mut small).is_err());
    // ConvNeXt V2's GRN needs the whole map: not streamable.
    let dir = common::model_dir("fmnist-convnextv2");
    let v2 = load_model(&dir).unwrap();
    let plan = build_plan(&v2, &processor, &cal, DEFAULT_CALIBRATION).unwrap();
    assert!(plan.stream_layout().is_none());
}

#[test]
fn a_stream_resumed_from_its_state_after_every_row_gives_the_same_logits() {
    // The C door keeps only `StreamState` between rows: resuming from it
    // after each row must be the stream itself.
    use convnext::kernels::probe::NoProbe;
    use convnext::network::Outputs;
    use convnext::streamed::StreamState;
    let (dir, plan) = default_plan();
    let layout = plan.stream_layout().unwrap();
    let ops: Vec<_> = plan.runtime_ops().collect();
    let (Op::Stem(stem), Op::Block(b0), Op::Block(b1), Op::Downsample(downsample)) =
        (ops[0], ops[1], ops[2], ops[3])
    else {
        panic!("the default model's first stage has two blocks");
    };
    let blocks = [b0, b1];
    let section = StreamedSection {
        stem,
        blocks: &blocks,
        downsample,
    };
    let test = load_test_set(&dir).unwrap().images.take(5);
    let mut arena = vec![0i8; layout.arena_bytes];
    for img in test.pixels.chunks_exact(plan.input_bytes) {
        let mut want = vec![0i32; 10];
        let mut whole = vec![0i8; plan.host_arena_bytes];
        plan.run_one(img, &mut whole, &mut want);
        let mut state = RowStream::new(section, layout, &mut arena).unwrap().state();
        assert_eq!(state, StreamState::default());
        for row in img.chunks_exact(28) {
            let mut s = RowStream::resume(section, layout, &mut arena, state).unwrap();
            s.push_row(row).unwrap();
            state = s.state();
        }
        let s = RowStream::resume(section, layout, &mut arena, state).unwrap();
        let rest = s.finish().unwrap();
        let mut got = vec![0i32; 10];
        let mut out = Outputs::logits(&mut got);
        for op in &ops[4..] {
            op.run(rest, &mut out, &mut NoProbe);
        }
        assert_eq!(got, want);
    }
}
