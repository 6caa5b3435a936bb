//! System tests: whole boots under QEMU, judged by the guest's verdict
//! (isa-debug-exit) and by markers in the serial log.
//!
//! A test is data ([`SystemTest`], every one in [`catalog::SYSTEM_TESTS`])
//! and is judged by a pure function ([`judge::check`]); this module runs
//! them: `cargo xtask test [FILTER]` boots those whose name contains
//! FILTER, each within a limit that watches progress
//! ([`crate::qemu::progress`]), and prints its time. A test boots the
//! kernel alone (`deployment: None`), a deployment of the tree
//! (`boot/deployments/NAME.toml`), or one made outside the tree at test
//! time ([`outside::OUTSIDE_TREE`]).

mod catalog;
mod judge;
mod markers;
mod outside;
mod prepare;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use catalog::SYSTEM_TESTS;
pub use judge::check;

use crate::qemu;
use crate::qemu::accel::{self, Accel, Choice};
use crate::qemu::command::{Boot, QemuConfig, Serial};
use crate::qemu::process::{self, Echo, Finished, Options};
use crate::qemu::progress::Limit;
use crate::qemu::script::InputStep;
use crate::qemu::status::Verdict;
use crate::serial_log;
use crate::tally::Tally;
use crate::workspace::Workspace;
pub use prepare::{Prepared, prepare};

/// How a system test boots the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMethod {
    /// QEMU's Multiboot1 loader (`-kernel`).
    Kernel,
    /// GRUB from the deployment's ISO (Multiboot2).
    Grub,
}

/// How a system test must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The kernel's verdict pass.
    Pass,
    /// The kernel's verdict fail.
    Fail,
    /// QEMU ends without a verdict because the input typed Ctrl-A X.
    Quit,
}

impl Expect {
    /// The verdict this expects, if it expects one.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Self::Pass => Some(Verdict::Pass),
            Self::Fail => Some(Verdict::Fail),
            Self::Quit => None,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict() {
            Some(verdict) => write!(f, "verdict {verdict}"),
            None => f.write_str("QEMU to end by Ctrl-A X"),
        }
    }
}

/// What a test asks of the kernel's exit statistics (`exit_stats.rs`).
#[derive(Debug, Clone, Copy)]
pub struct ExitStatsCheck {
    /// `(partition, exit reason, outcome, at least)`.
    pub at_least: &'static [(&'static str, &'static str, &'static str, u64)],
    /// `(partition, route, at least)` forwarded exits.
    pub routes_at_least: &'static [(&'static str, &'static str, u64)],
}

/// One system test, as data.
#[derive(Debug, Clone, Copy)]
pub struct SystemTest {
    pub name: &'static str,
    /// The deployment to boot: `boot/deployments/NAME.toml`, or one of
    /// [`outside::OUTSIDE_TREE`]; `None` boots the kernel alone, with no
    /// modules.
    pub deployment: Option<&'static str>,
    pub boot: BootMethod,
    /// A TCG CPU model; `None` uses the host's accelerator choice.
    pub cpu: Option<&'static str>,
    pub smp: u32,
    /// Words appended to the deployment's kernel command line (`-kernel` boots only).
    pub extra_cmdline: &'static str,
    pub expect: Expect,
    /// Substrings the serial log must contain.
    pub markers: &'static [&'static str],
    /// Substrings the serial log must not contain (a fault, a complaint).
    pub absent: &'static [&'static str],
    /// What to type into COM1, and when (the serial console then reads
    /// QEMU's standard input, as in an interactive run).
    pub input: &'static [InputStep],
    /// At most how many lines of the log may hold each substring: a guest
    /// must not be able to make the kernel print a line per exit (issue 9
    /// finding 6).
    pub line_limits: &'static [(&'static str, usize)],
    /// The exit statistics the log must show (the test's command line
    /// then asks for them: `exit-stats=on`).
    pub exit_stats: Option<ExitStatsCheck>,
    /// Pairs of prefixes, each followed in the log by a decimal number:
    /// the two numbers must be equal (a value the kernel logs and a guest
    /// reads back, such as the TSC frequency).
    pub same_numbers: &'static [(&'static str, &'static str)],
    /// Why `cargo xtask test --nested` cannot run this test, if it cannot
    /// (printed as the test's `skipped` line; the TCG run still runs it).
    pub not_nested: Option<&'static str>,
    /// Run QEMU with `-icount shift=0,sleep=off`: the guests' time is the
    /// instructions they run, the same on every run and on any host (as
    /// for `cargo xtask bench`). TCG only.
    pub icount: bool,
}

