use autodiff::optim::{Adam, Optimizer};
use autodiff::prelude::*;
use layers::{Activation, Conv2DFlipout, DenseFlipout, Flatten, Likelihood, Model, Pool, Sequential};

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

fn main() {
    let threads: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1);
    let steps: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(20);
    let full = std::env::args().nth(3).is_some();
    let batch = 64;
    let mut model = Model::new(convnet(), &[28, 28, 1], Likelihood::Categorical, 1).expect("model");
    let x: Vec<f32> = (0..batch * 784).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let y: Vec<f32> = (0..batch).map(|i| (i % 10) as f32).collect();
    let (plan, params) = model.training_plan(60_000).expect("plan");
    println!("flops {}", plan.flops(batch));
    let mut session = Session::with_options(plan, 1, SessionOptions { threads: Some(threads), check_finite: false });
    let mut adam = Adam::<f32>::new(1e-3);
    let mut step = |session: &mut Session<f32>| {
        let out = session.run(model.store(), &[("x", &x), ("y", &y)]).expect("step");
        let grads: Vec<(ParamId, &[f32])> = params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i))).collect();
        let store = model.store_mut();
        out.in_context(|| adam.step(store, &grads)).expect("adam");
    };
    for _ in 0..3 {
        step(&mut session);
    }
    session.set_profiling(true);
    let t = std::time::Instant::now();
    for _ in 0..steps {
        step(&mut session);
    }
    println!("wall per step {:.1} us", t.elapsed().as_secs_f64() * 1e6 / steps as f64);
    let p = session.profile();
    for (op, d) in p.by_op().iter().take(25) {
        println!("{:>10.1} {}", d.as_secs_f64() * 1e6, op);
    }
    if std::env::args().nth(3).as_deref() == Some("order") {
        let runs = p.runs().max(1) as f64;
        for (i, e) in p.entries().iter().enumerate() {
            if e.total.as_secs_f64() * 1e6 / runs > 50.0 {
                println!(
                    "{i:>4} {:>8.1} {:>9} {:<22} {}",
                    e.total.as_secs_f64() * 1e6 / runs,
                    e.numel,
                    e.op,
                    e.label.as_deref().unwrap_or("-")
                );
            }
        }
        return;
    }
    if full {
        println!("{p}");
    } else {
        let s = format!("{p}");
        for l in s.lines().take(45) {
            println!("{l}");
        }
    }
}
