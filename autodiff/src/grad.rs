//! Symbolic reverse mode. Gradients are appended to the same graph as ordinary nodes, so they
//! can be differentiated again (Hessian-vector products, second derivatives).
//!
//! Only nodes that both depend on some `x` and feed some `y` are differentiated. Contributions to
//! a node are summed with one `add_n`, and a gradient whose shape differs from its input (because
//! the op broadcast) is summed back to the input's shape here, in this one place, never in ops.

use std::collections::HashMap;
use std::panic::Location;

use smallvec::SmallVec;

use crate::error::GraphError;
use crate::graph::{Graph, NodeId, Tensor};
use crate::op::VjpCx;
use crate::ops::{add_n, fill, sum_to, zeros_like};
use crate::scalar::Scalar;

/// Gradients of the scalar `y` with respect to each of `xs`, as new graph nodes. An `x` that `y`
/// does not depend on gets zeros of its shape. A non-scalar `y` is recorded as an error.
#[track_caller]
pub fn grad<'g, F: Scalar>(y: Tensor<'g, F>, xs: &[Tensor<'g, F>]) -> Vec<Tensor<'g, F>> {
    let at = Location::caller();
    let g = y.graph();
    let shape = y.shape();
    if !y.is_poisoned() && shape.fixed_numel() != Some(1) {
        g.record(GraphError::NonScalarGrad { shape, at });
        return xs.iter().map(|_| g.poisoned()).collect();
    }
    let gy = fill(y, 1.0);
    vjp_at(&[y], &[gy], xs, at).into_iter().zip(xs).map(|(gx, &x)| gx.unwrap_or_else(|| zeros_like(x))).collect()
}

/// The vector-Jacobian product: `Σ_i gys[i]ᵀ ∂ys[i]/∂x` for each `x`, or `None` where no `y`
/// depends on `x`. Each cotangent must have its `y`'s shape.
#[track_caller]
pub fn vjp<'g, F: Scalar>(
    ys: &[Tensor<'g, F>],
    gys: &[Tensor<'g, F>],
    xs: &[Tensor<'g, F>],
) -> Vec<Option<Tensor<'g, F>>> {
    vjp_at(ys, gys, xs, Location::caller())
}

fn vjp_at<'g, F: Scalar>(
    ys: &[Tensor<'g, F>],
    gys: &[Tensor<'g, F>],
    xs: &[Tensor<'g, F>],
    at: &'static Location<'static>,
) -> Vec<Option<Tensor<'g, F>>> {
    let Some(first) = ys.first().or(gys.first()).or(xs.first()) else {
        return vec![];
    };
    let g: &'g Graph<F> = first.graph();
    for t in ys.iter().chain(gys).chain(xs) {
        if !std::ptr::eq(t.graph(), g) {
            g.record(Graph::foreign_error(*t, at));
            return xs.iter().map(|_| Some(g.poisoned())).collect();
        }
    }
    if ys.len() != gys.len() || ys.iter().zip(gys).any(|(y, gy)| y.shape() != gy.shape()) {
        let (y, gy) = ys
            .iter()
            .zip(gys)
            .find(|(y, gy)| y.shape() != gy.shape())
            .map(|(a, b)| (*a, *b))
            .unwrap_or((*first, *first));
        g.record(GraphError::Shape {
            op: "vjp",
            detail: crate::error::ShapeError::Custom(format!(
                "{} outputs and {} cotangents; each cotangent must have its output's shape",
                ys.len(),
                gys.len()
            )),
            inputs: vec![y.shape(), gy.shape()],
            label: None,
            at,
        });
        return xs.iter().map(|_| Some(g.poisoned())).collect();
    }
    if ys.iter().chain(xs).any(|t| t.is_poisoned()) {
        return xs.iter().map(|_| Some(g.poisoned())).collect();
    }

    // Relevant set: forward-reachable from xs and backward-reachable from ys.
    let top = ys.iter().map(|y| y.id.index()).max().unwrap_or(0);
    let n = g.len().min(top + 1);
    let lo = xs.iter().map(|x| x.id.index()).min().unwrap_or(n);
    let mut fwd = vec![false; n];
    for x in xs {
        if x.id.index() < n {
            fwd[x.id.index()] = true;
        }
    }
    let mut inputs_cache: Vec<SmallVec<[NodeId; 3]>> = vec![SmallVec::new(); n];
    for i in lo..n {
        inputs_cache[i] = g.inputs_of(NodeId(i as u32));
        if !fwd[i] && inputs_cache[i].iter().any(|p| fwd[p.index()]) {
            fwd[i] = true;
        }
    }
    let mut bwd = vec![false; n];
    for y in ys {
        bwd[y.id.index()] = true;
    }
    for i in (lo..n).rev() {
        if bwd[i] && fwd[i] {
            for p in &inputs_cache[i] {
                bwd[p.index()] = true;
            }
        }
    }

    let fresh = g.len();
    let mut pending: HashMap<usize, SmallVec<[Tensor<'g, F>; 2]>> = HashMap::new();
    for (y, gy) in ys.iter().zip(gys) {
        pending.entry(y.id.index()).or_default().push(*gy);
    }
    let mut done: HashMap<usize, Tensor<'g, F>> = HashMap::new();
    for i in (lo..n).rev() {
        if !(fwd[i] && bwd[i]) {
            continue;
        }
        let Some(parts) = pending.remove(&i) else {
            continue;
        };
        let gi = sum_cotangents(g, &parts, fresh);
        done.insert(i, gi);
        let id = NodeId(i as u32);
        let Some(op) = g.op_of(id) else { continue };
        let inputs = &inputs_cache[i];
        if !inputs.iter().any(|p| fwd[p.index()]) {
            continue;
        }
        let cx = VjpCx { inputs: inputs.iter().map(|&p| g.tensor(p)).collect(), output: g.tensor(id), gy: gi };
        let gxs = op.vjp(&cx);
        if gxs.len() != inputs.len() {
            g.record(GraphError::BadVjp { op: op.name(), input: 0, expected: g.shape_of(id), got: None });
            continue;
        }
        for (k, (p, gx)) in inputs.iter().zip(gxs).enumerate() {
            let Some(gx) = gx else { continue };
            if !fwd[p.index()] {
                continue;
            }
            let want = g.shape_of(*p);
            let have = gx.shape();
            let gx = if have == want {
                gx
            } else if have.axes_summed_to(&want).is_ok() {
                sum_to(gx, want)
            } else {
                g.record(GraphError::BadVjp { op: op.name(), input: k, expected: want, got: Some(have) });
                continue;
            };
            pending.entry(p.index()).or_default().push(gx);
        }
    }
    xs.iter().map(|x| done.get(&x.id.index()).copied()).collect()
}

/// The sum of one node's cotangents. Where one of them was built by this gradient with an op
/// that can add a tensor as it stores its result ([`Op::with_addend`](crate::op::Op::with_addend)),
/// the others are handed to that op instead of summed in a pass of their own: a Bayesian
/// weight's gradient, the product's part plus the KL's, is then one GEMM with β = 1.
fn sum_cotangents<'g, F: Scalar>(g: &'g Graph<F>, parts: &[Tensor<'g, F>], fresh: usize) -> Tensor<'g, F> {
    if parts.len() == 1 {
        return parts[0];
    }
    for (i, p) in parts.iter().enumerate() {
        // A node built before this gradient may have readers of its own, and would then be
        // computed twice.
        if p.id.index() < fresh {
            continue;
        }
        let Some(folded) = g.op_of(p.id).and_then(|op| op.with_addend()) else {
            continue;
        };
        let rest: SmallVec<[Tensor<'g, F>; 2]> =
            parts.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, t)| *t).collect();
        let addend = if rest.len() == 1 { rest[0] } else { add_n(&rest) };
        let mut inputs: SmallVec<[Tensor<'g, F>; 6]> = g.inputs_of(p.id).iter().map(|&q| g.tensor(q)).collect();
        inputs.push(addend);
        return g.apply_at(folded, &inputs, g.origin_of(p.id));
    }
    add_n(parts)
}
