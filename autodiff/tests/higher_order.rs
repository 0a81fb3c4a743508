//! Gradients are graph nodes, so they differentiate again.

use autodiff::prelude::*;

#[test]
fn second_derivative_of_cube_is_6x() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [3]);
    let y = (x * x * x).sum_all();
    let dx = grad(y, &[x])[0];
    let d2x = grad(dx.sum_all(), &[x])[0];
    let d3x = grad(d2x.sum_all(), &[x])[0];
    let mut s = Session::new(g.compile(&[dx, d2x, d3x]).unwrap(), 0);
    let o = s.run(&ParamStore::new(0), &[("x", &[1.0, -2.0, 0.5])]).unwrap();
    assert_eq!(o[0], [3.0, 12.0, 0.75]);
    assert_eq!(o[1], [6.0, -12.0, 3.0]);
    assert_eq!(o[2], [6.0, 6.0, 6.0]);
}

#[test]
fn hessian_vector_product_of_a_quadratic_form() {
    // f(x) = xᵀ A x has Hessian A + Aᵀ; Hv = grad(grad(f)·v).
    let a = [1.0, 2.0, 0.0, -1.0, 3.0, 1.0, 0.5, 0.0, 2.0];
    let g = Graph::<f64>::new();
    let x = g.input("x", [3, 1]);
    let v = g.constant_f64(&[1.0, -1.0, 2.0], [3, 1]);
    let am = g.constant_f64(&a, [3, 3]);
    let f = matmul_t(x, matmul(am, x), true, false).sum_all();
    let gx = grad(f, &[x])[0];
    let hv = grad((gx * v).sum_all(), &[x])[0];
    let mut s = Session::new(g.compile(&[hv]).unwrap(), 0);
    let o = s.run(&ParamStore::new(0), &[("x", &[0.3, -0.7, 1.1])]).unwrap();
    // (A + Aᵀ) v, by hand: A+Aᵀ = [[2,1,0.5],[1,6,1],[0.5,1,4]]; times [1,-1,2] = [2, -3, 7.5]
    assert_eq!(o[0], [2.0, -3.0, 7.5]);
}

#[test]
fn unreachable_inputs_get_zero_gradients() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2]);
    let z = g.input("z", [2, 2]);
    let y = (x * 3.0).sum_all();
    let gs = grad(y, &[x, z]);
    let mut s = Session::new(g.compile(&[gs[0], gs[1]]).unwrap(), 0);
    let o = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0]), ("z", &[0.0; 4])]).unwrap();
    assert_eq!(o[0], [3.0, 3.0]);
    assert_eq!(o[1], [0.0; 4]);
}

#[test]
fn one_plan_serves_every_batch_size() {
    let g = Graph::<f64>::new();
    let x = g.batched_input("x", &[2]);
    let w = g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
    let y = matmul(x, w).sum(&[1], false); // per-example sums: [B]
    let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
    let store = ParamStore::new(0);
    for b in [128usize, 37, 1, 500] {
        let xs: Vec<f64> = (0..2 * b).map(|i| i as f64).collect();
        let o = s.run(&store, &[("x", &xs)]).unwrap();
        assert_eq!(o.dims(0), [b]);
        for i in 0..b {
            let (p, q) = (xs[2 * i], xs[2 * i + 1]);
            assert_eq!(o[0][i], p * 6.0 + q * 15.0);
        }
    }
}
