//! One ConvNeXt block, `x + γ·pw2(act(pw1(LN(dw7x7(x)))))`, fused per pixel
//! and in place over the residual stream `x` (see [`InPlaceMap`] for the
//! ring of originals that makes the depthwise in place). A ConvNeXt V2 block
//! (GRN after the activation, [`super::grn`]) first runs a statistics pass
//! that recomputes every hidden vector without writing `x`, then the
//! fused pass with GRN applied to each tile's hidden vectors: the hidden
//! tensor is never whole, at the cost of a second depthwise and pw1.
//!
//! Pixels go two at a time ([`TILE_PIXELS`]) so the MLP runs as 2x2 tiles
//! (`kernels/mlp.rs`) over paired operands; the host, given the scratch,
//! takes 8 at a time ([`HOST_TILE_PIXELS`], [`block_in_place_tiled`]) for
//! its SIMD loops. The depthwise output, the LayerNorm
//! output and the 4C hidden vector exist for one tile at a time: scratch is
//! the ring plus `6C` bytes per tile pixel (`4C` for the depthwise outputs as
//! i32, which the hidden vectors later overwrite, and `2C` for the
//! normalised vector, widened to i16 when `C` is a multiple of 4); `x[p]`
//! keeps its original until pw2 writes the block's output over it.

use super::arch::Native;
use super::arena::{i32s, store_i32};
use super::depthwise::{Tap, Window, MAX_TAPS};
use super::frame::{DepthwiseKernel, DwRequant, EpilogueKernel, FusedKernel, NormKernel, PlaneRun};
use super::grn::{accumulate, stats_bytes, GrnParams};
use super::in_place_map::{
    host_tile, tile_lanes, InPlaceMap, HOST_GROUP_PIXELS, HOST_TILE_PIXELS, TILE_PIXELS,
};
use super::layer_norm::{layer_norm, LayerNormParams, PixelNorm};
use super::linear::QLinear;
use super::mlp::{pw1_tile, pw1_wide, pw1_wide16, pw2_tile};
use super::placement::{OpFootprint, Placement};
use super::pointwise::paired_offset;
use super::pointwise_wide::wide_offset;
use super::prepared::{HostTables, NoHost};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::{clamp_i8, requantize_plus_each, Requant};
use super::tables::i32_at;

/// Bits of the i16 hidden values ([`BlockParams::hidden16`]) of a block
/// `c` wide: 12, fewer where pwconv2's `4C` products of them with int8
/// weights could reach 2^30 (so the sum with a bias of at most 2^30 stays
/// inside i32).
pub const fn hidden_bits(c: usize) -> u32 {
    let mut bits = 12;
    while bits > 8 && 4 * c as u64 * (1u64 << (bits - 1)) * 128 >= 1 << 30 {
        bits -= 1;
    }
    bits
}

/// Constants and placement of one int8 block. `at.input_offset ==
/// at.output_offset` is `x`; the scratch holds the ring, then `4C` bytes per
/// tile pixel (depthwise outputs as i32, later the hidden vectors as int8;
/// `8C` with [`BlockParams::hidden16`]), then `2C` per tile pixel (the
/// normalised vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockParams<B = &'static [u8]> {
    /// Shape of `x`.
    pub map: InPlaceMap,
    /// Arena placement.
    pub at: Placement,
    /// Zero point of `x`.
    pub x_zero_point: i32,
    /// Depthwise 7x7: weights `[7][7][c]`, per channel a multiplier to the
    /// LayerNorm input scale and a bias in that scale's units.
    pub dw: QLinear<B>,
    /// LayerNorm constants.
    pub ln: LayerNormParams,
    /// Normalised value to the int8 LayerNorm output (zero point 0).
    pub ln_requant: Requant,
    /// `[4c][c]` laid out for 2-row tiles ([`paired_offset`]), LayerNorm γ
    /// and β folded in, to the pre-activation scale.
    pub pw1: QLinear<B>,
    /// Zero point of the pre-activation.
    pub pw1_zero_point: i32,
    /// Activation table, indexed by pre-activation + 128: 256 int8 values,
    /// or with [`BlockParams::hidden16`] 256 little-endian i16s.
    pub act_table: B,
    /// `[c][4c]` laid out for 2-row tiles ([`paired_offset`]), activation
    /// zero point folded into the bias; multipliers carry layer scale γ and
    /// go to the output scale.
    pub pw2: QLinear<B>,
    /// Input stream scale to the output stream scale, channel by channel
    /// (each stream's channels have scales of their own): `c`
    /// little-endian i32 mantissas sharing [`BlockParams::residual_shift`].
    pub residual: B,
    /// The shift of every multiplier in [`BlockParams::residual`].
    pub residual_shift: i32,
    /// Zero point of the output stream.
    pub out_zero_point: i32,
    /// ConvNeXt V2's GRN between the activation and pw2 (pw2 then reads
    /// GRN outputs: its bias folds their zero point instead).
    pub grn: Option<GrnParams<B>>,
    /// Room for the hidden vectors widened to i16 (`8C` bytes a tile
    /// pixel above the normalised vectors), which DSP cores use for a
    /// v1 block whose `C` is a multiple of 8: pw2 then reads them without
    /// sign-extending. The planner sets it where the room costs no arena.
    pub wide_hidden: bool,
    /// The hidden vectors pwconv2 reads are i16 over [`hidden_bits`]
    /// (widened, [`wide_offset`]): v1's from the i16 activation table, V2's
    /// from GRN (its input, the activation, stays int8). Finer steps than
    /// int8 where those values are widest, for `4C` more bytes of scratch a
    /// tile pixel. Only for blocks whose `C` is a multiple of 4 (codegen
    /// sets it only there; elsewhere the block writes nothing).
    pub hidden16: bool,
}

