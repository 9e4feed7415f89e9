//! The runtime: memory planning, the thread pool, and the executor of compiled programs.

mod copy;
pub mod exec;
mod native;
pub mod plan;
pub mod pool;

pub use exec::CompiledProgram;
pub use native::runs_natively;
pub use plan::MemoryPlan;
pub use pool::Pool;

#[cfg(test)]
mod tests_copy;
