//! Running an in-QEMU fuzzer: its deployment built once, the run's
//! parameters written into copies of its images, one boot, and the serial
//! log read for what the oracles said.

use std::path::PathBuf;
use std::time::Instant;

use tessera_fuzz::params::{self, Params};
use tessera_fuzz::seed::Seed;

use super::{Finding, Known, Outcome};
use crate::cargo_build::Profile;
use crate::deployment::Deployment;
use crate::machine::Overrides;
use crate::qemu::accel;
use crate::qemu::command::{Boot, QemuConfig, Serial};
use crate::qemu::process::{self, Echo, Options};
use crate::qemu::progress::Limit;
use crate::qemu::status::{Outcome as Ended, Verdict};
use crate::serial_log;
use crate::workspace::Workspace;

/// An in-QEMU fuzzer: its deployment and the images that take the run's
/// parameters.
#[derive(Debug, Clone, Copy)]
pub struct Fuzzer {
    pub deployment: &'static str,
    pub images: &'static [&'static str],
    /// What marks progress in the log (the last one names the operation a
    /// kernel fault interrupted). The fuzzers print a progress line every
    /// thousand operations, so the system tests' limit, which watches the
    /// log grow, serves long runs as well as short ones.
    pub progress: &'static str,
    /// Log lines that mean a component of the fuzzer's broke (a panic, a
    /// fault), not the kernel.
    pub broken: &'static [&'static str],
    /// Classes of finding an open issue explains (reported apart).
    pub known: &'static [Known],
}

/// A deployment built for fuzzing, reused for every seed of a session.
#[derive(Debug)]
pub struct Built {
    deployment: Deployment,
    kernel: PathBuf,
}

/// Builds `fuzzer`'s deployment (release, as the tests run).
pub fn build(workspace: &Workspace, fuzzer: &Fuzzer) -> Result<Built, String> {
    let (deployment, artifacts) =
        crate::prepare(workspace, Profile::Release, Some(fuzzer.deployment))?;
    Ok(Built {
        deployment,
        kernel: artifacts.kernel,
    })
}

/// The deployment's modules in a directory of the run's own (QEMU takes
/// them from one directory, each under its name): the images named in
/// `fuzzer` patched with the run's parameters, the others as they are.
fn patched(
    workspace: &Workspace,
    fuzzer: &Fuzzer,
    built: &Built,
    run: Params,
) -> Result<Deployment, String> {
    let dir = workspace
        .out_dir()
        .join("fuzz")
        .join(format!("{}-{:016x}", fuzzer.deployment, run.seed));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut deployment = built.deployment.clone();
    for image in fuzzer.images {
        if !deployment.modules.iter().any(|m| m.name == *image) {
            return Err(format!(
                "deployment {} has no image {image}",
                fuzzer.deployment
            ));
        }
    }
    for module in &mut deployment.modules {
        let mut bytes = std::fs::read(&module.source)
            .map_err(|e| format!("{}: {e}", module.source.display()))?;
        if fuzzer.images.contains(&module.name.as_str()) {
            params::patch(&mut bytes, run).map_err(|e| format!("image {}: {e}", module.name))?;
        }
        let copy = dir.join(&module.name);
        std::fs::write(&copy, bytes).map_err(|e| format!("{}: {e}", copy.display()))?;
        module.source = copy;
    }
    Ok(deployment)
}

/// The last progress line of `log` (what the fuzzer printed last).
fn last_progress<'a>(log: &'a str, marker: &str) -> Option<&'a str> {
    log.lines().rfind(|l| l.contains(marker))
}

