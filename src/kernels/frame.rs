//! The kernel frame: each hot primitive as a trait of static functions, one
//! implementation per instruction set in a folder of its own under
//! [`super::arch`] (`portable/`, `dsp/`, `x86/`), and [`super::arch::Native`]
//! the one each target runs. The op files (stem, block, downsample, head,
//! feature map, GRN, f16 block) are orchestration: they call `Native::...`
//! and never name an instruction set or a target.
//!
//! Two kinds of method:
//!
//! * **Inner loops** every implementation has (the paired-row dot product,
//!   the depthwise window's four channels, the single dot product): the op
//!   runs them as they are.
//! * **Wider loops** an instruction set may have (a whole run of row pairs,
//!   a fused pw1 + activation, the host's depthwise plane, vectorised
//!   LayerNorm and epilogues): each returns how much it did (`Option`, a
//!   count of rows or channels, or `bool`), and the op's portable code does
//!   the rest. The defaults do nothing, so an implementation states only
//!   what it speeds up.
//!
//! Integer sums are exact in any order, so every implementation gives the
//! bits of the portable one. [`super::conformance`] checks each against the
//! naive reference, on the host (the portable, DSP-model and x86 forms) and
//! on each emulated core.
//!
//! Dispatch is static (no `dyn`): the no-panic proof of the firmware refuses
//! indirect calls. On the host the x86 implementation asks CPUID once
//! ([`super::arch::avx2_available`]) and falls back to SSE2 and portable
//! loops, with the same bits.

use super::depthwise::Window;
use super::in_place_map::InPlaceMap;
use super::layer_norm::FastNorm;
use super::linear::QLinear;
use super::requantize::ResidualLayer;

/// A tile's accumulators: `P` pixels by `R` rows.
pub type Acc<const P: usize, const R: usize> = [[i32; R]; P];

/// A layer's tables, borrowed: weights, biases, multipliers.
pub type Tables<'a> = QLinear<&'a [u8]>;

/// A per-channel affine: the multipliers' table, the offsets, and the
/// multipliers unpacked (or empty).
pub type Affine<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Multipliers as their table, and unpacked (`c` i32 mantissas, then `c`
/// i32 shifts) or empty.
pub type Multipliers<'a> = (&'a [u8], &'a [u8]);

/// One run of row pairs over a tile ([`PairDot::pairs`]): `x` the tile's
/// `P` pixels (int8 paired, or widened), `weights` the pairs' rows (`2 len`
/// bytes a pair, paired), `wide` the same widened to i16 for the host's
/// loop (or empty), `bias` two i32s a pair; `live` of the `P` pixels count.
#[derive(Clone, Copy)]
pub struct PairRun<'a> {
    /// The tile's inputs.
    pub x: &'a [i8],
    /// The pairs' weights, paired.
    pub weights: &'a [u8],
    /// The weights widened to i16, or empty.
    pub wide: &'a [u8],
    /// Two biases a pair.
    pub bias: &'a [u8],
    /// Elements a row.
    pub len: usize,
    /// Pixels that count.
    pub live: usize,
}

/// The paired-row dot products of the pointwise layers (pw1, pw2, the
/// downsample conv, the classifier) and the single dot product of the stem.
pub trait PairDot {
    /// Name of the form [`PairDot::dot_tile`] runs, for profiles.
    const TILE_VARIANT: &'static str;
    /// Name of the form [`PairDot::dot_wide`] runs, for profiles.
    const WIDE_VARIANT: &'static str;

    /// `acc + Σ a[i] b[i]`, `b` holding int8 two's-complement bytes.
    fn dot_i8(acc: i32, a: &[i8], b: &[u8]) -> i32;

    /// `acc[p][r] += x_p · w_r` over `len` elements, `xw.0` holding `P`
    /// rows and `xw.1` `R` rows (`P`, `R` of 1 or 2) laid out by
    /// [`super::pointwise::paired_offset`].
    fn dot_tile<const P: usize, const R: usize>(
        acc: &mut Acc<P, R>,
        xw: (&[i8], &[u8]),
        len: usize,
    );

