//! Mistakes give errors that name the op, the shapes and the caller's file and line; nothing
//! panics on user input.

use autodiff::prelude::*;
use autodiff::ParamStore;

#[test]
fn shape_error_names_op_shapes_and_caller_line() {
    let g = Graph::<f32>::new();
    let a = g.input("a", [3, 4]);
    let b = g.input("b", [5, 4]);
    let line = line!() + 1;
    let c = g.scope("layer1", || a + b);
    // Nodes built on a poisoned node stay quiet: one mistake, one message.
    let d = matmul(c, a) * 2.0;
    let e = g.compile(&[d]).unwrap_err().to_string();
    assert!(e.starts_with("add (layer1) at "), "{e}");
    assert!(e.contains(&format!("tests/errors.rs:{line}:")), "{e}");
    assert!(e.contains("[3, 4]") && e.contains("[5, 4]") && e.contains("do not broadcast"), "{e}");
}

#[test]
fn grad_of_non_scalar_is_an_error() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [3]);
    let line = line!() + 1;
    let _ = grad(x * x, &[x]);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("must be a scalar") && e.contains("[3]") && e.contains(&format!("errors.rs:{line}")), "{e}");
}

#[test]
fn foreign_tensor_and_duplicates_are_errors() {
    let g1 = Graph::<f64>::new();
    let g2 = Graph::<f64>::new();
    let a = g1.input("a", [2]);
    let b = g2.input("b", [2]);
    let _ = a + b;
    assert!(g1.check().unwrap_err().to_string().contains("another graph"));

    let g = Graph::<f64>::new();
    g.random(StandardNormal, [2], "eps");
    g.random(StandardNormal, [2], "eps");
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("salt \"eps\""), "{e}");

    let g = Graph::<f64>::new();
    g.input("x", [2]);
    g.input("x", [3]);
    assert!(g.check().unwrap_err().to_string().contains("\"x\" already exists"));
}

#[test]
fn a_leaf_may_have_the_batch_dimension_once() {
    let g = Graph::<f64>::new();
    let _ = g.input("k", [B, B]);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("input") && e.contains("[B, B] has the batch dimension more than once"), "{e}");
    assert!(e.contains("tests/errors.rs"), "names the caller's line: {e}");
    let g = Graph::<f64>::new();
    let _ = g.random(StandardNormal, [B, Dim::Fixed(2), B], "eps");
    assert!(g.check().unwrap_err().to_string().contains("[B, 2, B] has the batch dimension more than once"));
}

#[test]
fn unusable_sampler_parameters_are_build_errors() {
    let g = Graph::<f64>::new();
    let _ = g.random(autodiff::random::Bernoulli { p: 1.5 }, [3], "coin");
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("bernoulli") && e.contains("p must be in [0, 1], got 1.5"), "{e}");
    let g = Graph::<f64>::new();
    let _ = g.random(autodiff::random::Uniform { low: 1.0, high: 0.0 }, [3], "u");
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("uniform") && e.contains("non-empty, got [1, 0)"), "{e}");
}

#[test]
fn a_batch_dimension_without_a_batched_feed_is_a_run_error() {
    let g = Graph::<f64>::new();
    let eps = g.random(StandardNormal, [B, Dim::Fixed(3)], "eps");
    let mut s = Session::new(g.compile(&[eps]).unwrap(), 0);
    let e = s.run(&ParamStore::new(0), &[]).unwrap_err().to_string();
    assert!(e.starts_with("standard_normal (eps) at ") && e.contains("tests/errors.rs"), "{e}");
    assert!(e.ends_with("no fed input has it, so the batch size is unknown"), "{e}");
}

