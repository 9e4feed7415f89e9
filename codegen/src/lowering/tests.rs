//! Lowering tests: lowered programs, evaluated by the reference evaluator, equal the
//! interpreter.
