//! The reference evaluator of the kernel IR: slow, scalar, obviously right. It defines what a
//! kernel means for the tests of lowering (lowered program ≡ `ir::interp`) and of the backends
//! (generated code ≡ this).
