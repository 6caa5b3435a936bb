//! `cargo xtask bench linux`: what booting Debian's Linux costs under
//! Tessera, against the same kernel booted directly on the same QEMU.
//!
//! Both boots run under TCG, one after the other, on the same CPU model,
//! VP count and memory, with the kernel, initramfs and command line of the
//! `linux` deployment. The figure is Linux's own clock at `Run /init as
//! init process`, the line before the first user-space instruction. Both
//! clocks start with Linux: on bare QEMU the TSC clock is offset to
//! continue from 0 when Linux first reads it (`set_cyc2ns_scale`), and
//! under Hv#1 the reference-time clock starts at Linux's
//! `hv_init_clocksource`; neither counts the firmware, Tessera's boot or
//! the partition manager's loading.
//!
//! Unlike `cargo xtask bench`'s paths these are not instruction counts:
//! under `-icount` QEMU 7.2 never brings up Linux's second CPU on bare
//! QEMU (the boot stops after "x86: Booting SMP configuration", with
//! `sleep=off` and without), so both boots run on TCG's clock, which
//! follows the host's, and the figures vary with the host's load: each
//! side boots [`BOOTS`] times, in turns, and its fastest boot is its
//! figure (a loaded host only ever slows a boot). Run it on a quiet
//! machine; the ratio is the figure to read.
//!
//! The Tessera boot runs with `exit-stats=on`, and its exit statistics are
//! printed after the times, so the cost can be seen by reason.
use crate::deployment::Deployment;
use crate::exit_stats;
use crate::qemu::command::{Boot, Initrd};
use crate::qemu::status::Outcome;
use crate::{serial_log, workspace::Workspace};
use std::path::Path;
use tessera_boot_plan::GuestFormat;

/// The deployment whose Linux partition is measured.
pub const DEPLOYMENT: &str = "linux";

/// The line whose timestamp is the figure.
pub const MARKER: &str = "] Run /init as init process";

/// The target for Tessera's time over the direct boot's (issue 15).
pub const TARGET_RATIO: f64 = 1.5;

/// The Linux partition of a deployment as QEMU boots it directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxGuest {
    pub kernel: std::path::PathBuf,
    pub initrd: Option<std::path::PathBuf>,
    pub cmdline: String,
    pub vps: u32,
    pub memory_mib: u32,
}

/// The one Linux partition of `manifest`.
pub fn linux_guest(manifest: &tessera_manifest::Deployment) -> Result<LinuxGuest, String> {
    let mut linux = manifest
        .partitions
        .iter()
        .filter(|p| p.format == GuestFormat::Linux);
    let partition = linux
        .next()
        .ok_or_else(|| format!("deployment {:?} has no Linux partition", manifest.name))?;
    if linux.next().is_some() {
        return Err(format!(
            "deployment {:?} has more than one Linux partition",
            manifest.name
        ));
    }
    let kernel = partition
        .image_file
        .clone()
        .ok_or_else(|| format!("partition {} names no kernel file", partition.name))?;
    Ok(LinuxGuest {
        kernel,
        initrd: partition.modules.first().map(|m| m.path.clone()),
        cmdline: partition.cmdline.clone(),
        vps: partition.vp_cpus.len() as u32,
        memory_mib: (partition.memory >> 20) as u32,
    })
}

/// The seconds of Linux's clock at [`MARKER`] in a serial log (the first
/// occurrence), or `None` if Linux never got there.
pub fn seconds_to_userspace(log: &str) -> Option<f64> {
    log.lines().find_map(|line| {
        let end = line.find(MARKER)?;
        let start = line[..end].rfind('[')?;
        line[start + 1..end].trim().parse().ok()
    })
}

/// The report: both times (each side's fastest boot), their ratio against
/// the target.
pub fn report(direct: f64, tessera: f64) -> String {
    let ratio = tessera / direct.max(f64::MIN_POSITIVE);
    let verdict = if ratio <= TARGET_RATIO { "met" } else { "OVER" };
    format!(
        "Linux boot to user space (Linux's clock at \"Run /init\", the fastest of {BOOTS} boots each; QEMU TCG)\n\
         \x20 directly on QEMU   {direct:>9.3} s\n\
         \x20 under Tessera      {tessera:>9.3} s\n\
         \x20 ratio              {ratio:>9.2}   target <= {TARGET_RATIO} {verdict}\n"
    )
}

/// Boots per side: the host's load moves a boot's time by tens of
/// percent, and only ever upwards, so each side's figure is its fastest
/// boot of these, the boots taken in turns.
pub const BOOTS: usize = 3;

/// The fastest of `times` (each boot's seconds), or `None` for none.
pub fn fastest(times: &[f64]) -> Option<f64> {
    times.iter().copied().reduce(f64::min)
}

