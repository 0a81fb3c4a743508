//! `autodiff` group: the matmul op against raw matrixmultiply, the kernels a Bayesian layer runs
//! over every weight (at 1 and 2 threads, where a kernel that stops splitting or vectorizing
//! shows), and the per-node overhead of a run.

use autodiff::kernels::matmul::gemm_serial;
use autodiff::prelude::*;

use super::{interleaved_medians_us, median_us};
use crate::json::Json;

const SHAPES: &[(usize, usize, usize)] = &[(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (128, 784, 400)];

fn data(n: usize, salt: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 + salt) % 1009) as f32 / 1009.0 - 0.5).collect()
}

fn reps(m: usize, k: usize, n: usize) -> usize {
    let flops = (2 * m * k * n) as f64;
    ((2e10 / flops) as usize).clamp(40, 200)
}

/// GFLOP/s of raw single-threaded matrixmultiply sgemm and of the graph's matmul op in sessions
/// with 1 and 2 kernel threads, measured in alternation (see [`interleaved_medians_us`]) so that
/// the ratios between them do not depend on when each was timed.
fn matmul_gflops(m: usize, k: usize, n: usize) -> [f64; 3] {
    let (ad, bd) = (data(m * k, 1), data(k * n, 2));
    let mut c = vec![0.0f32; m * n];
    let mut raw = || gemm_serial(m, k, n, &ad, &bd, &mut c);
    let g = Graph::<f32>::new();
    let (a, b) = (g.input("a", [m, k]), g.input("b", [k, n]));
    let plan = g.compile(&[matmul(a, b)]).unwrap();
    let session = |threads| {
        Session::with_options(plan.clone(), 0, SessionOptions { threads: Some(threads), check_finite: false })
    };
    let (mut one, mut two) = (session(1), session(2));
    let store = ParamStore::new(0);
    let feeds: [(&str, &[f32]); 2] = [("a", &ad), ("b", &bd)];
    let mut op1 = || {
        one.run(&store, &feeds).unwrap();
    };
    let mut op2 = || {
        two.run(&store, &feeds).unwrap();
    };
    let rounds = 8;
    let us = interleaved_medians_us(3, rounds, reps(m, k, n).div_ceil(rounds), &mut [&mut raw, &mut op1, &mut op2]);
    let gflops = |us: f64| 2.0 * (m * k * n) as f64 / us / 1e3;
    [gflops(us[0]), gflops(us[1]), gflops(us[2])]
}

/// Run time per node of a chain of 1,000 small elementwise nodes.
fn node_overhead_ns() -> f64 {
    let g = Graph::<f32>::new();
    let x = g.input("x", [16]);
    let mut y = x;
    for i in 0..1000 {
        y = if i % 2 == 0 { y * 1.0001 } else { y + 0.5 };
    }
    let plan = g.compile(&[y]).unwrap();
    let nodes = plan.op_names().len();
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(1), check_finite: false });
    let xs = vec![1.0f32; 16];
    let store = ParamStore::new(0);
    let us = median_us(20, 200, || {
        s.run(&store, &[("x", &xs)]).unwrap();
    });
    us * 1e3 / nodes as f64
}

/// The number of weights of the mnist-mlp workload's first layer, 784×400.
const WEIGHTS: usize = 784 * 400;

