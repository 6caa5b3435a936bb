//! Judging a finished boot: a pure function of the test, how QEMU ended and
//! the serial log, so any runner (this one, or one that boots inside a
//! nested VM) judges alike.

use super::{ExitStatsCheck, Expect, SystemTest};
use crate::exit_stats;
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
    if let Some(expected) = test.exit_stats {
        problems.extend(exit_stats_problems(&expected, log));
    }
    for &(first, second) in test.same_numbers {
        match (number_after(log, first), number_after(log, second)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => problems.push(format!(
                "{first:?} is followed by {a:?} but {second:?} by {b:?}: they must be the same number"
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The decimal number right after the first `prefix` in `log`.
fn number_after(log: &str, prefix: &str) -> Option<u64> {
    let rest = &log[log.find(prefix)? + prefix.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// What is wrong with the exit statistics in `log`, against `expected`:
/// a count below its floor, a route that forwarded too little, or a total
/// that is not the number of VMRUNs the kernel counted (each VMRUN ends in
/// exactly one exit, counted once).
fn exit_stats_problems(expected: &ExitStatsCheck, log: &str) -> Vec<String> {
    let partitions = match exit_stats::parse(log) {
        Ok(partitions) => partitions,
        Err(e) => return vec![format!("exit statistics: {e}")],
    };
    let mut problems = Vec::new();
    let find = |name: &str| partitions.iter().find(|p| p.name == name);
    for &(name, exit, outcome, least) in expected.at_least {
        let count = find(name).map_or(0, |p| p.count(exit, outcome));
        if count < least {
            problems.push(format!(
                "exit statistics: partition {name}: {exit} {outcome} {count}, expected at least {least}"
            ));
        }
    }
    for &(name, route, least) in expected.routes_at_least {
        let count = find(name)
            .and_then(|p| p.routes.iter().find(|(r, _)| r == route))
            .map_or(0, |(_, count)| *count);
        if count < least {
            problems.push(format!(
                "exit statistics: partition {name}: route {route} forwarded {count}, expected at least {least}"
            ));
        }
    }
    let total: u64 = partitions.iter().map(|p| p.total()).sum();
    match vmruns(log) {
        Some(runs) if runs == total => {}
        Some(runs) => problems.push(format!(
            "exit statistics: {total} exits counted, but the kernel counted {runs} VMRUNs"
        )),
        None => problems.push("exit statistics: the log has no VMRUN count".into()),
    }
    problems
}

/// The VMRUNs of the kernel's `vmcb clean bits: C of N VMRUNs ...` line.
fn vmruns(log: &str) -> Option<u64> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("vmcb clean bits: "))?;
    let rest = &line[line.find(" of ")? + " of ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: ExitStatsCheck = ExitStatsCheck {
        at_least: &[("bench", "cpuid", "kernel-fast", 5000)],
        routes_at_least: &[("bench", "cpuid:0x4c000000-0x4c0000ff", 1000)],
    };

    fn log(fast: u64, routed: u64, runs: u64) -> String {
        format!(
            "[kernel cpu0 INFO] exit-stats: begin\n\
             [kernel cpu0 INFO] exit-stats: partition=bench exit=cpuid outcome=kernel-fast count={fast}\n\
             [kernel cpu0 INFO] exit-stats: partition=bench exit=cpuid outcome=forwarded count={routed}\n\
             [kernel cpu0 INFO] exit-stats: partition=bench route=cpuid:0x4c000000-0x4c0000ff forwarded={routed}\n\
             [kernel cpu0 INFO] exit-stats: end\n\
             [kernel cpu0 INFO] vmcb clean bits: 0 of {runs} VMRUNs had state clean\n"
        )
    }

    #[test]
    fn plausible_statistics_pass_and_each_shortfall_is_named() {
        assert_eq!(
            exit_stats_problems(&CHECK, &log(6000, 2000, 8000)),
            Vec::<String>::new()
        );
        let problems = exit_stats_problems(&CHECK, &log(10, 20, 30));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("cpuid kernel-fast 10, expected at least 5000"));
        assert!(problems[1].contains("forwarded 20, expected at least 1000"));
    }

    #[test]
    fn the_exits_must_add_up_to_the_vmruns() {
        let problems = exit_stats_problems(&CHECK, &log(6000, 2000, 8001));
        assert_eq!(
            problems,
            ["exit statistics: 8000 exits counted, but the kernel counted 8001 VMRUNs"]
        );
        let without = log(6000, 2000, 8000).replace("vmcb clean bits", "something");
        assert_eq!(
            exit_stats_problems(&CHECK, &without),
            ["exit statistics: the log has no VMRUN count"]
        );
        assert!(exit_stats_problems(&CHECK, "nothing")[0].contains("no exit statistics"));
    }

    #[test]
    fn numbers_after_prefixes() {
        let log = "tsc: 2994123456 Hz = 2994.123456 MHz\n# TSC_FREQUENCY: 2994123456 Hz\n";
        assert_eq!(number_after(log, "tsc: "), Some(2_994_123_456));
        assert_eq!(number_after(log, "TSC_FREQUENCY: "), Some(2_994_123_456));
        assert_eq!(number_after(log, "MHz"), None);
        assert_eq!(number_after(log, "absent"), None);
        let test = |pairs| SystemTest {
            same_numbers: pairs,
            expect: Expect::Quit,
            ..SystemTest::DEFAULT
        };
        let quit = Outcome::NoVerdict;
        assert!(check(&test(&[("tsc: ", "TSC_FREQUENCY: ")]), &quit, log).is_ok());
        let wrong = "tsc: 2994123456 Hz\n# TSC_FREQUENCY: 2994123457 Hz\n";
        assert!(check(&test(&[("tsc: ", "TSC_FREQUENCY: ")]), &quit, wrong).is_err());
        assert!(check(&test(&[("tsc: ", "missing: ")]), &quit, log).is_err());
    }
}
