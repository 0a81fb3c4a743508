//! A safe, bounds-checked wrapper over matrixmultiply's strided
//! SIMD-blocked GEMM, split across a session's threads by row or column blocks.
//!
//! Splitting never changes the order of the k-sum of any output element, so results are
//! bit-identical for any number of threads. matrixmultiply's own threading scales poorly on
//! thin products such as 128×784·784×400, hence the explicit split.
#![allow(unsafe_code)]

use crate::scalar::Scalar;
use crate::team::for_each;

/// A matrix view: a slice with a row and a column stride (in elements).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, F> {
    /// The backing data.
    pub data: &'a [F],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, F> MatRef<'a, F> {
    /// A row-major `rows × cols` matrix, transposed if `t` (a view, no copy).
    pub fn new(data: &'a [F], rows: usize, cols: usize, t: bool) -> Self {
        if t {
            MatRef { data, rows: cols, cols: rows, rs: 1, cs: cols }
        } else {
            MatRef { data, rows, cols, rs: cols, cs: 1 }
        }
    }
    fn fits(&self) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Below this many multiply-adds a product runs on one thread.
pub(crate) const PAR_FLOPS: usize = 1 << 18;

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: the pointer is only used for disjoint output blocks, one per task.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    // A method (not field access) so closures capture the whole `Send` wrapper.
    fn get(self) -> *mut T {
        self.0
    }
}

/// `c = a @ b + beta * c` for row-major `c` (`a.rows × b.cols`, contiguous).
pub fn gemm<F: Scalar>(a: MatRef<'_, F>, b: MatRef<'_, F>, beta: F, c: &mut [F]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "invariant: gemm inner dimensions");
    assert!(a.fits() && b.fits(), "invariant: gemm operand out of bounds");
    assert_eq!(c.len(), m * n, "invariant: gemm output size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.iter_mut().for_each(|v| *v = if beta == F::zero() { F::zero() } else { *v * beta });
        return;
    }
    let threads = super::threads();
    let work = m * n * k;
    let cp = SendPtr(c.as_mut_ptr());
    let run = |i0: usize, i1: usize, j0: usize, j1: usize| {
        // SAFETY: operand bounds were checked above; [i0, i1) × [j0, j1) is within m × n and
        // blocks given to different tasks are disjoint.
        unsafe {
            F::gemm_raw(
                i1 - i0,
                k,
                j1 - j0,
                F::one(),
                a.data.as_ptr().add(i0 * a.rs),
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr().add(j0 * b.cs),
                b.rs as isize,
                b.cs as isize,
                beta,
                cp.get().add(i0 * n + j0),
                n as isize,
                1,
            )
        }
    };
    if threads <= 1 || work < PAR_FLOPS {
        run(0, m, 0, n);
        return;
    }
    match split(m, n, threads) {
        Split::Rows(step) => for_each(m.div_ceil(step), &|b| run(b * step, ((b + 1) * step).min(m), 0, n)),
        Split::Cols(step) => for_each(n.div_ceil(step), &|b| run(0, m, b * step, ((b + 1) * step).min(n))),
    }
}

/// Rows and columns of the micro-kernels' tiles (matrixmultiply's AVX-512 `f32` kernel is
/// 16×16; the others are smaller, so a multiple of 16 is whole tiles for all of them).
const TILE: usize = 16;

/// How a product is cut among threads: into blocks of this many rows, or of columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    Rows(usize),
    Cols(usize),
}

