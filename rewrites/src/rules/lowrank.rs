//! Placeholder: filled in by its family's author.

use super::{Rule, RuleOptions};

pub fn rules(_opts: &RuleOptions) -> Vec<Rule> {
    vec![]
}
