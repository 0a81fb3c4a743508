//! `layers` group: full training steps of DenseFlipout networks (stochastic forward, KL,
//! likelihood, backward, Adam) and forward passes, against the GEMM floor measured in the same
//! process: the step's matmul FLOPs divided by the raw GEMM throughput at the workload's
//! dominant shape, with the same number of threads (see `measure`).
//!
//! The step is also split three ways: `adam` (the update alone, timed in the same rounds),
//! `other` (the profiled time of every node but the matrix products: noise, softplus, KL,
//! activations, likelihood and their gradients) and `products`, the remainder: the products plus
//! the per-node dispatch that no profile entry covers (about 70 ns a node, see the `autodiff`
//! group: a sizeable share of `toy`'s products, negligible in the others).

use autodiff::kernels::matmul::{gemm, MatRef};
use autodiff::optim::{Adam, Optimizer};
use autodiff::prelude::*;
use autodiff::team::for_each_chunk_mut;
use autodiff::KernelTeam;
use layers::{Activation, Conv2DFlipout, DenseFlipout, Flatten, Likelihood, Mode, Model, Pool, Sequential};

use super::interleaved_medians_us;
use crate::json::Json;

struct Workload {
    name: &'static str,
    /// Per-example input dims.
    input: &'static [usize],
    net: fn() -> Sequential<f32>,
    batch: usize,
    likelihood: Likelihood,
    classes: usize,
    /// The dominant GEMM of the step as `(rows per example, k, n)`, for the raw throughput.
    gemm: (usize, usize, usize),
    reps: usize,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "toy",
        input: &[1],
        net: || mlp(&[1, 50, 50, 1]),
        batch: 32,
        likelihood: Likelihood::Normal { scale: 1.0 },
        classes: 0,
        gemm: (1, 50, 50),
        reps: 2000,
    },
    Workload {
        name: "mnist-mlp",
        input: &[784],
        net: || mlp(&[784, 400, 400, 10]),
        batch: 128,
        likelihood: Likelihood::Categorical,
        classes: 10,
        gemm: (1, 784, 400),
        reps: 60,
    },
    Workload {
        name: "wide",
        input: &[1024],
        net: || mlp(&[1024, 1024, 1024, 10]),
        batch: 256,
        likelihood: Likelihood::Categorical,
        classes: 10,
        gemm: (1, 1024, 1024),
        reps: 20,
    },
    Workload {
        name: "conv",
        input: &[28, 28, 1],
        net: convnet,
        batch: 64,
        likelihood: Likelihood::Categorical,
        classes: 10,
        // the second conv layer: 8·8 output positions per example, im2col rows of 5·5·32, 64 filters
        gemm: (64, 800, 64),
        reps: 10,
    },
];

/// Input 28×28×1; Conv2DFlipout 32 5×5 relu, max-pool 2; Conv2DFlipout 64 5×5 relu, max-pool 2;
/// flatten; DenseFlipout 10.
fn convnet() -> Sequential<f32> {
    Sequential::new()
        .name("cnn")
        .add(Conv2DFlipout::conv2d(32, [5, 5]).activation(Activation::Relu))
        .add(Pool::max(&[2, 2]))
        .add(Conv2DFlipout::conv2d(64, [5, 5]).activation(Activation::Relu))
        .add(Pool::max(&[2, 2]))
        .add(Flatten)
        .add(DenseFlipout::new(10))
}

fn mlp(sizes: &[usize]) -> Sequential<f32> {
    let mut net = Sequential::new().name("bnn");
    for (i, &units) in sizes[1..].iter().enumerate() {
        let last = i + 2 == sizes.len();
        let act = if last { Activation::Linear } else { Activation::Relu };
        net = net.add(DenseFlipout::new(units).activation(act));
    }
    net
}

fn inputs(w: &Workload) -> (Vec<f32>, Vec<f32>) {
    let width: usize = w.input.iter().product();
    let x: Vec<f32> = (0..w.batch * width).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let y: Vec<f32> = match w.likelihood {
        Likelihood::Categorical => (0..w.batch).map(|i| (i % w.classes) as f32).collect(),
        _ => (0..w.batch).map(|i| (i as f32 * 0.1).sin()).collect(),
    };
    (x, y)
}

