//! `cargo xtask bench`: what the kernel's paths cost, in instructions.
//!
//! The bench deployment (boot/deployments/bench.toml) runs under QEMU's TCG
//! with `-icount shift=0,sleep=off`, where the guest's time-stamp counter
//! advances by one per executed instruction: the figures are instruction
//! counts, the same on every run and on a loaded machine. The bench
//! component prints `bench: <what>: <n> instructions`; this collects them.
//!
//! Then it boots the same way boot/deployments/vm-bench.toml, where the
//! guest bench-guest prints `bench: cpuid-kernel <n>` (a CPUID the kernel
//! answers), `bench: cpuid-forwarded <n>` (one routed to probe-device),
//! `bench: port-write-forwarded <n>` (an OUT to probe-device's scratch
//! port, forwarded with its TLFS intercept body), `bench: exit-bare <n>` (an IN from a port nothing routes, which the
//! kernel answers alone: the least an exit costs) and, as its
//! partition has the Hv#1 interface (`hv = ["hv-relaxed", ...]`),
//! `bench: hypercall-fast <n>` and `bench: hypercall-memory <n>`
//! (HvCallNotifyLongSpinWait), and, with its local APIC and direct-mode
//! synthetic timers, `bench: eoi-x2apic <n>`, `bench: self-ipi <n>` and
//! `bench: stimer-direct <n>` (a direct-mode timer's expiry to its
//! handler), and, with ports and connections to itself, `bench:
//! post-message <n>` (HvPostMessage to its SINT's handler) and `bench:
//! signal-event-fast <n>` (a fast HvSignalEvent), in instructions each, through its serial port. Last it boots boot/deployments/vm-bench-smp.toml, where the
//! guest smp-bench prints `bench: ipi-remote-halted <n>`, `bench:
//! port-read-remote-handler <n>` and `bench:
//! ipi-remote-running <n>` (an IPI to a VP on the other host CPU,
//! [`SMP_PATHS`] says exactly what is counted), and
//! boot/deployments/vm-bench-smp-pinned.toml for the same port read with
//! the handler kept on the busy CPU ([`PINNED_PATHS`]). One table shows every path with its count, its target and Linux
//! KVM's count for the same path (measured with the same `-icount` method
//! on the same QEMU), so a regression or a target met is seen at once.
use crate::machine::Overrides;
use crate::qemu::accel::Accel;
use crate::qemu::command::{Boot, QemuConfig, Serial};
use crate::qemu::process::{self, Echo, Options};
use crate::qemu::progress::Limit;
use crate::qemu::status::{Outcome, Verdict};
use crate::{deployment::Deployment, serial_log, workspace::Workspace};
use std::path::Path;

pub const DEPLOYMENT: &str = "bench";
/// The deployment of the guest-exit figures.
pub const VM_DEPLOYMENT: &str = "vm-bench";
/// The deployment of the cross-CPU IPI figures (2 VPs on 2 host CPUs).
pub const SMP_DEPLOYMENT: &str = "vm-bench-smp";
/// The same with `devices` kept on CPU 0 by its affinity.
pub const PINNED_DEPLOYMENT: &str = "vm-bench-smp-pinned";

/// One measured path: the name its bench prints, how the table names it,
/// our target (instructions, from issue 11 and the project's rules) and
/// Linux KVM's figure for the same path on the same QEMU `-icount` setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchPath {
    pub name: &'static str,
    pub label: &'static str,
    pub target: Option<u64>,
    pub kvm: Option<u64>,
}

/// The paths the bench component reports (`bench: NAME: N instructions`).
pub const COMPONENT_PATHS: &[BenchPath] = &[
    BenchPath {
        name: "syscall round trip",
        label: "system call round trip",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "ipc call/reply round trip",
        label: "component IPC call/reply",
        target: Some(500),
        kvm: None,
    },
];