impl<B: AsRef<[u8]>> OpFootprint for BlockParams<B> {
    fn input_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn output_bytes(&self) -> usize {
        self.map.bytes()
    }
    fn scratch_bytes(&self) -> usize {
        self.scratch_bytes_tiled(TILE_PIXELS)
    }
    fn weights_bytes(&self) -> usize {
        self.dw.weights_bytes()
            + self.pw1.weights_bytes()
            + self.pw2.weights_bytes()
            + self.act_table.as_ref().len()
            + self.residual.as_ref().len()
            + self.grn.as_ref().map_or(0, GrnParams::weights_bytes)
    }
    /// With GRN, the statistics pass's depthwise and pw1 count again.
    fn macs(&self) -> u64 {
        let InPlaceMap { h, w, c } = self.map;
        let once = self.map.depthwise_macs() + (h * w * 4 * c * c) as u64;
        let pw2 = (h * w * 4 * c * c) as u64;
        once * (1 + self.grn.is_some() as u64) + pw2
    }
}

impl<B: AsRef<[u8]>> BlockParams<B> {
    /// Output channel `o`'s multiplier of the input stream (the zero
    /// multiplier past the table's end).
    #[inline(always)]
    pub fn residual_at(&self, o: usize) -> Requant {
        Requant::new(i32_at(self.residual.as_ref(), o), self.residual_shift)
    }

    /// Scratch bytes for tiles of `tile` pixels: the ring, then the
    /// depthwise outputs (i32, 4C a pixel), later the hidden vectors (4C a
    /// pixel), and the normalised vectors (i16, 2C a pixel) above them;
    /// GRN's statistics; on x86-64 hosts with wider tiles than the boards',
    /// the depthwise's plane ([`DepthwiseKernel::plane_bytes`]) last.
    pub fn scratch_bytes_tiled(&self, tile: usize) -> usize {
        let wide = if tile == TILE_PIXELS {
            self.wide_hidden_bytes()
        } else {
            0
        };
        self.plane_offset(tile) - self.at.scratch_offset + wide + self.plane_bytes(tile)
    }

    /// Arena offset of the host's plane for tiles of `tile` pixels: past
    /// the ring, the tile's vectors and GRN's statistics.
    fn plane_offset(&self, tile: usize) -> usize {
        let grn = self.grn.as_ref().map_or(0, |_| stats_bytes(4 * self.map.c));
        self.at.scratch_offset + self.map.ring_bytes() + tile * self.tile_pixel_bytes() + grn
    }

    /// Bytes a tile pixel's depthwise outputs and hidden vector take: `4C`,
    /// or `8C` with [`BlockParams::hidden16`].
    pub fn hidden_pixel_bytes(&self) -> usize {
        if self.hidden16 {
            8 * self.map.c
        } else {
            4 * self.map.c
        }
    }

    /// Bytes of a tile pixel's vectors: its depthwise outputs (later its
    /// hidden vector) and its normalised vector.
    pub fn tile_pixel_bytes(&self) -> usize {
        self.hidden_pixel_bytes() + 2 * self.map.c
    }

