//! A DenseFlipout training step allocates nothing in a steady state but matrixmultiply's packing
//! buffer, one per GEMM call: the session's buffers are reused, and Adam updates in place. A
//! counting allocator wraps the system allocator.

use autodiff::optim::{Adam, Optimizer};
use autodiff::prelude::*;
use autodiff::testing::{count_allocations, CountingAllocator};
use layers::{Activation, DenseFlipout, Likelihood, Model, Sequential};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn a_flipout_training_step_allocates_only_inside_gemm() {
    let net = Sequential::new().add(DenseFlipout::new(16).activation(Activation::Relu)).add(DenseFlipout::new(3));
    let mut model = Model::new(net, &[8], Likelihood::Categorical, 5).unwrap();
    let (plan, params) = model.training_plan(100).unwrap();
    let gemms = plan.op_names().iter().filter(|n| **n == "matmul").count();
    // The weights' gradients are summed inside their GEMMs and KL gradients, not by add_n.
    assert!(!plan.op_names().contains(&"add_n"), "{:?}", plan.op_names());
    let mut session = Session::with_options(plan, 1, SessionOptions { threads: Some(1), check_finite: false });
    let x: Vec<f32> = (0..4 * 8).map(|i| (i % 5) as f32 * 0.3 - 0.6).collect();
    let y: Vec<f32> = (0..4).map(|i| (i % 3) as f32).collect();
    let mut adam = Adam::<f32>::new(1e-3);
    let mut grads: Vec<(ParamId, Vec<f32>)> = Vec::new();
    for step in 0..3 {
        let (out, n) = count_allocations(|| session.run(model.store(), &[("x", &x), ("y", &y)]).unwrap());
        if step == 2 {
            assert_eq!(n, gemms, "one packing buffer per GEMM call and nothing else");
        }
        if grads.is_empty() {
            grads = params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i).to_vec())).collect();
        } else {
            for (i, (_, g)) in grads.iter_mut().enumerate() {
                g.copy_from_slice(out.get(3 + i));
            }
        }
        let views: Vec<(ParamId, &[f32])> = grads.iter().map(|(id, g)| (*id, &g[..])).collect();
        let store = model.store_mut();
        let (r, n) = count_allocations(|| adam.step(store, &views));
        r.unwrap();
        if step == 2 {
            assert_eq!(n, 0, "Adam's update allocated");
        }
    }
}

#[test]
fn a_two_thread_step_allocates_on_the_calling_thread_only_inside_gemm() {
    // Large enough for every kernel to split across the team and for the products to run in
    // pairs. The calling thread leads each split; it makes at most two GEMM calls per product
    // (both halves of a split one, when the helper is late to take its half), each with its
    // packing buffer, and allocates nothing else.
    let net = Sequential::new().add(DenseFlipout::new(400).activation(Activation::Relu)).add(DenseFlipout::new(10));
    let mut model = Model::new(net, &[784], Likelihood::Categorical, 5).unwrap();
    let (plan, params) = model.training_plan(60_000).unwrap();
    let gemms = plan.op_names().iter().filter(|n| **n == "matmul").count();
    let mut session = Session::with_options(plan, 1, SessionOptions { threads: Some(2), check_finite: false });
    let x: Vec<f32> = (0..128 * 784).map(|i| (i % 5) as f32 * 0.3 - 0.6).collect();
    let y: Vec<f32> = (0..128).map(|i| (i % 10) as f32).collect();
    let mut adam = Adam::<f32>::new(1e-3);
    let mut counts = Vec::new();
    for _ in 0..4 {
        let (out, n) = count_allocations(|| session.run(model.store(), &[("x", &x), ("y", &y)]).unwrap());
        counts.push(n);
        let grads: Vec<(ParamId, &[f32])> = params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i))).collect();
        let store = model.store_mut();
        let (r, n) = count_allocations(|| out.in_context(|| adam.step(store, &grads)));
        r.unwrap();
        if counts.len() > 1 {
            assert_eq!(n, 0, "Adam's update allocated");
        }
    }
    assert!(counts[2..].iter().all(|&n| n <= 2 * gemms), "{counts:?} allocations for {gemms} products");
}
