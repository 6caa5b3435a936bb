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
//! `bench: exit-bare <n>` (an IN from a port nothing routes, which the
//! kernel answers alone: the least an exit costs) and, as its
//! partition has the Hv#1 interface (`hv = ["hv-relaxed"]`),
//! `bench: hypercall-fast <n>` and `bench: hypercall-memory <n>`
//! (HvCallNotifyLongSpinWait), in instructions each, through its serial
//! port; the table shows them next to the component figures.
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

/// The figures the bench component must report, in print order.
pub const FIGURES: &[&str] = &["syscall round trip", "ipc call/reply round trip"];

/// The figures bench-guest prints (`bench: NAME N`), and how the table
/// names them, in print order.
pub const GUEST_FIGURES: &[(&str, &str)] = &[
    ("cpuid-kernel", "cpuid answered by the kernel"),
    ("cpuid-forwarded", "cpuid forwarded to a component"),
    ("exit-bare", "absent port IN, in the kernel"),
    ("hypercall-fast", "fast hypercall in the kernel"),
    ("hypercall-memory", "memory-based hypercall"),
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

/// The guest figures' rows of the table, or what is missing.
pub fn report_guest(figures: &[(String, u64)]) -> Result<String, String> {
    let mut out = String::new();
    for (wanted, label) in GUEST_FIGURES {
        let Some((_, count)) = figures.iter().find(|(name, _)| name == wanted) else {
            return Err(format!("bench-guest did not report {wanted:?}"));
        };
        out.push_str(&format!("  {label:<32} {count:>6}\n"));
    }
    Ok(out)
}

/// The table printed for the figures, or what is missing.
pub fn report(figures: &[(String, u64)]) -> Result<String, String> {
    let mut out = String::from(
        "instructions per round trip, and per exit or hypercall a guest makes (QEMU TCG, -icount shift=0: the TSC counts instructions)\n",
    );
    for wanted in FIGURES {
        let Some((_, count)) = figures.iter().find(|(name, _)| name == wanted) else {
            return Err(format!("the bench did not report {wanted:?}"));
        };
        out.push_str(&format!("  {wanted:<32} {count:>6}\n"));
    }
    Ok(out)
}

/// Boots the component bench and returns its table.
pub fn run(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<String, String> {
    report(&parse(&boot(workspace, deployment, kernel, "bench")?))
}

/// Boots vm-bench and returns the guest figures' rows.
pub fn run_guest(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<String, String> {
    report_guest(&parse_guest(&boot(
        workspace, deployment, kernel, "vm-bench",
    )?))
}

/// Boots `deployment` under -icount and returns its serial log, if it passed.
fn boot(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
    log_name: &str,
) -> Result<String, String> {
    let serial_log = workspace.logs_dir().join(format!("{log_name}.serial.log"));
    let (smp, memory_mib) = deployment.machine(Overrides::default())?;
    let config = QemuConfig {
        accel: Accel::Tcg { cpu: "EPYC".into() },
        boot: Boot::Kernel {
            kernel: kernel.to_path_buf(),
            cmdline: deployment.cmdline.clone(),
            initrd: crate::qemu::command::initrd(&deployment.modules)?,
        },
        smp,
        memory_mib,
        serial: Serial::File(serial_log.clone()),
        gdb: false,
        extra: vec!["-icount".into(), "shift=0,sleep=off".into()],
    };
    let options = Options {
        limit: Some(Limit::DEFAULT),
        echo: Echo::Quiet,
        input: &[],
    };
    let finished = process::run(&config, options)?;
    let log = serial_log::read_clean(&serial_log);
    if finished.outcome != Outcome::Verdict(Verdict::Pass) {
        let tail = serial_log::tail(&log, 20).join("\n");
        return Err(format!(
            "the {} deployment failed: {}\n{tail}",
            deployment.name, finished.outcome
        ));
    }
    Ok(log)
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
        let table = report(&figures).unwrap();
        assert!(
            table.contains("  syscall round trip                  120\n"),
            "{table}"
        );
        assert!(
            table.contains("ipc call/reply round trip          1500"),
            "{table}"
        );
    }

    const GUEST_LOG: &str = "\
[partition-manager cpu0] INFO partition bench: VP 0 started at rip 0x100000
[devices cpu0] INFO bench: # tessera-guest: bench-guest starting
[devices cpu0] INFO bench: ok 1 - the forwarded leaf is the probe's
[devices cpu0] INFO bench: bench: cpuid-kernel 1834
[devices cpu0] INFO bench: bench: cpuid-forwarded 25312
[devices cpu0] INFO bench: bench: exit-bare 150
[devices cpu0] INFO bench: bench: hypercall-fast 260
[devices cpu0] INFO bench: bench: hypercall-memory 700
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
                ("exit-bare".to_string(), 150),
                ("hypercall-fast".to_string(), 260),
                ("hypercall-memory".to_string(), 700),
            ]
        );
        let rows = report_guest(&figures).unwrap();
        assert_eq!(
            rows,
            "  cpuid answered by the kernel       1834\n  cpuid forwarded to a component    25312\n  absent port IN, in the kernel       150\n  fast hypercall in the kernel        260\n  memory-based hypercall              700\n"
        );
        // The component bench's lines are not guest figures, and back.
        assert!(parse_guest(LOG).is_empty());
        assert!(parse(GUEST_LOG).is_empty());
        let missing = GUEST_LOG.replace("bench: cpuid-forwarded 25312", "");
        assert_eq!(
            report_guest(&parse_guest(&missing)).unwrap_err(),
            "bench-guest did not report \"cpuid-forwarded\""
        );
    }

    #[test]
    fn a_missing_figure_is_an_error_not_a_zero() {
        let log = LOG.replace("bench: syscall round trip: 120 instructions", "garbled");
        assert_eq!(
            report(&parse(&log)).unwrap_err(),
            "the bench did not report \"syscall round trip\""
        );
    }
}
