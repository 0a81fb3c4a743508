//! Masked autoregressive flows: invertibility, the log-determinant against the Jacobian the
//! engine computes, normalisation by quadrature in 1-D and 2-D, gradient checks through
//! `log_prob`, and maximum-likelihood training.

use std::cell::RefCell;
use std::collections::HashMap;
use std::f64::consts::PI;

use autodiff::prelude::*;
use autodiff::rng::CounterRng;
use autodiff::testing::{check_grads, Spec};
use layers::{
    Activation, AutoregressiveNetwork, Bijector, FitOptions, Flow, InputOrder, LayerCx, MaskedAutoregressiveFlow, Mode,
    Permute,
};

fn normals(n: usize, rng: &mut CounterRng) -> Vec<f64> {
    (0..n).map(|_| (-2.0 * rng.uniform_open0().ln()).sqrt() * (2.0 * PI * rng.uniform()).cos()).collect()
}

/// Creates the flow's parameters in a fresh store, then overwrites them with random values:
/// kernels `kernel_scale · N(0, 1/fan_in)`, biases `bias_std · N(0, 1)`, so the flow is far from
/// the identity.
fn random_store(flow: &Flow<f64>, seed: u64, kernel_scale: f64, bias_std: f64) -> ParamStore<f64> {
    let mut store = ParamStore::new(seed);
    {
        let g = Graph::<f64>::new();
        let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
        flow.log_prob(g.batched_input("y", &[flow.event_size()]), &mut cx);
        drop(cx);
        g.check().unwrap();
    }
    let mut rng = CounterRng::new(seed ^ 0xabc);
    let ids: Vec<(ParamId, bool, usize, usize)> =
        store.iter().map(|(id, p)| (id, p.path().contains("bias"), p.data().len(), p.shape()[0])).collect();
    for (id, is_bias, n, fan_in) in ids {
        let v = normals(n, &mut rng);
        let s = if is_bias { bias_std } else { kernel_scale / (fan_in as f64).sqrt() };
        store.data_mut(id).iter_mut().zip(v).for_each(|(w, z)| *w = s * z);
    }
    store
}

fn tanh_flow(d: usize, steps: usize, hidden: &[usize]) -> Flow<f64> {
    Flow::masked_autoregressive(d, steps, hidden, Activation::Tanh)
}

#[test]
fn inverse_undoes_forward_to_1e_10() {
    for (d, steps, hidden) in [(1, 2, vec![3]), (3, 3, vec![8, 8]), (4, 2, vec![6])] {
        let flow = tanh_flow(d, steps, &hidden);
        let store = random_store(&flow, 7 + d as u64, 0.8, 0.5);
        let g = Graph::<f64>::new();
        let mut st = store.clone();
        let mut cx = LayerCx::new(&g, &mut st, Mode::Sample);
        let z = g.input("z", [5, d]);
        let y = flow.sample_from_noise(z, &mut cx);
        let (zr, _) = flow.inverse_and_ildj(y, &mut cx);
        // And the other way: forward(inverse(y)) for y off the flow's samples.
        let y2 = g.input("y", [5, d]);
        let (z2, _) = flow.inverse_and_ildj(y2, &mut cx);
        let y2r = flow.sample_from_noise(z2, &mut cx);
        drop(cx);
        let mut s = Session::new(g.compile(&[y, zr, y2r]).unwrap(), 0);
        let mut rng = CounterRng::new(d as u64);
        let zv = normals(5 * d, &mut rng);
        let yv: Vec<f64> = normals(5 * d, &mut rng).iter().map(|v| 2.0 * v).collect();
        let o = s.run(&store, &[("z", &zv), ("y", &yv)]).unwrap();
        let moved = o[0].iter().zip(&zv).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(moved > 0.3, "d = {d}: the flow barely moves its input ({moved})");
        for (a, b) in o[1].iter().zip(&zv).chain(o[2].iter().zip(&yv)) {
            assert!((a - b).abs() < 1e-10, "d = {d}: {a} vs {b}");
        }
    }
}

/// log |det J| of a d×d matrix by Gaussian elimination with partial pivoting.
fn log_abs_det(mut m: Vec<f64>, d: usize) -> f64 {
    let mut acc = 0.0;
    for c in 0..d {
        let p = (c..d).max_by(|&a, &b| m[a * d + c].abs().total_cmp(&m[b * d + c].abs())).unwrap();
        for k in 0..d {
            m.swap(c * d + k, p * d + k);
        }
        let piv = m[c * d + c];
        acc += piv.abs().ln();
        for r in c + 1..d {
            let f = m[r * d + c] / piv;
            for k in c..d {
                m[r * d + k] -= f * m[c * d + k];
            }
        }
    }
    acc
}

