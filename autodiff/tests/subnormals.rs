//! Kernels run with denormals flushed to zero, in the calling thread and in pool threads, and
//! the caller's floating-point mode is restored afterwards.

use autodiff::kernels::ftz;
use autodiff::prelude::*;

fn run(threads: usize, x: &[f64]) -> Vec<f64> {
    let g = Graph::<f64>::new();
    let xi = g.input("x", [x.len()]);
    let y = xi * 0.5;
    let plan = g.compile(&[y]).unwrap();
    let mut s = Session::with_options(plan, 0, SessionOptions { threads: Some(threads), check_finite: false });
    s.run(&ParamStore::new(0), &[("x", x)]).unwrap()[0].to_vec()
}

#[test]
#[cfg(target_arch = "x86_64")]
fn subnormals_are_flushed_in_kernels() {
    let tiny = f64::MIN_POSITIVE / 4.0; // subnormal
    assert!(tiny > 0.0 && !tiny.is_normal());
    // Without flushing, 0.5 * tiny is another subnormal; with DAZ/FTZ it is exactly zero.
    assert!(0.5 * std::hint::black_box(tiny) > 0.0);
    for threads in [1, 2] {
        let n = 1 << 16; // above the parallel threshold
        let out = run(threads, &vec![tiny; n]);
        assert!(out.iter().all(|&v| v == 0.0), "threads = {threads}");
        let out = run(threads, &[1.0, tiny]);
        assert_eq!(out, [0.5, 0.0]);
    }
    assert!(!ftz::is_enabled(), "the caller's mode is restored");
    assert!(0.5 * std::hint::black_box(tiny) > 0.0);
}
