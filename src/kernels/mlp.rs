//! The MLP half of a block: pwconv1 + activation into the hidden vectors,
//! then pwconv2, layer scale and residual back into the stream, for the one
//! or two pixels of a tile ([`super::block`]).
//!
//! pw1 has two forms. When `C` is a multiple of 4 its input is the widened
//! (i16) LayerNorm output ([`pw1_wide`], [`super::pointwise_wide`]) and each
//! group of four rows writes its activations with one prepared multiplier
//! form ([`Halved`]); otherwise it runs over the int8 paired layout
//! ([`pw1_tile`]).

use super::arch::Native;
use super::block::BlockParams;
use super::frame::{
    ActTable, ActTable16, EpilogueKernel, FusedKernel, PairRun, QuadActivation, ResidualRun,
};
use super::linear::{PairedRows, RowSink};
use super::pointwise::paired_offset;
use super::pointwise::{dot_pairs, dot_pairs16};
use super::pointwise_wide::wide_offset;
use super::prepared::HostTables;
use super::requantize::{clamp_i8, requant_at, requantize_sum_i32, Halved, Requant, ResidualLayer};
use super::tables::i32_at;

/// The target's four-row activation loop ([`EpilogueKernel::Quad`]).
type Quad = <Native as EpilogueKernel>::Quad;

/// Row pairs a batch of [`pw1_wide`] and [`pw2_tile`] computes before their
/// outputs: 8 on the boards (their stack bound counts it); 12 on the host,
/// whose AVX2 loop runs three pairs a pass.
#[cfg(target_os = "none")]
const BATCH: usize = 8;
#[cfg(not(target_os = "none"))]
const BATCH: usize = 12;

