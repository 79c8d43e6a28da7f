//! A quantized linear map: int8 weight rows, an int32 bias and a requant
//! multiplier per output. Every pointwise layer, the downsample and stem
//! convolutions, the classifier and (per channel) the depthwise filter are one.

use super::arch::Native;
use super::dot::dot_i8;
use super::frame::PairDot;
use super::requantize::{requant_at, Requant};
use super::tables::i32_at;

/// Weights, biases and multipliers of one layer, as byte tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QLinear<B = &'static [u8]> {
    /// int8 weights, one row per output (the row layout is the kernel's).
    pub weights: B,
    /// int32 bias per output, little-endian ([`super::tables::i32_at`]).
    pub bias: B,
    /// Requant multiplier per output ([`super::requantize::requant_at`]).
    pub requant: B,
}

impl<B: AsRef<[u8]>> QLinear<B> {
    /// The tables borrowed (what the kernel frame's loops take).
    #[inline(always)]
    pub fn tables(&self) -> QLinear<&[u8]> {
        QLinear {
            weights: self.weights.as_ref(),
            bias: self.bias.as_ref(),
            requant: self.requant.as_ref(),
        }
    }

    /// Number of outputs.
    #[inline]
    pub fn outputs(&self) -> usize {
        self.bias.as_ref().len() / 4
    }

    /// Bias of output `o`.
    #[inline]
    pub fn bias(&self, o: usize) -> i32 {
        i32_at(self.bias.as_ref(), o)
    }

    /// Multiplier of output `o`.
    #[inline]
    pub fn requant(&self, o: usize) -> Requant {
        requant_at(self.requant.as_ref(), o)
    }

    /// Weight row of output `o`, `len` weights long.
    #[inline]
    pub fn row(&self, o: usize, len: usize) -> &[u8] {
        // Past the table's end: an empty row, never a panic.
        let w = self.weights.as_ref();
        w.get(o * len..(o + 1) * len).unwrap_or_default()
    }

    /// `bias[o] + row(o) · x`: the accumulator of output `o`.
    #[inline]
    pub fn acc(&self, o: usize, x: &[i8]) -> i32 {
        dot_i8(self.bias(o), x, self.row(o, x.len()))
    }

    /// Output `o` requantized (saturated to i32, not yet offset).
    #[inline]
    pub fn output(&self, o: usize, x: &[i8]) -> i32 {
        self.requant(o).apply_i32(self.acc(o, x))
    }

    /// Parameter bytes.
    pub fn weights_bytes(&self) -> usize {
        let QLinear {
            weights,
            bias,
            requant,
        } = self;
        weights.as_ref().len() + bias.as_ref().len() + requant.as_ref().len()
    }
}

/// A layer's rows walked in order, two at a time as [`paired_offset`] lays
/// them out, with their biases and multipliers: the tables cut once into
/// exact chunks, so the hot loops carry no bounds checks.
///
/// [`paired_offset`]: super::pointwise::paired_offset
#[derive(Debug, Clone, Copy)]
pub struct PairedRows<'a> {
    weights: &'a [u8],
    bias: &'a [u8],
    requant: &'a [u8],
    len: usize,
    pairs: usize,
    /// The weights widened to i16 for the host's AVX2 loop, or empty
    /// (the boards have no such loop).
    #[cfg(not(target_os = "none"))]
    wide: &'a [u8],
}

impl<'a> PairedRows<'a> {
    /// The `outputs` rows of `layer`, `len` weights each, in paired layout.
    #[inline(always)]
    pub fn new<B: AsRef<[u8]>>(layer: &'a QLinear<B>, len: usize, outputs: usize) -> Self {
        let (w, b, r) = (
            layer.weights.as_ref(),
            layer.bias.as_ref(),
            layer.requant.as_ref(),
        );
        // Fewer rows than asked for if a table is short: never a panic.
        let outputs = outputs
            .min(w.len() / len.max(1))
            .min(b.len() / 4)
            .min(r.len() / Requant::BYTES);
        PairedRows {
            weights: w.get(..outputs * len).unwrap_or_default(),
            bias: b.get(..outputs * 4).unwrap_or_default(),
            requant: r.get(..outputs * Requant::BYTES).unwrap_or_default(),
            len,
            pairs: outputs / 2,
            #[cfg(not(target_os = "none"))]
            wide: &[],
        }
    }

