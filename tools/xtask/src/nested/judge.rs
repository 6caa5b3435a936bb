//! Judging each test's run as L1 reports it, with the checks of `cargo
//! xtask test` ([`system_tests::check`]); the logs are kept on the host.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::results::{End, Report, TestRun};
use crate::qemu::progress::Stuck;
use crate::qemu::status::Outcome;
use crate::serial_log;
use crate::system_tests::{self, SystemTest};
use crate::tally::Tally;

/// The banner line in which Tessera names the SVM features it found.
const SVM_BANNER: &str = "svm: revision ";

/// The kernel's first line: a log without it never reached Tessera.
const TESSERA_STARTED: &str = "] Tessera ";

/// Which run of the planned tests a [`Judge`] judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    First,
    /// Run `n` (2 or more) of tests that failed before, in a fresh L1.
    Again(u8),
}

impl Pass {
    /// How a test's result line names the run.
    fn label(self) -> String {
        match self {
            Self::First => "nested KVM".into(),
            Self::Again(n) => format!("nested KVM, run {n} in a fresh L1"),
        }
    }
}

/// A planned run that failed.
#[derive(Debug, Clone, Copy)]
pub struct Failed {
    pub test: &'static SystemTest,
    /// Whether the run said something of Tessera: its kernel started (it
    /// logged its first line) and L1 did not fail under it.
    pub reached_tessera: bool,
}

/// Judges each test's run as it comes back, in the order L1 runs them.
#[derive(Debug)]
pub struct Judge {
    logs_dir: PathBuf,
    /// The tests L1 runs, in order (a test appears more than once with
    /// `--repeat`).
    planned: Vec<&'static SystemTest>,
    pub tally: Tally,
    /// How many of `planned` have been judged (L1 reports them in order).
    pub judged: usize,
    /// The planned run that already ran again after L1 failed under it.
    retried: Option<usize>,
    /// The planned runs that failed, in order (a later pass may run them
    /// again: [`super::run`]).
    pub failed: Vec<Failed>,
    /// Which pass this is.
    pass: Pass,
    pub svm_features: Option<String>,
    pub fatal: Option<String>,
    pub done: bool,
    /// The test L1 started last and has not reported, and when it started.
    pub running: Option<String>,
    started: Instant,
}

