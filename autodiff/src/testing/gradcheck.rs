//! Finite-difference gradient checks in `f64`.
//!
//! For `y = f(x₁, …, xₙ)` the check draws a fixed cotangent `v` and compares the symbolic
//! gradient of `L = Σ v ⊙ y` with central differences of `L`: element by element for inputs of
//! at most [`GradCheckOptions::full_max`] elements, along two random directions for larger ones
//! (JAX's `check_vjp`). Order 2 repeats the check on `x ↦ ∂L/∂xᵢ`, which is itself a graph.
//! Every evaluation replays step 0, so random nodes are frozen.

use std::sync::Arc;

use crate::graph::{Graph, Tensor};
use crate::params::ParamStore;
use crate::rng::{hash_str, CounterRng};
use crate::session::{Session, SessionOptions};
use crate::shape::Shape;
use crate::{grad, Plan};

/// Where an op's inputs are drawn from, so checks avoid poles, kinks and invalid arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Standard normal values.
    Real,
    /// Uniform on `[0.5, 2]`.
    Positive,
    /// Uniform on `[0.1, 0.9]`.
    Unit,
    /// Standard normal values at least `margin` away from `point` (kinks such as relu's at 0).
    AwayFrom(f64, f64),
    /// Uniform on `[low, high]`.
    Range(f64, f64),
    /// Symmetric positive-definite matrices `A Aᵀ + n I` over the last two axes.
    PosDef,
}

/// One input of a gradient check: its shape, domain, or explicit values.
#[derive(Clone, Debug)]
pub struct Spec {
    shape: Vec<usize>,
    domain: Domain,
    values: Option<Vec<f64>>,
}

impl Spec {
    /// An input of this shape with standard normal values.
    pub fn new(shape: impl Into<Shape>) -> Self {
        let s: Shape = shape.into();
        let dims = s.fixed_dims().expect("Spec shapes must be concrete").to_vec();
        Spec { shape: dims, domain: Domain::Real, values: None }
    }
    /// Draws values from `d` instead.
    pub fn domain(mut self, d: Domain) -> Self {
        self.domain = d;
        self
    }
    /// Uses these values.
    pub fn values(mut self, v: Vec<f64>) -> Self {
        assert_eq!(v.len(), self.shape.iter().product::<usize>(), "Spec::values: wrong number of values");
        self.values = Some(v);
        self
    }
    fn draw(&self, salt: u64) -> Vec<f64> {
        if let Some(v) = &self.values {
            return v.clone();
        }
        let n: usize = self.shape.iter().product();
        let mut rng = CounterRng::new(salt);
        let normal = |rng: &mut CounterRng| {
            let r = (-2.0 * rng.uniform_open0().ln()).sqrt();
            r * (std::f64::consts::TAU * rng.uniform()).cos()
        };
        match self.domain {
            Domain::Real => (0..n).map(|_| normal(&mut rng)).collect(),
            Domain::Positive => (0..n).map(|_| 0.5 + 1.5 * rng.uniform()).collect(),
            Domain::Unit => (0..n).map(|_| 0.1 + 0.8 * rng.uniform()).collect(),
            Domain::Range(lo, hi) => (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect(),
            Domain::AwayFrom(c, m) => (0..n)
                .map(|_| loop {
                    let z = normal(&mut rng);
                    if (z - c).abs() >= m {
                        break z;
                    }
                })
                .collect(),
            Domain::PosDef => {
                let r = self.shape.len();
                assert!(r >= 2 && self.shape[r - 1] == self.shape[r - 2], "PosDef needs square matrices");
                let d = self.shape[r - 1];
                let mut out = Vec::with_capacity(n);
                for _ in 0..n / (d * d) {
                    let a: Vec<f64> = (0..d * d).map(|_| normal(&mut rng)).collect();
                    for i in 0..d {
                        for j in 0..d {
                            let mut s: f64 = (0..d).map(|k| a[i * d + k] * a[j * d + k]).sum();
                            if i == j {
                                s += d as f64;
                            }
                            out.push(s);
                        }
                    }
                }
                out
            }
        }
    }
}

/// Tolerances of a gradient check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Inputs with at most this many elements are checked element by element.
    pub full_max: usize,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        GradCheckOptions { eps: 1e-6, rtol: 1e-5, atol: 1e-7, full_max: 64 }
    }
}