/// Boots the deployment's Linux both ways, [`BOOTS`] times each in turns,
/// and prints every time, the report on the fastest of each side and the
/// exit statistics of the last Tessera boot.
pub fn run(
    workspace: &Workspace,
    deployment: &Deployment,
    tessera_kernel: &Path,
) -> Result<(), String> {
    let manifest = crate::deployment::load_named(&workspace.root, DEPLOYMENT)?;
    let guest = linux_guest(&manifest)?;
    let mut deployment = deployment.clone();
    deployment.cmdline = format!("{} {}", deployment.cmdline, exit_stats::KERNEL_OPTION);
    let (mut direct_times, mut tessera_times) = (Vec::new(), Vec::new());
    let mut tessera_log = String::new();
    for boot in 1..=BOOTS {
        let direct_log = boot_direct(workspace, &guest)?;
        let direct = seconds_to_userspace(&direct_log).ok_or_else(|| {
            format!(
                "Linux booted directly never printed {MARKER:?}\n{}",
                serial_log::tail(&direct_log, 20).join("\n")
            )
        })?;
        tessera_log = crate::bench::boot_with(
            workspace,
            &deployment,
            tessera_kernel,
            "bench-linux-tessera",
            Vec::new(),
        )?;
        let tessera = seconds_to_userspace(&tessera_log)
            .ok_or_else(|| format!("Linux under Tessera never printed {MARKER:?}"))?;
        println!("boot {boot} of {BOOTS}: directly {direct:.3} s, under Tessera {tessera:.3} s");
        direct_times.push(direct);
        tessera_times.push(tessera);
    }
    let (Some(direct), Some(tessera)) = (fastest(&direct_times), fastest(&tessera_times)) else {
        return Err("no boot was measured".into());
    };
    print!("{}", report(direct, tessera));
    let stats = exit_stats::parse(&tessera_log)?;
    print!("{}", exit_stats::table(&stats));
    Ok(())
}

/// Linux on QEMU alone: SeaBIOS and QEMU's bzImage loader, the kernel's
/// own ACPI power-off ending the run (QEMU's status 0, no verdict).
fn boot_direct(workspace: &Workspace, guest: &LinuxGuest) -> Result<String, String> {
    let serial_log = workspace.logs_dir().join("bench-linux-direct.serial.log");
    let initrd = match &guest.initrd {
        None => None,
        Some(path) => {
            let dir = path
                .parent()
                .ok_or_else(|| format!("{} has no directory", path.display()))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| format!("{} has no UTF-8 file name", path.display()))?;
            Some(Initrd {
                dir: dir.to_path_buf(),
                arg: name.to_owned(),
            })
        }
    };
    let boot = Boot::Kernel {
        kernel: guest.kernel.clone(),
        cmdline: guest.cmdline.clone(),
        initrd,
    };
    let (outcome, log) =
        crate::bench::run_tcg(boot, guest.vps, guest.memory_mib, &serial_log, Vec::new())?;
    match outcome {
        Outcome::NoVerdict => Ok(log),
        other => Err(format!(
            "Linux booted directly did not power off: {other}\n{}",
            serial_log::tail(&log, 20).join("\n")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figure_is_the_timestamp_of_the_first_run_init_line() {
        let log = "\
[    0.000000] Linux version 6.1.0
[devices cpu0] INFO linux: [    5.512436] Run /init as init process
[    9.000000] Run /init as init process
";
        assert_eq!(seconds_to_userspace(log), Some(5.512436));
        let direct = "[    2.250000] Run /init as init process\n";
        assert_eq!(seconds_to_userspace(direct), Some(2.25));
    }

    #[test]
    fn a_log_without_the_line_has_no_figure() {
        assert_eq!(seconds_to_userspace("[ 1.0] Freeing unused memory\n"), None);
        assert_eq!(seconds_to_userspace("] Run /init as init process\n"), None);
        assert_eq!(
            seconds_to_userspace("[ x.y] Run /init as init process\n"),
            None
        );
    }

    #[test]
    fn each_side_is_its_fastest_boot() {
        assert_eq!(fastest(&[2.4, 1.9, 2.1]), Some(1.9));
        assert_eq!(fastest(&[3.0]), Some(3.0));
        assert_eq!(fastest(&[]), None);
    }

    #[test]
    fn the_report_says_whether_the_ratio_meets_the_target() {
        let met = report(2.0, 2.9);
        assert!(met.contains("1.45"), "{met}");
        assert!(met.contains("met"), "{met}");
        let over = report(2.0, 3.2);
        assert!(over.contains("1.60"), "{over}");
        assert!(over.contains("OVER"), "{over}");
    }

    #[test]
    fn the_linux_deployment_names_its_kernel_initrd_and_command_line() {
        let workspace = Workspace::locate().expect("the tree");
        let manifest =
            crate::deployment::load_named(&workspace.root, DEPLOYMENT).expect("linux manifest");
        let guest = linux_guest(&manifest).expect("one Linux partition");
        assert!(guest.kernel.is_file(), "{}", guest.kernel.display());
        assert!(guest.initrd.as_ref().is_some_and(|p| p.is_file()));
        assert!(guest.cmdline.contains("console=ttyS0"), "{}", guest.cmdline);
        assert_eq!(guest.vps, 2);
        assert_eq!(guest.memory_mib, 256);
    }
}
