//! Repository hygiene, checked as a test: every Rust module says its job in a `//!` line, and no
//! `match` over ops hides a variant behind a wildcard arm.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "ir/src",
        "rewrites/src",
        "codegen/src",
        "autotune/src",
        "tests",
        "benches",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` first line:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_wildcard_arm_follows_an_op_pattern() {
    // A `_ =>` arm in a match whose other arms name `Op::` variants would hide new ops.
    let mut offenders = Vec::new();
    for p in sources() {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let mut in_op_match = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("Op::") && t.contains("=>") {
                in_op_match = true;
            } else if t.starts_with("_ =>") && in_op_match {
                offenders.push(format!("{}:{}", p.display(), i + 1));
            } else if t.starts_with("match ") || t == "}" {
                in_op_match = false;
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "wildcard arms after Op:: arms:\n{}",
        offenders.join("\n")
    );
}