type BuildFn<'a> = dyn for<'g> Fn(&'g Graph<f64>, &[Tensor<'g, f64>]) -> Tensor<'g, f64> + 'a;

/// Checks first (and, with `order >= 2`, second) derivatives of `f` at inputs drawn per
/// [`Spec`]. Panics with the worst element, both values and the tolerance on failure.
#[track_caller]
pub fn check_grads<Fun>(f: Fun, specs: &[Spec], order: usize)
where
    Fun: for<'g> Fn(&'g Graph<f64>, &[Tensor<'g, f64>]) -> Tensor<'g, f64>,
{
    if let Err(e) = try_check_grads(&f, specs, order, GradCheckOptions::default()) {
        panic!("gradient check failed: {e}");
    }
}

/// Like [`check_grads`] with explicit tolerances, returning the failure as an error.
pub fn try_check_grads<Fun>(f: &Fun, specs: &[Spec], order: usize, opts: GradCheckOptions) -> Result<(), String>
where
    Fun: for<'g> Fn(&'g Graph<f64>, &[Tensor<'g, f64>]) -> Tensor<'g, f64>,
{
    let values: Vec<Vec<f64>> = specs.iter().enumerate().map(|(i, s)| s.draw(0x5eed + i as u64)).collect();
    check_rec(f, specs, &values, order.max(1), opts, "")
}

/// `err <= tol`, false for NaN (a NaN gradient must fail the check).
fn within(err: f64, tol: f64) -> bool {
    err <= tol
}

fn cotangent(shape: &[usize], salt: &str) -> Vec<f64> {
    let mut rng = CounterRng::new(hash_str(salt));
    (0..shape.iter().product::<usize>()).map(|_| 2.0 * rng.uniform() - 1.0).collect()
}

fn one_thread(plan: Plan<f64>) -> Session<f64> {
    Session::with_options(plan, 0, SessionOptions { threads: Some(1), check_finite: false })
}

fn check_rec(
    f: &BuildFn<'_>,
    specs: &[Spec],
    values: &[Vec<f64>],
    order: usize,
    opts: GradCheckOptions,
    what: &str,
) -> Result<(), String> {
    let names: Vec<String> = (0..specs.len()).map(|i| format!("x{i}")).collect();
    // Shape of y, and the projected loss with its gradients.
    let g = Graph::<f64>::new();
    let xs: Vec<Tensor<'_, f64>> =
        specs.iter().zip(&names).map(|(s, n)| g.input(n, Shape::from(&s.shape[..]))).collect();
    let y = f(&g, &xs);
    g.check().map_err(|e| format!("{what}building f failed: {e}"))?;
    let ydims = y.shape().fixed_dims().ok_or_else(|| format!("{what}output shape {} is not concrete", y.shape()))?;
    let v: Arc<[f64]> = cotangent(&ydims, &format!("v{what}")).into();
    let vt = g.constant(v.clone(), y.shape());
    let loss = (y * vt).sum_all();
    let gs = grad(loss, &xs);
    let mut fetch = vec![loss];
    fetch.extend(&gs);
    let plan = g.compile(&fetch).map_err(|e| format!("{what}compiling gradients failed: {e}"))?;
    let loss_plan = g.compile(&[loss]).map_err(|e| e.to_string())?;
    let mut s = one_thread(plan);
    let mut ls = one_thread(loss_plan);
    let store = ParamStore::new(0);
    // A plan reads only the inputs its fetches depend on (a gradient may ignore some), and a
    // session rejects feeds its plan does not read: feed each plan its own inputs.
    let feeds = |sess: &Session<f64>, vals: &[Vec<f64>]| -> Vec<(String, Vec<f64>)> {
        let used = sess.plan().input_names();
        names.iter().cloned().zip(vals.iter().cloned()).filter(|(n, _)| used.iter().any(|u| **u == **n)).collect()
    };
    let eval_loss = |ls: &mut Session<f64>, vals: &[Vec<f64>]| -> Result<f64, String> {
        let fd = feeds(ls, vals);
        let fr: Vec<(&str, &[f64])> = fd.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        ls.run_at_step(0, &store, &fr).map(|o| o.scalar(0)).map_err(|e| e.to_string())
    };
    let analytic: Vec<Vec<f64>> = {
        let fd = feeds(&s, values);
        let fr: Vec<(&str, &[f64])> = fd.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        let out = s.run_at_step(0, &store, &fr).map_err(|e| format!("{what}{e}"))?;
        (0..specs.len()).map(|i| out.get(i + 1).to_vec()).collect()
    };
    let l0 = eval_loss(&mut ls, values)?;
    let tol = |a: f64, b: f64| opts.atol * (1.0 + l0.abs()) + opts.rtol * a.abs().max(b.abs());
    for (i, spec) in specs.iter().enumerate() {
        let n = values[i].len();
        if n <= opts.full_max {
            for k in 0..n {
                let mut vals = values.to_vec();
                vals[i][k] += opts.eps;
                let lp = eval_loss(&mut ls, &vals)?;
                vals[i][k] -= 2.0 * opts.eps;
                let lm = eval_loss(&mut ls, &vals)?;
                let num = (lp - lm) / (2.0 * opts.eps);
                let ana = analytic[i][k];
                if !within((num - ana).abs(), tol(num, ana)) {
                    return Err(format!(
                        "{what}d/dx{i}[{k}] (input shape {:?}): symbolic {ana:.10e}, numerical {num:.10e}, |diff| {:.3e} > tol {:.3e}",
                        spec.shape,
                        (num - ana).abs(),
                        tol(num, ana)
                    ));
                }
            }
        } else {
            for trial in 0..2 {
                let u = cotangent(&spec.shape, &format!("u{what}{i}/{trial}"));
                let mut vals = values.to_vec();
                vals[i].iter_mut().zip(&u).for_each(|(x, d)| *x += opts.eps * d);
                let lp = eval_loss(&mut ls, &vals)?;
                vals[i].iter_mut().zip(&u).for_each(|(x, d)| *x -= 2.0 * opts.eps * d);
                let lm = eval_loss(&mut ls, &vals)?;
                let num = (lp - lm) / (2.0 * opts.eps);
                let ana: f64 = analytic[i].iter().zip(&u).map(|(a, b)| a * b).sum();
                if !within((num - ana).abs(), tol(num, ana) * (n as f64).sqrt()) {
                    return Err(format!(
                        "{what}directional derivative of x{i} (shape {:?}) along a random direction: symbolic {ana:.10e}, numerical {num:.10e}",
                        spec.shape
                    ));
                }
            }
        }
    }
    if order >= 2 {
        for i in 0..specs.len() {
            let gi = gradient_of(f, v.clone(), i);
            check_rec(&gi, specs, values, order - 1, opts, &format!("{what}[second order via d/dx{i}] "))?;
        }
    }
    Ok(())
}

/// `x ↦ ∂(Σ v ⊙ f(x))/∂xᵢ`, the function whose gradient is the second-order check.
fn gradient_of<'a>(
    f: &'a BuildFn<'a>,
    v: Arc<[f64]>,
    i: usize,
) -> impl for<'g> Fn(&'g Graph<f64>, &[Tensor<'g, f64>]) -> Tensor<'g, f64> + 'a {
    move |g, xs| {
        let y = f(g, xs);
        let vt = g.constant(v.clone(), y.shape());
        grad((y * vt).sum_all(), xs)[i]
    }
}

/// Builds a graph with `f`, runs it once (step 0) with no feeds, and returns the values.
pub fn eval<Fun>(f: Fun) -> Vec<f64>
where
    Fun: for<'g> Fn(&'g Graph<f64>) -> Tensor<'g, f64>,
{
    let g = Graph::<f64>::new();
    let y = f(&g);
    let plan = g.compile(&[y]).unwrap_or_else(|e| panic!("eval: {e}"));
    let mut s = one_thread(plan);
    let out = s.run_at_step(0, &ParamStore::new(0), &[]).unwrap_or_else(|e| panic!("eval: {e}"));
    out.get(0).to_vec()
}

/// Asserts that `f`'s graph evaluates to `expected` (relative tolerance 1e-12).
#[track_caller]
pub fn assert_forward<Fun>(f: Fun, expected: &[f64])
where
    Fun: for<'g> Fn(&'g Graph<f64>) -> Tensor<'g, f64>,
{
    let got = eval(f);
    assert_eq!(got.len(), expected.len(), "assert_forward: got {got:?}, expected {expected:?}");
    for (k, (a, b)) in got.iter().zip(expected).enumerate() {
        let ok = (a - b).abs() <= 1e-12 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan()) || a == b;
        assert!(ok, "assert_forward: element {k}: got {a}, expected {b}\n got {got:?}\n expected {expected:?}");
    }
}