struct Measured {
    step_us: f64,
    forward_us: f64,
    floor_us: f64,
    /// Time of the step's nodes other than matrix products and convolutions (noise, softplus,
    /// KL, activations, likelihood and their gradients), from a profile.
    other_us: f64,
    /// Time of the Adam update alone, on gradients of the step's shapes.
    optimizer_us: f64,
    flops: u64,
}

impl Measured {
    /// The step less the other nodes and the update: the products plus per-node dispatch.
    fn products_us(&self) -> f64 {
        self.step_us - self.other_us - self.optimizer_us
    }
}

/// The ops that do a step's matrix products: the work the floor counts. (A two-thread session
/// runs some of them in pairs, one per thread, and profiles each on its own thread, so their
/// profiled times do not add up to wall time; the other nodes' do.)
const PRODUCT_OPS: &[&str] = &["matmul", "matmul_batch_sum", "conv", "conv_backprop_filter", "conv_backprop_input"];

/// The step, the forward pass and the raw GEMM at the workload's dominant shape (for the
/// floor), measured in alternation (see [`interleaved_medians_us`]) with `threads` threads. The
/// floor's GEMM rate is the better of one product split across the threads and one product
/// per thread at once (how a two-thread session runs a Flipout layer's pairs of products),
/// outside any graph. The Adam update is also timed alone (on a copy of the parameters and one
/// step's gradients), and a few profiled steps time the nodes other than the products.
fn measure(w: &Workload, threads: usize) -> Measured {
    let mut model = Model::new((w.net)(), w.input, w.likelihood, 1).expect("model builds");
    let (x, y) = inputs(w);
    let (plan, params) = model.training_plan(60_000).expect("training plan");
    let flops = plan.flops(w.batch);
    let forward_plan = model.prediction_plan(Mode::Sample).expect("forward plan");
    // One team for everything timed here, as a program would have: teams of their own would
    // each keep a helper spinning after their runs, on the cores the next function needs.
    let team = KernelTeam::new(threads);
    let session_on_team = |plan| match threads {
        1 => Session::with_options(plan, 1, SessionOptions { threads: Some(1), check_finite: false }),
        _ => Session::with_team(plan, 1, team.clone()),
    };
    let mut session = session_on_team(plan);
    let mut forward = session_on_team(forward_plan);
    // The forward pass reads a copy of the parameters, since the steps keep changing them.
    let snapshot = model.store().clone();
    // The update alone needs a threading context of its own, since the step and the forward
    // pass hold their sessions: a session that has run a pass of the batch's size, so that it
    // splits the update across its threads as the step's session does.
    let mut context = session_on_team(model.prediction_plan(Mode::Mean).expect("mean plan"));
    context.run(model.store(), &[("x", &x)]).expect("mean pass runs");
    let grads: Vec<(ParamId, Vec<f32>)> = {
        let out = session.run(model.store(), &[("x", &x), ("y", &y)]).expect("step runs");
        params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i).to_vec())).collect()
    };
    let grads: Vec<(ParamId, &[f32])> = grads.iter().map(|(id, g)| (*id, g.as_slice())).collect();
    let (mut update_store, mut update_adam) = (model.store().clone(), Adam::<f32>::new(1e-3));
    let mut update = || context.in_context(|| update_adam.step(&mut update_store, &grads)).expect("adam step");
    let mut adam = Adam::<f32>::new(1e-3);
    let mut step = || {
        let out = session.run(model.store(), &[("x", &x), ("y", &y)]).expect("step runs");
        let grads: Vec<(ParamId, &[f32])> = params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i))).collect();
        let store = model.store_mut();
        out.in_context(|| adam.step(store, &grads)).expect("adam step");
    };
    let mut forward_pass = || {
        forward.run(&snapshot, &[("x", &x)]).expect("forward runs");
    };

    let (m, k, n) = (w.batch * w.gemm.0, w.gemm.1, w.gemm.2);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 97) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 89) as f32 * 0.01).collect();
    let (mut c, mut cs) = (vec![0.0f32; m * n], vec![0.0f32; threads * m * n]);
    let (am, bm) = (MatRef::new(&a, m, k, false), MatRef::new(&b, k, n, false));
    let mut split = || team.lead(|| gemm(am, bm, 0.0, &mut c));
    let mut side_by_side = || team.lead(|| for_each_chunk_mut(&mut cs, m * n, |_, c| gemm(am, bm, 0.0, c)));

    let rounds = 5;
    let per_round = w.reps.div_ceil(rounds);
    let us = if threads == 1 {
        interleaved_medians_us(3, rounds, per_round, &mut [&mut step, &mut forward_pass, &mut update, &mut split])
    } else {
        let fs: &mut [&mut dyn FnMut()] =
            &mut [&mut step, &mut forward_pass, &mut update, &mut split, &mut side_by_side];
        interleaved_medians_us(3, rounds, per_round, fs)
    };
    let gemm_flops = 2.0 * (m * k * n) as f64;
    let gemm_gflops = match us[..] {
        [_, _, _, split] => gemm_flops / split / 1e3,
        [_, _, _, split, side_by_side] => (gemm_flops / split).max(threads as f64 * gemm_flops / side_by_side) / 1e3,
        _ => unreachable!("four or five functions were timed"),
    };

    // Reading the clock around every node slows the step a little, so the profiled steps only
    // split it; the step time above is unprofiled.
    session.set_profiling(true);
    for _ in 0..per_round {
        session.run(model.store(), &[("x", &x), ("y", &y)]).expect("step runs");
    }
    let profile = session.profile();
    let other: std::time::Duration =
        profile.entries().iter().filter(|e| !PRODUCT_OPS.contains(&e.op)).map(|e| e.total).sum();
    let other_us = other.as_secs_f64() * 1e6 / profile.runs() as f64;
    Measured {
        step_us: us[0],
        forward_us: us[1],
        floor_us: flops as f64 / gemm_gflops / 1e3,
        other_us,
        optimizer_us: us[2],
        flops,
    }
}

