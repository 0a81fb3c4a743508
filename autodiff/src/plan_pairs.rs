//! Pairs of independent matrix products, placed next to each other so that a two-thread session
//! can run them at once, one per thread.
//!
//! Splitting one thin product such as 128×784·784×400 across two threads costs both halves a
//! packing of all of `a` and leaves them unequal (column blocks come in multiples of the
//! micro-kernel's width), so two threads reach about 1.75× one. A Flipout layer computes two
//! independent products of the same shape in its forward pass (`x·μ` and `(x∘s)·ΔW`) and two in
//! each weight gradient: run side by side, each on one thread, they reach nearly 2×. Each
//! product is computed by the same serial code either way, so results do not change.

use crate::plan::{Step, StepKind};
use crate::scalar::Scalar;

/// How far back a product is looked for to pair with a later one.
const LOOK_BACK: usize = 16;

fn is_matmul<F: Scalar>(s: &Step<F>) -> bool {
    matches!(&s.kind, StepKind::Op(op) if op.name() == "matmul")
}

/// Reorders `steps` (a topological order) so that pairs of independent matrix products are
/// adjacent, moving one of the two past the steps between them where that keeps every step
/// after its inputs. Input indices and `fetch` are renumbered.
pub(crate) fn bring_together<F: Scalar>(steps: &mut Vec<Step<F>>, fetch: &mut [usize]) {
    let n = steps.len();
    // `order[pos]` is the original index of the step now at `pos`.
    let mut order: Vec<usize> = (0..n).collect();
    let mut paired = vec![false; n];
    let reads = |reader: usize, value: usize| steps[reader].inputs.contains(&value);
    let mut pos = 0;
    while pos < order.len() {
        let j = order[pos];
        if !is_matmul(&steps[j]) {
            pos += 1;
            continue;
        }
        // With the nearest earlier product, if it is free and independent of this one: it moves
        // down to just before this one if nothing in between reads it, or else this one moves
        // up to just after it if nothing in between computes one of its inputs.
        let earlier = (pos.saturating_sub(LOOK_BACK)..pos).rev().find(|&q| is_matmul(&steps[order[q]]));
        if let Some(q) = earlier {
            let i = order[q];
            if !paired[i] && !reads(j, i) {
                let between = &order[q + 1..pos];
                if between.iter().all(|&r| !reads(r, i)) {
                    let moved = order.remove(q);
                    order.insert(pos - 1, moved);
                    paired[i] = true;
                    paired[j] = true;
                } else if between.iter().all(|&r| !reads(j, r)) {
                    let moved = order.remove(pos);
                    order.insert(q + 1, moved);
                    paired[i] = true;
                    paired[j] = true;
                }
            }
        }
        pos += 1;
    }
    if order.iter().enumerate().all(|(p, &o)| p == o) {
        return;
    }
    let mut new_index = vec![0usize; n];
    for (p, &o) in order.iter().enumerate() {
        new_index[o] = p;
    }
    let mut old: Vec<Option<Step<F>>> = std::mem::take(steps).into_iter().map(Some).collect();
    for &o in &order {
        let mut s = old[o].take().expect("invariant: each step moves once");
        for p in s.inputs.iter_mut() {
            *p = new_index[*p];
        }
        steps.push(s);
    }
    for f in fetch.iter_mut() {
        *f = new_index[*f];
    }
}

/// For each step, whether it and the next are independent matrix products, which slot
/// assignment then keeps apart: buffers the first frees are freed only after the second.
pub(crate) fn adjacent_pairs<F: Scalar>(steps: &[Step<F>]) -> Vec<bool> {
    let mut pairs = vec![false; steps.len()];
    let mut i = 0;
    while i + 1 < steps.len() {
        if is_matmul(&steps[i]) && is_matmul(&steps[i + 1]) && !steps[i + 1].inputs.contains(&i) {
            pairs[i] = true;
            i += 2;
        } else {
            i += 1;
        }
    }
    pairs
}

