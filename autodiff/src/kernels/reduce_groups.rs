//! Reductions that walk each group of elements several times (softmax: a max, then a sum of
//! exponentials, then a rescale), without scratch buffers.
//!
//! A *group* is the set of elements of `x` that reduce to one output element. [`Groups`]
//! describes every group as runs of equally strided offsets, after dropping size-1 axes and
//! merging adjacent axes of the same kind, so reducing trailing axes of a row-major tensor (the
//! common case) is one contiguous run per group. Groups are numbered in the row-major order of
//! the kept axes, which is the order of the reduced output.
//!
//! Parallel drivers split work into fixed chunks of whole groups; each group is always computed
//! by the same serial code, so results are bit-identical for any number of threads.

use smallvec::SmallVec;

use super::{should_par, CHUNK};
use crate::team::for_each_chunk_mut;

/// The groups of a reduction of `dims` over the axes flagged in `reduced`.
#[derive(Clone, Debug)]
pub struct Groups {
    /// Kept axes as `(size, stride)`, merged, outermost first.
    kept: SmallVec<[(usize, usize); 6]>,
    /// Reduced axes outside the innermost run, as `(size, stride)`, outermost first.
    outer: SmallVec<[(usize, usize); 6]>,
    run_len: usize,
    run_stride: usize,
    groups: usize,
    len: usize,
}

impl Groups {
    /// The groups of `dims` reduced over the axes where `reduced[axis]` is true.
    pub fn new(dims: &[usize], reduced: &[bool]) -> Self {
        debug_assert_eq!(dims.len(), reduced.len());
        let mut kept: SmallVec<[(usize, usize); 6]> = SmallVec::new();
        let mut outer: SmallVec<[(usize, usize); 6]> = SmallVec::new();
        let (mut groups, mut len) = (1usize, 1usize);
        let mut stride = dims.iter().product::<usize>();
        for (&d, &red) in dims.iter().zip(reduced) {
            stride = stride.checked_div(d).unwrap_or(0);
            if red {
                len *= d;
            } else {
                groups *= d;
            }
            if d == 1 {
                continue;
            }
            let list = if red { &mut outer } else { &mut kept };
            // Adjacent in memory (only size-1 axes of the other kind in between): merge.
            match list.last_mut() {
                Some((pd, ps)) if *ps == d * stride && stride != 0 => {
                    *pd *= d;
                    *ps = stride;
                }
                _ => list.push((d, stride)),
            }
        }
        let (run_len, run_stride) = outer.pop().unwrap_or((1, 0));
        Groups { kept, outer, run_len, run_stride, groups, len }
    }

    /// Groups of `dims` reduced over the single axis `axis` (already normalized).
    pub fn along(dims: &[usize], axis: usize) -> Self {
        let mask: SmallVec<[bool; 6]> = (0..dims.len()).map(|i| i == axis).collect();
        Self::new(dims, &mask)
    }

    /// Number of groups (the number of output elements of the reduction).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Elements per group.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether groups are empty (a reduced axis has size 0).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether group `g` occupies offsets `g * len .. (g + 1) * len` (the reduced axes are the
    /// trailing ones, up to size-1 axes).
    pub fn is_contiguous(&self) -> bool {
        self.outer.is_empty() && (self.run_stride == 1 || self.run_len == 1)
    }

    /// Length and stride of the innermost run.
    pub fn run(&self) -> (usize, usize) {
        (self.run_len, self.run_stride)
    }

    /// Offset of group `g`'s first element.
    #[inline]
    pub fn base(&self, g: usize) -> usize {
        let (mut rem, mut off) = (g, 0);
        for &(d, s) in self.kept.iter().rev() {
            off += (rem % d) * s;
            rem /= d;
        }
        off
    }

    /// Calls `f(start)` for the start of every run of the group at `base`, in row-major order.
    #[inline]
    pub fn for_each_run(&self, base: usize, mut f: impl FnMut(usize)) {
        if self.len == 0 {
            return;
        }
        let r = self.outer.len();
        if r == 0 {
            f(base);
            return;
        }
        let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r);
        let mut off = base;
        loop {
            f(off);
            let mut ax = r;
            loop {
                if ax == 0 {
                    return;
                }
                ax -= 1;
                let (d, s) = self.outer[ax];
                idx[ax] += 1;
                off += s;
                if idx[ax] < d {
                    break;
                }
                off -= s * d;
                idx[ax] = 0;
            }
        }
    }

    /// Calls `f(v)` for every element of the group at `base` of `x`, in row-major order.
    #[inline]
    pub fn visit<F: Copy>(&self, x: &[F], base: usize, mut f: impl FnMut(F)) {
        let (n, s) = (self.run_len, self.run_stride);
        self.for_each_run(base, |start| {
            if s == 1 {
                x[start..start + n].iter().for_each(|&v| f(v));
            } else {
                (0..n).for_each(|k| f(x[start + k * s]));
            }
        });
    }

    /// Folds the group at `base` of `x` with `op`, starting from `init`.
    #[inline]
    pub fn fold<F: Copy, A: Copy>(&self, x: &[F], base: usize, init: A, mut op: impl FnMut(A, F) -> A) -> A {
        let mut acc = init;
        self.visit(x, base, |v| acc = op(acc, v));
        acc
    }

    /// Replaces every element `v` of the group at `base` of `buf` by `f(v)`.
    #[inline]
    pub fn update<F: Copy>(&self, buf: &mut [F], base: usize, mut f: impl FnMut(F) -> F) {
        let (n, s) = (self.run_len, self.run_stride);
        self.for_each_run(base, |start| {
            if s == 1 {
                buf[start..start + n].iter_mut().for_each(|v| *v = f(*v));
            } else {
                (0..n).for_each(|k| buf[start + k * s] = f(buf[start + k * s]));
            }
        });
    }
}