/// Builds a graph of one op on `WEIGHTS` values of `[μ, ρ, σ, cotangent]`.
type Build = for<'g> fn(&'g Graph<f32>, [Tensor<'g, f32>; 4]) -> Tensor<'g, f32>;

/// The kernels a mean-field Bayesian layer runs over every weight on every step.
const PER_WEIGHT: &[(&str, Build)] = &[
    ("softplus_low", |_, [_, rho, _, _]| softplus_low(rho, f32::EPSILON)),
    ("standard_normal", |g, _| g.random(autodiff::random::StandardNormal, [WEIGHTS], "eps")),
    ("mul", |_, [_, _, sigma, gy]| sigma * gy),
    ("normal_kl", |g, [mu, _, sigma, _]| normal_kl(mu, sigma, g.scalar(0.0), g.scalar(1.0))),
    ("normal_kl_grad", |g, [mu, _, sigma, gy]| normal_kl_grad(mu, sigma, g.scalar(0.0), g.scalar(1.0), gy, 1)),
    ("softplus_grad", |_, [_, rho, _, gy]| softplus_grad(rho, gy)),
];

/// Time per value of one per-weight kernel with `threads` kernel threads, in ns.
fn per_weight_ns(build: Build, threads: usize) -> f64 {
    const NAMES: [&str; 4] = ["mu", "rho", "sigma", "gy"];
    let g = Graph::<f32>::new();
    let plan = g.compile(&[build(&g, NAMES.map(|name| g.input(name, [WEIGHTS])))]).unwrap();
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(threads), check_finite: false });
    // A layer at initialisation: μ ~ ±0.1, ρ ≈ −3 ± 0.1, σ = softplus(ρ) ≈ 0.05; cotangents ~ ±1.
    let spread = |i: usize, salt: usize| ((i * salt) % 2001) as f32 / 1000.0 - 1.0;
    let mu: Vec<f32> = (0..WEIGHTS).map(|i| 0.1 * spread(i, 7919)).collect();
    let rho: Vec<f32> = (0..WEIGHTS).map(|i| -3.0 + 0.1 * spread(i, 104729)).collect();
    let sigma: Vec<f32> = rho.iter().map(|r| r.exp().ln_1p()).collect();
    let gy: Vec<f32> = (0..WEIGHTS).map(|i| spread(i, 15485863)).collect();
    let values = [&mu, &rho, &sigma, &gy];
    let names = s.plan().input_names();
    let feeds: Vec<(&str, &[f32])> = names
        .iter()
        .map(|n| {
            let k = NAMES.iter().position(|m| **n == **m).expect("an input of the kernel's graph");
            (NAMES[k], &values[k][..])
        })
        .collect();
    let store = ParamStore::new(0);
    let us = median_us(20, 200, || {
        s.run(&store, &feeds).unwrap();
    });
    us * 1e3 / WEIGHTS as f64
}

pub fn run() -> Json {
    println!("autodiff: matmul op vs raw matrixmultiply (f32, GFLOP/s; raw = single-threaded sgemm)");
    println!("{:>16} {:>8} {:>10} {:>10} {:>8}", "shape", "threads", "op", "raw", "op/raw");
    let mut rows = Vec::new();
    for &(m, k, n) in SHAPES {
        let [raw, op1, op2] = matmul_gflops(m, k, n);
        for (threads, op) in [(1, op1), (2, op2)] {
            let shape = format!("{m}x{k}x{n}");
            println!("{shape:>16} {threads:>8} {op:>10.1} {raw:>10.1} {:>8.3}", op / raw);
            rows.push(Json::obj(vec![
                ("shape", Json::Str(shape)),
                ("threads", Json::Int(threads as i64)),
                ("op_gflops", Json::Num(op)),
                ("raw_gflops", Json::Num(raw)),
            ]));
        }
    }
    println!("per-weight kernels over {WEIGHTS} values (ns per value; scaling = 1 thread / 2 threads)");
    println!("{:>16} {:>10} {:>10} {:>8}", "op", "1 thread", "2 threads", "scaling");
    let mut per_weight = Vec::new();
    for &(name, build) in PER_WEIGHT {
        let (one, two) = (per_weight_ns(build, 1), per_weight_ns(build, 2));
        println!("{name:>16} {one:>10.3} {two:>10.3} {:>8.2}", one / two);
        for (threads, ns) in [(1, one), (2, two)] {
            per_weight.push(Json::obj(vec![
                ("op", Json::Str(name.into())),
                ("threads", Json::Int(threads)),
                ("ns_per_value", Json::Num(ns)),
            ]));
        }
    }
    let overhead = node_overhead_ns();
    println!("per-node overhead of a run: {overhead:.1} ns/node (1,000 elementwise nodes on [16])");
    Json::obj(vec![
        ("matmul", Json::Arr(rows)),
        ("per_weight", Json::Arr(per_weight)),
        ("node_overhead_ns", Json::Num(overhead)),
    ])
}
