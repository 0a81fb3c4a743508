//! `DenseVariational` (TFP's v2 layer): the vector its posterior is over is the kernel, row-major,
//! then the bias; the Monte-Carlo divergence, TFP's default, is taken at the draw the forward
//! pass used.

use autodiff::prelude::*;
use layers::{build_layer, DenseVariational, LayerCx, LossKind, MeanFieldNormal, Mode, NormalPrior};

const N_IN: usize = 3;
const UNITS: usize = 2;

/// The output and the registered divergence of a default `DenseVariational(2)` over 3 features,
/// at `x` (`[rows, 3]`), for `runs` runs; and the store.
fn run(mode: Mode, x: &[f64], runs: usize) -> (Vec<(Vec<f64>, f64)>, ParamStore<f64>) {
    let layer = DenseVariational::<f64>::new(UNITS, MeanFieldNormal::default(), NormalPrior::standard());
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(11);
    let mut cx = LayerCx::new(&g, &mut store, mode);
    let xin = g.batched_input("x", &[N_IN]);
    let y = build_layer(&layer, xin, &mut cx);
    let kl = cx.losses().iter().find(|(_, l)| l.kind == LossKind::Divergence).expect("a divergence").1.value;
    drop(cx);
    let mut s = Session::new(g.compile(&[y, kl]).unwrap(), 4);
    let out = (0..runs)
        .map(|_| {
            let o = s.run(&store, &[("x", x)]).unwrap();
            (o[0].to_vec(), o.scalar(1))
        })
        .collect();
    (out, store)
}

fn posterior(store: &ParamStore<f64>) -> (Vec<f64>, Vec<f64>) {
    let loc = store.get("dense_variational/posterior/posterior_loc").expect("loc").to_vec();
    let rho = store.get("dense_variational/posterior/posterior_untransformed_scale").expect("rho");
    // TFP's scale: eps(dtype) + softplus(ρ).
    let scale = rho.iter().map(|r| f64::EPSILON + r.exp().ln_1p()).collect();
    (loc, scale)
}

#[test]
fn the_vector_is_the_kernel_row_major_then_the_bias() {
    let x = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75];
    let (out, store) = run(Mode::Mean, &x, 1);
    let (w, _) = posterior(&store);
    assert_eq!(w.len(), N_IN * UNITS + UNITS);
    let y = &out[0].0;
    for r in 0..2 {
        for j in 0..UNITS {
            // K[i, j] is element i·units + j; the bias follows the kernel.
            let want = (0..N_IN).map(|i| x[r * N_IN + i] * w[i * UNITS + j]).sum::<f64>() + w[N_IN * UNITS + j];
            assert!((y[r * UNITS + j] - want).abs() < 1e-12, "row {r} unit {j}: {} vs {want}", y[r * UNITS + j]);
        }
    }
}

#[test]
fn monte_carlo_divergence_is_taken_at_the_forward_draw() {
    // Rows e₀, e₁, e₂ and 0: the zero row's output is the bias, row i's is K[i] + bias, so the
    // forward pass's draw w can be read back from the outputs.
    let mut x = vec![0.0; (N_IN + 1) * N_IN];
    for i in 0..N_IN {
        x[i * N_IN + i] = 1.0;
    }
    let (out, store) = run(Mode::Sample, &x, 3);
    let (loc, scale) = posterior(&store);
    let log_normal =
        |v: f64, m: f64, s: f64| -0.5 * ((v - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut kls = Vec::new();
    for (y, kl) in &out {
        let bias = &y[N_IN * UNITS..];
        let w: Vec<f64> = (0..N_IN * UNITS).map(|e| y[e] - bias[e % UNITS]).chain(bias.iter().copied()).collect();
        // log q(w) − log p(w), with q the mean-field posterior and p = N(0, 1).
        let want: f64 = w
            .iter()
            .zip(loc.iter().zip(&scale))
            .map(|(&v, (&m, &s))| log_normal(v, m, s) - log_normal(v, 0.0, 1.0))
            .sum();
        assert!((kl - want).abs() < 1e-9 * want.abs(), "{kl} vs {want}");
        kls.push(*kl);
    }
    // Every run draws afresh, and its estimate follows its own draw.
    assert!(kls[0] != kls[1] && kls[1] != kls[2], "{kls:?}");
}