impl SystemTest {
    /// What most tests share; a test names what it changes.
    pub const DEFAULT: Self = Self {
        name: "",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Expect::Pass,
        markers: &[],
        absent: &[],
        input: &[],
        line_limits: &[],
        exit_stats: None,
        same_numbers: &[],
        not_nested: None,
        icount: false,
    };
}

/// The tests whose name contains `filter` (all of them for `None`), in
/// catalog order.
pub fn select(filter: Option<&str>) -> Vec<&'static SystemTest> {
    SYSTEM_TESTS
        .iter()
        .filter(|test| filter.is_none_or(|f| test.name.contains(f)))
        .collect()
}

/// `tests` run `times` times over, every test once per round, so that
/// `--repeat` counts an intermittent failure instead of finding it once.
pub fn repeated(tests: &[&'static SystemTest], times: u32) -> Vec<&'static SystemTest> {
    (0..times).flat_map(|_| tests.iter().copied()).collect()
}

/// `cargo xtask test --list`: one line per selected test.
pub fn list(tests: &[&SystemTest]) -> String {
    let mut out = String::new();
    for test in tests {
        let boots = match test.deployment {
            None => "the kernel alone".to_owned(),
            Some(name) if outside::find(name).is_some() => {
                format!("deployment {name} (made outside the tree)")
            }
            Some(name) => format!("deployment {name}"),
        };
        let how = match test.boot {
            BootMethod::Kernel => "",
            BootMethod::Grub => ", through GRUB",
        };
        out.push_str(&format!("{}: {boots}{how}\n", test.name));
    }
    out
}

/// How many serial log lines a failure shows.
const TAIL_LINES: usize = 40;

/// Builds what `tests` boot, then runs each in turn; each prints its time.
/// Per-test figures (wall time, QEMU CPU time, the longest stretch without
/// output) go to `system-tests.tsv` in the log directory.
pub fn run(workspace: &Workspace, tests: &[&'static SystemTest]) -> Tally {
    let mut tally = Tally::default();
    if tests.is_empty() {
        return tally;
    }
    let prepared = prepare::prepare(workspace, tests);
    let host_choice = accel::choose();
    if prepared.is_ok() {
        println!("{}", host_choice.describe());
    }
    let mut figures = String::from("test\tresult\twall_s\tcpu_s\tlongest_quiet_cpu_s\n");
    for test in tests {
        print!("system test {} ... ", test.name);
        let _ = io::stdout().flush();
        let result = match &prepared {
            Ok(prepared) => run_one(workspace, prepared, &host_choice, test),
            Err(e) => Err(Failure::without_log(e.clone())),
        };
        let finished: Option<&Finished> = match &result {
            Ok(finished) => Some(finished),
            Err(failure) => failure.finished.as_deref(),
        };
        let timing = finished.map_or(String::new(), |f| {
            format!(" ({:.1} s)", f.elapsed.as_secs_f64())
        });
        if let Some(f) = finished {
            figures.push_str(&format!(
                "{}\t{}\t{:.1}\t{:.1}\t{:.2}\n",
                test.name,
                if result.is_ok() { "ok" } else { "FAILED" },
                f.elapsed.as_secs_f64(),
                f.cpu.as_secs_f64(),
                f.longest_quiet_cpu.as_secs_f64()
            ));
        }
        match &result {
            Ok(_) => {
                println!("ok{timing}");
                tally += Tally::PASSED;
            }
            Err(failure) => {
                println!("FAILED{timing}: {}", failure.reason);
                show_failure(failure);
                tally += Tally::FAILED;
            }
        }
    }
    let _ = fs::write(workspace.logs_dir().join("system-tests.tsv"), figures);
    tally
}

/// Why a system test failed, and what to show.
#[derive(Debug)]
struct Failure {
    reason: String,
    serial_log: Option<PathBuf>,
    finished: Option<Box<Finished>>,
}

impl Failure {
    fn without_log(reason: String) -> Self {
        Self {
            reason,
            serial_log: None,
            finished: None,
        }
    }
}

fn run_one(
    workspace: &Workspace,
    prepared: &Prepared,
    host_choice: &Choice,
    test: &SystemTest,
) -> Result<Finished, Failure> {
    let accel = match test.cpu {
        Some(cpu) => Choice::tcg_with(cpu).accel,
        None => host_choice.accel.clone(),
    };
    let log = workspace
        .logs_dir()
        .join(format!("{}.serial.log", test.name));
    let config = qemu_config(test, prepared, accel, log.clone()).map_err(Failure::without_log)?;
    let options = Options {
        limit: Some(Limit::DEFAULT),
        echo: Echo::Quiet,
        input: test.input,
    };
    let finished = process::run(&config, options).map_err(Failure::without_log)?;
    let text = serial_log::read_clean(&log);
    match check(test, &finished.outcome, &text) {
        Ok(()) => Ok(finished),
        Err(mut reason) => {
            if let Some(waiting) = finished.input_waiting_for {
                reason.push_str(&format!("; the input still waited for {waiting:?}"));
            }
            Err(Failure {
                reason,
                serial_log: Some(log),
                finished: Some(Box::new(finished)),
            })
        }
    }
}

/// The QEMU command line of `test`: its machine, the files `prepared`
/// holds for it, the accelerator given, COM1 into `serial_log` (and, for a
/// test that types input, from QEMU's standard input).
pub fn qemu_config(
    test: &SystemTest,
    prepared: &Prepared,
    accel: Accel,
    serial_log: PathBuf,
) -> Result<QemuConfig, String> {
    let deployment = prepared.deployment(test.deployment)?;
    let boot = match test.boot {
        BootMethod::Kernel => Boot::Kernel {
            kernel: prepared.kernel.clone(),
            cmdline: format!("{} {}", deployment.cmdline, test.extra_cmdline)
                .trim_end()
                .to_string(),
            initrd: qemu::command::initrd(&deployment.modules)?,
        },
        BootMethod::Grub => Boot::Cdrom {
            iso: prepared.iso(test.deployment)?,
        },
    };
    let serial = if test.input.is_empty() {
        Serial::File(serial_log)
    } else {
        Serial::Console(serial_log)
    };
    Ok(QemuConfig {
        accel,
        boot,
        smp: test.smp,
        memory_mib: u32::try_from(deployment.need.default_mib()).unwrap_or(u32::MAX),
        serial,
        gdb: false,
        extra: if test.icount {
            vec!["-icount".into(), "shift=0,sleep=off".into()]
        } else {
            Vec::new()
        },
    })
}

fn show_failure(failure: &Failure) {
    if let Some(stderr) = failure
        .finished
        .as_ref()
        .map(|f| f.stderr.trim())
        .filter(|s| !s.is_empty())
    {
        println!("--- QEMU stderr ---");
        println!("{stderr}");
    }
    if let Some(path) = &failure.serial_log {
        show_tail(path);
    }
}

/// Where the nested run's `/init` appends QEMU's vCPU registers to a stalled
/// test's log (`dump_cpus` in `nested/init.sh`).
pub const CPU_DUMP_MARKER: &str = "nested: QEMU's vCPUs when the serial log stopped growing:";

/// The log's last lines; a vCPU dump appended after a stall is shown whole
/// after them, so it never pushes Tessera's own last lines out of view.
pub fn show_tail(path: &Path) {
    let log = serial_log::read_clean(path);
    let (tessera, cpu_dump) = match log.find(CPU_DUMP_MARKER) {
        Some(at) => log.split_at(at),
        None => (log.as_str(), ""),
    };
    println!("--- last {TAIL_LINES} lines of {} ---", path.display());
    for line in serial_log::tail(tessera, TAIL_LINES) {
        println!("{line}");
    }
    if !cpu_dump.is_empty() {
        print!("{cpu_dump}");
    }
    println!("--- end of serial log ---");
}