impl Judge {
    pub fn new(logs_dir: &Path, planned: &[&'static SystemTest]) -> Self {
        Self {
            logs_dir: logs_dir.to_path_buf(),
            planned: planned.to_vec(),
            tally: Tally::default(),
            judged: 0,
            retried: None,
            failed: Vec::new(),
            pass: Pass::First,
            svm_features: None,
            fatal: None,
            done: false,
            running: None,
            started: Instant::now(),
        }
    }

    /// A judge of a later pass: its logs are kept apart from the others'.
    pub fn again(logs_dir: &Path, planned: &[&'static SystemTest], pass: Pass) -> Self {
        Self {
            pass,
            ..Self::new(logs_dir, planned)
        }
    }

    pub fn take(&mut self, report: Report) {
        match report {
            Report::L1(what) => println!("xtask: nested: L1 is up: {what}"),
            Report::Start(name) => {
                self.running = Some(name);
                self.started = Instant::now();
            }
            Report::Test(run) => {
                self.running = None;
                self.judge(run, self.started.elapsed());
            }
            Report::Fatal(why) => {
                eprintln!("xtask: nested: L1 cannot run the tests: {why}");
                self.fatal = Some(why);
            }
            Report::Done => self.done = true,
            Report::Garbled(line) => eprintln!("xtask: nested: a report L1 garbled: {line}"),
        }
    }

    /// Whether every planned test has been judged.
    pub fn all_judged(&self) -> bool {
        self.judged == self.planned.len()
    }

    /// The file name of the next test's serial log: its name, and with
    /// `--repeat` its round, so a failed round's log is kept.
    fn log_name(&self, test: &SystemTest) -> String {
        let round = self.planned[..self.judged]
            .iter()
            .filter(|t| t.name == test.name)
            .count();
        let repeated = self.planned.iter().filter(|t| t.name == test.name).count() > 1;
        let run = match self.pass {
            Pass::First => String::new(),
            Pass::Again(n) => format!(".run{n}"),
        };
        if repeated {
            format!("{}{run}.round{}.serial.log", test.name, round + 1)
        } else {
            format!("{}{run}.serial.log", test.name)
        }
    }

    fn judge(&mut self, run: TestRun, took: Duration) {
        let Some(&test) = self.planned.get(self.judged) else {
            eprintln!(
                "xtask: nested: L1 reported {:?} after every planned test",
                run.name
            );
            return;
        };
        if run.name != test.name {
            eprintln!(
                "xtask: nested: L1 reported {:?} where {} was next",
                run.name, test.name
            );
            return;
        }
        let serial_log = self.logs_dir.join(self.log_name(test));
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let written = fs::write(&serial_log, &run.serial)
            .and_then(|()| fs::write(serial_log.with_extension("log.stderr"), &stderr));
        if let Err(e) = written {
            eprintln!("xtask: nested: {}: {e}", serial_log.display());
        }
        let log = serial_log::clean(&String::from_utf8_lossy(&run.serial));
        if self.svm_features.is_none() {
            self.svm_features = log
                .lines()
                .find_map(|line| line.find(SVM_BANNER).map(|at| line[at..].to_string()));
        }
        let verdict = match run.end {
            End::Exit(status) => {
                system_tests::check(test, &Outcome::from_status(Some(status), None), &log)
            }
            End::Stalled(seconds) => {
                let outcome = Outcome::Stuck(Stuck::QuietWall(Duration::from_secs(seconds)));
                let reason = system_tests::check(test, &outcome, &log)
                    .err()
                    .unwrap_or_default();
                Err(format!(
                    "{reason} (stopped inside L1: its serial log did not grow for {seconds} s)"
                ))
            }
        };
        match verdict {
            Ok(()) => {
                println!(
                    "system test {} ({}) ... ok ({:.1} s)",
                    test.name,
                    self.pass.label(),
                    took.as_secs_f64()
                );
                self.judged += 1;
                self.tally += Tally::PASSED;
            }
            Err(reason) => {
                let stderr = stderr.trim();
                let stderr = (!stderr.is_empty()).then_some(stderr);
                let reached_tessera = log.contains(TESSERA_STARTED);
                let why = format!("{reason} ({:.1} s)", took.as_secs_f64());
                self.fail_next_as(&why, stderr, reached_tessera);
                system_tests::show_tail(&serial_log);
            }
        }
    }

    /// Whether the next planned run may run again after L1 itself failed
    /// under it: once per run.
    pub fn retry_next_once(&mut self) -> bool {
        if self.all_judged() || self.retried == Some(self.judged) {
            return false;
        }
        self.retried = Some(self.judged);
        true
    }

    /// The next planned test fails for `why`, in a way that says nothing
    /// of Tessera (L1 failed, or it stopped without running it).
    pub fn fail_next(&mut self, why: &str, stderr: Option<&str>) {
        self.fail_next_as(why, stderr, false);
    }

    fn fail_next_as(&mut self, why: &str, stderr: Option<&str>, reached_tessera: bool) {
        if let Some(&test) = self.planned.get(self.judged) {
            self.judged += 1;
            self.failed.push(Failed {
                test,
                reached_tessera,
            });
            self.fail_unplanned(test, why, stderr);
        }
    }

    /// `test`, which L1 does not run (it could not be planned), fails.
    pub fn fail_unplanned(&mut self, test: &'static SystemTest, why: &str, stderr: Option<&str>) {
        println!(
            "system test {} ({}) ... FAILED: {why}",
            test.name,
            self.pass.label()
        );
        if let Some(stderr) = stderr {
            println!("--- QEMU stderr ---\n{stderr}");
        }
        let _ = io::stdout().flush();
        self.tally += Tally::FAILED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;
    use crate::system_tests::SYSTEM_TESTS;

    const BANNER: &str = "svm: revision 1, 16 asids, nested paging yes, nrip-save no, \
                          decode-assists no, flush-by-asid no, vmcb-clean-bits yes, avic no";

    fn multiboot1_log() -> Vec<u8> {
        format!(
            "[kernel cpu0 INFO] Tessera 0.1.0 booting via multiboot1\r\n\
             memory map:\n  [0x0, 0x9fc00) usable\n[kernel cpu0 INFO] {BANNER}\n\
             smp: 4 of 4 cpus online\nsvm: enabled on 4 of 4 cpus\ntessera: verdict pass\n"
        )
        .into_bytes()
    }

    fn run(name: &str, serial: Vec<u8>, end: End) -> Report {
        Report::Test(TestRun {
            name: name.into(),
            serial,
            stderr: b"qemu: a warning\n".to_vec(),
            end,
        })
    }

    fn planned(names: &[&str]) -> Vec<&'static SystemTest> {
        names
            .iter()
            .map(|name| SYSTEM_TESTS.iter().find(|t| t.name == *name).unwrap())
            .collect()
    }

    #[test]
    fn a_run_is_judged_by_the_tcg_checks_and_its_logs_kept() {
        let dir = scratch::dir("nested-judge");
        let plan = planned(&["boot-multiboot1", "boot-grub-multiboot2", "no-svm"]);
        let mut judge = Judge::new(&dir, &plan);
        judge.take(Report::L1("Linux 6.1.0-50-cloud-amd64".into()));
        judge.take(Report::Start("boot-multiboot1".into()));
        assert_eq!(judge.running.as_deref(), Some("boot-multiboot1"));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(33)));
        assert_eq!(judge.running, None);
        assert_eq!(judge.tally, Tally::PASSED);
        assert_eq!(judge.svm_features.as_deref(), Some(BANNER));
        assert_eq!(
            fs::read(dir.join("boot-multiboot1.serial.log")).unwrap(),
            multiboot1_log()
        );
        assert_eq!(
            fs::read_to_string(dir.join("boot-multiboot1.serial.log.stderr")).unwrap(),
            "qemu: a warning\n"
        );
        // The right log with the wrong status, and a stalled test, fail.
        judge.take(run("boot-grub-multiboot2", multiboot1_log(), End::Exit(35)));
        judge.take(run("no-svm", Vec::new(), End::Stalled(60)));
        assert_eq!(
            judge.tally,
            Tally {
                passed: 1,
                failed: 2
            }
        );
        assert_eq!(judge.judged, 3);
        assert!(judge.all_judged());
    }

