//! Steady-state runs allocate nothing. A counting allocator wraps the system allocator.
//!
//! matrixmultiply allocates one packing buffer inside every GEMM call; that is the only
//! allocation left in a run, and the test counts it exactly.

use autodiff::prelude::*;
use autodiff::testing::{count_allocations, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn one_thread<F: Scalar>(plan: Plan<F>) -> Session<F> {
    Session::with_options(plan, 1, SessionOptions { threads: Some(1), check_finite: false })
}

#[test]
fn elementwise_and_reduction_runs_allocate_nothing() {
    let g = Graph::<f32>::new();
    let x = g.batched_input("x", &[64]);
    let e = g.random(StandardNormal, Shape::batched(&[64]), "e");
    let y = ((x + e) * x - e / (x * x + 1.0)).sum(&[1], false);
    let loss = y.sum_all();
    let gx = grad(loss, &[x])[0];
    let plan = g.compile(&[loss, gx]).unwrap();
    assert!(plan.num_in_place() > 0, "elementwise chains should run in place");
    let mut s = one_thread(plan);
    let store = ParamStore::new(0);
    let big: Vec<f32> = (0..128 * 64).map(|i| (i % 13) as f32 * 0.1).collect();
    s.run(&store, &[("x", &big)]).unwrap();
    let (_, n) = count_allocations(|| {
        for _ in 0..3 {
            s.run(&store, &[("x", &big)]).unwrap();
        }
    });
    assert_eq!(n, 0, "steady-state runs allocated");
    // A smaller last batch fits in the buffers grown for the large one.
    let (_, n) = count_allocations(|| s.run(&store, &[("x", &big[..37 * 64])]).map(|o| o.dims(1).to_vec()));
    assert_eq!(n, 1, "only the returned Vec of dims may allocate");
    let growths = s.buffer_growths();
    s.run(&store, &[("x", &big)]).unwrap();
    assert_eq!(s.buffer_growths(), growths);
}

#[test]
fn training_step_allocates_only_inside_gemm() {
    let g = Graph::<f32>::new();
    let mut store = ParamStore::new(3);
    let w1 = store.create("w1", &[32, 64], Init::GlorotUniform).unwrap();
    let w2 = store.create("w2", &[64, 10], Init::GlorotUniform).unwrap();
    let x = g.batched_input("x", &[32]);
    let (w1, w2) = (g.param(&store, w1), g.param(&store, w2));
    let h = matmul(x, w1);
    let out = matmul(h * h, w2);
    let loss = (out * out).sum_all();
    let gs = grad(loss, &[w1, w2]);
    let plan = g.compile(&[loss, gs[0], gs[1]]).unwrap();
    let matmuls = plan.op_names().iter().filter(|n| **n == "matmul").count();
    let mut s = one_thread(plan);
    let xs: Vec<f32> = (0..16 * 32).map(|i| (i % 7) as f32 * 0.1).collect();
    s.run(&store, &[("x", &xs)]).unwrap();
    let (_, n) = count_allocations(|| s.run(&store, &[("x", &xs)]).map(|_| ()).unwrap());
    assert_eq!(n, matmuls, "one packing buffer per GEMM call and nothing else");
}

#[test]
fn the_cotangent_of_a_sum_is_not_broadcast_into_a_full_tensor() {
    // d/dx Σ (x·w) = w: the VJP broadcasts the scalar cotangent to x's shape, and `mul`
    // broadcasts by itself, so the plan reads the scalar directly.
    let g = Graph::<f64>::new();
    let x = g.input("x", [Dim::Fixed(3), Dim::Fixed(4)]);
    let w = g.input("w", [Dim::Fixed(3), Dim::Fixed(4)]);
    let loss = (x * w).sum_all();
    let gx = grad(loss, &[x])[0];
    let plan = g.compile(&[gx]).unwrap();
    assert!(!plan.op_names().contains(&"broadcast_to"), "{:?}", plan.op_names());
    let mut s = Session::new(plan, 0);
    let xs: Vec<f64> = (0..12).map(|i| i as f64).collect();
    let ws: Vec<f64> = (0..12).map(|i| 0.5 - i as f64).collect();
    let out = s.run(&ParamStore::new(0), &[("x", &xs), ("w", &ws)]).unwrap();
    assert_eq!(out.get(0), &ws[..]);
    // A broadcast that is fetched stays, and so does one whose reader would change shape.
    let b = broadcast_to(loss, [3, 4]);
    let plan = g.compile(&[b, b * x]).unwrap();
    assert_eq!(plan.op_names().iter().filter(|n| **n == "broadcast_to").count(), 1);
    let plan = g.compile(&[b + loss]).unwrap();
    assert!(plan.op_names().contains(&"broadcast_to"));
}

#[test]
fn two_thread_runs_without_products_allocate_nothing() {
    // Every kernel splits across the team; the calling thread leads and publishes each job
    // without allocating.
    let g = Graph::<f32>::new();
    let x = g.batched_input("x", &[512]);
    let e = g.random(StandardNormal, Shape::batched(&[512]), "e");
    let y = (softplus(x * e) * x + e).sum(&[1], false);
    let loss = y.sum_all();
    let gx = grad(loss, &[x])[0];
    let plan = g.compile(&[loss, gx]).unwrap();
    let mut s = Session::with_options(plan, 1, SessionOptions { threads: Some(2), check_finite: false });
    let store = ParamStore::new(0);
    let big: Vec<f32> = (0..256 * 512).map(|i| (i % 13) as f32 * 0.1).collect();
    s.run(&store, &[("x", &big)]).unwrap();
    assert_eq!(s.in_context(autodiff::kernels::threads), 2, "the runs should split across the team");
    let (_, n) = count_allocations(|| {
        for _ in 0..5 {
            s.run(&store, &[("x", &big)]).unwrap();
        }
    });
    assert_eq!(n, 0, "steady-state two-thread runs allocated on the calling thread");
}