    /// `acc[p][r] += x_p · w_r` for two paired weight rows `xw.1` (`2 len`
    /// bytes, `len` a multiple of 4) and `P` pixels of widened int8 input
    /// `xw.0` ([`super::pointwise_wide::wide_offset`]; each i16 a sign-extended
    /// byte, so an implementation may read the low byte alone).
    fn dot_wide<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8]));

    /// [`PairDot::dot_wide`] over i16 inputs that use all their bits (the
    /// blocks' hidden vectors with
    /// [`super::block::BlockParams::hidden16`]). Implementations whose
    /// `dot_wide` reads whole halfwords keep this default.
    #[inline(always)]
    fn dot_wide16<const P: usize>(acc: &mut Acc<P, 2>, xw: (&[i8], &[u8])) {
        Self::dot_wide(acc, xw)
    }

    /// A whole run of row pairs (over widened inputs with `WIDE`), each
    /// pair's sums from its biases into `out`, as many pairs as `out`, the
    /// weights and the biases hold; `None` where this implementation has no
    /// such loop for these sizes.
    #[inline(always)]
    fn pairs<const WIDE: bool, const P: usize>(
        out: &mut [Acc<P, 2>],
        run: PairRun,
    ) -> Option<usize> {
        let _ = (out, run);
        None
    }
}

/// The 7x7 depthwise: a window's channels, and the host's padded plane.
pub trait DepthwiseKernel {
    /// Name of the form [`DepthwiseKernel::group`] runs, for profiles.
    const VARIANT: &'static str;

    /// Channels `ch..ch + 4` of `win` over every tap: `Σ (x − zx) w`.
    fn group(win: &Window, ch: usize, zx: i32) -> [i32; 4];

    /// Whole groups of wider loops from channel 0, as little-endian i32s
    /// into `out` (as [`Window::run`] writes them); the channels done.
    #[inline(always)]
    fn wide_groups(win: &Window, zx: i32, out: &mut [i8]) -> usize {
        let _ = (win, zx, out);
        0
    }

    /// Bytes of the padded plane a block of this map reads its depthwise
    /// from; 0 where this implementation has none.
    #[inline(always)]
    fn plane_bytes(map: InPlaceMap) -> usize {
        let _ = map;
        0
    }

    /// Builds the plane from the block's untouched input `x`; whether it did.
    #[inline(always)]
    fn build_plane(x: &[i8], map: InPlaceMap, zx: i32, plane: &mut [i8]) -> bool {
        let _ = (x, map, zx, plane);
        false
    }

    /// The depthwise of some of the map's pixels from the plane,
    /// requantized into `out` (`4c` bytes a pixel); whether it did.
    #[inline(always)]
    fn plane_depthwise(plane: &[i8], at: PlaneRun, out: &mut [i8]) -> bool {
        let _ = (plane, at, out);
        false
    }
}

/// What [`DepthwiseKernel::plane_depthwise`] computes: the map, its
/// prepared weights ([`super::prepared::BlockPrepared::dw_rows`], `dw_zero`), the
/// requantization to the LayerNorm input, and the pixels `p0..p0 + n`.
#[derive(Clone, Copy)]
pub struct PlaneRun<'a> {
    /// The block's map.
    pub map: InPlaceMap,
    /// The weights paired along each window row, as i16 pairs.
    pub rows: &'a [u8],
    /// Per channel `zx Σ w`, as i32s.
    pub zero: &'a [u8],
    /// The requantization.
    pub requant: DwRequant<'a>,
    /// The first pixel.
    pub p0: usize,
    /// Pixels.
    pub n: usize,
}

/// The depthwise's requantization to the LayerNorm input: per channel the
/// bias (i32), the multipliers' table, and the same unpacked (`c`
/// mantissas, then `c` shifts, as i32s; [`super::prepared::BlockPrepared::dw_requant`]).
#[derive(Clone, Copy)]
pub struct DwRequant<'a> {
    /// Biases, `c` i32s.
    pub bias: &'a [u8],
    /// The multipliers' table ([`super::Requant::BYTES`] each).
    pub table: &'a [u8],
    /// The multipliers unpacked.
    pub unpacked: &'a [u8],
}

/// LayerNorm's statistics and output passes, several channels a step.
pub trait NormKernel {
    /// `(Σ x, Σ x²)` of a pixel's `c` values (`W` bytes each: 1 for int8,
    /// 4 for i32), where a wider loop takes them.
    #[inline(always)]
    fn statistics<const W: usize>(v: &[i8], c: usize) -> Option<(i64, i64)> {
        let _ = (v, c);
        None
    }