/// pwconv1 + activation of `P` pixels whose normalised vectors are widened
/// (`xw`, [`super::pointwise_wide::wide_offset`]), into `hidden` (paired,
/// `4C` each); `C` a multiple of 4. The first `live` pixels count (the
/// rest of a last, partial tile may be left out). On the host `live` may
/// exceed `P`: then `xw` and `hidden` hold [`tiles`] tiles one after the
/// other, and each batch of rows runs over all of them before the next
/// batch ([`super::in_place_map::HOST_GROUP_PIXELS`]). Not inlined: a
/// function of its own keeps the row loop in registers.
#[inline(never)]
pub(super) fn pw1_wide<B: AsRef<[u8]>, H: HostTables, const P: usize>(
    p: &BlockParams<B>,
    host: H,
    xw: &[i8],
    hidden: &mut [i8],
    live: usize,
) {
    let c = p.map.c;
    let Ok(table) = <&[u8; 256]>::try_from(p.act_table.as_ref()) else {
        return;
    };
    // The zero point is int8 by construction; were it not, every row takes
    // the general path.
    let plus = i8::try_from(p.pw1_zero_point).ok().map(Halved::plus);
    let (w, b, r) = (
        p.pw1.weights.as_ref(),
        p.pw1.bias.as_ref(),
        p.pw1.requant.as_ref(),
    );
    let tiles = tiles(live, P);
    // The widened vectors, cut once to what every pair reads.
    let Some(xw) = xw.get(..2 * P * c * tiles) else {
        return;
    };
    // Where the target has a fused loop (the DSP cores' `asm!`), it
    // computes, requantizes and activates every group of four rows it can;
    // what it leaves (none, or the rows from one with no halved multiplier
    // on) takes the loop below.
    let done = match (Native::FUSED, P, plus) {
        (true, 2, Some(plus)) if c.is_multiple_of(8) => {
            let act = ActTable { table, plus };
            Native::pw1_activate::<false>(hidden, xw, (p.pw1.tables(), act))
        }
        _ => 0,
    };
    let (w, b, r, hidden) = (
        w.get(done * c..).unwrap_or_default(),
        b.get(done * 4..).unwrap_or_default(),
        r.get(done * Requant::BYTES..).unwrap_or_default(),
        hidden.get_mut(done * P..).unwrap_or_default(),
    );
    // Rows go in batches of BATCH pairs: first every pair's dot products
    // (one loop on DSP cores, nothing else live across it), then every
    // pair's activations, in a loop of their own.
    let batches = w
        .chunks((2 * c * BATCH).max(1))
        .zip(b.chunks(8 * BATCH))
        .zip(r.chunks(2 * Requant::BYTES * BATCH));
    // The host's widened weights, batch by batch (empty when absent).
    let hw = host.block().pw1;
    let hw = hw.get(2 * done * c..).unwrap_or_default();
    for (batch, ((wb, bb), rb)) in batches.enumerate() {
        let hb = hw.get(batch * 4 * c * BATCH..).unwrap_or_default();
        // Where the target has a loop for a group of four rows (the
        // host's AVX2), their prepared multipliers once a batch, for all
        // the tiles (a zero-sized array elsewhere).
        let quads: [Option<Quad>; BATCH / 2] = core::array::from_fn(|q| {
            let r = rb.get(4 * Requant::BYTES * q..4 * Requant::BYTES * (q + 1))?;
            Quad::from_requants(r)
        });
        // The host's group of tiles; the boards' one tile as it is.
        #[cfg(not(target_os = "none"))]
        let group = xw
            .chunks_exact((2 * P * c).max(1))
            .zip(hidden.chunks_mut((4 * P * c).max(1)));
        #[cfg(target_os = "none")]
        let group = core::iter::once((xw, &mut *hidden));
        for (s, (xw, hidden)) in group.enumerate() {
            let mut accs = [[[0i32; 2]; P]; BATCH];
            let live = (live - P * s).min(P);
            let run = PairRun {
                x: xw,
                weights: wb,
                wide: hb,
                bias: bb,
                len: c,
                live,
            };
            let n = dot_pairs::<true, P>(&mut accs, run);
            // Two pairs (four rows) fill 4 bytes of each pixel in the paired
            // hidden layout; BATCH is even, so a batch starts a group of four.
            let groups = hidden
                .get_mut(batch * BATCH / 2 * 4 * P..)
                .unwrap_or_default()
                .chunks_exact_mut(4 * P)
                .zip(accs[..n].chunks_exact(2))
                .zip(rb.chunks_exact(4 * Requant::BYTES));
            for (q, ((out, acc), r)) in groups.enumerate() {
                if let (Some(plus), Ok(acc), Ok(out), Some(Some(rows))) = (
                    plus,
                    <&[[i32; 2]; 16]>::try_from(acc.as_flattened()),
                    <&mut [i8; 32]>::try_from(&mut *out),
                    quads.get(q),
                ) {
                    if rows.activate32(acc, ActTable { table, plus }, out) {
                        continue;
                    }
                }
                for (half, (acc, r)) in acc
                    .iter()
                    .zip(r.chunks_exact(2 * Requant::BYTES))
                    .enumerate()
                {
                    let rows = [requant_at(r, 0), requant_at(r, 1)];
                    let (Some(h0), Some(h1), Some(plus)) =
                        (rows[0].halved(), rows[1].halved(), plus)
                    else {
                        activate_each(out, 2 * half, *acc, rows, p.pw1_zero_point, table);
                        continue;
                    };
                    for (o, a) in out.chunks_exact_mut(4).zip(acc) {
                        let pre = [h0.apply(a[0], plus), h1.apply(a[1], plus)];
                        o[2 * half] = activation(table, pre[0]);
                        o[2 * half + 1] = activation(table, pre[1]);
                    }
                }
            }
        }
    }
}