/// For each step, whether it and the next form a pair of products that may run at once: an
/// adjacent pair (see [`adjacent_pairs`]) in which neither works in place and neither writes a
/// buffer the other reads. Slot assignment ensures the last; this checks it.
pub(crate) fn runnable_together<F: Scalar>(steps: &[Step<F>]) -> Vec<bool> {
    let slots_read = |s: &Step<F>| -> Vec<Option<usize>> { s.inputs.iter().map(|&p| steps[p].slot).collect() };
    let mut pairs = adjacent_pairs(steps);
    for (i, pair) in pairs.iter_mut().enumerate() {
        if *pair {
            let (a, b) = (&steps[i], &steps[i + 1]);
            *pair = a.alias.is_none()
                && b.alias.is_none()
                && a.slot.is_some()
                && b.slot.is_some()
                && a.slot != b.slot
                && !slots_read(a).contains(&b.slot)
                && !slots_read(b).contains(&a.slot);
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn data(n: usize, salt: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + salt) % 1009) as f32 / 1009.0 - 0.5).collect()
    }

    fn run(plan: &Plan<f32>, threads: usize, feeds: &[(&str, &[f32])]) -> Vec<Vec<f32>> {
        let mut s =
            Session::with_options(plan.clone(), 7, SessionOptions { threads: Some(threads), check_finite: false });
        let out = s.run_at_step(0, &ParamStore::new(0), feeds).unwrap();
        (0..out.len()).map(|i| out[i].to_vec()).collect()
    }

    #[test]
    fn a_flipout_like_pair_is_brought_together_and_gives_the_serial_bits() {
        // y = x·w1 + s_out ∘ ((x∘s_in)·w2): the first product is built before the steps feeding
        // the second, and moves down next to it.
        let g = Graph::<f32>::new();
        let x = g.batched_input("x", &[300]);
        let w1 = g.input("w1", [300, 200]);
        let w2 = g.input("w2", [300, 200]);
        let s_in = g.random(Rademacher, Shape::batched(&[300]), "s_in");
        let s_out = g.random(Rademacher, Shape::batched(&[200]), "s_out");
        let a = matmul(x, w1);
        let b = matmul(x * s_in, w2 * 0.5);
        let y = a + s_out * b;
        let loss = (y * y).sum_all();
        let gs = grad(loss, &[w1, w2]);
        // The signs are fetched too, so that every output can be checked against a direct sum.
        let plan = g.compile(&[y, gs[0], gs[1], s_in, s_out]).unwrap();
        assert!(plan.inner.pairs.iter().filter(|&&p| p).count() >= 2, "{:?}", plan.op_names());
        let names = plan.op_names();
        let first = names.iter().position(|n| *n == "matmul").unwrap();
        assert_eq!(names[first + 1], "matmul", "{names:?}");
        let (bs, k, m) = (128, 300, 200);
        let (xs, w1s, w2s) = (data(bs * k, 1), data(k * m, 2), data(k * m, 3));
        let feeds: [(&str, &[f32]); 3] = [("x", &xs), ("w1", &w1s), ("w2", &w2s)];
        let one = run(&plan, 1, &feeds);
        let two = run(&plan, 2, &feeds);
        assert!(one.iter().zip(&two).all(|(a, b)| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())));
        let (y, g1, g2, si, so) = (&one[0], &one[1], &one[2], &one[3], &one[4]);
        assert_eq!((y.len(), g1.len(), g2.len(), si.len(), so.len()), (bs * m, k * m, k * m, bs * k, bs * m));
        assert!(si.iter().chain(so).all(|&v| v == 1.0 || v == -1.0));
        // Every value against a sum in f64 of the same f32 inputs. Multiplying by ±1, 0.5 or 2 is
        // exact in f32, so the only roundings are those of an n-term dot product, at most
        // γ_n·Σ|terms| in any summation order (γ_n = n·u/(1 − n·u), u = 2⁻²⁴, Higham §3.1),
        // plus one for the final add in y, at most u·|y| ≤ u·Σ|terms|: γ_(n+1)·Σ|terms| covers
        // both. Here Σ|terms| ≈ 20 for y, so the bound is ≈ 4e-4, against a Flipout term of
        // standard deviation ≈ 0.7 (a wrong sign or a wrong fetched tensor is off by ~1).
        let gamma = |n: usize| {
            let nu = n as f64 * f64::from(f32::EPSILON) / 2.0;
            nu / (1.0 - nu)
        };
        let check = |what: &str, got: f32, want: f64, abs_sum: f64, n: usize| {
            let tol = gamma(n + 1) * abs_sum;
            assert!((f64::from(got) - want).abs() <= tol, "{what}: got {got}, want {want}, tol {tol}");
        };
        let f = |v: f32| f64::from(v);
        for r in 0..bs {
            for c in 0..m {
                // y = x·w1 + s_out ∘ ((x ∘ s_in)·(w2 / 2)).
                let (mut a, mut b, mut abs_sum) = (0.0, 0.0, 0.0);
                for j in 0..k {
                    let ta = f(xs[r * k + j]) * f(w1s[j * m + c]);
                    let tb = f(xs[r * k + j]) * f(si[r * k + j]) * f(w2s[j * m + c]) * 0.5;
                    (a, b, abs_sum) = (a + ta, b + tb, abs_sum + ta.abs() + tb.abs());
                }
                check(&format!("y[{r}, {c}]"), y[r * m + c], a + f(so[r * m + c]) * b, abs_sum, 2 * k);
            }
        }
        // With dL/dy = 2y (from the f32 y, exactly): dL/dw1 = xᵀ·2y and
        // dL/dw2 = ½ (x ∘ s_in)ᵀ·(s_out ∘ 2y), each a 128-term dot product.
        for j in 0..k {
            for c in 0..m {
                let (mut a, mut b, mut abs_a, mut abs_b) = (0.0, 0.0, 0.0, 0.0);
                for r in 0..bs {
                    let dy = 2.0 * f(y[r * m + c]);
                    let ta = f(xs[r * k + j]) * dy;
                    let tb = f(xs[r * k + j]) * f(si[r * k + j]) * f(so[r * m + c]) * dy * 0.5;
                    (a, b, abs_a, abs_b) = (a + ta, b + tb, abs_a + ta.abs(), abs_b + tb.abs());
                }
                check(&format!("dw1[{j}, {c}]"), g1[j * m + c], a, abs_a, bs);
                check(&format!("dw2[{j}, {c}]"), g2[j * m + c], b, abs_b, bs);
            }
        }
    }

    #[test]
    fn paired_products_never_write_a_buffer_the_other_reads() {
        // u dies in the first product, and the second has u's shape: one step after another,
        // the second would take over u's buffer while the first still reads it.
        let g = Graph::<f32>::new();
        let x = g.input("x", [256, 256]);
        let w = g.input("w", [256, 256]);
        let u = exp(x * 0.01);
        let a = matmul(u, w);
        let b = matmul(x, w);
        let plan = g.compile(&[a + 1.0, b + 2.0]).unwrap();
        let steps = &plan.inner.steps;
        let i = plan.inner.pairs.iter().position(|&p| p).expect("the two products pair");
        let reads: Vec<_> = steps[i].inputs.iter().map(|&q| steps[q].slot).collect();
        assert!(!reads.contains(&steps[i + 1].slot));
        let (xs, ws) = (data(256 * 256, 4), data(256 * 256, 5));
        let feeds: [(&str, &[f32]); 2] = [("x", &xs), ("w", &ws)];
        assert_eq!(run(&plan, 1, &feeds), run(&plan, 2, &feeds));
    }
}