    /// A pixel's `c` i32 values through `f`, 4 channels a `put` as the
    /// widened layout's 8 bytes; whether it did.
    #[inline(always)]
    fn widened_groups(v: &[i8], f: FastNorm, c: usize, put: impl FnMut(usize, [u8; 8])) -> bool {
        let _ = (v, f, c, put);
        false
    }

    /// A pixel's `c` int8 values through `f`, 4 channels a `put`; whether
    /// it did.
    #[inline(always)]
    fn int8_groups(v: &[i8], f: FastNorm, c: usize, put: impl FnMut(usize, [u8; 4])) -> bool {
        let _ = (v, f, c, put);
        false
    }

    /// A pixel's `c` i32 values through `f` and the per-channel affine into
    /// `out`; whether it did.
    #[inline(always)]
    fn affine_out(v: &[i8], f: FastNorm, affine: Affine, out: &mut [i8], c: usize) -> bool {
        let _ = (v, f, affine, out, c);
        false
    }
}

/// Requantization and activation epilogues over many channels at once.
pub trait EpilogueKernel {
    /// pw1's activation epilogue over a group of four rows and 8 pixels,
    /// its multipliers prepared once a batch; [`core::convert::Infallible`]
    /// where there is no such loop.
    type Quad: QuadActivation;

    /// `c` i32 sums in `out` each to `requantize_plus(sum, requant, bias)`,
    /// in place; whether it did.
    #[inline(always)]
    fn requantize_plus_in_place(out: &mut [i8], bias: &[u8], rq: Multipliers, c: usize) -> bool {
        let _ = (out, bias, rq, c);
        false
    }

    /// The `c` multipliers of `requant` unpacked into `buf` for the loops
    /// above; empty where they are not used.
    #[inline(always)]
    fn unpack_requants<'a>(requant: &[u8], c: usize, buf: &'a mut [u8]) -> &'a [u8] {
        let _ = (requant, c, buf);
        &[]
    }

    /// pw2's layer scale and residual for groups of 4 row pairs over up to
    /// 8 pixels of `x`; the pairs done.
    #[inline(always)]
    fn residual_groups(x: &mut [i8], run: ResidualRun) -> usize {
        let _ = (x, run);
        0
    }
}

/// What [`EpilogueKernel::residual_groups`] computes: `pixels` pixels of
/// `c` channels, from output row `first_row` on; pair `j`'s rows of pixel
/// `t` at `accs[8 j + t]`, their multipliers in `requant` and their
/// stream mantissas in `residual` (both from `first_row`).
#[derive(Clone, Copy)]
pub struct ResidualRun<'a> {
    /// Channels a pixel.
    pub c: usize,
    /// Pixels.
    pub pixels: usize,
    /// The first output row.
    pub first_row: usize,
    /// The row pairs' sums.
    pub accs: &'a [[i32; 2]],
    /// Their multipliers.
    pub requant: &'a [u8],
    /// Their stream mantissas (little-endian i32s, from `first_row`).
    pub residual: &'a [u8],
    /// The layer's residual form.
    pub layer: ResidualLayer,
}

/// pw1's activation epilogue for a group of four rows over 8 pixels
/// ([`EpilogueKernel::Quad`]).
pub trait QuadActivation: Copy {
    /// The group's prepared multipliers from its four table entries
    /// (`None` where a row has no halved form, or there is no such loop).
    fn from_requants(requant: &[u8]) -> Option<Self>;

    /// Two row pairs' accumulators over 8 pixels (`acc`: pair 0's 8
    /// pixels, then pair 1's) requantized in the halved form
    /// ([`super::requantize::Halved::apply`] with `act.plus`), saturated and
    /// looked up in `act.table`, into the paired hidden bytes `out` (pixel
    /// `t`'s 4 rows at `4t`); whether it did.
    fn activate32(self, acc: &[[i32; 2]; 16], act: ActTable, out: &mut [i8; 32]) -> bool;
}

/// No such loop: nothing is ever prepared.
impl QuadActivation for core::convert::Infallible {
    fn from_requants(_: &[u8]) -> Option<Self> {
        None
    }

    fn activate32(self, _: &[[i32; 2]; 16], _: ActTable, _: &mut [i8; 32]) -> bool {
        match self {}
    }
}

/// An activation table and the constant of the halved requantization in
/// front of it ([`super::requantize::Halved::plus`] of the zero point).
#[derive(Clone, Copy)]
pub struct ActTable<'a> {
    /// Output byte for each saturated pre-activation, from -128 up.
    pub table: &'a [u8; 256],
    /// `1 + 2 zero point`.
    pub plus: i32,
}