    /// These rows with their weights also widened to i16 (little-endian,
    /// byte `i` at `2i`), which the host's AVX2 loop reads instead of
    /// widening each chunk on every pass; ignored unless it covers every
    /// row. Host only: the boards have no such loop.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub fn with_wide(self, wide: &'a [u8]) -> Self {
        let wide = wide.get(..2 * self.weights.len()).unwrap_or_default();
        PairedRows { wide, ..self }
    }

    /// Each pair of rows: their paired weights (`2 * len`), biases and
    /// multipliers.
    #[inline(always)]
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], [i32; 2], [Requant; 2])> + 'a {
        self.weights
            .chunks_exact((2 * self.len).max(1))
            .zip(self.bias.chunks_exact(8))
            .zip(self.requant.chunks_exact(2 * Requant::BYTES))
            .take(self.pairs)
            .map(|((w, b), r)| {
                (
                    w,
                    [i32_at(b, 0), i32_at(b, 1)],
                    [requant_at(r, 0), requant_at(r, 1)],
                )
            })
    }

    /// Every row against the `P` paired inputs `x` (`len` each, as
    /// [`PairDot::dot_tile`] takes them), each result handed to
    /// `sink`.
    #[inline(always)]
    pub fn run<const P: usize, S: RowSink<P>>(&self, x: &[i8], sink: &mut S) {
        self.run_from(x, sink, 0)
    }

    /// [`PairedRows::run`] from row `first` (even) on: the rows a faster
    /// loop left.
    #[inline(always)]
    pub fn run_from<const P: usize, S: RowSink<P>>(&self, x: &[i8], sink: &mut S, first: usize) {
        #[allow(unused_mut)]
        let mut o = first & !1;
        #[cfg(not(target_os = "none"))]
        if o == 0 && P == super::in_place_map::HOST_TILE_PIXELS && self.len.is_multiple_of(4) {
            o = self.run_batched(x, P, sink);
        }
        self.run_rest(x, sink, o)
    }

    /// [`PairedRows::run`] over a host group's tiles
    /// ([`super::in_place_map::HOST_GROUP_PIXELS`]): `x` holds the paired
    /// inputs of `live` pixels, tile after tile (`P len` bytes each), and
    /// each batch of row pairs runs over every tile before the next batch,
    /// so its weights are fetched once for the group. `sink` is told where
    /// each tile starts ([`RowSink::tile`]) before its results.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub fn run_group<const P: usize, S: RowSink<P>>(&self, x: &[i8], live: usize, sink: &mut S) {
        let mut o = 0;
        if P == super::in_place_map::HOST_TILE_PIXELS && self.len.is_multiple_of(4) {
            o = self.run_batched(x, live, sink);
        }
        let tiles = x.chunks_exact((P * self.len).max(1)).take(live.div_ceil(P));
        for (s, x) in tiles.enumerate() {
            sink.tile(s * P);
            self.run_rest(x, sink, o);
        }
    }

    /// The row pairs from row `o` (even) on, then the odd last row, one
    /// pair at a time.
    #[inline(always)]
    fn run_rest<const P: usize, S: RowSink<P>>(&self, x: &[i8], sink: &mut S, mut o: usize) {
        for (w, b, rq) in self.pairs().skip(o / 2) {
            let mut acc = [b; P];
            Native::dot_tile(&mut acc, (x, w), self.len);
            sink.pair(o, acc, rq);
            o += 2;
        }
        if let Some((w, b, rq)) = self.odd_row() {
            let mut acc = [[b]; P];
            Native::dot_tile(&mut acc, (x, w), self.len);
            for (t, a) in acc.iter().enumerate() {
                sink.output(t, o, a[0], rq);
            }
        }
    }

    /// The host's wide tiles: every row pair through
    /// [`super::pointwise::dot_pairs`] (AVX2 where the CPU has it), 8 pairs
    /// a batch, each batch over the tiles of `live` pixels in `x` (one
    /// tile, or a group's); returns the rows done for all of them.
    #[cfg(not(target_os = "none"))]
    fn run_batched<const P: usize, S: RowSink<P>>(
        &self,
        x: &[i8],
        live: usize,
        sink: &mut S,
    ) -> usize {
        const BATCH: usize = 8;
        let mut o = 0;
        let batches = self
            .weights
            .chunks((2 * self.len * BATCH).max(1))
            .zip(self.bias.chunks(8 * BATCH))
            .zip(self.requant.chunks(2 * Requant::BYTES * BATCH))
            .take(self.pairs.div_ceil(BATCH));
        for (batch, ((wb, bb), rb)) in batches.enumerate() {
            let want = (self.pairs - o / 2).min(BATCH);
            let hb = self
                .wide
                .get(4 * self.len * BATCH * batch..)
                .unwrap_or_default();
            // The same weights for every tile, so the same rows done (none
            // if `x` is short of a tile).
            let mut n = 0;
            let tiles = x.chunks_exact((P * self.len).max(1)).take(live.div_ceil(P));
            for (s, x) in tiles.enumerate() {
                let mut accs = [[[0i32; 2]; P]; BATCH];
                let live = (live - P * s).min(P);
                let run = super::frame::PairRun {
                    x,
                    weights: wb,
                    wide: hb,
                    bias: bb,
                    len: self.len,
                    live,
                };
                n = super::pointwise::dot_pairs::<false, P>(&mut accs, run);
                sink.tile(s * P);
                let rows = accs.iter().zip(rb.chunks_exact(2 * Requant::BYTES));
                for (j, (acc, r)) in rows.take(n).enumerate() {
                    sink.pair(o + 2 * j, *acc, [requant_at(r, 0), requant_at(r, 1)]);
                }
            }
            o += 2 * n;
            if n < want {
                // The rest go one pair at a time in `run_rest`.
                break;
            }
        }
        o
    }

    /// The last row when their number is odd (stored plain).
    #[inline(always)]
    pub fn odd_row(&self) -> Option<(&'a [u8], i32, Requant)> {
        let o = 2 * self.pairs;
        let w = self.weights.get(o * self.len..(o + 1) * self.len)?;
        let b = self.bias.get(4 * o..4 * o + 4)?;
        let r = self
            .requant
            .get(Requant::BYTES * o..Requant::BYTES * (o + 1))?;
        Some((w, i32_at(b, 0), requant_at(r, 0)))
    }
}

