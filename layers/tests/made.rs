//! MADE (`AutoregressiveNetwork`) through the engine: the autoregressive property measured with
//! the engine's own gradients, the conditional input's reach, output layout, errors, and
//! gradient checks.

use std::cell::RefCell;
use std::collections::HashMap;

use autodiff::prelude::*;
use autodiff::rng::CounterRng;
use autodiff::testing::{check_grads, Spec};
use layers::testing::check_layer_grads;
use layers::{
    build_layer, made_masks, Activation, AutoregressiveNetwork, ConditionalInputLayers, HiddenDegrees, InputOrder,
    LayerCx, Mode,
};

fn normals(n: usize, rng: &mut CounterRng) -> Vec<f64> {
    (0..n).map(|_| (-2.0 * rng.uniform_open0().ln()).sqrt() * (std::f64::consts::TAU * rng.uniform()).cos()).collect()
}

fn pick(rng: &mut CounterRng, n: usize) -> usize {
    ((rng.uniform() * n as f64) as usize).min(n - 1)
}

/// Boolean reachability from the rows of `masks[from]` to the output columns.
fn reach_from(masks: &[Vec<Vec<bool>>], from: usize) -> Vec<Vec<bool>> {
    let mut r = masks[from].clone();
    for m in &masks[from + 1..] {
        r = r
            .iter()
            .map(|row| (0..m[0].len()).map(|j| row.iter().zip(m).any(|(&a, mr)| a && mr[j])).collect())
            .collect();
    }
    r
}

struct Config {
    made: AutoregressiveNetwork<f64>,
    d: usize,
    c: Option<usize>,
}

fn random_config(rng: &mut CounterRng, k: u64) -> Config {
    let d = 1 + pick(rng, 5);
    let hidden: Vec<usize> = (0..pick(rng, 3)).map(|_| 1 + pick(rng, 7)).collect();
    let order = match pick(rng, 4) {
        0 => InputOrder::LeftToRight,
        1 => InputOrder::RightToLeft,
        2 => InputOrder::Random { seed: k },
        _ => {
            // An explicit permutation of 1..=d: a rotation.
            let s = pick(rng, d);
            InputOrder::Explicit((0..d).map(|i| (i + s) % d + 1).collect())
        }
    };
    let degrees = if pick(rng, 2) == 0 { HiddenDegrees::Equal } else { HiddenDegrees::Random { seed: k + 100 } };
    let params = 1 + pick(rng, 3);
    let mut made = AutoregressiveNetwork::<f64>::new(params)
        .name("made")
        .hidden_units(&hidden)
        .input_order(order)
        .hidden_degrees(degrees)
        .activation(Activation::Tanh)
        .bias_initializer(Init::Normal { mean: 0.0, std: 0.5 });
    let c = if pick(rng, 2) == 0 {
        let c = 1 + pick(rng, 3);
        let layers =
            if pick(rng, 2) == 0 { ConditionalInputLayers::AllLayers } else { ConditionalInputLayers::FirstLayer };
        made = made.conditional(true).conditional_input_layers(layers);
        Some(c)
    } else {
        None
    };
    Config { made, d, c }
}

/// For each output column, the gradients of its batch sum w.r.t. `x` (and the conditional
/// input), at random weights and inputs: `([column][b·D + i], [column][b·C + j])`.
fn column_gradients(cfg: &Config, batch: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (d, p) = (cfg.d, cfg.made.params);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(seed);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.input("x", [batch, d]);
    let cond = cfg.c.map(|c| g.input("c", [batch, c]));
    let out = match cond {
        Some(c) => cfg.made.forward_conditional(x, c, &mut cx),
        None => build_layer(&cfg.made, x, &mut cx),
    };
    drop(cx);
    let flat = reshape(out, [batch, d * p]);
    let wrt: Vec<Tensor<'_, f64>> = std::iter::once(x).chain(cond).collect();
    let mut fetch = Vec::new();
    for col in 0..d * p {
        fetch.extend(grad(slice(flat, 1, col, col + 1).sum_all(), &wrt));
    }
    let plan = g.compile(&fetch).unwrap();
    let mut rng = CounterRng::new(seed ^ 0xfeed);
    let xv = normals(batch * d, &mut rng);
    let cv = cfg.c.map(|c| normals(batch * c, &mut rng));
    let mut feeds: Vec<(&str, &[f64])> = vec![("x", &xv)];
    if let Some(cv) = &cv {
        feeds.push(("c", cv));
    }
    let mut s = Session::new(plan, 0);
    let o = s.run(&store, &feeds).unwrap();
    let k = wrt.len();
    let gx = (0..d * p).map(|col| o[col * k].to_vec()).collect();
    let gc = if k == 2 { (0..d * p).map(|col| o[col * k + 1].to_vec()).collect() } else { vec![] };
    (gx, gc)
}