    /// Bytes of the host's plane for tiles of `tile` pixels: none on the
    /// boards' tiles, off x86-64, unless `C` is a multiple of 8, or where
    /// the plane is both large (over 256 KiB) and mostly padding (over 1.5
    /// times the map's pixels). Measured (`convnext bench`, tiny-224): the
    /// 14x14x384 and 7x7x768 blocks' planes (600 and 520 KB, 2 and 3.4
    /// times their maps) made the model 0.8 ms slower than the per-pixel
    /// loops; the default model's and atto-224's smaller ones are faster.
    fn plane_bytes(&self, tile: usize) -> usize {
        if tile != TILE_PIXELS {
            let m = self.map;
            let bytes = Native::plane_bytes(m);
            let padded = (m.h + 6) * (m.w + 6);
            if bytes <= 256 * 1024 || 2 * padded <= 3 * m.h * m.w {
                return bytes;
            }
        }
        0
    }

    /// Builds the host's plane for tiles of `tile` pixels from the block's
    /// untouched input ([`DepthwiseKernel::build_plane`]); its bytes,
    /// or 0 where there is none (nothing to build it for, or no room).
    #[inline]
    fn build_plane(&self, host: impl HostTables, arena: &mut [i8], tile: usize) -> usize {
        let n = self.plane_bytes(tile);
        if n > 0 && !host.block().dw_rows.is_empty() {
            let m = self.map;
            let x = self.at.input_offset..self.at.input_offset + m.bytes();
            let Some((lo, hi)) = arena.split_at_mut_checked(self.plane_offset(tile)) else {
                return 0;
            };
            let (Some(x), Some(plane)) = (lo.get(x), hi.get_mut(..n)) else {
                return 0;
            };
            let zx = self.x_zero_point;
            if Native::build_plane(x, m, zx, plane) {
                return n;
            }
        }
        0
    }

    /// The room [`BlockParams::wide_hidden`] asks for (0 when off). A
    /// shorter arena runs the block too, with the paired hidden vectors:
    /// the same bits.
    pub fn wide_hidden_bytes(&self) -> usize {
        if self.wide_hidden {
            TILE_PIXELS * 8 * self.map.c
        } else {
            0
        }
    }

    /// The tile the host runs in an arena of `len` bytes: a group of
    /// [`HOST_GROUP_PIXELS`] where its scratch fits (and the block has no
    /// GRN, whose passes run 8-pixel tiles), else [`HOST_TILE_PIXELS`]
    /// where that scratch fits (and the MLP's widened form applies), else
    /// [`TILE_PIXELS`].
    pub fn host_tile(&self, len: usize) -> usize {
        let end = |tile| self.at.scratch_offset + self.scratch_bytes_tiled(tile);
        match host_tile(self.map.c.is_multiple_of(4), len, end(HOST_TILE_PIXELS)) {
            HOST_TILE_PIXELS if self.grn.is_none() && len >= end(HOST_GROUP_PIXELS) => {
                HOST_GROUP_PIXELS
            }
            tile => tile,
        }
    }
}

/// Run one block over the arena, with or without GRN.
pub fn block_in_place<B: AsRef<[u8]>>(p: &BlockParams<B>, arena: &mut [i8]) {
    if p.grn.is_some() {
        block_grn_in_place_probed(p, arena, &mut NoProbe)
    } else {
        block_in_place_probed(p, arena, &mut NoProbe)
    }
}

/// A block without GRN (ConvNeXt v1), telling `probe` where each tile's
/// phases start. Generated code calls this entry for v1 blocks, so v1
/// firmware links none of GRN's code; a block with GRN given to it leaves
/// the arena as it is (its entry is [`block_grn_in_place_probed`]).
pub fn block_in_place_probed<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    if p.grn.is_none() {
        block_tiles::<_, _, TILE_PIXELS, false>(p, NoHost, arena, probe)
    }
}

/// A block with GRN (ConvNeXt V2): its statistics pass, then the fused
/// pass ([`block_in_place_probed`] for the rest).
pub fn block_grn_in_place_probed<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    block_tiles::<_, _, TILE_PIXELS, true>(p, NoHost, arena, probe)
}

/// [`block_in_place`] with the host's wider tiles where `arena` has the
/// scratch for them ([`BlockParams::host_tile`]), reading the host's
/// prepared tables where it has them (`host`); the same bits.
pub fn block_in_place_tiled<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    host: impl HostTables,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    match (p.host_tile(arena.len()), p.grn.is_some()) {
        (HOST_GROUP_PIXELS, false) => {
            block_tiles::<_, _, HOST_GROUP_PIXELS, false>(p, host, arena, probe)
        }
        (HOST_TILE_PIXELS, false) => {
            block_tiles::<_, _, HOST_TILE_PIXELS, false>(p, host, arena, probe)
        }
        (HOST_TILE_PIXELS, true) => {
            block_tiles::<_, _, HOST_TILE_PIXELS, true>(p, host, arena, probe)
        }
        (_, false) => block_tiles::<_, _, TILE_PIXELS, false>(p, host, arena, probe),
        (_, true) => block_tiles::<_, _, TILE_PIXELS, true>(p, host, arena, probe),
    }
}

