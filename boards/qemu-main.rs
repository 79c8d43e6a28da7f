//! The default model on an Arm MPS2 board under QEMU (AN386 Cortex-M4F,
//! AN500 Cortex-M7, AN505 Cortex-M33; one `main` for the three crates, the
//! board's constants from `boards/boards.rs`): classify the bundled test
//! images, log each prediction over semihosting with defmt, check the logits'
//! CRC against the host plan's, count instructions with the CMSDK timer, and
//! exit non-zero on any failure.
#![no_std]
#![no_main]

use board_common::qemu::{finish, CmsdkTimer, StackProbe};
use cortex_m_rt::entry;

board_common::bundled_model!();

static TIMER: CmsdkTimer = CmsdkTimer::new(board::TIMER_BASE, board::TIMER_NS_PER_TICK);

#[entry]
fn main() -> ! {
    let stack = StackProbe::paint(board::RAM_START);
    let arena = static_arena();
    TIMER.start();
    let run = classify_bundled(arena, || TIMER.now());
    finish(board::NAME, run, &TIMER, &stack, expected::EXPECTED)
}
