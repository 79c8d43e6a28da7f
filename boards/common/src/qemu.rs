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

/// Runs the kernel conformance suite on this core's implementation
/// ([`convnext::kernels::Native`]), names each failed check, prints
/// `conformance <board>: N passed, M failed` and exits 0 when none failed.
pub fn conformance_and_exit(board: &str) -> ! {
    let (mut passed, mut failed) = (0u32, 0u32);
    convnext::kernels::conformance::run::<convnext::kernels::Native>(|name, ok| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
            defmt::error!("conformance {=str}: {=str} failed", board, name);
        }
    });
    defmt::println!(
        "conformance {=str}: {} passed, {} failed",
        board,
        passed,
        failed
    );
    semihosting::process::exit(if failed == 0 { 0 } else { 1 })
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
/// "other". What the marks cost is measured and subtracted ([`profile_and_exit`]).
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
    /// Ticks one mark adds to the interval it closes, in 1/256 ticks.
    mark_ticks_q8: u64,
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
            mark_ticks_q8: 0,
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
            self.timer.instructions(self.mark_ticks_q8 >> 8)
        );
        for (op, name) in names.iter().enumerate().take(OPS) {
            for slot in 0..7 {
                let (t, m) = (self.ticks[op][slot], self.marks[op][slot]);
                if m == 0 {
                    continue;
                }
                let net = t.saturating_sub((m * self.mark_ticks_q8) >> 8);
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

/// Profile `images` (of `input_bytes` each) and exit: 0 when every pass
/// ran, 2 if the forward pass refused its buffers. Each image runs twice:
/// through `forward` (plain, timed as a whole) and through `forward_probed`
/// (every phase timed). The difference is what the marks cost where they
/// sit; it is spread over the marks and subtracted, so the phases add up to
/// the plain pass.
pub fn profile_and_exit<const OPS: usize>(
    board: &str,
    timer: &CmsdkTimer,
    names: &[&str],
    images: &[u8],
    input_bytes: usize,
    (arena, logits): (&mut [i8], &mut [i32]),
    forward: impl Fn(&[u8], &mut [i8], &mut [i32]) -> Result<(), ForwardError>,
    forward_probed: impl Fn(
        &[u8],
        &mut [i8],
        &mut [i32],
        &mut Profiler<'_, OPS>,
    ) -> Result<(), ForwardError>,
) -> ! {
    timer.start();
    let mut prof = Profiler::<OPS>::new(timer);
    let (mut count, mut plain, mut probed) = (0u64, 0u64, 0u64);
    for img in images.chunks_exact(input_bytes) {
        let t0 = timer.now();
        let ok = forward(img, arena, logits).is_ok();
        let t1 = timer.now();
        prof.next_image();
        let ok = ok && forward_probed(img, arena, logits, &mut prof).is_ok();
        let t2 = timer.now();
        if !ok {
            defmt::error!("the forward pass refused its buffers");
            semihosting::process::exit(2)
        }
        plain += t1.wrapping_sub(t0) as u64;
        probed += t2.wrapping_sub(t1) as u64;
        count += 1;
    }
    let marks: u64 = prof.marks.iter().flatten().sum();
    prof.mark_ticks_q8 = (probed.saturating_sub(plain) << 8) / marks.max(1);
    defmt::println!(
        "{=str}: profile plain {} instructions per inference over {} images",
        board,
        timer.instructions(plain / count.max(1)),
        count
    );
    defmt::println!(
        "{=str}: profile kernels pointwise {=str}, depthwise {=str}",
        board,
        convnext::kernels::pointwise::VARIANT,
        convnext::kernels::depthwise::VARIANT
    );
    prof.report(board, names, count);
    semihosting::process::exit(0)
}