/// [`pw1_wide`] of a v1 block with [`BlockParams::hidden16`]: the
/// activations from the 16-bit table, into widened hidden vectors (`8C`
/// bytes a pixel, [`wide_offset`] over the tile's `P` pixels). Not inlined,
/// as [`pw1_wide`].
#[inline(never)]
pub(super) fn pw1_wide16<B: AsRef<[u8]>, H: HostTables, const P: usize>(
    p: &BlockParams<B>,
    host: H,
    xw: &[i8],
    hidden: &mut [i8],
    live: usize,
) {
    let c = p.map.c;
    let Ok(table) = <&[u8; 512]>::try_from(p.act_table.as_ref()) else {
        return;
    };
    let zp = p.pw1_zero_point;
    let plus = i8::try_from(zp).ok().map(Halved::plus);
    let tiles = tiles(live, P);
    let Some(xw) = xw.get(..2 * P * c * tiles) else {
        return;
    };
    // The DSP cores' fused loop: every group of four rows it can.
    let done = match (Native::FUSED, P, plus) {
        (true, 2, Some(plus)) if c.is_multiple_of(8) => {
            let act = ActTable16 { table, plus };
            Native::pw1_activate16(hidden, xw, (p.pw1.tables(), act))
        }
        _ => 0,
    };
    let (w, b, r) = (
        p.pw1.weights.as_ref().get(done * c..).unwrap_or_default(),
        p.pw1.bias.as_ref().get(done * 4..).unwrap_or_default(),
        p.pw1
            .requant
            .as_ref()
            .get(done * Requant::BYTES..)
            .unwrap_or_default(),
    );
    let batches = w
        .chunks((2 * c * BATCH).max(1))
        .zip(b.chunks(8 * BATCH))
        .zip(r.chunks(2 * Requant::BYTES * BATCH));
    let hw = host.block().pw1;
    let hw = hw.get(2 * done * c..).unwrap_or_default();
    for (batch, ((wb, bb), rb)) in batches.enumerate() {
        let hb = hw.get(batch * 4 * c * BATCH..).unwrap_or_default();
        #[cfg(not(target_os = "none"))]
        let group = xw
            .chunks_exact((2 * P * c).max(1))
            .zip(hidden.chunks_mut((8 * P * c).max(1)));
        #[cfg(target_os = "none")]
        let group = core::iter::once((xw, &mut *hidden));
        for (s, (xw, hidden)) in group.enumerate() {
            let mut accs = [[[0i32; 2]; P]; BATCH];
            let run = PairRun {
                x: xw,
                weights: wb,
                wide: hb,
                bias: bb,
                len: c,
                live: (live - P * s).min(P),
            };
            let n = dot_pairs::<true, P>(&mut accs, run);
            let rows = accs[..n].iter().zip(rb.chunks_exact(2 * Requant::BYTES));
            for (k, (acc, r)) in rows.enumerate() {
                let j = done + 2 * (batch * BATCH + k);
                for i in 0..2 {
                    let rq = requant_at(r, i);
                    for (t, a) in acc.iter().enumerate() {
                        let pre = match (rq.halved(), plus) {
                            (Some(h), Some(plus)) => h.apply(a[i], plus),
                            _ => rq.apply_i32(a[i]).saturating_add(zp),
                        };
                        let at = wide_offset(t, j + i, P);
                        let e = 2 * (clamp_i8(pre) as i32 + 128) as usize;
                        // (As 2-byte arrays: no lengths to check, no panic.)
                        let o = hidden.get_mut(at..).and_then(|h| h.first_chunk_mut::<2>());
                        if let (Some(o), Some(v)) =
                            (o, table.get(e..).and_then(|t| t.first_chunk::<2>()))
                        {
                            *o = [v[0] as i8, v[1] as i8];
                        }
                    }
                }
            }
        }
    }
}

/// The tiles of `P` pixels that `live` pixels fill: one on the boards,
/// whose tiles are never longer; on the host, the tiles of a group
/// ([`super::in_place_map::HOST_GROUP_PIXELS`]).
#[inline(always)]
fn tiles(live: usize, p: usize) -> usize {
    if cfg!(target_os = "none") {
        1
    } else {
        live.div_ceil(p.max(1)).max(1)
    }
}

/// The activation table's entry for a pre-activation (zero point
/// included), saturated to int8 first.
#[inline(always)]
fn activation(table: &[u8; 256], pre: i32) -> i8 {
    table[(clamp_i8(pre) as i32 + 128) as usize] as i8
}

/// [`pw1_wide`]'s rows whose multipliers have no halved form: the general
/// requantization, out of line.
#[cold]
#[inline(never)]
fn activate_each<const P: usize>(
    out: &mut [i8],
    base: usize,
    acc: [[i32; 2]; P],
    rows: [Requant; 2],
    zp: i32,
    table: &[u8; 256],
) {
    for (t, a) in acc.iter().enumerate() {
        for r in 0..2 {
            if let Some(o) = out.get_mut(base + 4 * t + r) {
                *o = activation(table, rows[r].apply_i32(a[r]).saturating_add(zp));
            }
        }
    }
}

/// pwconv1 + activation of `P` pixels: `xn` (their normalised vectors,
/// paired) into `hidden` (paired, `4C` each). Not inlined: a function of
/// its own keeps the row loop and its sink in registers.
#[inline(never)]
pub(super) fn pw1_tile<B: AsRef<[u8]>, const P: usize>(
    p: &BlockParams<B>,
    xn: &[i8],
    hidden: &mut [i8],
) {
    let c = p.map.c;
    let Ok(table) = p.act_table.as_ref().try_into() else {
        return;
    };
    let mut sink = Pw1Sink::<P> {
        hidden,
        table,
        zp: p.pw1_zero_point,
        h4: 4 * c,
    };
    PairedRows::new(&p.pw1, c, 4 * c).run(xn, &mut sink);
}

