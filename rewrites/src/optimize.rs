//! The optimizer's entry point: graph → e-graph → equality saturation under budgets →
//! extraction by a target cost → graph, with a report of what happened.

use crate::analysis::EG;
use crate::build::build;
use crate::cost::{CostModel, Roofline, TargetDesc, bytes_of, flops_of};
use crate::emit::emit;
use crate::error::RewriteError;
use crate::extract::extract;
use crate::rules::{RuleOptions, catalog};
use egg::{BackoffScheduler, Runner, StopReason};
use ir::{Graph, Source, TensorType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Budgets of one saturation run. The defaults keep BERT-sized graphs well under a second.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    pub iterations: usize,
    pub nodes: usize,
    /// A safety net only: the node and iteration limits bind first on the models we know, so a
    /// result does not depend on the machine's speed.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            iterations: 12,
            nodes: 30_000,
            time: Duration::from_secs(1),
        }
    }
}

/// What to optimize for and how far to go.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: TargetDesc,
    pub limits: Limits,
    pub rules: RuleOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: TargetDesc::cpu(),
            limits: Limits::default(),
            rules: RuleOptions::default(),
        }
    }
}

/// An approximation that the optimized graph uses.
#[derive(Clone, Debug, Serialize)]
pub struct ApproxUsed {
    pub rule: String,
    pub what: String,
    pub rel_error: f64,
}

/// What one optimization did.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub flops_before: f64,
    pub flops_after: f64,
    pub bytes_before: f64,
    pub bytes_after: f64,
    /// Modelled run time on the target, seconds.
    pub cost_before: f64,
    pub cost_after: f64,
    /// How many times each rule's rewrite changed the e-graph. One rewrite can count more than
    /// once: a rule that adds several forms (`kron-apply` adds both product orders) counts each,
    /// and a rule applies again when a later union makes its result new to the e-graph.
    pub rules_fired: BTreeMap<String, usize>,
    pub egraph_nodes: usize,
    pub egraph_classes: usize,
    pub iterations: usize,
    pub stop_reason: String,
    /// Approximate rewrites in the result, with the error each introduced.
    pub approximations: Vec<ApproxUsed>,
    /// Set when the optimized graph was not cheaper and the input was kept.
    pub kept_original: bool,
}

/// Runtime FLOPs, bytes and modelled cost of a typed graph. Nodes computable from constants
/// alone count nothing: they are folded before the program runs.
pub fn graph_cost(g: &Graph, model: &dyn CostModel) -> (f64, f64, f64) {
    let mut weight_only: Vec<bool> = g
        .values
        .iter()
        .map(|v| matches!(v.source, Source::Constant(_)))
        .collect();
    let (mut flops, mut bytes, mut cost) = (0.0, 0.0, 0.0);
    for node in &g.nodes {
        let folded = node.inputs.iter().flatten().all(|v| weight_only[v.index()]);
        for o in &node.outputs {
            weight_only[o.index()] = folded;
        }
        if folded {
            continue;
        }
        let ins: Vec<Option<&TensorType>> = node
            .inputs
            .iter()
            .map(|v| v.and_then(|v| g.value(v).ty.as_ref()))
            .collect();
        let outs: Vec<TensorType> = node
            .outputs
            .iter()
            .filter_map(|&o| g.value(o).ty.clone())
            .collect();
        flops += flops_of(&node.op, &ins, &outs);
        if !crate::cost::is_view(&node.op) {
            bytes += ins.iter().flatten().map(|t| bytes_of(t)).sum::<f64>()
                + outs.iter().map(bytes_of).sum::<f64>();
        }
        cost += model.op_cost(&node.op, &ins, &outs);
    }
    (flops, bytes, cost)
}

fn stop_reason(r: &Option<StopReason>) -> String {
    match r {
        Some(StopReason::Saturated) => "saturated".into(),
        Some(StopReason::IterationLimit(n)) => format!("iteration limit ({n})"),
        Some(StopReason::NodeLimit(n)) => format!("node limit ({n})"),
        Some(StopReason::TimeLimit(s)) => format!("time limit ({s} s)"),
        Some(StopReason::Other(s)) => s.clone(),
        None => "not run".into(),
    }
}

/// Optimizes a graph. The input must type (shape inference succeeds); the output has the same
/// inputs and outputs, by name and type.
pub fn optimize(graph: &Graph, opts: &Options) -> Result<(Graph, Report), RewriteError> {
    optimize_with(graph, opts, &Roofline(opts.target.clone()))
}

/// [`optimize`] with any cost model.
pub fn optimize_with(
    graph: &Graph,
    opts: &Options,
    model: &dyn CostModel,
) -> Result<(Graph, Report), RewriteError> {
    let mut g = graph.clone();
    ir::infer::infer_graph(&mut g)?;
    let (flops_before, bytes_before, cost_before) = graph_cost(&g, model);
    let (egraph, iface) = build(&g)?;
    let rules = catalog(&opts.rules);
    let mut scheduler = BackoffScheduler::default();
    for r in rules.iter().filter(|r| r.explosive) {
        scheduler = scheduler
            .rule_match_limit(r.name, 200)
            .rule_ban_length(r.name, 3);
    }
    let runner: Runner<_, _, ()> = Runner::default()
        .with_egraph(egraph)
        .with_iter_limit(opts.limits.iterations)
        .with_node_limit(opts.limits.nodes)
        .with_time_limit(opts.limits.time)
        .with_scheduler(scheduler)
        .run(rules.iter().map(|r| &r.rewrite));
    let mut rules_fired: BTreeMap<String, usize> = BTreeMap::new();
    for it in &runner.iterations {
        for (name, n) in &it.applied {
            if *n > 0 {
                *rules_fired.entry(name.to_string()).or_default() += n;
            }
        }
    }
    let egraph: &EG = &runner.egraph;
    let roots: Vec<_> = iface.outputs.iter().map(|(_, c)| *c).collect();
    let ex = extract(egraph, &roots, model).map_err(RewriteError::Extraction)?;
    let out = emit(egraph, &iface, &ex.choice)?;
    let (flops_after, bytes_after, cost_after) = graph_cost(&out, model);
    let records = &egraph.analysis.approx;
    // A rule applied again before the e-graph is rebuilt records the same constants twice.
    let approximations = records
        .iter()
        .enumerate()
        .filter(|&(k, a)| !records[..k].iter().any(|b| b.introduced == a.introduced))
        .map(|(_, a)| a)
        .filter(|a| {
            a.introduced.iter().any(|&c| {
                let t = egraph.analysis.pool.get(c);
                out.values
                    .iter()
                    .any(|v| matches!(&v.source, Source::Constant(u) if Arc::ptr_eq(t, u)))
            })
        })
        .map(|a| ApproxUsed {
            rule: a.rule.to_string(),
            what: a.what.clone(),
            rel_error: a.rel_error,
        })
        .collect();
    let mut report = Report {
        flops_before,
        flops_after,
        bytes_before,
        bytes_after,
        cost_before,
        cost_after,
        rules_fired,
        egraph_nodes: egraph.total_number_of_nodes(),
        egraph_classes: egraph.number_of_classes(),
        iterations: runner.iterations.len(),
        stop_reason: stop_reason(&runner.stop_reason),
        approximations,
        kept_original: false,
    };
    if cost_after > cost_before * (1.0 + 1e-9) {
        report.kept_original = true;
        report.flops_after = flops_before;
        report.bytes_after = bytes_before;
        report.cost_after = cost_before;
        report.approximations.clear();
        return Ok((g, report));
    }
    Ok((out, report))
}
