//! System tests: whole boots under QEMU, judged by the guest's verdict (isa-debug-exit)
//! and by markers in the serial log. Every expected marker lives in this file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cargo_build::{self, Profile};
use crate::deployment::Deployment;
use crate::host_tools::{self, Needs};
use crate::image;
use crate::qemu::accel::{self, Choice};
use crate::qemu::command::{Boot, QemuConfig};
use crate::qemu::process::{self, Echo, TIME_LIMIT};
use crate::qemu::status::{Outcome, Verdict};
use crate::serial_log;
use crate::tally::Tally;
use crate::workspace::Workspace;

/// How a system test boots the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMethod {
    /// QEMU's Multiboot1 loader (`-kernel`).
    Kernel,
    /// GRUB from the deployment's ISO (Multiboot2).
    Grub,
}

/// One system test, as data.
#[derive(Debug)]
pub struct SystemTest {
    pub name: &'static str,
    pub boot: BootMethod,
    /// A TCG CPU model; `None` uses the host's accelerator choice.
    pub cpu: Option<&'static str>,
    pub smp: u32,
    /// Words appended to the deployment's kernel command line (`-kernel` boots only).
    pub extra_cmdline: &'static str,
    pub expect: Verdict,
    /// Substrings the serial log must contain.
    pub markers: &'static [&'static str],
}

const VERDICT_PASS: &str = "tessera: verdict pass";
const VERDICT_FAIL: &str = "tessera: verdict fail";
const SVM_REVISION: &str = "svm: revision ";
const NESTED_PAGING: &str = "nested paging yes";
const MEMORY_MAP: &str = "memory map:";
const USABLE_REGION: &str = "usable";

/// Every system test, run in this order by `cargo xtask test`.
pub const SYSTEM_TESTS: &[SystemTest] = &[
    SystemTest {
        name: "boot-multiboot1",
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 4,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "booting via multiboot1",
            MEMORY_MAP,
            USABLE_REGION,
            SVM_REVISION,
            NESTED_PAGING,
            "smp: 4 of 4 cpus online",
            "svm: enabled on 4 of 4 cpus",
            VERDICT_PASS,
        ],
    },
    SystemTest {
        name: "boot-grub-multiboot2",
        boot: BootMethod::Grub,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "booting via multiboot2",
            MEMORY_MAP,
            USABLE_REGION,
            SVM_REVISION,
            NESTED_PAGING,
            "smp: 2 of 2 cpus online",
            "svm: enabled on 2 of 2 cpus",
            VERDICT_PASS,
        ],
    },
    SystemTest {
        name: "no-svm",
        boot: BootMethod::Kernel,
        cpu: Some("qemu64,-svm"),
        smp: 1,
        extra_cmdline: "",
        expect: Verdict::Fail,
        markers: &["fatal: cpu 0: SVM (AMD-V) is not available"],
    },
    SystemTest {
        name: "no-nested-paging",
        boot: BootMethod::Kernel,
        cpu: Some("qemu64,+svm,-npt"),
        smp: 1,
        extra_cmdline: "",
        expect: Verdict::Fail,
        markers: &["fatal: cpu 0: nested paging is not available"],
    },
    // Kernel faults are reported with the registers and end the run with the
    // failure status, never a hang or a silent reset.
    SystemTest {
        name: "fault-invalid-opcode",
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "inject-fault=invalid-opcode",
        expect: Verdict::Fail,
        markers: &[
            "kernel exception: invalid opcode (#UD), vector 6",
            "  rip 0xffffffff8",
            "  rax 0x",
            "  r13 0x",
            "fatal: cpu 0: unhandled invalid opcode (#UD) in the kernel",
            VERDICT_FAIL,
        ],
    },
    SystemTest {
        name: "fault-stack-overflow",
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 1,
        extra_cmdline: "inject-fault=stack-overflow",
        expect: Verdict::Fail,
        markers: &[
            "kernel exception: double fault (#DF), vector 8",
            "fatal: cpu 0: unhandled double fault (#DF) in the kernel",
            VERDICT_FAIL,
        ],
    },
    SystemTest {
        name: "fault-panic",
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 1,
        extra_cmdline: "inject-fault=panic",
        expect: Verdict::Fail,
        markers: &[
            "[kernel cpu0 ERROR] panic at kernel/src/fault_injection.rs:",
            "panic injected from the command line",
            VERDICT_FAIL,
        ],
    },
];

