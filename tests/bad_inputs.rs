//! Every case of the bad-input corpus (tests/bad_inputs/cases.txt) fails cleanly: a non-zero
//! exit status and exactly one stderr line, `error: ...`, containing the case's expected
//! substring; nothing mentions a panic.
//!
//! cases.txt holds one case per line: `<name>\t<CLI args, space-separated, relative to
//! tests/bad_inputs/>\t<substring>`; blank lines and lines starting with `#` are skipped.

use std::path::Path;
use std::process::Command;

/// The corpus must keep at least this many cases.
const MIN_CASES: usize = 15;

struct Case {
    line: usize,
    name: String,
    args: Vec<String>,
    needle: String,
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = raw.split('\t').collect();
        assert_eq!(
            fields.len(),
            3,
            "cases.txt line {}: expected name<TAB>args<TAB>substring, got {raw:?}",
            i + 1
        );
        assert!(
            !fields[2].is_empty(),
            "cases.txt line {}: the substring is empty",
            i + 1
        );
        cases.push(Case {
            line: i + 1,
            name: fields[0].trim().to_string(),
            args: fields[1].split_whitespace().map(str::to_string).collect(),
            needle: fields[2].to_string(),
        });
    }
    cases
}

/// Why a case's outcome breaks the contract, if it does.
fn check(case: &Case, dir: &Path) -> Option<String> {
    let out = match Command::new(env!("CARGO_BIN_EXE_tenfold"))
        .args(&case.args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => return Some(format!("could not start tenfold: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let problem = if out.status.success() {
        "exited with status 0".to_string()
    } else if out.status.code().is_none() {
        format!("was killed ({})", out.status)
    } else if lines.len() != 1 || lines[0].trim().is_empty() {
        format!("stderr has {} lines, not one", lines.len())
    } else if !lines[0].starts_with("error: ") {
        "stderr does not start with 'error: '".to_string()
    } else if !lines[0].contains(&case.needle) {
        format!("stderr lacks {:?}", case.needle)
    } else if stderr.contains("panicked") || stdout.contains("panicked") {
        "the output mentions a panic".to_string()
    } else {
        return None;
    };
    Some(format!(
        "{} (cases.txt:{}, `tenfold {}`): {problem}\n    stderr: {}",
        case.name,
        case.line,
        case.args.join(" "),
        stderr.trim_end().replace('\n', "\n            ")
    ))
}

#[test]
fn every_bad_input_fails_with_one_clear_error_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    let text =
        std::fs::read_to_string(dir.join("cases.txt")).expect("tests/bad_inputs/cases.txt exists");
    let cases = parse_cases(&text);
    assert!(
        cases.len() >= MIN_CASES,
        "cases.txt has {} cases; at least {MIN_CASES} are required",
        cases.len()
    );
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        cases.len(),
        "case names in cases.txt must be unique"
    );

    let failures: Vec<String> = cases.iter().filter_map(|c| check(c, &dir)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases broke the error contract:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