#[test]
fn autoregressive_property_holds_exactly_for_random_configurations() {
    let mut rng = CounterRng::new(2024);
    let batch = 3;
    let mut allowed_nonzero = 0;
    for k in 0..24u64 {
        let cfg = random_config(&mut rng, k);
        let (d, p) = (cfg.d, cfg.made.params);
        let degrees = cfg.made.degrees(d).unwrap();
        let masks = made_masks(&degrees, p);
        let reach = reach_from(&masks, 0);
        let (gx, gc) = column_gradients(&cfg, batch, 10 + k);
        for col in 0..d * p {
            let e = col / p;
            for i in 0..d {
                let may = degrees[0][i] < degrees[0][e];
                // The masks never connect what the degrees forbid.
                assert!(!reach[i][col] || may, "config {k}: mask path {i} → column {col}");
                for b in 0..batch {
                    let v = gx[col][b * d + i];
                    if reach[i][col] {
                        assert!(v != 0.0, "config {k} {:?}: ∂out[{col}]/∂x[{i}] is 0 on a path", cfg.made);
                        allowed_nonzero += 1;
                    } else {
                        assert_eq!(v, 0.0, "config {k} {:?}: ∂out[{col}]/∂x[{i}] = {v}", cfg.made);
                    }
                }
            }
            if let Some(c) = cfg.c {
                // Every column sees the conditional input through its own layer (all layers), or
                // the first layer when that feeds it: directly when there is no hidden layer,
                // else through a hidden unit that reaches it.
                let reached = match cfg.made.conditional_input_layers {
                    ConditionalInputLayers::AllLayers => true,
                    ConditionalInputLayers::FirstLayer => {
                        masks.len() == 1 || reach_from(&masks, 1).iter().any(|row| row[col])
                    }
                };
                for b in 0..batch {
                    for j in 0..c {
                        let v = gc[col][b * c + j];
                        assert_eq!(v != 0.0, reached, "config {k}: ∂out[{col}]/∂cond[{j}] = {v}");
                    }
                }
            }
        }
    }
    assert!(allowed_nonzero > 100, "only {allowed_nonzero} permitted derivatives were exercised");
}

#[test]
fn conditional_input_reaches_every_output() {
    // All layers: every column, every input size, with and without hidden layers.
    for hidden in [vec![], vec![5], vec![4, 6]] {
        let made = AutoregressiveNetwork::<f64>::new(2)
            .hidden_units(&hidden)
            .activation(Activation::Tanh)
            .conditional_event_shape(2);
        let (_, gc) = column_gradients(&Config { made, d: 3, c: Some(2) }, 2, 5);
        assert!(gc.iter().all(|col| col.iter().all(|&v| v != 0.0)), "{hidden:?}: {gc:?}");
    }
    // First layer only, with hidden layers: every column except those of the degree-1 input,
    // which see no hidden unit (their degrees are ≥ 1), so no conditional input either (as TFP).
    let made = AutoregressiveNetwork::<f64>::new(2)
        .hidden_units(&[6, 6])
        .activation(Activation::Tanh)
        .conditional_event_shape(2)
        .conditional_input_layers(ConditionalInputLayers::FirstLayer);
    let (_, gc) = column_gradients(&Config { made, d: 3, c: Some(2) }, 2, 6);
    for (col, g) in gc.iter().enumerate() {
        assert_eq!(g.iter().all(|&v| v != 0.0), col >= 2, "column {col}: {g:?}");
        assert_eq!(g.iter().all(|&v| v == 0.0), col < 2, "column {col}: {g:?}");
    }
    // With a single input the hidden degrees are 0 and the first layer reaches everything.
    let made = AutoregressiveNetwork::<f64>::new(2)
        .hidden_units(&[3])
        .activation(Activation::Tanh)
        .conditional_event_shape(2)
        .conditional_input_layers(ConditionalInputLayers::FirstLayer);
    let (_, gc) = column_gradients(&Config { made, d: 1, c: Some(2) }, 2, 7);
    assert!(gc.iter().all(|col| col.iter().all(|&v| v != 0.0)), "{gc:?}");
}