/// A 16-bit activation table and the prepared zero point of its
/// pre-activations (blocks with [`crate::kernels::block::BlockParams::hidden16`]).
#[derive(Debug, Clone, Copy)]
pub struct ActTable16<'a> {
    /// Output i16 (little-endian) for each saturated pre-activation, from
    /// -128 up.
    pub table: &'a [u8; 512],
    /// `1 + 2 zero point`.
    pub plus: i32,
}

/// Whole two-pixel MLP and conv loops with their epilogues inside, where an
/// instruction set keeps a tile's values in registers across them (the DSP
/// cores' `asm!` loops). Each returns the rows it did, from the first; the
/// op's general loop goes on from there.
pub trait FusedKernel {
    /// Whether any of these loops exists here (the ops skip the setup when
    /// not).
    const FUSED: bool = false;

    /// pw1 + activation of two pixels of widened input `x` into the paired
    /// (or, `WIDE`, widened) hidden vectors `out`, whole groups of four rows.
    #[inline(always)]
    fn pw1_activate<const WIDE: bool>(out: &mut [i8], x: &[i8], l: (Tables, ActTable)) -> usize {
        let _ = (out, x, l);
        0
    }

    /// [`FusedKernel::pw1_activate`] with a 16-bit table, into widened
    /// hidden vectors that hold its i16 outputs.
    #[inline(always)]
    fn pw1_activate16(out: &mut [i8], x: &[i8], l: (Tables, ActTable16)) -> usize {
        let _ = (out, x, l);
        0
    }

    /// pw2, layer scale and residual of two pixels (`x`, `c` channels
    /// each) from their paired (or, `WIDE`, widened) hidden vectors; the
    /// last of `l` is each row's stream mantissa (little-endian i32s).
    #[inline(always)]
    fn pw2_residual<const WIDE: bool>(
        x: &mut [i8],
        h: &[i8],
        l: (Tables, ResidualLayer, &[u8]),
    ) -> usize {
        let _ = (x, h, l);
        0
    }

    /// A conv's row pairs over two pixels' paired windows `x`, requantized
    /// in the halved form with `plus`; pixel a's outputs to `out[o]`, b's to
    /// `out[cout + o]` (`out` is `2 cout` long).
    #[inline(always)]
    fn conv_halved(out: &mut [i8], x: &[i8], l: (Tables, i32)) -> usize {
        let _ = (out, x, l);
        0
    }
}

/// The stem's patch: every output's dot product at once.
pub trait StemKernel {
    /// What the stem prepares once per call (the weights rearranged, the
    /// multipliers unpacked); [`core::convert::Infallible`] where this
    /// implementation has no patch loop.
    type Prepared: StemPatch;

    /// The preparation for a stem of `shape.1` outputs over patches of
    /// `shape.0` bytes from its conv's tables and its affine's multipliers;
    /// `None` where there is no patch loop for it.
    fn prepare(conv: Tables, affine: &[u8], shape: (usize, usize)) -> Option<Self::Prepared>;
}

/// A stem's prepared patch loop ([`StemKernel::Prepared`]).
pub trait StemPatch {
    /// Every output's conv sum of `patch`, requantized with the conv's
    /// biases and multipliers (`conv`) to the LayerNorm input, as
    /// little-endian i32s into `out` (`4 cout` bytes).
    fn conv_patch(&mut self, patch: &[i8], conv: Tables, out: &mut [i8]);

    /// The affine's multipliers unpacked (for [`NormKernel::affine_out`]).
    fn affine_unpacked(&self) -> &[u8];
}

/// No patch loop: nothing is ever prepared.
impl StemPatch for core::convert::Infallible {
    fn conv_patch(&mut self, _: &[i8], _: Tables, _: &mut [i8]) {
        match *self {}
    }

    fn affine_unpacked(&self) -> &[u8] {
        match *self {}
    }
}

/// Everything an instruction set implements: what [`super::arch::Native`]
/// is.
pub trait Kernels:
    PairDot + DepthwiseKernel + NormKernel + EpilogueKernel + FusedKernel + StemKernel
{
}

impl<K> Kernels for K where
    K: PairDot + DepthwiseKernel + NormKernel + EpilogueKernel + FusedKernel + StemKernel
{
}
