//! Same seed, same bits, whatever the number of threads; and `run_at_step` replays a run.

use autodiff::prelude::*;

/// A graph with large random leaves, elementwise ops, matmuls and reductions, all above the
/// size where kernels go parallel.
fn build(g: &Graph<f32>) -> Vec<Tensor<'_, f32>> {
    let x = g.batched_input("x", &[300]);
    let w = g.random(StandardNormal, [300, 400], "w");
    let s = g.random(Rademacher, Shape::batched(&[300]), "s");
    let h = matmul(x * s, w);
    let y = (h * h + h).sum(&[0], false);
    // A Bayesian layer's weight KL: its fused kernels, and a gradient summed inside the GEMM.
    let sigma = softplus(w * 0.5 - 3.0);
    let kl = normal_kl(w, sigma, g.scalar(0.0), g.scalar(1.0)).sum_all();
    let total = y.sum_all() + kl;
    let gw = grad(total, &[w])[0];
    vec![h, y, kl, total, gw]
}

fn run_with(threads: usize, step: u64) -> Vec<Vec<f32>> {
    let g = Graph::<f32>::new();
    let fetch = build(&g);
    let plan = g.compile(&fetch).unwrap();
    let mut s = Session::with_options(plan, 42, SessionOptions { threads: Some(threads), check_finite: false });
    let x: Vec<f32> = (0..256 * 300).map(|i| ((i * 37 % 101) as f32) / 101.0 - 0.5).collect();
    let out = s.run_at_step(step, &ParamStore::new(0), &[("x", &x)]).unwrap();
    (0..out.len()).map(|i| out[i].to_vec()).collect()
}

#[test]
fn sessions_sharing_a_team_from_two_threads_give_the_serial_bits() {
    // Two threads run sessions on one team at once: whichever finds the team busy runs on its
    // own thread. Every run must still give the bits of a single-threaded session.
    let want = run_with(1, 3);
    let g = Graph::<f32>::new();
    let fetch = build(&g);
    let plan = g.compile(&fetch).unwrap();
    let team = autodiff::KernelTeam::new(2);
    let x: Vec<f32> = (0..256 * 300).map(|i| ((i * 37 % 101) as f32) / 101.0 - 0.5).collect();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut s = Session::with_team(plan.clone(), 42, team.clone());
                for _ in 0..10 {
                    let out = s.run_at_step(3, &ParamStore::new(0), &[("x", &x)]).unwrap();
                    for (i, w) in want.iter().enumerate() {
                        assert!(out[i].iter().zip(w).all(|(p, q)| p.to_bits() == q.to_bits()), "fetch {i} differs");
                    }
                }
            });
        }
    });
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let a = run_with(1, 3);
    let b = run_with(2, 3);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()), "fetch {i} differs between 1 and 2 threads");
    }
    let c = run_with(3, 3);
    assert_eq!(a, c);
}

#[test]
fn replay_reproduces_a_run_and_steps_differ() {
    let g = Graph::<f64>::new();
    let e = g.random(StandardNormal, [1000], "eps");
    let w = g.input("w", [1000]);
    let loss = (w * e).sum_all();
    let gw = grad(loss, &[w])[0];
    let plan = g.compile(&[e, gw]).unwrap();
    let mut s = Session::new(plan, 7);
    let w0 = vec![0.5; 1000];
    let store = ParamStore::new(0);
    let first: Vec<f64> = s.run(&store, &[("w", &w0)]).unwrap()[0].to_vec();
    let second = s.run(&store, &[("w", &w0)]).unwrap();
    // Forward and backward see the same sample: d/dw Σ w·ε = ε.
    assert_eq!(second[0], second[1]);
    let second: Vec<f64> = second[0].to_vec();
    assert_ne!(first, second, "each run draws fresh noise");
    let replay: Vec<f64> = s.run_at_step(0, &store, &[("w", &w0)]).unwrap()[0].to_vec();
    assert_eq!(first, replay);
    assert_eq!(s.next_step(), 2, "replay does not advance the step");
    // Another session with the same seed reproduces everything; another seed does not.
    let mut s2 = Session::new(s.plan().clone(), 7);
    assert_eq!(s2.run(&store, &[("w", &w0)]).unwrap()[0], first[..]);
    let mut s3 = Session::new(s.plan().clone(), 8);
    assert_ne!(s3.run(&store, &[("w", &w0)]).unwrap()[0], first[..]);
}