/// The block in tiles of `TILE` pixels, a constant in each copy (a last,
/// partial tile runs the lanes the loop chooses); `GRN` says whether the
/// copy has GRN's passes (a constant, so v1 copies hold none of its code).
fn block_tiles<B: AsRef<[u8]>, H: HostTables, const TILE: usize, const GRN: bool>(
    p: &BlockParams<B>,
    host: H,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let tile = TILE;
    let m = p.map;
    let c = m.c;
    let hw = m.h * m.w;
    let x_off = p.at.input_offset;
    let ring_off = p.at.scratch_offset;
    let s = ring_off + m.ring_bytes();
    let mut taps = [Tap::default(); MAX_TAPS];
    // The host's plane, from the untouched map: with one, the depthwise
    // reads neither the map nor the ring.
    let plane = p.build_plane(host, arena, tile);
    let plane_at = p.plane_offset(tile) - s;
    let grn = if GRN { p.grn.as_ref() } else { None };
    if let Some(grn) = grn {
        grn_statistics::<_, _, TILE>(p, host, grn, arena, (&mut taps, plane), probe);
    }
    let mut p0 = 0;
    while p0 < hw {
        let n = (hw - p0).min(tile);
        // The MLP's lanes; spare ones are dropped (pw2 writes only the `n`
        // pixels of `x`).
        let lanes = tile_lanes(n, tile);
        // 1. Depthwise 7x7 of each tile pixel from originals, as i32 into
        // scratch (4C bytes a pixel).
        probe.enter(Phase::Depthwise, (n * 49 * c) as u32);
        // (An arena shorter than the plan's: nothing is computed, and
        // nothing panics; `forward` checked the arena's length already.)
        let Some((lo, hi)) = arena.split_at_mut_checked(s) else {
            return;
        };
        // (Without a plane, `hi` stays whole: the boards' DSP tiles keep
        // their widened hidden vectors above GRN's statistics.)
        let (hi, planed) = if plane > 0 {
            let Some((hi, rest)) = hi.split_at_mut_checked(plane_at) else {
                return;
            };
            (hi, rest.get(..plane).unwrap_or_default())
        } else {
            (hi, &[][..])
        };
        depthwise_tile(p, host, (lo, planed), (p0, n, p0), &mut taps, hi);
        // 2. Keep the originals for later windows (unless the plane has
        // them), then 3. LayerNorm each pixel into the normalised vectors
        // above the depthwise outputs, the tile's pixels paired for pw1.
        probe.enter(Phase::LayerNorm, 0);
        let Some((below, ring)) = lo.split_at_mut_checked(ring_off) else {
            return;
        };
        for t in (0..n).filter(|_| plane == 0) {
            let x_at = x_off + m.pixel(p0 + t);
            let slot = m.ring_slot(p0 + t);
            if let (Some(x), Some(r)) = (below.get(x_at..x_at + c), ring.get_mut(slot..slot + c)) {
                r.copy_from_slice(x);
            }
        }
        let Some((dw_out, xn)) = hi.split_at_mut_checked(tile * p.hidden_pixel_bytes()) else {
            return;
        };
        let Some((xn, tile_rest)) = xn.split_at_mut_checked(tile * 2 * c) else {
            return;
        };
        // 4. pw1 + activation into the hidden vectors (paired, over the
        // depthwise outputs), (GRN), 5. pw2, layer scale and residual back
        // into x.
        if let (true, false, true, 2, true, Some(wide)) = (
            Native::FUSED,
            GRN,
            p.wide_hidden && !p.hidden16,
            lanes,
            c.is_multiple_of(8),
            tile_rest.get_mut(..16 * c),
        ) {
            // The widened hidden vectors above the normalised ones.
            normalise_tile(p, dw_out, xn, (n, lanes));
            probe.enter(Phase::Pointwise1, (n * 4 * c * c) as u32);
            let x_at = x_off + m.pixel(p0);
            let Some(x) = below.get_mut(x_at..x_at + n * c) else {
                return;
            };
            mlp_wide(p, host, xn, (dw_out, wide), x, probe);
            p0 += n;
            continue;
        }
        normalise_and_pw1(p, host, dw_out, xn, (n, lanes), probe);
        let hidden = dw_out;
        if let (Some(grn), Some(stats)) = (grn, tile_rest.get(..stats_bytes(4 * c))) {
            apply_grn(p, grn, stats, hidden, lanes);
        }
        probe.enter(Phase::Pointwise2, (n * 4 * c * c) as u32);
        let x_at = x_off + m.pixel(p0);
        let Some(x) = below.get_mut(x_at..x_at + n * c) else {
            return;
        };
        pw2_lanes(p, host, hidden, x, lanes);
        p0 += n;
    }
}