/// Runs the named workloads (all when `only` is empty); `None` if a name is unknown.
pub fn run(only: &[&str]) -> Option<Json> {
    if let Some(bad) = only.iter().find(|n| !WORKLOADS.iter().any(|w| w.name == **n)) {
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        eprintln!("unknown layers workload `{bad}`; workloads: {names:?}");
        return None;
    }
    println!("layers: DenseFlipout training step and forward pass vs the GEMM floor (f32, µs)");
    println!(
        "{:>10} {:>8} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>8}",
        "workload", "threads", "step", "forward", "floor", "step/fl", "products", "other", "adam", "GFLOP"
    );
    let mut rows = Vec::new();
    for w in WORKLOADS.iter().filter(|w| only.is_empty() || only.contains(&w.name)) {
        for threads in [1, 2] {
            let m = measure(w, threads);
            println!(
                "{:>10} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>8.2} {:>10.1} {:>10.1} {:>10.1} {:>8.3}",
                w.name,
                threads,
                m.step_us,
                m.forward_us,
                m.floor_us,
                m.step_us / m.floor_us,
                m.products_us(),
                m.other_us,
                m.optimizer_us,
                m.flops as f64 / 1e9
            );
            rows.push(Json::obj(vec![
                ("name", Json::Str(w.name.into())),
                ("threads", Json::Int(threads as i64)),
                ("batch", Json::Int(w.batch as i64)),
                ("train_step_us", Json::Num(m.step_us)),
                ("forward_us", Json::Num(m.forward_us)),
                ("gemm_floor_us", Json::Num(m.floor_us)),
                ("step_over_floor", Json::Num(m.step_us / m.floor_us)),
                ("products_us", Json::Num(m.products_us())),
                ("other_ops_us", Json::Num(m.other_us)),
                ("optimizer_us", Json::Num(m.optimizer_us)),
                ("matmul_gflop_per_step", Json::Num(m.flops as f64 / 1e9)),
            ]));
        }
    }
    Some(Json::obj(vec![("workloads", Json::Arr(rows))]))
}
