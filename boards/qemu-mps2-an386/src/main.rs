//! The default model on an Arm MPS2 AN386 (Cortex-M4F) under QEMU: classify
//! the bundled test images, log each prediction over semihosting with defmt,
//! check the logits' CRC against the host plan's, count instructions with the
//! CMSDK timer, and exit non-zero on any failure.
#![no_std]
#![no_main]

use board_common::qemu::{finish, CmsdkTimer, StackProbe};
use cortex_m_rt::entry;

board_common::bundled_model!();

/// APB timer 0 at 25 MHz (40 ns a tick).
static TIMER: CmsdkTimer = CmsdkTimer::new(0x4000_0000, 40);

/// Start of RAM (the stack's floor under flip-link).
const RAM_START: usize = 0x2000_0000;

#[entry]
fn main() -> ! {
    let stack = StackProbe::paint(RAM_START);
    let arena = cortex_m::singleton!(: [i8; model::ARENA_BYTES] = [0; model::ARENA_BYTES])
        .expect("arena taken once");
    TIMER.start();
    let run = board_common::classify_all(
        IMAGES,
        LABELS,
        model::INPUT_BYTES,
        &model::LABELS,
        |img, logits| model::forward(img, arena, logits),
        || TIMER.now(),
    );
    finish("qemu-an386", run, &TIMER, &stack, expected::EXPECTED)
}