#[test]
fn ildj_is_the_log_determinant_of_the_inverse_jacobian() {
    // The Jacobian ∂z/∂y from the engine's gradients, one row per z component.
    let d = 3;
    let flow = tanh_flow(d, 3, &[8]);
    let store = random_store(&flow, 21, 1.5, 0.5);
    let g = Graph::<f64>::new();
    let mut st = store.clone();
    let mut cx = LayerCx::new(&g, &mut st, Mode::Sample);
    let y = g.input("y", [1, d]);
    let (z, ildj) = flow.inverse_and_ildj(y, &mut cx);
    drop(cx);
    let mut fetch = vec![ildj];
    for k in 0..d {
        fetch.push(grad(slice(z, 1, k, k + 1).sum_all(), &[y])[0]);
    }
    let mut s = Session::new(g.compile(&fetch).unwrap(), 0);
    for yv in [[0.1, -0.7, 1.3], [2.0, 0.5, -1.0]] {
        let o = s.run(&store, &[("y", &yv)]).unwrap();
        let jac: Vec<f64> = (0..d).flat_map(|k| o[1 + k].to_vec()).collect();
        let want = log_abs_det(jac, d);
        assert!((o.scalar(0) - want).abs() < 1e-12, "{} vs {want}", o.scalar(0));
        assert!(want.abs() > 0.1, "the flow is nearly volume-preserving ({want})");
    }
}

#[test]
fn one_dimensional_flow_matches_its_closed_form_and_integrates_to_one() {
    // D = 1 without hidden layers: the MADE is its bias, y = x·exp(b₁) + b₀, so
    // log p(y) = log N((y − b₀) e^{−b₁}; 0, 1) − b₁.
    let made = AutoregressiveNetwork::<f64>::new(2).name("made");
    let flow = Flow::new(1).then(MaskedAutoregressiveFlow::new(made));
    let store = random_store(&flow, 3, 1.0, 0.8);
    let b = store.get("flow/masked_autoregressive_flow/made/bias_0").unwrap().to_vec();
    let grid: Vec<f64> = (0..16001).map(|i| -80.0 + 0.01 * i as f64).collect();
    let lp = flow.log_prob_values(&store, &grid).unwrap();
    for (&y, &l) in grid.iter().zip(&lp).step_by(997) {
        let x = (y - b[0]) * (-b[1]).exp();
        let want = -0.5 * x * x - 0.5 * (2.0 * PI).ln() - b[1];
        assert!((l - want).abs() < 1e-12, "y = {y}: {l} vs {want}");
    }

    // With hidden layers and several steps (still affine in 1-D, through the MADE's biases).
    let flow = tanh_flow(1, 3, &[4]);
    let store = random_store(&flow, 4, 1.5, 0.8);
    let lp = flow.log_prob_values(&store, &grid).unwrap();
    let mass: f64 = lp.iter().map(|l| l.exp() * 0.01).sum();
    assert!((mass - 1.0).abs() < 1e-9, "∫p = {mass}");
    let base: Vec<f64> = grid.iter().map(|y| -0.5 * y * y - 0.5 * (2.0 * PI).ln()).collect();
    let far = lp.iter().zip(&base).filter(|(a, _)| a.exp() > 1e-3).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(far > 0.2, "the 1-D flow is nearly the base ({far})");
}

#[test]
fn two_dimensional_flow_integrates_to_one() {
    // Random tanh MADEs: shift and log-scale are bounded, so the density has Gaussian tails and
    // the grid [-16, 16]² holds its mass (20,000 draws at these weights stay within 12); the midpoint rule converges fast on such densities.
    let flow = tanh_flow(2, 3, &[8, 8]);
    let store = random_store(&flow, 11, 1.0, 0.3);
    let (lo, h, n) = (-16.0, 0.04, 800);
    let mut grid = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            grid.push(lo + h * (i as f64 + 0.5));
            grid.push(lo + h * (j as f64 + 0.5));
        }
    }
    let lp = flow.log_prob_values(&store, &grid).unwrap();
    let mass: f64 = lp.iter().map(|l| l.exp() * h * h).sum();
    assert!((mass - 1.0).abs() < 1e-3, "∫∫p = {mass}");
    // Far from the base N(0, I): the densities differ by more than a factor e somewhere with mass.
    let far = grid
        .chunks(2)
        .zip(&lp)
        .filter(|(_, l)| l.exp() > 1e-2)
        .map(|(y, l)| (l + 0.5 * (y[0] * y[0] + y[1] * y[1]) + (2.0 * PI).ln()).abs())
        .fold(0.0, f64::max);
    assert!(far > 1.0, "the 2-D flow is nearly the base ({far})");
}

