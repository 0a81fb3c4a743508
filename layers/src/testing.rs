//! Gradient checks for layers, including your own: the layer's parameters become inputs of the
//! check, its noise is frozen (every evaluation replays step 0), and both its output and the
//! divergences it registers are checked against central differences in `f64`.

use std::cell::RefCell;
use std::collections::HashMap;

use autodiff::prelude::*;
use autodiff::testing::{try_check_grads, GradCheckOptions, Spec};

use crate::layer::{build_layer, Layer, LayerCx, Mode};

/// Checks the gradients of `layer`'s output and of its total divergence with respect to its
/// input (`[batch, input_dims...]`, standard-normal values) and to every parameter it creates
/// (at their initial values from `seed`). Returns the first failure, which names the check's
/// inputs `x0` (the layer's input), `x1`, `x2`, ... (its parameters in creation order) and
/// ends with their legend, e.g. `(x0 = the layer's input, x1 = gate/gate_loc, ...)`.
pub fn check_layer_grads(
    layer: &dyn Layer<f64>,
    input_dims: &[usize],
    batch: usize,
    seed: u64,
    order: usize,
) -> Result<(), String> {
    // Build once to create the parameters and learn their paths and shapes.
    let mut store = ParamStore::<f64>::new(seed);
    let params: Vec<(String, Vec<usize>, Vec<f64>)> = {
        let g = Graph::<f64>::new();
        let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
        let x = g.batched_input("x", input_dims);
        build_layer(layer, x, &mut cx);
        let ids: Vec<ParamId> = cx.params().iter().map(|p| p.0).collect();
        drop(cx);
        g.check().map_err(|e| e.to_string())?;
        let mut seen = std::collections::HashSet::new();
        ids.into_iter()
            .filter(|id| seen.insert(*id))
            .map(|id| {
                let p = store.param(id);
                (p.path().to_string(), p.shape().to_vec(), p.data().to_vec())
            })
            .collect()
    };
    let mut x_shape = vec![batch];
    x_shape.extend_from_slice(input_dims);
    let mut specs = vec![Spec::new(Shape::from(&x_shape[..]))];
    specs.extend(params.iter().map(|(_, shape, v)| Spec::new(Shape::from(&shape[..])).values(v.clone())));
    // Failures name the check's inputs x0, x1, ...: say which is which.
    let legend: String = std::iter::once("x0 = the layer's input".to_string())
        .chain(params.iter().enumerate().map(|(k, (path, _, _))| format!("x{} = {path}", k + 1)))
        .collect::<Vec<_>>()
        .join(", ");
    let store = RefCell::new(store);
    for (what, take_kl) in [("output", false), ("divergence", true)] {
        let f = layer_fn(layer, &params, &store, take_kl);
        try_check_grads(&f, &specs, order, GradCheckOptions::default())
            .map_err(|e| format!("{} {what}: {e} ({legend})", layer.name()))?;
    }
    Ok(())
}

/// The layer as a function of its input and its parameters (in `params` order): its output, or
/// its total divergence.
fn layer_fn<'a>(
    layer: &'a dyn Layer<f64>,
    params: &'a [(String, Vec<usize>, Vec<f64>)],
    store: &'a RefCell<ParamStore<f64>>,
    take_kl: bool,
) -> impl for<'g> Fn(&'g Graph<f64>, &[Tensor<'g, f64>]) -> Tensor<'g, f64> + 'a {
    move |g, xs| {
        let tensors: HashMap<String, Tensor<'_, f64>> =
            params.iter().zip(&xs[1..]).map(|((path, _, _), t)| (path.clone(), *t)).collect();
        let mut st = store.borrow_mut();
        let mut cx = LayerCx::with_param_tensors(g, &mut st, Mode::Sample, tensors);
        let y = build_layer(layer, xs[0], &mut cx);
        if take_kl {
            cx.total_divergence().unwrap_or_else(|| g.scalar(0.0))
        } else {
            y
        }
    }
}