/// Steps 3 and 4 of a tile: LayerNorm of its `n` depthwise outputs (i32s in
/// `dw_out`) into the normalised vectors `xn`, the `lanes` pixels paired
/// for pw1, then pw1 + activation into the hidden vectors over the
/// depthwise outputs, in the form the channel count allows. Every pass of a block (the fused one,
/// GRN's statistics, a streamed row) runs its tiles through this. Inlined:
/// each caller keeps the frame it had before the steps were shared (the
/// firmware's stack bound and the streamed row's count depend on it).
#[inline(always)]
fn normalise_and_pw1<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    dw_out: &mut [i8],
    xn: &mut [i8],
    (n, lanes): (usize, usize),
    probe: &mut impl Probe,
) {
    let c = p.map.c;
    normalise_tile(p, dw_out, xn, (n, lanes));
    probe.enter(Phase::Pointwise1, (n * 4 * c * c) as u32);
    let Some(xn) = xn.get_mut(..2 * lanes * c) else {
        return;
    };
    let hidden = dw_out;
    // (The 16-bit table's pw1 is a sibling of the int8 one, not a callee:
    // the firmware's stack bound takes the larger frame, not both.)
    let act16 = p.hidden16 && p.grn.is_none();
    match (c.is_multiple_of(4), lanes, act16) {
        #[cfg(not(target_os = "none"))]
        (true, HOST_TILE_PIXELS | HOST_GROUP_PIXELS, false) => {
            pw1_wide::<_, _, HOST_TILE_PIXELS>(p, host, xn, hidden, n)
        }
        #[cfg(not(target_os = "none"))]
        (true, HOST_TILE_PIXELS | HOST_GROUP_PIXELS, true) => {
            pw1_wide16::<_, _, HOST_TILE_PIXELS>(p, host, xn, hidden, n)
        }
        (true, 2, false) => pw1_wide::<_, _, 2>(p, host, xn, hidden, 2),
        (true, 2, true) => pw1_wide16::<_, _, 2>(p, host, xn, hidden, 2),
        (true, _, false) => pw1_wide::<_, _, 1>(p, host, xn, hidden, 1),
        (true, _, true) => pw1_wide16::<_, _, 1>(p, host, xn, hidden, 1),
        (false, 2, _) => pw1_tile::<_, 2>(p, xn, hidden),
        (false, _, _) => pw1_tile::<_, 1>(p, xn, hidden),
    }
}

/// Step 3 of a tile: LayerNorm of its `n` depthwise outputs (i32s in
/// `dw_out`) into the normalised vectors `xn`, the `lanes` pixels paired
/// for pw1.
#[inline(always)]
fn normalise_tile<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    dw_out: &[i8],
    xn: &mut [i8],
    (n, lanes): (usize, usize),
) {
    let c = p.map.c;
    let Some(xn) = xn.get_mut(..2 * lanes * c) else {
        return;
    };
    // A host group's pixels go to their tiles' layouts, one after the
    // other.
    let tile = lanes.min(HOST_TILE_PIXELS.max(TILE_PIXELS));
    for (t, d) in dw_out.chunks_exact((4 * c).max(1)).take(n).enumerate() {
        let at = t / tile * 2 * tile * c;
        normalise_pixel(p, d, xn.get_mut(at..).unwrap_or_default(), t % tile, tile);
    }
}

/// Steps 4 and 5 of a two-pixel tile on DSP cores with the widened hidden
/// vectors ([`BlockParams::wide_hidden`]) in `wide`: the fused loops, and
/// where they stop early the general ones over the paired `hidden` (all
/// of the MLP if pw1 stopped, pw2 from its row if pw2 did). Inlined, and
/// the general steps called from here, so the stack's deepest chain is
/// the one the paired tiles have.
#[inline(always)]
fn mlp_wide<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    xn: &[i8],
    (hidden, wide): (&mut [i8], &mut [i8]),
    x: &mut [i8],
    probe: &mut impl Probe,
) {
    use super::mlp::{pw1_to_wide, pw2_from_wide};
    let c = p.map.c;
    if !pw1_to_wide(p, xn, wide) {
        pw1_wide::<_, _, 2>(p, host, xn, hidden, 2);
        probe.enter(Phase::Pointwise2, (8 * c * c) as u32);
        return pw2_tile::<_, _, 2>(p, host, hidden, x, 0);
    }
    probe.enter(Phase::Pointwise2, (8 * c * c) as u32);
    let done = pw2_from_wide(p, wide, hidden, x);
    if done < c {
        pw2_tile::<_, _, 2>(p, host, hidden, x, done);
    }
}

