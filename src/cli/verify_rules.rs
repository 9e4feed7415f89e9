//! `tenfold verify-rules`: every rewrite rule run alone on random instances of its left side;
//! every node of the resulting e-graph is evaluated with the reference interpreter and compared
//! with its class's value. Prints one row per rule; fails when any rule fails.

use super::Report;
use crate::error::Error;
use clap::Args;
use rewrites::verify::{VERIFY_RTOL, verify_rule};
use serde_json::json;
use std::fmt::Write;

#[derive(Args, Debug)]
pub struct VerifyRulesArgs {
    /// Random instances per rule
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
    /// Seed of the instances
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Only rules whose name contains this text
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// End the output with one line holding a JSON array of the rows
    #[arg(long)]
    pub json: bool,
}

pub fn verify_rules(args: &VerifyRulesArgs) -> Result<Report, Error> {
    let mut stdout = String::new();
    let _ = writeln!(
        stdout,
        "{:<28} {:<10} {:>6} {:>9} {:>8} {:>12}  status",
        "rule", "family", "kind", "fired", "nodes", "max rel err"
    );
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for rule in rewrites::full_catalog() {
        if let Some(f) = &args.filter
            && !rule.name.contains(f.as_str())
        {
            continue;
        }
        let check = verify_rule(&rule, args.seed, args.instances as usize);
        let status = if check.passed() { "ok" } else { "FAILED" };
        let kind = if rule.approx { "approx" } else { "exact" };
        let _ = writeln!(
            stdout,
            "{:<28} {:<10} {:>6} {:>4}/{:<4} {:>8} {:>12.2e}  {}",
            rule.name,
            rule.family.name(),
            kind,
            check.fired,
            check.instances,
            check.nodes_checked,
            check.max_rel_err,
            status
        );
        for f in check.failures.iter().take(3) {
            let _ = writeln!(stdout, "    {f}");
        }
        if !check.passed() {
            failed.push(rule.name);
        }
        rows.push(json!({
            "rule": rule.name, "family": rule.family.name(), "kind": kind,
            "instances": check.instances, "fired": check.fired,
            "nodes_checked": check.nodes_checked, "max_rel_err": check.max_rel_err,
            "passed": check.passed(),
        }));
    }
    let _ = writeln!(
        stdout,
        "{} rules, {} failed (tolerance: relative error {VERIFY_RTOL:.0e} between every node and its class)",
        rows.len(),
        failed.len()
    );
    if args.json {
        let _ = writeln!(stdout, "{}", serde_json::Value::Array(rows));
    }
    if !failed.is_empty() {
        print!("{stdout}");
        return Err(Error::Invalid(format!(
            "rules failed verification: {}",
            failed.join(", ")
        )));
    }
    Ok(Report {
        stdout,
        notes: vec![],
    })
}
