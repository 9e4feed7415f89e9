//! Lowering of the IR to kernels with explicit schedules, the CPU backend (Cranelift), the
//! CUDA backend (PTX through cudarc) and the runtime (memory planning, executor).
