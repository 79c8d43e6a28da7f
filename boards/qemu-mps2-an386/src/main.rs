//! The default model on an Arm MPS2 AN386 (Cortex-M4F) under QEMU: classify
//! the bundled test images, log each prediction over semihosting with defmt,
//! check the logits' CRC against the host plan's, count instructions with the
//! CMSDK timer (QEMU runs with `-icount shift=6`), and exit non-zero on any
//! failure.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception, ExceptionFrame};
use defmt_semihosting as _;

#[allow(dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
mod expected {
    include!(concat!(env!("OUT_DIR"), "/expected.rs"));
}

static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
static LABELS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));

/// CMSDK APB timer 0: CTRL, VALUE (down-counter), RELOAD.
const TIMER0_CTRL: *mut u32 = 0x4000_0000 as *mut u32;
const TIMER0_VALUE: *mut u32 = 0x4000_0004 as *mut u32;
const TIMER0_RELOAD: *mut u32 = 0x4000_0008 as *mut u32;
/// The timer runs at 25 MHz (40 ns a tick); `-icount shift=6` makes each instruction 64 ns.
const NS_PER_TICK: u64 = 40;
const NS_PER_INSTRUCTION: u64 = 64;

fn timer_start() {
    // SAFETY: fixed MMIO addresses of the AN386's timer; nothing else uses it.
    unsafe {
        TIMER0_RELOAD.write_volatile(u32::MAX);
        TIMER0_VALUE.write_volatile(u32::MAX);
        TIMER0_CTRL.write_volatile(1);
    }
}

/// Ticks since start, counting up.
fn timer_now() -> u32 {
    // SAFETY: a read of the timer's VALUE register.
    u32::MAX - unsafe { TIMER0_VALUE.read_volatile() }
}

#[entry]
fn main() -> ! {
    let arena = cortex_m::singleton!(: [i8; model::ARENA_BYTES] = [0; model::ARENA_BYTES]).expect("arena taken once");
    timer_start();
    let run = board_common::classify_all(
        IMAGES,
        LABELS,
        model::INPUT_BYTES,
        &model::LABELS,
        |img, logits| model::forward(img, arena, logits),
        timer_now,
    );
    let code = match run {
        Ok(s) => {
            let instructions = s.ticks_per_inference * NS_PER_TICK / NS_PER_INSTRUCTION;
            defmt::println!(
                "qemu-an386: {} images, accuracy {=f32}, logits crc32 {=u32:#010x}, instructions per inference {}",
                s.images,
                s.accuracy(),
                s.crc,
                instructions
            );
            if s.crc != expected::CRC || s.images != expected::IMAGES || s.correct != expected::CORRECT {
                defmt::error!("mismatch with the host plan: crc {=u32:#010x}, {} correct", expected::CRC, expected::CORRECT);
                1
            } else {
                0
            }
        }
        Err(_) => {
            defmt::error!("forward pass refused its buffers");
            2
        }
    };
    semihosting::process::exit(code)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}

#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    semihosting::process::exit(102)
}