/// The paths bench-guest reports (`bench: NAME N`). KVM's forwarded figure
/// is an OUT sent to its userspace VMM and back, the path a forwarded exit
/// replaces.
pub const GUEST_PATHS: &[BenchPath] = &[
    BenchPath {
        name: "cpuid-kernel",
        label: "CPUID answered by the kernel",
        target: Some(200),
        kvm: Some(3120),
    },
    BenchPath {
        name: "cpuid-forwarded",
        label: "CPUID forwarded to a component",
        target: Some(600),
        kvm: Some(3578),
    },
    BenchPath {
        name: "port-write-forwarded",
        label: "port write forwarded (TLFS body)",
        target: Some(900),
        kvm: Some(3578),
    },
    BenchPath {
        name: "exit-bare",
        label: "absent port IN, in the kernel",
        target: Some(200),
        kvm: None,
    },
    BenchPath {
        name: "hypercall-fast",
        label: "fast hypercall in the kernel",
        target: Some(200),
        kvm: Some(3632),
    },
    BenchPath {
        name: "hypercall-memory",
        label: "memory-based hypercall",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "eoi-x2apic",
        label: "EOI through the x2APIC MSR",
        target: Some(250),
        kvm: None,
    },
    BenchPath {
        name: "self-ipi",
        label: "self-IPI, ICR write to handler",
        target: Some(600),
        kvm: None,
    },
    BenchPath {
        name: "timer-interrupt",
        label: "APIC timer interrupt, guest's cost",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "stimer-direct",
        label: "direct stimer expiry to handler",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "post-message",
        label: "HvPostMessage to the handler",
        target: Some(1500),
        kvm: None,
    },
    BenchPath {
        name: "signal-event-fast",
        label: "fast HvSignalEvent (connection)",
        target: Some(400),
        kvm: None,
    },
];

/// The paths smp-bench reports (`bench: NAME N`): from just before VP
/// 0's x2APIC ICR write to VP 1's interrupt recorder (13 instructions into
/// its handler), VP 1 on the other host CPU. Under -icount QEMU runs the
/// virtual CPUs in turn on one thread and the TSC counts the instructions
/// of both, so the figure is every instruction either host CPU executed in
/// between (the sender's exit, post and kick and its spinning after it;
/// the target CPU's wake-up or exit, injection and entry). The port read
/// is VP 1's own TSC across an `IN` from COM1 whose handler was last on VP
/// 0's host CPU while VP 0 spins (a waiting handler comes to VP 1's CPU).
pub const SMP_PATHS: &[BenchPath] = &[
    BenchPath {
        name: "ipi-remote-halted",
        label: "IPI to a halted VP, other CPU",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "ipi-remote-running",
        label: "IPI to a running VP, other CPU",
        target: None,
        kvm: None,
    },
    BenchPath {
        name: "port-read-remote-handler",
        label: "port read, handler from the busy CPU",
        target: None,
        kvm: None,
    },
];

/// `name → instructions` from the serial log.
pub fn parse(log: &str) -> Vec<(String, u64)> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find("bench: ")? + "bench: ".len()..];
            let (name, value) = rest.rsplit_once(": ")?;
            let count = value.strip_suffix(" instructions")?.trim().parse().ok()?;
            Some((name.to_string(), count))
        })
        .collect()
}

/// `name → count` of bench-guest's `bench: NAME N` lines (wherever they sit
/// in a line: the serial device's component tags them, perhaps with a tag
/// that ends in `bench: ` too, so the last `bench: ` counts).
pub fn parse_guest(log: &str) -> Vec<(String, u64)> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.rfind("bench: ")? + "bench: ".len()..];
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            let count = words.next()?.parse().ok()?;
            if words.next().is_some() || name.ends_with(':') {
                return None;
            }
            Some((name.to_string(), count))
        })
        .collect()
}

/// Each of `paths` with its count from `figures`, or which is missing (a
/// missing figure is an error, never a zero).
pub fn measured(
    paths: &'static [BenchPath],
    figures: &[(String, u64)],
    source: &str,
) -> Result<Vec<(BenchPath, u64)>, String> {
    paths
        .iter()
        .map(|path| {
            figures
                .iter()
                .find(|(name, _)| name == path.name)
                .map(|&(_, count)| (*path, count))
                .ok_or_else(|| format!("{source} did not report {:?}", path.name))
        })
        .collect()
}

