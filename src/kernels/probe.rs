//! Profiling hooks. Every kernel has a `*_probed` form that tells a [`Probe`]
//! when it enters each phase of its work (and how many MACs that phase
//! does), and the generated `forward_probed` tells it when each op ends. The
//! plain kernels pass [`NoProbe`], whose empty methods inline away, so the
//! code the tests check and the code a profile measures are the same code.

/// A phase of an op's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// A convolution or linear layer outside the blocks (stem, downsample
    /// and classifier convolutions).
    Conv,
    /// A 7x7 depthwise convolution.
    Depthwise,
    /// A LayerNorm (with the block's ring copy).
    LayerNorm,
    /// pwconv1 and the activation table.
    Pointwise1,
    /// pwconv2, layer scale and the residual add.
    Pointwise2,
    /// Global average pooling.
    Pool,
}

impl Phase {
    /// Every phase, in index order.
    pub const ALL: [Phase; 6] = [
        Phase::Conv,
        Phase::Depthwise,
        Phase::LayerNorm,
        Phase::Pointwise1,
        Phase::Pointwise2,
        Phase::Pool,
    ];

    /// Short name, as profiles print it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Conv => "conv",
            Phase::Depthwise => "depthwise",
            Phase::LayerNorm => "layernorm",
            Phase::Pointwise1 => "pw1",
            Phase::Pointwise2 => "pw2",
            Phase::Pool => "pool",
        }
    }
}

/// Receives the phase boundaries of a forward pass.
pub trait Probe {
    /// The running op enters `phase`, which will do `macs` multiply-accumulates
    /// (the previous phase, if any, ends here).
    #[inline(always)]
    fn enter(&mut self, phase: Phase, macs: u32) {
        let _ = (phase, macs);
    }
    /// Op `index` (in schedule order) has finished.
    #[inline(always)]
    fn op_done(&mut self, index: usize) {
        let _ = index;
    }
}

/// The probe that does nothing: what the plain kernels use.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl Probe for NoProbe {}
