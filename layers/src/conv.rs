//! Deterministic convolution layers (Keras' `Conv1D/2D/3D`), for mixed models, and pooling and
//! flattening layers.

use autodiff::prelude::*;
use std::panic::Location;

use crate::activation::Activation;
use crate::conv_map::ConvMap;
use crate::layer::{Layer, LayerCx};
use crate::linear_map::LinearMap;

/// `activation(conv(x, kernel) + bias)` with Glorot-uniform kernel `[k..., c_in, filters]` and
/// zero bias (Keras' defaults).
#[derive(Clone, Debug)]
pub struct Conv<F: Scalar> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// Geometry and filters.
    pub map: ConvMap,
    /// Activation.
    pub activation: Activation<F>,
    /// Whether to add a bias.
    pub use_bias: bool,
    /// Whether optimizers update the parameters.
    pub trainable: bool,
}

impl<F: Scalar> Conv<F> {
    #[track_caller]
    fn with(map: ConvMap, name: &str) -> Self {
        Conv {
            name: name.into(),
            origin: Location::caller(),
            map,
            activation: Activation::Linear,
            use_bias: true,
            trainable: true,
        }
    }
    /// Keras' `Conv1D(filters, kernel_size)`.
    #[track_caller]
    pub fn conv1d(filters: usize, kernel_size: usize) -> Self {
        Self::with(ConvMap::new(filters, &[kernel_size]), "conv1d")
    }
    /// Keras' `Conv2D(filters, kernel_size)`.
    #[track_caller]
    pub fn conv2d(filters: usize, kernel_size: [usize; 2]) -> Self {
        Self::with(ConvMap::new(filters, &kernel_size), "conv2d")
    }
    /// Keras' `Conv3D(filters, kernel_size)`.
    #[track_caller]
    pub fn conv3d(filters: usize, kernel_size: [usize; 3]) -> Self {
        Self::with(ConvMap::new(filters, &kernel_size), "conv3d")
    }
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, a: Activation<F>) -> Self {
        self.activation = a;
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, p: Padding) -> Self {
        self.map.geometry.padding = p;
        self
    }
    /// Sets the strides.
    pub fn strides(mut self, s: &[usize]) -> Self {
        self.map.geometry.strides = s.iter().copied().collect();
        self
    }
}

impl<F: Scalar> Layer<F> for Conv<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }
    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let kshape = match <ConvMap as LinearMap<F>>::kernel_shape(&self.map, &x.shape()) {
            Ok(k) => k,
            Err(msg) => {
                g.record_shape_error(
                    "conv",
                    ShapeError::Custom(format!("{} ({}): {msg}", LinearMap::<F>::family(&self.map), self.name)),
                    &[x],
                );
                return g.poisoned();
            }
        };
        let w = cx.param("kernel", &kshape, Init::GlorotUniform, self.trainable);
        let mut y = LinearMap::<F>::apply(&self.map, x, w);
        if self.use_bias {
            let b = cx.param("bias", &[self.map.filters], Init::Zeros, self.trainable);
            y = LinearMap::<F>::add_bias(&self.map, y, b);
        }
        self.activation.apply(y)
    }
}

/// Max or average pooling (Keras' `MaxPooling{1,2,3}D` / `AveragePooling{1,2,3}D`); the rank is
/// the length of `pool_size`. Strides default to the pool size, padding to `valid`.
#[derive(Clone, Debug)]
pub struct Pool {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// Max (true) or average (false).
    pub max: bool,
    /// Window per spatial axis.
    pub pool_size: Vec<usize>,
    /// Strides per spatial axis.
    pub strides: Vec<usize>,
    /// Padding.
    pub padding: Padding,
    /// Data format.
    pub data_format: DataFormat,
}

impl Pool {
    /// Max pooling with window `pool_size` and equal strides.
    #[track_caller]
    pub fn max(pool_size: &[usize]) -> Self {
        Pool {
            name: "max_pool".into(),
            origin: Location::caller(),
            max: true,
            pool_size: pool_size.to_vec(),
            strides: pool_size.to_vec(),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
        }
    }
    /// Average pooling with window `pool_size` and equal strides.
    #[track_caller]
    pub fn avg(pool_size: &[usize]) -> Self {
        Pool { name: "avg_pool".into(), max: false, ..Self::max(pool_size) }
    }
}

impl<F: Scalar> Layer<F> for Pool {
    fn name(&self) -> &str {
        &self.name
    }
    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }
    fn forward<'g>(&self, x: Tensor<'g, F>, _cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        if self.max {
            max_pool(x, &self.pool_size, &self.strides, self.padding, self.data_format)
        } else {
            avg_pool(x, &self.pool_size, &self.strides, self.padding, self.data_format)
        }
    }
}

/// Flattens `[B, ...]` to `[B, Π ...]` (Keras' `Flatten`).
#[derive(Clone, Debug, Default)]
pub struct Flatten;

impl<F: Scalar> Layer<F> for Flatten {
    fn name(&self) -> &str {
        "flatten"
    }
    fn forward<'g>(&self, x: Tensor<'g, F>, _cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        flatten(x)
    }
}