/// The one table: each path, its count, the target and whether it is met,
/// Linux KVM's count and how many times cheaper ours is.
pub fn table(rows: &[(BenchPath, u64)]) -> String {
    let mut out = String::from(
        "instructions per path (QEMU TCG, -icount shift=0: the TSC counts instructions)\n",
    );
    out.push_str(&format!(
        "  {:<32} {:>12} {:>8} {:<8} {:>9} {:>7}\n",
        "path", "instructions", "target", "", "Linux KVM", "ratio"
    ));
    for (path, count) in rows {
        let (target, verdict) = match path.target {
            Some(target) if *count <= target => (format!("<= {target}"), "met"),
            Some(target) => (format!("<= {target}"), "OVER"),
            None => ("-".into(), ""),
        };
        let (kvm, ratio) = match path.kvm {
            Some(kvm) => (
                kvm.to_string(),
                format!("{:.1}x", kvm as f64 / (*count).max(1) as f64),
            ),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!(
            "  {:<32} {:>12} {:>8} {:<8} {:>9} {:>7}\n",
            path.label, count, target, verdict, kvm, ratio
        ));
    }
    let over = rows
        .iter()
        .filter(|(path, count)| path.target.is_some_and(|t| *count > t))
        .count();
    let with_target = rows
        .iter()
        .filter(|(path, _)| path.target.is_some())
        .count();
    out.push_str(&format!(
        "  {} of {with_target} paths with a target meet it (ratio: Linux KVM's count over ours)\n",
        with_target - over
    ));
    out
}