fn run(out: Tensor<'_, f64>, store: &ParamStore<f64>, feeds: &[(&str, &[f64])]) -> (Vec<f64>, Vec<usize>) {
    let g = out.graph();
    let mut s = Session::new(g.compile(&[out]).unwrap(), 0);
    let o = s.run(store, feeds).unwrap();
    (o[0].to_vec(), o.dims(0).to_vec())
}

#[test]
fn output_column_is_e_times_params_plus_p() {
    // No hidden layer, kernel all ones, bias = column index: out[e, p] = Σ_{i<e} x_i + 2e + p.
    let made = AutoregressiveNetwork::<f64>::new(2).name("made").kernel_initializer(Init::Ones);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let out = build_layer(&made, x, &mut cx);
    drop(cx);
    let id = store.id("made/bias_0").unwrap();
    store.data_mut(id).copy_from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let (v, dims) = run(out, &store, &[("x", &[1.0, 10.0, 100.0])]);
    assert_eq!(dims, [1, 3, 2]);
    // e = 0: bias only [0, 1]; e = 1: x1 + [2, 3]; e = 2: x1 + x2 + [4, 5].
    assert_eq!(v, [0.0, 1.0, 3.0, 4.0, 15.0, 16.0]);
}

#[test]
fn right_to_left_and_masked_initial_kernel_entries_do_not_matter() {
    // Right to left: x3 has degree 1 and predicts from nothing, x1 from x2 and x3.
    let made = AutoregressiveNetwork::<f64>::new(1).name("made").input_order(InputOrder::RightToLeft);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let out = build_layer(&made, x, &mut cx);
    drop(cx);
    // Fill the whole kernel, masked entries included, with 1..9 (row-major [in, out]).
    let id = store.id("made/kernel_0").unwrap();
    store.data_mut(id).copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let (v, _) = run(out, &store, &[("x", &[1.0, 10.0, 100.0])]);
    // out_1 = 10·W[1,0] + 100·W[2,0] = 40 + 700; out_2 = 100·W[2,1] = 800; out_3 = 0.
    assert_eq!(v, [740.0, 800.0, 0.0]);
}

#[test]
fn rank1_inputs_and_broadcast_conditional_batch() {
    let made = AutoregressiveNetwork::<f64>::new(2).name("made").hidden_units(&[4]).conditional(true);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(3);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x1 = g.input("x", [3]);
    let c = g.batched_input("c", &[2]);
    let c1 = g.input("c1", [2]);
    let a = made.forward_conditional(x1, c, &mut cx);
    let b = made.forward_conditional(x1, c1, &mut cx);
    drop(cx);
    g.check().unwrap();
    assert_eq!(a.shape(), Shape::new([B, 3.into(), 2.into()]));
    assert_eq!(b.shape(), Shape::from(&[3, 2][..]));
    // Same parameters: row k of `a` equals `b` at c1 = c[k].
    let xv = [0.3, -1.0, 2.0];
    let cv = [0.5, -0.5, 1.5, 0.25];
    let mut s = Session::new(g.compile(&[a, b]).unwrap(), 0);
    let o = s.run(&store, &[("x", &xv), ("c", &cv), ("c1", &cv[2..])]).unwrap();
    assert_eq!(&o[0][6..], &o[1][..]);
    assert_ne!(&o[0][..6], &o[1][..]);
}

fn first_error(f: impl for<'g> FnOnce(&'g Graph<f64>, &mut LayerCx<'g, '_, f64>)) -> String {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    f(&g, &mut cx);
    drop(cx);
    g.check().unwrap_err().to_string()
}

#[test]
fn mistakes_are_graph_errors_naming_the_layer() {
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(2).name("m").conditional(true);
        build_layer(&made, g.batched_input("x", &[3]), cx);
    });
    assert!(e.contains("AutoregressiveNetwork (m)") && e.contains("no conditional input"), "{e}");
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(2).name("m");
        made.forward_conditional(g.batched_input("x", &[3]), g.batched_input("c", &[1]), cx);
    });
    assert!(e.contains("`conditional` is false"), "{e}");
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(2).name("m").event_shape(4);
        build_layer(&made, g.batched_input("x", &[3]), cx);
    });
    assert!(e.contains("event_shape is [4]") && e.contains("[B, 3]"), "{e}");
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(2).name("m").input_order(InputOrder::Explicit(vec![1, 3, 3]));
        build_layer(&made, g.batched_input("x", &[3]), cx);
    });
    assert!(e.contains("[1, 3, 3] is not a permutation of 1..=3"), "{e}");
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(1).name("m").conditional_event_shape(2);
        made.forward_conditional(g.batched_input("x", &[3]), g.batched_input("c", &[5]), cx);
    });
    assert!(e.contains("conditional_event_shape is [2]"), "{e}");
    let e = first_error(|g, cx| {
        let made = AutoregressiveNetwork::<f64>::new(1).name("m").conditional(true);
        made.forward_conditional(g.input("x", [4, 3]), g.input("c", [5, 2]), cx);
    });
    assert!(e.contains("do not broadcast"), "{e}");
}

