//! Every rule of the catalog, verified on random instances through the reference interpreter.

use rewrites::full_catalog;
use rewrites::verify::verify_rule;

#[test]
fn every_rule_verifies() {
    let mut failed = Vec::new();
    for rule in full_catalog() {
        let check = verify_rule(&rule, 7, 12);
        println!(
            "{:<32} {:<10} fired {:>2}/{:<2} nodes {:>5} max rel err {:.2e}",
            rule.name,
            rule.family.name(),
            check.fired,
            check.instances,
            check.nodes_checked,
            check.max_rel_err
        );
        if !check.passed() {
            failed.push(format!("{}: {:?}", rule.name, check.failures));
        }
    }
    assert!(failed.is_empty(), "rules failed verification: {failed:#?}");
}

/// The verifier is not vacuous: a wrong rule (matmul commutes) fails it.
#[test]
fn a_wrong_rule_fails_verification() {
    use rewrites::rules::{Family, Rule, pattern};
    use rewrites::verify::GraphBuilder;
    let wrong = Rule {
        name: "matmul-commutes",
        family: Family::Algebra,
        explosive: false,
        approx: false,
        rewrite: pattern("matmul-commutes", "(MatMul ?a ?b)", "(MatMul ?b ?a)"),
        instance: |rng| {
            let n = rng.range(2, 6);
            let mut b = GraphBuilder::new("square");
            let x = b.input(&[n, n]);
            let w = b.random_const(rng, &[n, n]);
            let y = b.op(ir::Op::MatMul, &[x, w]);
            b.finish(&[y])
        },
    };
    let check = verify_rule(&wrong, 3, 4);
    assert_eq!(check.fired, 4);
    assert!(!check.passed());
    assert!(check.max_rel_err > 0.1, "{check:?}");
}