/// The operation a `FINDING at operation N` line names.
fn operation_of(line: &str) -> Option<u64> {
    let rest = line.split("at operation ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// What the log and the end of the boot say.
pub fn judge(fuzzer: &Fuzzer, log: &str, ended: &Ended) -> Vec<Finding> {
    let mut findings: Vec<Finding> = log
        .lines()
        .filter(|l| l.contains("FINDING"))
        .map(|l| Finding {
            operation: operation_of(l),
            what: l.trim().to_owned(),
        })
        .collect();
    let progress = last_progress(log, fuzzer.progress).unwrap_or("(no progress line)");
    let kernel_fault = log.lines().find(|l| {
        l.contains("kernel exception:") || l.contains("ERROR] panic at") || l.contains("fatal:")
    });
    // A component of the fuzzer's that panicked or faulted, or a
    // deployment that stalled.
    let component_end = log
        .lines()
        .find(|l| l.contains("deployment stalled") || fuzzer.broken.iter().any(|m| l.contains(m)));
    if let Some(line) = component_end {
        findings.push(Finding {
            operation: None,
            what: format!(
                "the deployment broke: {} (last progress: {progress})",
                line.trim()
            ),
        });
    }
    if let Some(line) = kernel_fault {
        findings.push(Finding {
            operation: None,
            what: format!(
                "the kernel faulted: {} (last progress: {progress})",
                line.trim()
            ),
        });
    }
    if let Some(line) = log.lines().find(|l| l.contains("kernel audit: FAILED")) {
        findings.push(Finding {
            operation: None,
            what: format!("the kernel audit at the end failed: {}", line.trim()),
        });
    }
    match ended {
        Ended::Verdict(Verdict::Pass) => {}
        Ended::Verdict(Verdict::Fail) if !findings.is_empty() => {}
        other => findings.push(Finding {
            operation: None,
            what: format!(
                "the run ended with {other} and no finding named (last progress: {progress})"
            ),
        }),
    }
    findings
}

/// One run: `operations` operations of `seed`.
pub fn run(
    workspace: &Workspace,
    fuzzer: &Fuzzer,
    built: &Built,
    run: Params,
) -> Result<Outcome, String> {
    let deployment = patched(workspace, fuzzer, built, run)?;
    let serial_log = workspace.logs_dir().join(format!(
        "fuzz-{}-{:016x}.serial.log",
        fuzzer.deployment, run.seed
    ));
    let (smp, memory_mib) = deployment.machine(Overrides::default())?;
    let config = QemuConfig {
        accel: accel::choose().accel,
        boot: Boot::Kernel {
            kernel: built.kernel.clone(),
            cmdline: deployment.cmdline.clone(),
            initrd: crate::qemu::command::initrd(&deployment.modules)?,
        },
        smp,
        memory_mib,
        serial: Serial::File(serial_log.clone()),
        gdb: false,
        extra: Vec::new(),
    };
    let options = Options {
        limit: Some(Limit::DEFAULT),
        echo: Echo::Quiet,
        input: &[],
    };
    let started = Instant::now();
    let finished = process::run(&config, options)?;
    let log = serial_log::read_clean(&serial_log);
    let outcome = Outcome::sort_known(judge(fuzzer, &log, &finished.outcome), fuzzer.known);
    println!(
        "fuzz {}: seed {}: {} operations in {:.1} s, {} findings, {} known (serial log {})",
        fuzzer.deployment,
        Seed(run.seed),
        run.operations,
        started.elapsed().as_secs_f64(),
        outcome.findings.len(),
        outcome.known.len(),
        serial_log.display()
    );
    if let Some(summary) = last_progress(&log, fuzzer.progress) {
        println!("  {}", summary.trim());
    }
    for finding in &outcome.findings {
        println!("  {}", finding.what);
    }
    for finding in &outcome.known {
        let why = fuzzer
            .known
            .iter()
            .find(|k| finding.what.contains(k.pattern));
        println!("  known ({}): {}", why.map_or("", |k| k.why), finding.what);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUZZER: Fuzzer = Fuzzer {
        deployment: "fuzz-syscalls",
        images: &["fuzz-syscalls"],
        progress: "fuzz-syscalls:",
        broken: &["fuzz-syscalls faulted", "[fuzz-syscalls cpu0] ERROR panic"],
        known: &[Known {
            pattern: "live domains",
            why: "an open issue",
            only_with: None,
        }],
    };

    #[test]
    fn findings_name_their_operation() {
        let log = "[fuzz-syscalls cpu0] INFO fuzz-syscalls: 1000 of 2000 operations\n\
                   [fuzz-syscalls cpu0] ERROR fuzz-syscalls: FINDING at operation 1234 of seed 0x1: x\n";
        let findings = judge(&FUZZER, log, &Ended::Verdict(Verdict::Fail));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].operation, Some(1234));
    }

    #[test]
    fn a_kernel_fault_names_the_last_progress() {
        let log = "[fuzz-syscalls cpu0] INFO fuzz-syscalls: 3000 of 9000 operations\n\
                   [kernel cpu1 ERROR] panic at kernel/src/x.rs:1:1: boom\n";
        let findings = judge(&FUZZER, log, &Ended::Verdict(Verdict::Fail));
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].what.contains("3000 of 9000"),
            "{}",
            findings[0].what
        );
        let silent = judge(&FUZZER, "", &Ended::Verdict(Verdict::Fail));
        assert_eq!(silent.len(), 1);
        assert!(judge(&FUZZER, "", &Ended::Verdict(Verdict::Pass)).is_empty());
    }

    #[test]
    fn known_findings_are_kept_apart_and_the_rest_still_fail() {
        let log = "[fuzz-syscalls cpu0] ERROR fuzz-syscalls: FINDING at operation 9 of seed 0x1: live domains: 2 at the start, 9 now\n\
                   [fuzz-syscalls cpu0] ERROR fuzz-syscalls: FINDING at operation 9 of seed 0x1: live regions: 0 at the start, 1 now\n";
        let outcome = Outcome::sort_known(
            judge(&FUZZER, log, &Ended::Verdict(Verdict::Fail)),
            FUZZER.known,
        );
        assert_eq!(outcome.known.len(), 1);
        assert_eq!(outcome.findings.len(), 1);
        assert!(outcome.findings[0].what.contains("live regions"));
        // A broken run stays a finding even if every line it named is known.
        let stalled = format!("{log}deployment stalled\n");
        let outcome = Outcome::sort_known(
            judge(&FUZZER, &stalled, &Ended::Verdict(Verdict::Fail)),
            FUZZER.known,
        );
        assert_eq!(outcome.findings.len(), 2);
        // A class known only next to another is a finding on its own.
        let with = |other| Known {
            pattern: "live regions",
            why: "a consequence",
            only_with: Some(other),
        };
        let judged = || judge(&FUZZER, log, &Ended::Verdict(Verdict::Fail));
        let outcome = Outcome::sort_known(judged(), &[with("live domains")]);
        assert_eq!((outcome.known.len(), outcome.findings.len()), (1, 1));
        let outcome = Outcome::sort_known(judged(), &[with("live partitions")]);
        assert_eq!((outcome.known.len(), outcome.findings.len()), (0, 2));
    }
}
