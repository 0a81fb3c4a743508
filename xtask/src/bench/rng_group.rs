//! `rng` group: the cost of the random leaves' samplers on one thread, in ns per value.
//!
//! Each sampler fills 2^20 values block by block, one counter generator per block, as a
//! session fills a random leaf (`autodiff::random::fill_blocks`) on a single-threaded run.

use autodiff::random::{Sampler, StandardNormal, Uniform};
use autodiff::rng::{block_key, CounterRng, BLOCK};
use autodiff::Scalar;

use super::median_us;
use crate::json::Json;

const N: usize = 1 << 20;

/// Median ns per value of filling `N` values of `F` with `sampler` on the calling thread.
fn ns_per_value<F: Scalar>(sampler: &dyn Sampler<F>) -> f64 {
    let mut out = vec![F::zero(); N];
    let mut step = 0u64;
    let us = median_us(3, 31, || {
        step += 1;
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let mut rng = CounterRng::new(block_key(7, 11, step, b as u64));
            sampler.fill(chunk, &mut rng);
        }
        std::hint::black_box(&mut out);
    });
    us * 1e3 / N as f64
}

pub fn run() -> Json {
    println!("rng: filling 2^20 values on one thread (ns/value, median of 31 runs)");
    let cases: [(&str, f64); 3] = [
        ("standard_normal_f32", ns_per_value::<f32>(&StandardNormal)),
        ("standard_normal_f64", ns_per_value::<f64>(&StandardNormal)),
        ("uniform_f32", ns_per_value::<f32>(&Uniform::default())),
    ];
    for (name, ns) in &cases {
        println!("{name:>22} {ns:>8.3} ns/value");
    }
    Json::obj(cases.iter().map(|&(name, ns)| (name, Json::Num(ns))).collect())
}