#[test]
fn regularizers_see_the_masked_kernel() {
    // Σ of the masked kernel: with all-ones kernel, D = 3, params 2, no hidden: 6 connections
    // (column pairs of x2: 2, of x3: 4); the bias regularizer sees 6 zeros.
    let made = AutoregressiveNetwork::<f64>::new(2)
        .kernel_initializer(Init::Ones)
        .kernel_regularizer(Some(std::sync::Arc::new(|w| w.sum_all())))
        .bias_regularizer(Some(std::sync::Arc::new(|b| (b + 1.0).sum_all())));
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    build_layer(&made, g.batched_input("x", &[3]), &mut cx);
    let reg = cx.total_regularization().unwrap();
    assert_eq!(cx.losses().len(), 2);
    drop(cx);
    let (v, _) = run(reg, &store, &[]);
    assert_eq!(v, [6.0 + 6.0]);
}

#[test]
fn gradient_checks_through_the_network() {
    let tanh = || Activation::<f64>::Tanh;
    let bias = Init::Normal { mean: 0.0, std: 0.3 };
    check_layer_grads(
        &AutoregressiveNetwork::new(2).name("a").hidden_units(&[4]).activation(tanh()).bias_initializer(bias),
        &[3],
        2,
        1,
        2,
    )
    .unwrap();
    check_layer_grads(
        &AutoregressiveNetwork::new(3)
            .name("b")
            .hidden_units(&[3, 4])
            .input_order(InputOrder::Random { seed: 4 })
            .hidden_degrees(HiddenDegrees::Random { seed: 5 })
            .activation(Activation::Softplus),
        &[4],
        3,
        2,
        1,
    )
    .unwrap();
    check_layer_grads(&AutoregressiveNetwork::new(1).name("c").input_order(InputOrder::RightToLeft), &[2, 3], 2, 3, 1)
        .unwrap();
}

#[test]
fn gradient_check_with_conditional_input() {
    // Parameters as inputs of the check, next to x and the conditional input.
    let made = AutoregressiveNetwork::<f64>::new(2)
        .name("m")
        .hidden_units(&[3])
        .activation(Activation::Tanh)
        .conditional_event_shape(2)
        .conditional_input_layers(ConditionalInputLayers::AllLayers);
    let mut store = ParamStore::<f64>::new(9);
    let params: Vec<(String, Vec<usize>, Vec<f64>)> = {
        let g = Graph::<f64>::new();
        let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
        made.forward_conditional(g.input("x", [2, 3]), g.input("c", [2, 2]), &mut cx);
        let ids: Vec<ParamId> = cx.params().iter().map(|p| p.0).collect();
        drop(cx);
        g.check().unwrap();
        ids.into_iter()
            .map(|id| {
                let p = store.param(id);
                (p.path().to_string(), p.shape().to_vec(), p.data().to_vec())
            })
            .collect()
    };
    let names: Vec<&str> = params.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        ["m/kernel_0", "m/bias_0", "m/conditional_kernel_0", "m/kernel_1", "m/bias_1", "m/conditional_kernel_1"]
    );
    let mut specs = vec![Spec::new([2, 3]), Spec::new([2, 2])];
    specs.extend(params.iter().map(|(_, s, v)| Spec::new(Shape::from(&s[..])).values(v.clone())));
    let store = RefCell::new(store);
    check_grads(
        |g, xs| {
            let tensors: HashMap<String, Tensor<'_, f64>> =
                params.iter().zip(&xs[2..]).map(|((p, _, _), t)| (p.clone(), *t)).collect();
            let mut st = store.borrow_mut();
            let mut cx = LayerCx::with_param_tensors(g, &mut st, Mode::Sample, tensors);
            made.forward_conditional(xs[0], xs[1], &mut cx)
        },
        &specs,
        2,
    );
}
