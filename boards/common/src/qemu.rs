//! QEMU MPS2 machines: defmt over semihosting, the CMSDK APB timer as an
//! instruction counter (QEMU runs with `-icount shift=6`: 64 ns per
//! instruction), and the run's verdict as the process exit code.

use crate::{Expected, Summary};
use convnext::kernels::probe::{Phase, Probe};
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

/// A [`Probe`] that times every phase of every op with the CMSDK timer, for
/// `cargo xtask profile-qemu`. Up to `OPS` ops; time between an op's end and
/// the next op's first phase (and before the first) counts as that op's
/// "other". The cost of one mark is measured and subtracted ([`Profiler::calibrate`]).
pub struct Profiler<'t, const OPS: usize> {
    timer: &'t CmsdkTimer,
    op: usize,
    current: Option<usize>,
    last: u32,
    /// Ticks per op and phase (`Phase::ALL` order, then "other").
    ticks: [[u64; 7]; OPS],
    /// Marks that closed an interval of each op and phase.
    marks: [[u64; 7]; OPS],
    /// MACs per op and phase.
    macs: [[u64; 7]; OPS],
    /// Ticks one mark adds to the interval it closes.
    mark_ticks: u64,
}

/// Slot of the time outside any phase.
const OTHER: usize = 6;

impl<'t, const OPS: usize> Profiler<'t, OPS> {
    /// A profiler reading `timer` (already started).
    pub fn new(timer: &'t CmsdkTimer) -> Self {
        Self {
            timer,
            op: 0,
            current: None,
            last: timer.now(),
            ticks: [[0; 7]; OPS],
            marks: [[0; 7]; OPS],
            macs: [[0; 7]; OPS],
            mark_ticks: 0,
        }
    }

    /// Close the running interval at `now`.
    #[inline(always)]
    fn close(&mut self, now: u32) {
        let slot = self.current.unwrap_or(OTHER);
        if let (Some(t), Some(m)) = (self.ticks.get_mut(self.op), self.marks.get_mut(self.op)) {
            t[slot] += now.wrapping_sub(self.last) as u64;
            m[slot] += 1;
        }
    }

    /// Measure what one mark costs: 1000 empty phases back to back.
    pub fn calibrate(&mut self) {
        const N: u64 = 1000;
        for _ in 0..N {
            self.enter(Phase::Conv, 0);
        }
        self.op_done(0);
        self.mark_ticks = self.ticks[0].iter().sum::<u64>() / (N + 1);
        *self = Self {
            mark_ticks: self.mark_ticks,
            ..Self::new(self.timer)
        };
    }

    /// Start the next image's pass.
    pub fn next_image(&mut self) {
        self.op = 0;
        self.current = None;
        self.last = self.timer.now();
    }

    /// Print one `profile` line per op and phase that ran, averaged over
    /// `images`, in instructions with the marks' cost subtracted.
    pub fn report(&self, board: &str, names: &[&str], images: u64) {
        let images = images.max(1);
        defmt::println!(
            "{=str}: profile mark {} instructions",
            board,
            self.timer.instructions(self.mark_ticks)
        );
        for (op, name) in names.iter().enumerate().take(OPS) {
            for slot in 0..7 {
                let (t, m) = (self.ticks[op][slot], self.marks[op][slot]);
                if m == 0 {
                    continue;
                }
                let net = t.saturating_sub(m * self.mark_ticks);
                let phase = Phase::ALL.get(slot).map_or("other", |p| p.name());
                defmt::println!(
                    "{=str}: profile {=str} {=str} macs {} instructions {}",
                    board,
                    name,
                    phase,
                    self.macs[op][slot] / images,
                    self.timer.instructions(net) / images
                );
            }
        }
    }
}

impl<const OPS: usize> Probe for Profiler<'_, OPS> {
    #[inline(always)]
    fn enter(&mut self, phase: Phase, macs: u32) {
        let now = self.timer.now();
        self.close(now);
        let slot = phase as usize;
        if let Some(m) = self.macs.get_mut(self.op) {
            m[slot] += macs as u64;
        }
        self.current = Some(slot);
        self.last = self.timer.now();
    }

    #[inline(always)]
    fn op_done(&mut self, index: usize) {
        let now = self.timer.now();
        self.close(now);
        self.current = None;
        self.op = index + 1;
        self.last = self.timer.now();
    }
}

/// Profile `images` (of `input_bytes` each) through `forward_probed` and exit:
/// 0 when every pass ran, 2 if the forward pass refused its buffers.
pub fn profile_and_exit<const OPS: usize>(
    board: &str,
    timer: &CmsdkTimer,
    names: &[&str],
    images: &[u8],
    input_bytes: usize,
    mut forward_probed: impl FnMut(&[u8], &mut Profiler<'_, OPS>) -> Result<(), ForwardError>,
) -> ! {
    timer.start();
    let mut prof = Profiler::<OPS>::new(timer);
    prof.calibrate();
    let mut count = 0;
    for img in images.chunks_exact(input_bytes) {
        prof.next_image();
        if forward_probed(img, &mut prof).is_err() {
            defmt::error!("the forward pass refused its buffers");
            semihosting::process::exit(2)
        }
        count += 1;
    }
    prof.report(board, names, count);
    semihosting::process::exit(0)
}