/// pw1's results: requantized, through the activation table, into the
/// paired hidden vectors.
struct Pw1Sink<'a, const P: usize> {
    hidden: &'a mut [i8],
    table: &'a [u8; 256],
    zp: i32,
    h4: usize,
}

impl<const P: usize> Pw1Sink<'_, P> {
    #[inline(always)]
    fn act(&self, acc: i32, rq: Requant) -> i8 {
        activation(self.table, rq.apply_i32(acc).saturating_add(self.zp))
    }
}

impl<const P: usize> RowSink<P> for Pw1Sink<'_, P> {
    #[inline(always)]
    fn output(&mut self, t: usize, j: usize, acc: i32, rq: Requant) {
        let v = self.act(acc, rq);
        if let Some(h) = self.hidden.get_mut(paired_offset(t, j, P, self.h4)) {
            *h = v;
        }
    }

    #[inline(always)]
    fn pair(&mut self, j: usize, acc: [[i32; 2]; P], rq: [Requant; 2]) {
        // 4C is a multiple of 4, so rows j and j + 1 of pixel t sit side by
        // side in the paired layout.
        let base = if P == 2 { (j & !3) * 2 + (j & 3) } else { j };
        for (t, row) in acc.iter().enumerate() {
            let (a, b) = (self.act(row[0], rq[0]), self.act(row[1], rq[1]));
            if let Some(h) = self.hidden.get_mut(base + 4 * t..base + 4 * t + 2) {
                h[0] = a;
                h[1] = b;
            }
        }
    }
}

/// pwconv2, layer scale and residual of `P` pixels: `hidden` (paired) to
/// `x` (the tile's pixels, still holding their originals), from output row
/// `first` (even; 0, or where a faster loop stopped) on. Not inlined, as
/// [`pw1_tile`].
#[inline(never)]
pub(super) fn pw2_tile<B: AsRef<[u8]>, H: HostTables, const P: usize>(
    p: &BlockParams<B>,
    host: H,
    hidden: &[i8],
    x: &mut [i8],
    first: usize,
) {
    let c = p.map.c;
    let (zx, zo) = (p.x_zero_point, p.out_zero_point);
    let layer = ResidualLayer::new(zx, p.residual_shift, zo);
    // Widened i16 hidden vectors take the pairs' loop alone (`C` is a
    // multiple of 4 and the zero points int8 wherever codegen sets it).
    match (layer, c.is_multiple_of(2), p.hidden16) {
        (Some(layer), true, true) => {
            return pw2_pairs::<_, _, P, true>(p, host, layer, hidden, x, first)
        }
        (Some(layer), true, false) => {
            return pw2_pairs::<_, _, P, false>(p, host, layer, hidden, x, first)
        }
        (_, _, true) => return,
        _ => {}
    }
    // A host group's tiles one by one; the boards' one tile as it is.
    #[cfg(not(target_os = "none"))]
    let tiles = hidden
        .chunks((4 * P * c).max(1))
        .zip(x.chunks_mut((P * c).max(1)));
    #[cfg(target_os = "none")]
    let tiles = core::iter::once((hidden, x));
    for (hidden, x) in tiles {
        let mut sink = Pw2Sink {
            x,
            c,
            zx,
            residual: p.residual.as_ref(),
            residual_shift: p.residual_shift,
            zo,
            layer,
        };
        PairedRows::new(&p.pw2, 4 * c, c).run_from::<P, _>(hidden, &mut sink, first);
    }
}

