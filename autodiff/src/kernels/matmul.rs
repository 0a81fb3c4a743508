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
    /// Whether every element lies in `data`, and the strides convert to the signed offsets that
    /// matrixmultiply takes. Checked arithmetic: wrapping strides must not pass for small ones.
    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.rs)
            .and_then(|r| (self.cols - 1).checked_mul(self.cs).and_then(|c| r.checked_add(c)));
        let signed = isize::try_from(self.rs).is_ok() && isize::try_from(self.cs).is_ok();
        signed && last.is_some_and(|last| last < self.data.len())
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
    match split(&a, &b, threads) {
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

/// The cost of packing one element of an operand, in multiply-adds of the micro-kernel, when
/// the values that the packing puts side by side are contiguous in memory (rows of `b`,
/// columns of a transposed `a`); twice this when it gathers them (rows of a row-major `a`,
/// columns of a transposed `b`). Fitted to two-thread timings of both cuts on this project's
/// products (squares of 256 to 1024, 128×784·784×400, 400×784·784×128, and the transposed
/// products of a dense layer's backward pass): it picks the faster cut wherever the two
/// differed beyond the timing noise.
const PACK_COST: usize = 14;

/// How to cut an `m × k · k × n` product among `threads` threads, in whole tiles. Each thread
/// runs matrixmultiply on its block, which packs the block's rows of `a` and columns of `b`
/// and then multiplies, so a block costs its padded tiles plus its packing, and the cut with
/// the cheaper largest block wins. Packing matters: a cut of the rows packs all of `b` in each
/// block and a cut of the columns all of `a`. Two threads on 128×784·784×400 get blocks of
/// 64×400 from rows against 128×208 and 128×192 from columns; on 512³ both cuts split the
/// tiles evenly but rows pack the cheap side (`b`) whole, and run about 8% faster.
fn split<F>(a: &MatRef<'_, F>, b: &MatRef<'_, F>, threads: usize) -> Split {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // The block length of a side of `len` cut into at most `threads` blocks of whole tiles.
    let step = |len: usize| (len.div_ceil(TILE).div_ceil(threads) * TILE).min(len);
    let pack_a = if a.rs == 1 { PACK_COST } else { 2 * PACK_COST };
    let pack_b = if b.cs == 1 { PACK_COST } else { 2 * PACK_COST };
    let block = |rows: usize, cols: usize| {
        rows.next_multiple_of(TILE) * cols.next_multiple_of(TILE) * k + pack_a * rows * k + pack_b * k * cols
    };
    let (rows, cols) = (step(m), step(n));
    if block(rows, n) <= block(m, cols) {
        Split::Rows(rows)
    } else {
        Split::Cols(cols)
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

    /// The cut of `m × k · k × n` on `threads` threads, with `a` and `b` transposed or not.
    fn cut(m: usize, k: usize, n: usize, ta: bool, tb: bool, threads: usize) -> Split {
        let (a, b) = (vec![0.0f32; m * k], vec![0.0f32; k * n]);
        let am = if ta { MatRef::new(&a, k, m, true) } else { MatRef::new(&a, m, k, false) };
        let bm = if tb { MatRef::new(&b, n, k, true) } else { MatRef::new(&b, k, n, false) };
        split(&am, &bm, threads)
    }

    #[test]
    fn split_picks_the_cut_with_the_cheaper_largest_block() {
        // In multiply-adds, tiles + 28·(a's rows × k) + 14·(k × b's columns):
        // rows 64·400·784 + 28·64·784 + 14·784·400 = 25.87M; columns 128·208·784 + 28·128·784
        // + 14·784·208 = 25.96M.
        assert_eq!(cut(128, 784, 400, false, false, 2), Split::Rows(64));
        // Tiles tie (64×416 against 128×208); rows would pack all of the larger b.
        assert_eq!(cut(128, 784, 416, false, false, 2), Split::Cols(208));
        // Squares: tiles tie and columns would pack all of a, the dearer side.
        assert_eq!(cut(512, 512, 512, false, false, 2), Split::Rows(256));
        // Columns tile better (400×64 against 208×128), but pack all of a 400×784 gather.
        assert_eq!(cut(400, 784, 128, false, false, 2), Split::Rows(208));
        // b transposed gathers too: rows would pack all 784×400 of it.
        assert_eq!(cut(128, 400, 784, false, true, 2), Split::Cols(400));
        // A weight gradient, xᵀ·g with x transposed: both pack cheaply; rows tile better.
        assert_eq!(cut(784, 128, 400, true, false, 2), Split::Rows(400));
        // Three threads: 48×1008 against 112×336.
        assert_eq!(cut(100, 64, 1000, false, false, 3), Split::Cols(336));
        // A side shorter than a tile is not cut below it.
        assert_eq!(cut(8, 64, 100, false, false, 2), Split::Cols(64));
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn strides_that_wrap_around_are_out_of_bounds() {
        // (5 − 1)·2⁶² wraps to 0 in unchecked arithmetic, which would pass for in bounds, and
        // 2⁶² is a valid signed stride.
        let data = [0.0f32; 1];
        let a = MatRef { data: &data, rows: 5, cols: 1, rs: 1 << 62, cs: 1 };
        let mut c = [0.0f32; 5];
        gemm(a, MatRef::new(&data, 1, 1, false), 0.0, &mut c);
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
