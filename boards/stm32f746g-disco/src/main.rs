//! The default model on an STM32F746G-DISCO (Cortex-M7): classify the bundled
//! test images with the arena in a static buffer, log over RTT with defmt
//! (`cargo run --release` flashes it with probe-rs), and report cycles per
//! inference from the DWT cycle counter. The core runs from the 16 MHz HSI
//! after reset; cycles do not depend on the clock.
#![no_std]
#![no_main]

use board_common::hardware::{cycle_counter, finish};
use cortex_m_rt::entry;

board_common::bundled_model!();

#[entry]
fn main() -> ! {
    let core = cortex_m::Peripherals::take().expect("core peripherals taken once");
    let now = cycle_counter(core);
    let run = classify_bundled(static_arena(), now);
    finish(board::NAME, run, expected::EXPECTED, 16_000_000)
}
