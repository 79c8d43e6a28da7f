//! The default model on an nRF52840-DK (Cortex-M4F, 64 MHz): the arena comes
//! from an `embedded-alloc` heap that the rest of an application would share,
//! instead of a dedicated static. Logs over RTT with defmt (`cargo run
//! --release` flashes it with probe-rs) and reports cycles per inference from
//! the DWT cycle counter.
#![no_std]
#![no_main]

extern crate alloc;

use board_common::hardware::{cycle_counter, finish};
use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;

board_common::bundled_model!();

/// Heap for the whole application; the arena is one allocation in it.
const HEAP_BYTES: usize = 64 * 1024;
const _: () = assert!(
    model::ARENA_BYTES <= HEAP_BYTES,
    "the arena does not fit the heap"
);

#[global_allocator]
static HEAP: Heap = Heap::empty();

#[entry]
fn main() -> ! {
    // SAFETY: called once, before any allocation.
    unsafe {
        embedded_alloc::init!(HEAP, HEAP_BYTES);
    }
    let core = cortex_m::Peripherals::take().expect("core peripherals taken once");
    let now = cycle_counter(core);
    let mut arena = alloc::vec![0i8; model::ARENA_BYTES];
    let run = classify_bundled(&mut arena, now);
    finish(board::NAME, run, expected::EXPECTED, 64_000_000)
}
