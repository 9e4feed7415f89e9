//! The rule catalog and the two ways a rule is written.
//!
//! - [`pattern`]: an egg pattern pair over the attribute-free heads (`MatMul`, `Add`, `Sub`,
//!   `Mul`, `Div`), e.g. matrix-chain associativity.
//! - [`transform`]: a [`Transform`] in Rust, for rules that read attributes, shapes or constant
//!   values (transposes, reshapes, structure found in a weight).
//!
//! Every rule is guarded the same way: the replacement is unioned with the matched class only
//! when shape inference gives it exactly the class's type. A rule can therefore never change a
//! shape or dtype, whatever its conditions forgot.
//!
//! Each family lives in its own file; each rule is named and carries its identity as a comment
//! and a generator of random instances that `verify` evaluates through the interpreter.

pub mod algebra;
pub mod build;
pub mod kron;
pub mod lowrank;
pub mod monarch;
pub mod rank1;
pub mod sharing;

use crate::analysis::{EG, TensorAnalysis};
use crate::lang::Node;
use crate::verify::Rng;
use egg::{Applier, Id, Pattern, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol, Var};
use ir::Graph;

/// The family a rule belongs to (one file each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Algebra,
    Sharing,
    LowRank,
    Kronecker,
    Monarch,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Algebra => "algebra",
            Family::Sharing => "sharing",
            Family::LowRank => "low-rank",
            Family::Kronecker => "kronecker",
            Family::Monarch => "monarch",
        }
    }
}

/// A named, verified rule.
pub struct Rule {
    pub name: &'static str,
    pub family: Family,
    /// Grows the e-graph quickly (associativity, distributivity): the scheduler holds it back.
    pub explosive: bool,
    /// Changes values beyond rounding: only under `--approx`.
    pub approx: bool,
    pub rewrite: Rewrite<Node, TensorAnalysis>,
    /// A random graph on which the rule must fire.
    pub instance: fn(&mut Rng) -> Graph,
}

/// What rules may do beyond exact rewriting.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RuleOptions {
    /// Relative Frobenius error an approximate rewrite may introduce; `None` keeps rules exact.
    pub approx: Option<f64>,
}

/// Every rule, exact ones first; approximate ones only when `opts.approx` is set.
pub fn catalog(opts: &RuleOptions) -> Vec<Rule> {
    let mut rules = Vec::new();
    rules.extend(algebra::rules());
    rules.extend(sharing::rules());
    rules.extend(lowrank::rules(opts));
    rules.extend(kron::rules(opts));
    rules.extend(monarch::rules(opts));
    rules
}

/// Every rule including the approximate ones (for `verify-rules`). The approximate rules'
/// instances lie within 1e-5 of their structure: this tolerance admits that structure and no
/// coarser one, so each rule must find the structure its instance hides.
pub fn full_catalog() -> Vec<Rule> {
    catalog(&RuleOptions { approx: Some(1e-3) })
}

/// True when `new` has exactly the type of class `class` (both known).
pub fn same_type(egraph: &EG, class: Id, new: Id) -> bool {
    let a = egraph[class].data.ty();
    let b = egraph[new].data.ty();
    matches!((a, b), (Some(a), Some(b)) if a == b)
}

/// Floats of under 32 bits round every intermediate result so coarsely that an identity exact
/// in ℝ (reassociation, hoisting a scale) changes results by whole ulps: arithmetic rewrites
/// are not applied to them.
fn low_precision(egraph: &EG, class: Id) -> bool {
    egraph[class]
        .data
        .ty()
        .is_some_and(|t| t.dtype.is_float() && t.dtype.bits() < 32)
}

/// True when the class computes with arithmetic whose rounding depends on order.
fn arithmetic(egraph: &EG, class: Id) -> bool {
    egraph[class].nodes.iter().any(|n| {
        n.as_op().is_some_and(|op| {
            matches!(
                op,
                ir::Op::MatMul | ir::Op::Gemm(_) | ir::Op::Einsum { .. } | ir::Op::Binary(_)
            )
        })
    })
}