#[test]
fn gradient_check_through_log_prob_with_parameters_as_inputs() {
    let flow = Flow::<f64>::new(2)
        .then(MaskedAutoregressiveFlow::new(
            AutoregressiveNetwork::new(2).hidden_units(&[3]).activation(Activation::Tanh),
        ))
        .then(Permute::reverse(2))
        .then(MaskedAutoregressiveFlow::new(
            AutoregressiveNetwork::new(2)
                .hidden_units(&[3])
                .activation(Activation::Softplus)
                .input_order(InputOrder::RightToLeft),
        ));
    let mut store = random_store(&flow, 5, 0.8, 0.4);
    let params: Vec<(String, Vec<usize>, Vec<f64>)> = {
        let g = Graph::<f64>::new();
        let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
        flow.log_prob(g.input("y", [3, 2]), &mut cx);
        let ids: Vec<ParamId> = cx.params().iter().map(|p| p.0).collect();
        drop(cx);
        ids.into_iter()
            .map(|id| {
                let p = store.param(id);
                (p.path().to_string(), p.shape().to_vec(), p.data().to_vec())
            })
            .collect()
    };
    assert_eq!(params.len(), 8);
    assert_eq!(params[0].0, "flow/masked_autoregressive_flow_1/autoregressive_network/kernel_0");
    let mut specs = vec![Spec::new([3, 2])];
    specs.extend(params.iter().map(|(_, s, v)| Spec::new(Shape::from(&s[..])).values(v.clone())));
    let store = RefCell::new(store);
    check_grads(
        |g, xs| {
            let tensors: HashMap<String, Tensor<'_, f64>> =
                params.iter().zip(&xs[1..]).map(|((p, _, _), t)| (p.clone(), *t)).collect();
            let mut st = store.borrow_mut();
            let mut cx = LayerCx::with_param_tensors(g, &mut st, Mode::Sample, tensors);
            flow.log_prob(xs[0], &mut cx)
        },
        &specs,
        1,
    );
    // And through sampling (the D sequential passes), w.r.t. the noise and the parameters.
    check_grads(
        |g, xs| {
            let tensors: HashMap<String, Tensor<'_, f64>> =
                params.iter().zip(&xs[1..]).map(|((p, _, _), t)| (p.clone(), *t)).collect();
            let mut st = store.borrow_mut();
            let mut cx = LayerCx::with_param_tensors(g, &mut st, Mode::Sample, tensors);
            flow.sample_from_noise(xs[0], &mut cx)
        },
        &specs,
        1,
    );
}

#[test]
fn maf_bijector_matches_its_definition() {
    // y = x·exp(log_scale(y)) + shift(y) holds at the forward pass's output.
    let maf = MaskedAutoregressiveFlow::<f64>::new(
        AutoregressiveNetwork::new(2).name("made").hidden_units(&[5]).activation(Activation::Tanh),
    );
    let flow = Flow::new(3).then(maf.clone());
    let store = random_store(&flow, 8, 0.9, 0.5);
    let g = Graph::<f64>::new();
    let mut st = store.clone();
    let mut cx = LayerCx::new(&g, &mut st, Mode::Sample);
    let x = g.input("x", [4, 3]);
    let (y, (shift, log_scale)) = g.scope("flow", || {
        g.scope("masked_autoregressive_flow", || {
            let y = maf.forward(x, &mut cx);
            (y, maf.shift_and_log_scale(y, &mut cx))
        })
    });
    let resid = y - (x * exp(log_scale) + shift);
    drop(cx);
    let mut s = Session::new(g.compile(&[resid, log_scale]).unwrap(), 0);
    let xv = normals(12, &mut CounterRng::new(1));
    let o = s.run(&store, &[("x", &xv)]).unwrap();
    assert!(o[0].iter().all(|r| r.abs() < 1e-12), "{:?}", &o[0]);
    assert!(o[1].iter().any(|l| l.abs() > 0.1), "log-scales are all tiny: {:?}", &o[1]);
}

#[test]
fn maf_requires_two_params_and_permute_a_permutation() {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let flow = Flow::new(2).then(MaskedAutoregressiveFlow::new(AutoregressiveNetwork::new(3)));
    flow.log_prob(g.batched_input("y", &[2]), &mut cx);
    drop(cx);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("must predict 2 params") && e.contains("params = 3"), "{e}");

    let g = Graph::<f64>::new();
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let flow = Flow::new(3).then(Permute::new(vec![0, 2, 2]));
    flow.log_prob(g.batched_input("y", &[3]), &mut cx);
    drop(cx);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("[0, 2, 2] is not a permutation"), "{e}");

    let g = Graph::<f64>::new();
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    Flow::<f64>::new(3).log_prob(g.batched_input("y", &[2]), &mut cx);
    drop(cx);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("values must be [..., 3]"), "{e}");
}

