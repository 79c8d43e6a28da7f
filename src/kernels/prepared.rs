//! The host's prepared copies of a layer's tables, which its wider loops
//! read instead of unpacking the tables again for every tile
//! (`convnext_codegen::host_wide` builds them on x86-64 hosts). They are
//! typed, and never part of an op's params: firmware has none (its kernels
//! run with [`NoHost`], which costs nothing), and the host's plan keeps
//! them beside its ops and hands them to [`crate::network::Op::run_tiled`].
//! A part that is missing or of the wrong length makes that loop work from
//! the tables instead, with the same bits.

/// A block's prepared tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockPrepared<B> {
    /// pw1's weights widened to i16, each 4-weight chunk in its widened
    /// input's order (0, 2, 1, 3).
    pub pw1: B,
    /// pw2's weights widened to i16 (byte `i` at `2i`, `2i + 1`).
    pub pw2: B,
    /// The depthwise's `C` multipliers' mantissas, then `C` shifts, as
    /// i32s.
    pub dw_requant: B,
    /// The depthwise's weights paired along each window row, for the
    /// host's plane: per row `ky`, per pair of taps `(0, 1)`, `(2, 3)`,
    /// `(4, 5)`, `(6, none)` ([`ROW_PAIRS`]), per channel, the two weights
    /// as i16s (the missing tap's are 0); empty unless `C` is a multiple of
    /// 8 ([`dw_rows_bytes`]).
    pub dw_rows: B,
    /// Per channel, `zx Σ_taps w` as an i32 (with `dw_rows`).
    pub dw_zero: B,
}

impl<B: AsRef<[u8]>> BlockPrepared<B> {
    /// The tables borrowed.
    pub fn view(&self) -> BlockPrepared<&[u8]> {
        BlockPrepared {
            pw1: self.pw1.as_ref(),
            pw2: self.pw2.as_ref(),
            dw_requant: self.dw_requant.as_ref(),
            dw_rows: self.dw_rows.as_ref(),
            dw_zero: self.dw_zero.as_ref(),
        }
    }
}

/// Tap pairs of a window row in [`BlockPrepared::dw_rows`]: (0, 1), (2, 3),
/// (4, 5), (6, none).
pub const ROW_PAIRS: usize = 4;

/// Bytes of [`BlockPrepared::dw_rows`] and [`BlockPrepared::dw_zero`] for
/// `c` channels (none unless `c` is a multiple of 8).
pub fn dw_rows_bytes(c: usize) -> (usize, usize) {
    if c.is_multiple_of(8) {
        (7 * ROW_PAIRS * 4 * c, 4 * c)
    } else {
        (0, 0)
    }
}

/// An op's prepared tables, if it has any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prepared<B> {
    /// None: the loops work from the op's tables.
    #[default]
    None,
    /// A block's.
    Block(BlockPrepared<B>),
    /// A downsample's: its conv's weights widened to i16, in their paired
    /// layout.
    Downsample(B),
}

impl<B: AsRef<[u8]>> Prepared<B> {
    /// The tables borrowed.
    pub fn view(&self) -> Prepared<&[u8]> {
        match self {
            Prepared::None => Prepared::None,
            Prepared::Block(b) => Prepared::Block(b.view()),
            Prepared::Downsample(d) => Prepared::Downsample(d.as_ref()),
        }
    }
}

/// What the block and downsample kernels are generic over: the host's
/// prepared tables ([`Prepared`]), or none ([`NoHost`], a zero-sized type,
/// so the firmware's copies of the kernels carry nothing of them).
pub trait HostTables: Copy {
    /// A block's prepared tables (all empty where there are none).
    fn block(&self) -> BlockPrepared<&[u8]>;
    /// A downsample's widened conv weights (empty where there are none).
    fn conv(&self) -> &[u8];
}

/// No prepared tables: the firmware's kernels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl HostTables for NoHost {
    #[inline(always)]
    fn block(&self) -> BlockPrepared<&[u8]> {
        BlockPrepared::default()
    }

    #[inline(always)]
    fn conv(&self) -> &[u8] {
        &[]
    }
}

impl HostTables for Prepared<&[u8]> {
    #[inline(always)]
    fn block(&self) -> BlockPrepared<&[u8]> {
        match self {
            Prepared::Block(b) => *b,
            _ => BlockPrepared::default(),
        }
    }

    #[inline(always)]
    fn conv(&self) -> &[u8] {
        match self {
            Prepared::Downsample(d) => d,
            _ => &[],
        }
    }
}
