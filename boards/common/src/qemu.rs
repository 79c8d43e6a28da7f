//! QEMU MPS2 machines: defmt over semihosting, the CMSDK APB timer as an
//! instruction counter (QEMU runs with `-icount shift=6`: 64 ns per
//! instruction), and the run's verdict as the process exit code.

use crate::{Expected, Summary};
use convnext::network::ForwardError;
use cortex_m_rt::{exception, ExceptionFrame};
use defmt_semihosting as _;

/// Virtual nanoseconds per instruction under `-icount shift=6`.
const NS_PER_INSTRUCTION: u64 = 64;

/// A CMSDK APB timer (CTRL, VALUE, RELOAD), counting down at the machine clock.
pub struct CmsdkTimer {
    base: usize,
    ns_per_tick: u64,
}

impl CmsdkTimer {
    /// The timer at `base`, clocked with `ns_per_tick`.
    pub const fn new(base: usize, ns_per_tick: u64) -> Self {
        Self { base, ns_per_tick }
    }

    /// Start counting down from the top.
    pub fn start(&self) {
        // SAFETY: MMIO writes to this machine's timer, which nothing else uses.
        unsafe {
            ((self.base + 8) as *mut u32).write_volatile(u32::MAX);
            ((self.base + 4) as *mut u32).write_volatile(u32::MAX);
            (self.base as *mut u32).write_volatile(1);
        }
    }

    /// Ticks since `start`, counting up.
    pub fn now(&self) -> u32 {
        // SAFETY: an MMIO read of the timer's VALUE register.
        u32::MAX - unsafe { ((self.base + 4) as *const u32).read_volatile() }
    }

    /// Instructions executed in `ticks` timer ticks.
    pub fn instructions(&self, ticks: u64) -> u64 {
        ticks * self.ns_per_tick / NS_PER_INSTRUCTION
    }
}

extern "C" {
    /// Top of the stack (cortex-m-rt; flip-link moves it below the statics).
    static _stack_start: u32;
}

/// Stack high-water mark by painting: with flip-link the stack runs from
/// `_stack_start` down to the start of RAM, so everything below the current
/// frame is painted and, at the end, the untouched paint is counted.
pub struct StackProbe {
    bottom: usize,
    top: usize,
}

const PAINT: u32 = 0x5AC0_FFEE;

impl StackProbe {
    /// Paint the free stack; `ram_start` is the RAM region's origin.
    pub fn paint(ram_start: usize) -> Self {
        // SAFETY: `_stack_start` is a linker symbol; only its address is used.
        let top = unsafe { core::ptr::addr_of!(_stack_start) as usize };
        let sp = cortex_m::register::msp::read() as usize;
        let mut p = ram_start;
        // Leave 256 bytes below the current frame for this function's own calls.
        while p + 256 < sp {
            // SAFETY: free stack below the live frames, inside RAM.
            unsafe { (p as *mut u32).write_volatile(PAINT) };
            p += 4;
        }
        Self {
            bottom: ram_start,
            top,
        }
    }

    /// Deepest stack use so far, in bytes.
    pub fn used(&self) -> usize {
        let mut p = self.bottom;
        // SAFETY: reads of the painted stack region.
        while p < self.top && unsafe { (p as *const u32).read_volatile() } == PAINT {
            p += 4;
        }
        self.top - p
    }
}

/// Print the summary line, compare with the host, and exit: 0 when the
/// logits match the host bit for bit, 1 on a mismatch, 2 on a refused run.
pub fn finish(
    board: &str,
    run: Result<Summary, ForwardError>,
    timer: &CmsdkTimer,
    stack: &StackProbe,
    expected: Expected,
) -> ! {
    defmt::println!("{=str}: stack high-water {} bytes", board, stack.used());
    let code = match run {
        Ok(s) => {
            defmt::println!(
                "{=str}: {} images, accuracy {=f32}, logits crc32 {=u32:#010x}, instructions per inference {}",
                board,
                s.images,
                s.accuracy(),
                s.crc,
                timer.instructions(s.ticks_per_inference)
            );
            if expected.matches(&s) {
                0
            } else {
                defmt::error!(
                    "mismatch with the host plan: {} images, crc32 {=u32:#010x}, {} correct",
                    expected.images,
                    expected.crc,
                    expected.correct
                );
                1
            }
        }
        Err(_) => {
            defmt::error!("the forward pass refused its buffers");
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