/// How many serial log lines a failure shows.
const TAIL_LINES: usize = 40;

/// Judges a finished boot: the expected verdict and every marker, both required.
pub fn check(test: &SystemTest, outcome: &Outcome, log: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    match outcome {
        Outcome::Verdict(verdict) if *verdict == test.expect => {}
        Outcome::Verdict(verdict) => {
            problems.push(format!(
                "expected verdict {}, got verdict {verdict}",
                test.expect
            ));
        }
        other => problems.push(other.to_string()),
    }
    let missing = serial_log::missing_markers(log, test.markers);
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
        problems.push(format!("missing markers: {}", quoted.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What the system tests boot, built once.
#[derive(Debug)]
struct Prepared {
    kernel: PathBuf,
    iso: Result<PathBuf, String>,
}

/// Why a system test failed, and what to show.
#[derive(Debug)]
struct Failure {
    reason: String,
    serial_log: Option<PathBuf>,
    stderr: String,
}

impl Failure {
    fn without_log(reason: String) -> Self {
        Self {
            reason,
            serial_log: None,
            stderr: String::new(),
        }
    }
}

/// Builds the release kernel and ISO, then runs every system test in turn.
pub fn run_all(workspace: &Workspace) -> Tally {
    let deployment = Deployment::default_deployment();
    let prepared = prepare(workspace, &deployment);
    let host_choice = accel::choose();
    if prepared.is_ok() {
        println!("{}", host_choice.describe());
    }
    let mut tally = Tally::default();
    for test in SYSTEM_TESTS {
        print!("system test {} ... ", test.name);
        let _ = io::stdout().flush();
        let result = match &prepared {
            Ok(prepared) => run_one(workspace, &deployment, prepared, &host_choice, test),
            Err(e) => Err(Failure::without_log(e.clone())),
        };
        match result {
            Ok(()) => {
                println!("ok");
                tally += Tally::PASSED;
            }
            Err(failure) => {
                println!("FAILED: {}", failure.reason);
                show_failure(&failure);
                tally += Tally::FAILED;
            }
        }
    }
    tally
}

fn prepare(workspace: &Workspace, deployment: &Deployment) -> Result<Prepared, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: true,
    })?;
    let artifacts = cargo_build::build(workspace, Profile::Release)
        .map_err(|e| format!("the kernel did not build: {e}"))?;
    let iso = image::make_iso(workspace, deployment, &artifacts.kernel)
        .map_err(|e| format!("the ISO was not made: {e}"));
    if let Err(e) = &iso {
        eprintln!("xtask: {e}");
    }
    Ok(Prepared {
        kernel: artifacts.kernel,
        iso,
    })
}

fn run_one(
    workspace: &Workspace,
    deployment: &Deployment,
    prepared: &Prepared,
    host_choice: &Choice,
    test: &SystemTest,
) -> Result<(), Failure> {
    let boot = match test.boot {
        BootMethod::Kernel => Boot::Kernel {
            kernel: prepared.kernel.clone(),
            cmdline: format!("{} {}", deployment.cmdline, test.extra_cmdline)
                .trim_end()
                .to_string(),
        },
        BootMethod::Grub => Boot::Cdrom {
            iso: prepared.iso.clone().map_err(Failure::without_log)?,
        },
    };
    let choice = match test.cpu {
        Some(cpu) => Choice::tcg_with(cpu),
        None => host_choice.clone(),
    };
    let serial_log = workspace
        .logs_dir()
        .join(format!("{}.serial.log", test.name));
    let config = QemuConfig {
        accel: choice.accel,
        boot,
        smp: test.smp,
        memory_mib: deployment.memory_mib,
        serial_log: serial_log.clone(),
        gdb: false,
        extra: Vec::new(),
    };
    let finished =
        process::run(&config, Some(TIME_LIMIT), Echo::Quiet).map_err(Failure::without_log)?;
    let log = serial_log::read_clean(&serial_log);
    check(test, &finished.outcome, &log).map_err(|reason| Failure {
        reason,
        serial_log: Some(serial_log),
        stderr: finished.stderr,
    })
}

fn show_failure(failure: &Failure) {
    if !failure.stderr.trim().is_empty() {
        println!("--- QEMU stderr ---");
        println!("{}", failure.stderr.trim_end());
    }
    if let Some(path) = &failure.serial_log {
        show_tail(path);
    }
}

