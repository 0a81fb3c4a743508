//! Helpers for this crate's tests: evaluate fetches at a fixed seed, collect build and run
//! errors, compare values.

#![allow(dead_code)]

use autodiff::{Graph, ParamStore, Session, SessionOptions, Tensor};

/// Builds a graph, runs the fetches once at step 0 of a single-threaded session seeded `seed`.
pub fn eval_seeded(seed: u64, build: impl for<'g> FnOnce(&'g Graph<f64>) -> Vec<Tensor<'g, f64>>) -> Vec<Vec<f64>> {
    let g = Graph::new();
    let ys = build(&g);
    let plan = g.compile(&ys).unwrap_or_else(|e| panic!("compile: {e}"));
    let mut s = Session::with_options(plan, seed, SessionOptions { threads: Some(1), check_finite: false });
    let out = s.run(&ParamStore::new(0), &[]).unwrap_or_else(|e| panic!("run: {e}"));
    (0..ys.len()).map(|i| out.get(i).to_vec()).collect()
}

/// [`eval_seeded`] with seed 0.
pub fn eval_many(build: impl for<'g> FnOnce(&'g Graph<f64>) -> Vec<Tensor<'g, f64>>) -> Vec<Vec<f64>> {
    eval_seeded(0, build)
}

/// The values of one fetch.
pub fn eval1(build: impl for<'g> FnOnce(&'g Graph<f64>) -> Tensor<'g, f64>) -> Vec<f64> {
    eval_seeded(0, |g| vec![build(g)]).remove(0)
}

/// The recorded build error, as text (panics if building succeeded).
pub fn build_error(build: impl for<'g> FnOnce(&'g Graph<f64>)) -> String {
    let g = Graph::<f64>::new();
    build(&g);
    match g.check() {
        Err(e) => e.to_string(),
        Ok(()) => panic!("expected a build error"),
    }
}

/// The run error of the fetches, as text (panics if the run succeeded).
pub fn run_error(build: impl for<'g> FnOnce(&'g Graph<f64>) -> Vec<Tensor<'g, f64>>) -> String {
    let g = Graph::new();
    let ys = build(&g);
    let plan = g.compile(&ys).unwrap_or_else(|e| panic!("compile: {e}"));
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(1), check_finite: false });
    match s.run(&ParamStore::new(0), &[]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected a run error"),
    }
}

/// Asserts `|got − want| <= tol · max(1, |want|)` elementwise (equal infinities and NaNs pass).
#[track_caller]
pub fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * b.abs().max(1.0);
        assert!(ok, "element {k}: got {a}, want {b} (tol {tol})\n got {got:?}\nwant {want:?}");
    }
}

/// Mean and standard error of the mean of `xs`.
pub fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

/// Asserts `|est − want| <= 4 se`.
#[track_caller]
pub fn within_4se(what: &str, est: f64, want: f64, se: f64) {
    assert!((est - want).abs() <= 4.0 * se, "{what}: estimate {est}, expected {want}, 4 se = {}", 4.0 * se);
}
