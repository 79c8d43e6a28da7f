//! Downsample: LayerNorm (affine folded into the conv), then a 2x2 stride-2
//! convolution, in place. Output pixels go in pairs: both windows are
//! normalised into the scratch (`8 cin` bytes), then the conv runs as 2x2
//! tiles ([`super::frame::PairDot::dot_tile`]) and writes the outputs to their place. Output pixel
//! `i` lands below the inputs of every later pixel because the input starts
//! [`OpFootprint::input_lead_bytes`] above the output.

use super::arch::Native;
use super::frame::{FusedKernel, NormKernel};
use super::in_place_map::{
    host_tile, tile_lanes, HOST_GROUP_PIXELS, HOST_TILE_PIXELS, TILE_PIXELS,
};
use super::layer_norm::{layer_norm, LayerNormParams};
use super::linear::{PairedRows, QLinear, RowSink};
use super::placement::{in_place_lead, OpFootprint, Placement};
use super::pointwise::paired_offset_whole;
use super::prepared::{HostTables, NoHost};
use super::probe::{NoProbe, Phase, Probe};
use super::requantize::{clamp_i8, Requant};
use super::tables::profile_at;

/// Constants and placement of one downsample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownsampleParams<B = &'static [u8]> {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Arena placement (int8 HWC in and out; scratch `cout`).
    pub at: Placement,
    /// Input stream zero point.
    pub x_zero_point: i32,
    /// The input stream's channel profile ([`super::tables::profile_at`]):
    /// empty for a per-tensor stream, whose int8 values go into the
    /// LayerNorm as they are (it is shift invariant).
    pub profile: B,
    /// LayerNorm constants (for the stream's unit).
    pub ln: LayerNormParams,
    /// Normalised value to int8 (zero point 0).
    pub ln_requant: Requant,
    /// `[cout][2][2][cin]` laid out for 2-row tiles ([`super::pointwise::paired_offset`]),
    /// LayerNorm γ and β folded in, to the output scale.
    pub conv: QLinear<B>,
    /// Output stream zero point.
    pub out_zero_point: i32,
}