/// Boots the component bench and returns its paths' counts.
pub fn run(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<Vec<(BenchPath, u64)>, String> {
    let log = boot(workspace, deployment, kernel, "bench")?;
    measured(COMPONENT_PATHS, &parse(&log), "the bench component")
}

/// Boots vm-bench and returns the guest paths' counts.
pub fn run_guest(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<Vec<(BenchPath, u64)>, String> {
    let log = boot(workspace, deployment, kernel, "vm-bench")?;
    measured(GUEST_PATHS, &parse_guest(&log), "bench-guest")
}

/// The port read of [`SMP_PATHS`] in vm-bench-smp-pinned, where the
/// handler may not come to VP 1's CPU: what the busy CPU's interrupt for
/// the woken handler alone gives.
pub const PINNED_PATHS: &[BenchPath] = &[BenchPath {
    name: "port-read-remote-handler",
    label: "port read, handler pinned busy CPU",
    target: None,
    kvm: None,
}];

/// Boots `deployment` (vm-bench-smp or vm-bench-smp-pinned) and returns
/// smp-bench's figures of `paths`.
pub fn run_smp(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
    paths: &'static [BenchPath],
) -> Result<Vec<(BenchPath, u64)>, String> {
    let log = boot(workspace, deployment, kernel, &deployment.name)?;
    measured(paths, &parse_guest(&log), "smp-bench")
}

/// Boots `deployment` under -icount and returns its serial log, if it passed.
fn boot(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
    log_name: &str,
) -> Result<String, String> {
    let icount = vec!["-icount".into(), "shift=0,sleep=off".into()];
    boot_with(workspace, deployment, kernel, log_name, icount)
}

/// Boots `deployment` under TCG with `extra` QEMU arguments and returns
/// its serial log (`<log_name>.serial.log`), if it passed.
pub fn boot_with(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
    log_name: &str,
    extra: Vec<String>,
) -> Result<String, String> {
    let serial_log = workspace.logs_dir().join(format!("{log_name}.serial.log"));
    let (smp, memory_mib) = deployment.machine(Overrides::default())?;
    let boot = Boot::Kernel {
        kernel: kernel.to_path_buf(),
        cmdline: deployment.cmdline.clone(),
        initrd: crate::qemu::command::initrd(&deployment.modules)?,
    };
    let (outcome, log) = run_tcg(boot, smp, memory_mib, &serial_log, extra)?;
    if outcome != Outcome::Verdict(Verdict::Pass) {
        let tail = serial_log::tail(&log, 20).join("\n");
        return Err(format!(
            "the {} deployment failed: {outcome}\n{tail}",
            deployment.name
        ));
    }
    Ok(log)
}

/// Runs QEMU's TCG with `-cpu EPYC`, quietly and with the system tests'
/// progress limit, COM1 to `serial_log`: how it ended, and the log.
pub fn run_tcg(
    boot: Boot,
    smp: u32,
    memory_mib: u32,
    serial_log: &Path,
    extra: Vec<String>,
) -> Result<(Outcome, String), String> {
    let config = QemuConfig {
        accel: Accel::Tcg { cpu: "EPYC".into() },
        boot,
        smp,
        memory_mib,
        serial: Serial::File(serial_log.to_path_buf()),
        gdb: false,
        extra,
    };
    let options = Options {
        limit: Some(Limit::DEFAULT),
        echo: Echo::Quiet,
        input: &[],
    };
    let finished = process::run(&config, options)?;
    Ok((finished.outcome, serial_log::read_clean(serial_log)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[kernel cpu0 INFO] component bench: started (domain 1, priority 5, cpu 0)
[bench cpu0] INFO bench: loop overhead: 9 instructions
[bench cpu0] INFO bench: syscall round trip: 120 instructions
[bench cpu0] INFO bench: ipc call/reply round trip: 1500 instructions
[kernel cpu0 INFO] tessera: verdict pass
";

    #[test]
    fn figures_are_read_from_the_component_lines() {
        let figures = parse(LOG);
        assert_eq!(
            figures,
            [
                ("loop overhead".to_string(), 9),
                ("syscall round trip".to_string(), 120),
                ("ipc call/reply round trip".to_string(), 1500),
            ]
        );
        let rows = measured(COMPONENT_PATHS, &figures, "the bench component").unwrap();
        assert_eq!(
            rows.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [120, 1500]
        );
    }

    const GUEST_LOG: &str = "\
[partition-manager cpu0] INFO partition bench: VP 0 started at rip 0x100000
[devices cpu0] INFO bench: # tessera-guest: bench-guest starting
[devices cpu0] INFO bench: ok 1 - the forwarded leaf is the probe's
[devices cpu0] INFO bench: bench: cpuid-kernel 1834
[devices cpu0] INFO bench: bench: cpuid-forwarded 25312
[devices cpu0] INFO bench: bench: port-write-forwarded 3000
[devices cpu0] INFO bench: bench: exit-bare 150
[devices cpu0] INFO bench: bench: hypercall-fast 260
[devices cpu0] INFO bench: bench: hypercall-memory 700
[devices cpu0] INFO bench: bench: eoi-x2apic 240
[devices cpu0] INFO bench: bench: self-ipi 900
[devices cpu0] INFO bench: bench: timer-interrupt 1500
[devices cpu0] INFO bench: bench: stimer-direct 1200
[devices cpu0] INFO bench: bench: post-message 1400
[devices cpu0] INFO bench: bench: signal-event-fast 390
[kernel cpu0 INFO] tessera: verdict pass
";

    #[test]
    fn guest_figures_are_read_from_the_serial_lines() {
        let figures = parse_guest(GUEST_LOG);
        assert_eq!(
            figures,
            [
                ("cpuid-kernel".to_string(), 1834),
                ("cpuid-forwarded".to_string(), 25312),
                ("port-write-forwarded".to_string(), 3000),
                ("exit-bare".to_string(), 150),
                ("hypercall-fast".to_string(), 260),
                ("hypercall-memory".to_string(), 700),
                ("eoi-x2apic".to_string(), 240),
                ("self-ipi".to_string(), 900),
                ("timer-interrupt".to_string(), 1500),
                ("stimer-direct".to_string(), 1200),
                ("post-message".to_string(), 1400),
                ("signal-event-fast".to_string(), 390),
            ]
        );
        let rows = measured(GUEST_PATHS, &figures, "bench-guest").unwrap();
        let table = table(&rows);
        // Each row: label, count, target and verdict, KVM's count and the
        // ratio KVM / ours.
        assert!(
            table.contains(
                "  CPUID answered by the kernel             1834   <= 200 OVER          3120    1.7x\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  absent port IN, in the kernel             150   <= 200 met              -       -\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  memory-based hypercall                    700        -                  -       -\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  EOI through the x2APIC MSR                240   <= 250 met              -       -\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  self-IPI, ICR write to handler            900   <= 600 OVER             -       -\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  port write forwarded (TLFS body)         3000   <= 900 OVER          3578    1.2x\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  direct stimer expiry to handler          1200        -                  -       -\n"
            ),
            "{table}"
        );
        assert!(
            table.ends_with(
                "  4 of 9 paths with a target meet it (ratio: Linux KVM's count over ours)\n"
            ),
            "{table}"
        );
        // The component bench's lines are not guest figures, and back.
        assert!(parse_guest(LOG).is_empty());
        assert!(parse(GUEST_LOG).is_empty());
        let missing = GUEST_LOG.replace("bench: cpuid-forwarded 25312", "");
        assert_eq!(
            measured(GUEST_PATHS, &parse_guest(&missing), "bench-guest").unwrap_err(),
            "bench-guest did not report \"cpuid-forwarded\""
        );
    }

    #[test]
    fn a_missing_figure_is_an_error_not_a_zero() {
        let log = LOG.replace("bench: syscall round trip: 120 instructions", "garbled");
        assert_eq!(
            measured(COMPONENT_PATHS, &parse(&log), "the bench").unwrap_err(),
            "the bench did not report \"syscall round trip\""
        );
    }
}
