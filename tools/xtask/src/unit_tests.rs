//! Host unit tests: `cargo test` on the workspace's default members (the host
//! crates), counted from the `test result:` lines of its output.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::tally::Tally;
use crate::workspace::Workspace;

/// Runs the host tests (those whose names contain `filter`, if given),
/// echoing their output, and counts them. A `cargo test` that fails without
/// a failed test (a compile error, a crashed test binary) counts as one
/// failure.
pub fn run(workspace: &Workspace, filter: Option<&str>) -> Tally {
    let args = args(filter);
    println!("xtask: host unit tests: cargo {}", args.join(" "));
    let mut child = match workspace
        .cargo()
        // No package selection: cargo tests the default members, which are the host
        // crates; the bare-metal crates are built by `cargo xtask build`.
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("xtask: cannot run cargo test: {e}");
            return Tally::FAILED;
        }
    };
    let mut tally = Tally::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(counts) = parse_summary(&line) {
                tally += counts;
            }
        }
    }
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => {
            eprintln!("xtask: waiting for cargo test: {e}");
            tally += Tally::FAILED;
            return tally;
        }
    };
    if !status.success() && tally.failed == 0 {
        println!(
            "xtask: cargo test failed ({status}) without a failed test (a build error or a \
             crashed test binary): counted as 1 failure"
        );
        tally += Tally::FAILED;
    }
    println!(
        "xtask: host unit tests: {} passed, {} failed",
        tally.passed, tally.failed
    );
    tally
}

/// The arguments after `cargo`.
fn args(filter: Option<&str>) -> Vec<String> {
    let mut args = vec!["test".to_owned(), "--no-fail-fast".to_owned()];
    if let Some(filter) = filter {
        args.extend(["--".to_owned(), filter.to_owned()]);
    }
    args
}

/// Reads `test result: ok. N passed; M failed; ...` (or `FAILED.`).
pub fn parse_summary(line: &str) -> Option<Tally> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        match what {
            "passed" => passed = number.parse().ok(),
            "failed" => failed = number.parse().ok(),
            _ => {}
        }
    }
    Some(Tally {
        passed: passed?,
        failed: failed?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_reaches_the_test_binaries() {
        assert_eq!(args(None), ["test", "--no-fail-fast"]);
        assert_eq!(
            args(Some("vm-hv")),
            ["test", "--no-fail-fast", "--", "vm-hv"]
        );
    }

    #[test]
    fn parses_ok_lines() {
        assert_eq!(
            parse_summary(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some(Tally {
                passed: 12,
                failed: 0
            })
        );
    }

    #[test]
    fn parses_failed_lines() {
        assert_eq!(
            parse_summary(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ),
            Some(Tally {
                passed: 3,
                failed: 2
            })
        );
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(parse_summary("running 3 tests"), None);
        assert_eq!(parse_summary("test foo::bar ... ok"), None);
        assert_eq!(parse_summary("test result: garbage"), None);
        assert_eq!(parse_summary("3 passed, 0 failed"), None);
    }

    #[test]
    fn sums_every_summary_in_an_output() {
        let output = "\
running 2 tests
test a ... ok
test b ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

running 1 test
test c ... FAILED

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests tlfs

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        let mut tally = Tally::default();
        for counts in output.lines().filter_map(parse_summary) {
            tally += counts;
        }
        assert_eq!(
            tally,
            Tally {
                passed: 2,
                failed: 1
            }
        );
    }
}
