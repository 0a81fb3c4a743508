//! Counting heap allocations, for tests that a steady state allocates nothing.
//!
//! Install [`CountingAllocator`] as the test binary's global allocator and measure a closure
//! with [`count_allocations`]:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: autodiff::testing::CountingAllocator = autodiff::testing::CountingAllocator;
//!
//! let (_, n) = autodiff::testing::count_allocations(|| session.run(&store, &feeds));
//! ```
//!
//! Counts are kept per thread, so tests running concurrently do not count each other; run the
//! session with one thread so that every kernel runs on the test's thread.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: allocations during thread teardown find the counter gone.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// The system allocator, counting the allocations and reallocations of each thread.
pub struct CountingAllocator;

// SAFETY: forwards every call to the system allocator unchanged; counting touches only a
// thread-local integer, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the number of allocations (and reallocations) this
/// thread made meanwhile. Counts only where [`CountingAllocator`] is the global allocator.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(|c| c.get());
    let r = f();
    (r, ALLOCATIONS.with(|c| c.get()) - before)
}
