//! `cargo xtask test --nested`: every system test under KVM with nested
//! SVM, as Tessera's users on AMD hosts run it, on a host without SVM.
//!
//! Debian's Linux (L1) boots once under QEMU's TCG with an SVM CPU model
//! and loads `kvm_amd nested=1`; its `/init` runs each system test's QEMU
//! command with `-enable-kvm -cpu host` in place of TCG and sends back the
//! test's serial log and QEMU's status; each is judged here by the same
//! verdict and marker checks as `cargo xtask test`
//! ([`system_tests::check`]).
//!
//! - `image`: L1's initramfs; `plan`: the tests' commands inside it.
//! - `judge`: each test's run judged as it comes back.
//! - `l1`: booting L1 and watching it.
//! - `results`: the reports L1 sends.

mod image;
mod judge;
mod l1;
mod plan;
mod results;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::system_tests::{self, SystemTest};
use crate::tally::Tally;
use crate::workspace::Workspace;
use judge::{Judge, Pass};

/// How many times L1 is booted at most: again after a reset of L1 during a
/// test, for the tests after it.
const MAX_BOOTS: usize = 3;
/// Runs every system test inside L1; one line per test, as `cargo xtask
/// test` prints them.
///
/// A test that fails runs once more, in a fresh L1, after the others, and
/// counts by that run; if that run fails too without reaching Tessera
/// (SeaBIOS or the Multiboot option ROM hung, or L1 failed), it gets a
/// third and last. The stack under Tessera here is QEMU 7.2's TCG
/// emulating SVM for L1's KVM, and it fails on its own: L1 resets or locks
/// up, SeaBIOS hangs in real mode before anything is loaded, and a stalled
/// test's vCPU dump has shown L1's own registers as Tessera's (RIP in
/// `kvm_amd`, RAX the VMCB's address). Every run's line and log is kept,
/// so a test that needed another run is on record. With `--repeat` no
/// round runs again: counting failures is the point.
pub fn run(workspace: &Workspace, tests: &[&'static SystemTest]) -> Tally {
    let started = Instant::now();
    let fail_all = |why: &str| {
        eprintln!("xtask: nested: {why}");
        let mut tally = Tally::default();
        for test in tests {
            println!("system test {} (nested KVM) ... FAILED: {why}", test.name);
            tally += Tally::FAILED;
        }
        tally
    };
    if tests.is_empty() {
        return Tally::default();
    }
    let prepared = match system_tests::prepare(workspace, tests) {
        Ok(prepared) => prepared,
        Err(e) => return fail_all(&e),
    };
    let logs_dir = workspace.logs_dir().join("nested");
    if let Err(e) = fs::create_dir_all(&logs_dir) {
        return fail_all(&format!("{}: {e}", logs_dir.display()));
    }
    let first = match pass(workspace, &prepared, tests, &logs_dir, Pass::First, 0) {
        Ok(first) => first,
        Err(e) => return fail_all(&e),
    };
    let mut tally = first.tally;
    let mut boots = first.boots;
    let mut l1_time = first.l1_time;
    let mut again = match again_after_first(&first, tests) {
        Ok(again) => again,
        Err(why) => {
            if let Some(why) = why {
                println!("xtask: nested: the failed tests do not run again: {why}");
            }
            Vec::new()
        }
    };
    let mut recovered = Vec::new();
    for n in 2..=MAX_RUNS {
        if again.is_empty() {
            break;
        }
        println!(
            "xtask: nested: {} run again in a fresh L1 (run {n}), and count by that run: the \
             emulation under L1's KVM fails on its own (earlier runs' logs are kept)",
            names(&again)
        );
        let run = match pass(
            workspace,
            &prepared,
            &again,
            &logs_dir,
            Pass::Again(n),
            boots,
        ) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("xtask: nested: no run {n}: {e}");
                break;
            }
        };
        tally.failed -= again.len() as u64;
        tally += run.tally;
        boots += run.boots;
        l1_time += run.l1_time;
        recovered.extend(
            again
                .iter()
                .filter(|t| !run.failed.iter().any(|f| f.test.name == t.name))
                .copied(),
        );
        again = if run.stopped.is_some() {
            Vec::new()
        } else {
            run_again(&run.failed)
        };
    }
    if !recovered.is_empty() {
        println!(
            "xtask: nested: passed only on a later run: {}",
            names(&recovered)
        );
    }
    match &first.svm_features {
        Some(line) => println!("xtask: nested: SVM features Tessera saw under KVM: {line}"),
        None => println!("xtask: nested: no test logged Tessera's SVM features"),
    }
    println!(
        "xtask: nested: L1 ran {} tests in {:.0} s ({boots} boot{}); {:.0} s in all",
        first.judged,
        l1_time.as_secs_f64(),
        if boots == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    tally
}

/// How many times a failed test runs at most in all.
const MAX_RUNS: u8 = 3;