/// [`pw2_tile`] when `C` is even (no odd last row) and the zero points allow
/// the prepared residual form: batches of 8 row pairs, first their dot
/// products ([`dot_pairs`]), then their outputs. `WIDE`: the hidden
/// vectors are widened i16s ([`BlockParams::hidden16`]).
#[inline(always)]
fn pw2_pairs<B: AsRef<[u8]>, H: HostTables, const P: usize, const WIDE: bool>(
    p: &BlockParams<B>,
    host: H,
    layer: ResidualLayer,
    hidden: &[i8],
    x: &mut [i8],
    first: usize,
) {
    let c = p.map.c;
    let (w, b, r) = (
        p.pw2.weights.as_ref(),
        p.pw2.bias.as_ref(),
        p.pw2.requant.as_ref(),
    );
    // Where the target has a fused loop (the DSP cores' `asm!`), it
    // computes every row pair it can with its residual sums; the rest
    // (none, or from a row with no prepared form on) take the batches below.
    let first = match (Native::FUSED, P, first) {
        (true, 2, 0) => {
            Native::pw2_residual::<WIDE>(x, hidden, (p.pw2.tables(), layer, p.residual.as_ref()))
        }
        _ => first,
    };
    let w = w.get(first * 4 * c..).unwrap_or_default();
    let b = b.get(first * 4..).unwrap_or_default();
    let r = r.get(first * Requant::BYTES..).unwrap_or_default();
    let batches = w
        .chunks((8 * c * BATCH).max(1))
        .zip(b.chunks(8 * BATCH))
        .zip(r.chunks(2 * Requant::BYTES * BATCH))
        .take((c - first.min(c)).div_ceil(2 * BATCH));
    let hw = host.block().pw2;
    let hw = hw.get(first * 8 * c..).unwrap_or_default();
    // The tiles' pixels (`x` holds only those): one tile, or on the host a
    // group's, each batch of rows over all of them before the next.
    #[cfg(not(target_os = "none"))]
    let tiles = tiles(x.len() / c.max(1), P);
    for (batch, ((wb, bb), rb)) in batches.enumerate() {
        let hb = hw.get(batch * 16 * c * BATCH..).unwrap_or_default();
        #[cfg(not(target_os = "none"))]
        let group = hidden
            .chunks(((if WIDE { 8 } else { 4 }) * P * c).max(1))
            .zip(x.chunks_mut((P * c).max(1)))
            .take(tiles);
        #[cfg(target_os = "none")]
        let group = core::iter::once((hidden, &mut *x));
        for (hidden, x) in group {
            let mut accs = [[[0i32; 2]; P]; BATCH];
            let live = x.len() / c.max(1);
            let run = PairRun {
                x: hidden,
                weights: wb,
                wide: hb,
                bias: bb,
                len: 4 * c,
                live,
            };
            let n = match WIDE {
                true => dot_pairs16::<P>(&mut accs, run),
                false => dot_pairs::<false, P>(&mut accs, run),
            };
            let o0 = first + 2 * batch * BATCH;
            // The host's tiles with AVX2: 8 rows of a pixel a step, for as
            // many groups of 4 pairs as it can; the loop below does the rest.
            let done = match P {
                super::in_place_map::HOST_TILE_PIXELS => {
                    let run = ResidualRun {
                        c,
                        pixels: live,
                        first_row: o0,
                        accs: accs[..n].as_flattened(),
                        requant: rb,
                        residual: p.residual.as_ref().get(4 * o0..).unwrap_or_default(),
                        layer,
                    };
                    Native::residual_groups(x, run)
                }
                _ => 0,
            };
            let rows = accs.iter().zip(rb.chunks_exact(2 * Requant::BYTES)).take(n);
            for (j, (acc, r)) in rows.enumerate().skip(done) {
                // One row at a time over the pixels: fewer constants live.
                // (`0..2`, not the chunks' indices, so the lanes' index is
                // known in range.)
                for i in 0..2 {
                    let o = o0 + 2 * j + i;
                    let rq = requant_at(r, i);
                    let Some(row) = layer.row(rq, i32_at(p.residual.as_ref(), o)) else {
                        residual_each(p, x, o, acc.map(|a| a[i]), rq);
                        continue;
                    };
                    for (t, a) in acc.iter().enumerate() {
                        if let Some(v) = x.get_mut(t * c + o) {
                            *v = clamp_i8(layer.apply(row, *v, a[i]));
                        }
                    }
                }
            }
        }
    }
}

/// [`pw2_pairs`]'s rows whose multipliers have no prepared form: the
/// general residual sum, out of line.
#[cold]
#[inline(never)]
fn residual_each<B: AsRef<[u8]>, const P: usize>(
    p: &BlockParams<B>,
    x: &mut [i8],
    o: usize,
    acc: [i32; P],
    rq: Requant,
) {
    let c = p.map.c;
    for (t, &a) in acc.iter().enumerate() {
        if let Some(v) = x.get_mut(t * c + o) {
            let s = requantize_sum_i32(*v as i32 - p.x_zero_point, p.residual_at(o), a, rq);
            *v = clamp_i8(s.saturating_add(p.out_zero_point));
        }
    }
}

