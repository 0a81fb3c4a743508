//! `rng` group: the cost of the random leaves' samplers on one thread, in ns per value.
//!
//! Each sampler fills 2^20 values block by block, one counter generator per block, as a
//! session fills a random leaf (`autodiff::random::fill_blocks`) on a single-threaded run. The
//! reference is scalar Box–Muller with libm's `f64` `ln` and `sin_cos`, timed in the same
//! process so that the ratio holds on a shared machine too.

use autodiff::random::{Sampler, StandardNormal, Uniform};
use autodiff::rng::{block_key, CounterRng, BLOCK};
use autodiff::Scalar;

use super::median_us;
use crate::json::Json;

const N: usize = 1 << 20;

/// Median ns per value of filling `N` values of `F` block by block with `fill`.
fn ns_per_value<F: Scalar>(mut fill: impl FnMut(&mut [F], &mut CounterRng)) -> f64 {
    let mut out = vec![F::zero(); N];
    let mut step = 0u64;
    let us = median_us(3, 31, || {
        step += 1;
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let mut rng = CounterRng::new(block_key(7, 11, step, b as u64));
            fill(chunk, &mut rng);
        }
        std::hint::black_box(&mut out);
    });
    us * 1e3 / N as f64
}

/// Scalar Box–Muller in `f64` with libm, rounded to `f32`.
fn libm_box_muller(out: &mut [f32], rng: &mut CounterRng) {
    for pair in out.chunks_mut(2) {
        let r = (-2.0 * rng.uniform_open0().ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * rng.uniform()).sin_cos();
        pair[0] = (r * c) as f32;
        if let Some(z) = pair.get_mut(1) {
            *z = (r * s) as f32;
        }
    }
}

fn sampler<F: Scalar>(s: &dyn Sampler<F>) -> impl FnMut(&mut [F], &mut CounterRng) + '_ {
    move |out, rng| s.fill(out, rng)
}

pub fn run() -> Json {
    println!("rng: filling 2^20 values on one thread (ns/value, median of 31 runs)");
    let reference = ns_per_value::<f32>(libm_box_muller);
    let cases: [(&str, f64); 3] = [
        ("standard_normal_f32", ns_per_value::<f32>(sampler(&StandardNormal))),
        ("standard_normal_f64", ns_per_value::<f64>(sampler(&StandardNormal))),
        ("uniform_f32", ns_per_value::<f32>(sampler(&Uniform::default()))),
    ];
    println!("{:>22} {reference:>8.3} ns/value", "libm_box_muller_f32");
    for (name, ns) in &cases {
        println!("{name:>22} {ns:>8.3} ns/value");
    }
    println!("standard_normal_f32 is {:.1}x faster than libm Box–Muller", reference / cases[0].1);
    let mut fields = vec![("libm_box_muller_f32", Json::Num(reference))];
    fields.extend(cases.iter().map(|&(name, ns)| (name, Json::Num(ns))));
    Json::obj(fields)
}