/// The tests the first pass failed that run again, or why none does
/// (`None`: nothing failed). After the first pass every failed test runs
/// again; after a later one only those that said nothing of Tessera
/// ([`run_again`]).
fn again_after_first(
    first: &PassEnd,
    tests: &[&'static SystemTest],
) -> Result<Vec<&'static SystemTest>, Option<String>> {
    if first.failed.is_empty() {
        return Err(None);
    }
    if let Some(why) = &first.stopped {
        return Err(Some(format!("L1 stopped running tests ({why})")));
    }
    let repeated = tests
        .iter()
        .enumerate()
        .any(|(i, t)| tests[..i].iter().any(|u| u.name == t.name));
    if repeated {
        return Err(Some("with --repeat each round counts as it ran".into()));
    }
    Ok(first.failed.iter().map(|f| f.test).collect())
}

/// Of a later pass's failures, those that say nothing of Tessera (its
/// kernel never started, or L1 failed under it: SeaBIOS or the option
/// ROM hanging under the emulated KVM) run once more; a test that failed
/// twice after Tessera started fails.
fn run_again(failed: &[judge::Failed]) -> Vec<&'static SystemTest> {
    failed
        .iter()
        .filter(|f| !f.reached_tessera)
        .map(|f| f.test)
        .collect()
}