    #[test]
    fn a_run_l1_failed_under_runs_again_once() {
        let dir = scratch::dir("nested-judge-retry");
        let plan = planned(&["boot-multiboot1", "no-svm"]);
        let mut judge = Judge::new(&dir, &plan);
        assert!(judge.retry_next_once());
        assert!(
            !judge.retry_next_once(),
            "a second L1 failure fails the test"
        );
        judge.fail_next("L1 ended", None);
        assert_eq!(judge.judged, 1);
        assert!(judge.retry_next_once(), "the next test has its own retry");
        judge.fail_next("L1 ended", None);
        assert!(!judge.retry_next_once(), "nothing left to run");
        assert_eq!(judge.tally.failed, 2);
    }

    #[test]
    fn repeated_tests_are_judged_per_round_with_a_log_each() {
        let dir = scratch::dir("nested-judge-repeat");
        let plan = planned(&["boot-multiboot1", "boot-multiboot1"]);
        let mut judge = Judge::new(&dir, &plan);
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(35)));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(33)));
        assert_eq!(
            judge.tally,
            Tally {
                passed: 1,
                failed: 1
            }
        );
        assert!(judge.all_judged());
        // The failed round's log is kept beside the passing one.
        assert!(dir.join("boot-multiboot1.round1.serial.log").exists());
        assert!(
            dir.join("boot-multiboot1.round2.serial.log.stderr")
                .exists()
        );
    }

    #[test]
    fn unplanned_and_extra_reports_count_not_at_all() {
        let dir = scratch::dir("nested-judge-odd");
        let mut judge = Judge::new(&dir, &planned(&["boot-multiboot1"]));
        judge.take(run("no-such-test", multiboot1_log(), End::Exit(33)));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(33)));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(35)));
        assert_eq!(judge.tally, Tally::PASSED);
        assert_eq!(judge.judged, 1);
        judge.take(Report::Garbled("x".into()));
        judge.take(Report::Fatal("kvm_amd is not loaded with nested=1".into()));
        judge.take(Report::Done);
        assert_eq!(
            judge.fatal.as_deref(),
            Some("kvm_amd is not loaded with nested=1")
        );
        assert!(judge.done);
        assert_eq!(judge.tally, Tally::PASSED);
    }

    #[test]
    fn a_later_pass_keeps_its_logs_apart_and_records_failures() {
        let dir = scratch::dir("nested-judge-again");
        let plan = planned(&["boot-multiboot1", "no-svm", "boot-grub-multiboot2"]);
        let mut judge = Judge::again(&dir, &plan, Pass::Again(2));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(33)));
        judge.take(run("no-svm", Vec::new(), End::Stalled(60)));
        // Tessera started, then the run went wrong.
        judge.take(run("boot-grub-multiboot2", multiboot1_log(), End::Exit(35)));
        assert!(dir.join("boot-multiboot1.run2.serial.log").exists());
        assert!(dir.join("no-svm.run2.serial.log").exists());
        assert_eq!(
            judge
                .failed
                .iter()
                .map(|f| (f.test.name, f.reached_tessera))
                .collect::<Vec<_>>(),
            [("no-svm", false), ("boot-grub-multiboot2", true)]
        );
        assert_eq!(
            judge.tally,
            Tally {
                passed: 1,
                failed: 2
            }
        );
    }
}