fn show_tail(path: &Path) {
    let log = serial_log::read_clean(path);
    println!("--- last {TAIL_LINES} lines of {} ---", path.display());
    for line in serial_log::tail(&log, TAIL_LINES) {
        println!("{line}");
    }
    println!("--- end of serial log ---");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_named(name: &str) -> &'static SystemTest {
        SYSTEM_TESTS.iter().find(|t| t.name == name).unwrap()
    }

    const MB1_PASS_LOG: &str = "\
Tessera 0.1.0 booting via multiboot1
memory map:
  [0x0000000000000000, 0x000000000009fc00) usable
svm: revision 1, 16 asids, nested paging yes, nrip-save no, decode-assists no, flush-by-asid no, vmcb-clean-bits no, avic no
smp: 4 of 4 cpus online
svm: enabled on 4 of 4 cpus
tessera: verdict pass
";

    #[test]
    fn names_are_unique() {
        for (i, a) in SYSTEM_TESTS.iter().enumerate() {
            assert!(SYSTEM_TESTS[i + 1..].iter().all(|b| a.name != b.name));
        }
    }

    #[test]
    fn passing_boot_passes() {
        let test = test_named("boot-multiboot1");
        assert_eq!(
            check(test, &Outcome::Verdict(Verdict::Pass), MB1_PASS_LOG),
            Ok(())
        );
    }

    #[test]
    fn pass_verdict_without_markers_fails() {
        let test = test_named("boot-multiboot1");
        let log = MB1_PASS_LOG.replace("smp: 4 of 4", "smp: 3 of 4");
        let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
        assert_eq!(reason, "missing markers: \"smp: 4 of 4 cpus online\"");
    }

    #[test]
    fn markers_without_the_verdict_fail() {
        let test = test_named("boot-multiboot1");
        let reason = check(test, &Outcome::NoVerdict, MB1_PASS_LOG).unwrap_err();
        assert!(
            reason.starts_with("QEMU ended without a verdict"),
            "{reason}"
        );
        let reason = check(test, &Outcome::Verdict(Verdict::Fail), MB1_PASS_LOG).unwrap_err();
        assert_eq!(reason, "expected verdict pass, got verdict fail");
    }

    #[test]
    fn no_svm_needs_both_fail_verdict_and_message() {
        let test = test_named("no-svm");
        let log = "Tessera 0.1.0 booting via multiboot1\nfatal: cpu 0: SVM (AMD-V) is not available: \
                   CPUID 0x80000001 ECX bit 2 is clear\n";
        assert_eq!(check(test, &Outcome::Verdict(Verdict::Fail), log), Ok(()));
        assert!(check(test, &Outcome::Verdict(Verdict::Pass), log).is_err());
        assert!(
            check(
                test,
                &Outcome::Verdict(Verdict::Fail),
                "fatal: something else\n"
            )
            .is_err()
        );
    }

    #[test]
    fn timeout_and_missing_markers_are_both_reported() {
        let test = test_named("no-nested-paging");
        let reason = check(test, &Outcome::TimedOut(TIME_LIMIT), "").unwrap_err();
        assert_eq!(
            reason,
            "no verdict within 60 s; missing markers: \"fatal: cpu 0: nested paging is not available\""
        );
    }

    #[test]
    fn capability_tests_run_under_tcg_with_their_cpu_model() {
        assert_eq!(test_named("no-svm").cpu, Some("qemu64,-svm"));
        assert_eq!(test_named("no-nested-paging").cpu, Some("qemu64,+svm,-npt"));
        assert_eq!(test_named("boot-grub-multiboot2").boot, BootMethod::Grub);
    }

    #[test]
    fn fault_tests_inject_through_the_kernel_command_line() {
        for test in SYSTEM_TESTS.iter().filter(|t| t.name.starts_with("fault-")) {
            assert_eq!(test.boot, BootMethod::Kernel, "{}", test.name);
            assert!(
                test.extra_cmdline.starts_with("inject-fault="),
                "{}",
                test.name
            );
            assert_eq!(test.expect, Verdict::Fail, "{}", test.name);
            assert!(test.markers.contains(&VERDICT_FAIL), "{}", test.name);
        }
        for test in SYSTEM_TESTS
            .iter()
            .filter(|t| !t.name.starts_with("fault-"))
        {
            assert_eq!(test.extra_cmdline, "", "{}", test.name);
        }
    }
}