fn names(tests: &[&SystemTest]) -> String {
    tests.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// How one pass of L1 boots over a list of tests ended.
#[derive(Debug, Default)]
struct PassEnd {
    tally: Tally,
    /// The planned tests that failed, in order.
    failed: Vec<judge::Failed>,
    /// Why L1 stopped before running every test, if it did.
    stopped: Option<String>,
    svm_features: Option<String>,
    judged: usize,
    boots: usize,
    l1_time: Duration,
}

/// Boots L1 (again after it fails under a test, up to [`MAX_BOOTS`]) until
/// it has run `tests`; `first_boot` numbers its logs after earlier passes'.
fn pass(
    workspace: &Workspace,
    prepared: &system_tests::Prepared,
    tests: &[&'static SystemTest],
    logs_dir: &Path,
    which: Pass,
    first_boot: usize,
) -> Result<PassEnd, String> {
    let built = Instant::now();
    let image = image::build(workspace, prepared, tests)
        .map_err(|e| format!("L1's image was not built: {e}"))?;
    println!(
        "xtask: nested: L1 is Linux {} under TCG -cpu {}; its initramfs {} ({} MiB, made in {:.1} s)",
        image.release,
        crate::qemu::accel::TCG_CPU,
        image.initramfs.display(),
        image.initramfs_bytes >> 20,
        built.elapsed().as_secs_f64()
    );
    let mut judge = match which {
        Pass::First => Judge::new(logs_dir, &image.planned),
        Pass::Again(_) => Judge::again(logs_dir, &image.planned, which),
    };
    if which == Pass::First {
        for (test, why) in &image.skipped {
            println!("system test {} (nested KVM) ... skipped: {why}", test.name);
        }
    }
    for (test, why) in &image.unplanned {
        judge.fail_unplanned(test, why, None);
    }
    let booted = Instant::now();
    let mut boots = 0;
    let why_missing = loop {
        let logs = l1::Logs::for_boot(logs_dir, first_boot + boots);
        let skip = judge.judged;
        let ended = l1::run(&image, &logs, skip, |report| judge.take(report));
        boots += 1;
        if judge.all_judged() {
            break None;
        }
        system_tests::show_tail(&logs.console);
        let fatal = judge.fatal.take();
        match after_boot(
            &ended,
            fatal,
            judge.running.take(),
            judge.done,
            boots,
            &logs,
        ) {
            // L1 runs the tests in plan order: the one it ran is the next.
            // L1 itself failing (the emulation under KVM, not Tessera's
            // QEMU) says nothing of the test: it runs once more in the new
            // L1, and fails if L1 fails under it again.
            Next::Again { test, why } => {
                if judge.retry_next_once() {
                    println!(
                        "xtask: nested: {why}; L1 itself failed, so {test} said nothing about \
                         Tessera: it runs again in the new L1"
                    );
                } else {
                    judge.fail_next(&format!("{why} (the second time for this test)"), None);
                }
            }
            Next::Stop(why) => break Some(why),
        }
    };
    if let Some(why) = &why_missing {
        while !judge.all_judged() {
            judge.fail_next(why, None);
        }
    }
    Ok(PassEnd {
        tally: judge.tally,
        failed: judge.failed,
        stopped: why_missing,
        svm_features: judge.svm_features,
        judged: judge.judged,
        boots,
        l1_time: booted.elapsed(),
    })
}

/// What to do when an L1 boot ended before every test was judged.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// L1 itself ended or went silent while `test` ran (a reset of L1:
    /// `-no-reboot` turns it into an exit): `test` fails for `why`, and a
    /// new L1 runs the tests after it.
    Again { test: String, why: String },
    /// The tests not judged fail for this reason.
    Stop(String),
}

fn after_boot(
    ended: &Result<l1::Ended, String>,
    fatal: Option<String>,
    running: Option<String>,
    done: bool,
    boots: usize,
    logs: &l1::Logs,
) -> Next {
    let what = match ended {
        Ok(l1::Ended::Exited(status)) => format!("L1 ended ({status})"),
        Ok(l1::Ended::Stalled) => format!(
            "L1 was silent for {} s and was stopped",
            l1::STALL.as_secs()
        ),
        Err(e) => return Next::Stop(format!("L1 did not run: {e}")),
    };
    match (fatal, running) {
        (Some(fatal), _) => Next::Stop(format!("L1 cannot run the tests: {fatal}")),
        (None, Some(test)) if boots < MAX_BOOTS => Next::Again {
            test,
            why: format!(
                "{what} while it ran: see {} and {}; the tests after it run in a new L1",
                logs.console.display(),
                logs.resets.display()
            ),
        },
        (None, Some(test)) => Next::Stop(format!(
            "{what} while {test} ran, after {boots} boots of L1 (see {})",
            logs.console.display()
        )),
        (None, None) if done => Next::Stop("L1 did not report it".into()),
        (None, None) => Next::Stop(format!(
            "{what} outside any test (see {})",
            logs.console.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_reset_of_l1_during_a_test_fails_it_and_boots_l1_again() {
        let logs = l1::Logs::for_boot(Path::new("/t"), 0);
        let exited = Ok(l1::Ended::Exited("status 0".into()));
        let vm_faults = || Some("vm-faults".to_string());
        assert_eq!(
            after_boot(&exited, None, vm_faults(), false, 1, &logs),
            Next::Again {
                test: "vm-faults".into(),
                why: "L1 ended (status 0) while it ran: see /t/l1-console.log and \
                      /t/l1-resets.log; the tests after it run in a new L1"
                    .into()
            }
        );
        assert!(matches!(
            after_boot(&Ok(l1::Ended::Stalled), None, vm_faults(), false, 2, &logs),
            Next::Again { why, .. } if why.starts_with("L1 was silent for 240 s")
        ));
        assert_eq!(
            after_boot(&exited, None, vm_faults(), false, MAX_BOOTS, &logs),
            Next::Stop(
                "L1 ended (status 0) while vm-faults ran, after 3 boots of L1 (see /t/l1-console.log)"
                    .into()
            )
        );
    }

    #[test]
    fn without_a_running_test_or_with_a_fatal_report_l1_is_not_booted_again() {
        let logs = l1::Logs::for_boot(Path::new("/t"), 0);
        let exited = Ok(l1::Ended::Exited("status 0".into()));
        assert_eq!(
            after_boot(
                &exited,
                Some("kvm_amd did not load".into()),
                None,
                false,
                1,
                &logs
            ),
            Next::Stop("L1 cannot run the tests: kvm_amd did not load".into())
        );
        assert_eq!(
            after_boot(&exited, None, None, false, 1, &logs),
            Next::Stop("L1 ended (status 0) outside any test (see /t/l1-console.log)".into())
        );
        assert_eq!(
            after_boot(&exited, None, None, true, 1, &logs),
            Next::Stop("L1 did not report it".into())
        );
        assert!(matches!(
            after_boot(&Err("no QEMU".into()), None, Some("x".into()), false, 1, &logs),
            Next::Stop(why) if why.contains("no QEMU")
        ));
    }

    fn catalog(names: &[&str]) -> Vec<&'static SystemTest> {
        names
            .iter()
            .map(|n| {
                system_tests::SYSTEM_TESTS
                    .iter()
                    .find(|t| t.name == *n)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn only_the_failed_tests_of_a_whole_first_pass_run_again() {
        let tests = catalog(&["boot-multiboot1", "kernel-objects", "no-svm"]);
        let clean = PassEnd::default();
        assert!(matches!(again_after_first(&clean, &tests), Err(None)));
        let failed = PassEnd {
            failed: failures(&[("kernel-objects", true)]),
            ..PassEnd::default()
        };
        assert_eq!(
            again_after_first(&failed, &tests).map(|t| names(&t)),
            Ok("kernel-objects".to_string())
        );
        let stopped = PassEnd {
            stopped: Some("L1 cannot run the tests: kvm_amd did not load".into()),
            ..failed
        };
        assert!(matches!(
            again_after_first(&stopped, &tests),
            Err(Some(why)) if why.contains("kvm_amd did not load")
        ));
    }

    fn failures(runs: &[(&str, bool)]) -> Vec<judge::Failed> {
        runs.iter()
            .zip(catalog(&runs.iter().map(|r| r.0).collect::<Vec<_>>()))
            .map(|(&(_, reached_tessera), test)| judge::Failed {
                test,
                reached_tessera,
            })
            .collect()
    }

    #[test]
    fn after_a_later_run_only_failures_that_never_reached_tessera_run_again() {
        let failed = failures(&[("vm-teardown", false), ("kernel-objects", true)]);
        assert_eq!(names(&run_again(&failed)), "vm-teardown");
        assert!(run_again(&[]).is_empty());
    }

    #[test]
    fn with_repeat_no_round_runs_again() {
        let tests = catalog(&["kernel-objects", "kernel-objects"]);
        let failed = PassEnd {
            failed: failures(&[("kernel-objects", true)]),
            ..PassEnd::default()
        };
        assert!(matches!(
            again_after_first(&failed, &tests),
            Err(Some(why)) if why.contains("--repeat")
        ));
    }
}
