//! tenfold: a tensor-program compiler and optimizer. This crate is the library facade for
//! frameworks and the home of the command-line tool; the compiler itself lives in the `ir`,
//! `rewrites`, `codegen` and `autotune` crates.

pub use ir;