#[test]
fn run_errors_name_the_feed_or_param() {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let w = store.create("net/w", &[4], Init::Zeros).unwrap();
    let x = g.batched_input("x", &[4]);
    let y = (x * g.param(&store, w)).sum_all();
    let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
    let e = s.run(&store, &[]).unwrap_err().to_string();
    assert_eq!(e, "input \"x\" was not fed");
    let e = s.run(&store, &[("x", &[1.0; 8]), ("z", &[1.0])]).unwrap_err().to_string();
    assert!(e.contains("feed \"z\" names no input") && e.contains("\"x\""), "{e}");
    // A misspelt name alone: the error names it and the inputs, not only the missing input.
    let e = s.run(&store, &[("X", &[1.0; 8])]).unwrap_err().to_string();
    assert_eq!(e, "feed \"X\" names no input of the plan; its inputs are [\"x\"]");
    let e = s.run(&store, &[("x", &[1.0; 8]), ("x", &[2.0; 8])]).unwrap_err().to_string();
    assert_eq!(e, "input \"x\" is fed twice");
    let e = s.run(&store, &[("x", &[1.0; 6])]).unwrap_err().to_string();
    assert!(e.contains("feed \"x\": 6 values do not fit shape [B, 4]"), "{e}");
    let other = ParamStore::<f64>::new(0);
    let e = s.run(&other, &[("x", &[1.0; 8])]).unwrap_err().to_string();
    assert!(e.contains("param \"net/w\""), "{e}");
    assert_eq!(s.run(&store, &[("x", &[1.0; 8])]).unwrap().scalar(0), 0.0);
}

#[test]
fn batch_sizes_of_inputs_must_agree() {
    let g = Graph::<f64>::new();
    let x = g.batched_input("x", &[2]);
    let y = g.batched_input("y", &[1]);
    let z = (x * y).sum_all();
    let mut s = Session::new(g.compile(&[z]).unwrap(), 0);
    let e = s.run(&ParamStore::new(0), &[("x", &[1.0; 4]), ("y", &[1.0; 3])]).unwrap_err().to_string();
    assert!(e.contains("batch size 3 differs from 2"), "{e}");
}

#[test]
fn check_mode_reports_the_first_non_finite_node() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2]);
    let line = line!() + 1;
    let y = g.scope("head", || g.scalar(1.0) / x);
    let z = y * 0.0;
    let plan = g.compile(&[z]).unwrap();
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(1), check_finite: true });
    let e = s.run(&ParamStore::new(0), &[("x", &[1.0, 0.0])]).unwrap_err().to_string();
    assert!(e.starts_with("div (head) at "), "{e}");
    assert!(e.contains(&format!("errors.rs:{line}")) && e.contains("inf at element 1"), "{e}");
    s.set_check_finite(false);
    assert!(s.run(&ParamStore::new(0), &[("x", &[1.0, 0.0])]).unwrap()[0][1].is_nan());
}

/// Library code that builds nodes for a user (a layer, say) attributes its errors to the line
/// the user configured it on; `None` inside restores the nodes' own lines.
#[track_caller]
fn user_site() -> &'static std::panic::Location<'static> {
    std::panic::Location::caller()
}

#[test]
fn errors_can_be_attributed_to_the_line_that_configured_the_builder() {
    let g = Graph::<f32>::new();
    let a = g.input("a", [3, 4]);
    let site = user_site();
    g.attributed_to(Some(site), || a + g.input("b", [5, 4]));
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains(&format!("at {}:{}:", file!(), site.line())), "{e}");

    let g = Graph::<f32>::new();
    let a = g.input("a", [3, 4]);
    let line = line!() + 1;
    g.attributed_to(Some(user_site()), || g.attributed_to(None, || a + g.input("b", [5, 4])));
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains(&format!("at {}:{line}:", file!())), "{e}");
    // The attribution ends with the closure.
    let g = Graph::<f32>::new();
    let a = g.input("a", [3, 4]);
    g.attributed_to(Some(user_site()), || a + 1.0);
    let line = line!() + 1;
    let _ = a + g.input("b", [5, 4]);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains(&format!("at {}:{line}:", file!())), "{e}");
}

#[test]
#[should_panic(expected = "fetch 1 does not exist: the plan fetches 1 tensors (0..1)")]
fn a_fetch_index_outside_the_plan_panics_with_the_plans_fetch_count() {
    let g = Graph::<f32>::new();
    let x = g.input("x", [2]);
    let mut s = Session::new(g.compile(&[x * 2.0]).unwrap(), 0);
    let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0])]).unwrap();
    assert_eq!(out.get(0), [2.0, 4.0]);
    let _ = out.get(1);
}
