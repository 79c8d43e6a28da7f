//! Every board, described once. `board-build-support` writes each board's
//! `memory.x` and its `board.rs` constants from this table; xtask's size
//! table and CI's board list read it too. Plain data, no dependencies: both
//! include it with `#[path]`.

/// A memory region.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// First address.
    pub origin: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// How a board runs the firmware.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// Under `qemu-system-arm -machine <machine>` in CI; the CMSDK APB
    /// timer 0 at `timer_base`, `timer_ns_per_tick` ns a tick, counts time.
    Qemu {
        /// QEMU machine (its default CPU is the board's core).
        machine: &'static str,
        /// Address of CMSDK APB timer 0 (through the Secure alias on AN505).
        timer_base: u64,
        /// Nanoseconds per timer tick.
        timer_ns_per_tick: u64,
    },
    /// On hardware with `probe-rs run --chip <chip>`; CI builds it only.
    ProbeRs {
        /// probe-rs chip name.
        chip: &'static str,
    },
}

/// One board crate.
#[derive(Debug, Clone, Copy)]
pub struct Board {
    /// Folder under `boards/`, also the crate and binary name.
    pub dir: &'static str,
    /// Name in the firmware's summary line and the README.
    pub name: &'static str,
    /// Rust target.
    pub target: &'static str,
    /// Core, as the README names it.
    pub core: &'static str,
    /// `-C target-cpu`: the core the code is scheduled for.
    pub cpu: &'static str,
    /// Flash (or code memory).
    pub flash: Region,
    /// RAM the firmware may use.
    pub ram: Region,
    /// Bytes at the start of flash reserved for a second-stage bootloader
    /// (`.boot2`, RP2040).
    pub boot2_bytes: u64,
    /// How it runs.
    pub run: Run,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The Cortex-M4F MPS2 board; the M7 one (AN500) differs only in its core.
const AN386: Board = Board {
    dir: "qemu-mps2-an386",
    name: "qemu-an386",
    target: "thumbv7em-none-eabihf",
    core: "Cortex-M4F (QEMU mps2-an386)",
    cpu: "cortex-m4",
    flash: Region {
        origin: 0,
        bytes: 4 * MIB,
    },
    ram: Region {
        origin: 0x2000_0000,
        bytes: 4 * MIB,
    },
    boot2_bytes: 0,
    run: Run::Qemu {
        machine: "mps2-an386",
        timer_base: 0x4000_0000,
        timer_ns_per_tick: 40,
    },
};

/// All boards, the emulated ones first.
pub const BOARDS: [Board; 7] = [
    AN386,
    Board {
        dir: "qemu-mps2-an500",
        name: "qemu-an500",
        core: "Cortex-M7 (QEMU mps2-an500)",
        cpu: "cortex-m7",
        run: Run::Qemu {
            machine: "mps2-an500",
            timer_base: 0x4000_0000,
            timer_ns_per_tick: 40,
        },
        ..AN386
    },
    Board {
        dir: "qemu-mps2-an505",
        name: "qemu-an505",
        target: "thumbv8m.main-none-eabihf",
        core: "Cortex-M33 (QEMU mps2-an505)",
        cpu: "cortex-m33",
        // Running Secure: code in SSRAM1's secure alias, data in SSRAM2's.
        flash: Region {
            origin: 0x1000_0000,
            bytes: 4 * MIB,
        },
        ram: Region {
            origin: 0x3800_0000,
            bytes: 2 * MIB,
        },
        boot2_bytes: 0,
        run: Run::Qemu {
            machine: "mps2-an505",
            timer_base: 0x5000_0000,
            timer_ns_per_tick: 50,
        },
    },
    Board {
        dir: "qemu-mps2-an385",
        name: "qemu-an385",
        target: "thumbv6m-none-eabi",
        // QEMU models no Cortex-M0+ MPS2 board; its M3 runs the Armv6-M
        // build (the RP2040's) bit for bit, so CI checks and counts that path.
        core: "Cortex-M3 running the Armv6-M build (QEMU mps2-an385)",
        cpu: "cortex-m0plus",
        run: Run::Qemu {
            machine: "mps2-an385",
            timer_base: 0x4000_0000,
            timer_ns_per_tick: 40,
        },
        ..AN386
    },
    Board {
        dir: "stm32f746g-disco",
        name: "stm32f746g-disco",
        target: "thumbv7em-none-eabihf",
        core: "Cortex-M7 (STM32F746NG)",
        cpu: "cortex-m7",
        flash: Region {
            origin: 0x0800_0000,
            bytes: MIB,
        },
        // DTCM (64K) + SRAM1 (240K) + SRAM2 (16K), contiguous.
        ram: Region {
            origin: 0x2000_0000,
            bytes: 320 * KIB,
        },
        boot2_bytes: 0,
        run: Run::ProbeRs {
            chip: "STM32F746NGHx",
        },
    },
    Board {
        dir: "nrf52840-dk",
        name: "nrf52840-dk",
        target: "thumbv7em-none-eabihf",
        core: "Cortex-M4F (nRF52840)",
        cpu: "cortex-m4",
        flash: Region {
            origin: 0,
            bytes: MIB,
        },
        // No SoftDevice.
        ram: Region {
            origin: 0x2000_0000,
            bytes: 256 * KIB,
        },
        boot2_bytes: 0,
        run: Run::ProbeRs {
            chip: "nRF52840_xxAA",
        },
    },
    Board {
        dir: "rpi-pico",
        name: "rpi-pico",
        target: "thumbv6m-none-eabi",
        core: "Cortex-M0+ (RP2040)",
        cpu: "cortex-m0plus",
        // 2 MiB QSPI flash; its first 256 bytes hold the second-stage bootloader.
        flash: Region {
            origin: 0x1000_0000,
            bytes: 2 * MIB,
        },
        // Four striped 64K banks, then SRAM4 and SRAM5 (4K each), contiguous.
        ram: Region {
            origin: 0x2000_0000,
            bytes: 264 * KIB,
        },
        boot2_bytes: 0x100,
        run: Run::ProbeRs { chip: "RP2040" },
    },
];

impl Board {
    /// The board whose crate (and folder) is `dir`.
    pub fn by_dir(dir: &str) -> Option<&'static Board> {
        BOARDS.iter().find(|b| b.dir == dir)
    }