#[test]
fn permute_moves_coordinates() {
    let p = Permute::new(vec![2, 0, 1]);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.constant_f64(&[10.0, 20.0, 30.0], [1, 3]);
    let y = p.forward(x, &mut cx);
    let (xr, ildj) = p.inverse_and_ildj(y, &mut cx);
    drop(cx);
    let mut s = Session::new(g.compile(&[y, xr, ildj]).unwrap(), 0);
    let o = s.run(&store, &[]).unwrap();
    assert_eq!(o[0], [30.0, 10.0, 20.0]);
    assert_eq!(o[1], [10.0, 20.0, 30.0]);
    assert_eq!(o[2], [0.0]);
}

#[test]
fn fit_recovers_a_correlated_gaussian() {
    // y₁ ~ N(1, 0.5²), y₂ | y₁ ~ N(−0.5 + 0.8 y₁, 0.3²): one left-to-right MAF without hidden
    // layers represents it exactly (shift₂ linear in y₁, constant log-scales). Its expected
    // log-density is −log(0.5) − log(0.3) − (1 + log 2π) = 0.6931 + 1.2040 − 2.8379 = −0.9408 nats.
    let mut rng = CounterRng::new(77);
    let sample = |rng: &mut CounterRng, n: usize| -> Vec<f64> {
        let z = normals(2 * n, rng);
        z.chunks(2)
            .flat_map(|z| {
                let y1 = 1.0 + 0.5 * z[0];
                [y1, -0.5 + 0.8 * y1 + 0.3 * z[1]]
            })
            .collect()
    };
    let (train, test) = (sample(&mut rng, 2000), sample(&mut rng, 2000));
    let true_lp = |y: &[f64]| -> f64 {
        let (a, b) = ((y[0] - 1.0) / 0.5, (y[1] + 0.5 - 0.8 * y[0]) / 0.3);
        -0.5 * (a * a + b * b) - (2.0 * PI).ln() - 0.5f64.ln() - 0.3f64.ln()
    };
    let flow = Flow::<f64>::new(2).then(MaskedAutoregressiveFlow::new(AutoregressiveNetwork::new(2)));
    let mut store = ParamStore::new(1);
    let opts = FitOptions { epochs: 100, batch_size: 100, shuffle: true, seed: 3, threads: Some(1) };
    let mut adam = Adam::new(0.01);
    let hist = flow.fit(&mut store, &train, &opts, &mut adam, |_| {}).unwrap();
    assert_eq!(hist.len(), 100);
    assert_eq!(hist[0].steps, 20);
    assert!(hist[99].nll < hist[0].nll - 0.5, "{} → {}", hist[0].nll, hist[99].nll);
    let lp = flow.log_prob_values(&store, &test).unwrap();
    let fitted = lp.iter().sum::<f64>() / 2000.0;
    let truth = test.chunks(2).map(true_lp).sum::<f64>() / 2000.0;
    // Estimation error of 5 parameters from 2000 points: ~5/(2·2000) nats; allow 0.01.
    assert!((fitted - truth).abs() < 0.01, "held-out mean log p: fitted {fitted}, true {truth}");
    // Samples have the target's moments (4 standard errors of 4000 draws).
    let draws = flow.sample_values(&store, 4000, 9).unwrap();
    let m1 = draws.chunks(2).map(|y| y[0]).sum::<f64>() / 4000.0;
    let m2 = draws.chunks(2).map(|y| y[1]).sum::<f64>() / 4000.0;
    // E y₂ = −0.5 + 0.8 = 0.3, sd y₂ = sqrt(0.8²·0.25 + 0.09) = 0.5; sd of means 0.5/√4000.
    let se = 0.5 / 4000f64.sqrt();
    assert!((m1 - 1.0).abs() < 4.0 * se + 0.02, "mean y1 {m1}");
    assert!((m2 - 0.3).abs() < 4.0 * se + 0.02, "mean y2 {m2}");
}

#[test]
fn evaluating_a_flow_whose_parameters_the_store_lacks_is_an_error() {
    // Building would create them at their initial values and evaluate an untrained flow.
    let flow = Flow::<f64>::masked_autoregressive(2, 2, &[4], Activation::Tanh).name("trained");
    let store = random_store(&flow, 1, 1.0, 0.5);
    let renamed = Flow::<f64>::masked_autoregressive(2, 2, &[4], Activation::Tanh).name("other");
    for e in [renamed.log_prob_values(&store, &[0.5, -0.5]).err(), renamed.sample_values(&store, 3, 0).err()] {
        let e = e.expect("an error").to_string();
        assert!(e.contains("flow \"other\": the store has no parameter \"other/"), "{e}");
    }
    assert_eq!(flow.log_prob_values(&store, &[0.5, -0.5]).unwrap().len(), 1);
}
