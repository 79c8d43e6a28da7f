//! Flash and RAM use of a 32-bit little-endian ELF, from its section headers:
//! flash = every allocated section with contents (code, read-only data, the
//! load image of .data); RAM = allocated sections inside the RAM region.

/// Bytes of flash and of static RAM.
pub struct Usage {
    /// text + rodata + data load image.
    pub flash: u64,
    /// data + bss (+ uninit), arena included when it is a static.
    pub ram: u64,
}

fn u16_at(b: &[u8], o: usize) -> u64 {
    u16::from_le_bytes([b[o], b[o + 1]]) as u64
}

fn u32_at(b: &[u8], o: usize) -> u64 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64
}

/// Usage of the ELF at `path`; `ram` is the RAM region `[start, end)`.
pub fn usage(path: &std::path::Path, ram: (u64, u64)) -> Result<Usage, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < 52 || &b[..4] != b"\x7fELF" || b[4] != 1 || b[5] != 1 {
        return Err(format!(
            "{}: not a 32-bit little-endian ELF",
            path.display()
        ));
    }
    let (shoff, shentsize, shnum) = (
        u32_at(&b, 0x20) as usize,
        u16_at(&b, 0x2e) as usize,
        u16_at(&b, 0x30) as usize,
    );
    let (mut flash, mut ram_used) = (0, 0);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        if h + 40 > b.len() {
            return Err(format!(
                "{}: section header {i} out of range",
                path.display()
            ));
        }
        let (ty, flags, addr, size) = (
            u32_at(&b, h + 4),
            u32_at(&b, h + 8),
            u32_at(&b, h + 12),
            u32_at(&b, h + 20),
        );
        const SHF_ALLOC: u64 = 2;
        const SHT_NOBITS: u64 = 8;
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        if ty != SHT_NOBITS {
            flash += size;
        }
        if addr >= ram.0 && addr < ram.1 {
            ram_used += size;
        }
    }
    Ok(Usage {
        flash,
        ram: ram_used,
    })
}
