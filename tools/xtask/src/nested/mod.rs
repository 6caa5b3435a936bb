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
//! - `l1`: booting L1 and watching it.
//! - `results`: the reports L1 sends.

mod image;
mod l1;
mod plan;
mod results;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::qemu::status::Outcome;
use crate::serial_log;
use crate::system_tests::{self, SYSTEM_TESTS, SystemTest};
use crate::tally::Tally;
use crate::workspace::Workspace;
use results::{End, Report, TestRun};

/// How many times L1 is booted at most: again after a reset of L1 during a
/// test, for the tests after it.
const MAX_BOOTS: usize = 3;

/// The banner line in which Tessera names the SVM features it found.
const SVM_BANNER: &str = "svm: revision ";

/// Runs every system test inside L1; one line per test, as `cargo xtask
/// test` prints them.
pub fn run(workspace: &Workspace) -> Tally {
    let started = Instant::now();
    let fail_all = |why: &str| {
        eprintln!("xtask: nested: {why}");
        let mut tally = Tally::default();
        for test in SYSTEM_TESTS {
            println!("system test {} (nested KVM) ... FAILED: {why}", test.name);
            tally += Tally::FAILED;
        }
        tally
    };
    let prepared = match system_tests::prepare(workspace) {
        Ok(prepared) => prepared,
        Err(e) => return fail_all(&e),
    };
    let built = Instant::now();
    let image = match image::build(workspace, &prepared, SYSTEM_TESTS) {
        Ok(image) => image,
        Err(e) => return fail_all(&format!("L1's image was not built: {e}")),
    };
    println!(
        "xtask: nested: L1 is Linux {} under TCG -cpu {}; its initramfs {} ({} MiB, made in {:.1} s)",
        image.release,
        crate::qemu::accel::TCG_CPU,
        image.initramfs.display(),
        image.initramfs_bytes >> 20,
        built.elapsed().as_secs_f64()
    );
    let logs_dir = workspace.logs_dir().join("nested");
    if let Err(e) = fs::create_dir_all(&logs_dir) {
        return fail_all(&format!("{}: {e}", logs_dir.display()));
    }
    let mut judge = Judge::new(&logs_dir);
    for (test, why) in &image.unplanned {
        judge.fail(test, why, None);
    }
    let booted = Instant::now();
    let mut boots = 0;
    let why_missing = loop {
        let logs = l1::Logs::for_boot(&logs_dir, boots);
        let skip = image
            .planned
            .iter()
            .take_while(|test| judge.judged.contains(&test.name))
            .count();
        let ended = l1::run(&image, &logs, skip, |report| judge.take(report));
        boots += 1;
        let all_judged = image.planned.iter().all(|t| judge.judged.contains(&t.name));
        if all_judged {
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
            Next::Again { test, why } => {
                if let Some(test) = SYSTEM_TESTS.iter().find(|t| t.name == test) {
                    judge.fail(test, &why, None);
                }
            }
            Next::Stop(why) => break Some(why),
        }
    };
    let l1_time = booted.elapsed();
    for test in &image.planned {
        if let Some(why) = &why_missing
            && !judge.judged.contains(&test.name)
        {
            judge.fail(test, why, None);
        }
    }
    match &judge.svm_features {
        Some(line) => println!("xtask: nested: SVM features Tessera saw under KVM: {line}"),
        None => println!("xtask: nested: no test logged Tessera's SVM features"),
    }
    println!(
        "xtask: nested: L1 ran {} tests in {:.0} s ({boots} boot{}); {:.0} s in all",
        judge.judged.len(),
        l1_time.as_secs_f64(),
        if boots == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    judge.tally
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

/// Judges each test's run as it comes back.
struct Judge {
    logs_dir: PathBuf,
    tally: Tally,
    judged: Vec<&'static str>,
    svm_features: Option<String>,
    fatal: Option<String>,
    done: bool,
    /// The test L1 started last and has not reported, and when it started.
    running: Option<String>,
    started: Instant,
}

impl Judge {
    fn new(logs_dir: &Path) -> Self {
        Self {
            logs_dir: logs_dir.to_path_buf(),
            tally: Tally::default(),
            judged: Vec::new(),
            svm_features: None,
            fatal: None,
            done: false,
            running: None,
            started: Instant::now(),
        }
    }

    fn take(&mut self, report: Report) {
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

    fn judge(&mut self, run: TestRun, took: Duration) {
        let Some(test) = SYSTEM_TESTS.iter().find(|t| t.name == run.name) else {
            eprintln!("xtask: nested: L1 reported an unknown test {:?}", run.name);
            return;
        };
        if self.judged.contains(&test.name) {
            eprintln!("xtask: nested: L1 reported {} twice", test.name);
            return;
        }
        let serial_log = self.logs_dir.join(format!("{}.serial.log", test.name));
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let written = fs::write(&serial_log, &run.serial).and_then(|()| {
            fs::write(
                self.logs_dir
                    .join(format!("{}.serial.log.stderr", test.name)),
                &stderr,
            )
        });
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
                let outcome = Outcome::TimedOut(Duration::from_secs(seconds));
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
                    "system test {} (nested KVM) ... ok ({:.1} s)",
                    test.name,
                    took.as_secs_f64()
                );
                self.judged.push(test.name);
                self.tally += Tally::PASSED;
            }
            Err(reason) => {
                let stderr = stderr.trim();
                let stderr = (!stderr.is_empty()).then_some(stderr);
                self.fail(
                    test,
                    &format!("{reason} ({:.1} s)", took.as_secs_f64()),
                    stderr,
                );
                system_tests::show_tail(&serial_log);
            }
        }
    }

    fn fail(&mut self, test: &'static SystemTest, why: &str, stderr: Option<&str>) {
        println!("system test {} (nested KVM) ... FAILED: {why}", test.name);
        if let Some(stderr) = stderr {
            println!("--- QEMU stderr ---\n{stderr}");
        }
        let _ = io::stdout().flush();
        self.judged.push(test.name);
        self.tally += Tally::FAILED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;

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

    #[test]
    fn a_run_is_judged_by_the_tcg_checks_and_its_logs_kept() {
        let dir = scratch::dir("nested-judge");
        let mut judge = Judge::new(&dir);
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
        assert_eq!(
            judge.judged,
            ["boot-multiboot1", "boot-grub-multiboot2", "no-svm"]
        );
    }

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
            Next::Again { why, .. } if why.starts_with("L1 was silent for 120 s")
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

    #[test]
    fn unknown_and_repeated_tests_count_once_or_not_at_all() {
        let dir = scratch::dir("nested-judge-odd");
        let mut judge = Judge::new(&dir);
        judge.take(run("no-such-test", multiboot1_log(), End::Exit(33)));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(33)));
        judge.take(run("boot-multiboot1", multiboot1_log(), End::Exit(35)));
        assert_eq!(judge.tally, Tally::PASSED);
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
}
