//! Judging a finished boot: a pure function of the test, how QEMU ended and
//! the serial log, so any runner (this one, or one that boots inside a
//! nested VM) judges alike.

use super::{Expect, SystemTest};
use crate::qemu::status::Outcome;
use crate::serial_log;

/// The expected ending, every marker and none of the absent ones, and no
/// more lines of a kind than the test's `line_limits` allow; `Err` says
/// what is wrong, all of it.
pub fn check(test: &SystemTest, outcome: &Outcome, log: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    match (test.expect, outcome) {
        (Expect::Pass | Expect::Fail, Outcome::Verdict(verdict))
            if Some(*verdict) == test.expect.verdict() => {}
        (Expect::Quit, Outcome::NoVerdict) => {}
        (expect, Outcome::Verdict(verdict)) => {
            problems.push(format!("expected {expect}, got verdict {verdict}"));
        }
        (Expect::Quit, other) => problems.push(format!("expected {}, got: {other}", Expect::Quit)),
        (_, other) => problems.push(other.to_string()),
    }
    let missing = serial_log::missing_markers(log, test.markers);
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
        problems.push(format!("missing markers: {}", quoted.join(", ")));
    }
    for &(needle, most) in test.line_limits {
        let lines = log.lines().filter(|line| line.contains(needle)).count();
        if lines > most {
            problems.push(format!(
                "{lines} lines hold {needle:?}, more than the {most} allowed"
            ));
        }
    }
    let present: Vec<String> = test
        .absent
        .iter()
        .filter_map(|m| serial_log::line_with(log, m).map(|line| format!("{m:?} ({line:?})")))
        .collect();
    if !present.is_empty() {
        problems.push(format!("unexpected in the log: {}", present.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
