//! Convolutional variational layers: TFP's `Conv{1,2,3}D{Flipout,Reparameterization}`, built on
//! the same [`Variational`] base and estimators as the dense layers through a convolution
//! [`LinearMap`].
//!
//! Kernels are `[k..., c_in, filters]` (TF layout). Flipout draws its signs per (example,
//! channel), constant over space (TFP's `_ConvFlipout`): the input signs have shape
//! `[B, 1, ..., 1, C_in]` (channels last) or `[B, C_in, 1, ..., 1]` (channels first), so each
//! example's perturbation is exactly `conv(x_b, ΔW ∘ (s_in[b] ⊗ s_out[b]))`, a genuine kernel
//! draw per example.

use autodiff::prelude::*;

use crate::estimators::{Flipout, KernelEstimator, Reparameterization};
use crate::linear_map::LinearMap;
use crate::variational::Variational;

/// A convolution's map: `conv(x, kernel)` with TF's geometry rules.
#[derive(Clone, Debug)]
pub struct ConvMap {
    /// Output channels.
    pub filters: usize,
    /// Kernel size per spatial axis (its length is the rank: 1, 2 or 3).
    pub kernel_size: Vec<usize>,
    /// Strides, padding, dilations and data format.
    pub geometry: ConvGeometry,
}

impl ConvMap {
    /// A map of the given rank with TF's defaults: strides 1, `valid` padding, channels last,
    /// dilation 1.
    pub fn new(filters: usize, kernel_size: &[usize]) -> Self {
        let r = kernel_size.len();
        ConvMap {
            filters,
            kernel_size: kernel_size.to_vec(),
            geometry: ConvGeometry::new(&vec![1; r], &vec![1; r], Padding::Valid, DataFormat::ChannelsLast),
        }
    }
    fn rank(&self) -> usize {
        self.kernel_size.len()
    }
    /// `[B, 1, ..., 1, c]` or `[B, c, 1, ..., 1]`: one value per example and channel.
    fn channel_shape(&self, batch: Dim, c: Dim) -> Shape {
        let mut dims = vec![batch];
        let ones = vec![Dim::Fixed(1); self.rank()];
        match self.geometry.data_format {
            DataFormat::ChannelsLast => {
                dims.extend(ones);
                dims.push(c);
            }
            DataFormat::ChannelsFirst => {
                dims.push(c);
                dims.extend(ones);
            }
        }
        Shape::new(dims)
    }
    fn channels_of(&self, s: &Shape) -> Dim {
        match self.geometry.data_format {
            DataFormat::ChannelsLast => s.dim(s.rank() - 1),
            DataFormat::ChannelsFirst => s.dim(1),
        }
    }
}

impl<F: Scalar> LinearMap<F> for ConvMap {
    fn family(&self) -> &'static str {
        match self.rank() {
            1 => "Conv1D",
            2 => "Conv2D",
            _ => "Conv3D",
        }
    }
    fn kernel_shape(&self, x: &Shape) -> Result<Vec<usize>, String> {
        if self.filters == 0 {
            return Err("filters must be at least 1".into());
        }
        if x.rank() != self.rank() + 2 {
            return Err(format!("input must have rank {} ([batch, spatial..., channels]), got {x}", self.rank() + 2));
        }
        let c = self.channels_of(x).fixed().ok_or_else(|| format!("the channel dimension of {x} must be known"))?;
        let mut k = self.kernel_size.clone();
        k.extend([c, self.filters]);
        Ok(k)
    }
    fn bias_shape(&self) -> Vec<usize> {
        vec![self.filters]
    }
    fn apply<'g>(&self, x: Tensor<'g, F>, kernel: Tensor<'g, F>) -> Tensor<'g, F> {
        conv(x, kernel, &self.geometry)
    }
    fn add_bias<'g>(&self, y: Tensor<'g, F>, bias: Tensor<'g, F>) -> Tensor<'g, F> {
        match self.geometry.data_format {
            DataFormat::ChannelsLast => y + bias,
            DataFormat::ChannelsFirst => {
                let mut s = vec![self.filters];
                s.extend(vec![1; self.rank()]);
                y + reshape(bias, s)
            }
        }
    }
    fn input_sign_shape(&self, x: &Shape) -> Shape {
        self.channel_shape(x.dim(0), self.channels_of(x))
    }
    fn output_sign_shape(&self, y: &Shape) -> Shape {
        self.channel_shape(y.dim(0), Dim::Fixed(self.filters))
    }
}

/// 1-D convolution with Flipout, TFP's `Conv1DFlipout`.
pub type Conv1DFlipout<F> = Variational<F, Flipout, ConvMap>;
/// 2-D convolution with Flipout, TFP's `Conv2DFlipout`.
pub type Conv2DFlipout<F> = Variational<F, Flipout, ConvMap>;
/// 3-D convolution with Flipout, TFP's `Conv3DFlipout`.
pub type Conv3DFlipout<F> = Variational<F, Flipout, ConvMap>;
/// 1-D convolution with one kernel sample per run, TFP's `Conv1DReparameterization`.
pub type Conv1DReparameterization<F> = Variational<F, Reparameterization, ConvMap>;
/// 2-D convolution with one kernel sample per run, TFP's `Conv2DReparameterization`.
pub type Conv2DReparameterization<F> = Variational<F, Reparameterization, ConvMap>;
/// 3-D convolution with one kernel sample per run, TFP's `Conv3DReparameterization`.
pub type Conv3DReparameterization<F> = Variational<F, Reparameterization, ConvMap>;

impl<F: Scalar, E: KernelEstimator + Default> Variational<F, E, ConvMap> {
    /// A 1-D convolutional variational layer with TFP's defaults.
    #[track_caller]
    pub fn conv1d(filters: usize, kernel_size: usize) -> Self {
        Self::with_map(ConvMap::new(filters, &[kernel_size]), E::default(), format!("conv1d_{}", E::NAME))
    }
    /// A 2-D convolutional variational layer with TFP's defaults.
    #[track_caller]
    pub fn conv2d(filters: usize, kernel_size: [usize; 2]) -> Self {
        Self::with_map(ConvMap::new(filters, &kernel_size), E::default(), format!("conv2d_{}", E::NAME))
    }
    /// A 3-D convolutional variational layer with TFP's defaults.
    #[track_caller]
    pub fn conv3d(filters: usize, kernel_size: [usize; 3]) -> Self {
        Self::with_map(ConvMap::new(filters, &kernel_size), E::default(), format!("conv3d_{}", E::NAME))
    }
    /// Sets the strides (one per spatial axis).
    pub fn strides(mut self, s: &[usize]) -> Self {
        self.map.geometry.strides = s.iter().copied().collect();
        self
    }
    /// Sets the dilation rate (one per spatial axis).
    pub fn dilation_rate(mut self, d: &[usize]) -> Self {
        self.map.geometry.dilations = d.iter().copied().collect();
        self
    }
    /// Sets the padding (`Valid` by default).
    pub fn padding(mut self, p: Padding) -> Self {
        self.map.geometry.padding = p;
        self
    }
    /// Sets the data format (channels last by default).
    pub fn data_format(mut self, f: DataFormat) -> Self {
        self.map.geometry.data_format = f;
        self
    }
}