/// Unions `new` into `class` when their types agree (and, for floats under 32 bits, when `new`
/// is not arithmetic); returns the changed class.
pub fn guarded_union(egraph: &mut EG, class: Id, new: Id) -> Option<Id> {
    if egraph.find(class) == egraph.find(new) || !same_type(egraph, class, new) {
        return None;
    }
    if low_precision(egraph, class) && arithmetic(egraph, new) {
        return None;
    }
    egraph.union(class, new);
    Some(egraph.find(class))
}

/// A rule from two pattern strings, e.g. `(MatMul (MatMul ?a ?b) ?c)` → `(MatMul ?a (MatMul ?b ?c))`.
pub fn pattern(name: &'static str, lhs: &str, rhs: &str) -> Rewrite<Node, TensorAnalysis> {
    cond_pattern(name, lhs, rhs, |_, _| true)
}

/// A condition on a pattern match, read before the right side is added.
pub type Cond = fn(&EG, &Subst) -> bool;

/// A pattern rule whose right side is added only when `cond` holds (and, as always, unioned
/// only when its type is the class's).
pub fn cond_pattern(
    name: &'static str,
    lhs: &str,
    rhs: &str,
    cond: Cond,
) -> Rewrite<Node, TensorAnalysis> {
    let l: Pattern<Node> = lhs.parse().expect("rule pattern parses");
    let r: Pattern<Node> = rhs.parse().expect("rule pattern parses");
    Rewrite::new(name, l, CondPattern { rhs: r.ast, cond }).expect("rule is well formed")
}

struct CondPattern {
    rhs: PatternAst<Node>,
    cond: Cond,
}

impl Applier<Node, TensorAnalysis> for CondPattern {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        if !(self.cond)(egraph, subst) {
            return vec![];
        }
        let new = egraph.add_instantiation(&self.rhs, subst);
        guarded_union(egraph, eclass, new).into_iter().collect()
    }
}

/// A rule written in Rust: it finds matches in one class and builds replacements.
pub trait Transform: Send + Sync + 'static {
    /// The matches in class `class`: each is a list of class ids that `apply` reads.
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>>;
    /// Adds the replacement for a match: pairs (class, equivalent new class) to union. Each
    /// pair is unioned only when the types agree.
    fn apply(&self, egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)>;
}

/// A [`Transform`] as an egg rewrite.
pub fn transform(name: &'static str, t: impl Transform) -> Rewrite<Node, TensorAnalysis> {
    let t = std::sync::Arc::new(t);
    Rewrite::new(name, TransformSearch(t.clone()), TransformApply(t)).expect("rule is well formed")
}

struct TransformSearch<T>(std::sync::Arc<T>);
struct TransformApply<T>(std::sync::Arc<T>);

/// The most ids one match may carry.
const MAX_MATCH_IDS: u32 = 64;

impl<T: Transform> Searcher<Node, TensorAnalysis> for TransformSearch<T> {
    fn search_eclass_with_limit(
        &self,
        egraph: &EG,
        eclass: Id,
        limit: usize,
    ) -> Option<SearchMatches<'_, Node>> {
        let found = self.0.search(egraph, eclass);
        let substs: Vec<Subst> = found
            .into_iter()
            .take(limit)
            .map(|ids| {
                let mut s = Subst::with_capacity(ids.len() + 1);
                s.insert(Var::from_u32(MAX_MATCH_IDS), Id::from(ids.len()));
                for (k, id) in ids.into_iter().enumerate() {
                    s.insert(Var::from_u32(k as u32), id);
                }
                s
            })
            .collect();
        if substs.is_empty() {
            return None;
        }
        Some(SearchMatches {
            eclass,
            substs,
            ast: None,
        })
    }

    fn vars(&self) -> Vec<Var> {
        vec![]
    }
}

impl<T: Transform> Applier<Node, TensorAnalysis> for TransformApply<T> {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        let n = usize::from(subst[Var::from_u32(MAX_MATCH_IDS)]);
        let ids: Vec<Id> = (0..n)
            .map(|k| egraph.find(subst[Var::from_u32(k as u32)]))
            .collect();
        let pairs = self.0.apply(egraph, egraph.find(eclass), &ids);
        pairs
            .into_iter()
            .filter_map(|(c, new)| guarded_union(egraph, c, new))
            .collect()
    }
}
