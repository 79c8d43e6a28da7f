//! The default model on a Raspberry Pi Pico (RP2040, Cortex-M0+): classify the
//! bundled test images with a static arena, log over RTT with defmt (`cargo
//! run --release` flashes it with probe-rs). The M0+ has no DWT cycle counter,
//! so SysTick (core clock, 24 bits) counts cycles and its interrupt counts the
//! wraps. The core runs from the ring oscillator (about 6 MHz) after reset.
#![no_std]
#![no_main]

use board_common::hardware::finish;
use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};

/// The second-stage bootloader the RP2040's ROM runs from the flash's first 256 bytes.
#[link_section = ".boot2"]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

board_common::bundled_model!();

/// SysTick wraps (only the SysTick handler writes it; M0+ has no atomic add).
static WRAPS: AtomicU32 = AtomicU32::new(0);
const RELOAD: u32 = 0x00FF_FFFF;

#[exception]
fn SysTick() {
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Core cycles since SysTick started, modulo 2^32.
fn cycles() -> u32 {
    let wraps = WRAPS.load(Ordering::Relaxed);
    let elapsed = RELOAD - cortex_m::peripheral::SYST::get_current();
    wraps.wrapping_mul(RELOAD + 1).wrapping_add(elapsed)
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().expect("core peripherals taken once");
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(RELOAD);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();
    let run = classify_bundled(static_arena(), cycles);
    finish(board::NAME, run, expected::EXPECTED, 6_000_000)
}
