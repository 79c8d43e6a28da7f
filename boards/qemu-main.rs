//! The default model on an Arm MPS2 board under QEMU (AN386 Cortex-M4F,
//! AN500 Cortex-M7, AN505 Cortex-M33; one `main` for the three crates, the
//! board's constants from `boards/boards.rs`): classify the bundled test
//! images, log each prediction over semihosting with defmt, check the logits'
//! CRC against the host plan's, count instructions with the CMSDK timer, and
//! exit non-zero on any failure. With `--features profile` it instead times
//! every phase of every op on a few images (`cargo xtask profile-qemu`); with
//! `--features streamed` it classifies through the row-streamed forward (the
//! image pushed a row at a time), which must give the same CRC; with
//! `--features conformance` it runs the kernel conformance suite on the
//! core's own instruction set (`cargo xtask conformance`).
#![no_std]
#![no_main]

#[cfg(not(feature = "conformance"))]
use board_common::qemu::CmsdkTimer;
#[cfg(not(any(feature = "profile", feature = "conformance")))]
use board_common::qemu::{finish, StackProbe};

#[cfg(any(
    all(feature = "profile", feature = "streamed"),
    all(feature = "profile", feature = "conformance"),
    all(feature = "streamed", feature = "conformance"),
))]
compile_error!("pick one of the features `profile`, `streamed` and `conformance`");
use cortex_m_rt::entry;

board_common::bundled_model!();

#[cfg(not(feature = "conformance"))]
static TIMER: CmsdkTimer = CmsdkTimer::new(board::TIMER_BASE, board::TIMER_NS_PER_TICK);

#[cfg(not(any(feature = "profile", feature = "streamed", feature = "conformance")))]
#[entry]
fn main() -> ! {
    let stack = StackProbe::paint(board::RAM_START);
    let arena = static_arena();
    TIMER.start();
    let run = classify_bundled(arena, || TIMER.now());
    finish(board::NAME, run, &TIMER, &stack, expected::EXPECTED)
}

#[cfg(feature = "profile")]
#[entry]
fn main() -> ! {
    let mut logits = [0i32; model::NUM_LABELS];
    let arena = static_arena();
    board_common::qemu::profile_and_exit::<{ model::OP_NAMES.len() }>(
        board::NAME,
        &TIMER,
        &model::OP_NAMES,
        IMAGES,
        model::INPUT_BYTES,
        (arena, &mut logits),
        model::forward,
        |img, arena, logits, probe| model::forward_probed(img, arena, logits, probe),
    )
}

#[cfg(feature = "streamed")]
#[entry]
fn main() -> ! {
    let stack = StackProbe::paint(board::RAM_START);
    let arena = cortex_m::singleton!(
        : [i8; model::STREAM_ARENA_BYTES] = [0; model::STREAM_ARENA_BYTES]
    )
    .expect("arena taken once");
    let row = model::INPUT_SHAPE[1] * model::INPUT_SHAPE[2];
    TIMER.start();
    let run = board_common::classify_all(
        IMAGES,
        LABELS,
        model::INPUT_BYTES,
        &model::LABELS,
        |img, logits| {
            let mut stream = model::forward_rows(&mut arena[..])?;
            for r in img.chunks_exact(row) {
                stream.push_row(r)?;
            }
            model::forward_rest(stream, logits)
        },
        || TIMER.now(),
    );
    finish(board::NAME, run, &TIMER, &stack, expected::EXPECTED)
}

#[cfg(feature = "conformance")]
#[entry]
fn main() -> ! {
    board_common::qemu::conformance_and_exit(board::NAME)
}
