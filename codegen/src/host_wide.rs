//! The host's prepared copies of a plan's tables
//! ([`convnext::kernels::prepared`]), which its AVX2 loops read instead of
//! unpacking the boards' tables again for every tile. Built on x86-64 hosts
//! only ([`prepare`]) and kept beside the plan's ops
//! ([`crate::quantize::QuantizedOp::host`]); the emitter never sees them,
//! so no board carries them. Each is checked bit-exact against the boards'
//! loops (`tests/kernels_match_naive.rs` builds them with these functions).

use crate::quantize::QuantizedModel;
use convnext::kernels::block::BlockParams;
use convnext::kernels::depthwise::MAX_TAPS;
use convnext::kernels::downsample::DownsampleParams;
use convnext::kernels::prepared::{BlockPrepared, Prepared, ROW_PAIRS};
use convnext::kernels::requantize::{requant_at, Requant};
use convnext::network::Op;

/// Prepares every block's and downsample's tables. About twice the
/// pointwise and downsample weights' bytes of memory, on the host only.
pub fn prepare(model: &mut QuantizedModel) {
    for q in &mut model.ops {
        q.host = match &q.op {
            Op::Block(b) => Prepared::Block(block_prepared(b)),
            Op::Downsample(d) => Prepared::Downsample(downsample_prepared(d)),
            _ => Prepared::None,
        };
    }
}

/// A block's prepared tables: pw1's and pw2's weights widened to i16
/// (pw1's 4-weight chunks in its widened input's order, 0, 2, 1, 3), the
/// depthwise's multipliers unpacked (`C` mantissas, `C` shifts, as i32s),
/// and for `C` a multiple of 8 its weights paired along window rows and
/// `zx Σ w` per channel (`depthwise_row_pairs`).
pub fn block_prepared<B: AsRef<[u8]>>(b: &BlockParams<B>) -> BlockPrepared<Vec<u8>> {
    let c = b.map.c;
    let requants: Vec<Requant> = (0..c)
        .map(|ch| requant_at(b.dw.requant.as_ref(), ch))
        .collect();
    let widen = |w: &mut dyn Iterator<Item = u8>| -> Vec<u8> {
        w.flat_map(|v| (v as i8 as i16).to_le_bytes()).collect()
    };
    let pw1 = widen(
        &mut b
            .pw1
            .weights
            .as_ref()
            .chunks_exact(4)
            .flat_map(|c| [c[0], c[2], c[1], c[3]]),
    );
    // pw2 over widened i16 hidden vectors reads its chunks in their order
    // too (`BlockParams::hidden16`).
    let pw2 = if b.hidden16 {
        widen(
            &mut b
                .pw2
                .weights
                .as_ref()
                .chunks_exact(4)
                .flat_map(|c| [c[0], c[2], c[1], c[3]]),
        )
    } else {
        widen(&mut b.pw2.weights.as_ref().iter().copied())
    };
    let dw_requant = requants
        .iter()
        .flat_map(|r| r.mult.to_le_bytes())
        .chain(requants.iter().flat_map(|r| r.shift.to_le_bytes()))
        .collect();
    let (dw_rows, dw_zero) = depthwise_row_pairs(b.dw.weights.as_ref(), c, b.x_zero_point);
    BlockPrepared {
        pw1,
        pw2,
        dw_requant,
        dw_rows,
        dw_zero,
    }
}

/// A downsample's prepared table: the conv's weights widened to i16, in
/// their paired layout.
pub fn downsample_prepared<B: AsRef<[u8]>>(d: &DownsampleParams<B>) -> Vec<u8> {
    d.conv
        .weights
        .as_ref()
        .iter()
        .flat_map(|&v| (v as i8 as i16).to_le_bytes())
        .collect()
}

/// The depthwise's parts for the host's plane
/// ([`BlockPrepared::dw_rows`], [`BlockPrepared::dw_zero`]): the
/// `[7][7][c]` weights paired along each window row, taps (0, 1), (2, 3),
/// (4, 5), (6, none), as i16 pairs, and per channel `zx Σ w`; nothing
/// unless `c` is a multiple of 8.
fn depthwise_row_pairs(w: &[u8], c: usize, zx: i32) -> (Vec<u8>, Vec<u8>) {
    if !c.is_multiple_of(8) {
        return (Vec::new(), Vec::new());
    }
    // Column 7 (each row's last pair's second) has zero weights.
    let at = |ky: usize, kx: usize, ch: usize| -> i16 {
        match w.get((ky * 7 + kx) * c + ch) {
            Some(&v) if kx < 7 => v as i8 as i16,
            _ => 0,
        }
    };
    let pairs = (0..7 * ROW_PAIRS).flat_map(|j| {
        let (ky, kp) = (j / ROW_PAIRS, j % ROW_PAIRS);
        (0..c).flat_map(move |ch| [at(ky, 2 * kp, ch), at(ky, 2 * kp + 1, ch)])
    });
    let zero = (0..c).map(|ch| {
        zx * (0..MAX_TAPS)
            .map(|t| at(t / 7, t % 7, ch) as i32)
            .sum::<i32>()
    });
    (
        pairs.flat_map(i16::to_le_bytes).collect(),
        zero.flat_map(i32::to_le_bytes).collect(),
    )
}
