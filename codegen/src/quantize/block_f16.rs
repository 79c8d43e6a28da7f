//! A block kept in f16 (see `convnext::kernels::block_f16`): the checkpoint's
//! weights rounded to f16, depthwise laid out `[7][7][c]`, the int8 streams'
//! scales on either side.

use super::StreamQuant;
use crate::model::Block;
use convnext::kernels::activation::Activation;
use convnext::kernels::block_f16::{BlockF16Params, F16Linear};
use convnext::kernels::tables::f16_table;
use convnext::kernels::{InPlaceMap, Placement};

fn f16s(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    f16_table(v).collect()
}

/// The block over an `h x w` map from the `input` stream to the `out` stream.
pub(super) fn quantize(
    block: &Block,
    act: Activation,
    (h, w): (usize, usize),
    input: &StreamQuant,
    out: &StreamQuant,
) -> BlockF16Params<Vec<u8>> {
    let c = block.dw_bias.len();
    let mut dw = vec![0f32; 49 * c];
    for ch in 0..c {
        for t in 0..49 {
            dw[t * c + ch] = block.dw_weight.data[ch * 49 + t];
        }
    }
    let f16_linear = |weights: &[f32], bias: &[f32]| F16Linear {
        weights: f16s(weights.iter().copied()),
        bias: f16s(bias.iter().copied()),
    };
    BlockF16Params {
        map: InPlaceMap { h, w, c },
        at: Placement::default(),
        x_scale: input.unit.scale as f32,
        x_zero_point: input.zero_point(),
        profile: input.profile_table(),
        dw: f16_linear(&dw, &block.dw_bias),
        ln_weight: f16s(block.norm.weight.iter().copied()),
        ln_bias: f16s(block.norm.bias.iter().copied()),
        ln_eps: block.norm.eps,
        pw1: f16_linear(&block.pwconv1.weight.data, &block.pwconv1.bias),
        act,
        pw2: f16_linear(&block.pwconv2.weight.data, &block.pwconv2.bias),
        gamma: f16s((0..c).map(|o| block.gamma.as_ref().map_or(1.0, |g| g[o]))),
        out_scale: out.unit.scale as f32,
        out_zero_point: out.zero_point(),
        out_profile: out.profile_table(),
    }
}
