//! Plain slice kernels shared by ops. Nothing in here knows about graphs.

pub mod elementwise;
pub mod ftz;
pub mod matmul;
pub mod reduce;
pub mod reduce_groups;

/// Below this many elements a kernel runs on the calling thread: rayon's fork-join costs more
/// than it saves on small tensors.
pub const PAR_MIN: usize = 1 << 15;

/// Elements per parallel chunk. Fixed, so results never depend on the number of threads.
pub const CHUNK: usize = 1 << 13;
