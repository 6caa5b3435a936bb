//! `cargo xtask bench`: what the kernel's paths cost, in instructions.
//!
//! The bench deployment (boot/deployments/bench.toml) runs under QEMU's TCG
//! with `-icount shift=0,sleep=off`, where the guest's time-stamp counter
//! advances by one per executed instruction: the figures are instruction
//! counts, the same on every run and on a loaded machine. The bench
//! component prints `bench: <what>: <n> instructions`; this collects them.
use crate::qemu::accel::Accel;
use crate::qemu::command::{Boot, QemuConfig};
use crate::qemu::process::{self, Echo, TIME_LIMIT};
use crate::qemu::status::{Outcome, Verdict};
use crate::{deployment::Deployment, serial_log, workspace::Workspace};
use std::path::Path;

pub const DEPLOYMENT: &str = "bench";

/// The figures the bench component must report, in print order.
pub const FIGURES: &[&str] = &["syscall round trip", "ipc call/reply round trip"];

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

/// The table printed for the figures, or what is missing.
pub fn report(figures: &[(String, u64)]) -> Result<String, String> {
    let mut out = String::from(
        "instructions per round trip (QEMU TCG, -icount shift=0: the TSC counts instructions)\n",
    );
    for wanted in FIGURES {
        let Some((_, count)) = figures.iter().find(|(name, _)| name == wanted) else {
            return Err(format!("the bench did not report {wanted:?}"));
        };
        out.push_str(&format!("  {wanted:<28} {count:>6}\n"));
    }
    Ok(out)
}

pub fn run(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<String, String> {
    let serial_log = workspace.logs_dir().join("bench.serial.log");
    let config = QemuConfig {
        accel: Accel::Tcg { cpu: "EPYC".into() },
        boot: Boot::Kernel {
            kernel: kernel.to_path_buf(),
            cmdline: deployment.cmdline.clone(),
            initrd: crate::qemu::command::initrd(&deployment.modules)?,
        },
        smp: deployment.smp,
        memory_mib: deployment.memory_mib,
        serial_log: serial_log.clone(),
        gdb: false,
        extra: vec!["-icount".into(), "shift=0,sleep=off".into()],
    };
    let finished = process::run(&config, Some(TIME_LIMIT), Echo::Quiet)?;
    let log = serial_log::read_clean(&serial_log);
    if finished.outcome != Outcome::Verdict(Verdict::Pass) {
        let tail = serial_log::tail(&log, 20).join("\n");
        return Err(format!(
            "the bench deployment failed: {}\n{tail}",
            finished.outcome
        ));
    }
    report(&parse(&log))
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
            table.contains("  syscall round trip              120\n"),
            "{table}"
        );
        assert!(
            table.contains("ipc call/reply round trip      1500"),
            "{table}"
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
