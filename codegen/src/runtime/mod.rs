//! The runtime: memory planning, the thread pool, and the executor of compiled programs.

pub mod pool;
