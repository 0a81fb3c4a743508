//! `fastmath` group: the `f32` elementwise math of `autodiff::kernels::fastmath` (what the ops
//! call through `Scalar::*_v`) against std's libm calls, in ns per element on one thread: over
//! 10⁶ values streamed from memory, over a block that stays in L1 (the compute cost alone), and
//! as graph ops over the 10⁶ values in a single-threaded session.

use std::hint::black_box;

use autodiff::prelude::*;

use super::median_us;
use crate::json::Json;

const N: usize = 1_000_000;

/// `N` values spread over `[lo, hi]` in a scrambled order (so that branchy libm paths see
/// realistic mixes), or log-uniformly over `[lo, hi]` when `log` is set.
fn inputs(lo: f64, hi: f64, log: bool) -> Vec<f32> {
    (0..N)
        .map(|i| {
            let u = ((i * 7919) % N) as f64 / N as f64;
            if log {
                (lo.ln() + (hi.ln() - lo.ln()) * u).exp() as f32
            } else {
                (lo + (hi - lo) * u) as f32
            }
        })
        .collect()
}

/// Median ns per element of `out[i] = $f(x[i])` over `x`, `passes` times per timed run. A macro
/// so that `$f` is called by path, and inlined whatever its size (called through a closure or
/// `&impl Fn`, a large body may stay a call, which defeats vectorization).
macro_rules! map_ns {
    ($x:expr, $passes:expr, $f:path) => {{
        let (x, passes): (&[f32], usize) = ($x, $passes);
        let mut out = vec![0.0f32; x.len()];
        let us = median_us(3, 21, || {
            for _ in 0..passes {
                for (o, &v) in out.iter_mut().zip(black_box(x)) {
                    *o = $f(v);
                }
                black_box(&mut out);
            }
        });
        us * 1e3 / (x.len() * passes) as f64
    }};
}

/// Times one table row: `$libm` (std's scalar calls) against `$fast` (the `Scalar::*_v` form),
/// over `N` values streamed from memory and over `CACHED` values repeated to `N` evaluations,
/// and the graph op `$op` over the `N` values.
macro_rules! row {
    ($name:expr, $range:expr, $libm:path, $fast:path, $op:expr) => {{
        let (lo, hi, log) = $range;
        let x = inputs(lo, hi, log);
        let passes = N / CACHED;
        let t = [
            map_ns!(&x, 1, $libm),
            map_ns!(&x, 1, $fast),
            map_ns!(&x[..CACHED], passes, $libm),
            map_ns!(&x[..CACHED], passes, $fast),
            op_ns(&x, $op),
        ];
        report($name, format!("[{lo:e}, {hi:e}]{}", if log { " log" } else { "" }), t)
    }};
}

/// Median ns per element of the graph op `op` over `x` in a single-threaded session.
fn op_ns(x: &[f32], op: OpFn) -> f64 {
    let g = Graph::<f32>::new();
    let input = g.input("x", [x.len()]);
    let plan = g.compile(&[op(input)]).unwrap();
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(1), check_finite: false });
    let store = ParamStore::new(0);
    let us = median_us(3, 21, || {
        s.run(&store, &[("x", x)]).unwrap();
    });
    us * 1e3 / x.len() as f64
}

/// The libm-based forms the ops used before (`sigmoid`, `softplus` as in their files).
fn sigmoid_libm(x: f32) -> f32 {
    let e = (-x.abs()).exp();
    let r = (1.0 + e).recip();
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}
fn softplus_libm(x: f32) -> f32 {
    let pos = if x > 0.0 { x } else { 0.0 };
    pos + (-x.abs()).exp().ln_1p()
}

type OpFn = for<'g> fn(Tensor<'g, f32>) -> Tensor<'g, f32>;

/// Values per pass of the in-cache measurement (16 KB in, 16 KB out: resident in L1).
const CACHED: usize = 4096;

/// Prints a row of times `[libm, fast, libm cached, fast cached, op]` and returns it as JSON.
fn report(name: &str, range: String, t: [f64; 5]) -> Json {
    println!(
        "{name:>9} {range:>20} {:>8.3} {:>8.3} {:>6.1}x {:>8.3} {:>8.3} {:>6.1}x {:>8.3}",
        t[0],
        t[1],
        t[0] / t[1],
        t[2],
        t[3],
        t[2] / t[3],
        t[4]
    );
    Json::obj(vec![
        ("fn", Json::Str(name.into())),
        ("inputs", Json::Str(range)),
        ("libm_ns", Json::Num(t[0])),
        ("fastmath_ns", Json::Num(t[1])),
        ("libm_cached_ns", Json::Num(t[2])),
        ("fastmath_cached_ns", Json::Num(t[3])),
        ("op_ns", Json::Num(t[4])),
    ])
}

pub fn run() -> Json {
    println!("fastmath: f32 elementwise math, ns/element, 1 thread");
    println!("  streamed: 1e6 values (4 MB in, 4 MB out); cached: 4096 values x 244 passes; op: graph op on 1e6");
    println!(
        "{:>9} {:>20} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7} {:>8}",
        "fn", "inputs", "libm", "fast", "ratio", "libm$", "fast$", "ratio", "op"
    );
    let rows = vec![
        row!("exp", (-20.0, 20.0, false), f32::exp, f32::exp_v, exp),
        row!("expm1", (-5.0, 5.0, false), f32::exp_m1, f32::exp_m1_v, expm1),
        row!("log", (1e-6, 1e6, true), f32::ln, f32::ln_v, log),
        row!("log1p", (-0.9, 10.0, false), f32::ln_1p, f32::ln_1p_v, log1p),
        row!("tanh", (-5.0, 5.0, false), f32::tanh, f32::tanh_v, tanh),
        row!("sigmoid", (-10.0, 10.0, false), sigmoid_libm, f32::sigmoid_v, sigmoid),
        row!("softplus", (-10.0, 10.0, false), softplus_libm, f32::softplus_v, softplus),
    ];
    Json::obj(vec![("n", Json::Int(N as i64)), ("cached_n", Json::Int(CACHED as i64)), ("functions", Json::Arr(rows))])
}
