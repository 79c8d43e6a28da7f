//! Real boards: defmt over RTT (read by `probe-rs run`), the DWT cycle
//! counter for latency where the core has one, and a panic that stops at a
//! breakpoint for the debugger.

use crate::{Expected, Summary};
use convnext::network::ForwardError;
use defmt_rtt as _;

/// Enable the DWT cycle counter (Cortex-M3 and up) and return a reader.
#[cfg(feature = "dwt")]
pub fn cycle_counter(mut core: cortex_m::Peripherals) -> impl FnMut() -> u32 {
    core.DCB.enable_trace();
    core.DWT.enable_cycle_counter();
    cortex_m::peripheral::DWT::cycle_count
}

/// Print the summary line and whether it matches the host; then idle.
pub fn finish(
    board: &str,
    run: Result<Summary, ForwardError>,
    expected: Expected,
    clock_hz: u32,
) -> ! {
    match run {
        Ok(s) => {
            let us = s.ticks_per_inference * 1_000_000 / clock_hz as u64;
            defmt::println!(
                "{=str}: {} images, accuracy {=f32}, logits crc32 {=u32:#010x}, {} cycles ({} us) per inference",
                board,
                s.images,
                s.accuracy(),
                s.crc,
                s.ticks_per_inference,
                us
            );
            if expected.matches(&s) {
                defmt::println!("bit-identical with the host plan");
            } else {
                defmt::error!(
                    "mismatch with the host plan: crc32 {=u32:#010x}",
                    expected.crc
                );
            }
        }
        Err(_) => defmt::error!("the forward pass refused its buffers"),
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    loop {
        cortex_m::asm::bkpt();
    }
}