/// `max(a, b)` that returns NaN once either argument is NaN (`Float::max` skips NaN), for folds
/// whose result must show a NaN input.
#[inline(always)]
pub fn max_nan<F: num_traits::Float>(a: F, b: F) -> F {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

/// `out[g] = f(g, base(g))` for every group `g` (`out` has one element per group). Above
/// [`PAR_MIN`](super::PAR_MIN) input elements, fixed chunks of outputs run in parallel.
pub fn map_groups<F: Send>(groups: &Groups, out: &mut [F], f: impl Fn(usize, usize) -> F + Sync) {
    debug_assert_eq!(out.len(), groups.groups());
    if out.len() > 1 && should_par(out.len().saturating_mul(groups.len())) {
        let per = (CHUNK / groups.len().max(1)).max(1);
        for_each_chunk_mut(out, per, |c, o| {
            for (j, v) in o.iter_mut().enumerate() {
                let g = c * per + j;
                *v = f(g, groups.base(g));
            }
        });
    } else {
        for (g, v) in out.iter_mut().enumerate() {
            *v = f(g, groups.base(g));
        }
    }
}

/// Calls `f(buf, base, g)` for every group `g` of a buffer shaped like the reduction's input,
/// where `base` is the offset of the group's first element in `buf`. Above [`PAR_MIN`](super::PAR_MIN)
/// elements, contiguous groups run in parallel over fixed chunks of whole groups; `buf` is then
/// the chunk and `base` is relative to it.
pub fn for_each_group<F: Send>(groups: &Groups, buf: &mut [F], f: impl Fn(&mut [F], usize, usize) + Sync) {
    if buf.is_empty() {
        return;
    }
    let (n, len) = (groups.groups(), groups.len());
    if n > 1 && should_par(buf.len()) && groups.is_contiguous() {
        let per = (CHUNK / len).max(1);
        for_each_chunk_mut(buf, per * len, |c, chunk| {
            for j in 0..chunk.len() / len {
                f(chunk, j * len, c * per + j);
            }
        });
    } else {
        for g in 0..n {
            f(buf, groups.base(g), g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(g: &Groups, x: &[f64], k: usize) -> Vec<f64> {
        let mut v = vec![];
        g.visit(x, g.base(k), |e| v.push(e));
        v
    }

    #[test]
    fn groups_enumerate_members_in_output_order() {
        let x: Vec<f64> = (0..24).map(|i| i as f64).collect(); // [2, 3, 4]
        let g = Groups::new(&[2, 3, 4], &[false, true, false]);
        assert_eq!((g.groups(), g.len(), g.is_contiguous()), (8, 3, false));
        assert_eq!(members(&g, &x, 0), [0.0, 4.0, 8.0]);
        assert_eq!(members(&g, &x, 5), [13.0, 17.0, 21.0]);
        let g = Groups::new(&[2, 3, 4], &[true, false, true]);
        assert_eq!((g.groups(), g.len()), (3, 8));
        assert_eq!(members(&g, &x, 1), [4.0, 5.0, 6.0, 7.0, 16.0, 17.0, 18.0, 19.0]);
        let g = Groups::new(&[2, 3, 4], &[false, true, true]);
        assert!(g.is_contiguous());
        assert_eq!(g.run(), (12, 1));
        assert_eq!(members(&g, &x, 1), (12..24).map(|i| i as f64).collect::<Vec<_>>());
        // Size-1 axes do not break contiguity.
        let g = Groups::new(&[2, 1, 12, 1], &[false, false, true, true]);
        assert!(g.is_contiguous());
        assert_eq!(g.base(1), 12);
        // Nothing reduced: one element per group.
        let g = Groups::new(&[2, 3], &[false, false]);
        assert_eq!((g.groups(), g.len(), g.is_contiguous()), (6, 1, true));
        assert_eq!(members(&g, &x, 4), [4.0]);
    }

    #[test]
    fn empty_groups_visit_nothing() {
        let g = Groups::new(&[3, 0], &[false, true]);
        assert_eq!((g.groups(), g.len()), (3, 0));
        assert!(members(&g, &[], 2).is_empty());
        let g = Groups::new(&[0, 3], &[false, true]);
        assert_eq!(g.groups(), 0);
    }

    #[test]
    fn parallel_drivers_match_serial() {
        let (rows, cols) = (3000, 17);
        let x: Vec<f64> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f64).collect();
        let g = Groups::new(&[rows, cols], &[false, true]);
        let mut out = vec![0.0; rows];
        map_groups(&g, &mut out, |_, b| g.fold(&x, b, 0.0, |a, v| a + v));
        for (r, o) in out.iter().enumerate() {
            assert_eq!(*o, x[r * cols..(r + 1) * cols].iter().fold(0.0, |a, v| a + v));
        }
        let mut buf = x.clone();
        for_each_group(&g, &mut buf, |b, base, k| g.update(b, base, |v| v + k as f64));
        for (i, v) in buf.iter().enumerate() {
            assert_eq!(*v, x[i] + (i / cols) as f64);
        }
    }
}
