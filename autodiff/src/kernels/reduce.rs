//! Reductions over any set of axes. Serial and in a fixed order, so results never depend on
//! the number of threads.

use smallvec::SmallVec;

/// Reduces `x` (dimensions `dims`) over the axes where `reduced[axis]` is true, into `out`
/// (whose length is the product of the kept dimensions). `out` is first set to `init`, then
/// every element is folded in with `op(acc, x)`.
pub fn reduce<F: Copy>(x: &[F], dims: &[usize], reduced: &[bool], out: &mut [F], init: F, op: impl Fn(F, F) -> F) {
    out.iter_mut().for_each(|o| *o = init);
    if x.is_empty() {
        return;
    }
    let r = dims.len();
    if r == 0 {
        out[0] = op(out[0], x[0]);
        return;
    }
    // Output strides over the input's axes (0 on reduced axes).
    let mut os: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r);
    let mut acc = 1;
    for i in (0..r).rev() {
        if !reduced[i] {
            os[i] = acc;
            acc *= dims[i];
        }
    }
    let inner = dims[r - 1];
    let rows = x.len() / inner;
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r.saturating_sub(1));
    let mut o_base = 0usize;
    for row in 0..rows {
        let xr = &x[row * inner..(row + 1) * inner];
        if reduced[r - 1] {
            let mut a = out[o_base];
            for &v in xr {
                a = op(a, v);
            }
            out[o_base] = a;
        } else {
            for (o, &v) in out[o_base..o_base + inner].iter_mut().zip(xr) {
                *o = op(*o, v);
            }
        }
        // advance the multi-index over the outer axes
        for ax in (0..r - 1).rev() {
            idx[ax] += 1;
            o_base += os[ax];
            if idx[ax] < dims[ax] {
                break;
            }
            o_base -= os[ax] * dims[ax];
            idx[ax] = 0;
        }
    }
}

/// Broadcasts `x` (dimensions `dims`, right-aligned against `out_dims`) into `out`.
pub fn broadcast<F: Copy + Send + Sync>(x: &[F], dims: &[usize], out: &mut [F], out_dims: &[usize]) {
    super::elementwise::binary(
        super::elementwise::Operand::Slice(x, dims),
        super::elementwise::Operand::Slice(x, dims),
        out,
        out_dims,
        |a, _| a,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_any_axes() {
        let x: Vec<f64> = (0..24).map(|i| i as f64).collect(); // [2,3,4]
        let mut o = vec![0.0; 4];
        reduce(&x, &[2, 3, 4], &[true, true, false], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [60.0, 66.0, 72.0, 78.0]);
        let mut o = vec![0.0; 6];
        reduce(&x, &[2, 3, 4], &[false, false, true], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
        let mut o = vec![0.0; 3];
        reduce(&x, &[2, 3, 4], &[true, false, true], &mut o, 0.0, |a, b| a + b);
        assert_eq!(o, [60.0, 92.0, 124.0]);
        let mut o = vec![0.0; 1];
        reduce(&x, &[2, 3, 4], &[true, true, true], &mut o, f64::NEG_INFINITY, f64::max);
        assert_eq!(o, [23.0]);
    }
}
