//! Schedule search over the kernel IR's knobs, measurement, the tuning-record database and the
//! cost models (analytic and learned). Never needed for correctness.