/// pw2's results: plus the residual (the original still in `x`), into `x`.
struct Pw2Sink<'a> {
    x: &'a mut [i8],
    c: usize,
    zx: i32,
    /// Each row's stream mantissa ([`BlockParams::residual`]).
    residual: &'a [u8],
    residual_shift: i32,
    zo: i32,
    /// The prepared form, when the zero points allow it.
    layer: Option<ResidualLayer>,
}

impl<const P: usize> RowSink<P> for Pw2Sink<'_> {
    #[inline(always)]
    fn output(&mut self, t: usize, o: usize, acc: i32, rq: Requant) {
        let at = t * self.c + o;
        let residual = i32_at(self.residual, o);
        let row = self.layer.and_then(|l| Some((l, l.row(rq, residual)?)));
        if let Some(x) = self.x.get_mut(at) {
            let v = match row {
                Some((l, r)) => l.apply(r, *x, acc),
                None => {
                    let stream = Requant::new(residual, self.residual_shift);
                    requantize_sum_i32(*x as i32 - self.zx, stream, acc, rq).saturating_add(self.zo)
                }
            };
            *x = clamp_i8(v);
        }
    }

    #[inline(always)]
    fn pair(&mut self, o: usize, acc: [[i32; 2]; P], rq: [Requant; 2]) {
        let Some(l) = self.layer else {
            return self.each(o, acc, rq);
        };
        let (r0, r1) = (i32_at(self.residual, o), i32_at(self.residual, o + 1));
        let (Some(r0), Some(r1)) = (l.row(rq[0], r0), l.row(rq[1], r1)) else {
            return self.each(o, acc, rq);
        };
        for (t, row) in acc.iter().enumerate() {
            let at = t * self.c + o;
            if let Some(x) = self.x.get_mut(at..at + 2) {
                x[0] = clamp_i8(l.apply(r0, x[0], row[0]));
                x[1] = clamp_i8(l.apply(r1, x[1], row[1]));
            }
        }
    }
}

/// pw1 + activation of a two-pixel tile on DSP cores into its widened
/// hidden vectors `wide` ([`BlockParams::wide_hidden`],
/// [`super::pointwise_wide::wide_offset`]), from the normalised vectors
/// `xn`; whether every row was (if not, the caller runs [`pw1_wide`]).
#[inline(never)]
pub(super) fn pw1_to_wide<B: AsRef<[u8]>>(p: &BlockParams<B>, xn: &[i8], wide: &mut [i8]) -> bool {
    let c = p.map.c;
    let (table, zp, xw) = (
        <&[u8; 256]>::try_from(p.act_table.as_ref()),
        i8::try_from(p.pw1_zero_point),
        xn.get(..4 * c),
    );
    let (Ok(table), Ok(zp), Some(xw)) = (table, zp, xw) else {
        return false;
    };
    let act = ActTable {
        table,
        plus: Halved::plus(zp),
    };
    Native::pw1_activate::<true>(wide, xw, (p.pw1.tables(), act)) == 4 * c
}

/// pw2, layer scale and residual of a two-pixel tile on DSP cores from its
/// widened hidden vectors (from [`pw1_to_wide`]) into `x` (the two pixels);
/// returns the rows done. Where that is short of `C` (a row with no
/// prepared multiplier), `wide` is narrowed into the paired `hidden`
/// vectors, for [`pw2_tile`] to go on from that row.
#[inline(never)]
pub(super) fn pw2_from_wide<B: AsRef<[u8]>>(
    p: &BlockParams<B>,
    wide: &[i8],
    hidden: &mut [i8],
    x: &mut [i8],
) -> usize {
    let c = p.map.c;
    let layer = ResidualLayer::new(p.x_zero_point, p.residual_shift, p.out_zero_point);
    let done = match layer {
        Some(l) if c.is_multiple_of(2) => {
            Native::pw2_residual::<true>(x, wide, (p.pw2.tables(), l, p.residual.as_ref()))
        }
        _ => 0,
    };
    if done < c {
        super::pointwise_wide::narrow_pair(wide, hidden, 4 * c);
    }
    done
}
