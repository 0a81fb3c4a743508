//! A stack of layers applied in order.

use autodiff::prelude::*;

use crate::layer::{build_layer, Layer, LayerCx};

/// Layers applied one after another. Layers with the same name get Keras-style suffixes
/// (`dense_flipout`, `dense_flipout_1`, ...) so their parameters do not collide.
pub struct Sequential<F: Scalar> {
    name: String,
    layers: Vec<Box<dyn Layer<F>>>,
    names: Vec<String>,
}

impl<F: Scalar> Default for Sequential<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Scalar> Sequential<F> {
    /// An empty stack named `sequential`.
    pub fn new() -> Self {
        Sequential { name: "sequential".into(), layers: Vec::new(), names: Vec::new() }
    }
    /// Sets the stack's name (the scope of every parameter path in it).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Appends a layer (Keras' `model.add`).
    #[allow(clippy::should_implement_trait)] // the Keras name, on a builder
    pub fn add(mut self, layer: impl Layer<F> + 'static) -> Self {
        self.push(Box::new(layer));
        self
    }
    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Layer<F>>) {
        let base = layer.name().to_string();
        let mut name = base.clone();
        let mut k = 0;
        while self.names.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.names.push(name);
        self.layers.push(layer);
    }
    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
    /// The unique names of the layers, in order.
    pub fn layer_names(&self) -> &[String] {
        &self.names
    }
}

struct Renamed<'a, F: Scalar> {
    name: &'a str,
    inner: &'a dyn Layer<F>,
}

impl<F: Scalar> Layer<F> for Renamed<'_, F> {
    fn name(&self) -> &str {
        self.name
    }
    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        self.inner.forward(x, cx)
    }
    fn seed(&self) -> Option<u64> {
        self.inner.seed()
    }
    fn origin(&self) -> Option<&'static std::panic::Location<'static>> {
        self.inner.origin()
    }
}

impl<F: Scalar> Layer<F> for Sequential<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let mut h = x;
        for (layer, name) in self.layers.iter().zip(&self.names) {
            h = build_layer(&Renamed { name, inner: layer.as_ref() }, h, cx);
        }
        h
    }
}