/// Step 5: pw2, layer scale and residual of `lanes` pixels' hidden vectors into
/// `x` (the tile's pixels, holding the block's input).
#[inline(always)]
fn pw2_lanes<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    hidden: &[i8],
    x: &mut [i8],
    lanes: usize,
) {
    match lanes {
        #[cfg(not(target_os = "none"))]
        HOST_TILE_PIXELS | HOST_GROUP_PIXELS => {
            pw2_tile::<_, _, HOST_TILE_PIXELS>(p, host, hidden, x, 0)
        }
        2 => pw2_tile::<_, _, 2>(p, host, hidden, x, 0),
        _ => pw2_tile::<_, _, 1>(p, host, hidden, x, 0),
    }
}

/// GRN's first pass: every pixel's hidden vector, recomputed tile by tile
/// from the untouched `x` (nothing is written there, so the depthwise reads
/// no ring), summed into the statistics above the tile scratch, which then
/// become the per-channel factors.
fn grn_statistics<B: AsRef<[u8]>, H: HostTables, const TILE: usize>(
    p: &BlockParams<B>,
    host: H,
    grn: &GrnParams<B>,
    arena: &mut [i8],
    (taps, plane): (&mut [Tap; MAX_TAPS], usize),
    probe: &mut impl Probe,
) {
    let m = p.map;
    let (c, hw) = (m.c, m.h * m.w);
    let s = p.at.scratch_offset + m.ring_bytes();
    let Some((lo, hi)) = arena.split_at_mut_checked(s) else {
        return;
    };
    let Some((dw_out, rest)) = hi.split_at_mut_checked(TILE * p.hidden_pixel_bytes()) else {
        return;
    };
    let Some((xn, rest)) = rest.split_at_mut_checked(TILE * 2 * c) else {
        return;
    };
    let Some((stats, rest)) = rest.split_at_mut_checked(stats_bytes(4 * c)) else {
        return;
    };
    let planed = rest.get(..plane).unwrap_or_default();
    stats.fill(0);
    let mut p0 = 0;
    while p0 < hw {
        let n = (hw - p0).min(TILE);
        let lanes = tile_lanes(n, TILE);
        probe.enter(Phase::Depthwise, (n * 49 * c) as u32);
        depthwise_tile(p, host, (lo, planed), (p0, n, 0), taps, dw_out);
        probe.enter(Phase::LayerNorm, 0);
        normalise_and_pw1(p, host, dw_out, xn, (n, lanes), probe);
        accumulate(stats, dw_out, grn.act_zero_point, (n, lanes));
        p0 += n;
    }
    grn.factors(stats, 4 * c);
}

/// GRN's second pass on one tile: each of the `lanes` pixels' hidden
/// activations to the GRN output, in place, with the factors in `stats`.
fn apply_grn<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    grn: &GrnParams<B>,
    factors: &[i8],
    hidden: &mut [i8],
    lanes: usize,
) {
    let c = p.map.c;
    if p.hidden16 {
        // The activations (paired int8) widen in place into the i16 GRN
        // outputs pw2 reads.
        let limit = 1 << (hidden_bits(c) - 1);
        if let Some(hidden) = hidden.get_mut(..8 * c * lanes) {
            grn.apply_tile16(factors, hidden, lanes, limit);
        }
    } else if let Some(hidden) = hidden.get_mut(..4 * c * lanes) {
        grn.apply_tile(factors, hidden, lanes);
    }
}

/// Step 1 of a tile: the depthwise 7x7 of pixels `p0..p0 + n`, as i32s
/// into `dw_out` (`4C` bytes a pixel): from the host's plane where there
/// is one (`planed` not empty), else from the originals in `arena` (the
/// map from pixel `ring_p0` on, the ring below it).
#[inline(always)]
fn depthwise_tile<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    (arena, planed): (&[i8], &[i8]),
    (p0, n, ring_p0): (usize, usize, usize),
    taps: &mut [Tap; MAX_TAPS],
    dw_out: &mut [i8],
) {
    let c = p.map.c;
    if !planed.is_empty() {
        let host = host.block();
        let at = PlaneRun {
            map: p.map,
            rows: host.dw_rows,
            zero: host.dw_zero,
            requant: DwRequant {
                bias: p.dw.bias.as_ref(),
                table: p.dw.requant.as_ref(),
                unpacked: host.dw_requant,
            },
            p0,
            n,
        };
        if Native::plane_depthwise(planed, at, dw_out) {
            return;
        }
    }
    for (t, out) in dw_out.chunks_exact_mut((4 * c).max(1)).take(n).enumerate() {
        depthwise_pixel(p, host, arena, (p0 + t, ring_p0), taps, out);
    }
}