    /// The runtime's features the board builds it with: `dsp` on the
    /// Armv8-M Mainline cores (their DSP extension is optional, so the
    /// target does not imply it; the M33 of AN505 has it).
    pub fn runtime_features(&self) -> &'static [&'static str] {
        if self.target.starts_with("thumbv8m.main") {
            &["dsp"]
        } else {
            &[]
        }
    }

    /// True for boards CI runs under QEMU.
    pub fn emulated(&self) -> bool {
        matches!(self.run, Run::Qemu { .. })
    }

    /// The linker script `cortex-m-rt` includes.
    pub fn memory_x(&self) -> String {
        let mut regions = String::new();
        let mut sections = String::new();
        if self.boot2_bytes > 0 {
            regions += &format!(
                "  BOOT2 : ORIGIN = {:#010x}, LENGTH = {:#x}\n",
                self.flash.origin, self.boot2_bytes
            );
            sections += "\nSECTIONS\n{\n  .boot2 ORIGIN(BOOT2) :\n  {\n    KEEP(*(.boot2));\n  } > BOOT2\n} INSERT BEFORE .text;\n";
        }
        format!(
            "/* {} ({}): generated from boards/boards.rs. */\nMEMORY\n{{\n{regions}  FLASH : ORIGIN = {:#010x}, LENGTH = {}\n  RAM   : ORIGIN = {:#010x}, LENGTH = {}\n}}\n{sections}",
            self.name,
            self.core,
            self.flash.origin + self.boot2_bytes,
            self.flash.bytes - self.boot2_bytes,
            self.ram.origin,
            self.ram.bytes
        )
    }
}
