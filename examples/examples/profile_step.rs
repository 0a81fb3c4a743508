use autodiff::optim::{Adam, Optimizer};
use autodiff::prelude::*;
use layers::{Activation, DenseFlipout, Likelihood, Model, Sequential};
fn main() {
    let net = Sequential::<f32>::new()
        .name("bnn")
        .add(DenseFlipout::new(400).activation(Activation::Relu))
        .add(DenseFlipout::new(400).activation(Activation::Relu))
        .add(DenseFlipout::new(10));
    let mut model = Model::new(net, &[784], Likelihood::Categorical, 1).unwrap();
    let (plan, params) = model.training_plan(60000).unwrap();
    println!("{:?}", plan.op_names());
    let mut s = Session::with_options(plan, 1, SessionOptions { threads: Some(1), check_finite: false });
    let x: Vec<f32> = (0..128 * 784).map(|i| (i % 100) as f32 / 100.0).collect();
    let y: Vec<f32> = (0..128).map(|i| (i % 10) as f32).collect();
    let mut adam = Adam::<f32>::new(1e-3);
    let t = std::time::Instant::now();
    for _ in 0..30 {
        let out = s.run(model.store(), &[("x", &x), ("y", &y)]).unwrap();
        let grads: Vec<(ParamId, &[f32])> = params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i))).collect();
        let store = model.store_mut();
        out.in_context(|| adam.step(store, &grads)).unwrap();
    }
    println!("{:.2} ms/step", t.elapsed().as_secs_f64() * 1e3 / 30.0);
}