/// Depthwise 7x7 of pixel `pix` (tile starting at `p0`) from the originals
/// in `arena` (the map and the ring), as i32s into `out` (`4C` bytes).
/// `taps` is room for the window's taps. Not inlined: a function of its own
/// keeps the tap loop in registers.
#[inline(never)]
fn depthwise_pixel<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    arena: &[i8],
    (pix, p0): (usize, usize),
    taps: &mut [Tap; MAX_TAPS],
    out: &mut [i8],
) {
    let m = p.map;
    let c = m.c;
    let ring = m.ring_pixels();
    if m.w == 0 || ring == 0 {
        return;
    }
    let (r, col) = (pix / m.w, pix % m.w);
    let (y0, y1, x0, x1) = m.window(r, col);
    let mut n = 0;
    for yy in y0..y1 {
        // The row's pixels are consecutive, and so are their ring slots
        // (wrapping at the ring's end).
        let q0 = yy * m.w + x0;
        let mut slot = q0 % ring;
        for (k, xx) in (x0..x1).enumerate() {
            let q = q0 + k;
            let src = if q < p0 {
                p.at.scratch_offset + slot * c
            } else {
                p.at.input_offset + q * c
            };
            slot = if slot + 1 == ring { 0 } else { slot + 1 };
            if let Some(t) = taps.get_mut(n) {
                let w = ((yy + 3 - r) * 7 + xx + 3 - col) * c;
                *t = Tap {
                    x: src as u32,
                    w: w as u32,
                };
                n += 1;
            }
        }
    }
    dw_window(p, host, arena, taps.get(..n).unwrap_or_default(), out);
}

/// The depthwise sums over `taps` (input pixels in `arena`), requantized
/// with the bias to the LayerNorm input, as i32s into `out` (`4C` bytes).
#[inline(always)]
fn dw_window<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    arena: &[i8],
    taps: &[Tap],
    out: &mut [i8],
) {
    let Some(window) = Window::new(arena, p.dw.weights.as_ref(), taps, p.map.c) else {
        return;
    };
    window.run(p.x_zero_point, out);
    requantize_dw(p, host, out);
}

/// A pixel's depthwise sums `out` (i32s), requantized with the bias to the
/// LayerNorm input, in place.
#[inline(always)]
fn requantize_dw<B: AsRef<[u8]>, H: HostTables>(p: &BlockParams<B>, host: H, out: &mut [i8]) {
    let (bias, requant) = (p.dw.bias.as_ref(), p.dw.requant.as_ref());
    if Native::requantize_plus_in_place(out, bias, (requant, host.block().dw_requant), p.map.c) {
        return;
    }
    requantize_plus_each(out, bias, requant);
}