/// How to cut an `m × n` product among `threads` threads, in whole tiles. The product takes as
/// long as its largest block, tiles padded, so the cut with the smaller largest block wins: for
/// 128×784·784×400 on two threads, rows give blocks of 64×400 where columns give 128×208 and
/// 128×192, and run about 3% faster. On a tie the longer side is cut, because every block
/// packs all of the other side's operand: a cut of the columns packs all of `a` in each block,
/// a cut of the rows all of `b`.
fn split(m: usize, n: usize, threads: usize) -> Split {
    // The block length of a side of `len` cut into at most `threads` blocks of whole tiles.
    let step = |len: usize| len.div_ceil(TILE).div_ceil(threads) * TILE;
    let (rows, cols) = (step(m), step(n));
    let by_rows = rows * n.next_multiple_of(TILE);
    let by_cols = m.next_multiple_of(TILE) * cols;
    if by_rows < by_cols || (by_rows == by_cols && m > n) {
        Split::Rows(rows.min(m))
    } else {
        Split::Cols(cols.min(n))
    }
}

/// Raw single-threaded GEMM on row-major data, for benchmarks comparing the op to the library.
pub fn gemm_serial<F: Scalar>(m: usize, k: usize, n: usize, a: &[F], b: &[F], c: &mut [F]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "invariant: gemm_serial sizes");
    // SAFETY: sizes checked above; row-major contiguous operands.
    unsafe {
        F::gemm_raw(
            m,
            k,
            n,
            F::one(),
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            F::zero(),
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &MatRef<'_, f64>, b: &MatRef<'_, f64>) -> Vec<f64> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for p in 0..a.cols {
                    c[i * b.cols + j] += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        c
    }

    #[test]
    fn gemm_with_transposes_matches_naive() {
        let a: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..12).map(|i| (i as f64).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let am = if ta { MatRef::new(&a, 4, 3, true) } else { MatRef::new(&a, 3, 4, false) };
            let bm = if tb { MatRef::new(&b, 3, 4, true) } else { MatRef::new(&b, 4, 3, false) };
            let mut c = vec![0.0; 9];
            gemm(am, bm, 0.0, &mut c);
            let want = naive(&am, &bm);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn split_cuts_the_side_that_gives_the_smaller_largest_block() {
        // Rows: 64×400 per block; columns: 128×208 and 128×192.
        assert_eq!(split(128, 400, 2), Split::Rows(64));
        // 64×416 either way: the longer side is cut.
        assert_eq!(split(128, 416, 2), Split::Cols(208));
        assert_eq!(split(416, 128, 2), Split::Rows(208));
        // Square: a tie, and columns.
        assert_eq!(split(512, 512, 2), Split::Cols(256));
        // 400×400 (49 row tiles cut 25 + 24) against 784×208.
        assert_eq!(split(784, 400, 2), Split::Rows(400));
        // Three threads: 48×1008 against 112×336.
        assert_eq!(split(100, 1000, 3), Split::Cols(336));
        // A side shorter than a tile is never cut below it.
        assert_eq!(split(8, 100, 2), Split::Cols(64));
    }

    #[test]
    fn threaded_gemm_is_bit_identical() {
        // Cut by columns, then by rows (see `split`).
        for (m, k, n) in [(130, 70, 190), (128, 40, 400)] {
            threaded_gemm_matches_serial(m, k, n);
        }
    }

    fn threaded_gemm_matches_serial(m: usize, k: usize, n: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 997.0 - 0.5).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729) % 1000) as f32 / 991.0 - 0.5).collect();
        let mut c1 = vec![0.0; m * n];
        let mut c2 = vec![0.0; m * n];
        let one = crate::team::KernelTeam::new(1);
        let two = crate::team::KernelTeam::new(2);
        one.lead(|| gemm(MatRef::new(&a, m, k, false), MatRef::new(&b, k, n, false), 0.0, &mut c1));
        two.lead(|| gemm(MatRef::new(&a, m, k, false), MatRef::new(&b, k, n, false), 0.0, &mut c2));
        assert_eq!(c1, c2);
        let three = crate::team::KernelTeam::new(3);
        three.lead(|| gemm(MatRef::new(&a, m, k, false), MatRef::new(&b, k, n, false), 0.0, &mut c2));
        assert_eq!(c1, c2);
    }
}