#[test]
fn salts_and_scopes_key_the_noise() {
    let g = Graph::<f64>::new();
    let a = g.scope("layer1", || g.random(StandardNormal, [64], "eps"));
    let b = g.scope("layer2", || g.random(StandardNormal, [64], "eps"));
    let c = g.random_seeded(StandardNormal, [64], "seeded", Some(99));
    let plan = g.compile(&[a, b, c]).unwrap();
    let store = ParamStore::new(0);
    let mut s1 = Session::new(plan.clone(), 1);
    let mut s2 = Session::new(plan, 2);
    let o1 = s1.run(&store, &[]).unwrap();
    let (a1, b1, c1) = (o1[0].to_vec(), o1[1].to_vec(), o1[2].to_vec());
    assert_ne!(a1, b1, "different scopes draw different noise");
    let o2 = s2.run(&store, &[]).unwrap();
    assert_ne!(o2[0], a1[..], "the session seed keys unseeded nodes");
    assert_eq!(o2[2], c1[..], "a node's own seed replaces the session seed");
}

#[test]
fn random_leaf_moments() {
    // 2^16 standard normals: mean within 4 se (1/256), variance within 4 se (sqrt(2)/256).
    let g = Graph::<f64>::new();
    let e = g.random(StandardNormal, [1 << 16], "e");
    let r = g.random(Rademacher, [1 << 16], "r");
    let u = g.random(Uniform { low: -1.0, high: 3.0 }, [1 << 16], "u");
    let mut s = Session::new(g.compile(&[e, r, u]).unwrap(), 5);
    let o = s.run(&ParamStore::new(0), &[]).unwrap();
    let n = (1 << 16) as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n
    };
    assert!(mean(&o[0]).abs() < 4.0 / 256.0);
    assert!((var(&o[0]) - 1.0).abs() < 4.0 * 2f64.sqrt() / 256.0);
    assert!(o[1].iter().all(|&x| x == 1.0 || x == -1.0));
    assert!(mean(&o[1]).abs() < 4.0 / 256.0);
    assert!(o[2].iter().all(|&x| (-1.0..3.0).contains(&x)));
    // U(-1, 3): mean 1, sd 4/sqrt(12)
    assert!((mean(&o[2]) - 1.0).abs() < 4.0 * (4.0 / 12f64.sqrt()) / 256.0);
}

#[test]
fn small_runs_leave_the_team_asleep() {
    // Nothing in a 1×300·300×8 graph reaches a kernel's threshold for splitting work, so a
    // two-thread session runs it (and work in its context, such as an optimizer step) with
    // kernels confined to the caller's thread; at batch 256 the same plan splits across its team.
    let g = Graph::<f32>::new();
    let x = g.batched_input("x", &[300]);
    let w = g.random(StandardNormal, [300, 8], "w");
    let y = matmul(x, w).sum_all();
    let mut s =
        Session::with_options(g.compile(&[y]).unwrap(), 1, SessionOptions { threads: Some(2), check_finite: false });
    let on_pool = |s: &Session<f32>| s.in_context(autodiff::kernels::threads) == 2;
    let x: Vec<f32> = (0..256 * 300).map(|i| (i % 7) as f32).collect();
    s.run(&ParamStore::new(0), &[("x", &x[..300])]).unwrap();
    assert!(!on_pool(&s));
    s.run(&ParamStore::new(0), &[("x", &x)]).unwrap();
    assert!(on_pool(&s));
}