/// The 2x2 taps in weight order.
const TAPS: [(usize, usize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

impl<B: AsRef<[u8]>> OpFootprint for DownsampleParams<B> {
    fn input_bytes(&self) -> usize {
        self.in_h * self.in_w * self.cin
    }
    fn output_bytes(&self) -> usize {
        (self.in_h / 2) * (self.in_w / 2) * self.cout
    }
    fn scratch_bytes(&self) -> usize {
        self.scratch_bytes_tiled(TILE_PIXELS)
    }
    fn input_lead_bytes(&self) -> usize {
        let ow = self.in_w / 2;
        in_place_lead((self.in_h / 2) * ow, self.cout, |j| {
            (2 * (j / ow) * self.in_w + 2 * (j % ow)) * self.cin
        })
    }
    fn weights_bytes(&self) -> usize {
        self.conv.weights_bytes() + self.profile.as_ref().len()
    }
    fn macs(&self) -> u64 {
        (self.output_bytes() * 4 * self.cin) as u64
    }
}

impl<B: AsRef<[u8]>> DownsampleParams<B> {
    /// Scratch bytes for tiles of `tile` output pixels: their normalised
    /// windows.
    pub fn scratch_bytes_tiled(&self, tile: usize) -> usize {
        tile * 4 * self.cin
    }

    /// The tile the host runs in an arena of `len` bytes, as
    /// [`super::block::BlockParams::host_tile`] chooses it: a group of
    /// [`HOST_GROUP_PIXELS`] where its scratch fits.
    pub fn host_tile(&self, len: usize) -> usize {
        let end = |tile| self.at.scratch_offset + self.scratch_bytes_tiled(tile);
        match host_tile(self.cin.is_multiple_of(4), len, end(HOST_TILE_PIXELS)) {
            HOST_TILE_PIXELS if len >= end(HOST_GROUP_PIXELS) => HOST_GROUP_PIXELS,
            tile => tile,
        }
    }
}

/// Run the downsample over the arena.
pub fn downsample_in_place<B: AsRef<[u8]>>(p: &DownsampleParams<B>, arena: &mut [i8]) {
    downsample_in_place_probed(p, arena, &mut NoProbe)
}

/// [`downsample_in_place`], telling `probe` where each pair's phases start.
pub fn downsample_in_place_probed<B: AsRef<[u8]>>(
    p: &DownsampleParams<B>,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    downsample_tiles::<_, _, TILE_PIXELS>(p, NoHost, arena, probe)
}

/// [`downsample_in_place`] with the host's wider tiles where `arena` has
/// the scratch for them ([`DownsampleParams::host_tile`]), reading the
/// host's widened conv weights where it has them (`host`); the same bits.
/// Writing a tile's outputs only after all its windows are normalised keeps
/// it in place: output `i` lies below the inputs of every later pixel.
pub fn downsample_in_place_tiled<B: AsRef<[u8]>>(
    p: &DownsampleParams<B>,
    host: impl HostTables,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    match p.host_tile(arena.len()) {
        HOST_GROUP_PIXELS => downsample_tiles::<_, _, HOST_GROUP_PIXELS>(p, host, arena, probe),
        HOST_TILE_PIXELS => downsample_tiles::<_, _, HOST_TILE_PIXELS>(p, host, arena, probe),
        _ => downsample_tiles::<_, _, TILE_PIXELS>(p, host, arena, probe),
    }
}

/// The downsample of `in_h` input rows at `at` (not the whole map's): the
/// row-streamed forward's form, two input rows in, one output row out
/// (`at`'s three regions must not overlap).
pub fn downsample_rows<B: AsRef<[u8]>>(
    p: &DownsampleParams<B>,
    at: Placement,
    in_h: usize,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    downsample_region::<_, _, TILE_PIXELS>(p, NoHost, at, in_h, arena, probe)
}

/// The downsample in tiles of `TILE` pixels, a constant in each copy (a last,
/// partial tile runs the lanes the loop chooses).
fn downsample_tiles<B: AsRef<[u8]>, H: HostTables, const TILE: usize>(
    p: &DownsampleParams<B>,
    host: H,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    downsample_region::<_, _, TILE>(p, host, p.at, p.in_h, arena, probe)
}

/// [`downsample_tiles`] over `in_h` input rows placed at `at`.
fn downsample_region<B: AsRef<[u8]>, H: HostTables, const TILE: usize>(
    p: &DownsampleParams<B>,
    host: H,
    at: Placement,
    in_h: usize,
    arena: &mut [i8],
    probe: &mut impl Probe,
) {
    let tile = TILE;
    let (cin, cout) = (p.cin, p.cout);
    let (oh, ow) = (in_h / 2, p.in_w / 2);
    let len = 4 * cin;
    let s = at.scratch_offset;
    let outputs = oh * ow;
    let mut j = 0;
    while j < outputs {
        let n = (outputs - j).min(tile);
        // The conv's lanes; spare ones' outputs have no place and are
        // dropped.
        let lanes = tile_lanes(n, tile);
        // LayerNorm the window of each output pixel into the scratch, the
        // pair's windows paired for the 2x2 tiles ([`super::pointwise::paired_offset`]).
        probe.enter(Phase::LayerNorm, 0);
        // (An arena shorter than the plan's: nothing is computed, and
        // nothing panics; `forward` checked the arena's length already.)
        let Some((lo, hi)) = arena.split_at_mut_checked(s) else {
            return;
        };
        let Some(windows) = hi.get_mut(..lanes * len) else {
            return;
        };
        // A host group's windows go to their tiles' layouts, one after the
        // other.
        let sub = lanes.min(HOST_TILE_PIXELS.max(TILE_PIXELS));
        for t in 0..n {
            // `ow > 0` here: `j < outputs = oh ow`.
            let (r, col) = ((j + t) / ow.max(1), (j + t) % ow.max(1));
            let windows = windows.get_mut(t / sub * sub * len..).unwrap_or_default();
            for (ti, (ky, kx)) in TAPS.into_iter().enumerate() {
                let base = at.input_offset + ((2 * r + ky) * p.in_w + 2 * col + kx) * cin;
                if let Some(x) = lo.get(base..base + cin) {
                    normalise_tap(p, x, windows, (t % sub, sub), ti);
                }
            }
        }
        // The windows are in the scratch now, so the outputs may land on
        // them: write each output straight to its place.
        probe.enter(Phase::Conv, (n * cout * len) as u32);
        let o = at.output_offset + j * cout;
        let (Some(out), Some(x)) = (lo.get_mut(o..o + n * cout), hi.get(..lanes * len)) else {
            return;
        };
        match lanes {
            #[cfg(not(target_os = "none"))]
            HOST_GROUP_PIXELS => conv_group(p, host, x, out, n),
            #[cfg(not(target_os = "none"))]
            HOST_TILE_PIXELS => conv_tile::<_, _, HOST_TILE_PIXELS>(p, host, x, out),
            2 => conv_tile::<_, _, 2>(p, host, x, out),
            _ => conv_tile::<_, _, 1>(p, host, x, out),
        }
        j += n;
    }
}

/// LayerNorm of input pixel `x`, tap `ti` of tile pixel `t` of `n`, into its
/// places in the paired windows. Not inlined: a leaf of its own keeps the
/// loops in registers.
#[inline(never)]
fn normalise_tap<B: AsRef<[u8]>>(
    p: &DownsampleParams<B>,
    x: &[i8],
    windows: &mut [i8],
    (t, n): (usize, usize),
    ti: usize,
) {
    let cin = p.cin;
    let profile = p.profile.as_ref();
    // The host with AVX2: statistics and the output pass 8 channels a
    // step, where the pixel's map has its fast form and each 4 channels
    // are one group of the paired window (`cin` a multiple of 4).
    if cin.is_multiple_of(4) && profile.is_empty() {
        let fast = Native::statistics::<1>(x, cin).and_then(|sums| {
            super::layer_norm::PixelNorm::from_sums(cin, sums, &p.ln, p.ln_requant).fast()
        });
        if let Some(fast) = fast {
            let put = |g: usize, bytes: [u8; 4]| {
                let at = paired_offset_whole(t, ti * cin + 4 * g, n);
                if let Some(v) = windows.get_mut(at..at + 4) {
                    for (v, b) in v.iter_mut().zip(bytes) {
                        *v = b as i8;
                    }
                }
            };
            if Native::int8_groups(x, fast, cin, put) {
                return;
            }
        }
    }
    let mut put = |at: usize, y: i32| {
        if let Some(v) = windows.get_mut(at) {
            *v = clamp_i8(y);
        }
    };
    // A profiled stream's channels to their common unit first.
    let z = if profile.is_empty() {
        0
    } else {
        p.x_zero_point
    };
    let values = || {
        x.iter()
            .enumerate()
            .map(move |(i, &v)| (v as i32 - z) * profile_at(profile, i))
    };
    // The window is `4 cin` long, a multiple of 4, so its paired layout is
    // the whole-groups form for any `cin`.
    let at = |i| paired_offset_whole(t, ti * cin + i, n);
    layer_norm(values, cin, &p.ln, p.ln_requant, |i, y| put(at(i), y));
}

/// The 2x2 conv of `P` output pixels from their paired windows `x`. Not
/// inlined: a function of its own keeps the row loop in registers.
#[inline(never)]
fn conv_tile<B: AsRef<[u8]>, H: HostTables, const P: usize>(
    p: &DownsampleParams<B>,
    host: H,
    x: &[i8],
    out: &mut [i8],
) {
    let rows = PairedRows::new(&p.conv, 4 * p.cin, p.cout);
    // (Only the host's AVX2 loop reads the widened weights.)
    let _ = host;
    #[cfg(not(target_os = "none"))]
    let rows = rows.with_wide(host.conv());
    // Where the target has a fused loop (the DSP cores' `asm!`), it
    // computes and requantizes every row pair of two whole pixels it can;
    // the rest take the general loop. It uses
    // the halved form, `((hi >> (s - 1)) + 1 + 2 zp) >> 1`, where the sink
    // below uses the high-word form, `(hi + (1 + 2 zp) 2^(s - 1)) >> s`:
    // with `hi = q 2^(s - 1) + r`, `0 <= r < 2^(s - 1)`, both are
    // `floor((q + 1 + 2 zp) / 2)`, so the bits are the same.
    let first = match (Native::FUSED, P, i8::try_from(p.out_zero_point)) {
        (true, 2, Ok(zp)) => {
            let plus = super::requantize::Halved::plus(zp);
            Native::conv_halved(out, x, (p.conv.tables(), plus))
        }
        _ => 0,
    };
    let mut sink = ConvSink {
        out,
        cout: p.cout,
        zp: p.out_zero_point,
        first: 0,
    };
    rows.run_from::<P, _>(x, &mut sink, first);
}

/// The 2x2 conv of a host group's `n` output pixels from their tiles'
/// paired windows `x` ([`PairedRows::run_group`]). Not inlined, as
/// [`conv_tile`].
#[cfg(not(target_os = "none"))]
#[inline(never)]
fn conv_group<B: AsRef<[u8]>, H: HostTables>(
    p: &DownsampleParams<B>,
    host: H,
    x: &[i8],
    out: &mut [i8],
    n: usize,
) {
    let rows = PairedRows::new(&p.conv, 4 * p.cin, p.cout).with_wide(host.conv());
    let mut sink = ConvSink {
        out,
        cout: p.cout,
        zp: p.out_zero_point,
        first: 0,
    };
    rows.run_group::<HOST_TILE_PIXELS, _>(x, n, &mut sink);
}

/// The conv's results, requantized to the output stream.
struct ConvSink<'a> {
    out: &'a mut [i8],
    cout: usize,
    zp: i32,
    /// The pixel (of `out`'s) the current tile starts at.
    first: usize,
}

impl<const P: usize> RowSink<P> for ConvSink<'_> {
    #[inline(always)]
    fn tile(&mut self, first: usize) {
        self.first = first;
    }

    #[inline(always)]
    fn output(&mut self, t: usize, o: usize, acc: i32, rq: Requant) {
        // Spare lanes of a partial tile have no place: dropped.
        if let Some(y) = self.out.get_mut((self.first + t) * self.cout + o) {
            *y = clamp_i8(rq.apply_i32(acc).saturating_add(self.zp));
        }
    }

    #[inline(always)]
    fn pair(&mut self, o: usize, acc: [[i32; 2]; P], rq: [Requant; 2]) {
        let zp = self.zp;
        let (Some(h0), Some(h1)) = (rq[0].high_word(zp), rq[1].high_word(zp)) else {
            return self.each(o, acc, rq);
        };
        for (t, row) in acc.iter().enumerate() {
            let at = (self.first + t) * self.cout + o;
            if let Some(y) = self.out.get_mut(at..at + 2) {
                y[0] = clamp_i8(h0.apply(row[0]));
                y[1] = clamp_i8(h1.apply(row[1]));
            }
        }
    }
}