/// LayerNorm of tile pixel `t`'s depthwise outputs `d` (i32s) into its
/// places in the `n` normalised vectors `xn`: widened to i16 as
/// [`wide_offset`] lays them out when `C` is a multiple of 4, else int8
/// paired ([`paired_offset`]). Not inlined: a leaf of its own keeps the
/// loops in registers.
#[inline(never)]
fn normalise_pixel<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    d: &[i8],
    xn: &mut [i8],
    t: usize,
    n: usize,
) {
    let c = p.map.c;
    if c.is_multiple_of(4) {
        // The host with AVX2: statistics and the output pass 8 channels a
        // step.
        if let Some(sums) = Native::statistics::<4>(d, c) {
            let norm = PixelNorm::from_sums(c, sums, &p.ln, p.ln_requant);
            if let Some(fast) = norm.fast() {
                let put = |g: usize, bytes: [u8; 8]| {
                    let at = wide_offset(t, 4 * g, n);
                    // One 8-byte store.
                    if let Some(v) = xn.get_mut(at..).and_then(|v| v.first_chunk_mut::<8>()) {
                        *v = bytes.map(|b| b as i8);
                    }
                };
                if Native::widened_groups(d, fast, c, put) {
                    return;
                }
            }
        }
        let norm = PixelNorm::new(i32s(d), c, &p.ln, p.ln_requant);
        let Some(fast) = norm.fast() else {
            let put = |i: usize, y: i32| {
                let at = wide_offset(t, i, n);
                let [lo, hi] = (clamp_i8(y) as i16).to_le_bytes();
                if let Some(v) = xn.get_mut(at..at + 2) {
                    v[0] = lo as i8;
                    v[1] = hi as i8;
                }
            };
            return norm.each(i32s(d), put);
        };
        // Four channels at a time: their outputs as the two words of
        // halfwords the widened layout holds (channels 0 and 2, then 1 and
        // 3; PKHBT on Cortex-M).
        let half = |q: i32| clamp_i8(fast.apply(q)) as i16 as u16 as u32;
        for (g, q) in d.chunks_exact(16).take(c / 4).enumerate() {
            let mut v = i32s(q);
            let (a, b, e, f) = (
                v.next().unwrap_or(0),
                v.next().unwrap_or(0),
                v.next().unwrap_or(0),
                v.next().unwrap_or(0),
            );
            let at = wide_offset(t, 4 * g, n);
            store_i32(xn, at, (half(a) | half(e) << 16) as i32);
            store_i32(xn, at + 4, (half(b) | half(f) << 16) as i32);
        }
    } else {
        let mut put = |at: usize, y: i32| {
            if let Some(v) = xn.get_mut(at) {
                *v = clamp_i8(y);
            }
        };
        let at = |i| paired_offset(t, i, n, c);
        layer_norm(|| i32s(d), c, &p.ln, p.ln_requant, |i, y| put(at(i), y));
    }
}

/// Where the row-streamed forward keeps a block's input rows: a ring of 7
/// rows starting at `at` (image row `y` in slot `y % 7`, `w * c` bytes each),
/// all a 7x7 depthwise window needs.
pub const WINDOW_ROWS: usize = 7;

/// One output row `r` of the block, for the row-streamed forward: the input
/// rows `r - 3 ..= r + 3` (those inside the map) are in the ring at
/// `window` ([`WINDOW_ROWS`]), the output row goes to `out`, the scratch
/// (`TILE_PIXELS` times [`BlockParams::tile_pixel_bytes`], no ring) is at
/// `scratch`, above both. The same
/// sums as [`block_in_place`] computes for that row, so the same bits.
pub fn block_row<B: AsRef<[u8]>, H: HostTables>(
    p: &BlockParams<B>,
    host: H,
    arena: &mut [i8],
    (window, r, out, scratch): (usize, usize, usize, usize),
    probe: &mut impl Probe,
) {
    let m = p.map;
    let c = m.c;
    let row = m.w * c;
    let mut taps = [Tap::default(); MAX_TAPS];
    let Some((lo, hi)) = arena.split_at_mut_checked(scratch) else {
        return;
    };
    let Some((dw_out, xn)) = hi.split_at_mut_checked(TILE_PIXELS * p.hidden_pixel_bytes()) else {
        return;
    };
    let mut col0 = 0;
    while col0 < m.w {
        let n = (m.w - col0).min(TILE_PIXELS);
        let lanes = tile_lanes(n, TILE_PIXELS);
        probe.enter(Phase::Depthwise, (n * 49 * c) as u32);
        for (t, d) in dw_out.chunks_exact_mut((4 * c).max(1)).take(n).enumerate() {
            let col = col0 + t;
            let (y0, y1, x0, x1) = m.window(r, col);
            let mut k = 0;
            for yy in y0..y1 {
                let base = window + (yy % WINDOW_ROWS) * row;
                for xx in x0..x1 {
                    if let Some(tap) = taps.get_mut(k) {
                        *tap = Tap {
                            x: (base + xx * c) as u32,
                            w: (((yy + 3 - r) * 7 + xx + 3 - col) * c) as u32,
                        };
                        k += 1;
                    }
                }
            }
            dw_window(p, host, lo, taps.get(..k).unwrap_or_default(), d);
        }
        probe.enter(Phase::LayerNorm, 0);
        normalise_and_pw1(p, host, dw_out, xn, (n, lanes), probe);
        // The residual: the input pixels to the output row, where pw2 adds
        // the block's result to them.
        probe.enter(Phase::Pointwise2, (n * 4 * c * c) as u32);
        let src = window + (r % WINDOW_ROWS) * row + col0 * c;
        let dst = out + col0 * c;
        if src + n * c > lo.len() || dst + n * c > lo.len() {
            return;
        }
        lo.copy_within(src..src + n * c, dst);
        let Some(x) = lo.get_mut(dst..dst + n * c) else {
            return;
        };
        pw2_lanes(p, host, dw_out, x, lanes);
        col0 += n;
    }
}