/// Where a tiled layer's results go ([`PairedRows::run`]): a trait rather
/// than closures so each layer's requantization inlines into its loop.
pub trait RowSink<const P: usize> {
    /// The accumulator of output row `o` for pixel `t`, with its multiplier.
    fn output(&mut self, t: usize, o: usize, acc: i32, rq: Requant);

    /// The results that follow are for the tile whose first pixel is
    /// `first` of a host group ([`PairedRows::run_group`]); 0 otherwise.
    #[inline(always)]
    fn tile(&mut self, first: usize) {
        let _ = first;
    }

    /// Rows `o` and `o + 1` for every pixel (accumulators by pixel, then row).
    /// Sinks with a faster form for a pair override it and fall back to
    /// [`RowSink::each`].
    #[inline(always)]
    fn pair(&mut self, o: usize, acc: [[i32; 2]; P], rq: [Requant; 2]) {
        self.each(o, acc, rq)
    }

    /// [`RowSink::pair`] one output at a time: the fallback, kept out of
    /// line so the fast forms keep their registers.
    #[cold]
    #[inline(never)]
    fn each(&mut self, o: usize, acc: [[i32; 2]; P], rq: [Requant; 2]) {
        for (t, row) in acc.iter().enumerate() {
            self.output(t, o, row[0], rq[0]);
            self.output(t, o + 1, row[1], rq[1]);
        }
    }
}
